package rules

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/maphash"
	"math/bits"
	"unsafe"
)

// nameTable is the name matcher: a hashed suffix walk-up over one
// open-addressing table.
//
// Names live in an arena of 16 MiB chunks, one record per entry:
//
//	line u32 | src u16 | len u8 | kind u8 | name bytes (len)
//	                                  ^ ref points here
//
// kind is '.' for a suffix entry and 0 for an exact one, so the bytes from
// ref-1 spell the pattern ".casino.example" with no copy. A slot holds the
// record's ref (its arena offset, never 0 since a header precedes it; 0
// marks an empty slot) and a tag: 31 bits of the name's hash and, in bit
// 0, whether the entry is a suffix entry. A verified probe touches the
// arena only when the tag agrees; a candidate lookup (LookupName) never. Slots use linear probing at a
// load factor of 0.8 over a table whose size need not be a power of two (the
// hash is reduced by multiplication). Duplicates are kept; linear probing
// finds them in insertion order, so the first loaded wins.
//
// A lookup hashes the query and each parent (label boundaries), one probe
// sequence each. Two bitmasks of the label counts present among all keys and
// among suffix keys skip the levels no entry can match: a hosts file (exact
// names only) costs one probe per query. Two blocked Bloom filters (all
// keys, 4–8 bits per key; suffix keys, 8–16 bits per key) spare the table
// probe of most levels that cannot match: a miss usually reads one filter
// word and never touches the table.
type nameTable struct {
	seed       maphash.Seed
	slots      []slot
	chunks     [][]byte
	anyMask    uint64 // bit min(labels,63) set for every key
	suffixMask uint64 // the same for suffix keys
	count      int
	bloom      []uint64 // Bloom filter of suffix keys; see maySuffix
	bloomShift uint8
	all        []uint64 // Bloom filter of all keys, for the query itself
	allShift   uint8
	sink       uint32 // keeps build's prefetching loads from being optimised away
}

type slot struct {
	ref uint32
	tag uint32
}

const (
	chunkBits = 24
	chunkSize = 1 << chunkBits
	chunkMask = chunkSize - 1
	hdrLen    = 8
	kindExact = 0
	kindDot   = '.'
	maxChunks = 1 << (32 - chunkBits)
)

var errTooManyNames = errors.New("rules: names exceed the 4 GiB arena")

// tableBuilder collects records; build turns them into a nameTable.
type tableBuilder struct {
	suffixes   int
	chunks     [][]byte
	anyMask    uint64
	suffixMask uint64
	count      int
}

func labelBit(labels int) uint64 {
	if labels > 63 {
		labels = 63
	}
	return 1 << labels
}

func (b *tableBuilder) add(name []byte, suffix bool, src uint16, line uint32) error {
	return b.addLabels(bytesString(name), suffix, src, line, 1+bytes.Count(name, []byte{'.'}))
}

// addLabels is add for a name of the given number of labels.
func (b *tableBuilder) addLabels(name string, suffix bool, src uint16, line uint32, labels int) error {
	need := hdrLen + len(name)
	if len(b.chunks) == 0 || len(b.chunks[len(b.chunks)-1])+need > chunkSize {
		if len(b.chunks) == maxChunks {
			return errTooManyNames
		}
		// The first chunk of the first (usually small) table starts small.
		c := chunkSize
		if len(b.chunks) == 0 {
			c = 1 << 12
		}
		nc := make([]byte, 0, c)
		adviseHuge(unsafe.Pointer(unsafe.SliceData(nc)), cap(nc))
		b.chunks = append(b.chunks, nc)
	}
	ci := len(b.chunks) - 1
	c := b.chunks[ci]
	if len(c)+need > cap(c) {
		// Only the first chunk grows; later ones are allocated full size.
		nc := make([]byte, len(c), min(max(2*cap(c), len(c)+need), chunkSize))
		copy(nc, c)
		c = nc
	}
	if ci == 0 && len(c) == 0 {
		// Offset 0 would read as an empty slot: never hand it out.
		c = append(c, 0)
	}
	c = binary.LittleEndian.AppendUint32(c, line)
	c = binary.LittleEndian.AppendUint16(c, src)
	kind := byte(kindExact)
	if suffix {
		kind = kindDot
	}
	c = append(c, byte(len(name)), kind)
	c = append(c, name...)
	b.chunks[ci] = c
	b.anyMask |= labelBit(labels)
	if suffix {
		b.suffixMask |= labelBit(labels)
		b.suffixes++
	}
	b.count++
	return nil
}

