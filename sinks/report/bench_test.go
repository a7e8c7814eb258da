package report

import (
	"net/netip"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// BenchmarkAggregateFlow: one flow event into every table it feeds, with
// many distinct hosts (evictions in the talkers table).
func BenchmarkAggregateFlow(b *testing.B) {
	a := NewAggregator(Config{})
	evs := make([]*detect.Event, 4096)
	for i := range evs {
		src := netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 1})
		dst := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 50)})
		ts := t0 + int64(i)*int64(10*time.Millisecond)
		evs[i] = flowEvent(src.String(), dst.String(), uint16(443+i%7), "tls", ts, ts+int64(3*time.Second), 4000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := evs[i%len(evs)]
		a.Add(e)
	}
}
