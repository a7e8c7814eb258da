package quic

import (
	"bytes"
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
)

// gQUIC (Google QUIC) support.
//
// Q043 and older use the gQUIC public header; Q046 uses the IETF invariant
// long header with 4-bit connection ID lengths. Both send the client hello
// (a "CHLO" crypto-handshake message, a tag/value map) in cleartext in a
// STREAM frame of stream 1, after a 12-byte message hash. The parser does
// not walk gQUIC frames: it looks for the "CHLO" tag in the packet after
// the header and reads the message from there, which holds for every
// version that sends the CHLO in clear (the hash and frame header precede
// it). Q050 protects its Initials like IETF QUIC (its own salt) and carries
// the CHLO in CRYPTO frames; the same search runs over the decrypted
// payload.

var (
	tagCHLO = []byte("CHLO")
)

// Tags read from a CHLO (little-endian uint32 of their ASCII form).
const (
	tagSNI  = 'S' | 'N'<<8 | 'I'<<16
	tagUAID = 'U' | 'A'<<8 | 'I'<<16 | 'D'<<24
)

// maxCHLOTags bounds the tag count of a CHLO.
const maxCHLOTags = 128

// gquicLong reads a Q046 long-header packet.
func (p *Parser) gquicLong(b []byte, ver uint32) {
	if p.vi.kind == kindUnknown {
		p.vi = versionInfo{kind: kindGQUICIETFHeader}
		p.version = ver
	}
	p.initials++
	p.stale++ // until chloIn reports
	p.stats.Initials++
	if len(b) < 6 || (b[0]>>4)&3 != typeInitial {
		return
	}
	off := 6
	if dl := int(b[5] >> 4); dl != 0 {
		off += dl + 3
	}
	if sl := int(b[5] & 0x0f); sl != 0 {
		off += sl + 3
	}
	if off > len(b) {
		p.stats.Malformed++
		return
	}
	p.chloIn(b[off:])
}

// gquicLegacy reads a packet with a gQUIC public header (Q043 and older).
func (p *Parser) gquicLegacy(b []byte) {
	p.initials++
	p.stale++
	p.stats.Initials++
	flags := b[0]
	if flags&0x01 == 0 {
		return // no version: not the client's hello
	}
	off := 1
	if flags&0x08 != 0 {
		off += 8
	}
	if len(b) < off+4 {
		p.stats.Malformed++
		return
	}
	if p.vi.kind == kindUnknown {
		p.vi = versionInfo{kind: kindGQUICLegacy}
		p.version = binary.BigEndian.Uint32(b[off:])
	}
	p.chloIn(b[off+4:])
}

// chloIn looks for a CHLO message in b and reports its SNI and UAID.
func (p *Parser) chloIn(b []byte) {
	i := bytes.Index(b, tagCHLO)
	if i < 0 {
		return
	}
	q, ok := parseCHLO(b[i:])
	if !ok {
		p.stats.HelloErrors++
		p.giveUp()
		return
	}
	p.report(q)
}

// parseCHLO reads the SNI and UAID tags of a crypto-handshake message:
//
//	tag "CHLO" | uint16 count | uint16 padding | count × (tag, uint32 end offset) | values
//
// (integers little-endian). Values that run past b (a CHLO continued in
// a later packet) are skipped.
func parseCHLO(b []byte) (*detect.QUIC, bool) {
	if len(b) < 8 {
		return nil, false
	}
	n := int(binary.LittleEndian.Uint16(b[4:]))
	if n > maxCHLOTags || len(b) < 8+8*n {
		return nil, false
	}
	q := &detect.QUIC{}
	values := b[8+8*n:]
	prev := uint32(0)
	for i := range n {
		e := b[8+8*i:]
		tag := binary.LittleEndian.Uint32(e)
		end := binary.LittleEndian.Uint32(e[4:])
		if end < prev {
			return nil, false
		}
		if uint64(end) <= uint64(len(values)) {
			v := values[prev:end]
			switch tag {
			case tagSNI:
				q.SNI = string(v)
			case tagUAID:
				q.UA = string(v)
			}
		}
		prev = end
	}
	return q, true
}
