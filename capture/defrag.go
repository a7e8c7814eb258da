package capture

// IPv4/IPv6 fragment reassembly, bounded in datagrams, fragments and bytes,
// driven by packet time.
//
// The decoder parses the IP header (and the IPv6 Fragment header) itself and
// offers each fragment to a Defragmenter together with the fragment's facts.
// One Defragmenter belongs to one shard's decoder; it is not safe for
// concurrent use.
//
// Storage layout:
//
//	index   map[FragKey]int32 ──► trackers[i]   (one per datagram being reassembled;
//	                                             freed trackers are reused, with their span slice)
//	tracker.pages [32]uint32    one slot per 2 KiB of datagram offset (0..64 KiB); a slot holds
//	                            a page id (1-based) into the page slab, or 0 when no byte of that
//	                            part of the datagram has arrived yet
//	tracker.spans []defragSpan  received byte ranges, sorted, merged (coverage, not fragments)
//	page slab                   2 KiB pages carved from 64 KiB chunks, allocated on first need and
//	                            recycled through a free list; never more than MaxBytes/2 KiB pages
//	FIFO                        trackers linked in arrival order of their first fragment (≈ packet
//	                            time order): the head is both the next to time out and the one
//	                            evicted when MaxDatagrams is reached
//	out     [65535]byte         the reassembled datagram, built on completion and returned
//
// Nothing is allocated per fragment once the slab, the tracker slice, the span
// slices and the index map have grown to the working set ("warm-up").

import (
	"errors"
	"fmt"
	"time"
)

// Defaults for DefragConfig; a zero field means its default.
const (
	// DefaultDefragTimeout is how long, in packet time, a datagram may wait
	// for its missing fragments after its first fragment arrived. It is
	// Linux's ipfrag_time and Suricata's defrag timeout.
	DefaultDefragTimeout = 30 * time.Second
	// DefaultDefragMaxDatagrams bounds the datagrams reassembled at once.
	DefaultDefragMaxDatagrams = 4096
	// DefaultDefragMaxFragments bounds the fragments of one datagram. 64
	// fragments of IPv6's minimum MTU (1280) carry 64 KiB: a real datagram
	// never needs more.
	DefaultDefragMaxFragments = 64
	// DefaultDefragMaxBytes bounds the fragment storage held across all
	// datagrams.
	DefaultDefragMaxBytes = 16 << 20
)

// Limits of the configuration, and of IP.
const (
	// defragMaxDatagram is the largest reassembled payload: the IPv4 total
	// length and the IPv6 payload length are 16-bit fields, and jumbograms
	// (RFC 2675) cannot be fragmented.
	defragMaxDatagram = 65535
	// defragPageSize is the storage unit: memory is held, and counted against
	// MaxBytes, in whole pages.
	defragPageSize  = 2048
	defragPageSlots = (defragMaxDatagram + defragPageSize) / defragPageSize // 32
	// defragChunkPages pages are allocated together (64 KiB).
	defragChunkPages = 32

	defragMinBytes        = defragPageSlots * defragPageSize // one full datagram (64 KiB)
	defragMaxBytesLimit   = 1 << 40                          // page ids are uint32
	defragMaxDatagramsCap = 1 << 20                          // tracker indexes are int32
	defragMaxFragmentsCap = defragMaxDatagram/8 + 1          // 8192: more are necessarily overlaps
)

