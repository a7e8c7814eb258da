package tor

import (
	"strings"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// randomPart returns the random label of a name of Tor's shape
// "www.<base32>.<tld>" with the given TLDs, or "".
func randomPart(name string, tlds ...string) string {
	if !strings.HasPrefix(name, "www.") {
		return ""
	}
	rest := name[4:]
	for _, tld := range tlds {
		if r, ok := strings.CutSuffix(rest, tld); ok {
			if len(r) < 4 || len(r) > 25 {
				return ""
			}
			for i := 0; i < len(r); i++ {
				c := r[i]
				if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
					return ""
				}
			}
			return r
		}
	}
	return ""
}

// looksRandom: base32 digits mixed in, or too few vowels for a word.
func looksRandom(r string) bool {
	digits, vowels, letters := 0, 0, 0
	for i := 0; i < len(r); i++ {
		switch c := r[i]; {
		case c >= '2' && c <= '7':
			digits++
		case c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u':
			vowels++
			letters++
		default:
			letters++
		}
	}
	if digits > 0 && letters > 0 {
		return true
	}
	return len(r) >= 8 && vowels*5 < letters
}

// cn returns the CN value of a distinguished name ("CN=x, O=y" or "x").
func cn(dn string) string {
	for part := range strings.SplitSeq(dn, ",") {
		part = strings.TrimSpace(part)
		if v, ok := strings.CutPrefix(part, "CN="); ok {
			return v
		}
	}
	return ""
}

// Verdict is Check's result.
type Verdict struct {
	Tor        bool
	Confidence string // high | medium
	Cert       bool   // certificate names of Tor's shape
	Random     bool   // the SNI's random part looks random
	NoALPN     bool
}

// Check applies the heuristic to one TLS event object.
func Check(t *detect.TLS) Verdict {
	var v Verdict
	r := randomPart(strings.ToLower(t.SNI), ".com", ".net")
	if r == "" {
		return v
	}
	v.Random = looksRandom(r)
	v.NoALPN = len(t.ALPN) == 0
	subj, iss := cn(t.Subject), cn(t.IssuerDN)
	v.Cert = subj != "" && iss != "" && subj != iss &&
		randomPart(subj, ".net", ".com") != "" && randomPart(iss, ".com", ".net") != ""
	switch {
	case v.Cert:
		v.Tor, v.Confidence = true, "high"
	case v.Random && v.NoALPN:
		v.Tor, v.Confidence = true, "medium"
	}
	return v
}

// Derive reports a Tor connection from a tls event (report.Derive).
func Derive(e *detect.Event, arena *detect.Arena) *detect.Event {
	if e.TLS == nil {
		return nil
	}
	v := Check(e.TLS)
	if !v.Tor {
		return nil
	}
	evidence := "sni+random+no_alpn"
	if v.Cert {
		evidence = "sni+cert"
	}
	return report.New(arena, e.Timestamp, "tor", "tls",
		detect.Str("confidence", v.Confidence),
		detect.Str("evidence", evidence),
		detect.Str("sni", e.TLS.SNI), // already the event's (arena) string
		detect.Str("version", e.TLS.Version),
	)
}
