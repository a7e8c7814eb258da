package main

import (
	"encoding/binary"
	"net"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// rawHeader is a SerializableLayer for a header gopacket cannot write. build
// gets the bytes already serialized behind the header (its payload), so it
// can fill in length fields.
type rawHeader struct {
	build func(payload []byte) []byte
}

func (h rawHeader) LayerType() gopacket.LayerType { return gopacket.LayerTypePayload }

func (h rawHeader) SerializeTo(b gopacket.SerializeBuffer, _ gopacket.SerializeOptions) error {
	hdr := h.build(b.Bytes())
	buf, err := b.PrependBytes(len(hdr))
	if err != nil {
		return err
	}
	copy(buf, hdr)
	return nil
}

// fixed returns a rawHeader that always writes hdr.
func fixed(hdr []byte) rawHeader {
	return rawHeader{build: func([]byte) []byte { return hdr }}
}

func layersOf(outer []gopacket.SerializableLayer, p pkt) []gopacket.SerializableLayer {
	return append(outer, p.layers...)
}

// eth returns an Ethernet header for a packet going in d.
func eth(d dir, t layers.EthernetType) *layers.Ethernet {
	src, dst := macs(d)
	return &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: t}
}

// plainEth is the encapsulation of an untagged Ethernet frame.
func plainEth(p pkt) []gopacket.SerializableLayer {
	return layersOf([]gopacket.SerializableLayer{eth(p.dir, p.ethType())}, p)
}

// outerPair is the pair of tunnel endpoints that carries a conversation:
// tunA4 on the client side, tunB4 on the server side.
func outerPair() *ipPair {
	return &ipPair{client: tunA4, server: tunB4, id: [2]uint16{0x3000, 0x4000}}
}

// outerEth returns the Ethernet header of a tunnel packet going in d.
func outerEth(d dir) *layers.Ethernet {
	if d == c2s {
		return &layers.Ethernet{SrcMAC: tunAMAC, DstMAC: tunBMAC, EthernetType: layers.EthernetTypeIPv4}
	}
	return &layers.Ethernet{SrcMAC: tunBMAC, DstMAC: tunAMAC, EthernetType: layers.EthernetTypeIPv4}
}

// outerUDP returns Ethernet, IPv4 and UDP headers between the tunnel
// endpoints. The client-side endpoint uses cport, the server side sport; a
// tunnel that uses one well-known port on both sides passes it twice.
func outerUDP(outer *ipPair, d dir, cport, sport uint16) []gopacket.SerializableLayer {
	ip, nl := outer.ip(d, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(cport), DstPort: layers.UDPPort(sport)}
	if d == s2c {
		u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
	}
	if err := u.SetNetworkLayerForChecksum(nl); err != nil {
		panic(err)
	}
	return append(append([]gopacket.SerializableLayer{outerEth(d)}, ip...), u)
}

// pptpGRE is the enhanced GRE header of PPTP (RFC 2637 4.1): version 1,
// protocol 0x880B, key present (payload length and call ID), optional
// sequence and acknowledgment numbers. The sequence number is present only
// when there is a payload.
type pptpGRE struct {
	callID uint16
	seq    uint32
	hasSeq bool
	ack    uint32
	hasAck bool
}

func (g pptpGRE) header() rawHeader {
	return rawHeader{build: func(payload []byte) []byte {
		h := make([]byte, 8, 16)
		h[0] = 0x20 // K
		if g.hasSeq {
			h[0] |= 0x10 // S
		}
		h[1] = 0x01 // version 1
		if g.hasAck {
			h[1] |= 0x80 // A
		}
		binary.BigEndian.PutUint16(h[2:], uint16(layers.EthernetTypePPP))
		binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
		binary.BigEndian.PutUint16(h[6:], g.callID)
		if g.hasSeq {
			h = binary.BigEndian.AppendUint32(h, g.seq)
		}
		if g.hasAck {
			h = binary.BigEndian.AppendUint32(h, g.ack)
		}
		return h
	}}
}

