package dns

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net/netip"
	"strconv"

	"github.com/nunchi-sensor/nunchi/detect"
)

// Bounds of ParseMessage.
const (
	// MaxAnswers is how many answer records are decoded; the rest of the
	// answer section is skipped (ANCount still tells the total).
	MaxAnswers = 64
	// maxRData bounds the text form of one record's data.
	maxRData = 4096
	// maxHops bounds the compression pointers followed in one name.
	maxHops = 64
	// maxNameWire is the longest name on the wire (RFC 1035 §2.3.4).
	maxNameWire = 255
)

// Errors of ParseMessage.
var (
	ErrShort    = errors.New("dns: message truncated")
	ErrLabel    = errors.New("dns: bad label type")
	ErrPointer  = errors.New("dns: compression pointer out of bounds")
	ErrLoop     = errors.New("dns: compression loop")
	ErrNameLong = errors.New("dns: name longer than 255 bytes")
)

// Resource record types nunchi names.
const (
	TypeA     = 1
	TypeNS    = 2
	TypeCNAME = 5
	TypeSOA   = 6
	TypePTR   = 12
	TypeMX    = 15
	TypeTXT   = 16
	TypeAAAA  = 28
	TypeSRV   = 33
	TypeDNAME = 39
	TypeOPT   = 41
	TypeSVCB  = 64
	TypeHTTPS = 65
	TypeSPF   = 99
	TypeCAA   = 257
)

// Question is one entry of the question section.
type Question struct {
	Name  string // lower case, no trailing dot; "." for the root
	Type  uint16
	Class uint16
}

// Message is a decoded DNS message: the header, the first question and the
// answer section.
type Message struct {
	ID       uint16
	Response bool // QR bit
	Opcode   uint8
	Flags    uint16 // the whole second header word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode)
	RCode    uint8  // header rcode (4 bits; EDNS extended bits are not read)

	QDCount, ANCount, NSCount, ARCount uint16

	// Question is the first question; valid iff HasQuestion.
	Question    Question
	HasQuestion bool

	// Answers are the first MaxAnswers records of the answer section.
	Answers []detect.DNSAnswer
}

// ParseMessage decodes the header, the question section (the first
// question is kept, the others are checked and skipped) and the answer
// section of one DNS message. Names are lower-cased, without the trailing
// dot; bytes other than letters, digits and printable ASCII are written as
// \DDD, and a dot inside a label as "\.". The authority and additional
// sections are not read.
//
// On error, what was decoded before the failure is in the returned
// Message (HasQuestion tells whether the question section was complete),
// so that a response truncated in its answers still names its question.
func ParseMessage(b []byte) (Message, error) { return ParseMessageArena(b, nil) }

// ParseMessageArena is ParseMessage with the strings and answers taken
// from a (see detect.Arena; nil allocates).
func ParseMessageArena(b []byte, a *detect.Arena) (Message, error) {
	var m Message
	if len(b) < 12 {
		return m, ErrShort
	}
	m.ID = binary.BigEndian.Uint16(b)
	m.Flags = binary.BigEndian.Uint16(b[2:])
	m.Response = m.Flags&0x8000 != 0
	m.Opcode = uint8(m.Flags>>11) & 0xf
	m.RCode = uint8(m.Flags & 0xf)
	m.QDCount = binary.BigEndian.Uint16(b[4:])
	m.ANCount = binary.BigEndian.Uint16(b[6:])
	m.NSCount = binary.BigEndian.Uint16(b[8:])
	m.ARCount = binary.BigEndian.Uint16(b[10:])
	off := 12
	var scratch [maxNameWire * 4]byte // worst case: every byte escaped as \DDD
	for i := range int(m.QDCount) {
		name, next, err := readName(b, off, scratch[:0])
		if err != nil {
			return m, err
		}
		if next+4 > len(b) {
			return m, ErrShort
		}
		if i == 0 {
			m.Question = Question{
				Name:  a.String(name),
				Type:  binary.BigEndian.Uint16(b[next:]),
				Class: binary.BigEndian.Uint16(b[next+2:]),
			}
		}
		off = next + 4
	}
	m.HasQuestion = m.QDCount > 0
	for i := range int(m.ANCount) {
		name, next, err := readName(b, off, scratch[:0])
		if err != nil {
			return m, err
		}
		if next+10 > len(b) {
			return m, ErrShort
		}
		typ := binary.BigEndian.Uint16(b[next:])
		ttl := binary.BigEndian.Uint32(b[next+4:])
		rdlen := int(binary.BigEndian.Uint16(b[next+8:]))
		start := next + 10
		if start+rdlen > len(b) {
			return m, ErrShort
		}
		off = start + rdlen
		if i >= MaxAnswers {
			continue
		}
		if m.Answers == nil {
			m.Answers = a.Answers(min(int(m.ANCount), MaxAnswers))
		}
		rrname := m.Question.Name
		if string(name) != rrname { // usually the question's name: share it
			rrname = a.String(name)
		}
		m.Answers = append(m.Answers, detect.DNSAnswer{
			RRName: rrname,
			RRType: TypeName(typ),
			TTL:    ttl,
			RData:  rdataString(b, start, rdlen, typ, a),
		})
	}
	return m, nil
}

