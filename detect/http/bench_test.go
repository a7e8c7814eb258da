package http

import (
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// BenchmarkKeepAlive: one keep-alive session of 3 requests and responses
// with 10 KB bodies, delivered in 1448-byte segments.
func BenchmarkKeepAlive(b *testing.B) {
	body := strings.Repeat("x", 10_000)
	var segs []seg
	for i := range 3 {
		segs = append(segs, c2s("GET /asset/"+string(rune('a'+i))+".js HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0\r\nAccept: */*\r\nReferer: https://www.example.com/\r\n\r\n"))
		resp := "HTTP/1.1 200 OK\r\nContent-Type: application/javascript\r\nContent-Length: 10000\r\nCache-Control: max-age=3600\r\n\r\n" + body
		for len(resp) > 0 {
			k := min(1448, len(resp))
			segs = append(segs, s2c(resp[:k]))
			resp = resp[k:]
		}
	}
	bytes := make([][]byte, len(segs))
	total := 0
	for i, s := range segs {
		bytes[i] = []byte(s.data)
		total += len(s.data)
	}
	events := 0
	p := NewParser(nil)
	emit := func(*detect.Event) { events++ }
	b.SetBytes(int64(total))
	b.ReportAllocs()
	for b.Loop() {
		p.Reset(emit)
		for i, s := range segs {
			p.Data(s.dir, bytes[i], 1)
		}
		p.Close(2)
	}
	if events%3 != 0 {
		b.Fatalf("%d events", events)
	}
}
