package tls

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"
)

// Certificate holds the fields events report about a server's leaf
// certificate.
type Certificate struct {
	Subject     string // "C=US, O=Example, CN=www.example.com" (RDN order as encoded)
	IssuerDN    string
	Serial      string // upper-case colon-separated hex of the serial's magnitude
	Fingerprint string // SHA-1 of the DER, lower-case colon-separated hex
	NotBefore   int64  // Unix seconds; 0 = unknown
	NotAfter    int64
}

// firstCertificate returns the DER bytes of the first certificate of a
// Certificate handshake message body (TLS ≤ 1.2 layout, RFC 5246 §7.4.2),
// which may be incomplete: ok is false until the whole first certificate
// is in body.
func firstCertificate(body []byte) (der []byte, ok bool, err error) {
	r := reader{b: body, ok: true}
	listLen := r.u24()
	certLen := r.u24()
	if !r.ok {
		return nil, false, nil
	}
	if certLen == 0 || certLen+3 > listLen {
		return nil, false, ErrMalformed
	}
	der = r.bytes(certLen)
	if !r.ok {
		return nil, false, nil
	}
	return der, true, nil
}

// ParseCertificate fills a Certificate from a DER certificate. The
// fingerprint is always set; the other fields only when crypto/x509 can
// parse the certificate (err reports why not).
func ParseCertificate(der []byte) (Certificate, error) {
	var c Certificate
	sum := sha1.Sum(der)
	c.Fingerprint = colonHex(sum[:], hexDigits)
	x, err := x509.ParseCertificate(der)
	if err != nil {
		return c, err
	}
	c.Subject = dnString(x.RawSubject)
	c.IssuerDN = dnString(x.RawIssuer)
	if x.SerialNumber != nil {
		c.Serial = colonHex(x.SerialNumber.Bytes(), "0123456789ABCDEF")
	}
	c.NotBefore = x.NotBefore.Unix()
	c.NotAfter = x.NotAfter.Unix()
	return c, nil
}

func colonHex(b []byte, digits string) string {
	if len(b) == 0 {
		return "00"
	}
	out := make([]byte, 0, 3*len(b))
	for i, v := range b {
		if i > 0 {
			out = append(out, ':')
		}
		out = append(out, digits[v>>4], digits[v&0xf])
	}
	return string(out)
}

// Short names of the usual DN attributes (RFC 4514 §3 plus the common
// extras).
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.15":                   "businessCategory",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "GN",
	"0.9.2342.19200300.100.1.25": "DC",
	"0.9.2342.19200300.100.1.1":  "UID",
	"1.2.840.113549.1.9.1":       "emailAddress",
	"1.3.6.1.4.1.311.60.2.1.3":   "jurisdictionC",
	"1.3.6.1.4.1.311.60.2.1.2":   "jurisdictionST",
	"1.3.6.1.4.1.311.60.2.1.1":   "jurisdictionL",
}

// dnString renders a DER Name in encoded order, "A=v, B=w" (the
// OpenSSL/Suricata one-line style rather than RFC 4514's reversed order).
func dnString(raw []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) != 0 {
		return ""
	}
	var sb strings.Builder
	for _, rdn := range seq {
		for _, atv := range rdn {
			if sb.Len() > 0 {
				sb.WriteString(", ")
			}
			oid := atv.Type.String()
			if n, ok := attrNames[oid]; ok {
				sb.WriteString(n)
			} else {
				sb.WriteString(oid)
			}
			sb.WriteByte('=')
			switch v := atv.Value.(type) {
			case string:
				sb.WriteString(v)
			default:
				fmt.Fprint(&sb, v)
			}
		}
	}
	return sb.String()
}
