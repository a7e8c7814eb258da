package capture

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// A 20-byte UDP datagram (8-byte header + "abcdefghijkl") cut in three
// fragments at 8-byte boundaries.
var (
	fragA = []byte{0x30, 0x39, 0x00, 0x35, 0x00, 0x14, 0x00, 0x00} // [0,8): 12345 → 53, length 20, no checksum
	fragB = []byte("abcdefgh")                                     // [8,16)
	fragC = []byte("ijkl")                                         // [16,20), last
	whole = cat(fragA, fragB, fragC)
)

func cat(bs ...[]byte) []byte { return bytes.Join(bs, nil) }

// sec is a packet time: 2026-11-21T10:00:00Z + s seconds, in Unix ns.
func sec(s float64) int64 { return 1795255200e9 + int64(s*1e9) }

// v4Key returns the key of a fragment 192.0.2.1 → 198.51.100.2 (stored
// IPv4-mapped), UDP, with IPv4 ID id.
func v4Key(id uint16) FragKey {
	return FragKey{
		Src:   [16]byte{10: 0xff, 11: 0xff, 12: 192, 13: 0, 14: 2, 15: 1},
		Dst:   [16]byte{10: 0xff, 11: 0xff, 12: 198, 13: 51, 14: 100, 15: 2},
		ID:    uint32(id),
		Proto: 17, // UDP
	}
}

// v6Key returns the key of a fragment 2001:db8::1 → 2001:db8::2, UDP, with
// fragment identification id.
func v6Key(id uint32) FragKey {
	return FragKey{
		Src:   [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1},
		Dst:   [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2},
		ID:    id,
		Proto: 17, // UDP
		V6:    true,
	}
}

func withContext(k FragKey, c uint64) FragKey { k.Context = c; return k }

type defragStep struct {
	now  int64
	key  FragKey
	off  int
	more bool
	data []byte

	want         DefragStatus
	wantOut      []byte // compared when want == DefragComplete
	wantConflict bool
}

