package reassembly

// flowIndex maps a flow key to its slot: open addressing with linear
// probing over 8-byte entries (the key's 32-bit hash above the slot
// number; 0 is empty, slot 0 being the nil slot). A lookup reads one entry
// — usually one cache line — and then the flow itself, which the caller
// needs anyway, to confirm the key; a Go map touched its own control
// word and key slots first (10 % of the replay's CPU went there). The
// hash is kept in the entry, so growing never touches the flows, and
// deletion shifts entries back instead of leaving tombstones.
type flowIndex struct {
	e    []uint64
	mask uint32
	n    int
}

const minIndexSize = 1024

func (t *Table) indexInit() {
	t.idx = flowIndex{e: make([]uint64, minIndexSize), mask: minIndexSize - 1}
}

// find returns the slot of k, or 0.
func (t *Table) find(k *Key, h uint32) uint32 { return t.findH(k, h) }

// findH is find with the hash given (tests force collisions through it).
func (t *Table) findH(k *Key, h uint32) uint32 {
	x := &t.idx
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		e := x.e[i]
		if e == 0 {
			return 0
		}
		if uint32(e>>32) == h {
			if s := uint32(e); t.slot(s).Key == *k {
				return s
			}
		}
	}
}

// insert adds slot under hash h (the key must not be present).
func (t *Table) insert(h, slot uint32) {
	x := &t.idx
	if (x.n+1)*2 > len(x.e) {
		t.growIndex()
	}
	for i := h & x.mask; ; i = (i + 1) & x.mask {
		if x.e[i] == 0 {
			x.e[i] = uint64(h)<<32 | uint64(slot)
			x.n++
			return
		}
	}
}

func (t *Table) growIndex() {
	old := t.idx.e
	x := &t.idx
	x.e = make([]uint64, 2*len(old))
	x.mask = uint32(len(x.e) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		for i := uint32(e>>32) & x.mask; ; i = (i + 1) & x.mask {
			if x.e[i] == 0 {
				x.e[i] = e
				break
			}
		}
	}
}

// remove deletes slot (stored under hash h) and shifts the entries after
// it back so that every entry stays reachable from its home position.
func (t *Table) remove(h, slot uint32) {
	x := &t.idx
	want := uint64(h)<<32 | uint64(slot)
	i := h & x.mask
	for x.e[i] != want {
		if x.e[i] == 0 {
			return // not indexed (cannot happen)
		}
		i = (i + 1) & x.mask
	}
	x.e[i] = 0
	x.n--
	for j := (i + 1) & x.mask; x.e[j] != 0; j = (j + 1) & x.mask {
		home := uint32(x.e[j]>>32) & x.mask
		// Move e[j] into the hole at i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.e[i], x.e[j] = x.e[j], 0
			i = j
		}
	}
}
