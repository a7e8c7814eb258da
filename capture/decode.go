package capture

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Result is what Decode made of a frame.
type Result uint8

const (
	// Decoded: p holds an IP packet (with transport fields when the protocol is known).
	Decoded Result = iota
	// NonIP: a valid frame that carries no IP (ARP, LLDP, STP…); counted, not an error.
	NonIP
	// FragmentHeld: an IP fragment was stored; the datagram is not complete yet.
	FragmentHeld
	// Malformed: a header was truncated or inconsistent; see the reason counters.
	Malformed
	// Unsupported: a link type or encapsulation the decoder does not handle.
	Unsupported
)

// DropReason names why a frame produced no packet. The names are metric
// label values and stats keys: keep them stable.
type DropReason uint8

// Drop reasons.
const (
	ReasonNone DropReason = iota
	ReasonNonIP
	ReasonFragmentHeld
	ReasonFragmentDropped
	ReasonFragmentTruncated
	ReasonUnsupportedLink
	ReasonUnsupportedEncap
	ReasonTooDeep
	ReasonLink // truncated or bad link header (Ethernet, SLL, loopback)
	ReasonVLAN
	ReasonMPLS
	ReasonPPPoE
	ReasonGRE
	ReasonERSPAN
	ReasonVXLAN
	ReasonGeneve
	ReasonIPv4
	ReasonIPv6
	ReasonIPv6Ext
	ReasonTCP
	ReasonUDP
	ReasonICMP
	ReasonSCTP
	NumDropReasons
)

var dropReasonNames = [NumDropReasons]string{
	"", "non_ip", "fragment_held", "fragment_dropped", "fragment_truncated", "unsupported_link", "unsupported_encap", "too_deep",
	"malformed_link", "malformed_vlan", "malformed_mpls", "malformed_pppoe", "malformed_gre", "malformed_erspan",
	"malformed_vxlan", "malformed_geneve", "malformed_ipv4", "malformed_ipv6", "malformed_ipv6_ext",
	"malformed_tcp", "malformed_udp", "malformed_icmp", "malformed_sctp",
}

func (r DropReason) String() string {
	if r < NumDropReasons {
		return dropReasonNames[r]
	}
	return "unknown"
}

// DecodeStats counts what the decoder saw. Frames = Decoded + sum(Dropped).
// Plain integers: a Decoder belongs to one goroutine; the owner publishes copies.
type DecodeStats struct {
	Frames    uint64
	Bytes     uint64 // wire bytes of all frames
	Decoded   uint64
	IPv4      uint64
	IPv6      uint64
	TCP       uint64
	UDP       uint64
	ICMP      uint64
	SCTP      uint64
	OtherIP   uint64
	Tunnelled uint64
	Truncated uint64 // decoded, but the snap length cut the payload
	Dropped   [NumDropReasons]uint64
}

// Add adds o's counters to s (summing the decoders of several shards).
func (s *DecodeStats) Add(o DecodeStats) {
	s.Frames += o.Frames
	s.Bytes += o.Bytes
	s.Decoded += o.Decoded
	s.IPv4 += o.IPv4
	s.IPv6 += o.IPv6
	s.TCP += o.TCP
	s.UDP += o.UDP
	s.ICMP += o.ICMP
	s.SCTP += o.SCTP
	s.OtherIP += o.OtherIP
	s.Tunnelled += o.Tunnelled
	s.Truncated += o.Truncated
	for i := range s.Dropped {
		s.Dropped[i] += o.Dropped[i]
	}
}

// Link types the decoder reads (pcap LINKTYPE_ values).
const (
	LinkNull     = layers.LinkType(0)   // BSD loopback, host-endian AF
	LinkEthernet = layers.LinkType(1)   //
	LinkRaw      = layers.LinkType(101) // raw IPv4/IPv6
	LinkLoop     = layers.LinkType(108) // OpenBSD loopback, network-endian AF
	LinkSLL      = layers.LinkType(113) // Linux cooked v1
	LinkSLL2     = layers.LinkType(276) // Linux cooked v2
	LinkIPv4     = layers.LinkType(228)
	LinkIPv6     = layers.LinkType(229)
)

// SupportedLinkType reports whether Decode handles frames of link type lt.
func SupportedLinkType(lt layers.LinkType) bool {
	switch lt {
	case LinkNull, LinkEthernet, LinkRaw, LinkLoop, LinkSLL, LinkSLL2, LinkIPv4, LinkIPv6, 12, 14:
		// 12 and 14 are DLT_RAW on some BSDs, as written by old libpcaps.
		return true
	}
	return false
}

// maxLayers bounds the decode loop: a frame may nest encapsulations, but
// not without limit (a hostile frame could loop IP-in-IP to the MTU).
const maxLayers = 24

