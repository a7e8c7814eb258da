package nat

import (
	"encoding/binary"
	"net/netip"
)

// STUN message classes and methods this package reads (RFC 5389 §6; RFC
// 3489 uses the same values). Only Binding matters for NAT behaviour.
const (
	stunBindingRequest  = 0x0001
	stunBindingSuccess  = 0x0101
	stunBindingError    = 0x0111
	stunMagicCookie     = 0x2112A442
	stunHeaderLen       = 20
	attrMappedAddress   = 0x0001
	attrChangeRequest   = 0x0003
	attrSourceAddress   = 0x0004 // RFC 3489
	attrChangedAddress  = 0x0005 // RFC 3489
	attrXORMapped       = 0x0020
	attrXORMappedOld    = 0x8020 // pre-RFC 5389 drafts
	attrResponseOrigin  = 0x802b // RFC 5780
	attrOtherAddress    = 0x802c // RFC 5780
	changeIPFlag        = 0x04
	changePortFlag      = 0x02
	stunMaxAttrsScanned = 32
)

// STUNMessage is a parsed STUN Binding message: only what NAT typing needs.
// Addresses are zero when absent.
type STUNMessage struct {
	Type   uint16
	TxID   [16]byte // the whole 128-bit id (RFC 3489); RFC 5389: cookie + 96 bits
	Cookie bool     // RFC 5389 magic cookie present

	Mapped  netip.AddrPort // XOR-MAPPED-ADDRESS if present, else MAPPED-ADDRESS
	Changed netip.AddrPort // OTHER-ADDRESS (RFC 5780) or CHANGED-ADDRESS (RFC 3489)
	Origin  netip.AddrPort // RESPONSE-ORIGIN or SOURCE-ADDRESS
	Change  uint8          // CHANGE-REQUEST flags (changeIPFlag, changePortFlag)
}

// IsRequest reports a Binding request; IsResponse a Binding success response.
func (m *STUNMessage) IsRequest() bool  { return m.Type == stunBindingRequest }
func (m *STUNMessage) IsResponse() bool { return m.Type == stunBindingSuccess }

// ParseSTUN parses b as a STUN Binding message. It accepts RFC 5389
// messages on any port (magic cookie) and classic RFC 3489 messages when
// classic is set (the caller knows a STUN port is involved: 3478, 3479),
// since those have no cookie to recognise them by. It never allocates.
func ParseSTUN(b []byte, classic bool, m *STUNMessage) bool {
	if len(b) < stunHeaderLen || b[0]&0xc0 != 0 {
		return false
	}
	typ := binary.BigEndian.Uint16(b)
	if typ != stunBindingRequest && typ != stunBindingSuccess && typ != stunBindingError {
		return false
	}
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n%4 != 0 || stunHeaderLen+n != len(b) {
		return false
	}
	cookie := binary.BigEndian.Uint32(b[4:]) == stunMagicCookie
	if !cookie && !classic {
		return false
	}
	*m = STUNMessage{Type: typ, Cookie: cookie}
	copy(m.TxID[:], b[4:20])
	var xor, plain netip.AddrPort
	attrs := b[stunHeaderLen:]
	for i := 0; len(attrs) >= 4 && i < stunMaxAttrsScanned; i++ {
		at := binary.BigEndian.Uint16(attrs)
		al := int(binary.BigEndian.Uint16(attrs[2:]))
		if 4+al > len(attrs) {
			return false
		}
		v := attrs[4 : 4+al]
		switch at {
		case attrMappedAddress:
			plain = stunAddr(v, nil)
		case attrXORMapped, attrXORMappedOld:
			xor = stunAddr(v, b[4:20])
		case attrChangedAddress, attrOtherAddress:
			m.Changed = stunAddr(v, nil)
		case attrSourceAddress, attrResponseOrigin:
			m.Origin = stunAddr(v, nil)
		case attrChangeRequest:
			if len(v) == 4 {
				m.Change = v[3] & (changeIPFlag | changePortFlag)
			}
		}
		pad := (al + 3) &^ 3
		if !cookie {
			pad = al // RFC 3489 attributes are not padded (all are multiples of 4)
		}
		if 4+pad > len(attrs) {
			break
		}
		attrs = attrs[4+pad:]
	}
	m.Mapped = plain
	if xor.IsValid() {
		m.Mapped = xor
	}
	return true
}

// stunAddr decodes an address attribute value; xorKey (cookie + txid)
// un-XORs an XOR-MAPPED-ADDRESS.
func stunAddr(v []byte, xorKey []byte) netip.AddrPort {
	if len(v) < 8 {
		return netip.AddrPort{}
	}
	port := binary.BigEndian.Uint16(v[2:])
	if xorKey != nil {
		// RFC 5389 XORs with the magic cookie, the drafts before it (and
		// Vovida's stund) with the first bytes of the transaction id:
		// both are the message's bytes 4.., which xorKey starts at.
		port ^= binary.BigEndian.Uint16(xorKey)
	}
	switch v[1] {
	case 1:
		var a [4]byte
		copy(a[:], v[4:8])
		if xorKey != nil {
			for i := range a {
				a[i] ^= xorKey[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom4(a), port)
	case 2:
		if len(v) < 20 {
			return netip.AddrPort{}
		}
		var a [16]byte
		copy(a[:], v[4:20])
		if xorKey != nil {
			for i := range a {
				a[i] ^= xorKey[i]
			}
		}
		return netip.AddrPortFrom(netip.AddrFrom16(a), port)
	}
	return netip.AddrPort{}
}
