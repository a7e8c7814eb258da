package reassembly

import (
	"bytes"
	"encoding/binary"
	"math/bits"

	"github.com/nunchi-sensor/nunchi/capture"
)

// Key identifies a bidirectional flow. It is canonical (both directions of
// a conversation give the same Key), packed, comparable and pointer-free,
// so a map keyed by it is never scanned by the GC.
//
// 2026-11 design note: the endpoint with the smaller (address, port) is
// always A; a packet's direction is recorded separately (see KeyOf). VLAN
// IDs are part of the key when the table is configured so: on a
// multi-tenant SPAN, equal private tuples in different VLANs are different
// flows. Tunnel endpoints are not: flows are keyed on the innermost tuple.
// VLAN keying is off by default (see FlowConfig.VLANInKey).
type Key struct {
	A, B         capture.Addr
	APort, BPort uint16
	Proto        uint8
	_            [3]byte
	VLAN         uint32 // outer<<12 | inner, 0 when untagged or not keyed
}

// KeyOf returns the canonical key of p and whether p travels from A to B.
func KeyOf(p *capture.Packet, withVLAN bool) (k Key, aToB bool) {
	k.Proto = p.Proto
	if withVLAN {
		k.VLAN = uint32(p.VLANs[0])<<12 | uint32(p.VLANs[1])
	}
	sp, dp := p.SrcPort, p.DstPort
	if p.Proto == capture.ProtoICMP || p.Proto == capture.ProtoICMPv6 {
		// Type/code are not ports: requests and replies must share a key.
		// Echo and similar pairs are keyed on the request's type, on both
		// sides so that the key does not depend on who sent the packet
		// (2026-11 fix: with (type, 0) the type followed the sender, and a
		// reply never found its request's flow); the code is left out. The
		// ID (first payload bytes) would be nicer but is not in every message.
		t := icmpKeyType(p.Proto, uint8(p.SrcPort))
		sp, dp = t, t
	}
	c := bytes.Compare(p.Src[:], p.Dst[:])
	if c < 0 || (c == 0 && sp <= dp) {
		k.A, k.B, k.APort, k.BPort = p.Src, p.Dst, sp, dp
		return k, true
	}
	k.A, k.B, k.APort, k.BPort = p.Dst, p.Src, dp, sp
	return k, false
}

// icmpKeyType maps ICMP reply types onto their request types so that both
// halves of an exchange share a flow.
func icmpKeyType(proto, t uint8) uint16 {
	if proto == capture.ProtoICMP {
		switch t {
		case 0:
			return 8 // echo reply → echo request
		case 14:
			return 13 // timestamp
		case 16:
			return 15 // information
		case 18:
			return 17 // address mask
		}
		return uint16(t)
	}
	switch t {
	case 129:
		return 128 // echo
	case 131, 132:
		return 130 // MLD report/done → query
	case 134:
		return 133 // router advertisement → solicitation
	case 136:
		return 135 // neighbour advertisement → solicitation
	}
	return uint16(t)
}

// Hash returns a well-mixed 64-bit hash of the key. Because the key is
// canonical the hash is symmetric: both directions of a flow give the same
// value, which is what shard selection needs.
func (k *Key) Hash() uint64 {
	h := uint64(k.Proto)<<32 | uint64(k.VLAN)
	h = mix(h ^ binary.LittleEndian.Uint64(k.A[0:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.A[8:16]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.B[0:8]))
	h = mix(h ^ binary.LittleEndian.Uint64(k.B[8:16]))
	h = mix(h ^ (uint64(k.APort)<<16 | uint64(k.BPort)))
	return h
}

// HashPacket is the symmetric shard hash of a packet's flow.
func HashPacket(p *capture.Packet, withVLAN bool) uint64 {
	k, _ := KeyOf(p, withVLAN)
	return k.Hash()
}

func mix(x uint64) uint64 {
	// A 128-bit multiply folded to 64 bits (wyhash-style mixing).
	hi, lo := bits.Mul64(x^0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9)
	return hi ^ lo
}