// readName decodes the name at off, appending its text form to buf. next
// is the offset after the name where it started (after the first pointer
// when compressed).
func readName(msg []byte, off int, buf []byte) (name []byte, next int, err error) {
	next = -1
	hops := 0
	wire := 0
	start := len(buf)
	for {
		if off >= len(msg) {
			return nil, 0, ErrShort
		}
		c := int(msg[off])
		switch c & 0xc0 {
		case 0x00:
			if c == 0 {
				if next < 0 {
					next = off + 1
				}
				if len(buf) == start {
					buf = append(buf, '.')
				}
				return buf, next, nil
			}
			wire += c + 1
			if wire > maxNameWire {
				return nil, 0, ErrNameLong
			}
			if off+1+c > len(msg) {
				return nil, 0, ErrShort
			}
			if len(buf) > start {
				buf = append(buf, '.')
			}
			buf = appendLabel(buf, msg[off+1:off+1+c])
			off += 1 + c
		case 0xc0:
			if off+2 > len(msg) {
				return nil, 0, ErrShort
			}
			if next < 0 {
				next = off + 2
			}
			hops++
			if hops > maxHops {
				return nil, 0, ErrLoop
			}
			ptr := int(binary.BigEndian.Uint16(msg[off:]) & 0x3fff)
			if ptr >= len(msg) {
				return nil, 0, ErrPointer
			}
			if ptr == off {
				return nil, 0, ErrLoop
			}
			off = ptr
		default: // 0x40 extended label, 0x80 reserved (RFC 6891 §5)
			return nil, 0, ErrLabel
		}
	}
}

// appendLabel appends a label lower-cased and escaped.
func appendLabel(buf, label []byte) []byte {
	for _, c := range label {
		switch {
		case c >= 'A' && c <= 'Z':
			buf = append(buf, c+'a'-'A')
		case c == '.' || c == '\\':
			buf = append(buf, '\\', c)
		case c < 0x21 || c > 0x7e:
			buf = append(buf, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

// nameAt returns the text form of the name at off in msg (for rdata).
func nameAt(msg []byte, off int, a *detect.Arena) (string, int, bool) {
	var scratch [maxNameWire * 4]byte
	name, next, err := readName(msg, off, scratch[:0])
	if err != nil {
		return "", 0, false
	}
	return a.String(name), next, true
}

// rdataString formats the data of one record (rdata = msg[start:start+n]).
// Malformed data of a known type falls back to the generic RFC 3597 form.
func rdataString(msg []byte, start, n int, typ uint16, a *detect.Arena) string {
	rd := msg[start : start+n]
	end := start + n
	switch typ {
	case TypeA:
		if n == 4 {
			return a.AddrString(netip.AddrFrom4([4]byte(rd)))
		}
	case TypeAAAA:
		if n == 16 {
			return a.AddrString(netip.AddrFrom16([16]byte(rd)))
		}
	case TypeCNAME, TypeNS, TypePTR, TypeDNAME:
		if s, next, ok := nameAt(msg[:end], start, a); ok && next == end {
			return s
		}
	case TypeMX:
		if n > 2 {
			if s, next, ok := nameAt(msg[:end], start+2, nil); ok && next == end {
				return strconv.Itoa(int(binary.BigEndian.Uint16(rd))) + " " + s
			}
		}
	case TypeTXT, TypeSPF:
		var out []byte
		for i := 0; i < n; {
			l := int(rd[i])
			if i+1+l > n {
				return generic(rd)
			}
			out = append(out, rd[i+1:i+1+l]...)
			i += 1 + l
		}
		return str(out)
	case TypeSOA:
		mname, next, ok := nameAt(msg[:end], start, nil)
		if !ok {
			break
		}
		rname, next, ok := nameAt(msg[:end], next, nil)
		if !ok || next+20 != end {
			break
		}
		b := make([]byte, 0, len(mname)+len(rname)+56)
		b = append(b, mname...)
		b = append(b, ' ')
		b = append(b, rname...)
		for i := range 5 {
			b = append(b, ' ')
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint32(msg[next+4*i:])), 10)
		}
		return string(b)
	case TypeSRV:
		if n > 6 {
			if target, next, ok := nameAt(msg[:end], start+6, nil); ok && next == end {
				b := strconv.AppendUint(nil, uint64(binary.BigEndian.Uint16(rd)), 10)
				b = append(b, ' ')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd[2:])), 10)
				b = append(b, ' ')
				b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(rd[4:])), 10)
				b = append(b, ' ')
				b = append(b, target...)
				return string(b)
			}
		}
	case TypeSVCB, TypeHTTPS:
		if s, ok := svcb(msg[:end], start); ok {
			return s
		}
	case TypeCAA:
		if n >= 2 && 2+int(rd[1]) <= n {
			tl := int(rd[1])
			b := strconv.AppendUint(nil, uint64(rd[0]), 10)
			b = append(b, ' ')
			b = append(b, rd[2:2+tl]...)
			b = append(b, ' ')
			b = strconv.AppendQuote(b, string(rd[2+tl:]))
			return str(b)
		}
	}
	return generic(rd)
}