// build indexes every record. The builder must not be used afterwards.
func (b *tableBuilder) build() nameTable {
	t := nameTable{seed: maphash.MakeSeed(), chunks: b.chunks,
		anyMask: b.anyMask, suffixMask: b.suffixMask, count: b.count}
	if b.count == 0 {
		return t
	}
	n := b.count + b.count*3/7 + 1 // load factor 0.7
	t.slots = make([]slot, n)
	adviseHuge(unsafe.Pointer(unsafe.SliceData(t.slots)), n*int(unsafe.Sizeof(slot{})))
	{
		words := 2
		for words*64 < b.count*4 {
			words <<= 1
		}
		t.all = make([]uint64, words)
		adviseHuge(unsafe.Pointer(unsafe.SliceData(t.all)), 8*words)
		t.allShift = uint8(64 - bits.TrailingZeros(uint(words)))
	}
	if b.suffixes > 0 {
		words := 1
		for words*64 < b.suffixes*8 {
			words <<= 1
		}
		t.bloom = make([]uint64, words)
		t.bloomShift = uint8(64 - bits.TrailingZeros(uint(words)))
		if words == 1 {
			t.bloomShift = 63 // h>>63 is 0 or 1: use two words
			t.bloom = make([]uint64, 2)
		}
	}
	// Records are inserted in batches: the home slots of a batch are hashed
	// and touched first, so their cache misses overlap, then filled in
	// order (which keeps "first loaded wins" for duplicates).
	const batch = 16
	var refs [batch]uint32
	var hs [batch]uint64
	var tags [batch]uint32
	k := 0
	var sink uint32
	flush := func() {
		for j := 0; j < k; j++ {
			i := t.home(hs[j])
			for t.slots[i].ref != 0 {
				if i++; i == len(t.slots) {
					i = 0
				}
			}
			t.slots[i] = slot{ref: refs[j], tag: tags[j]}
		}
		k = 0
	}
	for ci, c := range t.chunks {
		off := 0
		if ci == 0 {
			off = 1
		}
		for off < len(c) {
			l := int(c[off+6])
			name := c[off+hdrLen : off+hdrLen+l]
			h := maphash.Bytes(t.seed, name)
			if c[off+7] == kindDot {
				t.bloomAdd(h)
			}
			t.all[h>>t.allShift] |= uint64(1)<<(h&63) | uint64(1)<<((h>>6)&63)
			refs[k], hs[k] = uint32(ci<<chunkBits|(off+hdrLen)), h
			tags[k] = uint32(h) &^ 1
			if c[off+7] == kindDot {
				tags[k] |= 1 // the kind bit: see probeTag
			}
			sink += t.slots[t.home(h)].tag
			if k++; k == batch {
				flush()
			}
			off += hdrLen + l
		}
	}
	flush()
	t.sink = sink
	return t
}

func (t *nameTable) home(h uint64) int {
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(hi)
}

// entry is a decoded record.
type entry struct {
	chunk []byte
	off   int // of the name
	src   uint16
	line  uint32
	n     int
	kind  byte
}

func (t *nameTable) entry(ref uint32) entry {
	c := t.chunks[ref>>chunkBits]
	off := int(ref & chunkMask)
	return entry{chunk: c, off: off,
		line: binary.LittleEndian.Uint32(c[off-8:]),
		src:  binary.LittleEndian.Uint16(c[off-4:]),
		n:    int(c[off-2]), kind: c[off-1]}
}

func (e entry) name() []byte { return e.chunk[e.off : e.off+e.n] }

