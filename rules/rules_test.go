package rules

import (
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeFiles creates files (name → content) in a temporary directory and
// returns the directory.
func writeFiles(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mustLoad(t testing.TB, paths ...string) *Set {
	t.Helper()
	s, err := LoadFiles(paths...)
	if err != nil {
		t.Fatalf("LoadFiles: %v", err)
	}
	return s
}

const testRules = `# test rules
lists:
  - id: gambling
    version: "2026-11-01"
    category: gambling
    action: inject
    domains: [blocked.example, .casino.example, "*.poker.example", bücher.example, "TRAILING.example."]
    urls: [news.example/forbidden/, "https://video.example/watch?v=bad", ".wiki.example/banned"]
    cidrs: [203.0.113.0/28, "2001:db8:bad::/48", 198.51.100.7]
    files: [lists/gambling.txt]
  - id: news
    version: v7
    action: log
    domains: [news.example]
    cidrs: [203.0.113.0/24, 2001:db8::/32]
allow:
  domains: [ok.casino.example, .fine.poker.example]
`

const gamblingTxt = `# plain list
roulette.example
.slots.example

1.2.3.4
`

func testSet(t testing.TB) (*Set, string) {
	dir := writeFiles(t, map[string]string{
		"rules.yaml":         testRules,
		"lists/gambling.txt": gamblingTxt,
	})
	return mustLoad(t, filepath.Join(dir, "rules.yaml")), dir
}

func TestMatchName(t *testing.T) {
	s, _ := testSet(t)
	cases := []struct {
		name    string
		query   string
		rule    string // "" = no match
		pattern string
	}{
		{"exact", "blocked.example", "gambling:rules.yaml:7", "blocked.example"},
		{"exact is not suffix", "www.blocked.example", "", ""},
		{"uppercase", "BLOCKED.Example", "gambling:rules.yaml:7", "blocked.example"},
		{"trailing dot", "blocked.example.", "gambling:rules.yaml:7", "blocked.example"},
		{"entry with trailing dot", "trailing.example", "gambling:rules.yaml:7", "trailing.example"},
		{"port", "blocked.example:443", "gambling:rules.yaml:7", "blocked.example"},
		{"dot suffix self", "casino.example", "gambling:rules.yaml:7", ".casino.example"},
		{"dot suffix sub", "a.b.casino.example", "gambling:rules.yaml:7", ".casino.example"},
		{"not a label boundary", "xcasino.example", "", ""},
		{"star suffix", "www.poker.example", "gambling:rules.yaml:7", ".poker.example"},
		{"star suffix self", "poker.example", "gambling:rules.yaml:7", ".poker.example"},
		{"allow exact", "ok.casino.example", "", ""},
		{"allow exact only", "sub.ok.casino.example", "gambling:rules.yaml:7", ".casino.example"},
		{"allow suffix", "a.fine.poker.example", "", ""},
		{"idna unicode query", "bücher.example", "gambling:rules.yaml:7", "xn--bcher-kva.example"},
		{"idna punycode query", "xn--bcher-kva.example", "gambling:rules.yaml:7", "xn--bcher-kva.example"},
		{"idna uppercase unicode", "BÜCHER.example", "gambling:rules.yaml:7", "xn--bcher-kva.example"},
		{"file list", "roulette.example", "gambling:gambling.txt:2", "roulette.example"},
		{"file suffix", "x.slots.example", "gambling:gambling.txt:3", ".slots.example"},
		{"ip literal in sni vs cidr", "203.0.113.5", "gambling:rules.yaml:9", "203.0.113.0/28"},
		{"ip literal longest prefix", "203.0.113.200", "news:rules.yaml:15", "203.0.113.0/24"},
		{"ip literal from list", "1.2.3.4", "gambling:gambling.txt:5", "1.2.3.4"},
		{"bracketed v6 with port", "[2001:db8:bad::1]:443", "gambling:rules.yaml:9", "2001:db8:bad::/48"},
		{"bare v6", "2001:db8:1::1", "news:rules.yaml:15", "2001:db8::/32"},
		{"other list", "news.example", "news:rules.yaml:14", "news.example"},
		{"miss", "example.org", "", ""},
		{"empty", "", "", ""},
		{"dot only", ".", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, ok := s.MatchName(c.query)
			if ok != (c.rule != "") {
				t.Fatalf("MatchName(%q) = %+v, %v; want match %v", c.query, m, ok, c.rule != "")
			}
			if !ok {
				return
			}
			if m.RuleID != c.rule || m.Pattern != c.pattern {
				t.Errorf("MatchName(%q) = %s %q; want %s %q", c.query, m.RuleID, m.Pattern, c.rule, c.pattern)
			}
		})
	}
}

func TestMatchProvenance(t *testing.T) {
	s, dir := testSet(t)
	m, ok := s.MatchName("www.casino.example")
	want := Match{RuleID: "gambling:rules.yaml:7", List: "gambling", ListVersion: "2026-11-01",
		Category: "gambling", Pattern: ".casino.example", Action: ActionInject,
		Source: filepath.Join(dir, "rules.yaml"), Line: 7}
	if !ok || m != want {
		t.Fatalf("MatchName = %+v, %v\nwant %+v", m, ok, want)
	}
	m, _ = s.MatchName("news.example")
	if m.Action != ActionLog || m.ListVersion != "v7" || m.Action.String() != "log" {
		t.Errorf("news: %+v", m)
	}
}

func TestMatchURL(t *testing.T) {
	s, _ := testSet(t)
	cases := []struct {
		name, host, path string
		rule, pattern    string
	}{
		{"prefix", "news.example", "/forbidden/story", "gambling:rules.yaml:8", "news.example/forbidden/"},
		{"prefix with port", "NEWS.example:8080", "/forbidden/", "gambling:rules.yaml:8", "news.example/forbidden/"},
		{"absolute form", "news.example", "http://news.example/forbidden/x", "gambling:rules.yaml:8", "news.example/forbidden/"},
		{"host-only falls back to name", "news.example", "/sports", "news:rules.yaml:14", "news.example"},
		{"url entry needs exact host", "www.news.example", "/forbidden/", "", ""},
		{"scheme stripped from entry", "video.example", "/watch?v=bad&t=1", "gambling:rules.yaml:8", "video.example/watch?v=bad"},
		{"other video", "video.example", "/watch?v=good", "", ""},
		{"suffix url", "en.wiki.example", "/banned/page", "gambling:rules.yaml:8", ".wiki.example/banned"},
		{"path case matters", "news.example", "/FORBIDDEN/", "news:rules.yaml:14", "news.example"},
		{"name suffix through url", "a.casino.example", "/", "gambling:rules.yaml:7", ".casino.example"},
		{"allow wins over url host", "ok.casino.example", "/", "", ""},
		{"ip host", "203.0.113.1:80", "/", "gambling:rules.yaml:9", "203.0.113.0/28"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, ok := s.MatchURL(c.host, c.path)
			if ok != (c.rule != "") {
				t.Fatalf("MatchURL(%q, %q) = %+v, %v", c.host, c.path, m, ok)
			}
			if ok && (m.RuleID != c.rule || m.Pattern != c.pattern) {
				t.Errorf("MatchURL(%q, %q) = %s %q; want %s %q", c.host, c.path, m.RuleID, m.Pattern, c.rule, c.pattern)
			}
		})
	}
}