func TestDefrag(t *testing.T) {
	k1, k2, k3 := v4Key(1), v4Key(2), v4Key(3)
	big := func(n int, b byte) []byte { return bytes.Repeat([]byte{b}, n) }
	for _, tc := range []struct {
		name     string
		cfg      DefragConfig
		steps    []defragStep
		expireAt int64 // when non-zero, Expire(expireAt) after the steps
		want     DefragStats
		wantN    int   // datagrams in use at the end
		wantB    int64 // bytes in use at the end
	}{{
		name: "in order",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3},
	}, {
		name: "reverse order",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3},
	}, {
		name: "shuffled",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0.1), key: k1, off: 16, data: fragC, want: DefragHeld},
			{now: sec(0.2), key: k1, off: 0, more: true, data: fragA, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3},
	}, {
		name: "duplicate fragment",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 4, Reassembled: 1, ReassembledFragments: 4, Overlaps: 1},
	}, {
		name: "duplicate last fragment",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, fragB), want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3, Overlaps: 1},
	}, {
		name: "overlapping identical",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},
			// [0,24) would pass the end; [0,16) overlaps [0,8) with the same bytes.
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, fragB), want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3, Overlaps: 1},
	}, {
		name: "overlapping both sides identical",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 16, more: true, data: []byte("ijklmnop"), want: DefragHeld},
			// [0,24) covers the hole and both neighbours.
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, fragB, []byte("ijklmnop")), want: DefragHeld},
			{now: sec(0), key: k1, off: 24, data: []byte("qrst"), want: DefragComplete, wantOut: cat(fragA, fragB, []byte("ijklmnopqrst"))},
		},
		want: DefragStats{FragmentsIn: 4, Reassembled: 1, ReassembledFragments: 4, Overlaps: 1},
	}, {
		name: "overlapping conflicting: first wins",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			// [0,16) agrees on nothing with [8,16): "ABCDEFGH" ≠ "abcdefgh".
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, []byte("ABCDEFGH")), want: DefragHeld},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragComplete, wantOut: whole, wantConflict: true},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 1, ReassembledFragments: 3, Overlaps: 1, OverlapConflicts: 1},
	}, {
		name: "overlapping conflicting in one byte of the tail",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, fragB), want: DefragHeld},
			{now: sec(0), key: k1, off: 8, data: []byte("abcdefgXijkl"), want: DefragComplete, wantOut: whole, wantConflict: true},
		},
		want: DefragStats{FragmentsIn: 2, Reassembled: 1, ReassembledFragments: 2, Overlaps: 1, OverlapConflicts: 1},
	}, {
		name: "conflict flag does not leak to the next datagram",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: []byte("XXXXXXXX"), want: DefragHeld},
			{now: sec(0), key: k1, off: 8, data: cat(fragB, fragC), want: DefragComplete, wantOut: whole, wantConflict: true},
			{now: sec(0), key: k2, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k2, off: 8, data: cat(fragB, fragC), want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 5, Reassembled: 2, ReassembledFragments: 5, Overlaps: 1, OverlapConflicts: 1},
	}, {
		name: "hole never filled: timeout in packet time, on the next Add",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(1), key: k1, off: 16, data: fragC, want: DefragHeld},
			// 30 s after the first fragment: not older than now-Timeout yet.
			{now: sec(30), key: k2, off: 0, more: true, data: fragA, want: DefragHeld},
			// Now k1 is; its late fragment starts a new datagram.
			{now: sec(30.5), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
		},
		want:  DefragStats{FragmentsIn: 4, Held: 2, TimedOut: 2, TimedOutDatagrams: 1},
		wantN: 2, wantB: 2 * defragPageSize,
	}, {
		name: "hole never filled: Expire",
		cfg:  DefragConfig{Timeout: 5 * time.Second},
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(1), key: k1, off: 16, data: fragC, want: DefragHeld},
			{now: sec(2), key: k2, off: 16, data: fragC, want: DefragHeld},
			// Packet time steps back a little: k3 queues behind k2.
			{now: sec(1.5), key: k3, off: 16, data: fragC, want: DefragHeld},
		},
		// Older than 1.8 s: k1 expires; k3 too, but it waits behind k2.
		expireAt: sec(6.8),
		want:     DefragStats{FragmentsIn: 4, Held: 2, TimedOut: 2, TimedOutDatagrams: 1},
		wantN:    2, wantB: 2 * defragPageSize,
	}, {
		name: "too many fragments",
		cfg:  DefragConfig{MaxFragments: 3},
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragDropped},
			// The datagram is gone: its last fragments start a new one.
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},
		},
		want:  DefragStats{FragmentsIn: 5, Held: 1, TooManyFragments: 4, Overlaps: 2},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "memcap",
		cfg:  DefragConfig{MaxBytes: 64 << 10}, // 32 pages
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: big(30*defragPageSize, 'a'), want: DefragHeld},   // 30 pages
			{now: sec(0), key: k2, off: 0, more: true, data: big(4*defragPageSize, 'b'), want: DefragDropped}, // 34 > 32
			{now: sec(0), key: k2, off: 0, more: true, data: big(2*defragPageSize, 'b'), want: DefragHeld},    // 32
			// k1 needs a 33rd page: the whole of k1 is dropped, k2 is kept.
			{now: sec(0), key: k1, off: 30 * defragPageSize, data: big(100, 'a'), want: DefragDropped},
			{now: sec(0), key: k2, off: 2 * defragPageSize, data: []byte("end"), want: DefragComplete, wantOut: cat(big(2*defragPageSize, 'b'), []byte("end"))},
		},
		want: DefragStats{FragmentsIn: 5, Reassembled: 1, ReassembledFragments: 2, MemcapBytes: 3},
	}, {
		name: "max datagrams evicts the oldest",
		cfg:  DefragConfig{MaxDatagrams: 2},
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(1), key: k2, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(2), key: k3, off: 0, more: true, data: fragA, want: DefragHeld}, // evicts k1 (2 fragments)
			{now: sec(3), key: k1, off: 16, data: fragC, want: DefragHeld},            // a new k1: evicts k2
			{now: sec(4), key: k3, off: 8, data: cat(fragB, fragC), want: DefragComplete, wantOut: whole},
		},
		want:  DefragStats{FragmentsIn: 6, Held: 1, Reassembled: 1, ReassembledFragments: 2, Evicted: 3, EvictedDatagrams: 2},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "too large",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 65528, data: big(8, 'x'), want: DefragDropped},              // ends at 65536
			{now: sec(0), key: k1, off: 65528, more: true, data: big(16, 'x'), want: DefragDropped}, // ping of death
			{now: sec(0), key: k1, off: 65528, data: big(7, 'x'), want: DefragHeld},                 // ends at 65535: the largest
		},
		want:  DefragStats{FragmentsIn: 3, Held: 1, TooLarge: 2},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "largest datagram",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 65528, data: big(7, 'x'), want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: big(65528, 'x'), want: DefragComplete, wantOut: big(65535, 'x')},
		},
		want: DefragStats{FragmentsIn: 2, Reassembled: 1, ReassembledFragments: 2},
	}, {
		name: "invalid fragments",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: []byte("0123456789"), want: DefragDropped}, // not a multiple of 8
			{now: sec(0), key: k1, off: 0, more: true, data: nil, want: DefragDropped},                  // empty
			{now: sec(0), key: k1, off: 16, data: nil, want: DefragDropped},                             // empty last
			{now: sec(0), key: k1, off: 4, more: true, data: fragB, want: DefragDropped},                // offset not a multiple of 8
			{now: sec(0), key: k1, off: -8, more: true, data: fragB, want: DefragDropped},               // negative offset
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragHeld},                              // end = 20
			{now: sec(0), key: k1, off: 16, data: []byte("ijklmnop"), want: DefragDropped},              // a second, different end
			{now: sec(0), key: k1, off: 8, data: fragB, want: DefragDropped},                            // another end, before received data
			{now: sec(0), key: k1, off: 16, more: true, data: []byte("ijklmnop"), want: DefragDropped},  // past the known end
			{now: sec(0), key: k1, off: 0, more: true, data: cat(fragA, fragB), want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 10, Reassembled: 1, ReassembledFragments: 2, InvalidFragment: 8},
	}, {
		name: "end before received data, last fragment first unknown",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 16, more: true, data: []byte("ijklmnop"), want: DefragHeld},
			{now: sec(0), key: k1, off: 8, data: fragB, want: DefragDropped},
		},
		want:  DefragStats{FragmentsIn: 2, Held: 1, InvalidFragment: 1},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "two datagrams interleaved",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: k2, off: 8, data: []byte("ABCD"), want: DefragHeld},
			{now: sec(0), key: k1, off: 8, more: true, data: fragB, want: DefragHeld},
			{now: sec(0), key: k2, off: 0, more: true, data: []byte("01234567"), want: DefragComplete, wantOut: []byte("01234567ABCD")},
			{now: sec(0), key: k1, off: 16, data: fragC, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 5, Reassembled: 2, ReassembledFragments: 5},
	}, {
		name: "same tuple, different context: not merged",
		steps: []defragStep{
			{now: sec(0), key: withContext(k1, 100), off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: withContext(k1, 200), off: 8, data: cat(fragB, fragC), want: DefragHeld},
			{now: sec(0), key: withContext(k1, 100), off: 8, data: cat(fragB, fragC), want: DefragComplete, wantOut: whole},
		},
		want:  DefragStats{FragmentsIn: 3, Held: 1, Reassembled: 1, ReassembledFragments: 2},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "IPv6",
		steps: []defragStep{
			{now: sec(0), key: v6Key(0xdeadbeef), off: 8, data: cat(fragB, fragC), want: DefragHeld},
			{now: sec(0), key: v6Key(0xdeadbeee), off: 0, more: true, data: fragA, want: DefragHeld}, // another ID
			{now: sec(0), key: v6Key(0xdeadbeef), off: 0, more: true, data: fragA, want: DefragComplete, wantOut: whole},
		},
		want:  DefragStats{FragmentsIn: 3, Held: 1, Reassembled: 1, ReassembledFragments: 2},
		wantN: 1, wantB: defragPageSize,
	}, {
		name: "IPv4 and IPv6 with the same bytes: not merged",
		steps: []defragStep{
			{now: sec(0), key: v4Key(7), off: 0, more: true, data: fragA, want: DefragHeld},
			{now: sec(0), key: func() FragKey { k := v4Key(7); k.V6 = true; return k }(), off: 8, data: cat(fragB, fragC), want: DefragHeld},
		},
		want:  DefragStats{FragmentsIn: 2, Held: 2},
		wantN: 2, wantB: 2 * defragPageSize,
	}, {
		name: "atomic fragment stands alone",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 8, data: cat(fragB, fragC), want: DefragHeld},
			{now: sec(0), key: k1, off: 0, data: []byte("atomic"), want: DefragComplete, wantOut: []byte("atomic")},
			{now: sec(0), key: k1, off: 0, more: true, data: fragA, want: DefragComplete, wantOut: whole},
		},
		want: DefragStats{FragmentsIn: 3, Reassembled: 2, ReassembledFragments: 3},
	}, {
		name: "fragments across pages",
		steps: []defragStep{
			{now: sec(0), key: k1, off: 1480, data: big(1000, 'b'), want: DefragHeld},
			{now: sec(0), key: k1, off: 0, more: true, data: big(1480, 'a'), want: DefragComplete, wantOut: cat(big(1480, 'a'), big(1000, 'b'))},
			{now: sec(0), key: k2, off: 2000, more: true, data: big(4000, 'b'), want: DefragHeld},
			{now: sec(0), key: k2, off: 6000, data: big(3, 'c'), want: DefragHeld},
			{now: sec(0), key: k2, off: 0, more: true, data: cat(big(2000, 'a'), big(4000, 'X')), want: DefragComplete, wantOut: cat(big(2000, 'a'), big(4000, 'b'), big(3, 'c')), wantConflict: true},
		},
		want: DefragStats{FragmentsIn: 5, Reassembled: 2, ReassembledFragments: 5, Overlaps: 1, OverlapConflicts: 1},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDefragmenter(tc.cfg)
			for i, s := range tc.steps {
				out, st := d.Add(s.now, s.key, s.off, s.more, s.data)
				if st != s.want {
					t.Fatalf("step %d: Add() = %v, want %v (stats %+v)", i, st, s.want, d.Stats())
				}
				if st == DefragComplete {
					if diff := cmp.Diff(out, s.wantOut); !bytes.Equal(out, s.wantOut) && diff != "" {
						t.Fatalf("step %d: Add() (-got, +want):\n%s", i, diff)
					}
				} else if out != nil {
					t.Fatalf("step %d: Add() = %d bytes with %v, want nil", i, len(out), st)
				}
				if got := d.LastOverlapConflict(); got != s.wantConflict {
					t.Fatalf("step %d: LastOverlapConflict() = %v, want %v", i, got, s.wantConflict)
				}
				checkDefrag(t, d)
			}
			if tc.expireAt != 0 {
				d.Expire(tc.expireAt)
				checkDefrag(t, d)
			}
			if diff := cmp.Diff(d.Stats(), tc.want); diff != "" {
				t.Errorf("Stats() (-got, +want):\n%s", diff)
			}
			if n, b := d.InUse(); n != tc.wantN || b != tc.wantB {
				t.Errorf("InUse() = %d, %d; want %d, %d", n, b, tc.wantN, tc.wantB)
			}
		})
	}
}

