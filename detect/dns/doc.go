// Package dns decodes DNS messages (RFC 1035 and successors) and emits one
// detect.DNS event per query and per response.
//
// # Contract
//
// ParseMessage decodes the header, the question section and the answer
// section of one message: names follow compression pointers (at most 64
// hops, 255 wire bytes, every offset bounds-checked: a loop is an error,
// never a hang); names are lower-cased, without the trailing dot ("." for
// the root). Record data is in presentation form: A/AAAA the address;
// CNAME, NS, PTR, DNAME the name; MX "pref name"; TXT/SPF the strings
// joined; SOA "mname rname serial refresh retry expire minimum"; SRV
// "priority weight port target"; SVCB/HTTPS "priority target key=value…";
// CAA "flags tag \"value\""; anything else (or malformed data) the RFC 3597
// form `\# <len> <hex>`. Types without a mnemonic are "TYPE<n>", response
// codes are names (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED…).
//
// Parser implements both detect.DatagramParser (UDP: one message per
// datagram) and detect.StreamParser (TCP: messages prefixed by a 2-byte
// length, several per stream, split at any byte). For every message whose
// header and question section decode it emits one event (Type
// detect.TypeDNS, Timestamp = packet time of the datagram or of the Data
// call that completed the message):
//
//   - a query (QR=0): {Type "query", ID, RRName, RRType} from the first
//     question;
//   - a response (QR=1): {Type "answer", ID, RRName, RRType, RCode,
//     Answers}; a response whose answer section is cut short (truncated
//     capture, malformed record) is still reported with the records before
//     the damage.
//
// Every response is reported, duplicates and unsolicited ones included. The
// parser keeps a small table (16 entries, oldest overwritten) of queries
// waiting for their answer, matched by (ID, question name); when a
// response has no question section its RRName and RRType come from the
// query with the same ID. TCP is set for messages carried over TCP.
//
// # Bounds
//
//   - UDP: the parser never says detect.Done (each datagram is cheap), but
//     after MaxUDPMessages datagrams of one flow it ignores the rest.
//   - TCP: detect.Done after MaxTCPMessages messages; one message is
//     buffered only when it is split across Data calls (at most 65535
//     bytes, the largest length the prefix can state). A gap loses the
//     framing: the parser says detect.Done (detect.NotMine before the first
//     message).
//   - At most MaxAnswers answer records per message are decoded; record
//     data text is cut at 4 KiB.
//
// Data and Datagram say detect.NotMine when the flow's first message does
// not decode (for TCP, as soon as its header is implausible). Detect is a
// port-independent check of one message's header and first question.
//
// # Ownership and threading
//
// Not safe for concurrent use: one Parser per flow, owned by its shard; no
// goroutines. Data and Datagram never keep the slice they are given. Each
// event is freshly allocated and handed over to the Emit callback; the
// parser never touches it again. Reset reuses a Parser for another flow.
package dns
