package tls

import (
	"bytes"
	"strconv"

	"github.com/nunchi-sensor/nunchi/detect"
)

// helloRetryRandom is the ServerHello.random value that marks a
// HelloRetryRequest (RFC 8446, section 4.1.3).
var helloRetryRandom = []byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ServerHello is a parsed ServerHello handshake message. Extensions keep
// wire order.
type ServerHello struct {
	LegacyVersion   uint16
	SelectedVersion uint16 // supported_versions selection; 0 = extension absent
	CipherSuite     uint16
	Compression     uint8
	Extensions      []uint16
	ALPN            string // protocol chosen by the server (≤ 1.2; TLS 1.3 moves it to EncryptedExtensions)
	HelloRetry      bool   // a HelloRetryRequest (RFC 8446 §4.1.3), not a real ServerHello
}

// ParseServerHello parses the body of a ServerHello handshake message
// (after the 4-byte handshake header).
func ParseServerHello(body []byte) (*ServerHello, error) {
	s := new(ServerHello)
	if err := s.Parse(body); err != nil {
		return nil, err
	}
	return s, nil
}

// Parse parses body into s, reusing s's slices. On error s must not be used.
func (s *ServerHello) Parse(body []byte) error {
	*s = ServerHello{Extensions: s.Extensions[:0]}
	r := reader{b: body, ok: true}
	s.LegacyVersion = r.u16()
	random := r.bytes(32)
	if v := s.LegacyVersion; v>>8 == 0x7f && v&0xff < 22 {
		// TLS 1.3 drafts before -22 had no session id echo and no
		// compression method (draft-ietf-tls-tls13-18 §4.1.3), and
		// carried the version here rather than in supported_versions.
		s.CipherSuite = r.u16()
	} else {
		r.vec8() // legacy_session_id_echo
		s.CipherSuite = r.u16()
		s.Compression = r.u8()
	}
	if !r.ok {
		return ErrShort
	}
	s.HelloRetry = bytes.Equal(random, helloRetryRandom)
	return eachExtension(&r, func(typ uint16, data []byte) error {
		s.Extensions = append(s.Extensions, typ)
		d := reader{b: data, ok: true}
		switch typ {
		case extSupportedVersions:
			s.SelectedVersion = d.u16()
		case extALPN:
			list := reader{b: d.vec16(), ok: d.ok}
			p := list.vec8()
			if list.ok {
				s.ALPN = string(p)
			}
			d.ok = d.ok && list.ok
		}
		if !d.ok {
			return ErrMalformed
		}
		return nil
	})
}

// Version is the negotiated version: the supported_versions selection when
// present, else the legacy version field.
func (s *ServerHello) Version() uint16 {
	if s.SelectedVersion != 0 {
		return s.SelectedVersion
	}
	return s.LegacyVersion
}

// JA3SString returns the JA3S string: SSLVersion,Cipher,SSLExtension in
// decimal (https://github.com/salesforce/ja3, "JA3S"), GREASE removed.
// SSLVersion is the legacy version field, as in the reference
// implementation.
func (s *ServerHello) JA3SString() string {
	return string(s.appendJA3S(make([]byte, 0, 64)))
}

// appendJA3S appends the JA3S string to b.
func (s *ServerHello) appendJA3S(b []byte) []byte {
	b = strconv.AppendUint(b, uint64(s.LegacyVersion), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(s.CipherSuite), 10)
	b = append(b, ',')
	b = appendDashList(b, s.Extensions)
	return b
}

// JA3S returns the JA3S fingerprint (string and MD5).
func (s *ServerHello) JA3S() detect.JA3 {
	var buf [256]byte
	return *ja3Of(nil, s.appendJA3S(buf[:0]))
}

// VersionName names a protocol version as events carry it: "SSL 3.0",
// "TLS 1.0" … "TLS 1.3", "TLS 1.3 draft-NN", or the hex value.
func VersionName(v uint16) string {
	switch v {
	case 0x0002:
		return "SSL 2.0"
	case 0x0300:
		return "SSL 3.0"
	case 0x0301:
		return "TLS 1.0"
	case 0x0302:
		return "TLS 1.1"
	case 0x0303:
		return "TLS 1.2"
	case 0x0304:
		return "TLS 1.3"
	case 0xfeff:
		return "DTLS 1.0"
	case 0xfefd:
		return "DTLS 1.2"
	case 0xfefc:
		return "DTLS 1.3"
	}
	if v>>8 == 0x7f {
		return "TLS 1.3 draft-" + strconv.Itoa(int(v&0xff))
	}
	return "0x" + string(appendHex16(nil, v))
}
