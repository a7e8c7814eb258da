package tls

import (
	"encoding/hex"
	"strings"
	"testing"
)

// hx decodes hex pieces (spaces allowed) into bytes.
func hx(t *testing.T, pieces ...string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(strings.Join(pieces, ""), " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const random32 = "0000000000000000000000000000000000000000000000000000000000000000"

func TestParseClientHelloMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
	}{
		{"empty", nil},
		{"version only", []string{"0303"}},
		{"random cut", []string{"0303", "00112233"}},
		{"session id past end", []string{"0303", random32, "20", "0011"}},
		{"no cipher suites vector", []string{"0303", random32, "00"}},
		{"cipher suites past end", []string{"0303", random32, "00", "0004 1301"}},
		{"odd cipher suites length", []string{"0303", random32, "00", "0003 130113", "0100"}},
		{"zero cipher suites", []string{"0303", random32, "00", "0000", "0100"}},
		{"no compression methods", []string{"0303", random32, "00", "0002 1301", "00"}},
		{"compression past end", []string{"0303", random32, "00", "0002 1301", "02 00"}},
		{"extensions length past end", []string{"0303", random32, "00", "0002 1301", "0100", "0010 0000"}},
		{"extensions length one byte", []string{"0303", random32, "00", "0002 1301", "0100", "00"}},
		{"extension header cut", []string{"0303", random32, "00", "0002 1301", "0100", "0003 000000"}},
		{"extension data past end", []string{"0303", random32, "00", "0002 1301", "0100", "0006 0000 0008 0000"}},
		{"sni list past extension", []string{"0303", random32, "00", "0002 1301", "0100", "0009 0000 0005 0009 00 0001 61"}},
		{"sni name past list", []string{"0303", random32, "00", "0002 1301", "0100", "0009 0000 0005 0003 00 0009 61"}},
		{"alpn entry past list", []string{"0303", random32, "00", "0002 1301", "0100", "0009 0010 0005 0003 05 6832"}},
		{"supported_versions odd", []string{"0303", random32, "00", "0002 1301", "0100", "0008 002b 0004 03 0304 03"}},
		{"supported_versions past ext", []string{"0303", random32, "00", "0002 1301", "0100", "0007 002b 0003 04 0304"}},
		{"groups odd", []string{"0303", random32, "00", "0002 1301", "0100", "0009 000a 0005 0003 001d 00"}},
		{"sigalgs past ext", []string{"0303", random32, "00", "0002 1301", "0100", "0008 000d 0004 0008 0403"}},
		{"point formats past ext", []string{"0303", random32, "00", "0002 1301", "0100", "0006 000b 0002 05 00"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(t, tc.pieces...)
			if c, err := ParseClientHello(b); err == nil {
				t.Errorf("ParseClientHello(%x) = %+v, want an error", b, c)
			}
		})
	}
}

func TestParseClientHelloMinimal(t *testing.T) {
	// Smallest valid hellos: without an extensions block, and with an
	// empty one; trailing bytes after the block are tolerated.
	for _, pieces := range [][]string{
		{"0301", random32, "00", "0002 002f", "0100"},
		{"0303", random32, "00", "0002 1301", "0100", "0000"},
		{"0303", random32, "00", "0002 1301", "0100", "0000", "ff"},
	} {
		c, err := ParseClientHello(hx(t, pieces...))
		if err != nil {
			t.Fatalf("%v: %v", pieces, err)
		}
		if len(c.CipherSuites) != 1 || len(c.Extensions) != 0 || c.HasSNI {
			t.Errorf("%v: %+v", pieces, c)
		}
		if got := c.JA4('t'); !strings.HasSuffix(got, "_000000000000") || got[3] != 'i' {
			t.Errorf("JA4 = %s", got)
		}
	}
}

func TestParseServerHelloMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces []string
	}{
		{"empty", nil},
		{"random cut", []string{"0303", "0011"}},
		{"session id past end", []string{"0303", random32, "20 00"}},
		{"no compression", []string{"0303", random32, "00", "1301"}},
		{"extensions past end", []string{"0303", random32, "00", "1301", "00", "0010 002b"}},
		{"supported_versions short", []string{"0303", random32, "00", "1301", "00", "0005 002b 0001 03"}},
		{"alpn past ext", []string{"0303", random32, "00", "c02f", "00", "0009 0010 0005 0003 05 6832"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := hx(t, tc.pieces...)
			if s, err := ParseServerHello(b); err == nil {
				t.Errorf("ParseServerHello(%x) = %+v, want an error", b, s)
			}
		})
	}
}

func TestParseServerHello(t *testing.T) {
	s, err := ParseServerHello(hx(t, "0303", random32, "00", "c02f", "00",
		"0014", "ff01 0001 00", "0010 0005 0003 02 6832", "000b 0002 0100"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != 0x0303 || s.CipherSuite != 0xc02f || s.ALPN != "h2" || s.HelloRetry {
		t.Errorf("%+v", s)
	}
	if got, want := s.JA3SString(), "771,49199,65281-16-11"; got != want {
		t.Errorf("JA3S string %q, want %q", got, want)
	}
	// TLS 1.3: the version is in supported_versions; HelloRetryRequest
	// is recognised by its random (RFC 8446 §4.1.3).
	hrr := "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c"
	s, err = ParseServerHello(hx(t, "0303", hrr, "00", "1301", "00", "0006", "002b 0002 0304"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() != 0x0304 || !s.HelloRetry {
		t.Errorf("%+v", s)
	}
}

func TestVersionName(t *testing.T) {
	for v, want := range map[uint16]string{
		0x0300: "SSL 3.0", 0x0301: "TLS 1.0", 0x0302: "TLS 1.1", 0x0303: "TLS 1.2", 0x0304: "TLS 1.3",
		0x7f12: "TLS 1.3 draft-18", 0x1234: "0x1234",
	} {
		if got := VersionName(v); got != want {
			t.Errorf("VersionName(%#04x) = %q, want %q", v, got, want)
		}
	}
}

func TestDetect(t *testing.T) {
	for _, tc := range []struct {
		hex  string
		want bool
	}{
		{"16030100c801", true},      // TLS 1.0 record, ClientHello
		{"1603030200", true},        // 5 bytes: header only
		{"16030100c802", false},     // ServerHello
		{"160301", false},           // too short
		{"170303001001", false},     // application data
		{"16020100c801", false},     // major version 2
		{"16030100000100", false},   // zero-length record
		{"16030148010100", false},   // 0x4801 > 2^14+2048
		{"474554202f20", false},     // "GET / "
		{"802e0100020015", false},   // SSLv2-compatible hello
		{"1603054000010000", false}, // minor version 5
	} {
		if got := Detect(hx(t, tc.hex)); got != tc.want {
			t.Errorf("Detect(%s) = %v, want %v", tc.hex, got, tc.want)
		}
	}
}
