// Package capture reads packets and decodes them into Packet values.
//
// Sources: FileReader reads pcap (micro- and nanosecond, either byte order)
// and pcapng (several interfaces with different link types), gzipped or
// not, through gopacket's pure-Go pcapgo. Link types: Ethernet, Linux SLL
// and SLL2, raw IPv4/IPv6, BSD null and OpenBSD loop. A truncated or corrupt
// file is an error naming the file, the frame and the byte offset; frames
// returned before it stay valid. OpenLive opens live sources: one
// AF_PACKET TPACKET_V3 socket per shard on each interface, joined in a
// PACKET_FANOUT group, with a BPF filter compiled by libpcap (in-process
// with -tags libpcap, else by tcpdump -ddd) and promiscuous membership;
// or, with -tags libpcap, a libpcap handle. LiveSource.Stats accumulates
// the kernel's per-socket counters (the kernel zeroes them on read).
// SpanDedup drops the second copy of a frame a SPAN port delivered twice.
//
// Decoder walks a frame through every layer a SPAN port delivers —
// Ethernet, 802.1Q and QinQ (0x88a8, 0x9100), MPLS, PPPoE/PPP, GRE
// (incl. PPTP's enhanced GRE), ERSPAN I/II/III, VXLAN, Geneve, Teredo,
// IP-in-IP, 6in4, IPv4 and IPv6 with extension headers — down to TCP, UDP,
// ICMP, ICMPv6 or SCTP, using preallocated gopacket layers and no
// allocation per packet. Tunnels are opened: the Packet carries the
// innermost tuple and the encapsulation closest to it. IP fragments go to
// a bounded Defragmenter working in packet time (see docs/design.md for the
// fragment policy). Every frame is counted once in DecodeStats, as decoded
// or under one DropReason; malformed input never panics.
//
// Threading: a Decoder, its Defragmenter and a FileReader belong to one
// goroutine. Ownership: the slices in a Packet alias the frame passed to
// Decode or the Defragmenter's output buffer, valid until the frame is
// reused or the next Decode call; Frame.Data is valid until the next
// ReadFrame.
package capture