// DefragConfig bounds defragmentation. A zero field means its default
// (DefaultDefragTimeout, DefaultDefragMaxDatagrams, DefaultDefragMaxFragments,
// DefaultDefragMaxBytes).
type DefragConfig struct {
	// Timeout is how long a datagram is held after its first fragment, in
	// packet time. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxDatagrams bounds the datagrams being reassembled at once; past it
	// the oldest is evicted. Default 4096.
	MaxDatagrams int `yaml:"max_datagrams"`
	// MaxFragments bounds the fragments of one datagram, duplicates and
	// overlaps included; past it the datagram is dropped. 2…8192, default 64.
	MaxFragments int `yaml:"max_fragments"`
	// MaxBytes bounds the fragment storage held across all datagrams,
	// counted in the 2 KiB pages that are actually held (a 100-byte fragment
	// holds 2 KiB). At least 64 KiB (one full datagram); default 16 MiB.
	// Besides it, a Defragmenter holds one 64 KiB output buffer and about
	// 200 bytes per datagram slot plus its ranges.
	MaxBytes int64 `yaml:"max_bytes"`
}

// WithDefaults returns c with every zero field set to its default.
func (c DefragConfig) WithDefaults() DefragConfig {
	if c.Timeout == 0 {
		c.Timeout = DefaultDefragTimeout
	}
	if c.MaxDatagrams == 0 {
		c.MaxDatagrams = DefaultDefragMaxDatagrams
	}
	if c.MaxFragments == 0 {
		c.MaxFragments = DefaultDefragMaxFragments
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultDefragMaxBytes
	}
	return c
}

// Validate reports every field out of range (zero fields are valid: they
// mean their default).
func (c DefragConfig) Validate() error {
	var errs []error
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("capture: defrag: timeout %v is negative", c.Timeout))
	}
	if c.MaxDatagrams < 0 || c.MaxDatagrams > defragMaxDatagramsCap {
		errs = append(errs, fmt.Errorf("capture: defrag: max_datagrams %d not in 1…%d (0: default)", c.MaxDatagrams, defragMaxDatagramsCap))
	}
	if c.MaxFragments != 0 && (c.MaxFragments < 2 || c.MaxFragments > defragMaxFragmentsCap) {
		errs = append(errs, fmt.Errorf("capture: defrag: max_fragments %d not in 2…%d (0: default)", c.MaxFragments, defragMaxFragmentsCap))
	}
	if c.MaxBytes != 0 && (c.MaxBytes < defragMinBytes || c.MaxBytes > defragMaxBytesLimit) {
		errs = append(errs, fmt.Errorf("capture: defrag: max_bytes %d not in %d…%d (at least one 64 KiB datagram; 0: default)",
			c.MaxBytes, defragMinBytes, int64(defragMaxBytesLimit)))
	}
	return errors.Join(errs...)
}

// FragKey identifies the datagram a fragment belongs to. It is pointer-free
// and comparable (a map key).
//
// IPv4 addresses are stored IPv4-mapped (::ffff:a.b.c.d), as capture.Addr
// does, so a decoder copies its addresses in unchanged; V6 still tells the
// families apart (an IPv6 packet between v4-mapped addresses never merges
// with IPv4).
type FragKey struct {
	Src, Dst [16]byte
	// ID is the IPv4 identification (16 bits) or the IPv6 Fragment header's
	// identification (32 bits).
	ID uint32
	// Proto is the IPv4 protocol, or the Next Header of the IPv6 Fragment
	// header (the first header of the fragmentable part).
	Proto uint8
	V6    bool
	// Context is opaque to the Defragmenter: the decoder's VLAN/tunnel
	// context, so that equal inner tuples in different tunnels or VLANs
	// never merge.
	Context uint64
}

// DefragStatus is what Add did with a fragment.
type DefragStatus uint8

// Add's results.
const (
	// DefragHeld: the fragment is stored; its datagram is incomplete.
	DefragHeld DefragStatus = iota + 1
	// DefragComplete: the fragment completed its datagram, which Add returns.
	DefragComplete
	// DefragDropped: the fragment (and, for some reasons, its datagram) was
	// dropped: a bound was hit or the fragment is malformed. DefragStats says why.
	DefragDropped
)

func (s DefragStatus) String() string {
	switch s {
	case DefragHeld:
		return "held"
	case DefragComplete:
		return "complete"
	case DefragDropped:
		return "dropped"
	}
	return "unknown"
}

