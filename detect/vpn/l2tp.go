package vpn

import (
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// L2TP control message header bits (RFC 2661 §3.1, RFC 3931 §3.2.1).
const (
	l2tpT = 0x8000 // control message
	l2tpL = 0x4000 // length present
	l2tpS = 0x0800 // sequence numbers present
	l2tpO = 0x0200 // offset (data only)
)

func l2tpMessageName(t uint16) string {
	switch t {
	case 1:
		return "SCCRQ"
	case 2:
		return "SCCRP"
	case 3:
		return "SCCCN"
	case 4:
		return "StopCCN"
	case 6:
		return "HELLO"
	case 7:
		return "OCRQ"
	case 8:
		return "OCRP"
	case 9:
		return "OCCN"
	case 10:
		return "ICRQ"
	case 11:
		return "ICRP"
	case 12:
		return "ICCN"
	case 14:
		return "CDN"
	case 15:
		return "WEN"
	case 16:
		return "SLI"
	case 20:
		return "ACK" // RFC 3931 explicit acknowledgement
	}
	return ""
}

// l2tpControl checks an L2TP control message: T, L and S set, O and P
// clear, version 2 (RFC 2661) or 3 (RFC 3931 over UDP), a length field
// equal to the datagram, and either no AVP (a ZLB acknowledgement) or a
// first AVP that is a mandatory Message Type of a known type. It returns
// the version and the message name ("ZLB" for an empty one).
func l2tpControl(b []byte) (int, string) {
	if len(b) < 12 {
		return 0, ""
	}
	flags := binary.BigEndian.Uint16(b)
	ver := int(flags & 0xf)
	if flags&(l2tpT|l2tpL|l2tpS) != l2tpT|l2tpL|l2tpS || flags&(l2tpO|0x0100) != 0 || (ver != 2 && ver != 3) {
		return 0, ""
	}
	if int(binary.BigEndian.Uint16(b[2:])) != len(b) {
		return 0, ""
	}
	// v2: tunnel ID, session ID, Ns, Nr; v3: control connection ID, Ns, Nr.
	avp := 12
	if len(b) == avp {
		return ver, "ZLB"
	}
	if len(b) < avp+8 {
		return 0, ""
	}
	a := b[avp:]
	flen := binary.BigEndian.Uint16(a)
	if flen&0x8000 == 0 || flen&0x03ff != 8 || binary.BigEndian.Uint16(a[2:]) != 0 || binary.BigEndian.Uint16(a[4:]) != 0 {
		return 0, ""
	}
	name := l2tpMessageName(binary.BigEndian.Uint16(a[6:]))
	if name == "" {
		return 0, ""
	}
	return ver, name
}

// DetectL2TP reports whether a datagram is an L2TP control message with a
// Message Type AVP (a ZLB alone is not enough to claim a flow).
func DetectL2TP(_ int, b []byte) bool {
	v, name := l2tpControl(b)
	return v != 0 && name != "ZLB"
}

// L2TP emits one vpn/l2tp anomaly at the flow's first control message
// (the exact length field and the Message Type AVP make it certain).
type L2TP struct {
	emit  detect.Emit
	arena *detect.Arena
	done  bool
}

var _ detect.DatagramParser = (*L2TP)(nil)

// NewL2TP returns a parser.
func NewL2TP(emit detect.Emit) *L2TP { return &L2TP{emit: emit} }

// Reset readies p for a new flow.
func (p *L2TP) Reset(emit detect.Emit) { *p = L2TP{emit: emit, arena: p.arena} }

// UseArena implements detect.ArenaUser.
func (p *L2TP) UseArena(a *detect.Arena) { p.arena = a }

// Close implements detect.DatagramParser.
func (p *L2TP) Close(int64) { p.done = true }

// Datagram implements detect.DatagramParser.
func (p *L2TP) Datagram(_ int, b []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	p.done = true
	v, name := l2tpControl(b)
	if v == 0 || name == "ZLB" {
		return detect.NotMine
	}
	if p.emit != nil {
		p.emit(report.New(p.arena, ts, "vpn", "l2tp",
			detect.Num("version", int64(v)),
			detect.Str("message", name),
		))
	}
	return detect.Done
}