// generic is the RFC 3597 form: "\# <length> <hex>".
func generic(rd []byte) string {
	if len(rd) == 0 {
		return `\# 0`
	}
	if len(rd) > (maxRData-16)/2 {
		rd = rd[:(maxRData-16)/2]
	}
	b := append([]byte(`\# `), strconv.Itoa(len(rd))...)
	b = append(b, ' ')
	b = hex.AppendEncode(b, rd)
	return string(b)
}

func str(b []byte) string {
	if len(b) > maxRData {
		b = b[:maxRData]
	}
	return string(b)
}

// svcb formats SVCB/HTTPS data (RFC 9460) in presentation form:
// "priority target key=value…".
func svcb(msg []byte, start int) (string, bool) {
	if len(msg)-start < 3 {
		return "", false
	}
	target, off, ok := nameAt(msg, start+2, nil)
	if !ok {
		return "", false
	}
	b := strconv.AppendUint(nil, uint64(binary.BigEndian.Uint16(msg[start:])), 10)
	b = append(b, ' ')
	b = append(b, target...)
	for off < len(msg) {
		if off+4 > len(msg) {
			return "", false
		}
		key := binary.BigEndian.Uint16(msg[off:])
		l := int(binary.BigEndian.Uint16(msg[off+2:]))
		v := msg[off+4:]
		if l > len(v) {
			return "", false
		}
		v = v[:l]
		off += 4 + l
		b = append(b, ' ')
		switch key {
		case 0: // mandatory
			b = append(b, "mandatory="...)
			for i := 0; i+1 < len(v); i += 2 {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, svcKey(binary.BigEndian.Uint16(v[i:]))...)
			}
		case 1: // alpn
			b = append(b, "alpn="...)
			for i := 0; i < len(v); {
				l := int(v[i])
				if i+1+l > len(v) {
					return "", false
				}
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, v[i+1:i+1+l]...)
				i += 1 + l
			}
		case 2:
			b = append(b, "no-default-alpn"...)
		case 3:
			if len(v) != 2 {
				return "", false
			}
			b = append(b, "port="...)
			b = strconv.AppendUint(b, uint64(binary.BigEndian.Uint16(v)), 10)
		case 4, 6: // ipv4hint, ipv6hint
			size := 4
			b = append(b, "ipv4hint="...)
			if key == 6 {
				size = 16
				b = append(b[:len(b)-len("ipv4hint=")], "ipv6hint="...)
			}
			if len(v)%size != 0 {
				return "", false
			}
			for i := 0; i < len(v); i += size {
				if i > 0 {
					b = append(b, ',')
				}
				if size == 4 {
					b = netip.AddrFrom4([4]byte(v[i:])).AppendTo(b)
				} else {
					b = netip.AddrFrom16([16]byte(v[i:])).AppendTo(b)
				}
			}
		case 5: // ech
			b = append(b, "ech="...)
			b = base64.StdEncoding.AppendEncode(b, v)
		default:
			b = append(b, svcKey(key)...)
			b = append(b, '=')
			b = hex.AppendEncode(b, v)
		}
		if len(b) > maxRData {
			break
		}
	}
	return str(b), true
}

