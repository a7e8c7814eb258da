package http

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/detect"
)

// seg is one Data or Gap call of a test conversation.
type seg struct {
	dir  int
	data string
	gap  int // > 0: a Gap of this many bytes instead of data
}

func c2s(s string) seg { return seg{dir: detect.ToServer, data: s} }
func s2c(s string) seg { return seg{dir: detect.ToClient, data: s} }

// run feeds segs (at ts = index+1) and closes the stream; it returns the
// events and the last verdict.
func run(t testing.TB, segs []seg) ([]detect.HTTP, detect.Verdict) {
	t.Helper()
	var got []detect.HTTP
	p := NewParser(func(e *detect.Event) {
		if e.Type != detect.TypeHTTP || e.HTTP == nil {
			t.Fatalf("bad event %+v", e)
		}
		got = append(got, *e.HTTP)
	})
	v := detect.NeedMore
	for i, s := range segs {
		if v != detect.NeedMore {
			break
		}
		if s.gap > 0 {
			v = p.Gap(s.dir, s.gap, int64(i+1))
		} else {
			v = p.Data(s.dir, []byte(s.data), int64(i+1))
		}
	}
	p.Close(100)
	return got, v
}

const simpleReq = "GET /index.html?q=1 HTTP/1.1\r\n" +
	"Host: Example.COM:8080\r\n" +
	"User-Agent: curl/8.0\r\n" +
	"Referer: http://ref.example/\r\n" +
	"X-Forwarded-For: 10.0.0.1, 10.0.0.2\r\n" +
	"Accept: */*\r\n" +
	"\r\n"

const simpleResp = "HTTP/1.1 200 OK\r\n" +
	"Content-Type: text/html\r\n" +
	"Content-Length: 5\r\n" +
	"\r\n" +
	"hello"

var simpleWant = detect.HTTP{
	Hostname: "example.com", Port: 8080, URL: "/index.html?q=1", Method: "GET", Protocol: "HTTP/1.1",
	UserAgent: "curl/8.0", Referer: "http://ref.example/", XFF: "10.0.0.1, 10.0.0.2",
	ContentType: "text/html", Status: 200, Length: 5,
}

