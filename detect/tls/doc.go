// Package tls parses the clear-text part of a TLS handshake (ClientHello,
// ServerHello, and the Certificate message of TLS ≤ 1.2) and computes the
// JA3, JA3S and JA4 fingerprints.
//
// # Message parsers
//
// ParseClientHello and ParseServerHello take the body of a handshake
// message (after the 4-byte handshake header). They are bounds-checked
// everywhere, never panic, and return ErrShort or ErrMalformed for bad
// input. The values they return own their slices and strings.
// (*ClientHello).Parse reuses a ClientHello's slices for hot paths; only
// the SNI and ALPN strings are allocated. ParseClientHello is shared with
// detect/quic, which calls JA4('q').
//
// Fingerprints follow their published definitions: JA3/JA3S as in
// github.com/salesforce/ja3 (decimal fields, GREASE values of RFC 8701
// removed, MD5), JA4 as in github.com/FoxIO-LLC/ja4
// technical_details/JA4.md ("a_b_c": version from supported_versions
// else the legacy version, "d" iff a server_name extension is present,
// counts without GREASE capped at 99, first/last ALPN characters with the
// hex fallback, sorted-and-hashed ciphers and extensions without SNI/ALPN
// followed by the signature algorithms in wire order, "000000000000" for an
// empty list).
//
// # Stream parser
//
// Parser is a detect.StreamParser for TLS over TCP, one per flow, not safe
// for concurrent use, no goroutines; Reset readies it for another flow and
// keeps its buffers. It reassembles records across Data calls (a record
// header or a handshake message may be split at any byte, records may be
// one byte long, a record may hold several handshake messages), and
// handshake messages across records. Complete messages are parsed in place
// from the caller's bytes; only an incomplete tail is copied into a
// per-direction buffer, so nothing is retained from data after a call.
//
// Budget: each direction is inspected for at most DefaultBudget (64 KiB)
// bytes (SetBudget changes it). Past it the parser emits what it has and
// returns Done. A ClientHello longer than the budget is refused (NotMine).
// A server Certificate message is not buffered whole: the leaf certificate
// is taken as soon as its bytes are in, however long the chain.
//
// Verdicts:
//   - NotMine, from the first offending byte, when a direction does not
//     start with a plausible TLS record (content type 22, or 21 for a
//     server; version 3.x with x ≤ 4; length 1..2^14+2048), when the
//     client's first handshake message is not a ClientHello, or when that
//     ClientHello does not parse. An SSLv2-compatible hello is NotMine. A
//     Gap before any byte was accepted is NotMine too.
//   - Done once the event was emitted (or, after a Gap that broke a
//     half-read ClientHello, with nothing to emit). Further calls return
//     the same verdict and do nothing.
//
// # Events
//
// Exactly one detect.Event{Type: detect.TypeTLS} is emitted per connection
// that produced a parsable ClientHello or ServerHello, at the packet time of
// the call that completes it:
//   - TLS 1.3 (and drafts): at the ServerHello (everything after it is
//     encrypted; the server's ALPN, in EncryptedExtensions, is not
//     visible). A HelloRetryRequest is not the ServerHello: the parser
//     waits for the real one.
//   - TLS ≤ 1.2: at the server's leaf certificate, or at whatever shows
//     that none follows (another handshake message, a ChangeCipherSpec on
//     resumption, an alert, application data).
//   - Otherwise at Close, at the budget, or at a Gap in a direction still
//     being parsed (a Gap in the client direction after its ClientHello is
//     ignored), with what is known: typically the ClientHello alone.
//
// If the server's direction is delivered before the client's, the event
// waits for the ClientHello. Version is the negotiated version when a
// ServerHello was seen, else the highest the client offered. List fields
// have GREASE values removed and keep wire order.
//
// Duplicate ClientHello (suricata-verify tls-duplicate-hello, Suricata
// issue 6634): only the first ClientHello of a connection is fingerprinted;
// later ones (the legitimate retry after a HelloRetryRequest, or a second
// hello sent to poison the fingerprint) are ignored, and the client's
// direction is not parsed further once its first ClientHello is known.
//
// Certificate fields: Subject and IssuerDN are "C=US, O=…, CN=…" in the
// order the DN is encoded; Serial is the serial number's magnitude as
// upper-case colon-separated hex; Fingerprint is the SHA-1 of the DER
// certificate as lower-case colon-separated hex (Suricata's style);
// NotBefore/NotAfter are Unix seconds. A certificate crypto/x509 refuses
// still gets its fingerprint.
package tls
