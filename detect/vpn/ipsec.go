package vpn

import (
	"encoding/binary"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/report"
)

// ikeHeaderLen is the ISAKMP/IKE header size (RFC 2408 §3.1, RFC 7296 §3.1).
const ikeHeaderLen = 28

// ESPMaxPackets is the packet budget of the ESP-in-UDP confirmation.
const ESPMaxPackets = 8

func ikeExchange(version, x byte) string {
	if version == 1 {
		switch x {
		case 1:
			return "base"
		case 2:
			return "identity_protection" // main mode
		case 3:
			return "authentication_only"
		case 4:
			return "aggressive"
		case 5:
			return "informational"
		case 32:
			return "quick_mode"
		case 33:
			return "new_group_mode"
		}
		return ""
	}
	switch x {
	case 34:
		return "ike_sa_init"
	case 35:
		return "ike_auth"
	case 36:
		return "create_child_sa"
	case 37:
		return "informational"
	case 38:
		return "ike_session_resume"
	case 43:
		return "ike_intermediate"
	case 44:
		return "ike_followup_ke"
	}
	return ""
}

// ikeHeader checks an IKE header at the start of b and returns its major
// version (1 or 2), or 0. The length field must equal len(b) (one IKE
// message per datagram), the initiator SPI must be set, and the next
// payload and exchange type must be known for the version.
func ikeHeader(b []byte) byte {
	if len(b) < ikeHeaderLen || binary.BigEndian.Uint64(b) == 0 {
		return 0
	}
	if int(binary.BigEndian.Uint32(b[24:])) != len(b) {
		return 0
	}
	np, ver, x := b[16], b[17]>>4, b[18]
	switch ver {
	case 1:
		if !(np <= 13 || np == 20 || np == 21 || np == 130 || np == 131) {
			return 0
		}
	case 2:
		if !(np == 0 || np >= 33 && np <= 55) {
			return 0
		}
		if x == 34 && binary.BigEndian.Uint32(b[20:]) != 0 {
			return 0 // IKE_SA_INIT is always message 0
		}
	default:
		return 0
	}
	if ikeExchange(ver, x) == "" {
		return 0
	}
	return ver
}

// ikeMessage finds an IKE message in a datagram: at its start (UDP 500 and
// IKE over TCP-less transports) or after the 4-byte non-ESP marker of UDP
// encapsulation (RFC 3948, UDP 4500). It returns the message and whether
// the marker was present.
func ikeMessage(b []byte) ([]byte, bool, bool) {
	if ikeHeader(b) != 0 {
		return b, false, true
	}
	if len(b) >= 4+ikeHeaderLen && binary.BigEndian.Uint32(b) == 0 && ikeHeader(b[4:]) != 0 {
		return b[4:], true, true
	}
	return nil, false, false
}

// DetectIKE reports whether a datagram holds an IKEv1/IKEv2 message
// (with or without the non-ESP marker).
func DetectIKE(_ int, b []byte) bool {
	_, _, ok := ikeMessage(b)
	return ok
}

// espHeader checks the shape of an ESP packet carried in UDP (RFC 3948):
// an SPI outside the reserved range 0–255, a sequence number that starts
// at 1 and is still small, and a 4-byte aligned length with room for an
// IV and an integrity tag; an IPv6 or IPv4 header whose length field
// matches the datagram (Teredo and other IP-in-UDP tunnels) is not ESP.
func espHeader(b []byte) (spi, seq uint32, ok bool) {
	if len(b) < 32 || len(b)%4 != 0 {
		return 0, 0, false
	}
	spi, seq = binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
	if b[0]>>4 == 6 && int(binary.BigEndian.Uint16(b[4:]))+40 == len(b) ||
		b[0]>>4 == 4 && int(binary.BigEndian.Uint16(b[2:])) == len(b) {
		return 0, 0, false // an IP packet in UDP (Teredo, IP-in-UDP tunnels)
	}
	return spi, seq, spi >= 256 && seq >= 1 && seq <= 1<<24
}

// DetectESPUDP reports whether a datagram looks like ESP in UDP. This is
// the fuzziest probe of the package (nothing in ESP is constant): it must
// run after every other UDP probe, and the parser confirms it over several
// datagrams before reporting.
func DetectESPUDP(_ int, b []byte) bool {
	_, _, ok := espHeader(b)
	return ok
}

// IPsec recognises IKE (v1 or v2, on UDP 500 or NAT-T 4500) and ESP in
// UDP, and emits one vpn/ipsec anomaly: at the first valid IKE message
// (whose exact length field makes one message proof enough), or after
// ESPMaxPackets-bounded confirmation of ESP: three datagrams in one
// direction with the same SPI and increasing sequence numbers.
type IPsec struct {
	emit  detect.Emit
	arena *detect.Arena
	pkts  int
	spi   [2]uint32
	seq   [2]uint32
	run   [2]int
	done  bool
}

var _ detect.DatagramParser = (*IPsec)(nil)

// NewIPsec returns a parser.
func NewIPsec(emit detect.Emit) *IPsec { return &IPsec{emit: emit} }

// Reset readies p for a new flow.
func (p *IPsec) Reset(emit detect.Emit) { *p = IPsec{emit: emit, arena: p.arena} }

// UseArena implements detect.ArenaUser.
func (p *IPsec) UseArena(a *detect.Arena) { p.arena = a }

// Close implements detect.DatagramParser.
func (p *IPsec) Close(int64) { p.done = true }

// Datagram implements detect.DatagramParser.
func (p *IPsec) Datagram(dir int, b []byte, ts int64) detect.Verdict {
	if p.done {
		return detect.Done
	}
	dir &= 1
	p.pkts++
	if len(b) == 1 && b[0] == 0xff {
		return p.budget() // NAT-T keepalive (RFC 3948 §2.3)
	}
	if m, natT, ok := ikeMessage(b); ok {
		p.done = true
		if p.emit != nil {
			ver := m[17] >> 4
			natTNum := int64(0)
			if natT {
				natTNum = 1
			}
			p.emit(report.New(p.arena, ts, "vpn", "ipsec",
				detect.Str("protocol", "ike"),
				detect.Num("version", int64(ver)),
				detect.Str("exchange", ikeExchange(ver, m[18])),
				detect.Num("nat_t", natTNum),
				detect.Str("initiator_spi", report.Hex(p.arena, m[:8])),
			))
		}
		return detect.Done
	}
	spi, seq, ok := espHeader(b)
	if !ok {
		if p.pkts == 1 {
			p.done = true
			return detect.NotMine
		}
		return p.budget()
	}
	if p.run[dir] > 0 && spi == p.spi[dir] && seq > p.seq[dir] && seq-p.seq[dir] <= 64 {
		p.run[dir]++
	} else {
		p.run[dir] = 1
	}
	p.spi[dir], p.seq[dir] = spi, seq
	if p.run[dir] >= 3 {
		p.done = true
		if p.emit != nil {
			var sb [4]byte
			binary.BigEndian.PutUint32(sb[:], spi)
			p.emit(report.New(p.arena, ts, "vpn", "ipsec",
				detect.Str("protocol", "esp"),
				detect.Num("nat_t", 1),
				detect.Str("spi", report.Hex(p.arena, sb[:])),
				detect.Num("packets", int64(p.pkts)),
			))
		}
		return detect.Done
	}
	return p.budget()
}

func (p *IPsec) budget() detect.Verdict {
	if p.pkts >= ESPMaxPackets {
		p.done = true
		return detect.Done
	}
	return detect.NeedMore
}
