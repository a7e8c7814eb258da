package tls

import (
	"strings"
	"testing"
)

// specHello is the ClientHello described by the JA4 specification's worked
// example (github.com/FoxIO-LLC/ja4, technical_details/JA4.md, "Cipher hash",
// "Extension hash" and "Example"): 15 ciphers, 16 extensions in the order
// given by JA4_ro, ALPN h2, signature algorithms
// 0403,0804,0401,0503,0805,0501,0806,0601, TLS 1.3 in supported_versions.
// GREASE values are added to check they are ignored.
func specHello() chSpec {
	return chSpec{
		version: 0x0303,
		ciphers: []uint16{0x2a2a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035},
		sid:     32,
		exts: []ext{
			{0x3a3a, nil},
			{0x001b, []byte{2, 0, 2}},
			sniExt("example.com"),
			{0x0033, nil},
			alpnExt("h2", "http/1.1"),
			{0x4469, nil},
			{0x0017, nil},
			{0x002d, []byte{1, 1}},
			sigExt(0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601),
			{0x0005, nil},
			{0x0023, nil},
			{0x0012, nil},
			svExt(0x4a4a, 0x0304, 0x0303),
			{0xff01, []byte{0}},
			ecpfExt(0),
			grpExt(0x5a5a, 0x001d, 0x0017, 0x0018),
			{0x0015, make([]byte, 10)},
		},
	}
}

func TestJA4SpecExample(t *testing.T) {
	c, err := ParseClientHello(specHello().body())
	if err != nil {
		t.Fatal(err)
	}
	// Published result: "JA4 = t13d1516h2_8daaf6152771_e5627efa2ab1".
	if got, want := c.JA4('t'), "t13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4() = %q, want %q", got, want)
	}
	if got, want := c.JA4('q'), "q13d1516h2_8daaf6152771_e5627efa2ab1"; got != want {
		t.Errorf("JA4('q') = %q, want %q", got, want)
	}
	// Same spec: without signature algorithms the c string is hashed without
	// the underscore: "0005,…,ff01 = 6d807ffa2a79".
	s := specHello()
	s.exts[8] = ext{extSignatureAlgorithms, vec16(nil)}
	c, err = ParseClientHello(s.body())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.JA4('t'); !strings.HasSuffix(got, "_6d807ffa2a79") {
		t.Errorf("JA4() without sigalgs = %q, want suffix _6d807ffa2a79", got)
	}
	if c.SNI != "example.com" || len(c.ALPN) != 2 || c.ALPN[1] != "http/1.1" {
		t.Errorf("SNI/ALPN = %q %q", c.SNI, c.ALPN)
	}
}

func TestJA4ALPN(t *testing.T) {
	// Examples from the JA4 spec, "ALPN Extension Value".
	for _, tc := range []struct {
		alpn []string
		want string
	}{
		{nil, "00"},
		{[]string{""}, "00"},
		{[]string{"h2"}, "h2"},
		{[]string{"http/1.1"}, "h1"},
		{[]string{"h"}, "hh"},
		{[]string{"\xab"}, "ab"},
		{[]string{"\xab\xcd"}, "ad"},
		{[]string{"\x30\xab"}, "3b"},
		{[]string{"\x30\x31\xab\xcd"}, "3d"},
		{[]string{"\x30\xab\xcd\x31"}, "01"},
	} {
		if got := string(appendALPNCode(nil, tc.alpn)); got != tc.want {
			t.Errorf("ALPN %q: got %q, want %q", tc.alpn, got, tc.want)
		}
	}
}

func TestIsGREASE(t *testing.T) {
	n := 0
	for v := 0; v <= 0xffff; v++ {
		if IsGREASE(uint16(v)) {
			n++
			if v&0xff != 0x0a+(v&0xf0) || v>>8 != v&0xff {
				t.Errorf("IsGREASE(%#04x) = true", v)
			}
		}
	}
	if n != 16 {
		t.Errorf("%d GREASE values, want 16", n)
	}
}

// TestJA3ReadmeExamples checks the two worked examples of the JA3 README
// (github.com/salesforce/ja3, README.md, "How it works").
func TestJA3ReadmeExamples(t *testing.T) {
	for _, tc := range []struct {
		name      string
		spec      chSpec
		str, hash string
	}{{
		name: "with extensions",
		spec: chSpec{
			version: 769,
			ciphers: []uint16{47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
			exts:    []ext{sniExt("a.example"), grpExt(23, 24, 25), ecpfExt(0)},
		},
		str:  "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
		hash: "ada70206e40642a3e4461f35503241d5",
	}, {
		name: "no extensions",
		spec: chSpec{
			version: 769,
			ciphers: []uint16{4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99},
		},
		str:  "769,4-5-10-9-100-98-3-6-19-18-99,,,",
		hash: "de350869b8c85de67a350c8d186f11e6",
	}, {
		name: "GREASE removed",
		spec: chSpec{
			version: 769,
			ciphers: []uint16{0x0a0a, 47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4},
			exts:    []ext{{0xfafa, nil}, sniExt("a.example"), grpExt(0x1a1a, 23, 24, 25), ecpfExt(0)},
		},
		str:  "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0",
		hash: "ada70206e40642a3e4461f35503241d5",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseClientHello(tc.spec.body())
			if err != nil {
				t.Fatal(err)
			}
			j := c.JA3()
			if j.String != tc.str || j.Hash != tc.hash {
				t.Errorf("JA3() = %+v, want {%s %s}", j, tc.hash, tc.str)
			}
		})
	}
}
