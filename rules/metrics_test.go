package rules

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sync"
	"testing"
)

func hitsOf(hs []ListHits) string { return fmt.Sprint(hs) }

func TestListHits(t *testing.T) {
	s, _ := testSet(t)
	s.MatchName("www.casino.example")               // gambling
	s.MatchName("roulette.example")                 // gambling (list file)
	s.MatchName("ok.casino.example")                // allowlisted: no hit
	s.MatchName("nothing.example.org")              // miss
	s.MatchIP(netip.MustParseAddr("203.0.113.200")) // news /24
	s.MatchURL("news.example", "/forbidden/x")      // gambling URL entry
	s.MatchURL("news.example", "/other")            // news (the host)
	s.Explain("blocked.example")                    // its effective match is a hit
	h, _ := s.LookupName("blocked.example")         // not yet…
	if got, want := hitsOf(s.ListHits()), "[{gambling 4} {news 2}]"; got != want {
		t.Errorf("before Resolve: %s, want %s", got, want)
	}
	h.Resolve() // …now
	if got, want := hitsOf(s.ListHits()), "[{gambling 5} {news 2}]"; got != want {
		t.Errorf("after Resolve: %s, want %s", got, want)
	}
}

// TestListHitsAcrossReloads: a Holder's counters go on over reloads (same
// list id, same counter) and keep the lists a reload removed; concurrent
// hits are all counted.
func TestListHitsAcrossReloads(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "lists:\n  - id: one\n    domains: [one.example]\n  - id: two\n    domains: [two.example]\n",
		"b.yaml": "lists:\n  - id: one\n    domains: [one.example]\n  - id: three\n    domains: [three.example]\n",
	})
	h := NewHolder(mustLoad(t, filepath.Join(dir, "a.yaml")))
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				h.Load().MatchName("one.example")
				h.Load().MatchName("two.example")
			}
		}()
	}
	wg.Wait()
	if got, want := hitsOf(h.ListHits()), "[{one 4000} {two 4000}]"; got != want {
		t.Errorf("%s, want %s", got, want)
	}
	if err := h.Reload(filepath.Join(dir, "b.yaml")); err != nil {
		t.Fatal(err)
	}
	h.Load().MatchName("one.example")
	h.Load().MatchName("three.example")
	if got, want := hitsOf(h.ListHits()), "[{one 4001} {three 1} {two 4000}]"; got != want {
		t.Errorf("after reload: %s, want %s", got, want)
	}
	if got, want := hitsOf(h.Load().ListHits()), "[{one 4001} {three 1}]"; got != want {
		t.Errorf("current set: %s, want %s", got, want)
	}
	if NewHolder(nil).ListHits() == nil || (*Set)(nil).ListHits() != nil {
		t.Error("nil cases")
	}
}
