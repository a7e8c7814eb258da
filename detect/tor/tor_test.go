package tor

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		tls  detect.TLS
		want string // confidence, "" = not Tor
	}{
		// From ndpi__tor.pcap (2013): SNI, certificate subject and issuer.
		{"relay, cert", detect.TLS{SNI: "www.ct7ctrgb6cr7.com", Subject: "CN=www.g6ghvisevf3ibuu5.net", IssuerDN: "CN=www.xkgk7fdx362yyyxib.com"}, "high"},
		{"relay, tls13", detect.TLS{SNI: "www.jmts2id.com"}, "medium"},
		{"vowel-poor", detect.TLS{SNI: "www.qxkzbnvrtw.net"}, "medium"},
		{"browser", detect.TLS{SNI: "www.google.com", ALPN: []string{"h2", "http/1.1"}}, ""},
		{"word without alpn", detect.TLS{SNI: "www.example.com"}, ""},
		{"digits but alpn", detect.TLS{SNI: "www.ct7ctrgb6cr7.com", ALPN: []string{"h2"}}, ""},
		{"not www", detect.TLS{SNI: "api.ct7ctrgb6cr7.com"}, ""},
		{"other tld", detect.TLS{SNI: "www.ct7ctrgb6cr7.org"}, ""},
		{"0/1/8/9 are not base32", detect.TLS{SNI: "www.ab0189cd.com"}, ""},
		{"too long", detect.TLS{SNI: "www.abcdefghijklmnopqrstuvwxyz2345.com"}, ""},
		{"cert of a real site", detect.TLS{SNI: "www.python.com", Subject: "CN=www.python.com", IssuerDN: "CN=R3, O=Let's Encrypt"}, ""},
		{"no sni", detect.TLS{}, ""},
	}
	for _, c := range cases {
		v := Check(&c.tls)
		if v.Confidence != c.want || v.Tor != (c.want != "") {
			t.Errorf("%s: %+v, want %q", c.name, v, c.want)
		}
	}
}

func TestDerive(t *testing.T) {
	e := &detect.Event{Type: detect.TypeTLS, Timestamp: 5, TLS: &detect.TLS{SNI: "www.t3i3ru.com", Version: "TLS 1.0",
		Subject: "CN=www.abcd2efg.net", IssuerDN: "CN=www.hijk3lmn.com"}}
	a := Derive(e, nil)
	if a == nil || a.Type != detect.TypeAnomaly || a.Timestamp != 5 || a.Anomaly.Type != "tor" || a.Anomaly.Event != "tls" {
		t.Fatalf("%+v", a)
	}
	if Derive(&detect.Event{Type: detect.TypeHTTP, HTTP: &detect.HTTP{}}, nil) != nil {
		t.Error("derived from an http event")
	}
	tl := &detect.TLS{SNI: "www.google.com", ALPN: []string{"h2"}, Subject: "CN=www.google.com, O=Google", IssuerDN: "CN=GTS CA 1C3"}
	allocs := testing.AllocsPerRun(100, func() { Check(tl) })
	if allocs != 0 {
		t.Errorf("Check allocates %v", allocs)
	}
}

func FuzzCheck(f *testing.F) {
	f.Add("www.ct7ctrgb6cr7.com", "CN=www.g6ghvisevf3ibuu5.net", "CN=www.xkgk7fdx362yyyxib.com", false)
	f.Add("www.google.com", "CN=www.google.com", "CN=GTS", true)
	f.Fuzz(func(t *testing.T, sni, subj, iss string, alpn bool) {
		tl := &detect.TLS{SNI: sni, Subject: subj, IssuerDN: iss}
		if alpn {
			tl.ALPN = []string{"h2"}
		}
		v := Check(tl)
		if v.Tor && randomPart(sni, ".com", ".net") == "" && randomPart(toLower(sni), ".com", ".net") == "" {
			t.Fatalf("Tor without the SNI shape: %q", sni)
		}
	})
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}