// DefragStats are a Defragmenter's counters. Every field counts since
// NewDefragmenter, except Held, which is a gauge.
//
// Accounting, in fragments (every Add call offers one fragment):
//
//	FragmentsIn == Held + ReassembledFragments + Dropped()
//	Dropped()   == TimedOut + Evicted + TooManyFragments + MemcapBytes + TooLarge + InvalidFragment
//
// A fragment is accepted (its datagram's fragment count grows, duplicates and
// overlaps included) or dropped on arrival (TooLarge, InvalidFragment). An
// accepted fragment sits in Held until its datagram completes (it moves to
// ReassembledFragments) or is dropped as a whole (it moves to the datagram's
// drop reason: TimedOut, Evicted, TooManyFragments or MemcapBytes; for the last
// two the fragment that hit the bound is counted there too). Overlaps and
// OverlapConflicts annotate accepted fragments and are outside the equation.
type DefragStats struct {
	// FragmentsIn counts Add calls.
	FragmentsIn uint64
	// Held is a gauge: fragments stored in datagrams not yet complete.
	Held uint64
	// Reassembled counts datagrams completed (returned with DefragComplete),
	// atomic fragments (offset 0, no more fragments) included.
	Reassembled uint64
	// ReassembledFragments counts the fragments those datagrams were built from.
	ReassembledFragments uint64

	// TimedOut counts fragments dropped because their datagram was still
	// incomplete Timeout after its first fragment (packet time);
	// TimedOutDatagrams counts those datagrams.
	TimedOut          uint64
	TimedOutDatagrams uint64
	// Evicted counts fragments dropped because their datagram was the oldest
	// when a new one needed a slot past MaxDatagrams; EvictedDatagrams counts
	// those datagrams.
	Evicted          uint64
	EvictedDatagrams uint64
	// TooManyFragments counts fragments of datagrams dropped for offering
	// more than MaxFragments fragments (the datagram is dropped with all its
	// fragments, the one over the bound included).
	TooManyFragments uint64
	// MemcapBytes counts fragments of datagrams dropped because storing a
	// fragment would have held more than MaxBytes (the datagram is dropped
	// with all its fragments: it could no longer complete; other datagrams
	// are kept, as Linux and Suricata keep theirs past their memory limits:
	// evicting them instead would let a flood flush legitimate datagrams).
	MemcapBytes uint64
	// TooLarge counts fragments ending past 65535 bytes (offset+length), the
	// largest IPv4 or IPv6 (non-jumbo) payload: "ping of death". The fragment
	// alone is dropped. (For IPv4 the exact limit is 65535 minus the header
	// length, which the Defragmenter is not told; the decoder may check it.)
	TooLarge uint64
	// InvalidFragment counts malformed fragments, dropped alone: zero length,
	// a non-last fragment whose length is not a multiple of 8, an offset not
	// a multiple of 8, a last fragment whose end differs from an earlier last
	// fragment's, data past the end of a known last fragment, or a last
	// fragment ending before data already received.
	InvalidFragment uint64

	// Overlaps counts accepted fragments that overlap data already received
	// for their datagram (exact duplicates included).
	Overlaps uint64
	// OverlapConflicts counts the Overlaps whose overlapping bytes differ from
	// the bytes received first: an evasion or injection signal. The first
	// bytes are kept (see Defragmenter).
	OverlapConflicts uint64
}

// Add adds o's counters to s (summing the defragmenters of several shards).
func (s *DefragStats) Add(o DefragStats) {
	s.FragmentsIn += o.FragmentsIn
	s.Held += o.Held
	s.Reassembled += o.Reassembled
	s.ReassembledFragments += o.ReassembledFragments
	s.TimedOut += o.TimedOut
	s.TimedOutDatagrams += o.TimedOutDatagrams
	s.Evicted += o.Evicted
	s.EvictedDatagrams += o.EvictedDatagrams
	s.TooManyFragments += o.TooManyFragments
	s.MemcapBytes += o.MemcapBytes
	s.TooLarge += o.TooLarge
	s.InvalidFragment += o.InvalidFragment
	s.Overlaps += o.Overlaps
	s.OverlapConflicts += o.OverlapConflicts
}

