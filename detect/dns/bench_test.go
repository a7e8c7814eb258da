package dns

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func BenchmarkParseMessage(b *testing.B) {
	for _, bm := range []struct {
		name string
		msg  []byte
	}{
		{"query", exampleQuery()},
		{"answer3", exampleAnswer()},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.SetBytes(int64(len(bm.msg)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseMessage(bm.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDatagram: a query and its answer through the UDP parser, events included.
func BenchmarkDatagram(b *testing.B) {
	q, a := exampleQuery(), exampleAnswer()
	p := NewParser(func(*detect.Event) {})
	b.ReportAllocs()
	for b.Loop() {
		p.Reset(p.emit)
		p.Datagram(detect.ToServer, q, 1)
		p.Datagram(detect.ToClient, a, 2)
	}
}
