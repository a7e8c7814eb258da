package tls

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"

	"github.com/nunchi-sensor/nunchi/detect"
)

// Extension types used here (IANA "TLS ExtensionType Values").
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extECPointFormats      = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
	extECH                 = 0xfe0d
)

// Errors returned by the parsers.
var (
	ErrShort     = errors.New("tls: message truncated")
	ErrMalformed = errors.New("tls: malformed message")
)

// ClientHello is a parsed ClientHello handshake message. Slices keep wire
// order and include GREASE values (use IsGREASE to skip).
//
// Strings are copies; slices are owned by the ClientHello (a ClientHello
// reused through (*ClientHello).Parse keeps its backing arrays).
type ClientHello struct {
	LegacyVersion       uint16
	CipherSuites        []uint16
	Extensions          []uint16 // extension types in wire order
	SNI                 string   // server_name host_name (as sent; lower-casing is the caller's business)
	HasSNI              bool     // a server_name extension was present (JA4 "d"), even if empty
	ALPN                []string
	SupportedVersions   []uint16
	SupportedGroups     []uint16
	ECPointFormats      []uint8
	SignatureAlgorithms []uint16
	ECH                 bool // encrypted_client_hello (0xfe0d) present
	SessionIDLen        int  // legacy_session_id length
	// SNINames counts host_name entries over every server_name extension
	// and SNIExts the server_name extensions: RFC 6066 allows one name and
	// one extension; more is a filter evasion (the filter reads one name,
	// the server another). OtherSNI is the first name that is not SNI.
	SNINames int
	SNIExts  int
	OtherSNI string

	arena *detect.Arena // where strings go (nil: their own allocations)
}

// SetArena makes Parse take its strings (SNI, ALPN) from a.
func (c *ClientHello) SetArena(a *detect.Arena) { c.arena = a }

// IsGREASE reports whether v is one of the reserved GREASE values of
// RFC 8701 (0x0a0a, 0x1a1a, … 0xfafa).
func IsGREASE(v uint16) bool {
	return v&0x0f0f == 0x0a0a && v>>8 == v&0xff
}

// ParseClientHello parses the body of a ClientHello handshake message
// (after the 4-byte handshake header). It never panics and returns an error
// for malformed input.
func ParseClientHello(body []byte) (*ClientHello, error) {
	c := new(ClientHello)
	if err := c.Parse(body); err != nil {
		return nil, err
	}
	return c, nil
}

// reader is a bounds-checked cursor over a byte slice. Once a read fails,
// ok is false and every later read returns zero values.
type reader struct {
	b  []byte
	ok bool
}

