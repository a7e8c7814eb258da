package detect

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimestampMatchesTime: the hand-made formatter agrees with
// time.AppendFormat everywhere (random instants over 0000–9999, leap days,
// the epoch, before it, and the year boundaries).
func TestAppendTimestampMatchesTime(t *testing.T) {
	ref := func(ns int64) string {
		return string(time.Unix(0, ns).UTC().AppendFormat(nil, "2006-01-02T15:04:05.000000Z07:00"))
	}
	cases := []int64{0, -1, 1, -1e9, 951782400e9, 951868799999999999, 1795261200e9 + 123456789,
		time.Date(2000, 2, 29, 23, 59, 59, 999999999, time.UTC).UnixNano(),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano(),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC).UnixNano(),
		time.Date(2262, 4, 11, 23, 47, 16, 0, time.UTC).UnixNano(),
		-9223372036854775808, 9223372036854775807}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 200000; i++ {
		cases = append(cases, rng.Int64()-rng.Int64()/2)
	}
	for _, ns := range cases {
		if got, want := string(AppendTimestamp(nil, ns)), ref(ns); got != want {
			t.Fatalf("%d: %s, want %s", ns, got, want)
		}
	}
}

func BenchmarkAppendTimestamp(b *testing.B) {
	buf := make([]byte, 0, 64)
	ns := int64(1795261200e9 + 123456789)
	for b.Loop() {
		buf = AppendTimestamp(buf[:0], ns)
		ns += 1e6
	}
}