// Dropped sums the drop reasons, in fragments.
func (s DefragStats) Dropped() uint64 {
	return s.TimedOut + s.Evicted + s.TooManyFragments + s.MemcapBytes + s.TooLarge + s.InvalidFragment
}

// Defragmenter reassembles IPv4 and IPv6 datagrams from their fragments,
// within the bounds of a DefragConfig, in packet time. One per shard's
// decoder; not safe for concurrent use.
//
// Overlap policy: first wins. Where a fragment overlaps bytes already
// received for its datagram, the bytes received first are kept and the new
// fragment only fills holes. Endpoints disagree here (BSD, Linux, Windows and
// Solaris each resolve overlaps their own way, which is why Suricata's defrag
// has per-host policies: bsd, linux, windows, solaris, first, last), and RFC
// 5722 makes IPv6 receivers discard such datagrams, so no single choice
// matches every victim. A passive sensor cannot know the victim's stack;
// first-wins is simple, deterministic, and never lets a later injected
// fragment rewrite what was already seen. Instead, every overlap whose bytes
// differ is counted (OverlapConflicts) and the datagram is reported as
// conflicted (LastOverlapConflict) so the decoder can flag the packet:
// the evasion attempt itself is the signal. The same rule applies to the
// datagram's end: the first last fragment fixes it, and inconsistent later
// ones are dropped as invalid.
//
// Atomic fragments (offset 0 and no more fragments, RFC 6946) complete on
// their own and never merge with other fragments of the same key.
type Defragmenter struct {
	timeout      int64 // ns
	maxDatagrams int
	maxFragments int
	maxPages     int

	index    map[FragKey]int32
	trackers []defragTracker
	free     []int32 // indexes of unused trackers
	head     int32   // oldest live tracker (next to expire or be evicted); -1 if none
	tail     int32   // newest live tracker; -1 if none
	live     int

	chunks    [][]byte // page slab: defragChunkPages pages each
	freePages []uint32 // ids of unused pages
	numPages  int      // pages carved so far
	usedPages int      // pages held by live trackers

	out          []byte // the datagram returned by the last DefragComplete
	lastConflict bool   // the last Add returned DefragComplete for a conflicted datagram
	lastFrags    int    // fragments of the datagram the last Add completed
	lastFirstLen int    // data bytes of its first fragment

	stats DefragStats
}

// defragSpan is a received byte range [lo, hi) of a datagram.
type defragSpan struct{ lo, hi int32 }

// defragTracker is one datagram under reassembly. Valid iff it is linked in
// the FIFO (and the index).
type defragTracker struct {
	key        FragKey
	first      int64 // packet time of the first fragment, Unix ns
	prev, next int32 // FIFO links; -1 = none
	end        int32 // datagram length; valid iff hasLast
	hasLast    bool  // the last fragment (more == false) arrived
	conflict   bool  // an overlap differed
	frags      int   // fragments accepted
	firstLen   int32 // data bytes of the first fragment accepted at offset 0; 0 = none yet
	pages      [defragPageSlots]uint32
	spans      []defragSpan // sorted, disjoint, non-adjacent
}