func TestMatchIP(t *testing.T) {
	s, _ := testSet(t)
	cases := []struct {
		ip, pattern string
	}{
		{"203.0.113.1", "203.0.113.0/28"},
		{"203.0.113.15", "203.0.113.0/28"},
		{"203.0.113.16", "203.0.113.0/24"},
		{"203.0.114.1", ""},
		{"::ffff:203.0.113.2", "203.0.113.0/28"},
		{"198.51.100.7", "198.51.100.7"},
		{"198.51.100.8", ""},
		{"2001:db8:bad:1::1", "2001:db8:bad::/48"},
		{"2001:db8:1::1", "2001:db8::/32"},
		{"2001:db9::1", ""},
	}
	for _, c := range cases {
		m, ok := s.MatchIP(netip.MustParseAddr(c.ip))
		if ok != (c.pattern != "") || ok && m.Pattern != c.pattern {
			t.Errorf("MatchIP(%s) = %q, %v; want %q", c.ip, m.Pattern, ok, c.pattern)
		}
	}
	var nilSet *Set
	if _, ok := nilSet.MatchIP(netip.MustParseAddr("1.2.3.4")); ok {
		t.Error("nil set matched")
	}
	if _, ok := nilSet.MatchName("x.example"); ok {
		t.Error("nil set matched")
	}
}

