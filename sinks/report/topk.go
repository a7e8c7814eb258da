package report

import (
	"container/heap"
	"sort"
	"strings"
)

// maxTags bounds the distinct tags (TLS versions, surfaces, statuses…)
// kept per entry.
const maxTags = 4

// Entry is one tracked key of a TopK.
type Entry[K comparable] struct {
	Key K
	// Count is the key's weight. When Err > 0 the key was admitted by
	// evicting another, and Count over-estimates by at most Err.
	Count uint64
	Err   uint64
	// Aux holds per-table extra counters (bytes, flows, answers…); they
	// start at 0 when the key is admitted, so they under-count when Err > 0.
	Aux [4]uint64
	// Tags are up to maxTags distinct short strings (first seen first);
	// MoreTags is set when more were seen.
	Tags     []string
	MoreTags bool
	idx      int // position in the heap
}

// Tag records a tag value (bounded: at most maxTags distinct values).
func (e *Entry[K]) Tag(s string) {
	if s == "" {
		return
	}
	for _, t := range e.Tags {
		if t == s {
			return
		}
	}
	if len(e.Tags) < maxTags {
		e.Tags = append(e.Tags, strings.Clone(s))
	} else {
		e.MoreTags = true
	}
}

// TopK keeps the heaviest keys of a stream in bounded memory with the
// Space-Saving algorithm (Metwally, Agrawal, El Abbadi 2005): at most
// capacity keys are tracked; a new key when the table is full replaces the
// lightest one and inherits its count as an error bound. Every key whose
// true weight exceeds total/capacity is guaranteed to be tracked, and the
// counts of the top keys are exact as long as fewer than capacity
// distinct keys were seen.
type TopK[K comparable] struct {
	cap     int
	m       map[K]*Entry[K]
	h       entryHeap[K]
	less    func(a, b K) bool // tie-break for a stable order
	own     func(K) K         // copies a key's strings when it is admitted
	total   uint64
	evicted uint64
}

// NewTopK tracks at most capacity keys; less orders keys of equal count.
// own, when set, returns a key that shares no memory with the event it
// came from: events may keep their strings in a shard's slabs
// (detect.Arena), and a kept key would keep its whole slab alive.
func NewTopK[K comparable](capacity int, less func(a, b K) bool, own func(K) K) *TopK[K] {
	if capacity < 1 {
		capacity = 1
	}
	if own == nil {
		own = func(k K) K { return k }
	}
	return &TopK[K]{cap: capacity, m: make(map[K]*Entry[K]), less: less, own: own}
}

// Add adds weight w to k and returns its entry (for Aux and Tags). The
// entry is valid until the next Add.
func (t *TopK[K]) Add(k K, w uint64) *Entry[K] {
	t.total += w
	if e := t.m[k]; e != nil {
		e.Count += w
		heap.Fix(&t.h, e.idx)
		return e
	}
	k = t.own(k)
	if len(t.m) < t.cap {
		e := &Entry[K]{Key: k, Count: w}
		t.m[k] = e
		heap.Push(&t.h, e)
		return e
	}
	// Replace the lightest entry.
	e := t.h[0]
	delete(t.m, e.Key)
	t.evicted++
	*e = Entry[K]{Key: k, Count: e.Count + w, Err: e.Count, Tags: e.Tags[:0], idx: e.idx}
	t.m[k] = e
	heap.Fix(&t.h, 0)
	return e
}

// Len is the number of keys tracked.
func (t *TopK[K]) Len() int { return len(t.m) }

// Total is the sum of all weights added.
func (t *TopK[K]) Total() uint64 { return t.total }

// Evicted counts keys dropped to make room: 0 means every count is exact.
func (t *TopK[K]) Evicted() uint64 { return t.evicted }

// Top returns up to n entries, heaviest first (ties by key order).
func (t *TopK[K]) Top(n int) []Entry[K] {
	out := make([]Entry[K], 0, len(t.m))
	for _, e := range t.m {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return t.less(out[i].Key, out[j].Key)
	})
	if n >= 0 && len(out) > n {
		out = out[:n]
	}
	return out
}

type entryHeap[K comparable] []*Entry[K]

func (h entryHeap[K]) Len() int           { return len(h) }
func (h entryHeap[K]) Less(i, j int) bool { return h[i].Count < h[j].Count }
func (h entryHeap[K]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *entryHeap[K]) Push(x any) {
	e := x.(*Entry[K])
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *entryHeap[K]) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