// matches reports whether the entry matches the query key: it is
// the key itself, or a suffix entry for one of its parents.
func (e entry) matches(key []byte) bool {
	name := e.name()
	switch {
	case len(key) == len(name):
		return string(key) == string(name)
	case len(key) > len(name):
		return e.kind == kindDot && key[len(key)-len(name)-1] == '.' && string(key[len(key)-len(name):]) == string(name)
	}
	return false
}

// pattern is the entry as a string, with its leading dot for suffix entries.
func (e entry) pattern() string {
	if e.kind == kindDot {
		return bytesString(e.chunk[e.off-1 : e.off+e.n])
	}
	return bytesString(e.chunk[e.off : e.off+e.n])
}

// find returns the first entry for key (suffix entries only if suffixOnly),
// or 0.
func (t *nameTable) find(key []byte, suffixOnly bool) uint32 {
	h := maphash.Bytes(t.seed, key)
	i := t.home(h)
	return t.probe(key, suffixOnly, h, i, t.slots[i])
}

// probe continues a lookup of key (hash h) at slot i, whose content s the
// caller has already loaded, and compares the names.
func (t *nameTable) probe(key []byte, suffixOnly bool, h uint64, i int, s slot) uint32 {
	tag := uint32(h) | 1
	for {
		if s.ref == 0 {
			return 0
		}
		if s.tag|1 == tag {
			c := t.chunks[s.ref>>chunkBits]
			off := int(s.ref & chunkMask)
			if int(c[off-2]) == len(key) && (!suffixOnly || c[off-1] == kindDot) &&
				string(c[off:off+len(key)]) == string(key) {
				return s.ref
			}
		}
		if i++; i == len(t.slots) {
			i = 0
		}
		s = t.slots[i]
	}
}

// probeTag is probe without the arena: the first slot from i (content s
// already loaded) whose tag agrees with h (31 bits of the hash) and whose
// kind bit allows it (suffix entries only for a parent level). A true
// entry always agrees, so a 0 is a certain miss; a ref is a candidate that
// is wrong with a probability of about 2^-31 per slot compared, which
// Resolve checks when it reads the record for the provenance anyway.
func (t *nameTable) probeTag(suffixOnly bool, h uint64, i int, s slot) uint32 {
	want, mask := uint32(h)|1, ^uint32(0)
	if !suffixOnly {
		mask = ^uint32(1) // either kind
	}
	for {
		if s.ref == 0 {
			return 0
		}
		if (s.tag^want)&mask == 0 {
			return s.ref
		}
		if i++; i == len(t.slots) {
			i = 0
		}
		s = t.slots[i]
	}
}

// maxLevels is how many levels of a name lookup probes at once.
const maxLevels = 8

// lookup walks key and its parents, most specific first, and returns the
// first entry that matches, or 0.
//
// Levels are skipped when no key has their number of labels (the masks)
// or when the Bloom filters say no key can match (all keys for the name
// itself, suffix keys for its parents). The levels left are hashed first and their home slots loaded
// before any is examined: the loads are independent, so the CPU overlaps
// their cache misses and a lookup in a table far larger than the caches
// costs about one memory latency, not one per level.
func (t *nameTable) lookup(key []byte) uint32 {
	return t.walk(key, true)
}

// candidate is lookup without the name comparison (see probeTag): one
// round trip to memory for the table, none to the arena.
func (t *nameTable) candidate(key []byte) uint32 {
	return t.walk(key, false)
}

