package rules

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxName is the longest DNS name in text form without the trailing dot.
const maxName = 253

// maxQuery bounds the lookup buffer: a name, or an IP literal's text form.
const maxQuery = 256

type queryKind uint8

const (
	queryBad  queryKind = iota // not a name: empty, too long, or not convertible
	queryName                  // key holds the normalised name
	queryIP                    // ip holds the address
)

// normalizeQuery turns a host as seen on the wire (SNI, Host header, DNS
// name) into a lookup key in buf: brackets and ":port" stripped, one
// trailing dot removed, ASCII lower-cased, non-ASCII names converted to
// A-labels (the only case that allocates). IP literals are returned as ip.
// Query names are not validated beyond that: a name no entry can hold simply
// does not match.
func normalizeQuery(buf *[maxQuery]byte, host string) ([]byte, netip.Addr, queryKind) {
	h := host
	if len(h) > 0 && h[0] == '[' {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return nil, netip.Addr{}, queryBad
		}
		ip, err := netip.ParseAddr(h[1:end])
		if err != nil {
			return nil, netip.Addr{}, queryBad
		}
		return nil, ip.Unmap(), queryIP
	}
	// One pass: lower-case into buf, note colons and non-ASCII bytes.
	if len(h) > maxQuery {
		return nil, netip.Addr{}, queryBad
	}
	colons, colon := 0, 0
	var high byte
	b := buf[:len(h)]
	for i := 0; i < len(h); i++ {
		c := h[i]
		high |= c
		if c == ':' {
			if colons == 0 {
				colon = i
			}
			colons++
		}
		b[i] = lowerASCII[c]
	}
	ascii := high < utf8.RuneSelf
	if colons > 1 {
		ip, err := netip.ParseAddr(h)
		if err != nil {
			return nil, netip.Addr{}, queryBad
		}
		return nil, ip.Unmap(), queryIP
	}
	if colons == 1 {
		h, b = h[:colon], b[:colon]
	}
	if n := len(b); n > 0 && b[n-1] == '.' {
		h, b = h[:n-1], b[:n-1]
	}
	if len(b) == 0 {
		return nil, netip.Addr{}, queryBad
	}
	if c := b[len(b)-1]; c >= '0' && c <= '9' {
		if ip, err := netip.ParseAddr(h); err == nil {
			return nil, ip.Unmap(), queryIP
		}
	}
	if !ascii {
		a, err := toASCII(h)
		if err != nil {
			return nil, netip.Addr{}, queryBad
		}
		a = strings.TrimSuffix(a, ".")
		if len(a) > maxName || a == "" {
			return nil, netip.Addr{}, queryBad
		}
		b = buf[:len(a)]
		for i := 0; i < len(a); i++ {
			c := a[i]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			b[i] = c
		}
	}
	if len(b) > maxName {
		return nil, netip.Addr{}, queryBad
	}
	return b, netip.Addr{}, queryName
}

// lowerASCII maps ASCII upper case to lower case and every other byte to
// itself.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			t[i] = byte(i) + 'a' - 'A'
		}
	}
	return t
}()

// normalizeEntry validates and normalises a name from a rules file and
// appends it to dst. suffix reports a leading "." or "*." (the name and all
// its subdomains). Accepted: labels of letters, digits, '-' and '_' (seen in
// real lists), 1–63 bytes each, at most 253 bytes in all; one trailing dot;
// U-labels, converted to A-labels.
func normalizeEntry(dst []byte, s string) (out []byte, suffix bool, err error) {
	switch {
	case strings.HasPrefix(s, "*."):
		s, suffix = s[2:], true
	case strings.HasPrefix(s, "."):
		s, suffix = s[1:], true
	}
	if n := len(s); n > 0 && s[n-1] == '.' {
		s = s[:n-1]
	}
	if s == "" {
		return dst, suffix, errors.New("empty name")
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			a, err := toASCII(s)
			if err != nil {
				return dst, suffix, err
			}
			s = a
			break
		}
	}
	if len(s) > maxName {
		return dst, suffix, fmt.Errorf("name longer than %d bytes", maxName)
	}
	start := len(dst)
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c == '.':
			if label == 0 {
				return dst[:start], suffix, errors.New("empty label")
			}
			label = -1
		default:
			return dst[:start], suffix, fmt.Errorf("character %q not allowed in a name", rune(c))
		}
		label++
		if label > 63 {
			return dst[:start], suffix, errors.New("label longer than 63 bytes")
		}
		dst = append(dst, c)
	}
	if label == 0 {
		return dst[:start], suffix, errors.New("empty label")
	}
	return dst, suffix, nil
}

