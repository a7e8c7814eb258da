package vpn

import (
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// WireGuard message types and sizes (the WireGuard paper, §5.4).
const (
	wgInitiation  = 1
	wgResponse    = 2
	wgCookieReply = 3
	wgTransport   = 4

	wgInitiationLen  = 148
	wgResponseLen    = 92
	wgCookieReplyLen = 64
	wgTransportMin   = 32 // header 16 + empty payload's 16-byte tag (keepalive)
)

// WireGuardMaxPackets is the WireGuard parser's packet budget.
const WireGuardMaxPackets = 10

// wgValid checks one message's type, reserved zeros and exact size.
func wgValid(b []byte) bool {
	if len(b) < 4 || b[1] != 0 || b[2] != 0 || b[3] != 0 {
		return false
	}
	switch b[0] {
	case wgInitiation:
		return len(b) == wgInitiationLen
	case wgResponse:
		return len(b) == wgResponseLen
	case wgCookieReply:
		return len(b) == wgCookieReplyLen
	case wgTransport:
		// Payloads are padded to 16 bytes, plus the 16-byte tag.
		return len(b) >= wgTransportMin && len(b)%16 == 0
	}
	return false
}

// DetectWireGuard reports whether a datagram is a WireGuard message: a
// handshake message of its exact size, or a transport message whose
// counter is plausible (below 2^48).
func DetectWireGuard(_ int, b []byte) bool {
	if !wgValid(b) {
		return false
	}
	if b[0] == wgTransport {
		return binary.LittleEndian.Uint64(b[8:]) < 1<<48
	}
	return true
}

// WireGuard follows the first datagrams of a flow and emits one
// vpn/wireguard anomaly once it is confirmed: a handshake response naming
// the initiator's index, a transport message to an index from the
// handshake, or three transport messages in one direction to the same
// receiver index with increasing counters.
type WireGuard struct {
	emit  detect.Emit
	arena *detect.Arena
	pkts  int
	// sender index announced by each side's handshake message
	sender    [2]uint32
	hasSender [2]bool
	// transport messages per direction: receiver index, last counter, run
	recv    [2]uint32
	counter [2]uint64
	run     [2]int
	done    bool
}

var _ detect.DatagramParser = (*WireGuard)(nil)

// NewWireGuard returns a parser.
func NewWireGuard(emit detect.Emit) *WireGuard { return &WireGuard{emit: emit} }

// Reset readies p for a new flow.
func (p *WireGuard) Reset(emit detect.Emit) { *p = WireGuard{emit: emit, arena: p.arena} }

// UseArena implements detect.ArenaUser.
func (p *WireGuard) UseArena(a *detect.Arena) { p.arena = a }

// Close implements detect.DatagramParser.
func (p *WireGuard) Close(int64) { p.done = true }

// Datagram implements detect.DatagramParser.
func (p *WireGuard) Datagram(dir int, b []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	dir &= 1
	p.pkts++
	if !wgValid(b) {
		if p.pkts == 1 {
			p.done = true
			return detect.NotMine
		}
		return p.budget()
	}
	switch b[0] {
	case wgInitiation:
		p.sender[dir], p.hasSender[dir] = binary.LittleEndian.Uint32(b[4:]), true
	case wgResponse:
		s, r := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint32(b[8:])
		p.sender[dir], p.hasSender[dir] = s, true
		if p.hasSender[dir^1] && p.sender[dir^1] == r {
			return p.report(ts, "handshake")
		}
	case wgCookieReply:
		if r := binary.LittleEndian.Uint32(b[4:]); p.hasSender[dir^1] && p.sender[dir^1] == r {
			return p.report(ts, "cookie_reply")
		}
	case wgTransport:
		r, c := binary.LittleEndian.Uint32(b[4:]), binary.LittleEndian.Uint64(b[8:])
		if p.hasSender[dir^1] && p.sender[dir^1] == r {
			return p.report(ts, "handshake")
		}
		switch {
		case p.run[dir] > 0 && p.recv[dir] == r && c > p.counter[dir] && c-p.counter[dir] < 1<<16:
			p.run[dir]++
		default:
			p.run[dir] = 1
		}
		p.recv[dir], p.counter[dir] = r, c
		if p.run[dir] >= 3 {
			return p.report(ts, "transport")
		}
	}
	return p.budget()
}

func (p *WireGuard) budget() detect.Verdict {
	if p.pkts >= WireGuardMaxPackets {
		p.done = true
		return detect.Done
	}
	return detect.NeedMore
}

func (p *WireGuard) report(ts int64, evidence string) detect.Verdict {
	p.done = true
	if p.emit != nil {
		p.emit(report.New(p.arena, ts, "vpn", "wireguard",
			detect.Str("evidence", evidence),
			detect.Num("packets", int64(p.pkts)),
		))
	}
	return detect.Done
}
