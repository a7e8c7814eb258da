package quic

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestCryptoBufRandomOrder: random cuts, delivered shuffled with
// duplicates, always rebuild the stream; the prefix grows only when the
// bytes before it are in.
func TestCryptoBufRandomOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	stream := make([]byte, 5000)
	for i := range stream {
		stream[i] = byte(r.IntN(256))
	}
	for iter := range 200 {
		type chunk struct{ off, end int }
		var chunks []chunk
		for off := 0; off < len(stream); {
			n := 1 + r.IntN(300)
			end := min(off+n, len(stream))
			chunks = append(chunks, chunk{off, end})
			off = end
		}
		for range len(chunks) / 3 { // overlapping retransmissions
			a := r.IntN(len(stream))
			chunks = append(chunks, chunk{a, min(len(stream), a+1+r.IntN(200))})
		}
		r.Shuffle(len(chunks), func(i, j int) { chunks[i], chunks[j] = chunks[j], chunks[i] })
		var c cryptoBuf
		for _, ch := range chunks {
			c.write(uint64(ch.off), stream[ch.off:ch.end])
			if p := c.prefix(); !bytes.Equal(p, stream[:len(p)]) {
				t.Fatalf("iter %d: prefix differs", iter)
			}
		}
		if !bytes.Equal(c.prefix(), stream) || c.added != len(stream) || c.conflicts != 0 {
			t.Fatalf("iter %d: prefix %d bytes, added %d, conflicts %d", iter, len(c.prefix()), c.added, c.conflicts)
		}
	}
}

func TestCryptoBufFirstWinsAndBounds(t *testing.T) {
	var c cryptoBuf
	c.write(0, bytes.Repeat([]byte{'a'}, 128))
	c.write(64, bytes.Repeat([]byte{'b'}, 100)) // 64 held bytes differ, 36 new
	if c.conflicts != 1 || c.added != 164 || c.contig != 164 {
		t.Fatalf("conflicts %d added %d contig %d", c.conflicts, c.added, c.contig)
	}
	if p := c.prefix(); p[127] != 'a' || p[128] != 'b' {
		t.Fatalf("first bytes not kept: %q", p[120:136])
	}
	c.write(MaxCrypto-10, make([]byte, 20))
	c.write(1<<62, []byte{1})
	if !c.overflow || c.added != 174 {
		t.Fatalf("overflow %v added %d", c.overflow, c.added)
	}
}