// Well-known EtherTypes not named by gopacket.
const (
	etherQinQ9100  = 0x9100
	etherQinQ9200  = 0x9200
	etherERSPAN3   = 0x22EB
	etherERSPAN2   = 0x88BE
	etherMPLSMulti = 0x8848
	etherPPP       = 0x880B
	etherTEB       = 0x6558 // transparent Ethernet bridging
)

// step names the next header the decode loop will parse. Own enum instead
// of gopacket.LayerType so the switch compiles to a jump table and layers
// gopacket lacks (ERSPAN I/III, Teredo, MPLS, PPP) fit in.
type step uint8

const (
	stepDone step = iota
	stepEthernet
	stepVLAN
	stepMPLS
	stepPPPoE
	stepPPP
	stepGRE
	stepERSPAN2
	stepERSPAN3
	stepVXLAN
	stepGeneve
	stepTeredo
	stepIPv4
	stepIPv6
	stepTCP
	stepUDP
	stepICMPv4
	stepICMPv6
	stepSCTP
	stepOtherIP
	stepNonIP
	stepUnsupported
)

// Decoder turns frames into Packets. It owns preallocated gopacket layers
// and a Defragmenter. Not safe for concurrent use: one per shard (live) or
// per reader (replay).
type Decoder struct {
	cfg    DecoderConfig
	defrag *Defragmenter
	stats  DecodeStats

	eth    layers.Ethernet
	dot1q  layers.Dot1Q
	sll    layers.LinuxSLL
	sll2   layers.LinuxSLL2
	ip4    layers.IPv4
	ip6    layers.IPv6
	tcp    layers.TCP
	udp    layers.UDP
	icmp4  layers.ICMPv4
	icmp6  layers.ICMPv6
	sctp   layers.SCTP
	gre    layers.GRE
	erspan layers.ERSPANII
	vxlan  layers.VXLAN
	geneve layers.Geneve

	truncated   bool       // set through gopacket.DecodeFeedback
	pendTunnel  TunnelType // tunnel header seen, inner IP not yet
	pendID      uint32
	pendHasID   bool
	haveIP      bool
	l4Wire      int // transport bytes the innermost IP header claims
	ip6Start    int // captured IPv6 payload bytes after the fixed (and hop-by-hop) header
	ip6Claimed  int // the same, as the header claims
	vxlanPorts  [4]uint16
	nVXLANPorts int
}

// SetTruncated implements gopacket.DecodeFeedback.
func (d *Decoder) SetTruncated() { d.truncated = true }

// NewDecoder returns a decoder; cfg must be valid (see DecoderConfig.Validate).
func NewDecoder(cfg DecoderConfig) *Decoder {
	cfg.setDefaults()
	d := &Decoder{cfg: cfg, defrag: NewDefragmenter(cfg.Defrag)}
	for _, p := range cfg.VXLANPorts {
		if d.nVXLANPorts < len(d.vxlanPorts) {
			d.vxlanPorts[d.nVXLANPorts] = p
			d.nVXLANPorts++
		}
	}
	return d
}

// Stats returns a copy of the decoder's counters.
func (d *Decoder) Stats() DecodeStats { return d.stats }

// DefragStats returns the defragmenter's counters.
func (d *Decoder) DefragStats() DefragStats { return d.defrag.Stats() }

// Defragmenter exposes the decoder's defragmenter (for expiry and memory figures).
func (d *Decoder) Defragmenter() *Defragmenter { return d.defrag }

// Decode decodes one frame of link type lt captured at ts (Unix ns) into
// p. wireLen is the frame's original length. It never panics and never
// allocates on well-formed input; every frame is counted exactly once in
// Stats (Decoded or one Dropped reason).
func (d *Decoder) Decode(p *Packet, lt layers.LinkType, data []byte, ts int64, wireLen int) Result {
	*p = Packet{Timestamp: ts, WireLen: uint32(wireLen), CapLen: uint32(len(data))}
	d.stats.Frames++
	d.stats.Bytes += uint64(wireLen)
	d.truncated = false
	d.pendTunnel = TunnelNone
	d.haveIP = false

	res, reason := d.decode(p, lt, data)
	if res != Decoded {
		d.stats.Dropped[reason]++
		return res
	}
	if p.WirePkts == 0 {
		p.WirePkts, p.WireBytes = 1, p.IPLen
	}
	if d.truncated || p.PayloadLen > uint32(len(p.Payload)) {
		p.Flags |= FlagTruncated
		d.stats.Truncated++
	}
	d.stats.Decoded++
	if p.Tunnel.Type != TunnelNone {
		d.stats.Tunnelled++
	}
	return Decoded
}

