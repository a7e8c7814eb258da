package rules

import (
	"hash/maphash"
	"testing"
)

func BenchmarkZZNormalize(b *testing.B) {
	_, d := benchSet(b, 1_000_000)
	var buf [maxQuery]byte
	i := 0
	for b.Loop() {
		normalizeQuery(&buf, d.misses[i])
		if i++; i == len(d.misses) {
			i = 0
		}
	}
}

func BenchmarkZZHash(b *testing.B) {
	_, d := benchSet(b, 1_000_000)
	seed := maphash.MakeSeed()
	i := 0
	for b.Loop() {
		maphash.String(seed, d.misses[i])
		if i++; i == len(d.misses) {
			i = 0
		}
	}
}

func BenchmarkZZSmallSet(b *testing.B) {
	s, _ := testSet(b)
	for b.Loop() {
		s.MatchName("www.example.org")
	}
}
