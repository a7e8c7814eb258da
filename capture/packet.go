package capture

import (
	"net/netip"
)

// Addr is an IP address in 16-byte form: IPv4 addresses are stored
// IPv4-mapped (::ffff:a.b.c.d) so that every address has one width and
// compares with ==. It is pointer-free on purpose (netip.Addr carries a zone
// handle): packets and flow keys built from it can live in GC-free arrays.
type Addr [16]byte

// AddrFrom4 returns the IPv4-mapped form of a 4-byte address.
func AddrFrom4(b []byte) Addr {
	var a Addr
	a[10], a[11] = 0xff, 0xff
	copy(a[12:], b[:4])
	return a
}

// AddrFrom16 returns the address of a 16-byte IPv6 address.
func AddrFrom16(b []byte) (a Addr) {
	copy(a[:], b[:16])
	return a
}

// Is4 reports whether a is an IPv4-mapped address.
func (a Addr) Is4() bool {
	return a[0]|a[1]|a[2]|a[3]|a[4]|a[5]|a[6]|a[7]|a[8]|a[9] == 0 && a[10] == 0xff && a[11] == 0xff
}

// Bytes returns the address in its natural width (4 or 16 bytes); it
// allocates nothing when the result does not escape.
func (a *Addr) Bytes() []byte {
	if a.Is4() {
		return a[12:16]
	}
	return a[:]
}

// Netip converts to a netip.Addr (unmapped for IPv4). For reporting, not the hot path.
func (a Addr) Netip() netip.Addr {
	return netip.AddrFrom16(a).Unmap()
}

// String formats the address (allocates).
func (a Addr) String() string { return a.Netip().String() }

// IP protocol numbers nunchi names.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoESP    = 50
	ProtoAH     = 51
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// TCP flag bits as they appear in byte 13 of the TCP header.
const (
	TCPFin = 0x01
	TCPSyn = 0x02
	TCPRst = 0x04
	TCPPsh = 0x08
	TCPAck = 0x10
	TCPUrg = 0x20
	TCPEce = 0x40
	TCPCwr = 0x80
)

// TCPInfo holds the TCP header fields later stages use. Valid iff
// Packet.Proto == ProtoTCP.
type TCPInfo struct {
	Seq, Ack  uint32
	Window    uint16
	Flags     uint8 // TCPFin…TCPCwr
	HeaderLen uint8 // bytes, including options
	MSS       uint16
	WScale    uint8 // window scale shift; valid iff HasWScale
	HasWScale bool
	SACKPerm  bool
	HasTS     bool
	TSVal     uint32 // valid iff HasTS
	TSEcr     uint32
	// Options is the option kinds in wire order (up to 8), 0-terminated:
	// the "options layout" part of a p0f-style SYN signature.
	Options [8]uint8
}

// TunnelType names an encapsulation the decoder removed.
type TunnelType uint8

// Tunnel types. The zero value means "not tunnelled".
const (
	TunnelNone TunnelType = iota
	TunnelGRE
	TunnelPPTP // enhanced GRE (version 1) carrying PPP
	TunnelERSPAN1
	TunnelERSPAN2
	TunnelERSPAN3
	TunnelVXLAN
	TunnelGeneve
	TunnelTeredo
	TunnelIPIP // IPv4 in IPv4
	Tunnel6in4 // IPv6 in IPv4 (proto 41)
	Tunnel4in6 // IPv4 in IPv6
	Tunnel6in6 // IPv6 in IPv6
	numTunnelTypes
)

var tunnelNames = [numTunnelTypes]string{
	"", "gre", "pptp", "erspan1", "erspan2", "erspan3", "vxlan", "geneve", "teredo", "ipip", "6in4", "4in6", "6in6",
}

func (t TunnelType) String() string {
	if t < numTunnelTypes {
		return tunnelNames[t]
	}
	return "unknown"
}

// Tunnel records the encapsulation closest to the innermost IP header (for
// ERSPAN: the mirroring session; for VXLAN: the VTEPs). Valid iff Type != TunnelNone.
type Tunnel struct {
	Type     TunnelType
	Depth    uint8 // number of tunnels removed (nested encapsulations)
	OuterSrc Addr
	OuterDst Addr
	// ID is the VNI (VXLAN, Geneve), the GRE key / PPTP call ID, or the ERSPAN session ID.
	ID    uint32
	HasID bool
}

// Packet flags.
const (
	// FlagTruncated: the capture holds fewer bytes than the headers claim (snap length).
	FlagTruncated uint16 = 1 << iota
	// FlagReassembled: the packet is a datagram rebuilt from IP fragments.
	FlagReassembled
	// FlagFragConflict: rebuilt from fragments whose overlapping bytes differed.
	FlagFragConflict
	// FlagIPv4DF: IPv4 "don't fragment" set.
	FlagIPv4DF
	// FlagFirstFragment: the first fragment of a datagram not (yet)
	// reassembled: ports are valid, the payload is empty.
	FlagFirstFragment
	// FlagFragTail: a reassembled datagram completed by a later fragment;
	// its first fragment was already delivered (and counted) as a packet.
	FlagFragTail
)

// Packet is one decoded packet: the facts every later stage needs, by
// value. Byte slices alias the frame passed to Decoder.Decode, or the
// decoder's defragmentation buffer; they are valid until the frame is
// reused or the next Decode call on the same Decoder, whichever is first.
type Packet struct {
	Timestamp int64  // packet time, Unix nanoseconds
	WireLen   uint32 // frame length on the wire
	CapLen    uint32 // bytes captured
	Interface uint16 // capture interface index (pcapng interface, live socket)

	IPVersion uint8 // 4 or 6 (innermost IP header)
	Proto     uint8 // IP protocol of the innermost transport (ProtoTCP…)
	TTL       uint8 // IPv4 TTL or IPv6 hop limit of the innermost header
	TOS       uint8 // IPv4 TOS / IPv6 traffic class
	Flags     uint16
	IPID      uint32 // IPv4 identification (IPv6: fragment identification when fragmented)
	IPLen     uint32 // innermost IP datagram length from its header (payload+headers)

	// WirePkts and WireBytes are the packets and IP bytes on the wire this
	// delivered packet stands for, what flow counters add: 1 and IPLen for
	// an ordinary packet; for a reassembled datagram, its fragments (less
	// the first one when that was delivered on its own, FlagFragTail).
	WirePkts  uint16
	WireBytes uint32

	Src, Dst Addr
	// SrcPort/DstPort are transport ports (TCP, UDP, SCTP). For ICMP and
	// ICMPv6 they carry type and code, as Community ID does.
	SrcPort, DstPort uint16

	TCP TCPInfo

	// Payload is the transport payload as captured; PayloadLen is its length
	// on the wire (≥ len(Payload) when truncated by the snap length).
	Payload    []byte
	PayloadLen uint32

	// SrcMAC and DstMAC are the outermost Ethernet addresses (valid iff
	// HasMAC): where a forged reply is sent.
	SrcMAC, DstMAC [6]byte
	HasMAC         bool

	VLANs    [2]uint16 // 802.1Q/QinQ IDs after the last tunnel, outer first
	NumVLANs uint8
	Tunnel   Tunnel
}

// ICMPType and ICMPCode return the ICMP type/code (valid for ICMP and ICMPv6).
func (p *Packet) ICMPType() uint8 { return uint8(p.SrcPort) }

// ICMPCode see ICMPType.
func (p *Packet) ICMPCode() uint8 { return uint8(p.DstPort) }
