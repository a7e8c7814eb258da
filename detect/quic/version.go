package quic

import "encoding/binary"

// Long-header packet types as QUIC v1 numbers them (RFC 9000 §17.2).
// Version 2 renumbers them on the wire (RFC 9369 §3.2); wireType maps back.
const (
	typeInitial   = 0
	typeZeroRTT   = 1
	typeHandshake = 2
	typeRetry     = 3
)

// Version numbers on the wire.
const (
	versionNegotiation = 0x00000000
	Version1           = 0x00000001
	Version2           = 0x6b3343cf // RFC 9369
	VersionQ050        = 0x51303530 // "Q050"
)

// Initial salts: RFC 9001 §5.2 (v1, also drafts 33–34), RFC 9369 §3.3.1
// (v2), draft-ietf-quic-tls-29 §5.2 (drafts 29–32), draft-ietf-quic-tls-23
// §5.2 (drafts 23–28), and Chromium's Q050 Initial salt.
var (
	saltV1  = []byte{0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a}
	saltV2  = []byte{0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9}
	saltD29 = []byte{0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0, 0x43, 0x90, 0xa8, 0x99}
	saltD23 = []byte{0xc3, 0xee, 0xf7, 0x12, 0xc7, 0x2e, 0xbb, 0x5a, 0x11, 0xa7, 0xd2, 0x43, 0x2b, 0xb4, 0x63, 0x65, 0xbe, 0xf9, 0xf5, 0x02}
	saltQ50 = []byte{0x50, 0x45, 0x74, 0xef, 0xd0, 0x66, 0xfe, 0x2f, 0x9d, 0x94, 0x5c, 0xfc, 0xdb, 0xd3, 0xa7, 0xf0, 0xd3, 0xb5, 0x6b, 0x45}
)

// Kinds of versions, by how the client's first flight is read.
const (
	kindUnknown = iota
	kindIETF    // Initial protection + CRYPTO frames carrying a TLS ClientHello
	kindGQUICIETFHeader
	kindGQUICLegacy // Q043 and older: gQUIC public header, cleartext CHLO
	kindQ050        // Initial-style protection, CHLO inside
)

// versionInfo describes one supported version.
type versionInfo struct {
	name    string // event "version"; empty for gQUIC (see gquicName)
	kind    uint8
	salt    []byte
	labels  *labels
	v2Types bool // RFC 9369 long-header type numbering
}

// labels holds the HKDF-Expand-Label infos of a version's packet
// protection key, IV and header protection key.
type labels struct{ key, iv, hp string }

var (
	labelsV1 = &labels{hkdfLabel("quic key", 16), hkdfLabel("quic iv", 12), hkdfLabel("quic hp", 16)}
	labelsV2 = &labels{hkdfLabel("quicv2 key", 16), hkdfLabel("quicv2 iv", 12), hkdfLabel("quicv2 hp", 16)}

	infoV1  = versionInfo{name: "1", kind: kindIETF, salt: saltV1, labels: labelsV1}
	infoV2  = versionInfo{name: "2", kind: kindIETF, salt: saltV2, labels: labelsV2, v2Types: true}
	infoQ50 = versionInfo{name: "Q050", kind: kindQ050, salt: saltQ50, labels: labelsV1}
)

var draftNames = [...]string{
	23: "draft-23", 24: "draft-24", 25: "draft-25", 26: "draft-26", 27: "draft-27",
	28: "draft-28", 29: "draft-29", 30: "draft-30", 31: "draft-31", 32: "draft-32",
	33: "draft-33", 34: "draft-34",
}

// lookupVersion returns what nunchi knows of a version number (kind
// kindUnknown when nothing). It does not allocate.
func lookupVersion(v uint32) versionInfo {
	switch {
	case v == Version1:
		return infoV1
	case v == Version2:
		return infoV2
	case v == VersionQ050:
		return infoQ50
	case v>>8 == 0xff0000:
		d := v & 0xff
		var salt []byte
		switch {
		case d >= 23 && d <= 28:
			salt = saltD23
		case d >= 29 && d <= 32:
			salt = saltD29
		case d == 33 || d == 34:
			salt = saltV1
		default:
			return versionInfo{}
		}
		return versionInfo{name: draftNames[d], kind: kindIETF, salt: salt, labels: labelsV1}
	case v>>16 == 'Q'<<8|'0':
		// gQUIC "Q0xy": Q043 uses the legacy public header; Q046 the IETF
		// invariant long header; both carry the CHLO in cleartext.
		// The name is filled in when an event is built.
		n := gquicNumber(v)
		switch {
		case n >= 39 && n <= 43:
			return versionInfo{kind: kindGQUICLegacy}
		case n == 46:
			return versionInfo{kind: kindGQUICIETFHeader}
		}
	}
	return versionInfo{}
}

func gquicNumber(v uint32) int {
	a, b := byte(v>>8), byte(v)
	if a < '0' || a > '9' || b < '0' || b > '9' {
		return -1
	}
	return int(a-'0')*10 + int(b-'0')
}

// gquicName is the version's four ASCII characters ("Q046").
func gquicName(v uint32) string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], v)
	return string(b[:])
}

// packetType returns the v1-numbered long-header type of first byte b.
func (vi *versionInfo) packetType(b byte) int {
	t := int(b>>4) & 3
	if vi.v2Types {
		// v2: Initial 0b01, 0-RTT 0b10, Handshake 0b11, Retry 0b00.
		return (t + 3) & 3
	}
	return t
}