func TestParser(t *testing.T) {
	tests := []struct {
		name string
		segs []seg
		want []detect.HTTP
		last detect.Verdict
	}{
		{
			name: "simple",
			segs: []seg{c2s(simpleReq), s2c(simpleResp)},
			want: []detect.HTTP{simpleWant},
		},
		{
			name: "bare LF and case-insensitive names",
			segs: []seg{c2s("GET / HTTP/1.0\nhOsT: a.example\nuser-AGENT: x\n\n"), s2c("HTTP/1.0 404 Not Found\ncontent-length: 0\n\n")},
			want: []detect.HTTP{{Hostname: "a.example", URL: "/", Method: "GET", Protocol: "HTTP/1.0", UserAgent: "x", Status: 404, Length: 0}},
		},
		{
			name: "folded header",
			segs: []seg{c2s("GET / HTTP/1.1\r\nUser-Agent: Mozilla/5.0\r\n (X11;\r\n\tLinux)\r\nHost: f.example\r\n\r\n")},
			want: []detect.HTTP{{Hostname: "f.example", URL: "/", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "Mozilla/5.0 (X11; Linux)", Length: -1}},
		},
		{
			name: "pipelined",
			segs: []seg{
				c2s("GET /a HTTP/1.1\r\nHost: p.example\r\n\r\nGET /b HTTP/1.1\r\nHost: p.example\r\n\r\nHEAD /c HTTP/1.1\r\nHost: p.example\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 301 Moved\r\nLocation: /x\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "p.example", URL: "/a", Method: "GET", Protocol: "HTTP/1.1", Status: 200, Length: 3},
				{Hostname: "p.example", URL: "/b", Method: "GET", Protocol: "HTTP/1.1", Status: 301, Length: 0, Redirect: "/x"},
				{Hostname: "p.example", URL: "/c", Method: "HEAD", Protocol: "HTTP/1.1", Status: 200, Length: 0},
			},
		},
		{
			name: "chunked request body then request",
			segs: []seg{
				c2s("POST /up HTTP/1.1\r\nHost: c.example\r\nTransfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n" +
					"5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n" +
					"GET /next HTTP/1.1\r\nHost: c.example\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "c.example", URL: "/up", Method: "POST", Protocol: "HTTP/1.1", ContentType: "text/plain", Length: -1},
				{Hostname: "c.example", URL: "/next", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
			},
		},
		{
			name: "chunked response counted",
			segs: []seg{
				c2s("GET /a HTTP/1.1\r\nHost: c.example\r\n\r\nGET /b HTTP/1.1\r\nHost: c.example\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\nA \r\n0123456789\r\n0\r\n\r\n"),
				s2c("HTTP/1.1 204 No Content\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "c.example", URL: "/a", Method: "GET", Protocol: "HTTP/1.1", Status: 200, Length: 13},
				{Hostname: "c.example", URL: "/b", Method: "GET", Protocol: "HTTP/1.1", Status: 204, Length: 0},
			},
		},
		{
			name: "close-delimited response",
			segs: []seg{c2s("GET / HTTP/1.0\r\nHost: old.example\r\n\r\n"), s2c("HTTP/1.0 200 OK\r\n\r\n0123456789"), s2c("01234")},
			want: []detect.HTTP{{Hostname: "old.example", URL: "/", Method: "GET", Protocol: "HTTP/1.0", Status: 200, Length: 15}},
		},
		{
			name: "100 continue",
			segs: []seg{
				c2s("PUT /f HTTP/1.1\r\nHost: u.example\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"),
				s2c("HTTP/1.1 100 Continue\r\n\r\n"),
				c2s("data"),
				s2c("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
			},
			want: []detect.HTTP{{Hostname: "u.example", URL: "/f", Method: "PUT", Protocol: "HTTP/1.1", Status: 201, Length: 0}},
		},
		{
			name: "absolute URI",
			segs: []seg{c2s("GET http://user@Proxy.Example:3128/p?x HTTP/1.1\r\nUser-Agent: y\r\n\r\n"), s2c("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")},
			want: []detect.HTTP{{Hostname: "proxy.example", Port: 3128, URL: "http://user@Proxy.Example:3128/p?x", Method: "GET", Protocol: "HTTP/1.1", UserAgent: "y", Status: 200, Length: 0, Proxied: true}},
		},
		{
			name: "absolute URI with Host",
			segs: []seg{c2s("GET http://a.example/ HTTP/1.1\r\nHost: b.example\r\n\r\n")},
			want: []detect.HTTP{{Hostname: "b.example", URL: "http://a.example/", Method: "GET", Protocol: "HTTP/1.1", Length: -1, Proxied: true}},
		},
		{
			name: "IPv6 host",
			segs: []seg{c2s("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8443\r\n\r\nGET / HTTP/1.1\r\nHost: [::1]\r\n\r\n")},
			want: []detect.HTTP{
				{Hostname: "2001:db8::1", Port: 8443, URL: "/", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
				{Hostname: "::1", URL: "/", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
			},
		},
		{
			name: "CONNECT tunnel",
			segs: []seg{
				c2s("CONNECT tunnel.example:443 HTTP/1.1\r\nHost: tunnel.example:443\r\nUser-Agent: z\r\n\r\n\x16\x03\x01\x02\x00\x01"),
				s2c("HTTP/1.1 200 Connection established\r\n\r\n"),
				c2s("\x16\x03\x01 more tls"),
			},
			want: []detect.HTTP{{Hostname: "tunnel.example", Port: 443, URL: "tunnel.example:443", Method: "CONNECT", Protocol: "HTTP/1.1", UserAgent: "z", Status: 200, Length: 0, Proxied: true}},
			last: detect.Upgrade,
		},
		{
			name: "CONNECT refused then retried",
			segs: []seg{
				c2s("CONNECT t.example:443 HTTP/1.1\r\n\r\n"),
				s2c("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 2\r\n\r\nno"),
				c2s("CONNECT t.example:443 HTTP/1.1\r\nProxy-Authorization: x\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "t.example", Port: 443, URL: "t.example:443", Method: "CONNECT", Protocol: "HTTP/1.1", Status: 407, Length: 2, Proxied: true},
				{Hostname: "t.example", Port: 443, URL: "t.example:443", Method: "CONNECT", Protocol: "HTTP/1.1", Status: 200, Length: 0, Proxied: true},
			},
			last: detect.Upgrade,
		},
		{
			name: "websocket upgrade",
			segs: []seg{
				c2s("GET /ws HTTP/1.1\r\nHost: w.example\r\nUpgrade: websocket\r\n\r\n"),
				s2c("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"),
			},
			want: []detect.HTTP{{Hostname: "w.example", URL: "/ws", Method: "GET", Protocol: "HTTP/1.1", Status: 101, Length: 0}},
			last: detect.Upgrade,
		},
		{
			name: "response without request",
			segs: []seg{s2c("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"), c2s("GET /later HTTP/1.1\r\nHost: l.example\r\n\r\n"), s2c("HTTP/1.1 404 NF\r\nContent-Length: 0\r\n\r\n")},
			// The first response's request was never seen: reported with an
			// empty request side.
			want: []detect.HTTP{{Status: 200, Length: 3},
				{Hostname: "l.example", URL: "/later", Method: "GET", Protocol: "HTTP/1.1", Status: 404, Length: 0}},
		},
		{
			name: "no response at close",
			segs: []seg{c2s("POST /x HTTP/1.1\r\nHost: n.example\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")},
			want: []detect.HTTP{{Hostname: "n.example", URL: "/x", Method: "POST", Protocol: "HTTP/1.1", ContentType: "application/json", Length: -1}},
		},
		{
			name: "headers incomplete at close",
			segs: []seg{c2s("GET /partial HTTP/1.1\r\nHost: i.example\r\nUser-Ag")},
			want: []detect.HTTP{{Hostname: "i.example", URL: "/partial", Method: "GET", Protocol: "HTTP/1.1", Length: -1}},
		},
		{
			name: "gap in request body",
			segs: []seg{
				c2s("POST /a HTTP/1.1\r\nHost: g.example\r\nContent-Length: 10\r\n\r\nab"), {dir: detect.ToServer, gap: 5}, c2s("abcGET /b HTTP/1.1\r\nHost: g.example\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab"), {dir: detect.ToClient, gap: 2}, s2c("HTTP/1.1 201 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "g.example", URL: "/a", Method: "POST", Protocol: "HTTP/1.1", Status: 200, Length: 4},
				{Hostname: "g.example", URL: "/b", Method: "GET", Protocol: "HTTP/1.1", Status: 201, Length: 0},
			},
		},
		{
			name: "gap in request headers",
			segs: []seg{
				c2s("GET /lost HTTP/1.1\r\nHo"), {dir: detect.ToServer, gap: 30}, c2s("xx\r\n\r\nGET /found HTTP/1.1\r\nHost: r.example\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 202 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: []detect.HTTP{{Hostname: "r.example", URL: "/found", Method: "GET", Protocol: "HTTP/1.1", Status: 202, Length: 0}},
		},
		{
			name: "gap in response headers",
			segs: []seg{
				c2s("GET /a HTTP/1.1\r\nHost: h.example\r\n\r\nGET /b HTTP/1.1\r\nHost: h.example\r\n\r\n"),
				s2c("HTTP/1.1 200 OK\r\nConte"), {dir: detect.ToClient, gap: 100}, s2c("junk\r\nmore junk\r\nHTTP/1.1 203 OK\r\nContent-Length: 0\r\n\r\n"),
			},
			want: []detect.HTTP{
				{Hostname: "h.example", URL: "/a", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
				{Hostname: "h.example", URL: "/b", Method: "GET", Protocol: "HTTP/1.1", Status: 203, Length: 0},
			},
		},
		{
			name: "gap in close-delimited body",
			segs: []seg{c2s("GET / HTTP/1.0\r\nHost: o.example\r\n\r\n"), s2c("HTTP/1.0 200 OK\r\n\r\nabc"), {dir: detect.ToClient, gap: 1000}, s2c("xyz")},
			want: []detect.HTTP{{Hostname: "o.example", URL: "/", Method: "GET", Protocol: "HTTP/1.0", Status: 200, Length: 1006}},
		},
		{
			name: "not HTTP",
			segs: []seg{c2s("SSH-2.0-OpenSSH_9.0\r\n")},
			last: detect.NotMine,
		},
		{
			name: "not HTTP after a valid prefix",
			segs: []seg{c2s("GE"), c2s("X / HTTP/1.1\r\n")},
			last: detect.NotMine,
		},
		{
			name: "server first, split",
			segs: []seg{s2c("HT"), s2c("TP/1.1 200 OK\r\nContent-Length: 4\r\n\r\n"), s2c("body"), c2s("GET / HTTP/1.1\r\nHost: s.example\r\n\r\n")},
			want: []detect.HTTP{{Status: 200, Length: 4}, {Hostname: "s.example", URL: "/", Method: "GET", Protocol: "HTTP/1.1", Length: -1}},
		},
		{
			name: "server first, not HTTP",
			segs: []seg{s2c("220 smtp.example ESMTP\r\n")},
			last: detect.NotMine,
		},
		{
			name: "WebDAV method and empty lines before the request",
			segs: []seg{c2s("PROPFIND /dav/ HTTP/1.1\r\nHost: d.example\r\nContent-Length: 0\r\n\r\n\r\nMKCOL /dav/x HTTP/1.1\r\nHost: d.example\r\n\r\n")},
			want: []detect.HTTP{
				{Hostname: "d.example", URL: "/dav/", Method: "PROPFIND", Protocol: "HTTP/1.1", Length: -1},
				{Hostname: "d.example", URL: "/dav/x", Method: "MKCOL", Protocol: "HTTP/1.1", Length: -1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, last := run(t, tt.segs)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("events (-got, +want):\n%s", diff)
			}
			if last != tt.last {
				t.Errorf("last verdict = %v, want %v", last, tt.last)
			}
		})
	}
}

// TestSplitEverywhere: a conversation fed split at every offset, and one
// byte at a time, gives the same events as fed whole.
func TestSplitEverywhere(t *testing.T) {
	convs := map[string][]seg{
		"simple": {c2s(simpleReq), s2c(simpleResp)},
		"chunked": {
			c2s("POST /up HTTP/1.1\r\nHost: c.example\r\nTransfer-Encoding: chunked\r\n\r\n5;e=1\r\nhello\r\n0\r\nT: 1\r\n\r\nGET /n HTTP/1.1\r\nHost: c.example\r\n\r\n"),
			s2c("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
		},
		"folded": {c2s("GET / HTTP/1.1\nUser-Agent: a\n b\nHost:\n  fold.example\n\n")},
		"pipelined": {
			c2s("GET /a HTTP/1.1\r\nHost: p.example\r\n\r\nHEAD /b HTTP/1.1\r\nHost: p.example\r\n\r\nGET http://x.example/c HTTP/1.1\r\n\r\n"),
			s2c("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nHTTP/1.1 302 Found\r\nLocation: /z\r\n\r\nrest"),
		},
		"connect": {
			c2s("CONNECT t.example:443 HTTP/1.1\r\nUser-Agent: u\r\n\r\n\x16\x03\x01"),
			s2c("HTTP/1.1 200 Connection established\r\n\r\n"),
		},
	}
	for name, segs := range convs {
		t.Run(name, func(t *testing.T) {
			want, _ := run(t, segs)
			if len(want) == 0 {
				t.Fatal("no events")
			}
			for i, s := range segs {
				for cut := 1; cut < len(s.data); cut++ {
					split := append(append([]seg{}, segs[:i]...), seg{dir: s.dir, data: s.data[:cut]}, seg{dir: s.dir, data: s.data[cut:]})
					split = append(split, segs[i+1:]...)
					got, _ := run(t, split)
					if diff := cmp.Diff(got, want); diff != "" {
						t.Fatalf("segment %d cut at %d (-got, +want):\n%s", i, cut, diff)
					}
				}
			}
			var bytewise []seg
			for _, s := range segs {
				for j := range len(s.data) {
					bytewise = append(bytewise, seg{dir: s.dir, data: s.data[j : j+1]})
				}
			}
			got, _ := run(t, bytewise)
			if diff := cmp.Diff(got, want); diff != "" {
				t.Fatalf("byte at a time (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestBounds(t *testing.T) {
	t.Run("truncated fields", func(t *testing.T) {
		long := strings.Repeat("a", 5000)
		got, _ := run(t, []seg{c2s("GET /" + long + " HTTP/1.1\r\nUser-Agent: " + long + "\r\nHost: b.example\r\n\r\n")})
		if len(got) != 1 || len(got[0].URL) != maxURL || len(got[0].UserAgent) != maxUA || got[0].Hostname != "b.example" {
			t.Fatalf("got %d events, URL %d, UA %d", len(got), len(got[0].URL), len(got[0].UserAgent))
		}
	})
	t.Run("header block overflow", func(t *testing.T) {
		big := "X-Big: " + strings.Repeat("b", 1000) + "\r\n"
		req := "GET /big HTTP/1.1\r\nHost: big.example\r\n" + strings.Repeat(big, 20) + "\r\n"
		got, v := run(t, []seg{c2s(req + "GET /after HTTP/1.1\r\nHost: big.example\r\n\r\n")})
		want := []detect.HTTP{
			{Hostname: "big.example", URL: "/big", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
			{Hostname: "big.example", URL: "/after", Method: "GET", Protocol: "HTTP/1.1", Length: -1},
		}
		if diff := cmp.Diff(got, want); diff != "" || v != detect.NeedMore {
			t.Fatalf("verdict %v (-got, +want):\n%s", v, diff)
		}
	})
	t.Run("queue overflow", func(t *testing.T) {
		var reqs strings.Builder
		for range MaxPending + 3 {
			reqs.WriteString("GET /q HTTP/1.1\r\nHost: q.example\r\n\r\n")
		}
		var resps strings.Builder
		for range MaxPending + 3 {
			resps.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
		}
		got, _ := run(t, []seg{c2s(reqs.String()), s2c(resps.String())})
		if len(got) != MaxPending+3 {
			t.Fatalf("got %d events, want %d", len(got), MaxPending+3)
		}
		for i, h := range got {
			wantStatus := 200
			if i < 3 {
				wantStatus = 0 // reported on overflow
			}
			if h.Status != wantStatus {
				t.Errorf("event %d: status %d, want %d", i, h.Status, wantStatus)
			}
		}
	})
	t.Run("done after MaxTransactions", func(t *testing.T) {
		var segs []seg
		for range MaxTransactions + 10 {
			segs = append(segs, c2s("GET / HTTP/1.1\r\nHost: k.example\r\n\r\n"), s2c("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
		}
		got, v := run(t, segs)
		if len(got) != MaxTransactions || v != detect.Done {
			t.Fatalf("got %d events, verdict %v", len(got), v)
		}
	})
}

func TestDetect(t *testing.T) {
	tests := []struct {
		dir  int
		in   string
		want bool
	}{
		{detect.ToServer, "GET / HTTP/1.1\r\n", true},
		{detect.ToServer, "PROPFIND /x HTTP/1.1", true},
		{detect.ToServer, "CONNECT a:443 HTTP/1.1", true},
		{detect.ToServer, "GET", false},
		{detect.ToServer, "GETX / HTTP/1.1", false},
		{detect.ToServer, "\x16\x03\x01", false},
		{detect.ToClient, "GET / HTTP/1.1", false},
	}
	for _, tt := range tests {
		if got := Detect(tt.dir, []byte(tt.in)); got != tt.want {
			t.Errorf("Detect(%d, %q) = %v, want %v", tt.dir, tt.in, got, tt.want)
		}
	}
}

func TestParseChunkSize(t *testing.T) {
	tests := []struct {
		in   string
		n    int64
		want bool
	}{
		{"0", 0, true}, {"1a", 26, true}, {"FF;name=val", 255, true}, {"10 ; x", 16, true},
		{"", 0, false}, {"x", 0, false}, {"12 34", 0, false}, {"1234567890abcdef0", 0, false},
	}
	for _, tt := range tests {
		n, ok := parseChunkSize([]byte(tt.in))
		if n != tt.n || ok != tt.want {
			t.Errorf("parseChunkSize(%q) = %d, %v", tt.in, n, ok)
		}
	}
}

// TestBodyNoAlloc: skipping body bytes allocates nothing.
func TestBodyNoAlloc(t *testing.T) {
	p := NewParser(func(*detect.Event) {})
	p.Data(detect.ToServer, []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000000\r\n\r\n"), 1)
	chunk := make([]byte, 1400)
	allocs := testing.AllocsPerRun(100, func() {
		p.Data(detect.ToServer, chunk, 2)
	})
	if allocs != 0 {
		t.Fatalf("%v allocs per body segment", allocs)
	}
}

// TestNotMineNoAlloc: a stream that is not HTTP costs no allocation.
func TestNotMineNoAlloc(t *testing.T) {
	p := NewParser(nil)
	emit := func(*detect.Event) {}
	tls := []byte("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
	allocs := testing.AllocsPerRun(100, func() {
		p.Reset(emit)
		if p.Data(detect.ToServer, tls, 1) != detect.NotMine {
			t.Fatal("not NotMine")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocs", allocs)
	}
}