// checkDefrag asserts the accounting equation and the Defragmenter's
// internal invariants.
func checkDefrag(t testing.TB, d *Defragmenter) {
	t.Helper()
	s := d.Stats()
	if in, out := s.FragmentsIn, s.Held+s.ReassembledFragments+s.Dropped(); in != out {
		t.Fatalf("FragmentsIn %d != Held + ReassembledFragments + Dropped() = %d (%+v)", in, out, s)
	}
	n, b := d.InUse()
	if n > d.maxDatagrams || n != len(d.index) {
		t.Fatalf("InUse() = %d datagrams; index holds %d, max %d", n, len(d.index), d.maxDatagrams)
	}
	if b > int64(d.maxPages)*defragPageSize {
		t.Fatalf("InUse() = %d bytes > max %d", b, int64(d.maxPages)*defragPageSize)
	}
	if d.numPages != len(d.freePages)+d.usedPages {
		t.Fatalf("pages: %d carved != %d free + %d used", d.numPages, len(d.freePages), d.usedPages)
	}
	// Walk the FIFO.
	var frags uint64
	pages, live := 0, 0
	prev := int32(-1)
	for i := d.head; i >= 0; i = d.trackers[i].next {
		tr := &d.trackers[i]
		if tr.prev != prev {
			t.Fatalf("tracker %d: prev %d, want %d", i, tr.prev, prev)
		}
		if j, ok := d.index[tr.key]; !ok || j != i {
			t.Fatalf("tracker %d: index holds %d, %v", i, j, ok)
		}
		if tr.frags < 1 || tr.frags > d.maxFragments {
			t.Fatalf("tracker %d: %d fragments", i, tr.frags)
		}
		frags += uint64(tr.frags)
		for k, sp := range tr.spans {
			if sp.lo >= sp.hi || (k > 0 && tr.spans[k-1].hi >= sp.lo) {
				t.Fatalf("tracker %d: spans %v not sorted, disjoint and apart", i, tr.spans)
			}
			for s := sp.lo / defragPageSize; s <= (sp.hi-1)/defragPageSize; s++ {
				if tr.pages[s] == 0 {
					t.Fatalf("tracker %d: span %v without page %d", i, sp, s)
				}
			}
		}
		if tr.hasLast && tr.spans[len(tr.spans)-1].hi > tr.end {
			t.Fatalf("tracker %d: spans %v past end %d", i, tr.spans, tr.end)
		}
		for _, p := range tr.pages {
			if p != 0 {
				pages++
			}
		}
		live++
		prev = i
	}
	if prev != d.tail || live != n || pages != d.usedPages || frags != s.Held {
		t.Fatalf("FIFO: tail %d (want %d), %d datagrams (want %d), %d pages (want %d), %d fragments (want Held %d)",
			prev, d.tail, live, n, pages, d.usedPages, frags, s.Held)
	}
}

func TestDefragConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     DefragConfig
		wantErr string // substring; "" = valid
	}{
		{name: "zero: defaults", cfg: DefragConfig{}},
		{name: "explicit", cfg: DefragConfig{Timeout: time.Minute, MaxDatagrams: 10, MaxFragments: 2, MaxBytes: 64 << 10}},
		{name: "negative timeout", cfg: DefragConfig{Timeout: -time.Second}, wantErr: "timeout"},
		{name: "negative max_datagrams", cfg: DefragConfig{MaxDatagrams: -1}, wantErr: "max_datagrams"},
		{name: "huge max_datagrams", cfg: DefragConfig{MaxDatagrams: 1 << 30}, wantErr: "max_datagrams"},
		{name: "one fragment", cfg: DefragConfig{MaxFragments: 1}, wantErr: "max_fragments"},
		{name: "too many fragments", cfg: DefragConfig{MaxFragments: 9000}, wantErr: "max_fragments"},
		{name: "below one datagram", cfg: DefragConfig{MaxBytes: 60000}, wantErr: "max_bytes"},
		{name: "negative max_bytes", cfg: DefragConfig{MaxBytes: -1}, wantErr: "max_bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Validate() = %v, want an error about %q", err, tc.wantErr)
			}
			// NewDefragmenter never fails and stays within bounds.
			d := NewDefragmenter(tc.cfg)
			if _, st := d.Add(sec(0), v4Key(1), 0, true, fragA); st != DefragHeld {
				t.Fatalf("Add() = %v, want %v", st, DefragHeld)
			}
		})
	}

	got := DefragConfig{}.WithDefaults()
	want := DefragConfig{Timeout: 30 * time.Second, MaxDatagrams: 4096, MaxFragments: 64, MaxBytes: 16 << 20}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("WithDefaults() (-got, +want):\n%s", diff)
	}
	if err := want.Validate(); err != nil {
		t.Errorf("defaults: Validate() = %v", err)
	}
}

