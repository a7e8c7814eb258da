package pipeline

import (
	"net/netip"
	"strings"
	"testing"
)

func TestValidHostname(t *testing.T) {
	for s, want := range map[string]bool{
		"www.example.com": true, "a": true, "xn--bcher-kva.example": true, "_dmarc.example.com": true, "example.com.": true,
		"": false, ".": false, "a..b": false, ".a": false, "exa mple.com": false, "ex\x00ample.com": false,
		"a/b.example": false, string(make([]byte, 254)): false,
	} {
		if got := validHostname(s); got != want {
			t.Errorf("validHostname(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDoHEndpoints(t *testing.T) {
	for s, want := range map[string]bool{
		"dns.google": true, "cloudflare-dns.com": true, "abc123.dns.nextdns.io": true,
		"google.com": false, "dns.google.evil.example": false, "nextdns.io": false,
	} {
		if got := isDoHEndpoint(s); got != want {
			t.Errorf("isDoHEndpoint(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDoHListErrors(t *testing.T) {
	for text, want := range map[string]string{
		"dns.example\nbad name\n":     "x.txt:2: one entry per line",
		"ok.example\n\n10.0.0.0/33\n": "x.txt:3: \"10.0.0.0/33\" is not a CIDR prefix",
		"-\n# c\nbad_$name\n":         "x.txt:3: \"bad_$name\" is not a host name",
		"a..b\n":                      "x.txt:1:",
	} {
		_, err := parseDoHList("x.txt", strings.NewReader(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	l, err := parseDoHList("x.txt", strings.NewReader("dns.example # comment\n.suffix.example\n*.star.example\n10.1.0.0/16\n2001:db8::1\n"))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"DNS.example.": true, "a.suffix.example": true, "suffix.example": false, "x.star.example": true, "star.example": false, "other.example": false} {
		if l.MatchName(s) != want {
			t.Errorf("MatchName(%q) = %v", s, !want)
		}
	}
	for s, want := range map[string]bool{"10.1.2.3": true, "10.2.0.1": false, "2001:db8::1": true, "::ffff:10.1.0.9": true} {
		if l.MatchAddr(netip.MustParseAddr(s)) != want {
			t.Errorf("MatchAddr(%s) = %v", s, !want)
		}
	}
	if l.Len() != 5 || DefaultDoHList().Len() < 40 {
		t.Errorf("Len %d, default %d", l.Len(), DefaultDoHList().Len())
	}
}

func TestTunnelHosts(t *testing.T) {
	for in, want := range map[string]string{"a.example:80": "a.example", "a.example": "a.example", "[2001:db8::1]:443": "2001:db8::1", "2001:db8::1": "2001:db8::1"} {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q", in, got)
		}
	}
	for in, want := range map[string]string{"http://user@Front.Example:8080/p?q": "Front.Example", "http://a.example": "a.example", "/path": "", "https://[::1]/": "::1"} {
		if got := uriHost(in); got != want {
			t.Errorf("uriHost(%q) = %q", in, got)
		}
	}
}