func (t *nameTable) walk(key []byte, verify bool) uint32 {
	if t.count == 0 {
		return 0
	}
	var dots [maxDots]int32
	nd := 0
	for i := 0; ; {
		j := bytes.IndexByte(key[i:], '.')
		if j < 0 {
			break
		}
		if nd == maxDots {
			return t.lookupSlow(key)
		}
		dots[nd] = int32(i + j)
		nd++
		i += j + 1
	}
	labels := nd + 1
	var lv [maxLevels]struct {
		h     uint64
		start int32
		i     int32
		s     slot
	}
	n, loaded := 0, 0
	if t.anyMask&labelBit(labels) != 0 {
		h := maphash.Bytes(t.seed, key)
		// The home slot is loaded before the filter is consulted: the two
		// loads are independent, so a hit pays one memory latency for both
		// instead of two in a row (a miss the filter rejects pays the same).
		i := t.home(h)
		s0 := t.slots[i]
		m := uint64(1)<<(h&63) | uint64(1)<<((h>>6)&63)
		if t.all[h>>t.allShift]&m == m {
			lv[0].h, lv[0].i, lv[0].s = h, int32(i), s0
			n, loaded = 1, 1
		}
	}
	if t.suffixMask != 0 {
		for k := 0; k < nd; k++ {
			if t.suffixMask&labelBit(labels-1-k) == 0 {
				continue
			}
			start := dots[k] + 1
			h := maphash.Bytes(t.seed, key[start:])
			if !t.maySuffix(h) {
				continue
			}
			if n == maxLevels {
				return t.lookupSlow(key)
			}
			lv[n].h, lv[n].start = h, start
			n++
		}
	}
	for j := loaded; j < n; j++ {
		l := &lv[j]
		i := t.home(l.h)
		l.i, l.s = int32(i), t.slots[i]
	}
	for j := 0; j < n; j++ {
		l := &lv[j]
		var r uint32
		if verify {
			r = t.probe(key[l.start:], l.start > 0, l.h, int(l.i), l.s)
		} else {
			r = t.probeTag(l.start > 0, l.h, int(l.i), l.s)
		}
		if r != 0 {
			return r
		}
	}
	return 0
}

// maxDots bounds the labels lookup handles on its fast path.
const maxDots = 32

// maySuffix reports whether a suffix key with hash h may exist: a blocked
// Bloom filter (one 64-bit word, two bits per key, 8–16 bits per suffix
// key: about 5 % false positives) small enough to stay in the CPU caches, so a
// parent level that cannot match costs no memory access.
func (t *nameTable) maySuffix(h uint64) bool {
	if t.bloom == nil {
		return true
	}
	m := uint64(1)<<(h&63) | uint64(1)<<((h>>6)&63)
	return t.bloom[h>>t.bloomShift]&m == m
}

func (t *nameTable) bloomAdd(h uint64) {
	t.bloom[h>>t.bloomShift] |= uint64(1)<<(h&63) | uint64(1)<<((h>>6)&63)
}

// lookupSlow is lookup for names with more levels than maxLevels.
func (t *nameTable) lookupSlow(key []byte) uint32 {
	labels := 1
	for _, c := range key {
		if c == '.' {
			labels++
		}
	}
	if t.anyMask&labelBit(labels) != 0 {
		if r := t.find(key, false); r != 0 {
			return r
		}
	}
	for i, c := range key {
		if c == '.' {
			labels--
			if t.suffixMask&labelBit(labels) != 0 {
				if r := t.find(key[i+1:], true); r != 0 {
					return r
				}
			}
		}
	}
	return 0
}

// findAll calls fn for every entry matching key at any level (for Explain).
func (t *nameTable) findAll(key []byte, fn func(e entry, level []byte)) {
	if t.count == 0 {
		return
	}
	scan := func(k []byte, suffixOnly bool) {
		h := maphash.Bytes(t.seed, k)
		for i := t.home(h); t.slots[i].ref != 0; {
			s := t.slots[i]
			if s.tag|1 == uint32(h)|1 {
				e := t.entry(s.ref)
				if bytes.Equal(e.name(), k) && (!suffixOnly || e.kind == kindDot) {
					fn(e, k)
				}
			}
			if i++; i == len(t.slots) {
				i = 0
			}
		}
	}
	scan(key, false)
	for i, c := range key {
		if c == '.' {
			scan(key[i+1:], true)
		}
	}
}

// memory is the approximate number of bytes the table holds.
func (t *nameTable) memory() int64 {
	m := int64(len(t.slots))*8 + int64(len(t.bloom)+len(t.all))*8
	for _, c := range t.chunks {
		m += int64(cap(c))
	}
	return m
}
