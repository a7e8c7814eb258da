package slab

import "testing"

func TestPoolRecyclesAndCarves(t *testing.T) {
	p := New[[4]int](3)
	var got []*[4]int
	for i := range 4 {
		o, fresh := p.Get()
		if !fresh || *o != [4]int{} {
			t.Fatalf("object %d: fresh %v, %v", i, fresh, *o)
		}
		o[0] = i + 1
		got = append(got, o)
	}
	p.Put(got[1])
	p.Put(got[3])
	for _, want := range []*[4]int{got[3], got[1]} { // last given back, first handed out
		o, fresh := p.Get()
		if fresh || o != want || o[0] == 0 {
			t.Fatalf("got %p fresh %v (%v), want %p as put back", o, fresh, *o, want)
		}
	}
	if o, fresh := p.Get(); !fresh || *o != [4]int{} {
		t.Fatalf("after the free list: fresh %v, %v", fresh, *o)
	}
}

func TestPoolDoesNotAllocateWhenRecycling(t *testing.T) {
	p := New[[64]byte](16)
	o, _ := p.Get()
	p.Put(o)
	if n := testing.AllocsPerRun(1000, func() { o, _ := p.Get(); p.Put(o) }); n != 0 {
		t.Errorf("%.1f allocations per Get/Put", n)
	}
}