// erspan3 is the 12-byte ERSPAN type III header, optionally followed by the
// 8-byte platform-specific subheader (when withPlatform is set, O=1).
type erspan3 struct {
	vlan      uint16
	sessionID uint16
	timestamp uint32 // in units of 100 µs (granularity 00)
	hwID      uint8
	direction uint8 // 0 ingress, 1 egress
	// withPlatform adds a platform-specific subheader of type 3 carrying
	// portIndex and the upper timestamp word.
	withPlatform bool
	portIndex    uint16
	tsSeconds    uint32
}

func (e erspan3) bytes() []byte {
	h := make([]byte, 12, 20)
	// Ver(4)=2 | VLAN(12)
	binary.BigEndian.PutUint16(h[0:], 2<<12|e.vlan&0x0fff)
	// COS(3)=0 | BSO(2)=0 | T(1)=0 | Session ID(10)
	binary.BigEndian.PutUint16(h[2:], e.sessionID&0x03ff)
	binary.BigEndian.PutUint32(h[4:], e.timestamp)
	// SGT(16)=0 | P(1)=0 | FT(5)=0 (Ethernet) | HW ID(6) | D(1) | Gra(2)=0 | O(1)
	w := uint16(e.hwID&0x3f)<<4 | uint16(e.direction&1)<<3
	if e.withPlatform {
		w |= 1
	}
	binary.BigEndian.PutUint16(h[10:], w)
	if e.withPlatform {
		// Platf ID(6)=3 | reserved(12) | port ID/index(14), then the
		// timestamp's seconds.
		h = binary.BigEndian.AppendUint32(h, 3<<26|uint32(e.portIndex&0x3fff))
		h = binary.BigEndian.AppendUint32(h, e.tsSeconds)
	}
	return h
}

// teredoOrigin is the Teredo origin indication (RFC 4380 5.1.1): the
// origin's UDP port and IPv4 address, both obfuscated (inverted).
func teredoOrigin(port uint16, ip net.IP) []byte {
	h := []byte{0x00, 0x00, 0, 0, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(h[2:], ^port)
	ip4 := ip.To4()
	for i := range 4 {
		h[4+i] = ^ip4[i]
	}
	return h
}

// Linux cooked capture packet types.
const (
	sllHost     = 0 // to us
	sllOutgoing = 4 // sent by us
)

// sllHeader returns a LINKTYPE_LINUX_SLL header as captured on the server
// (incoming from the client, outgoing to it).
func sllHeader(p pkt) []byte {
	h := make([]byte, 16)
	typ, addr := uint16(sllHost), clientMAC
	if p.dir == s2c {
		typ, addr = sllOutgoing, serverMAC
	}
	binary.BigEndian.PutUint16(h[0:], typ)
	binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
	binary.BigEndian.PutUint16(h[4:], uint16(len(addr)))
	copy(h[6:14], addr)
	binary.BigEndian.PutUint16(h[14:], uint16(p.ethType()))
	return h
}

// sll2Header returns a LINKTYPE_LINUX_SLL2 header as captured on the
// server's interface 2.
func sll2Header(p pkt) []byte {
	h := make([]byte, 20)
	typ, addr := uint8(sllHost), clientMAC
	if p.dir == s2c {
		typ, addr = sllOutgoing, serverMAC
	}
	binary.BigEndian.PutUint16(h[0:], uint16(p.ethType()))
	// h[2:4] reserved, zero.
	binary.BigEndian.PutUint32(h[4:], 2) // interface index
	binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
	h[10] = typ
	h[11] = uint8(len(addr))
	copy(h[12:20], addr)
	return h
}

// BSD address family values found in DLT_NULL and LINKTYPE_LOOP headers.
const (
	afInet         = 2
	afInet6NetBSD  = 24 // also OpenBSD
	afInet6FreeBSD = 28
	afInet6Darwin  = 30
)

// withAF returns an encapsulation with a 4-byte address family header in
// the given byte order (host order for DLT_NULL, big-endian for LOOP).
func withAF(order binary.ByteOrder, af uint32) encap {
	return func(p pkt) []gopacket.SerializableLayer {
		h := make([]byte, 4)
		order.PutUint32(h, af)
		return layersOf([]gopacket.SerializableLayer{fixed(h)}, p)
	}
}