// NewDefragmenter returns an empty Defragmenter. Zero fields of cfg mean
// their defaults; cfg is expected to have passed Validate, and values it
// would reject are clamped to the nearest valid ones. It allocates the 64 KiB
// output buffer; storage grows on demand up to the bounds.
func NewDefragmenter(cfg DefragConfig) *Defragmenter {
	if cfg.Timeout < 0 {
		cfg.Timeout = 0
	}
	cfg = cfg.WithDefaults()
	cfg.MaxDatagrams = min(max(cfg.MaxDatagrams, 1), defragMaxDatagramsCap)
	cfg.MaxFragments = min(max(cfg.MaxFragments, 2), defragMaxFragmentsCap)
	cfg.MaxBytes = min(max(cfg.MaxBytes, defragMinBytes), defragMaxBytesLimit)
	return &Defragmenter{
		timeout:      int64(cfg.Timeout),
		maxDatagrams: cfg.MaxDatagrams,
		maxFragments: cfg.MaxFragments,
		maxPages:     int(cfg.MaxBytes / defragPageSize),
		index:        make(map[FragKey]int32, min(cfg.MaxDatagrams, 64)),
		head:         -1,
		tail:         -1,
		out:          make([]byte, defragMaxDatagram),
	}
}

// Stats returns the counters.
func (d *Defragmenter) Stats() DefragStats { return d.stats }

// InUse returns the datagrams under reassembly and the storage they hold, in
// bytes (whole pages; at most MaxBytes).
func (d *Defragmenter) InUse() (datagrams int, bytes int64) {
	return d.live, int64(d.usedPages) * defragPageSize
}

// LastOverlapConflict reports whether the datagram returned by the last Add
// call (with DefragComplete) was built from overlapping fragments whose bytes
// differed: the decoder flags such packets. It is false after any other result.
func (d *Defragmenter) LastOverlapConflict() bool { return d.lastConflict }

// LastDatagram describes the datagram the last Add completed: how many
// fragments it was built from and how many data bytes its first fragment
// (offset 0) carried. Valid iff the last Add returned DefragComplete. The
// decoder uses it to account the fragments' wire packets and bytes.
func (d *Defragmenter) LastDatagram() (fragments, firstLen int) { return d.lastFrags, d.lastFirstLen }

