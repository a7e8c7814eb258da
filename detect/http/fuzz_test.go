package http

import (
	"encoding/binary"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// FuzzParser feeds a conversation cut into random pieces: the first bytes
// of the input steer the cutting (direction, length, gaps), the rest is the
// data. Properties: no panic, bounded buffers, every event well-formed, and
// at most MaxTransactions events.
func FuzzParser(f *testing.F) {
	seeds := []string{
		simpleReq + simpleResp,
		"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: b\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /up HTTP/1.1\r\nHost: c\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
		"GET http://u@[::1]:80/x HTTP/1.0\nUser-Agent: a\n b\n\nHTTP/1.0 200 OK\n\nbody",
		"HEAD / HTTP/1.1\r\nHost: h\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 NM\r\nContent-Length: 99\r\n\r\n",
	}
	for i, s := range seeds {
		f.Add(uint64(i)*0x9e3779b97f4a7c15, []byte(s))
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		n := 0
		p := NewParser(func(e *detect.Event) {
			n++
			h := e.HTTP
			if e.Type != detect.TypeHTTP || h == nil {
				t.Fatalf("bad event %+v", e)
			}
			if len(h.URL) > maxURL || len(h.UserAgent) > maxUA || len(h.Hostname) > maxField || len(h.Referer) > maxURL || len(h.XFF) > maxField || len(h.Redirect) > maxURL || len(h.ContentType) > maxField {
				t.Fatalf("field over its bound: %+v", h)
			}
			if h.Length < -1 {
				t.Fatalf("length %d", h.Length)
			}
		})
		rng := seed | 1
		next := func() uint64 { // xorshift
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			return rng
		}
		// Requests go to the server until the first "HTTP/" then the
		// direction flips at random.
		dir := detect.ToServer
		for len(data) > 0 {
			r := next()
			k := int(r%64) + 1
			if r>>60 == 0 && len(data) > 8 {
				k = int(binary.LittleEndian.Uint16(data)) % len(data)
			}
			k = min(k, len(data))
			var v detect.Verdict
			switch {
			case r>>56&0x1f == 1:
				v = p.Gap(dir, int(r>>40&0xff)+1, 1)
			default:
				v = p.Data(dir, data[:k], 1)
				data = data[k:]
			}
			if v != detect.NeedMore {
				break
			}
			if r>>50&3 == 0 {
				dir ^= 1
			}
			if cap(p.req.line) > MaxHeaderBytes+4096 || cap(p.resp.line) > MaxHeaderBytes+4096 {
				t.Fatalf("line buffer grew to %d/%d", cap(p.req.line), cap(p.resp.line))
			}
		}
		p.Close(2)
		if n > MaxTransactions {
			t.Fatalf("%d events", n)
		}
	})
}
