package rules

import (
	"slices"
	"strings"
	"sync/atomic"
)

// Hits are counted per list when a lookup finds an entry and its Match is
// built (MatchName, MatchURL, MatchIP, Hit.Resolve): one atomic add on the
// list's counter, on hits only; misses and LookupName alone count nothing,
// so the common path stays free of shared writes. Lookups are best counted
// by their caller, per shard, with plain integers (see docs/rules.md,
// "Metrics").
//
// A Holder keeps one counter per list id for as long as it lives: a
// reloaded Set whose list has the same id counts on, so the counters are
// monotonic (Prometheus counters) across reloads, and a list removed by a
// reload keeps its last value. Explain counts the one match it reports as
// effective, like the lookup it makes.

// ListHits is the hit counter of one list.
type ListHits struct {
	List string // list id ("allow" is never counted: allowlist entries are not hits)
	Hits uint64
}

// ListHits returns the hits of every list of s, by list id.
func (s *Set) ListHits() []ListHits {
	if s == nil {
		return nil
	}
	out := make([]ListHits, 0, len(s.lists))
	for _, l := range s.lists {
		out = append(out, ListHits{List: l.id, Hits: l.hits.Load()})
	}
	slices.SortFunc(out, func(a, b ListHits) int { return strings.Compare(a.List, b.List) })
	return out
}

// ListHits returns the hits per list id over every Set h has served (the
// lists of earlier Sets included), by list id.
func (h *Holder) ListHits() []ListHits {
	h.hitsMu.Lock()
	defer h.hitsMu.Unlock()
	out := make([]ListHits, 0, len(h.hits))
	for id, c := range h.hits {
		out = append(out, ListHits{List: id, Hits: c.Load()})
	}
	slices.SortFunc(out, func(a, b ListHits) int { return strings.Compare(a.List, b.List) })
	return out
}

// adopt gives the lists of s, not yet published, the Holder's counters of
// their ids (and the Holder the counters of new ids).
func (h *Holder) adopt(s *Set) {
	if s == nil {
		return
	}
	h.hitsMu.Lock()
	defer h.hitsMu.Unlock()
	if h.hits == nil {
		h.hits = map[string]*atomic.Uint64{}
	}
	for _, l := range s.lists {
		if c, ok := h.hits[l.id]; ok {
			l.hits = c
		} else {
			h.hits[l.id] = l.hits
		}
	}
}