func (d *Decoder) decode(p *Packet, lt layers.LinkType, data []byte) (Result, DropReason) {
	var next step
	switch lt {
	case LinkEthernet:
		next = stepEthernet
	case LinkSLL:
		if err := d.sll.DecodeFromBytes(data, d); err != nil {
			return Malformed, ReasonLink
		}
		next, data = d.etherNext(uint16(d.sll.EthernetType)), d.sll.Payload
	case LinkSLL2:
		if err := d.sll2.DecodeFromBytes(data, d); err != nil {
			return Malformed, ReasonLink
		}
		next, data = d.etherNext(uint16(d.sll2.ProtocolType)), d.sll2.Payload
	case LinkNull, LinkLoop:
		if len(data) < 4 {
			return Malformed, ReasonLink
		}
		next, data = loopbackNext(data[:4]), data[4:]
	case LinkRaw, LinkIPv4, LinkIPv6, 12, 14:
		next = ipVersionNext(data)
	default:
		return Unsupported, ReasonUnsupportedLink
	}

	for depth := 0; depth < maxLayers; depth++ {
		switch next {
		case stepEthernet:
			if err := d.eth.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonLink
			}
			if !p.HasMAC { // the outermost Ethernet header: where a reply would go
				copy(p.SrcMAC[:], d.eth.SrcMAC)
				copy(p.DstMAC[:], d.eth.DstMAC)
				p.HasMAC = true
			}
			if d.eth.EthernetType < 0x600 { // 802.3 length field: LLC (STP, CDP…)
				return NonIP, ReasonNonIP
			}
			next, data = d.etherNext(uint16(d.eth.EthernetType)), d.eth.Payload

		case stepVLAN:
			if err := d.dot1q.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonVLAN
			}
			if p.NumVLANs < uint8(len(p.VLANs)) {
				p.VLANs[p.NumVLANs] = d.dot1q.VLANIdentifier
				p.NumVLANs++
			}
			if d.dot1q.Type < 0x600 {
				return NonIP, ReasonNonIP
			}
			next, data = d.etherNext(uint16(d.dot1q.Type)), d.dot1q.Payload

		case stepMPLS:
			// Label stack entries of 4 bytes until the bottom-of-stack bit;
			// the payload type is not signalled, so look at the first nibble.
			for {
				if len(data) < 4 {
					return Malformed, ReasonMPLS
				}
				bos := data[2]&0x01 != 0
				data = data[4:]
				if bos {
					break
				}
			}
			if len(data) == 0 {
				return Malformed, ReasonMPLS
			}
			switch data[0] >> 4 {
			case 4:
				next = stepIPv4
			case 6:
				next = stepIPv6
			case 0:
				// Pseudowire control word (RFC 4385), then an Ethernet frame.
				if len(data) < 4 {
					return Malformed, ReasonMPLS
				}
				next, data = stepEthernet, data[4:]
			default:
				return Unsupported, ReasonUnsupportedEncap
			}

		case stepPPPoE:
			// RFC 2516 session header: ver/type, code, session id, length.
			if len(data) < 6 {
				return Malformed, ReasonPPPoE
			}
			if data[0] != 0x11 || data[1] != 0 {
				return Malformed, ReasonPPPoE
			}
			l := int(binary.BigEndian.Uint16(data[4:6]))
			data = data[6:]
			if l < len(data) {
				data = data[:l]
			}
			next = stepPPP

		case stepPPP:
			// Optional address/control (0xff 0x03), then a 1- or 2-byte
			// protocol (protocol field compression: odd first byte = 1 byte).
			if len(data) >= 2 && data[0] == 0xff && data[1] == 0x03 {
				data = data[2:]
			}
			if len(data) < 1 {
				return Malformed, ReasonPPPoE
			}
			var proto uint16
			if data[0]&1 == 1 {
				proto, data = uint16(data[0]), data[1:]
			} else {
				if len(data) < 2 {
					return Malformed, ReasonPPPoE
				}
				proto, data = binary.BigEndian.Uint16(data), data[2:]
			}
			switch proto {
			case 0x0021:
				next = stepIPv4
			case 0x0057:
				next = stepIPv6
			default: // LCP, IPCP, CHAP, compressed data…
				return NonIP, ReasonNonIP
			}

		case stepGRE:
			if err := d.gre.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonGRE
			}
			data = d.gre.Payload
			d.pendTunnel, d.pendID, d.pendHasID = TunnelGRE, d.gre.Key, d.gre.KeyPresent
			switch d.gre.Version {
			case 0:
			case 1: // enhanced GRE (RFC 2637): PPP payload, key = payload length + call ID
				d.pendTunnel, d.pendID, d.pendHasID = TunnelPPTP, d.gre.Key&0xffff, true
				if uint16(d.gre.Protocol) != etherPPP {
					return Malformed, ReasonGRE
				}
				if len(data) == 0 { // an acknowledgment-only packet
					return NonIP, ReasonNonIP
				}
			default:
				return Malformed, ReasonGRE
			}
			switch uint16(d.gre.Protocol) {
			case etherERSPAN2:
				if d.gre.SeqPresent {
					next = stepERSPAN2
				} else { // ERSPAN type I: no header, the mirrored frame follows.
					d.pendTunnel, d.pendHasID = TunnelERSPAN1, false
					next = stepEthernet
				}
			case etherERSPAN3:
				next = stepERSPAN3
			case etherTEB:
				next = stepEthernet
			default:
				next = d.etherNext(uint16(d.gre.Protocol))
			}

		case stepERSPAN2:
			if err := d.erspan.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonERSPAN
			}
			d.pendTunnel, d.pendID, d.pendHasID = TunnelERSPAN2, uint32(d.erspan.SessionID), true
			d.resetVLANs(p)
			next, data = stepEthernet, d.erspan.Payload

		case stepERSPAN3:
			// 12-byte header: ver(4) vlan(12) cos bso t session(10) timestamp(32)
			// sgt(16) p ft(5) hw(6) d gra(2) o; o=1: 8-byte platform subheader.
			if len(data) < 12 || data[0]>>4 != 2 {
				return Malformed, ReasonERSPAN
			}
			d.pendTunnel, d.pendHasID = TunnelERSPAN3, true
			d.pendID = uint32(binary.BigEndian.Uint16(data[2:4]) & 0x03ff)
			hl := 12
			if data[11]&0x01 != 0 {
				hl += 8
			}
			if len(data) < hl {
				return Malformed, ReasonERSPAN
			}
			if ft := (data[10] >> 2) & 0x1f; ft != 0 { // frame type 0 = Ethernet; 2 = IP
				if ft != 2 {
					return Unsupported, ReasonUnsupportedEncap
				}
				d.resetVLANs(p)
				next, data = ipVersionNext(data[hl:]), data[hl:]
				continue
			}
			d.resetVLANs(p)
			next, data = stepEthernet, data[hl:]

		case stepVXLAN:
			if err := d.vxlan.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonVXLAN
			}
			d.pendTunnel, d.pendID, d.pendHasID = TunnelVXLAN, d.vxlan.VNI, d.vxlan.ValidIDFlag
			d.resetVLANs(p)
			next, data = stepEthernet, d.vxlan.Payload

		case stepGeneve:
			if err := d.geneve.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonGeneve
			}
			d.pendTunnel, d.pendID, d.pendHasID = TunnelGeneve, d.geneve.VNI, true
			d.resetVLANs(p)
			data = d.geneve.Payload
			if uint16(d.geneve.Protocol) == etherTEB {
				next = stepEthernet
			} else {
				next = d.etherNext(uint16(d.geneve.Protocol))
			}

		case stepTeredo:
			// Optional authentication (0x0001) and origin indication (0x0000)
			// headers, then IPv6 (RFC 4380 §5.1.1). Validated by the caller.
			data = teredoSkip(data)
			d.pendTunnel, d.pendHasID = TunnelTeredo, false
			next = stepIPv6

		case stepIPv4:
			if err := d.ip4.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonIPv4
			}
			ip := &d.ip4
			if ip.Version != 4 {
				return Malformed, ReasonIPv4
			}
			d.enterIP(p, 4)
			p.IPVersion, p.TTL, p.TOS = 4, ip.TTL, ip.TOS
			p.IPID, p.IPLen = uint32(ip.Id), uint32(ip.Length)
			p.Src, p.Dst = AddrFrom4(ip.SrcIP), AddrFrom4(ip.DstIP)
			if ip.Flags&layers.IPv4DontFragment != 0 {
				p.Flags |= FlagIPv4DF
			}
			data = ip.Payload
			proto := uint8(ip.Protocol)
			d.l4Wire = int(ip.Length) - int(ip.IHL)*4
			if ip.Flags&layers.IPv4MoreFragments != 0 || ip.FragOffset != 0 {
				key := FragKey{Src: p.Src, Dst: p.Dst, ID: uint32(ip.Id), Proto: proto, Context: d.fragContext(p)}
				var r Result
				var reason DropReason
				data, r, reason = d.fragment(p, key, int(ip.FragOffset)*8, ip.Flags&layers.IPv4MoreFragments != 0, data, d.l4Wire, int(ip.IHL)*4)
				if r != Decoded {
					return r, reason
				}
				if p.Flags&FlagReassembled != 0 {
					d.l4Wire = len(data)
					p.IPLen = uint32(int(ip.IHL)*4 + len(data))
				}
			}
			next = d.protoNext(p, proto, data)
			if next == stepOtherIP {
				p.Proto = proto
				p.Payload, p.PayloadLen = data, uint32(len(data))
				d.stats.OtherIP++
				return Decoded, ReasonNone
			}
			p.Proto = proto

		case stepIPv6:
			if len(data) >= 40 && data[0]>>4 == 6 && data[4] == 0 && data[5] == 0 && data[6] != 0 {
				// Payload length 0 without a jumbo option: nothing follows
				// the fixed header (a Teredo bubble has next header 59).
				d.enterIP(p, 6)
				p.IPVersion, p.TTL, p.IPLen = 6, data[7], 40
				p.TOS = data[0]<<4 | data[1]>>4
				p.Src, p.Dst = AddrFrom16(data[8:24]), AddrFrom16(data[24:40])
				p.Proto = data[6]
				d.countIP(p)
				d.stats.OtherIP++
				return Decoded, ReasonNone
			}
			if err := d.ip6.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonIPv6
			}
			ip := &d.ip6
			if ip.Version != 6 {
				return Malformed, ReasonIPv6
			}
			d.enterIP(p, 6)
			p.IPVersion, p.TTL, p.TOS = 6, ip.HopLimit, ip.TrafficClass
			p.IPLen = uint32(ip.Length) + 40
			p.Src, p.Dst = AddrFrom16(ip.SrcIP), AddrFrom16(ip.DstIP)
			nh := uint8(ip.NextHeader)
			if ip.HopByHop != nil {
				nh = uint8(ip.HopByHop.NextHeader)
			}
			data = ip.Payload
			start := len(data)
			d.ip6Start, d.ip6Claimed = start, int(ip.Length)
			if ip.HopByHop != nil {
				d.ip6Claimed -= ip.HopByHop.ActualLength
			}
			var r Result
			var reason DropReason
			nh, data, r, reason = d.ipv6Ext(p, nh, data)
			if r != Decoded {
				return r, reason
			}
			if p.Flags&FlagReassembled != 0 {
				d.l4Wire = len(data)
			} else {
				d.l4Wire = int(ip.Length) - (start - len(data))
				if ip.HopByHop != nil {
					d.l4Wire -= ip.HopByHop.ActualLength
				}
			}
			next = d.protoNext(p, nh, data)
			p.Proto = nh
			if next == stepOtherIP {
				p.Payload, p.PayloadLen = data, uint32(len(data))
				d.stats.OtherIP++
				return Decoded, ReasonNone
			}

		case stepTCP:
			if p.Flags&FlagFirstFragment != 0 {
				d.firstFragment(p, data)
				d.stats.TCP++
				return Decoded, ReasonNone
			}
			if err := d.tcp.DecodeFromBytes(data, d); err != nil {
				return Malformed, ReasonTCP
			}
			d.fillTCP(p)
			d.stats.TCP++
			return Decoded, ReasonNone

		case stepUDP:
			if p.Flags&FlagFirstFragment != 0 {
				d.firstFragment(p, data)
				d.countIP(p)
				d.stats.UDP++
				return Decoded, ReasonNone
			}
			if len(data) < 8 {
				return Malformed, ReasonUDP
			}
			p.SrcPort = binary.BigEndian.Uint16(data[0:2])
			p.DstPort = binary.BigEndian.Uint16(data[2:4])
			ulen := int(binary.BigEndian.Uint16(data[4:6]))
			payload := data[8:]
			wire := d.wirePayload(p, 8)
			if ulen >= 8 {
				if ulen-8 < len(payload) { // trailing bytes beyond the UDP length
					payload = payload[:ulen-8]
				}
				wire = ulen - 8
			} else if ulen != 0 { // 0 is legal for jumbograms only; < 8 is broken
				return Malformed, ReasonUDP
			}
			p.Payload, p.PayloadLen = payload, uint32(max(wire, len(payload)))
			if t := d.udpTunnel(p, payload); t != stepDone {
				next, data = t, payload
				continue
			}
			d.stats.UDP++
			return Decoded, ReasonNone

		case stepICMPv4, stepICMPv6:
			if len(data) < 4 {
				return Malformed, ReasonICMP
			}
			p.SrcPort, p.DstPort = uint16(data[0]), uint16(data[1])
			p.Payload = data[4:]
			p.PayloadLen = uint32(max(d.wirePayload(p, 4), len(p.Payload)))
			d.stats.ICMP++
			return Decoded, ReasonNone

		case stepSCTP:
			if len(data) < 12 {
				return Malformed, ReasonSCTP
			}
			p.SrcPort = binary.BigEndian.Uint16(data[0:2])
			p.DstPort = binary.BigEndian.Uint16(data[2:4])
			p.Payload = data[12:]
			p.PayloadLen = uint32(max(d.wirePayload(p, 12), len(p.Payload)))
			d.stats.SCTP++
			return Decoded, ReasonNone

		case stepNonIP:
			return NonIP, ReasonNonIP
		case stepUnsupported:
			return Unsupported, ReasonUnsupportedEncap
		default:
			return Unsupported, ReasonUnsupportedEncap
		}
	}
	return Malformed, ReasonTooDeep
}

