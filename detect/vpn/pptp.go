package vpn

import (
	"bytes"
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// PPTP control connection (RFC 2637 §2).
const (
	pptpMagic   = 0x1A2B3C4D
	pptpSCCRQ   = 1
	pptpSCCRQLn = 156
)

func pptpMessageName(t uint16) string {
	switch t {
	case 1:
		return "start_control_connection_request"
	case 2:
		return "start_control_connection_reply"
	case 3:
		return "stop_control_connection_request"
	case 4:
		return "stop_control_connection_reply"
	case 5:
		return "echo_request"
	case 6:
		return "echo_reply"
	case 7:
		return "outgoing_call_request"
	case 8:
		return "outgoing_call_reply"
	case 9:
		return "incoming_call_request"
	case 10:
		return "incoming_call_reply"
	case 11:
		return "incoming_call_connected"
	case 12:
		return "call_clear_request"
	case 13:
		return "call_disconnect_notify"
	case 14:
		return "wan_error_notify"
	case 15:
		return "set_link_info"
	}
	return ""
}

// pptpHeader checks a PPTP control message header: a length that fits,
// message type 1 (control), the magic cookie, a known control message
// type and a zero reserved field.
func pptpHeader(b []byte) bool {
	if len(b) < 12 {
		return false
	}
	l := binary.BigEndian.Uint16(b)
	return l >= 16 && l <= 220 && binary.BigEndian.Uint16(b[2:]) == 1 &&
		binary.BigEndian.Uint32(b[4:]) == pptpMagic &&
		pptpMessageName(binary.BigEndian.Uint16(b[8:])) != "" && binary.BigEndian.Uint16(b[10:]) == 0
}

// DetectPPTP reports whether a stream starts with a PPTP control message
// (the magic cookie 0x1A2B3C4D makes it exact).
func DetectPPTP(_ int, b []byte) bool { return pptpHeader(b) }

// PPTP reads the first control message of a PPTP control connection (TCP,
// usually port 1723) and emits one vpn/pptp anomaly with its type and, for
// a Start-Control-Connection-Request/Reply, the host and vendor names.
type PPTP struct {
	emit  detect.Emit
	arena *detect.Arena
	buf   [pptpSCCRQLn]byte
	n     int
	dir   int
	done  bool
	ts    int64
}

var _ detect.StreamParser = (*PPTP)(nil)

// NewPPTP returns a parser.
func NewPPTP(emit detect.Emit) *PPTP { return &PPTP{emit: emit} }

// Reset readies p for a new flow.
func (p *PPTP) Reset(emit detect.Emit) { *p = PPTP{emit: emit, arena: p.arena} }

// UseArena implements detect.ArenaUser.
func (p *PPTP) UseArena(a *detect.Arena) { p.arena = a }

// Data implements detect.StreamParser.
func (p *PPTP) Data(dir int, data []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	if p.n == 0 {
		p.dir = dir
	}
	if dir != p.dir {
		return p.finish(ts) // the other side answered: report what we have
	}
	p.ts = ts
	p.n += copy(p.buf[p.n:], data)
	if p.n >= 12 && !pptpHeader(p.buf[:p.n]) {
		p.done = true
		return detect.NotMine
	}
	if p.n >= 12 && p.n >= min(int(binary.BigEndian.Uint16(p.buf[:])), len(p.buf)) {
		return p.finish(ts)
	}
	return detect.NeedMore
}

// Gap implements detect.StreamParser.
func (p *PPTP) Gap(_ int, _ int, ts int64) detect.Verdict { return p.finish(ts) }

// Close implements detect.StreamParser.
func (p *PPTP) Close(ts int64) { p.finish(ts) }

func (p *PPTP) finish(ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	p.done = true
	b := p.buf[:p.n]
	if !pptpHeader(b) {
		return detect.NotMine
	}
	if p.emit == nil {
		return detect.Done
	}
	t := binary.BigEndian.Uint16(b[8:])
	var host, vendor string
	if (t == 1 || t == 2) && len(b) >= pptpSCCRQLn {
		host = p.arena.String(cstr(b[28:92]))
		vendor = p.arena.String(cstr(b[92:156]))
	}
	d := []detect.Detail{detect.Str("message", pptpMessageName(t))}
	if len(b) >= 14 && (t == 1 || t == 2) {
		d = append(d, detect.Num("protocol_version", int64(binary.BigEndian.Uint16(b[12:]))))
	}
	if host != "" {
		d = append(d, detect.Str("hostname", host))
	}
	if vendor != "" {
		d = append(d, detect.Str("vendor", vendor))
	}
	p.emit(report.New(p.arena, ts, "vpn", "pptp", d...))
	return detect.Done
}

// cstr cuts a NUL-padded field at its first NUL.
func cstr(b []byte) []byte {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return b[:i]
	}
	return b
}
