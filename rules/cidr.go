package rules

import (
	"net/netip"
	"slices"
)

// cidrTable matches addresses against prefixes: one hash map per prefix
// length in use, probed from the longest length down. Operators' CIDR lists
// use few distinct lengths, so a lookup is a handful of map probes with no
// allocation.
type cidrTable struct {
	v4      []v4Level // longest prefix first
	v6      []v6Level
	entries []cidrEntry
	count   int
}

type v4Level struct {
	bits int
	m    map[uint32]int32 // masked address → first entry index
}

type v6Level struct {
	bits int
	m    map[[16]byte]int32
}

type cidrEntry struct {
	src     uint16
	line    uint32
	pattern string
	prefix  netip.Prefix
	next    int32 // next entry with the same prefix, or -1
}

type cidrBuilder struct {
	t  cidrTable
	v4 map[int]map[uint32]int32
	v6 map[int]map[[16]byte]int32
}

func v4Key(a netip.Addr, bits int) uint32 {
	b := a.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if bits == 0 {
		return 0
	}
	return x &^ (1<<(32-bits) - 1)
}

func v6Key(a netip.Addr, bits int) [16]byte {
	k := a.As16()
	for i := range k {
		switch {
		case bits >= 8:
			bits -= 8
		case bits > 0:
			k[i] &= ^byte(0xFF >> bits)
			bits = 0
		default:
			k[i] = 0
		}
	}
	return k
}

// add records p (already masked) for src/line.
func (b *cidrBuilder) add(p netip.Prefix, pattern string, src uint16, line uint32) {
	idx := int32(len(b.t.entries))
	b.t.entries = append(b.t.entries, cidrEntry{src: src, line: line, pattern: pattern, prefix: p, next: -1})
	b.t.count++
	link := func(first int32) {
		for first >= 0 && b.t.entries[first].next >= 0 {
			first = b.t.entries[first].next
		}
		b.t.entries[first].next = idx
	}
	if p.Addr().Is4() {
		if b.v4 == nil {
			b.v4 = make(map[int]map[uint32]int32)
		}
		m := b.v4[p.Bits()]
		if m == nil {
			m = make(map[uint32]int32)
			b.v4[p.Bits()] = m
		}
		k := v4Key(p.Addr(), p.Bits())
		if first, ok := m[k]; ok {
			link(first)
		} else {
			m[k] = idx
		}
		return
	}
	if b.v6 == nil {
		b.v6 = make(map[int]map[[16]byte]int32)
	}
	m := b.v6[p.Bits()]
	if m == nil {
		m = make(map[[16]byte]int32)
		b.v6[p.Bits()] = m
	}
	k := v6Key(p.Addr(), p.Bits())
	if first, ok := m[k]; ok {
		link(first)
	} else {
		m[k] = idx
	}
}

func (b *cidrBuilder) build() cidrTable {
	t := b.t
	for bits, m := range b.v4 {
		t.v4 = append(t.v4, v4Level{bits: bits, m: m})
	}
	for bits, m := range b.v6 {
		t.v6 = append(t.v6, v6Level{bits: bits, m: m})
	}
	slices.SortFunc(t.v4, func(a, b v4Level) int { return b.bits - a.bits })
	slices.SortFunc(t.v6, func(a, b v6Level) int { return b.bits - a.bits })
	return t
}

// lookup returns the first entry of the longest prefix containing a.
func (t *cidrTable) lookup(a netip.Addr) *cidrEntry {
	if t.count == 0 || !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	if a.Is4() {
		for i := range t.v4 {
			l := &t.v4[i]
			if idx, ok := l.m[v4Key(a, l.bits)]; ok {
				return &t.entries[idx]
			}
		}
		return nil
	}
	a = a.WithZone("")
	for i := range t.v6 {
		l := &t.v6[i]
		if idx, ok := l.m[v6Key(a, l.bits)]; ok {
			return &t.entries[idx]
		}
	}
	return nil
}

// all returns every entry containing a, longest prefix first.
func (t *cidrTable) all(a netip.Addr) []*cidrEntry {
	var out []*cidrEntry
	if t.count == 0 || !a.IsValid() {
		return nil
	}
	a = a.Unmap()
	collect := func(idx int32) {
		for ; idx >= 0; idx = t.entries[idx].next {
			out = append(out, &t.entries[idx])
		}
	}
	if a.Is4() {
		for _, l := range t.v4 {
			if idx, ok := l.m[v4Key(a, l.bits)]; ok {
				collect(idx)
			}
		}
		return out
	}
	for _, l := range t.v6 {
		if idx, ok := l.m[v6Key(a, l.bits)]; ok {
			collect(idx)
		}
	}
	return out
}

func (t *cidrTable) memory() int64 {
	// Roughly: an entry, plus a map slot of key, value and overhead.
	return int64(t.count) * (64 + 48)
}