// fragment applies the fragment policy. claimed is the fragment's data
// length according to its IP header (more than len(data) when the snap
// length cut it); hdrLen is the IP header length each fragment carries, for
// the wire bytes the packet stands for (Packet.WireBytes).
//
//   - A fragment that completes its datagram yields the whole datagram
//     (FlagReassembled; FlagFragTail too when it was not the first fragment,
//     whose packet was already delivered).
//   - A first fragment (offset 0) that does not complete its datagram is
//     still delivered, with its transport ports but no payload
//     (FlagFirstFragment): the flow exists and counts the packet even when
//     the rest never arrives or the datagram is malformed.
//   - A fragment cut by the snap length cannot be reassembled (its bytes are
//     missing); a first one is delivered as above, others are dropped.
func (d *Decoder) fragment(p *Packet, key FragKey, off int, more bool, data []byte, claimed, hdrLen int) ([]byte, Result, DropReason) {
	if len(data) < claimed {
		if off == 0 && len(data) >= 4 {
			p.Flags |= FlagFirstFragment
			return data, Decoded, ReasonNone
		}
		return nil, Malformed, ReasonFragmentTruncated
	}
	out, st := d.defrag.Add(p.Timestamp, key, off, more, data)
	if st == DefragComplete {
		p.Flags |= FlagReassembled
		frags, firstLen := d.defrag.LastDatagram()
		if off != 0 {
			// The first fragment was delivered (and counted) on its own.
			p.Flags |= FlagFragTail
			p.WirePkts = uint16(frags - 1)
			p.WireBytes = uint32(len(out) - firstLen + (frags-1)*hdrLen)
		} else {
			p.WirePkts = uint16(frags)
			p.WireBytes = uint32(len(out) + frags*hdrLen)
		}
		if d.defrag.LastOverlapConflict() {
			p.Flags |= FlagFragConflict
		}
		return out, Decoded, ReasonNone
	}
	if off == 0 && len(data) >= 4 {
		p.Flags |= FlagFirstFragment
		return data, Decoded, ReasonNone
	}
	if st == DefragHeld {
		return nil, FragmentHeld, ReasonFragmentHeld
	}
	return nil, Malformed, ReasonFragmentDropped
}