// Add offers one fragment of the datagram key: offset is in bytes (the
// header's fragment offset × 8), more is the More Fragments flag, payload is
// the fragment's data after the IP header (and after the IPv6 Fragment
// header), now is the packet time in Unix ns.
//
// When the fragment completes its datagram, Add returns the reassembled
// upper-layer payload (offsets 0 to the end given by the last fragment) and
// DefragComplete. The returned slice is owned by the Defragmenter and valid
// until the next call on it. Otherwise it returns nil and DefragHeld or
// DefragDropped. The Defragmenter copies what it keeps: the caller may reuse
// payload once Add returns.
func (d *Defragmenter) Add(now int64, key FragKey, offset int, more bool, payload []byte) ([]byte, DefragStatus) {
	d.stats.FragmentsIn++
	d.lastConflict = false
	d.Expire(now)

	n := len(payload)
	switch {
	case n == 0 || offset < 0 || offset%8 != 0 || (more && n%8 != 0):
		d.stats.InvalidFragment++
		return nil, DefragDropped
	case offset > defragMaxDatagram-n:
		d.stats.TooLarge++
		return nil, DefragDropped
	case offset == 0 && !more:
		// An atomic fragment (RFC 6946) is a whole datagram: it never
		// merges with fragments of the same key.
		d.stats.Reassembled++
		d.stats.ReassembledFragments++
		d.lastFrags, d.lastFirstLen = 1, n
		copy(d.out, payload)
		return d.out[:n:n], DefragComplete
	}
	lo, hi := int32(offset), int32(offset+n)

	idx, ok := d.index[key]
	if ok {
		t := &d.trackers[idx]
		switch {
		case t.hasLast && (hi > t.end || (!more && hi != t.end)):
			// Past the known end, or a second, different end: first wins.
			d.stats.InvalidFragment++
			return nil, DefragDropped
		case !t.hasLast && !more && len(t.spans) > 0 && t.spans[len(t.spans)-1].hi > hi:
			// An end before data already received.
			d.stats.InvalidFragment++
			return nil, DefragDropped
		case t.frags >= d.maxFragments:
			d.stats.TooManyFragments += uint64(t.frags) + 1
			d.release(idx)
			return nil, DefragDropped
		}
	} else {
		if d.live >= d.maxDatagrams {
			d.stats.EvictedDatagrams++
			d.stats.Evicted += uint64(d.trackers[d.head].frags)
			d.release(d.head)
		}
		idx = d.acquire(now, key)
	}
	t := &d.trackers[idx]

	// Reserve the pages the fragment touches and the datagram lacks. Every
	// byte received lies in a page already held, so these pages will all be
	// written.
	need := 0
	for s := lo / defragPageSize; s <= (hi-1)/defragPageSize; s++ {
		if t.pages[s] == 0 {
			need++
		}
	}
	if d.usedPages+need > d.maxPages {
		d.stats.MemcapBytes += uint64(t.frags) + 1
		d.release(idx)
		return nil, DefragDropped
	}
	for s := lo / defragPageSize; s <= (hi-1)/defragPageSize; s++ {
		if t.pages[s] == 0 {
			t.pages[s] = d.allocPage()
		}
	}

	// Fill the holes of [lo, hi); compare the parts already received.
	overlap, conflict := false, false
	pos := lo
	i := 0
	for i < len(t.spans) && t.spans[i].hi < lo {
		i++
	}
	j := i // spans[i:j] overlap or touch [lo, hi)
	for ; j < len(t.spans) && t.spans[j].lo <= hi; j++ {
		sp := t.spans[j]
		if sp.lo > pos {
			d.write(t, pos, payload[pos-lo:sp.lo-lo])
		}
		if olo, ohi := max(sp.lo, lo), min(sp.hi, hi); olo < ohi {
			overlap = true
			if !conflict && !d.equal(t, olo, payload[olo-lo:ohi-lo]) {
				conflict = true
			}
		}
		pos = max(pos, sp.hi)
	}
	if pos < hi {
		d.write(t, pos, payload[pos-lo:])
	}
	// Merge [lo, hi) with spans[i:j].
	merged := defragSpan{lo, hi}
	if i < j {
		merged.lo = min(lo, t.spans[i].lo)
		merged.hi = max(hi, t.spans[j-1].hi)
		t.spans[i] = merged
		t.spans = append(t.spans[:i+1], t.spans[j:]...)
	} else {
		t.spans = append(t.spans, defragSpan{})
		copy(t.spans[i+1:], t.spans[i:])
		t.spans[i] = merged
	}

	t.frags++
	if lo == 0 && t.firstLen == 0 {
		t.firstLen = hi
	}
	d.stats.Held++
	if overlap {
		d.stats.Overlaps++
		if conflict {
			d.stats.OverlapConflicts++
			t.conflict = true
		}
	}
	if !more {
		t.hasLast, t.end = true, hi
	}
	if !t.hasLast || len(t.spans) != 1 || t.spans[0].lo != 0 || t.spans[0].hi != t.end {
		return nil, DefragHeld
	}

	// Complete: copy the pages out in order.
	end := int(t.end)
	for s, off := 0, 0; off < end; s, off = s+1, off+defragPageSize {
		copy(d.out[off:end], d.page(t.pages[s]))
	}
	d.stats.Reassembled++
	d.stats.ReassembledFragments += uint64(t.frags)
	d.stats.Held -= uint64(t.frags)
	d.lastConflict = t.conflict
	d.lastFrags, d.lastFirstLen = t.frags, int(t.firstLen)
	t.frags = 0 // counted: release must not count them as dropped
	d.release(idx)
	return d.out[:end:end], DefragComplete
}

