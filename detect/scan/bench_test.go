package scan

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
)

// BenchmarkObserve: a SYN to a new host and port (three table updates)
// and a non-probe packet (rejected at once).
func BenchmarkObserve(b *testing.B) {
	d, _ := New(DefaultConfig())
	var i uint32
	b.ReportAllocs()
	for b.Loop() {
		i++
		d.Observe(v4(10, 1, byte(i>>8), byte(i)), nth(i), 40000, uint16(i), capture.ProtoTCP, syn, int64(i)*1000)
	}
}

func BenchmarkObserveNonProbe(b *testing.B) {
	d, _ := New(DefaultConfig())
	src, dst := v4(10, 1, 2, 3), v4(10, 1, 2, 4)
	b.ReportAllocs()
	for b.Loop() {
		d.Observe(src, dst, 40000, 443, capture.ProtoTCP, ack|psh, 1)
	}
}