func svcKey(k uint16) string {
	switch k {
	case 0:
		return "mandatory"
	case 1:
		return "alpn"
	case 2:
		return "no-default-alpn"
	case 3:
		return "port"
	case 4:
		return "ipv4hint"
	case 5:
		return "ech"
	case 6:
		return "ipv6hint"
	}
	return "key" + strconv.Itoa(int(k))
}

// TypeName returns the mnemonic of a record type ("A", "AAAA"…), or
// "TYPE<n>" (RFC 3597) for one without a name here.
func TypeName(t uint16) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 12:
		return "PTR"
	case 13:
		return "HINFO"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 17:
		return "RP"
	case 18:
		return "AFSDB"
	case 24:
		return "SIG"
	case 25:
		return "KEY"
	case 28:
		return "AAAA"
	case 29:
		return "LOC"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 36:
		return "KX"
	case 37:
		return "CERT"
	case 39:
		return "DNAME"
	case 41:
		return "OPT"
	case 42:
		return "APL"
	case 43:
		return "DS"
	case 44:
		return "SSHFP"
	case 45:
		return "IPSECKEY"
	case 46:
		return "RRSIG"
	case 47:
		return "NSEC"
	case 48:
		return "DNSKEY"
	case 49:
		return "DHCID"
	case 50:
		return "NSEC3"
	case 51:
		return "NSEC3PARAM"
	case 52:
		return "TLSA"
	case 53:
		return "SMIMEA"
	case 55:
		return "HIP"
	case 59:
		return "CDS"
	case 60:
		return "CDNSKEY"
	case 61:
		return "OPENPGPKEY"
	case 62:
		return "CSYNC"
	case 63:
		return "ZONEMD"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 99:
		return "SPF"
	case 108:
		return "EUI48"
	case 109:
		return "EUI64"
	case 249:
		return "TKEY"
	case 250:
		return "TSIG"
	case 251:
		return "IXFR"
	case 252:
		return "AXFR"
	case 255:
		return "ANY"
	case 256:
		return "URI"
	case 257:
		return "CAA"
	}
	return "TYPE" + strconv.Itoa(int(t))
}

// RCodeName returns the name of a response code (RFC 6895 §2.3), or
// "RCODE<n>".
func RCodeName(rc uint8) string {
	switch rc {
	case 0:
		return "NOERROR"
	case 1:
		return "FORMERR"
	case 2:
		return "SERVFAIL"
	case 3:
		return "NXDOMAIN"
	case 4:
		return "NOTIMP"
	case 5:
		return "REFUSED"
	case 6:
		return "YXDOMAIN"
	case 7:
		return "YXRRSET"
	case 8:
		return "NXRRSET"
	case 9:
		return "NOTAUTH"
	case 10:
		return "NOTZONE"
	case 11:
		return "DSOTYPENI"
	}
	return "RCODE" + strconv.Itoa(int(rc))
}

// Detect reports whether b, one DNS message (a UDP payload, or TCP data
// after the 2-byte length), has a plausible header and first question:
// opcode QUERY, Z bit clear, 1 to 4 questions, sane section counts (a query
// carries no answers and at most 2 additional records), a well-formed
// first name without compression and a known class. It is meant for
// port-independent detection (mDNS on 5353, DNS on odd ports).
func Detect(b []byte) bool {
	if len(b) < 17 {
		return false
	}
	flags := binary.BigEndian.Uint16(b[2:])
	qd := binary.BigEndian.Uint16(b[4:])
	an := binary.BigEndian.Uint16(b[6:])
	ns := binary.BigEndian.Uint16(b[8:])
	ar := binary.BigEndian.Uint16(b[10:])
	if flags>>11&0xf != 0 || flags&0x40 != 0 || qd == 0 || qd > 4 {
		return false
	}
	if flags&0x8000 == 0 {
		if an != 0 || ns != 0 || ar > 2 || flags&0xf != 0 {
			return false
		}
	} else if an > 256 || ns > 256 || ar > 256 || flags&0xf > 11 {
		return false
	}
	off := 12
	wire := 0
	for {
		if off >= len(b) {
			return false
		}
		c := int(b[off])
		if c == 0 {
			off++
			break
		}
		if c&0xc0 != 0 {
			return false
		}
		wire += c + 1
		if wire > maxNameWire || off+1+c > len(b) {
			return false
		}
		off += 1 + c
	}
	if off+4 > len(b) {
		return false
	}
	switch binary.BigEndian.Uint16(b[off+2:]) &^ 0x8000 { // mDNS: unicast-response bit
	case 1, 3, 4, 254, 255:
		return binary.BigEndian.Uint16(b[off:]) != 0
	}
	return false
}
