package report

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestTopKExactUnderCapacity(t *testing.T) {
	tk := NewTopK(10, func(a, b string) bool { return a < b }, nil)
	for _, a := range []struct {
		k string
		w uint64
	}{{"a", 1}, {"b", 2}, {"d", 2}, {"a", 1}, {"c", 2}, {"a", 1}, {"b", 2}} {
		tk.Add(a.k, a.w)
	}
	top := tk.Top(-1)
	want := []struct {
		k string
		n uint64
	}{{"b", 4}, {"a", 3}, {"c", 2}, {"d", 2}} // c and d tie: key order
	if len(top) != len(want) {
		t.Fatalf("top = %+v", top)
	}
	for i, w := range want {
		if top[i].Key != w.k || top[i].Count != w.n || top[i].Err != 0 {
			t.Errorf("top[%d] = %+v, want %s %d exact", i, top[i], w.k, w.n)
		}
	}
	if tk.Evicted() != 0 || tk.Total() != 11 {
		t.Errorf("evicted %d total %d", tk.Evicted(), tk.Total())
	}
	if got := tk.Top(2); len(got) != 2 || got[1].Key != "a" {
		t.Errorf("Top(2) = %+v", got)
	}
}

// TestTopKBoundedHeavyHitters: a skewed stream of 20,000 distinct keys
// through 100 slots: memory stays at 100 keys, every heavy key is found,
// and each count brackets the truth (count - err <= true <= count).
func TestTopKBoundedHeavyHitters(t *testing.T) {
	const capacity = 100
	tk := NewTopK(capacity, func(a, b string) bool { return a < b }, nil)
	truth := map[string]uint64{}
	rng := rand.New(rand.NewPCG(1, 2))
	var total uint64
	for i := 0; i < 200000; i++ {
		var k string
		if rng.IntN(2) == 0 {
			k = "heavy" + strconv.Itoa(rng.IntN(10)) // 10 keys share half the weight
		} else {
			k = "tail" + strconv.Itoa(rng.IntN(20000))
		}
		w := uint64(1 + rng.IntN(3))
		truth[k] += w
		total += w
		e := tk.Add(k, w)
		e.Aux[0] += w
		e.Tag("t" + strconv.Itoa(rng.IntN(9)))
		if tk.Len() > capacity {
			t.Fatalf("%d keys tracked, capacity %d", tk.Len(), capacity)
		}
	}
	if tk.Total() != total {
		t.Errorf("total %d, want %d", tk.Total(), total)
	}
	top := tk.Top(10)
	for i, e := range top {
		if e.Key[:5] != "heavy" {
			t.Errorf("top[%d] = %s, want a heavy key", i, e.Key)
		}
		tr := truth[e.Key]
		if e.Count < tr || e.Count-e.Err > tr {
			t.Errorf("%s: count %d err %d, true %d", e.Key, e.Count, e.Err, tr)
		}
		if e.Aux[0] > tr {
			t.Errorf("%s: aux %d over the true %d", e.Key, e.Aux[0], tr)
		}
		if len(e.Tags) > maxTags || !e.MoreTags {
			t.Errorf("%s: tags %v more %v", e.Key, e.Tags, e.MoreTags)
		}
	}
	for _, e := range tk.Top(-1) {
		if tr := truth[e.Key]; e.Count < tr || e.Count-e.Err > tr {
			t.Errorf("%s: count %d err %d, true %d", e.Key, e.Count, e.Err, tr)
		}
	}
	if tk.Evicted() == 0 {
		t.Error("no eviction with 20,000 keys in 100 slots")
	}
}