func (r *reader) u8() uint8 {
	if !r.ok || len(r.b) < 1 {
		r.ok = false
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) u16() uint16 {
	if !r.ok || len(r.b) < 2 {
		r.ok = false
		return 0
	}
	v := uint16(r.b[0])<<8 | uint16(r.b[1])
	r.b = r.b[2:]
	return v
}

func (r *reader) u24() int {
	if !r.ok || len(r.b) < 3 {
		r.ok = false
		return 0
	}
	v := int(r.b[0])<<16 | int(r.b[1])<<8 | int(r.b[2])
	r.b = r.b[3:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if !r.ok || n < 0 || len(r.b) < n {
		r.ok = false
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// vec8/vec16/vec24 read a length-prefixed vector.
func (r *reader) vec8() []byte  { return r.bytes(int(r.u8())) }
func (r *reader) vec16() []byte { return r.bytes(int(r.u16())) }
func (r *reader) vec24() []byte { return r.bytes(r.u24()) }

// u16list decodes a vector of uint16 into dst[:0]; odd lengths are malformed.
func u16list(dst []uint16, b []byte) ([]uint16, bool) {
	dst = dst[:0]
	if len(b)%2 != 0 {
		return dst, false
	}
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return dst, true
}

// Parse parses body into c, reusing c's slices. On error c holds partial
// data and must not be used.
func (c *ClientHello) Parse(body []byte) error {
	*c = ClientHello{
		CipherSuites:        c.CipherSuites[:0],
		Extensions:          c.Extensions[:0],
		ALPN:                c.ALPN[:0],
		SupportedVersions:   c.SupportedVersions[:0],
		SupportedGroups:     c.SupportedGroups[:0],
		ECPointFormats:      c.ECPointFormats[:0],
		SignatureAlgorithms: c.SignatureAlgorithms[:0],
		arena:               c.arena,
	}
	r := reader{b: body, ok: true}
	c.LegacyVersion = r.u16()
	r.bytes(32) // random
	sid := r.vec8()
	c.SessionIDLen = len(sid)
	suites := r.vec16()
	comp := r.vec8()
	if !r.ok {
		return ErrShort
	}
	var ok bool
	if c.CipherSuites, ok = u16list(c.CipherSuites, suites); !ok || len(suites) == 0 {
		return ErrMalformed
	}
	if len(comp) == 0 {
		return ErrMalformed
	}
	return eachExtension(&r, func(typ uint16, data []byte) error {
		c.Extensions = append(c.Extensions, typ)
		return c.extension(typ, data)
	})
}

// eachExtension walks the extensions block that ends a hello message,
// calling fn for each extension in wire order. A hello without the block
// (SSL 3.0, old TLS) has none. Trailing bytes after the block are tolerated
// (some stacks pad); they are not part of any fingerprint.
func eachExtension(r *reader, fn func(typ uint16, data []byte) error) error {
	if len(r.b) == 0 {
		return nil
	}
	exts := r.vec16()
	if !r.ok {
		return ErrShort
	}
	er := reader{b: exts, ok: true}
	for len(er.b) > 0 {
		typ := er.u16()
		data := er.vec16()
		if !er.ok {
			return ErrShort
		}
		if err := fn(typ, data); err != nil {
			return err
		}
	}
	return nil
}

func (c *ClientHello) extension(typ uint16, data []byte) error {
	r := reader{b: data, ok: true}
	var ok = true
	switch typ {
	case extServerName:
		c.HasSNI = true
		c.SNIExts++
		if len(data) == 0 {
			return nil // allowed in a ServerHello; tolerated here
		}
		list := reader{b: r.vec16(), ok: r.ok}
		for list.ok && len(list.b) > 0 {
			nameType := list.u8()
			name := list.vec16()
			if !list.ok || nameType != 0 {
				continue
			}
			c.SNINames++
			switch {
			case c.SNINames == 1:
				c.SNI = c.arena.String(name)
			case c.OtherSNI == "" && string(name) != c.SNI:
				c.OtherSNI = c.arena.String(name)
			}
		}
		ok = r.ok && list.ok
	case extALPN:
		list := reader{b: r.vec16(), ok: r.ok}
		for list.ok && len(list.b) > 0 {
			p := list.vec8()
			if list.ok {
				c.ALPN = append(c.ALPN, c.arena.String(p))
			}
		}
		ok = r.ok && list.ok
	case extSupportedVersions:
		c.SupportedVersions, ok = u16list(c.SupportedVersions, r.vec8())
		ok = ok && r.ok
	case extSupportedGroups:
		c.SupportedGroups, ok = u16list(c.SupportedGroups, r.vec16())
		ok = ok && r.ok
	case extSignatureAlgorithms:
		c.SignatureAlgorithms, ok = u16list(c.SignatureAlgorithms, r.vec16())
		ok = ok && r.ok
	case extECPointFormats:
		c.ECPointFormats = append(c.ECPointFormats[:0], r.vec8()...)
		ok = r.ok
	case extECH:
		c.ECH = true
	}
	if !ok {
		return ErrMalformed
	}
	return nil
}

// MaxVersion is the highest non-GREASE supported_versions entry, or the
// legacy version when the extension is absent.
func (c *ClientHello) MaxVersion() uint16 {
	var v uint16
	found := false
	for _, s := range c.SupportedVersions {
		if IsGREASE(s) {
			continue
		}
		if !found || s > v {
			v, found = s, true
		}
	}
	if !found {
		return c.LegacyVersion
	}
	return v
}

func appendDashList(b []byte, vs []uint16) []byte {
	first := true
	for _, v := range vs {
		if IsGREASE(v) {
			continue
		}
		if !first {
			b = append(b, '-')
		}
		first = false
		b = strconv.AppendUint(b, uint64(v), 10)
	}
	return b
}

// JA3String returns the JA3 string: SSLVersion,Ciphers,Extensions,
// EllipticCurves,EllipticCurvePointFormats in decimal, dash-separated, GREASE
// removed (https://github.com/salesforce/ja3).
func (c *ClientHello) JA3String() string {
	return string(c.appendJA3(make([]byte, 0, 256)))
}

// appendJA3 appends the JA3 string to b.
func (c *ClientHello) appendJA3(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(c.LegacyVersion), 10)
	b = append(b, ',')
	b = appendDashList(b, c.CipherSuites)
	b = append(b, ',')
	b = appendDashList(b, c.Extensions)
	b = append(b, ',')
	b = appendDashList(b, c.SupportedGroups)
	b = append(b, ',')
	for i, f := range c.ECPointFormats {
		if i > 0 {
			b = append(b, '-')
		}
		b = strconv.AppendUint(b, uint64(f), 10)
	}
	return b
}

// JA3 returns the JA3 fingerprint (string and MD5).
func (c *ClientHello) JA3() detect.JA3 { return *c.JA3In(nil) }

// versionCode is JA4's two-character version.
func versionCode(v uint16) string {
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

func isAlnum(b byte) bool {
	return b >= '0' && b <= '9' || b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z'
}

const hexDigits = "0123456789abcdef"

// appendALPNCode appends JA4's two ALPN characters.
func appendALPNCode(b []byte, alpn []string) []byte {
	if len(alpn) == 0 || alpn[0] == "" {
		return append(b, '0', '0')
	}
	p := alpn[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return append(b, first, last)
	}
	// Non-alphanumeric: first and last characters of the hex form.
	return append(b, hexDigits[first>>4], hexDigits[last&0x0f])
}

func appendCount(b []byte, n int) []byte {
	if n > 99 {
		n = 99
	}
	return append(b, byte('0'+n/10), byte('0'+n%10))
}

func appendHex16(b []byte, v uint16) []byte {
	return append(b, hexDigits[v>>12], hexDigits[v>>8&0xf], hexDigits[v>>4&0xf], hexDigits[v&0xf])
}

// appendHash12 appends the first 12 hex characters of SHA-256(s), or
// "000000000000" when s is empty.
func appendHash12(b, s []byte) []byte {
	if len(s) == 0 {
		return append(b, "000000000000"...)
	}
	sum := sha256.Sum256(s)
	var h [12]byte
	hex.Encode(h[:], sum[:6])
	return append(b, h[:]...)
}

// JA4 returns the JA4 fingerprint (https://github.com/FoxIO-LLC/ja4,
// technical_details/JA4.md) for transport 't' (TCP), 'q' (QUIC) or 'd'
// (DTLS).
func (c *ClientHello) JA4(transport byte) string { return c.JA4In(nil, transport) }

// appendJA4 appends the JA4 fingerprint to out.
func (c *ClientHello) appendJA4(out []byte, transport byte) []byte {
	var scratch [128]uint16
	var buf [1024]byte
	out = append(out, transport)
	out = append(out, versionCode(c.MaxVersion())...)
	if c.HasSNI {
		out = append(out, 'd')
	} else {
		out = append(out, 'i')
	}
	nc, ne := 0, 0
	for _, v := range c.CipherSuites {
		if !IsGREASE(v) {
			nc++
		}
	}
	for _, v := range c.Extensions {
		if !IsGREASE(v) {
			ne++
		}
	}
	out = appendCount(out, nc)
	out = appendCount(out, ne)
	out = appendALPNCode(out, c.ALPN)
	out = append(out, '_')

	// b: sorted cipher suites.
	list := scratch[:0]
	for _, v := range c.CipherSuites {
		if !IsGREASE(v) {
			list = append(list, v)
		}
	}
	slices.Sort(list)
	s := buf[:0]
	for i, v := range list {
		if i > 0 {
			s = append(s, ',')
		}
		s = appendHex16(s, v)
	}
	out = appendHash12(out, s)
	out = append(out, '_')

	// c: sorted extensions without SNI and ALPN, then signature algorithms
	// in wire order.
	list = list[:0]
	for _, v := range c.Extensions {
		if !IsGREASE(v) && v != extServerName && v != extALPN {
			list = append(list, v)
		}
	}
	slices.Sort(list)
	s = s[:0]
	for i, v := range list {
		if i > 0 {
			s = append(s, ',')
		}
		s = appendHex16(s, v)
	}
	if len(list) > 0 {
		first := true
		for _, v := range c.SignatureAlgorithms {
			if IsGREASE(v) {
				continue
			}
			if first {
				s = append(s, '_')
				first = false
			} else {
				s = append(s, ',')
			}
			s = appendHex16(s, v)
		}
	}
	out = appendHash12(out, s)
	return out
}