func TestToASCII(t *testing.T) {
	cases := []struct{ in, want string }{
		{"bücher.example", "xn--bcher-kva.example"},
		{"München.de", "xn--mnchen-3ya.de"},
		{"例え.テスト", "xn--r8jz45g.xn--zckzah"},
		{"пример.рф", "xn--e1afmkfd.xn--p1ai"},
		{"straße.de", "xn--strae-oqa.de"},
		{"ＥＸＡＭＰＬＥ。com", "example.com"},
		{"Ελληνικά.gr", "xn--hxargifdar.gr"},
		{"☃.example", ""}, // symbol: rejected
	}
	for _, c := range cases {
		got, err := toASCII(c.in)
		if c.want == "" {
			if err == nil {
				t.Errorf("toASCII(%q) = %q, want error", c.in, got)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("toASCII(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	// RFC 3492 section 7.1 sample (B): Chinese (simplified).
	got, _ := punycode([]rune("\u4ed6\u4eec\u4e3a\u4ec0\u4e48\u4e0d\u8bf4\u4e2d\u6587"))
	if got != "ihqwcrb4cv8a8dqg056pqjye" {
		t.Errorf("punycode sample B = %q", got)
	}
	// (L) 3<nen>B<gumi><kinpachi><sensei>: mixed case basic code points kept.
	got, _ = punycode([]rune("3\u5e74B\u7d44\u91d1\u516b\u5148\u751f"))
	if got != "3B-ww4c5e180e575a65lsy2b" {
		t.Errorf("punycode sample L = %q", got)
	}
}

func TestFormats(t *testing.T) {
	cases := []struct {
		name    string
		file    string // content of list.txt
		hit     []string
		miss    []string
		ignored int
	}{
		{"plain domains", "# c\na.example\n\n.b.example\n*.c.example\nD.Example.\n",
			[]string{"a.example", "b.example", "x.b.example", "x.c.example", "d.example"},
			[]string{"x.a.example", "e.example"}, 0},
		{"hosts", "127.0.0.1 localhost\n::1 ip6-localhost ip6-loopback\n0.0.0.0 0.0.0.0\n0.0.0.0 ads.example track.example # trailing\n127.0.0.1\tx.example\n",
			[]string{"ads.example", "track.example", "x.example"},
			[]string{"localhost", "www.ads.example", "0.0.0.0"}, 0},
		{"adblock", "[Adblock Plus 2.0]\n! comment\n||ads.example^\n||b.example^$important\n||c.example\n##.banner\nexample.org##.ad\n@@||ok.example^\n||x.example^$third-party\n/banner/*\n",
			[]string{"ads.example", "sub.ads.example", "b.example", "c.example"},
			[]string{"ok.example", "x.example", "example.org"}, 5},
		{"dnsmasq", "address=/a.example/0.0.0.0\nserver=/b.example/c.example/\nlocal=/d.example/\naddress=/e.example/::\n",
			[]string{"a.example", "x.a.example", "b.example", "c.example", "y.d.example", "e.example"},
			[]string{"example"}, 0},
		{"cidr", "10.0.0.0/8\n2001:db8::/32\n192.0.2.1\n",
			[]string{"10.1.2.3", "[2001:db8::5]", "192.0.2.1"},
			[]string{"11.0.0.1", "192.0.2.2"}, 0},
		{"urls", "http://u.example/bad\nv.example/x/\n",
			nil, []string{"u.example"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"list.txt": c.file})
			s := mustLoad(t, filepath.Join(dir, "list.txt"))
			for _, h := range c.hit {
				m, ok := s.MatchName(h)
				if !ok {
					t.Errorf("MatchName(%q): no match", h)
					continue
				}
				if m.List != "list" || m.Action != ActionAlert || len(m.ListVersion) != 10 {
					t.Errorf("MatchName(%q) = %+v: want list \"list\", alert, a date version", h, m)
				}
			}
			for _, h := range c.miss {
				if m, ok := s.MatchName(h); ok {
					t.Errorf("MatchName(%q) = %+v, want no match", h, m)
				}
			}
			if st := s.Stats(); st.Ignored != c.ignored {
				t.Errorf("Ignored = %d, want %d (warnings %q)", st.Ignored, c.ignored, s.Warnings())
			}
		})
	}
	dir := writeFiles(t, map[string]string{"urls.txt": "http://u.example/bad\nv.example/x/\n[2001:db8::1]:8080/p\n"})
	s := mustLoad(t, filepath.Join(dir, "urls.txt"))
	for _, u := range [][2]string{{"u.example", "/bad/x"}, {"v.example", "/x/y"}, {"[2001:db8::1]", "/p"}} {
		if _, ok := s.MatchURL(u[0], u[1]); !ok {
			t.Errorf("MatchURL(%q, %q): no match", u[0], u[1])
		}
	}
	if _, ok := s.MatchURL("v.example", "/y"); ok {
		t.Error("MatchURL v.example/y matched")
	}
}

func TestDuplicatesFirstWins(t *testing.T) {
	dir := writeFiles(t, map[string]string{"a.txt": "x.example\n", "b.txt": ".x.example\nx.example\n"})
	s := mustLoad(t, filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt"))
	if m, _ := s.MatchName("x.example"); m.RuleID != "a:a.txt:1" {
		t.Errorf("x.example: %s", m.RuleID)
	}
	if m, _ := s.MatchName("y.x.example"); m.RuleID != "b:b.txt:1" {
		t.Errorf("y.x.example: %s", m.RuleID)
	}
	ex := s.Explain("x.example")
	if len(ex) != 3 || !ex[0].Effective || ex[1].Effective {
		t.Errorf("Explain = %+v", ex)
	}
}

func TestExplain(t *testing.T) {
	s, _ := testSet(t)
	cases := []struct {
		query string
		kinds []string // Kind of each explanation, in order
		eff   int      // index of the effective one, -1 none
	}{
		{"www.casino.example", []string{"suffix"}, 0},
		{"ok.casino.example", []string{"suffix", "allow"}, -1},
		{"203.0.113.5", []string{"cidr", "cidr"}, 0},
		{"203.0.113.0/28", []string{"cidr", "cidr"}, 0},
		{"[2001:db8:bad::1]:443", []string{"cidr", "cidr"}, 0},
		{"news.example/forbidden/a", []string{"url", "exact"}, 0},
		{"http://news.example/other", []string{"exact"}, 0},
		{"nothing.example", nil, -1},
	}
	for _, c := range cases {
		ex := s.Explain(c.query)
		var kinds []string
		eff := -1
		for i, e := range ex {
			kinds = append(kinds, e.Kind)
			if e.Effective {
				eff = i
			}
			if e.Reason == "" {
				t.Errorf("Explain(%q)[%d]: empty reason", c.query, i)
			}
		}
		if strings.Join(kinds, ",") != strings.Join(c.kinds, ",") || eff != c.eff {
			t.Errorf("Explain(%q) = %v (effective %d); want %v (%d)\n%+v", c.query, kinds, eff, c.kinds, c.eff, ex)
		}
	}
}

func TestStats(t *testing.T) {
	s, _ := testSet(t)
	st := s.Stats()
	if len(st.Lists) != 2 {
		t.Fatalf("lists: %+v", st.Lists)
	}
	g := st.Lists[0]
	if g.ID != "gambling" || g.Exact != 4 || g.Suffix != 3 || g.URLs != 3 || g.CIDRs != 4 || g.Action != ActionInject {
		t.Errorf("gambling stats: %+v", g)
	}
	if st.Names != 8 || st.Allow != 2 || st.Files != 2 || st.MemoryBytes <= 0 || st.LoadTime <= 0 {
		t.Errorf("stats: %+v", st)
	}
}

func TestAllocs(t *testing.T) {
	s, _ := testSet(t)
	ip := netip.MustParseAddr("203.0.113.5")
	ip6 := netip.MustParseAddr("2001:db8:bad::1")
	cases := []struct {
		name string
		f    func()
	}{
		{"MatchName hit", func() { s.MatchName("www.casino.example") }},
		{"MatchName hit port", func() { s.MatchName("Blocked.Example:443") }},
		{"MatchName miss", func() { s.MatchName("www.example.org") }},
		{"MatchName allow", func() { s.MatchName("ok.casino.example") }},
		{"MatchName ip", func() { s.MatchName("203.0.113.5") }},
		{"MatchIP v4", func() { s.MatchIP(ip) }},
		{"MatchIP v6", func() { s.MatchIP(ip6) }},
		{"MatchURL hit", func() { s.MatchURL("news.example", "/forbidden/x") }},
		{"MatchURL miss", func() { s.MatchURL("www.example.org", "/forbidden/x") }},
	}
	for _, c := range cases {
		if n := testing.AllocsPerRun(100, c.f); n != 0 {
			t.Errorf("%s: %v allocs per run, want 0", c.name, n)
		}
	}
}

func TestAddressEntries(t *testing.T) {
	dir := writeFiles(t, map[string]string{"l.txt": "::ffff:192.0.2.9\n||198.51.100.1^\n2001:db8::1\n"})
	s := mustLoad(t, filepath.Join(dir, "l.txt"))
	for q, want := range map[string]string{"192.0.2.9": "192.0.2.9", "198.51.100.1": "198.51.100.1", "[2001:db8::1]:443": "2001:db8::1"} {
		if m, ok := s.MatchName(q); !ok || m.Pattern != want {
			t.Errorf("MatchName(%q) = %q, %v; want %q", q, m.Pattern, ok, want)
		}
	}
	dir = writeFiles(t, map[string]string{"l.txt": "fe80::1%eth0\n"})
	if _, err := LoadFiles(filepath.Join(dir, "l.txt")); err == nil || !strings.Contains(err.Error(), "zones are not allowed") {
		t.Errorf("zone: %v", err)
	}
}

// TestGeneratedSet loads a generated list large enough for several arena
// chunks' worth of probing and checks that every entry is found (exact
// entries by name, suffix entries by a subdomain) and that other names
// are not, so the Bloom filters never hide an entry.
func TestGeneratedSet(t *testing.T) {
	n := 200_000
	if testing.Short() {
		n = 20_000
	}
	r := rand.New(rand.NewPCG(7, 7))
	var b strings.Builder
	var names []string
	seen := map[string]bool{}
	for range n {
		name, _ := benchName(r, nil)
		names = append(names, string(name))
		seen[strings.TrimPrefix(string(name), ".")] = true
		b.Write(name)
		b.WriteByte('\n')
	}
	dir := writeFiles(t, map[string]string{"gen.txt": b.String()})
	s := mustLoad(t, filepath.Join(dir, "gen.txt"))
	for _, name := range names {
		q := name
		if strings.HasPrefix(name, ".") {
			q = "www" + name
		}
		if _, ok := s.MatchName(q); !ok {
			t.Fatalf("MatchName(%q): entry %q not found", q, name)
		}
	}
	q := rand.New(rand.NewPCG(8, 8))
	for range 20_000 {
		name, _ := benchName(q, []byte("q"))
		if seen[strings.TrimPrefix(string(name), ".")] {
			continue
		}
		if m, ok := s.MatchName(strings.TrimPrefix(string(name), ".")); ok && !strings.HasSuffix(string(name), m.Pattern) {
			t.Fatalf("MatchName(%q) = %q", name, m.Pattern)
		}
	}
}
