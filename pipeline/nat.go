package pipeline

import (
	"bytes"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/nat"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// natIPIDPackets is how many of a flow's first client packets feed the
// IP-ID sequences: enough to tie flows together, few enough to keep the
// shared tracker off the per-packet path.
const natIPIDPackets = 4

// observeNAT hands the NAT tracker the packets that carry NAT evidence.
// Most packets leave after two compares: not a SYN, past the first
// packets of their flow, no STUN/SSDP/SOAP shape.
func (s *Shard) observeNAT(f *reassembly.Flow, p *capture.Packet, dir int) {
	switch p.Proto {
	case capture.ProtoTCP:
		if fl := p.TCP.Flags; fl&capture.TCPSyn != 0 {
			if fl&capture.TCPAck == 0 {
				s.emitNAT(s.nat.ObserveSYN(p))
			} else {
				s.emitNAT(s.nat.ObserveAccept(p))
			}
			return
		}
		if dir == reassembly.ToServer && f.Pkts[reassembly.ToServer] <= natIPIDPackets {
			s.nat.ObserveIPID(p, f.ID)
		}
		if pl := p.Payload; len(pl) > 16 && (pl[0] == 'P' || pl[0] == 'H') {
			var m nat.SOAPMessage
			toServer := pl[0] == 'P'
			if (toServer || bytes.HasPrefix(pl, []byte("HTTP/1."))) && nat.ParseSOAP(pl, toServer, &m) {
				s.emitNAT(s.nat.ObserveSOAP(p, &m))
			}
		}
	case capture.ProtoUDP:
		if dir == reassembly.ToServer && f.Pkts[reassembly.ToServer] == 1 {
			s.emitNAT(s.nat.ObserveUDPStart(p))
		}
		pl := p.Payload
		if len(pl) >= 20 && pl[0]&0xc0 == 0 {
			classic := isSTUNPort(p.SrcPort) || isSTUNPort(p.DstPort)
			var m nat.STUNMessage
			if nat.ParseSTUN(pl, classic, &m) {
				s.emitNAT(s.nat.ObserveSTUN(p, &m))
			}
			return
		}
		if p.DstPort == 1900 || p.SrcPort == 1900 {
			var m nat.SSDPMessage
			if nat.ParseSSDP(pl, &m) {
				s.nat.ObserveSSDP(p, &m)
			}
		}
	}
}

// isSTUNPort: classic RFC 3489 messages carry no magic cookie, so they are
// only read on the STUN ports (3478 and the alternate 3479).
func isSTUNPort(p uint16) bool { return p == 3478 || p == 3479 }

// observeNATApp hands the tracker what an app event says about its
// client: the User-Agent's OS family, the JA4 fingerprint.
func (s *Shard) observeNATApp(e *detect.Event) {
	switch {
	case e.HTTP != nil && e.HTTP.UserAgent != "":
		s.emitNAT(s.nat.ObserveUserAgent(e.SrcIP, e.HTTP.UserAgent, e.Timestamp))
	case e.TLS != nil && e.TLS.JA4 != "":
		s.nat.ObserveJA4(e.SrcIP, e.TLS.JA4, e.Timestamp)
	case e.QUIC != nil && e.QUIC.JA4 != "":
		s.nat.ObserveJA4(e.SrcIP, e.QUIC.JA4, e.Timestamp)
	}
}

// emitNAT publishes the tracker's reports as nat events. They are rare (a
// report only when an address's estimate or verdict changes), so each is
// allocated.
func (s *Shard) emitNAT(reports []*detect.NAT) {
	for _, n := range reports {
		e := &detect.Event{Type: detect.TypeNAT, Timestamp: max(s.clock, n.WindowEnd), Sensor: s.sensor, NAT: n}
		s.emit(e, evNAT)
	}
}