func TestDefragStatusString(t *testing.T) {
	got := []string{DefragStatus(0).String(), DefragHeld.String(), DefragComplete.String(), DefragDropped.String()}
	if diff := cmp.Diff(got, []string{"unknown", "held", "complete", "dropped"}); diff != "" {
		t.Errorf("String() (-got, +want):\n%s", diff)
	}
}

// TestDefragExpireBackwards: packet time far in the past or future neither
// overflows nor expires what it should not.
func TestDefragExpireBackwards(t *testing.T) {
	d := NewDefragmenter(DefragConfig{})
	d.Add(sec(0), v4Key(1), 0, true, fragA)
	d.Expire(-1 << 63) // far past: nothing expires
	d.Expire(sec(-100))
	if n, _ := d.InUse(); n != 1 {
		t.Fatalf("InUse() = %d datagrams after Expire in the past, want 1", n)
	}
	d.Expire(1<<63 - 1)
	if n, _ := d.InUse(); n != 0 {
		t.Fatalf("InUse() = %d datagrams after Expire in the far future, want 0", n)
	}
	checkDefrag(t, d)
}

// TestDefragReuse: storage is recycled across many datagrams; the page slab
// never grows past the working set.
func TestDefragReuse(t *testing.T) {
	d := NewDefragmenter(DefragConfig{MaxDatagrams: 8})
	payload := bytes.Repeat([]byte("0123456789abcdef"), 1480/16+1)[:1480]
	for i := range 10000 {
		k := v4Key(uint16(i))
		now := sec(float64(i) / 1000)
		// Keep 4 datagrams half done at any time.
		if _, st := d.Add(now, k, 0, true, payload); st != DefragHeld {
			t.Fatalf("datagram %d: first Add() = %v", i, st)
		}
		if i >= 4 {
			out, st := d.Add(now, v4Key(uint16(i-4)), 1480, false, payload[:100])
			if st != DefragComplete || len(out) != 1580 || !bytes.Equal(out[:1480], payload) {
				t.Fatalf("datagram %d: last Add() = %d bytes, %v", i-4, len(out), st)
			}
		}
	}
	checkDefrag(t, d)
	if n, b := d.InUse(); n != 4 || b != 4*defragPageSize {
		t.Errorf("InUse() = %d, %d; want 4, %d", n, b, 4*defragPageSize)
	}
	if d.numPages > defragChunkPages || len(d.trackers) > 5 {
		t.Errorf("storage grew: %d pages carved, %d trackers", d.numPages, len(d.trackers))
	}
}

func TestDefragAllocs(t *testing.T) {
	d := NewDefragmenter(DefragConfig{})
	first := bytes.Repeat([]byte{0x45}, 1480)
	last := bytes.Repeat([]byte{0x54}, 520)
	id := uint16(0)
	reassemble := func() {
		id++
		k := v4Key(id)
		if _, st := d.Add(sec(1), k, 0, true, first); st != DefragHeld {
			t.Fatalf("first Add() = %v", st)
		}
		if out, st := d.Add(sec(1), k, 1480, false, last); st != DefragComplete || len(out) != 2000 {
			t.Fatalf("last Add() = %d bytes, %v", len(out), st)
		}
	}
	for range 100 { // warm-up
		reassemble()
	}
	if n := testing.AllocsPerRun(1000, reassemble); n != 0 {
		t.Errorf("2-fragment reassembly: %v allocs, want 0", n)
	}
	// Also with other datagrams held and timing out.
	for i := range 100 {
		d.Add(sec(2), v6Key(uint32(i)), 8, false, fragA)
	}
	if n := testing.AllocsPerRun(1000, reassemble); n != 0 {
		t.Errorf("2-fragment reassembly, 100 datagrams held: %v allocs, want 0", n)
	}
}
