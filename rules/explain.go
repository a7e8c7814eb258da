package rules

import (
	"fmt"
	"net/netip"
	"strings"
)

// Explanation is one entry that matches a query, for `nunchi rules test`.
type Explanation struct {
	Match            // the entry (for an allow entry, List is "allow")
	Kind      string // "exact", "suffix", "url", "cidr" or "allow"
	Reason    string // one line: why it matches
	Effective bool   // the entry MatchName/MatchURL/MatchIP returns
}

// Explain lists every entry that matches query and why, in the order the
// matcher considers them, marking the one that decides. query is a name
// ("www.casino.example", "Host:443" forms too), an IP address, or a URL
// ("news.example/forbidden/x", with or without a scheme). Allowlist entries
// that override are listed with Kind "allow".
func (s *Set) Explain(query string) []Explanation {
	if s == nil {
		return nil
	}
	q := strings.TrimSpace(query)
	host, path := q, ""
	if i := strings.Index(q, "://"); i >= 0 {
		host = q[i+3:]
	}
	isURL := false
	if i := strings.IndexByte(host, '/'); i >= 0 {
		if p, err := netip.ParsePrefix(host); err == nil {
			host = p.Addr().String() // a CIDR: explain its first address
		} else {
			host, path, isURL = host[:i], host[i:], true
		}
	}
	var out []Explanation
	var buf [maxQuery]byte
	key, ip, kind := normalizeQuery(&buf, host)
	var eff Match
	var effOK bool
	if isURL {
		eff, effOK = s.MatchURL(host, path)
	} else {
		eff, effOK = s.MatchName(host)
	}
	mark := func(e *Explanation) {
		e.Effective = effOK && e.RuleID == eff.RuleID && e.Pattern == eff.Pattern
	}
	switch kind {
	case queryIP:
		if isURL {
			out = s.explainURL(out, ipKey(&buf, ip), requestPath(path), mark)
		}
		for _, c := range s.cidrs.all(ip) {
			e := Explanation{Match: s.match(c.src, c.line, c.pattern), Kind: "cidr",
				Reason: fmt.Sprintf("%s is in %s", ip, c.pattern)}
			mark(&e)
			out = append(out, e)
		}
	case queryName:
		name := string(key)
		if isURL {
			out = s.explainURL(out, key, requestPath(path), mark)
		}
		s.names.findAll(key, func(en entry, level []byte) {
			e := Explanation{Match: s.match(en.src, en.line, en.pattern())}
			if len(level) == len(key) && en.kind != kindDot {
				e.Kind, e.Reason = "exact", fmt.Sprintf("%q is the name %q", name, e.Pattern)
			} else if len(level) == len(key) {
				e.Kind, e.Reason = "suffix", fmt.Sprintf("%q is the name of %q (the name and all subdomains)", name, e.Pattern)
			} else {
				e.Kind, e.Reason = "suffix", fmt.Sprintf("%q is a subdomain of %q", name, e.Pattern)
			}
			mark(&e)
			out = append(out, e)
		})
		s.allow.findAll(key, func(en entry, level []byte) {
			e := Explanation{Match: s.match(en.src, en.line, en.pattern()), Kind: "allow"}
			e.Reason = fmt.Sprintf("%q is allowlisted by %q (%s:%d): allow entries override every list",
				name, e.Pattern, s.sources[en.src].path, en.line)
			out = append(out, e)
		})
	}
	return out
}

func (s *Set) explainURL(out []Explanation, key []byte, path string, mark func(*Explanation)) []Explanation {
	for i := 0; ; {
		for _, u := range s.urls[string(key[i:])] {
			if (i == 0 || u.suffix) && strings.HasPrefix(path, u.path) {
				e := Explanation{Match: s.match(u.src, u.line, u.pattern), Kind: "url",
					Reason: fmt.Sprintf("%s%s starts with %q", key, path, u.pattern)}
				mark(&e)
				out = append(out, e)
			}
		}
		d := indexByte(key[i:], '.')
		if d < 0 {
			return out
		}
		i += d + 1
	}
}
