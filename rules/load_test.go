package rules

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func TestBadFiles(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		load  string   // file given to LoadFiles
		want  []string // each error, with "DIR/" for the directory
	}{
		{"invalid name", map[string]string{"l.txt": "ok.example\nbad_name!.example\n"}, "l.txt",
			[]string{`DIR/l.txt:2: invalid name "bad_name!.example": character '!' not allowed in a name`}},
		{"empty label", map[string]string{"l.txt": "a..example\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid name "a..example": empty label`}},
		{"long label", map[string]string{"l.txt": strings.Repeat("a", 64) + ".example\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid name "` + strings.Repeat("a", 64) + `.example": label longer than 63 bytes`}},
		{"invalid cidr", map[string]string{"l.txt": "10.0.0.0/33\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid CIDR "10.0.0.0/33"`}},
		{"hosts without ip", map[string]string{"l.txt": "ads.example other.example\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid line "ads.example other.example": want one entry per line, or a hosts line "IP name…"`}},
		{"dnsmasq catch-all", map[string]string{"l.txt": "address=/#/0.0.0.0\n"}, "l.txt",
			[]string{`DIR/l.txt:1: dnsmasq domain "#" matches every name; not supported`}},
		{"dnsmasq malformed", map[string]string{"l.txt": "address=a.example\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid dnsmasq line: want /name/…/ after "="`}},
		{"several errors", map[string]string{"l.txt": "a b\nok.example\nx y\n"}, "l.txt",
			[]string{`DIR/l.txt:1: invalid line "a b"`, `DIR/l.txt:3: invalid line "x y"`}},
		{"unknown key", map[string]string{"r.yaml": "lists:\n  - id: a\n    domain: [x.example]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[0].domain: unknown key`}},
		{"unknown top key", map[string]string{"r.yaml": "lists: []\nblock: 1\n"}, "r.yaml",
			[]string{`DIR/r.yaml:2: block: unknown key`}},
		{"bad action", map[string]string{"r.yaml": "lists:\n  - id: a\n    action: drop\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[0].action: unknown action "drop" (want log, alert or inject)`}},
		{"missing id", map[string]string{"r.yaml": "lists:\n  - version: x\n    domains: [a.example]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:2: lists[0].id: empty list id`}},
		{"duplicate id", map[string]string{"r.yaml": "lists:\n  - id: a\n  - id: a\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[1].id: duplicate list id "a" (first at DIR/r.yaml:2)`}},
		{"yaml entry", map[string]string{"r.yaml": "lists:\n  - id: a\n    domains:\n      - good.example\n      - \"bad name\"\n    cidrs: [1.2.3.0/99]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:5: lists[0].domains[1]: invalid name "bad name": character ' ' not allowed in a name`,
				`DIR/r.yaml:6: lists[0].cidrs[0]: invalid CIDR "1.2.3.0/99"`}},
		{"yaml url", map[string]string{"r.yaml": "lists:\n  - id: a\n    urls: [\"x.example:99999/p\"]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[0].urls[0]: invalid URL "x.example:99999/p": bad port`}},
		{"missing list file", map[string]string{"r.yaml": "lists:\n  - id: a\n    files: [nope.txt]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[0].files[0]: DIR/nope.txt: no such file or directory`}},
		{"error inside list file", map[string]string{"r.yaml": "lists:\n  - id: a\n    files: [l/x.txt]\n", "l/x.txt": "\n\nfoo..bar\n"}, "r.yaml",
			[]string{`DIR/l/x.txt:3: invalid name "foo..bar": empty label`}},
		{"list file is yaml", map[string]string{"r.yaml": "lists:\n  - id: a\n    files: [b.yaml]\n", "b.yaml": "lists: []\n"}, "r.yaml",
			[]string{`DIR/r.yaml:3: lists[0].files[0]: DIR/b.yaml is a YAML rules file; list files hold entries only`}},
		{"yaml syntax", map[string]string{"r.yaml": "lists:\n  - id: [a\n"}, "r.yaml",
			[]string{`DIR/r.yaml:`, `invalid YAML`}},
		{"bad allow", map[string]string{"r.yaml": "allow:\n  domains: [\"*x.example\"]\n"}, "r.yaml",
			[]string{`DIR/r.yaml:2: allow.domains[0]: invalid name "*x.example": character '*' not allowed in a name`}},
		{"bad list id from file name", map[string]string{"a:b.txt": "x.example\n"}, "a:b.txt",
			[]string{`DIR/a:b.txt: list id "a:b": only letters`}},
		{"missing file", map[string]string{}, "none.txt",
			[]string{`DIR/none.txt: no such file or directory`}},
		{"duplicate file list id", map[string]string{"a.txt": "x.example\n", "b/a.txt": "y.example\n"}, "a.txt,b/a.txt",
			[]string{`DIR/b/a.txt: duplicate list id "a" (first in DIR/a.txt)`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, c.files)
			var paths []string
			for _, p := range strings.Split(c.load, ",") {
				paths = append(paths, filepath.Join(dir, p))
			}
			s, err := LoadFiles(paths...)
			if err == nil {
				t.Fatalf("LoadFiles succeeded: %+v", s.Stats())
			}
			if s != nil {
				t.Error("LoadFiles returned a Set with an error")
			}
			msg := err.Error()
			lines := strings.Split(msg, "\n")
			for _, w := range c.want {
				w = strings.ReplaceAll(w, "DIR", dir)
				if !strings.Contains(msg, w) {
					t.Errorf("error %q\ndoes not contain %q", msg, w)
				}
			}
			if len(c.want) > 1 && c.want[1][:3] == "DIR" && len(lines) != len(c.want) {
				t.Errorf("got %d errors, want %d:\n%s", len(lines), len(c.want), msg)
			}
			var re *Error
			if !errors.As(err, &re) {
				t.Errorf("error is not a *rules.Error: %T", err)
			}
		})
	}
	if _, err := LoadFiles(); !errors.Is(err, ErrNoRules) {
		t.Errorf("LoadFiles() = %v", err)
	}
}

func TestTooManyErrors(t *testing.T) {
	dir := writeFiles(t, map[string]string{"l.txt": strings.Repeat("bad!\n", 150)})
	_, err := LoadFiles(filepath.Join(dir, "l.txt"))
	if err == nil || !strings.HasSuffix(err.Error(), "50 more errors not shown") {
		t.Errorf("err = …%s", err.Error()[max(0, len(err.Error())-60):])
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		head          string
		yaml, adblock bool
	}{
		{"lists:\n", true, false},
		{"# comment\n\nallow:\n  domains: []\n", true, false},
		{"---\nlists: []\n", true, false},
		{"\xef\xbb\xbflists:\n", true, false},
		{"a.example\n", false, false},
		{"fe80::1 host\n", false, false},
		{"0.0.0.0 x.example\n", false, false},
		{"address=/x/0.0.0.0\n", false, false},
		{"! Title: list\n||x^\n", false, true},
		{"[Adblock Plus 2.0]\n", false, true},
		{"x.example\n||y.example^\n", false, true},
	}
	for _, c := range cases {
		if got := isYAML([]byte(c.head)); got != c.yaml {
			t.Errorf("isYAML(%q) = %v", c.head, got)
		}
		if got := isAdblock([]byte(c.head)); got != c.adblock {
			t.Errorf("isAdblock(%q) = %v", c.head, got)
		}
	}
}

func TestLongLine(t *testing.T) {
	dir := writeFiles(t, map[string]string{"l.txt": "a.example\n" + strings.Repeat("x", 70<<10) + "\nb.example\n"})
	_, err := LoadFiles(filepath.Join(dir, "l.txt"))
	if err == nil || !strings.Contains(err.Error(), "l.txt:2: line longer than") {
		t.Fatalf("err = %v", err)
	}
}

func TestCRLFAndBOM(t *testing.T) {
	dir := writeFiles(t, map[string]string{"l.txt": "\xef\xbb\xbfa.example\r\n0.0.0.0 b.example\r\n"})
	s := mustLoad(t, filepath.Join(dir, "l.txt"))
	for _, n := range []string{"a.example", "b.example"} {
		if _, ok := s.MatchName(n); !ok {
			t.Errorf("%s: no match", n)
		}
	}
}

// plainNameReference is plainName written the obvious way, byte by byte.
func plainNameReference(s string) (int, bool) {
	if len(s) > maxName {
		return 0, false
	}
	label, letters, labels := 0, false, 1
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			letters = true
		case c >= '0' && c <= '9', c == '-', c == '_':
		case c == '.':
			if label == 0 {
				return 0, false
			}
			labels++
			label = -1
		default:
			return 0, false
		}
		if label++; label > 63 {
			return 0, false
		}
	}
	return labels, label > 0 && letters
}

func TestPlainNameAgainstReference(t *testing.T) {
	cases := []string{"", ".", "a", "a.", ".a", "a..b", "example.com", "1.2.3.4", "1.2.3.a", "-.-", "_a",
		"A.com", "ex ample.com", "xn--bcher-kva.example", strings.Repeat("a", 63) + ".com",
		strings.Repeat("a", 64) + ".com", "com." + strings.Repeat("b", 63), "com." + strings.Repeat("b", 64),
		strings.Repeat("a.", 126) + "b", strings.Repeat("a.", 127)}
	alphabet := "ab09-_.A \x80z"
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		b := make([]byte, rng.IntN(80))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		gl, gok := plainName(s)
		wl, wok := plainNameReference(s)
		if gok != wok || (gok && gl != wl) {
			t.Fatalf("plainName(%q) = %d, %v; reference %d, %v", s, gl, gok, wl, wok)
		}
	}
}
