package socks

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func TestSOCKS5Handshake(t *testing.T) {
	greet := []byte{5, 1, 0}
	req := []byte{5, 1, 0, 3, 14, 'w', 'w', 'w', '.', 'o', 's', 'n', 'e', 'w', 's', '.', 'c', 'o', 'm', 0, 80}
	if !Detect(greet) {
		t.Fatal("greeting not detected")
	}
	// Every split of the server's replies gives the same outcome.
	server := []byte{5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}
	for cut := 0; cut <= len(server); cut++ {
		p := NewParser(nil)
		p.Data(detect.ToServer, greet, 0)
		v := p.Data(detect.ToClient, server[:cut], 0)
		if cut == len(server) {
			if v != detect.Upgrade {
				t.Fatalf("whole reply: verdict %v, want Upgrade", v)
			}
			continue
		}
		if v != detect.NeedMore {
			t.Fatalf("cut %d: early verdict %v", cut, v)
		}
		p.Data(detect.ToServer, req, 0)
		if v = p.Data(detect.ToClient, server[cut:], 0); v != detect.Upgrade {
			t.Fatalf("cut %d: verdict %v, want Upgrade", cut, v)
		}
	}
}

func TestSOCKS5WithPasswordAndRefusal(t *testing.T) {
	p := NewParser(nil)
	p.Data(detect.ToServer, []byte{5, 2, 0, 2}, 0)
	if v := p.Data(detect.ToClient, []byte{5, 2, 1, 0, 5, 0, 0, 4, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 80}, 0); v != detect.Upgrade {
		t.Errorf("user/password then IPv6 reply: %v", v)
	}
	p = NewParser(nil)
	p.Data(detect.ToServer, []byte{5, 1, 0}, 0)
	if v := p.Data(detect.ToClient, []byte{5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0}, 0); v != detect.Done {
		t.Errorf("refused connection: %v, want Done", v)
	}
}

func TestSOCKS4(t *testing.T) {
	req := []byte{4, 1, 0, 80, 192, 0, 2, 1, 'u', 0}
	if !Detect(req) {
		t.Fatal("not detected")
	}
	p := NewParser(nil)
	p.Data(detect.ToServer, req, 0)
	if v := p.Data(detect.ToClient, []byte{0, 0x5a, 0, 0, 0, 0, 0, 0}, 0); v != detect.Upgrade {
		t.Errorf("granted: %v", v)
	}
	if Detect([]byte("GET / HTTP/1.1")) || Detect([]byte{0x16, 3, 1, 0, 200}) {
		t.Error("HTTP or TLS taken for SOCKS")
	}
}

func FuzzParser(f *testing.F) {
	f.Add([]byte{5, 1, 0}, []byte{5, 0, 5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90})
	f.Add([]byte{4, 1, 0, 80, 1, 2, 3, 4, 0}, []byte{0, 0x5a, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, c, s []byte) {
		Detect(c)
		p := NewParser(nil)
		if len(c) > 0 {
			p.Data(detect.ToServer, c, 0)
		}
		p.Data(detect.ToClient, s, 0)
		p.Data(detect.ToClient, s, 0)
	})
}

func TestSOCKSAnomaly(t *testing.T) {
	var got []*detect.Anomaly
	emit := func(e *detect.Event) { got = append(got, e.Anomaly) }
	field := func(a *detect.Anomaly, k string) string {
		for _, d := range a.Detail {
			if d.Key == k {
				return d.Str
			}
		}
		return ""
	}
	cases := []struct {
		name           string
		client, server [][]byte
		ver, st, tgt   string
	}{
		{"5 granted", [][]byte{{5, 1, 0}, {5, 1, 0, 3, 14, 'w', 'w', 'w', '.', 'o', 's', 'n', 'e', 'w', 's', '.', 'c', 'o', 'm', 0, 80}},
			[][]byte{{5, 0}, {5, 0, 0, 1, 10, 0, 0, 1, 0x1f, 0x90}}, "5", "granted", "www.osnews.com:80"},
		{"5 password, refused", [][]byte{{5, 1, 2}, {1, 1, 'u', 1, 'p'}, {5, 1, 0, 1, 192, 0, 2, 1, 1, 187}},
			[][]byte{{5, 2}, {1, 0}, {5, 5, 0, 1, 0, 0, 0, 0, 0, 0}}, "5", "refused", "192.0.2.1:443"},
		{"4 granted", [][]byte{{4, 1, 0, 80, 192, 0, 2, 1, 'u', 0}}, [][]byte{{0, 0x5a, 0, 0, 0, 0, 0, 0}}, "4", "granted", "192.0.2.1:80"},
		{"4a refused", [][]byte{{4, 1, 1, 187, 0, 0, 0, 1, 0, 'a', '.', 'b', 0}}, [][]byte{{0, 0x5b, 0, 0, 0, 0, 0, 0}}, "4a", "refused", "a.b:443"},
	}
	for _, c := range cases {
		got = nil
		p := NewParser(emit)
		for i := range c.client {
			p.Data(detect.ToServer, c.client[i], 1)
			if i < len(c.server) {
				p.Data(detect.ToClient, c.server[i], 2)
			}
		}
		if len(got) != 1 {
			t.Fatalf("%s: %d events", c.name, len(got))
		}
		a := got[0]
		if a.Type != "proxy" || a.Event != "socks" || field(a, "version") != c.ver || field(a, "status") != c.st || field(a, "target") != c.tgt {
			t.Errorf("%s: %+v", c.name, a)
		}
	}
	// A greeting the server does not answer in SOCKS: nothing.
	got = nil
	p := NewParser(emit)
	p.Data(detect.ToServer, []byte{5, 1, 0}, 1)
	p.Data(detect.ToClient, []byte("HTTP/1.1 400 Bad Request\r\n\r\n"), 2)
	if len(got) != 0 {
		t.Errorf("reported %+v", got[0])
	}
}

// FuzzReport drives the handshake with arbitrary client and server bytes,
// in pieces, with reporting on: the request's target is read from any
// bytes without a panic, and at most one anomaly is emitted.
func FuzzReport(f *testing.F) {
	f.Add([]byte{5, 1, 2, 1, 1, 'u', 1, 'p', 5, 1, 0, 3, 3, 'a', '.', 'b', 0, 80}, []byte{5, 2, 1, 0, 5, 0, 0, 1, 1, 2, 3, 4, 0, 80}, uint8(3))
	f.Add([]byte{4, 1, 0, 80, 0, 0, 0, 1, 'u', 0, 'h', 0}, []byte{0, 0x5b, 0, 0, 0, 0, 0, 0}, uint8(5))
	f.Fuzz(func(t *testing.T, c, s []byte, cut uint8) {
		n := 0
		p := NewParser(func(e *detect.Event) {
			n++
			if e.Anomaly == nil || e.Anomaly.Type != "proxy" {
				t.Fatalf("bad event %+v", e)
			}
		})
		k := max(int(cut), 1)
		for len(c) > 0 || len(s) > 0 {
			if len(c) > 0 {
				m := min(k, len(c))
				if p.Data(detect.ToServer, c[:m], 1) != detect.NeedMore {
					break
				}
				c = c[m:]
			}
			if len(s) > 0 {
				m := min(k, len(s))
				if p.Data(detect.ToClient, s[:m], 2) != detect.NeedMore {
					break
				}
				s = s[m:]
			}
		}
		if n > 1 {
			t.Fatalf("%d events", n)
		}
	})
}
