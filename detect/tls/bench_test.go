package tls

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// BenchmarkParseClientHello parses a ~2 KB post-quantum-sized ClientHello
// and computes its JA4, reusing the ClientHello (as the Parser does), and
// with a fresh one (as ParseClientHello does).
func BenchmarkParseClientHello(b *testing.B) {
	body := syntheticHello()[4:]
	b.Run("reuse+JA4", func(b *testing.B) {
		var c ClientHello
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := c.Parse(body); err != nil {
				b.Fatal(err)
			}
			_ = c.JA4('t')
		}
	})
	b.Run("new+JA4", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			c, err := ParseClientHello(body)
			if err != nil {
				b.Fatal(err)
			}
			_ = c.JA4('t')
		}
	})
	b.Run("reuse", func(b *testing.B) {
		var c ClientHello
		b.ReportAllocs()
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if err := c.Parse(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JA3", func(b *testing.B) {
		c, _ := ParseClientHello(body)
		b.ReportAllocs()
		for b.Loop() {
			_ = c.JA3()
		}
	})
}

// BenchmarkParser feeds a whole TLS 1.3 connection start (a ~2 KB
// ClientHello in two segments, a ServerHello) to a reused Parser, event
// included.
func BenchmarkParser(b *testing.B) {
	client := records(ctHandshake, syntheticHello(), 1<<14)
	server := records(ctHandshake, handshake(hsServerHello, append(append(be16(0x0303), make([]byte, 32)...),
		0, 0x13, 0x01, 0, 0, 6, 0, 0x2b, 0, 2, 3, 4)), 1<<14)
	p := NewParser(nil)
	emit := func(*detect.Event) {}
	b.ReportAllocs()
	b.SetBytes(int64(len(client) + len(server)))
	for b.Loop() {
		p.Reset(emit)
		p.Data(detect.ToServer, client[:1400], 1)
		p.Data(detect.ToServer, client[1400:], 1)
		if p.Data(detect.ToClient, server, 2) != detect.Done {
			b.Fatal("not done")
		}
	}
}
