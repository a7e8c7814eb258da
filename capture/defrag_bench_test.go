package capture

import (
	"fmt"
	"testing"
)

// BenchmarkDefrag reassembles datagrams of 1480-byte fragments (a 1500-byte
// IPv4 MTU), in order, one new ID per datagram.
func BenchmarkDefrag(b *testing.B) {
	for _, frags := range []int{2, 8} {
		b.Run(fmt.Sprintf("frags=%d", frags), func(b *testing.B) {
			const fragLen = 1480
			size := (frags-1)*fragLen + 520
			datagram := make([]byte, size)
			for i := range datagram {
				datagram[i] = byte(i)
			}
			d := NewDefragmenter(DefragConfig{})
			id := uint16(0)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				id++
				k := v4Key(id)
				for off := 0; off < size; off += fragLen {
					end := min(off+fragLen, size)
					out, st := d.Add(sec(1), k, off, end < size, datagram[off:end])
					if end == size && (st != DefragComplete || len(out) != size) {
						b.Fatalf("last Add() = %d bytes, %v", len(out), st)
					}
				}
			}
		})
	}
}
