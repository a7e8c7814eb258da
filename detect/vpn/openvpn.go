package vpn

import (
	"bytes"
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// OpenVPN opcodes (the high 5 bits of the first byte; the low 3 are the key ID).
const (
	ovpnHardResetClientV1 = 1
	ovpnHardResetServerV1 = 2
	ovpnSoftResetV1       = 3
	ovpnControlV1         = 4
	ovpnAckV1             = 5
	ovpnDataV1            = 6
	ovpnHardResetClientV2 = 7
	ovpnHardResetServerV2 = 8
	ovpnDataV2            = 9
	ovpnHardResetClientV3 = 10
	ovpnControlWKCV1      = 11
)

// OpenVPNMaxPackets is the packet budget of the OpenVPN parser: without
// confirmation by then, it gives up.
const OpenVPNMaxPackets = 12

// ovpnPrefix is how much of each packet (TCP record) the parser keeps.
const ovpnPrefix = 96

func ovpnOpName(op byte) string {
	switch op {
	case ovpnHardResetClientV1:
		return "hard_reset_client_v1"
	case ovpnHardResetServerV1:
		return "hard_reset_server_v1"
	case ovpnHardResetClientV2:
		return "hard_reset_client_v2"
	case ovpnHardResetServerV2:
		return "hard_reset_server_v2"
	case ovpnHardResetClientV3:
		return "hard_reset_client_v3"
	}
	return "control"
}

func ovpnControl(op byte) bool {
	switch op {
	case ovpnHardResetClientV1, ovpnHardResetServerV1, ovpnSoftResetV1, ovpnControlV1, ovpnAckV1,
		ovpnHardResetClientV2, ovpnHardResetServerV2, ovpnHardResetClientV3, ovpnControlWKCV1:
		return true
	}
	return false
}

func ovpnReset(op byte) bool {
	switch op {
	case ovpnHardResetClientV2, ovpnHardResetServerV2, ovpnHardResetClientV3,
		ovpnHardResetClientV1, ovpnHardResetServerV1:
		return true
	}
	return false
}

// ovpnStart: a packet that may open an OpenVPN session: a hard reset with
// key ID 0, a session ID, and room for at least a packet ID.
func ovpnStart(b []byte, n int) bool {
	return n >= 14 && n <= 2048 && len(b) >= 9 && b[0]&7 == 0 && ovpnReset(b[0]>>3)
}

// DetectOpenVPNUDP reports whether a datagram may open an OpenVPN session
// (either side's hard reset).
func DetectOpenVPNUDP(_ int, b []byte) bool { return ovpnStart(b, len(b)) }

// DetectOpenVPNTCP reports whether a stream's first bytes may open an
// OpenVPN session over TCP: a 2-byte record length, then a hard reset.
func DetectOpenVPNTCP(_ int, b []byte) bool {
	if len(b) < 11 {
		return false
	}
	n := int(binary.BigEndian.Uint16(b))
	return ovpnStart(b[2:], n)
}

// ovpnHalf is one direction's view.
type ovpnHalf struct {
	sid     [8]byte
	haveSID bool
	op      byte // opcode of the first packet
	repeat  int  // later control packets with the same session ID

	// TCP framing
	hdr  [2]byte
	hn   int
	need int // record length; valid iff hn == 2
	buf  [ovpnPrefix]byte
	bn   int
	got  int // bytes of the record seen
}

// OpenVPN follows the first packets of an OpenVPN session over UDP
// (detect.DatagramParser) or TCP (detect.StreamParser, 2-byte length
// framing) and emits one vpn/openvpn anomaly once the session is
// confirmed.
type OpenVPN struct {
	emit  detect.Emit
	arena *detect.Arena
	tcp   bool
	half  [2]ovpnHalf
	pkts  int
	first byte // opcode of the flow's first packet
	hmac  string
	// evidence
	echo, reply bool
	done        bool
}

var (
	_ detect.DatagramParser = (*OpenVPN)(nil)
	_ detect.StreamParser   = (*OpenVPN)(nil)
)

// NewOpenVPN returns a parser; tcp selects the stream framing.
func NewOpenVPN(emit detect.Emit, tcp bool) *OpenVPN {
	return &OpenVPN{emit: emit, tcp: tcp}
}

// Reset readies p for a new flow.
func (p *OpenVPN) Reset(emit detect.Emit) { *p = OpenVPN{emit: emit, arena: p.arena, tcp: p.tcp} }

// UseArena implements detect.ArenaUser.
func (p *OpenVPN) UseArena(a *detect.Arena) { p.arena = a }

// Datagram implements detect.DatagramParser.
func (p *OpenVPN) Datagram(dir int, b []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	return p.packet(dir&1, b, len(b), ts)
}

// Data implements detect.StreamParser.
func (p *OpenVPN) Data(dir int, data []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	h := &p.half[dir&1]
	for len(data) > 0 {
		if h.hn < 2 {
			h.hdr[h.hn] = data[0]
			h.hn++
			data = data[1:]
			if h.hn == 2 {
				h.need = int(binary.BigEndian.Uint16(h.hdr[:]))
				h.bn, h.got = 0, 0
				if h.need < 9 || h.need > 2048 {
					return p.giveUp()
				}
			}
			continue
		}
		k := min(h.need-h.got, len(data))
		if h.bn < ovpnPrefix {
			h.bn += copy(h.buf[h.bn:], data[:k])
		}
		h.got += k
		data = data[k:]
		if h.got == h.need {
			h.hn = 0
			if v := p.packet(dir&1, h.buf[:h.bn], h.need, ts); v != detect.NeedMore {
				return v
			}
		}
	}
	return detect.NeedMore
}

// Gap implements detect.StreamParser: the framing is lost.
func (p *OpenVPN) Gap(int, int, int64) detect.Verdict { return p.giveUp() }

// Close implements both parser interfaces.
func (p *OpenVPN) Close(int64) { p.done = true }

func (p *OpenVPN) giveUp() detect.Verdict {
	p.done = true
	if p.pkts <= 1 {
		return detect.NotMine
	}
	return detect.Done
}

// packet looks at one OpenVPN packet: b is its first bytes, n its length.
func (p *OpenVPN) packet(dir int, b []byte, n int, ts int64) detect.Verdict {
	p.pkts++
	if len(b) < 9 {
		return p.budget()
	}
	op := b[0] >> 3
	if p.pkts == 1 {
		if !ovpnStart(b, n) {
			return p.giveUp()
		}
		p.first = op
	}
	if !ovpnControl(op) {
		return p.budget() // data packets carry no session ID
	}
	h, o := &p.half[dir], &p.half[dir^1]
	switch {
	case !h.haveSID:
		copy(h.sid[:], b[1:9])
		h.haveSID, h.op = true, op
		if p.hmac == "" || p.hmac == "unknown" {
			p.hmac = ovpnAuth(b, n, op)
		}
		if o.haveSID && ovpnReset(o.op) && ovpnReset(op) && (o.op == ovpnHardResetServerV2) != (op == ovpnHardResetServerV2) {
			p.reply = true // client reset answered by a server reset (or the reverse order)
		}
	case bytes.Equal(h.sid[:], b[1:9]):
		h.repeat++
	}
	if o.haveSID && len(b) > 9 && bytes.Contains(b[9:], o.sid[:]) {
		p.echo = true // the peer's session ID acknowledged
	}
	if p.echo || p.reply || h.repeat > 0 {
		p.report(ts)
		return detect.Done
	}
	return p.budget()
}

func (p *OpenVPN) budget() detect.Verdict {
	if p.pkts >= OpenVPNMaxPackets {
		p.done = true
		return detect.Done
	}
	return detect.NeedMore
}

// ovpnAuth classifies the control channel's protection from a reset
// packet: "none" (plain: ack array then message packet ID right after the
// session ID), "tls-auth" (an HMAC, then a small packet ID and a
// timestamp), "tls-crypt" (packet ID and timestamp right after the session
// ID), else "unknown".
func ovpnAuth(b []byte, n int, op byte) string {
	if len(b) >= 14 && b[9] == 0 && binary.BigEndian.Uint32(b[10:]) == 0 {
		return "none" // client reset: no acks, packet ID 0
	}
	if len(b) >= 22 && b[9] == 1 && n >= 26 && binary.BigEndian.Uint32(b[10:]) == 0 && len(b) >= 26 {
		return "none" // server reset: acks the client's packet 0
	}
	plausible := func(off int) bool {
		if len(b) < off+8 {
			return false
		}
		pid, t := binary.BigEndian.Uint32(b[off:]), binary.BigEndian.Uint32(b[off+4:])
		return pid >= 1 && pid <= 16 && t > 1_000_000_000 && t < 4_000_000_000
	}
	if plausible(9) && op != 0 {
		return "tls-crypt"
	}
	for _, hl := range [...]int{20, 32, 16, 64, 48} {
		if plausible(9 + hl) {
			return "tls-auth"
		}
	}
	return "unknown"
}

func (p *OpenVPN) report(ts int64) {
	p.done = true
	if p.emit == nil {
		return
	}
	transport := "udp"
	if p.tcp {
		transport = "tcp"
	}
	evidence := "session_repeat"
	switch {
	case p.echo:
		evidence = "session_echo"
	case p.reply:
		evidence = "reset_reply"
	}
	sid := &p.half[0]
	if !sid.haveSID {
		sid = &p.half[1]
	}
	p.emit(report.New(p.arena, ts, "vpn", "openvpn",
		detect.Str("transport", transport),
		detect.Str("opcode", ovpnOpName(p.first)),
		detect.Str("hmac", p.hmac),
		detect.Str("evidence", evidence),
		detect.Str("session_id", report.Hex(p.arena, sid.sid[:])),
		detect.Num("packets", int64(p.pkts)),
	))
}
