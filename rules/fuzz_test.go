package rules

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzLoad writes content to a file named name in a fresh directory (with
// a companion list file for YAML rules to name), loads it and exercises
// every lookup on the result. Properties: no panic; an error or a Set,
// never both; every error names the file.
func fuzzLoad(t *testing.T, name string, content []byte, query string) {
	dir := t.TempDir()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, content, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "list.txt"), []byte("x.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadFiles(p)
	if (s == nil) == (err == nil) {
		t.Fatalf("LoadFiles = %v, %v", s, err)
	}
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.Contains(line, dir) && !strings.HasSuffix(line, "not shown") {
				t.Fatalf("error without a file name: %q", line)
			}
		}
		return
	}
	s.Stats()
	s.Warnings()
	for _, q := range []string{query, "x.example", "a.b.c.example:443", "[::1]:80", "1.2.3.4"} {
		s.MatchName(q)
		s.MatchURL(q, "/"+q)
		s.Explain(q)
		s.Explain(q + "/path")
		if a, err := netip.ParseAddr(q); err == nil {
			s.MatchIP(a)
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, seed := range []string{
		testRules, gamblingTxt,
		"lists:\n  - id: a\n    files: [list.txt]\n    domains: [a.example]\n",
		"0.0.0.0 a.example b.example\n", "||a.example^\n##x\n", "address=/a/b/\n",
		"10.0.0.0/8\n::/0\n", "http://a.example/x\n", "bücher.example\n", "*.x\n",
	} {
		f.Add([]byte(seed), "a.example")
	}
	f.Fuzz(func(t *testing.T, content []byte, query string) {
		fuzzLoad(t, "rules.txt", content, query)
	})
}

// The importers, each fed lines of its own shape so the fuzzer spends its
// time inside one parser.

func FuzzHosts(f *testing.F) {
	f.Add("127.0.0.1 localhost\n0.0.0.0 ads.example track.example # c\n::1 x\n", "ads.example")
	f.Fuzz(func(t *testing.T, content, query string) {
		fuzzLoad(t, "hosts", []byte("0.0.0.0 seed.example\n"+content), query)
	})
}

func FuzzAdblock(f *testing.F) {
	f.Add("||ads.example^\n||b^$important\n@@||c^\nexample.org##.ad\n", "ads.example")
	f.Fuzz(func(t *testing.T, content, query string) {
		fuzzLoad(t, "ab.txt", []byte("[Adblock Plus 2.0]\n"+content), query)
	})
}

func FuzzDnsmasq(f *testing.F) {
	f.Add("address=/a.example/b.example/0.0.0.0\nserver=/c/1.1.1.1\n", "a.example")
	f.Fuzz(func(t *testing.T, content, query string) {
		fuzzLoad(t, "dnsmasq.conf", []byte("address=/"+content), query)
	})
}

func FuzzURLsCIDRs(f *testing.F) {
	f.Add("http://a.example/x\n10.0.0.0/8\n2001:db8::/32\n[::1]:80/p\n", "a.example")
	f.Fuzz(func(t *testing.T, content, query string) {
		fuzzLoad(t, "urls.txt", []byte(content), query)
	})
}

func FuzzYAML(f *testing.F) {
	f.Add("  - id: a\n    domains: [a.example]\n    urls: [b.example/x]\n    cidrs: [10.0.0.0/8]\nallow:\n  domains: [.c]\n", "a.example")
	f.Fuzz(func(t *testing.T, content, query string) {
		fuzzLoad(t, "rules.yaml", []byte("lists:\n"+content), query)
	})
}

// FuzzNormalize checks the query normaliser and the entry normaliser
// against each other: a name accepted as an entry is found by a lookup of
// the same text.
func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"a.example", "BÜCHER.example.", ".x.y", "*.z", "a..b", "[::1]:1", "ＥＸ。com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf [maxQuery]byte
		normalizeQuery(&buf, s)
		toASCII(s)
		name, suffix, err := normalizeEntry(nil, s)
		if err != nil || suffix || maybeIP(s) {
			return
		}
		key, _, kind := normalizeQuery(&buf, s)
		if kind == queryName && string(key) != string(name) {
			t.Fatalf("entry %q → %q, query → %q", s, name, key)
		}
	})
}
