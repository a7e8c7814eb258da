package pipeline

import "testing"

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