// firstFragment fills the transport fields a first fragment can give:
// the ports (first 4 bytes of TCP, UDP and SCTP) and, when the whole TCP
// header is there, its flags. The payload is left empty: it is incomplete.
func (d *Decoder) firstFragment(p *Packet, data []byte) {
	p.SrcPort = binary.BigEndian.Uint16(data[0:2])
	p.DstPort = binary.BigEndian.Uint16(data[2:4])
	if p.Proto == ProtoTCP && len(data) >= 20 {
		p.TCP.Seq = binary.BigEndian.Uint32(data[4:8])
		p.TCP.Ack = binary.BigEndian.Uint32(data[8:12])
		p.TCP.Flags = data[13]
		p.TCP.Window = binary.BigEndian.Uint16(data[14:16])
	}
	p.Payload, p.PayloadLen = nil, 0
}

// enterIP records the previous IP header, if any, as tunnel endpoints.
func (d *Decoder) enterIP(p *Packet, version uint8) {
	if d.haveIP {
		t := d.pendTunnel
		if t == TunnelNone {
			switch {
			case p.IPVersion == 4 && version == 4:
				t = TunnelIPIP
			case p.IPVersion == 4 && version == 6:
				t = Tunnel6in4
			case p.IPVersion == 6 && version == 4:
				t = Tunnel4in6
			default:
				t = Tunnel6in6
			}
		}
		p.Tunnel.Type = t
		p.Tunnel.Depth++
		p.Tunnel.OuterSrc, p.Tunnel.OuterDst = p.Src, p.Dst
		p.Tunnel.ID, p.Tunnel.HasID = d.pendID, d.pendHasID
		// Transport fields of the outer packet (e.g. UDP ports of VXLAN) are not the flow's.
		p.SrcPort, p.DstPort, p.Flags = 0, 0, p.Flags&^FlagIPv4DF
		if d.pendTunnel == TunnelNone || d.pendTunnel == TunnelGRE || d.pendTunnel == TunnelPPTP || d.pendTunnel == TunnelTeredo {
			// IP directly inside IP or a point-to-point tunnel: the outer
			// VLAN tags belong to the transport network, not the inner flow.
			d.resetVLANs(p)
		}
	}
	d.haveIP = true
	d.pendTunnel, d.pendID, d.pendHasID = TunnelNone, 0, false
}

