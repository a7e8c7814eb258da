package tls

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"
)

// FuzzCertificate reads arbitrary bytes as the body of a server's
// Certificate handshake message (TLS ≤ 1.2), as the parser does when a
// server's flight arrives: firstCertificate, then ParseCertificate on the
// leaf. Properties: no panic; the leaf lies inside the body; an accepted
// certificate always has a fingerprint, and a parsed one has well-formed
// (printable, bounded) subject and issuer strings.
func FuzzCertificate(f *testing.F) {
	der := fuzzCertDER(f)
	body := func(certs ...[]byte) []byte {
		var list []byte
		for _, c := range certs {
			list = append(list, byte(len(c)>>16), byte(len(c)>>8), byte(len(c)))
			list = append(list, c...)
		}
		return append([]byte{byte(len(list) >> 16), byte(len(list) >> 8), byte(len(list))}, list...)
	}
	f.Add(body(der))
	f.Add(body(der, der))
	f.Add(body(der)[:len(der)/2])
	f.Add(body(der[:len(der)-1]))
	f.Add([]byte{0, 0, 3, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		leaf, ok, err := firstCertificate(b)
		if err != nil || !ok {
			return
		}
		if len(leaf) == 0 || len(leaf) > len(b) {
			t.Fatalf("leaf of %d bytes from a body of %d", len(leaf), len(b))
		}
		c, err := ParseCertificate(leaf)
		if len(c.Fingerprint) != 59 {
			t.Fatalf("fingerprint %q", c.Fingerprint)
		}
		if err != nil {
			return
		}
		for _, s := range []string{c.Subject, c.IssuerDN} {
			if len(s) > 4*len(leaf)+64 {
				t.Fatalf("DN of %d bytes from a %d-byte certificate", len(s), len(leaf))
			}
		}
	})
}

func fuzzCertDER(f *testing.F) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(0x1234567890),
		Subject:      pkix.Name{CommonName: "www.example.com", Organization: []string{"Example, Inc."}, Country: []string{"US"}},
		NotBefore:    time.Unix(1_700_000_000, 0), NotAfter: time.Unix(1_800_000_000, 0),
		DNSNames: []string{"www.example.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		f.Fatal(err)
	}
	return der
}
