package reassembly

import (
	"math/rand/v2"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
)

// TestFlowIndexAgainstMap drives the index through inserts and deletes
// with colliding hashes (only a few bits vary) and checks every key
// against a Go map after each step: backward-shift deletion must keep
// every survivor reachable.
func TestFlowIndexAgainstMap(t *testing.T) {
	tb := NewTable(DefaultFlowConfig(), nil)
	rng := rand.New(rand.NewPCG(1, 2))
	want := map[uint32]Key{} // slot → key
	keyOf := func(n int) Key {
		return Key{A: capture.AddrFrom4([]byte{192, 0, 2, byte(n)}), B: capture.AddrFrom4([]byte{198, 51, 100, byte(n >> 8)}),
			APort: uint16(n), BPort: 80, Proto: capture.ProtoTCP}
	}
	hash := func(k *Key) uint32 { return uint32(k.Hash())&0xff | 0xffffff00 } // homes at the end of the table: long chains that wrap around
	next := uint32(1)
	for step := 0; step < 6000; step++ {
		if len(want) > 0 && rng.IntN(3) == 0 {
			for s, k := range want { // delete an arbitrary one
				tb.remove(hash(&k), s)
				tb.slot(s).used = false
				delete(want, s)
				break
			}
		} else {
			k := keyOf(rng.IntN(1 << 12))
			if tb.findH(&k, hash(&k)) != 0 {
				continue
			}
			s := next
			next++
			if int(s>>chunkBits) >= len(tb.chunks) {
				tb.chunks = append(tb.chunks, make([]Flow, chunkSize))
			}
			*tb.slot(s) = Flow{Key: k, used: true}
			tb.insert(hash(&k), s)
			want[s] = k
		}
		if step%97 == 0 || step > 5950 {
			for s, k := range want {
				if got := tb.findH(&k, hash(&k)); got != s {
					t.Fatalf("step %d: key of slot %d found at %d", step, s, got)
				}
			}
			if tb.idx.n != len(want) {
				t.Fatalf("step %d: index holds %d, want %d", step, tb.idx.n, len(want))
			}
		}
	}
}
