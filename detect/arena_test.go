package detect

import (
	"net/netip"
	"testing"
)

// TestArena: what is handed out never changes when more is taken, nil
// allocates normally, and the amortised cost is far below one allocation
// per object.
func TestArena(t *testing.T) {
	var a Arena
	s1 := a.String([]byte("first"))
	u := append(a.Uint16s(2), 1, 2)
	ss := append(a.Strings(1), "x")
	for i := 0; i < 10000; i++ {
		a.String([]byte("filler filler filler"))
		_ = append(a.Uint16s(3), 9, 9, 9)
		a.Event().Type = "x"
	}
	if s1 != "first" || u[0] != 1 || u[1] != 2 || ss[0] != "x" {
		t.Fatalf("handed-out memory changed: %q %v %v", s1, u, ss)
	}
	u = append(u, 3) // past its room: must reallocate, not overwrite a neighbour
	if next := append(a.Uint16s(1), 7); next[0] != 7 || u[2] != 3 {
		t.Fatal("slices share memory")
	}
	var nilA *Arena
	if nilA.String([]byte("a")) != "a" || nilA.Event() == nil || nilA.AddrString(netip.MustParseAddr("192.0.2.1")) != "192.0.2.1" {
		t.Fatal("nil arena")
	}
	allocs := testing.AllocsPerRun(1000, func() {
		a.String([]byte("www.example.com"))
		a.Event()
		a.TLS()
		a.Uint16s(8)
	})
	if allocs > 0.1 {
		t.Errorf("%.2f allocations per round", allocs)
	}
}