func (d *Decoder) resetVLANs(p *Packet) {
	p.VLANs, p.NumVLANs = [2]uint16{}, 0
}

// fragContext separates fragment streams of equal inner addresses that
// arrive in different VLANs or tunnels.
func (d *Decoder) fragContext(p *Packet) uint64 {
	c := uint64(p.VLANs[0])<<12 | uint64(p.VLANs[1])
	if p.Tunnel.Type != TunnelNone {
		c |= uint64(p.Tunnel.Type)<<24 | uint64(p.Tunnel.ID)<<32
		c ^= uint64(binary.LittleEndian.Uint32(p.Tunnel.OuterSrc[12:])) * 0x9E3779B97F4A7C15
		c ^= uint64(binary.LittleEndian.Uint32(p.Tunnel.OuterDst[12:])) * 0xC2B2AE3D27D4EB4F
	}
	return c
}

// ipv6Ext walks IPv6 extension headers after the fixed header (and the
// hop-by-hop header gopacket already consumed), handling the fragment header.
func (d *Decoder) ipv6Ext(p *Packet, nh uint8, data []byte) (uint8, []byte, Result, DropReason) {
	for i := 0; i < 8; i++ {
		switch nh {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, destination, mobility, HIP, shim6
			if len(data) < 8 {
				return nh, nil, Malformed, ReasonIPv6Ext
			}
			l := (int(data[1]) + 1) * 8
			if l > len(data) {
				return nh, nil, Malformed, ReasonIPv6Ext
			}
			nh, data = data[0], data[l:]
		case ProtoAH:
			if len(data) < 8 {
				return nh, nil, Malformed, ReasonIPv6Ext
			}
			l := (int(data[1]) + 2) * 4
			if l > len(data) {
				return nh, nil, Malformed, ReasonIPv6Ext
			}
			nh, data = data[0], data[l:]
		case 44: // fragment header
			if len(data) < 8 {
				return nh, nil, Malformed, ReasonIPv6Ext
			}
			fnh := data[0]
			off := int(binary.BigEndian.Uint16(data[2:4]) &^ 7)
			more := data[3]&1 != 0
			id := binary.BigEndian.Uint32(data[4:8])
			p.IPID = id
			data = data[8:]
			if off == 0 && !more { // atomic fragment (RFC 6946): not fragmented at all
				nh = fnh
				continue
			}
			key := FragKey{Src: p.Src, Dst: p.Dst, ID: id, Proto: fnh, V6: true, Context: d.fragContext(p)}
			claimed := d.ip6Claimed - (d.ip6Start - len(data))
			out, r, reason := d.fragment(p, key, off, more, data, claimed, 40+d.ip6Start-len(data))
			if r != Decoded {
				return nh, nil, r, reason
			}
			nh, data = fnh, out
			if p.Flags&FlagReassembled != 0 {
				p.IPLen = 40 + uint32(len(out))
			}
		default:
			return nh, data, Decoded, ReasonNone
		}
	}
	return nh, nil, Malformed, ReasonIPv6Ext
}

