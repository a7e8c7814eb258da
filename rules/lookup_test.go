package rules

import (
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
)

var lookupQueries = []string{
	"blocked.example", "BLOCKED.example.", "blocked.example:443", "www.blocked.example", "casino.example",
	"a.b.casino.example", "poker.example", "x.poker.example", "ok.casino.example", "a.fine.poker.example",
	"fine.poker.example", "bücher.example", "xn--bcher-kva.example", "trailing.example", "roulette.example",
	"www.roulette.example", "slots.example", "deep.slots.example", "news.example", "www.news.example",
	"example", "", ".", "203.0.113.5", "[2001:db8:bad::1]:443", "1.2.3.4", "198.51.100.7", "192.0.2.1",
	"wiki.example", "en.wiki.example", "nothing.example.org",
}

// TestLookupAgreesWithMatch: LookupName then Resolve gives what MatchName
// gives (and the same for URLs and addresses).
func TestLookupAgreesWithMatch(t *testing.T) {
	s, _ := testSet(t)
	for _, q := range lookupQueries {
		want, wok := s.MatchName(q)
		h, ok := s.LookupName(q)
		got, rok := h.Resolve()
		if ok != wok || rok != wok || got != want {
			t.Errorf("LookupName(%q) = %v, Resolve = %+v, %v; MatchName = %+v, %v", q, ok, got, rok, want, wok)
		}
		for _, path := range []string{"/", "/forbidden/x", "/watch?v=bad", "/banned/page"} {
			want, wok := s.MatchURL(q, path)
			h, ok := s.LookupURL(q, path)
			got, rok := h.Resolve()
			if ok != wok || rok != wok || got != want {
				t.Errorf("LookupURL(%q, %q) = %v, Resolve = %+v, %v; MatchURL = %+v, %v", q, path, ok, got, rok, want, wok)
			}
		}
	}
	for _, a := range []string{"203.0.113.5", "203.0.113.200", "2001:db8:bad::1", "2001:db9::1", "::ffff:198.51.100.7"} {
		ip := netip.MustParseAddr(a)
		want, wok := s.MatchIP(ip)
		h, ok := s.LookupIP(ip)
		got, rok := h.Resolve()
		if ok != wok || rok != wok || got != want {
			t.Errorf("LookupIP(%s) = %v, %+v; MatchIP = %+v, %v", a, ok, got, want, wok)
		}
	}
	if _, ok := (Hit{}).Resolve(); ok {
		t.Error("zero Hit resolves")
	}
	var nilSet *Set
	if _, ok := nilSet.LookupName("blocked.example"); ok {
		t.Error("nil Set hits")
	}
}

// TestResolveTagCollision: a Hit whose candidate entry is not the query's
// (what a 31-bit tag collision produces) resolves to the exact answer.
func TestResolveTagCollision(t *testing.T) {
	s, _ := testSet(t)
	wrong := s.names.lookup([]byte("roulette.example"))
	if wrong == 0 {
		t.Fatal("roulette.example not in the table")
	}
	for q, want := range map[string]string{
		"www.casino.example": ".casino.example", // the true entry, found again
		"blocked.example":    "blocked.example",
		"unlisted.example":   "", // a collision on a miss is a miss
	} {
		m, ok := Hit{set: s, name: q, ref: wrong}.Resolve()
		if ok != (want != "") || m.Pattern != want {
			t.Errorf("Resolve(%q with roulette's entry) = %q, %v; want %q", q, m.Pattern, ok, want)
		}
	}
	// An exact entry is no candidate for a subdomain (the kind bit of the
	// tag), and a suffix entry is for its parent level.
	if s.names.candidate([]byte("www.roulette.example")) != 0 {
		t.Error("exact entry roulette.example is a candidate for www.roulette.example")
	}
	if s.names.candidate([]byte("x.slots.example")) == 0 {
		t.Error("suffix entry .slots.example is no candidate for x.slots.example")
	}
}

// TestLookupGenerated: on a generated set, every entry is a Hit that
// resolves to itself, and LookupName agrees with MatchName on misses.
func TestLookupGenerated(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 10_000
	}
	r := rand.New(rand.NewPCG(9, 9))
	var b strings.Builder
	var names []string
	for range n {
		name, _ := benchName(r, nil)
		names = append(names, string(name))
		b.Write(name)
		b.WriteByte('\n')
	}
	s := mustLoad(t, filepath.Join(writeFiles(t, map[string]string{"gen.txt": b.String()}), "gen.txt"))
	for _, name := range names {
		q := name
		if strings.HasPrefix(name, ".") {
			q = "www" + name
		}
		h, ok := s.LookupName(q)
		m, rok := h.Resolve()
		want, _ := s.MatchName(q)
		if !ok || !rok || m != want {
			t.Fatalf("LookupName(%q) = %v, %+v, %v; MatchName %+v", q, ok, m, rok, want)
		}
	}
	q := rand.New(rand.NewPCG(10, 10))
	for range 20_000 {
		name, _ := benchName(q, []byte("q"))
		qs := strings.TrimPrefix(string(name), ".")
		_, ok := s.LookupName(qs)
		_, wok := s.MatchName(qs)
		if ok != wok {
			t.Fatalf("LookupName(%q) = %v, MatchName %v", qs, ok, wok)
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	s, _ := testSet(t)
	h, _ := s.LookupName("www.casino.example")
	for name, f := range map[string]func(){
		"LookupName hit":  func() { s.LookupName("www.casino.example") },
		"LookupName miss": func() { s.LookupName("www.example.org") },
		"Resolve":         func() { h.Resolve() },
		"LookupURL":       func() { s.LookupURL("news.example", "/forbidden/x") },
	} {
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", name, n)
		}
	}
}