// toASCII converts a name with U-labels to A-labels ("bücher.example" →
// "xn--bcher-kva.example"), for the common case of IDNA2008/UTS #46 lookup
// processing: the ideographic full stops are label separators, fullwidth
// ASCII maps to ASCII, letters are lower-cased (unicode.ToLower; ß and ς are
// kept, as in non-transitional processing), and each non-ASCII label is
// Punycode-encoded (RFC 3492). Labels must consist of letters, marks,
// digits, '-' and '_'. Input is expected in NFC (what every IDN-aware client
// sends); no Unicode normalisation is applied.
func toASCII(s string) (string, error) {
	var b strings.Builder
	b.Grow(len(s) + 8)
	labels := 0
	start := 0
	flush := func(label string) error {
		if labels > 0 {
			b.WriteByte('.')
		}
		labels++
		return appendLabel(&b, label)
	}
	for i, r := range s {
		if r == '.' || r == '\u3002' || r == '\uff0e' || r == '\uff61' {
			if err := flush(s[start:i]); err != nil {
				return "", err
			}
			start = i + utf8.RuneLen(r)
		}
	}
	if err := flush(s[start:]); err != nil {
		return "", err
	}
	return b.String(), nil
}

func appendLabel(b *strings.Builder, label string) error {
	if label == "" {
		// Empty labels are reported by the caller's validation; keep them.
		return nil
	}
	runes := make([]rune, 0, len(label))
	ascii := true
	for _, r := range label {
		if r == utf8.RuneError {
			return errors.New("invalid UTF-8 in name")
		}
		if r >= 0xFF01 && r <= 0xFF5E { // fullwidth ASCII
			r -= 0xFEE0
		}
		r = unicode.ToLower(r)
		if r >= utf8.RuneSelf {
			if !unicode.IsLetter(r) && !unicode.IsMark(r) && !unicode.IsDigit(r) {
				return fmt.Errorf("character %q not allowed in a name", r)
			}
			ascii = false
		}
		runes = append(runes, r)
	}
	if ascii {
		b.WriteString(string(runes))
		return nil
	}
	if unicode.IsMark(runes[0]) {
		return errors.New("label starts with a combining mark")
	}
	enc, err := punycode(runes)
	if err != nil {
		return err
	}
	b.WriteString("xn--")
	b.WriteString(enc)
	return nil
}

// Punycode parameters, RFC 3492 section 5.
const (
	pcBase        = 36
	pcTMin        = 1
	pcTMax        = 26
	pcSkew        = 38
	pcDamp        = 700
	pcInitialBias = 72
	pcInitialN    = 128
)

// punycode encodes a label (RFC 3492 section 6.3).
func punycode(input []rune) (string, error) {
	out := make([]byte, 0, len(input)*2)
	for _, r := range input {
		if r < 0x80 {
			out = append(out, byte(r))
		}
	}
	b := len(out)
	h := b
	if b > 0 {
		out = append(out, '-')
	}
	n, delta, bias := rune(pcInitialN), 0, pcInitialBias
	for h < len(input) {
		m := rune(0x7FFFFFFF)
		for _, r := range input {
			if r >= n && r < m {
				m = r
			}
		}
		if int(m-n) > (1<<31-1-delta)/(h+1) {
			return "", errors.New("punycode overflow")
		}
		delta += int(m-n) * (h + 1)
		n = m
		for _, r := range input {
			if r < n {
				delta++
			}
			if r == n {
				q := delta
				for k := pcBase; ; k += pcBase {
					t := k - bias
					if t < pcTMin {
						t = pcTMin
					} else if t > pcTMax {
						t = pcTMax
					}
					if q < t {
						break
					}
					out = append(out, pcDigit(t+(q-t)%(pcBase-t)))
					q = (q - t) / (pcBase - t)
				}
				out = append(out, pcDigit(q))
				bias = pcAdapt(delta, h+1, h == b)
				delta = 0
				h++
			}
		}
		delta++
		n++
	}
	return string(out), nil
}

func pcDigit(d int) byte {
	if d < 26 {
		return byte('a' + d)
	}
	return byte('0' + d - 26)
}

func pcAdapt(delta, numPoints int, first bool) int {
	if first {
		delta /= pcDamp
	} else {
		delta /= 2
	}
	delta += delta / numPoints
	k := 0
	for delta > ((pcBase-pcTMin)*pcTMax)/2 {
		delta /= pcBase - pcTMin
		k += pcBase
	}
	return k + (pcBase-pcTMin+1)*delta/(delta+pcSkew)
}

// URLPath returns the path of an HTTP request target, dropping the scheme
// and authority of an absolute-form target ("http://host/p" → "/p"): what
// follows the host in the name of an http_url lookup (the sensor's and
// `rules retro`'s alike).
func URLPath(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		u = u[i+3:]
		if j := strings.IndexByte(u, '/'); j >= 0 {
			return u[j:]
		}
		return "/"
	}
	return u
}