// protoNext maps an IP protocol to the next step and counts the IP version.
func (d *Decoder) protoNext(p *Packet, proto uint8, data []byte) step {
	switch proto {
	case ProtoTCP:
		d.countIP(p)
		return stepTCP
	case ProtoUDP:
		return stepUDP // counted after tunnel detection
	case ProtoICMP:
		d.countIP(p)
		return stepICMPv4
	case ProtoICMPv6:
		d.countIP(p)
		return stepICMPv6
	case ProtoSCTP:
		d.countIP(p)
		return stepSCTP
	case 4:
		return stepIPv4
	case 41:
		return stepIPv6
	case ProtoGRE:
		return stepGRE
	}
	d.countIP(p)
	return stepOtherIP
}

func (d *Decoder) countIP(p *Packet) {
	if p.IPVersion == 4 {
		d.stats.IPv4++
	} else {
		d.stats.IPv6++
	}
}

// udpTunnel decides whether a UDP payload is a tunnel the decoder opens:
// by port, then by a plausibility check of the header, so that ordinary
// traffic on those ports stays UDP.
func (d *Decoder) udpTunnel(p *Packet, payload []byte) step {
	if d.cfg.DisableTunnels {
		d.countIP(p)
		return stepDone
	}
	sp, dp := p.SrcPort, p.DstPort
	// RFC 7348 and 8926 put the well-known port on the destination both
	// ways, but some VTEPs answer from it: accept either side, the header
	// checks keep ordinary traffic out.
	for i := 0; i < d.nVXLANPorts; i++ {
		if (dp == d.vxlanPorts[i] || sp == d.vxlanPorts[i]) && isVXLAN(payload) {
			return stepVXLAN
		}
	}
	if (dp == d.cfg.GenevePort || sp == d.cfg.GenevePort) && isGeneve(payload) {
		return stepGeneve
	}
	if (sp == 3544 || dp == 3544) && d.cfg.Teredo && isTeredo(payload) {
		return stepTeredo
	}
	d.countIP(p)
	return stepDone
}

// isVXLAN checks a VXLAN header (RFC 7348; the G bit of the group-policy
// extension allowed): I flag set, reserved bits and byte clear, and an
// inner Ethernet frame with a plausible EtherType.
func isVXLAN(b []byte) bool {
	if len(b) < 8+14 || b[0]&0x08 == 0 || b[0]&0x77 != 0 || b[7] != 0 {
		return false
	}
	switch binary.BigEndian.Uint16(b[8+12:]) {
	case 0x0800, 0x86DD, 0x8100, 0x88A8, 0x0806, 0x8847, etherQinQ9100:
		return true
	}
	return false
}

