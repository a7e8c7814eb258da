package capture

import (
	"encoding/binary"
	"math/bits"
)

// SpanDedup drops the second copy of a packet that a SPAN port delivered
// twice (the switch mirrors both the ingress and the egress copy), within
// a short window of packet time. The identity of a packet is its decoded
// content without the fields a router rewrites between the two copies
// (TTL/hop limit, IP checksum, L2 header, VLAN): endpoints, IP ID and
// length, TCP sequence/ack/flags/window/timestamp, payload length and its
// first bytes.
// Memory is a fixed direct-mapped table; a slot collision forgets the
// older packet (a duplicate missed), never drops a packet that was not
// seen: two different packets would need equal 64-bit hashes.
// One SpanDedup belongs to one shard goroutine.
type SpanDedup struct {
	window  int64
	slots   []dedupSlot
	mask    uint64
	Dropped uint64
}

type dedupSlot struct {
	hash uint64
	ts   int64
}

const dedupSlots = 1 << 14

// dedupPayloadBytes is how much payload enters the identity: enough to
// tell apart packets with equal headers, cheap to hash.
const dedupPayloadBytes = 64

// NewSpanDedup returns a deduplicator for window nanoseconds, or nil when
// window is 0 (off); a nil *SpanDedup reports nothing as a duplicate.
func NewSpanDedup(window int64) *SpanDedup {
	if window <= 0 {
		return nil
	}
	return &SpanDedup{window: window, slots: make([]dedupSlot, dedupSlots), mask: dedupSlots - 1}
}

// Duplicate reports whether p repeats a packet seen within the window,
// and counts it; otherwise it remembers p.
func (d *SpanDedup) Duplicate(p *Packet) bool {
	if d == nil {
		return false
	}
	h := packetIdentity(p)
	s := &d.slots[h&d.mask]
	if s.hash == h && p.Timestamp-s.ts <= d.window && p.Timestamp >= s.ts {
		d.Dropped++
		return true
	}
	s.hash, s.ts = h, p.Timestamp
	return false
}

func packetIdentity(p *Packet) uint64 {
	h := uint64(0x9e3779b97f4a7c15)
	mix := func(v uint64) {
		h = (h ^ v) * 0xff51afd7ed558ccd
		h ^= h >> 32
	}
	mix(binary.LittleEndian.Uint64(p.Src[0:8]))
	mix(binary.LittleEndian.Uint64(p.Src[8:16]))
	mix(binary.LittleEndian.Uint64(p.Dst[0:8]))
	mix(binary.LittleEndian.Uint64(p.Dst[8:16]))
	mix(uint64(p.SrcPort)<<48 | uint64(p.DstPort)<<32 | uint64(p.Proto)<<24 | uint64(p.IPVersion))
	mix(uint64(p.IPID)<<32 | uint64(p.IPLen))
	mix(uint64(p.TCP.Seq)<<32 | uint64(p.TCP.Ack))
	mix(uint64(p.TCP.Flags)<<32 | uint64(p.PayloadLen))
	mix(uint64(p.TCP.TSVal)<<32 | uint64(p.TCP.Window)) // tells apart duplicate ACKs, which IPv6 gives no IP ID
	pl := p.Payload
	if len(pl) > dedupPayloadBytes {
		pl = pl[:dedupPayloadBytes]
	}
	for len(pl) >= 8 {
		mix(binary.LittleEndian.Uint64(pl))
		pl = pl[8:]
	}
	var tail uint64
	for i, c := range pl {
		tail |= uint64(c) << (8 * i)
	}
	mix(tail ^ uint64(len(pl))<<56)
	return bits.RotateLeft64(h, 17) | 1 // never 0, the empty slot
}