// Expire drops the datagrams whose first fragment arrived before now-Timeout
// (packet time). It walks the FIFO from its oldest end and stops at the first
// datagram still in time, so it costs one comparison when nothing expires.
// Packet time that steps backwards a little (reordered captures, several
// interfaces) only delays the expiry of datagrams queued behind a younger one.
// Add calls it; the decoder may also call it periodically.
func (d *Defragmenter) Expire(now int64) {
	for d.head >= 0 {
		t := &d.trackers[d.head]
		// first < now-timeout, without overflow.
		if now-d.timeout > now || t.first >= now-d.timeout {
			return
		}
		d.stats.TimedOutDatagrams++
		d.stats.TimedOut += uint64(t.frags)
		d.release(d.head)
	}
}

// acquire takes a free tracker for key, links it at the FIFO's tail and
// indexes it.
func (d *Defragmenter) acquire(now int64, key FragKey) int32 {
	var idx int32
	if n := len(d.free); n > 0 {
		idx = d.free[n-1]
		d.free = d.free[:n-1]
	} else {
		d.trackers = append(d.trackers, defragTracker{})
		idx = int32(len(d.trackers) - 1)
	}
	t := &d.trackers[idx]
	t.key, t.first = key, now
	t.prev, t.next = d.tail, -1
	if d.tail >= 0 {
		d.trackers[d.tail].next = idx
	} else {
		d.head = idx
	}
	d.tail = idx
	d.index[key] = idx
	d.live++
	return idx
}

// release frees tracker idx: its pages, its index entry and its FIFO link.
// The fragments it still counts leave Held; the caller has counted them
// under a reason.
func (d *Defragmenter) release(idx int32) {
	t := &d.trackers[idx]
	for s := range t.pages {
		if p := t.pages[s]; p != 0 {
			d.freePages = append(d.freePages, p)
			d.usedPages--
		}
	}
	if t.prev >= 0 {
		d.trackers[t.prev].next = t.next
	} else {
		d.head = t.next
	}
	if t.next >= 0 {
		d.trackers[t.next].prev = t.prev
	} else {
		d.tail = t.prev
	}
	delete(d.index, t.key)
	d.stats.Held -= uint64(t.frags)
	*t = defragTracker{spans: t.spans[:0]}
	d.free = append(d.free, idx)
	d.live--
}

// allocPage returns the id of a page for a live tracker; the caller has
// checked usedPages < maxPages. Pages are carved from chunks on first need.
func (d *Defragmenter) allocPage() uint32 {
	if len(d.freePages) == 0 {
		pages := min(defragChunkPages, d.maxPages-d.numPages)
		d.chunks = append(d.chunks, make([]byte, pages*defragPageSize))
		for k := pages; k > 0; k-- {
			d.freePages = append(d.freePages, uint32(d.numPages+k))
		}
		d.numPages += pages
	}
	p := d.freePages[len(d.freePages)-1]
	d.freePages = d.freePages[:len(d.freePages)-1]
	d.usedPages++
	return p
}

// page returns the bytes of page id p (1-based).
func (d *Defragmenter) page(p uint32) []byte {
	i := int(p - 1)
	off := i % defragChunkPages * defragPageSize
	return d.chunks[i/defragChunkPages][off : off+defragPageSize : off+defragPageSize]
}

// write copies b to the datagram's offset off; its pages are held.
func (d *Defragmenter) write(t *defragTracker, off int32, b []byte) {
	for len(b) > 0 {
		pg := d.page(t.pages[off/defragPageSize])[off%defragPageSize:]
		k := copy(pg, b)
		b = b[k:]
		off += int32(k)
	}
}

// equal reports whether the datagram holds b at offset off; those bytes
// have been received.
func (d *Defragmenter) equal(t *defragTracker, off int32, b []byte) bool {
	for len(b) > 0 {
		pg := d.page(t.pages[off/defragPageSize])[off%defragPageSize:]
		k := min(len(pg), len(b))
		if string(pg[:k]) != string(b[:k]) {
			return false
		}
		b = b[k:]
		off += int32(k)
	}
	return true
}
