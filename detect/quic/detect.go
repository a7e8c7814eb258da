package quic

import "encoding/binary"

// Detect reports whether b (a UDP payload) starts with a client Initial of
// a version this package reads: an IETF long header (v1, v2, drafts 23–34,
// Q050) of type Initial with the fixed bit set, a DCID of 8 to 20 bytes
// (RFC 9000 §7.2 for the first Initial) and a Length that fits in b; a Q046
// long header of type Initial; or a gQUIC public header carrying a Q039–Q043
// version. It does not decrypt and does not allocate.
func Detect(b []byte) bool {
	if len(b) < 7 {
		return false
	}
	if b[0]&0x80 == 0 {
		// gQUIC public header: version flag, 8-byte connection ID.
		if b[0]&0x09 != 0x09 || len(b) < 13 {
			return false
		}
		return lookupVersion(binary.BigEndian.Uint32(b[9:13])).kind == kindGQUICLegacy
	}
	if b[0]&0x40 == 0 {
		return false // fixed bit
	}
	vi := lookupVersion(binary.BigEndian.Uint32(b[1:5]))
	switch vi.kind {
	case kindIETF, kindQ050:
		h, ok := parseLongHeader(b, &vi)
		return ok && h.ptype == typeInitial && len(h.dcid) >= 8
	case kindGQUICIETFHeader:
		return (b[0]>>4)&3 == typeInitial && b[5]>>4 != 0
	}
	return false
}