// isGeneve checks a Geneve header (RFC 8926): version 0, options within
// the packet, and a protocol type nunchi can decode.
func isGeneve(b []byte) bool {
	if len(b) < 8 || b[0]>>6 != 0 {
		return false
	}
	if 8+int(b[0]&0x3f)*4 > len(b) {
		return false
	}
	switch binary.BigEndian.Uint16(b[2:4]) {
	case etherTEB, 0x0800, 0x86DD:
		return true
	}
	return false
}

// isTeredo reports whether payload is a Teredo-encapsulated IPv6 packet.
func isTeredo(b []byte) bool {
	b = teredoSkip(b)
	if len(b) < 40 || b[0]>>4 != 6 {
		return false
	}
	return int(binary.BigEndian.Uint16(b[4:6]))+40 == len(b)
}

func teredoSkip(b []byte) []byte {
	if len(b) >= 4 && b[0] == 0 && b[1] == 1 { // authentication: id-len, au-len, id, auth, nonce(8), confirmation(1)
		l := 4 + int(b[2]) + int(b[3]) + 9
		if l > len(b) {
			return nil
		}
		b = b[l:]
	}
	if len(b) >= 8 && b[0] == 0 && b[1] == 0 { // origin indication
		b = b[8:]
	}
	return b
}

// wirePayload is the transport payload length the IP header claims, given
// a transport header of hl bytes (for snap-length accounting).
func (d *Decoder) wirePayload(p *Packet, hl int) int {
	return max(d.l4Wire-hl, 0)
}

func (d *Decoder) fillTCP(p *Packet) {
	t := &d.tcp
	p.SrcPort, p.DstPort = uint16(t.SrcPort), uint16(t.DstPort)
	ti := &p.TCP
	ti.Seq, ti.Ack, ti.Window = t.Seq, t.Ack, t.Window
	ti.Flags = t.Contents[13] // FIN…CWR, the same bits as TCPFin…TCPCwr
	ti.HeaderLen = t.DataOffset * 4
	n := 0
	for i := range t.Options {
		o := &t.Options[i]
		if n < len(ti.Options) && o.OptionType != 0 {
			ti.Options[n] = uint8(o.OptionType)
			n++
		}
		switch o.OptionType {
		case layers.TCPOptionKindMSS:
			if len(o.OptionData) == 2 {
				ti.MSS = binary.BigEndian.Uint16(o.OptionData)
			}
		case layers.TCPOptionKindWindowScale:
			if len(o.OptionData) == 1 {
				ti.WScale, ti.HasWScale = o.OptionData[0], true
			}
		case layers.TCPOptionKindSACKPermitted:
			ti.SACKPerm = true
		case layers.TCPOptionKindTimestamps:
			if len(o.OptionData) == 8 {
				ti.HasTS = true
				ti.TSVal = binary.BigEndian.Uint32(o.OptionData[:4])
				ti.TSEcr = binary.BigEndian.Uint32(o.OptionData[4:])
			}
		}
	}
	p.Payload = t.Payload
	p.PayloadLen = uint32(max(d.wirePayload(p, int(ti.HeaderLen)), len(t.Payload)))
}

// etherNext maps an EtherType to the next step.
func (d *Decoder) etherNext(t uint16) step {
	switch t {
	case 0x0800:
		return stepIPv4
	case 0x86DD:
		return stepIPv6
	case 0x8100, 0x88A8, etherQinQ9100, etherQinQ9200:
		return stepVLAN
	case 0x8847, etherMPLSMulti:
		return stepMPLS
	case 0x8864:
		return stepPPPoE
	case etherTEB:
		return stepEthernet
	case etherPPP:
		return stepPPP
	}
	return stepNonIP
}

func loopbackNext(b []byte) step {
	// The family is host-endian in DLT_NULL and big-endian in DLT_LOOP;
	// values are small, so whichever end holds the non-zero byte wins.
	fam := uint32(b[0]) | uint32(b[3])
	if b[0] == 0 && b[1] == 0 {
		fam = binary.BigEndian.Uint32(b)
	} else {
		fam = binary.LittleEndian.Uint32(b)
	}
	switch fam {
	case 2:
		return stepIPv4
	case 10, 24, 28, 30: // AF_INET6 on Linux, NetBSD/OpenBSD, FreeBSD, macOS
		return stepIPv6
	}
	return stepNonIP
}

func ipVersionNext(b []byte) step {
	if len(b) == 0 {
		return stepIPv4 // lets the IPv4 decoder report the truncation
	}
	switch b[0] >> 4 {
	case 4:
		return stepIPv4
	case 6:
		return stepIPv6
	}
	return stepNonIP
}

var _ gopacket.DecodeFeedback = (*Decoder)(nil)
