package pipeline

import (
	"net/netip"
	"strings"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// Flow.Marks bits for the anomalies the shard reports itself (once each
// per flow). markIPChecked (block.go) is bit 0.
const (
	markRSTToServer = 1 << (iota + 1) // a RST was seen in that direction
	markRSTToClient
	markForged   // forged_rst or rst_then_data reported
	markTTL      // ttl_anomaly reported
	markMismatch // protocol_mismatch reported
	markDupResponse
	markEstablished // the scan detector was told the handshake completed
)

// firstDataBytes of each direction's first data segment are kept to spot a
// second, different segment at the same sequence number.
const firstDataBytes = 32

// Thresholds of the shard's own anomalies.
const (
	// forgedTTLDelta: a RST whose TTL differs by this many hops from the
	// first packet its claimed sender sent did not come from that sender's
	// stack (the path does not change within a connection).
	forgedTTLDelta = 3
	// ttlChangeDelta: the same for any other packet (route change, or a
	// middlebox injecting).
	ttlChangeDelta = 5
)

// checkPacketAnomalies looks at one TCP packet after its flow was updated:
// forged resets (TTL that does not fit the claimed sender, data after a
// reset from the "closed" side) and TTL changes within a flow.
func (s *Shard) checkPacketAnomalies(f *reassembly.Flow, p *capture.Packet, dir int) {
	if p.Proto != capture.ProtoTCP || f.Marks&markForged != 0 {
		return
	}
	first := f.TTL[dir] // TTL of the first packet of this direction
	if f.Tunnel.Type != capture.TunnelNone {
		// Inside a tunnel the inner TTL says nothing about who sent the
		// packet (a Teredo relay answers with its own hop limit).
		first = 0
	}
	delta := int(p.TTL) - int(first)
	if delta < 0 {
		delta = -delta
	}
	rstMark := uint8(markRSTToServer)
	if dir == reassembly.ToClient {
		rstMark = markRSTToClient
	}
	switch {
	case p.TCP.Flags&capture.TCPRst != 0 && s.rstBurst(f, p, dir):
		s.emitAnomaly(f, p.Timestamp, "forged_rst", "rst_burst",
			detect.Str("direction", dirName(dir)), detect.Num("ttl_seen", int64(p.TTL)), detect.Num("seq", int64(p.TCP.Seq)))
		f.Marks |= markForged
	case p.TCP.Flags&capture.TCPRst != 0:
		// Only once data has flowed: a RST that answers a bare handshake
		// is often the scanning host's own kernel (nmap sends its SYNs
		// raw, with a TTL of its choosing), not a forgery of anyone.
		if f.Pkts[dir] > 1 && first != 0 && delta >= forgedTTLDelta && f.Data[0]+f.Data[1] > 0 {
			s.emitAnomaly(f, p.Timestamp, "forged_rst", "ttl_mismatch",
				detect.Num("ttl_expected", int64(first)), detect.Num("ttl_seen", int64(p.TTL)),
				detect.Num("ttl_delta", int64(int(p.TTL)-int(first))), detect.Str("direction", dirName(dir)),
				detect.Num("ipid_delta", int64(int16(uint16(p.IPID)-f.LastIPID(dir)))))
			f.Marks |= markForged
			return
		}
		f.Marks |= rstMark
	case f.Marks&rstMark != 0 && p.PayloadLen > 0:
		// Data from a side that "reset" the connection: the RST was not its own.
		s.emitAnomaly(f, p.Timestamp, "forged_rst", "rst_then_data",
			detect.Str("direction", dirName(dir)), detect.Num("ttl_seen", int64(p.TTL)))
		f.Marks |= markForged
	case f.Marks&markTTL == 0 && first != 0 && delta >= ttlChangeDelta:
		s.emitAnomaly(f, p.Timestamp, "ttl_anomaly", "ttl_change",
			detect.Num("ttl_first", int64(first)), detect.Num("ttl_seen", int64(p.TTL)), detect.Str("direction", dirName(dir)))
		f.Marks |= markTTL
	}
}

func dirName(dir int) string {
	if dir == reassembly.ToServer {
		return "to_server"
	}
	return "to_client"
}

// checkAppAnomalies looks at an application event: TLS without SNI or with
// an address for a name, a protocol on another protocol's well-known port,
// proxy use.
func (s *Shard) checkAppAnomalies(e *detect.Event, a *appState, f *reassembly.Flow) {
	switch {
	case e.TLS != nil && e.TLS.JA3 != nil: // a ClientHello was seen
		sni := e.TLS.SNI
		switch {
		case sni == "":
			s.emitAnomaly(f, e.Timestamp, "tls_no_sni", "tls_no_sni")
		case isIPLiteral(sni):
			s.emitAnomaly(f, e.Timestamp, "tls_ip_sni", "tls_ip_sni", detect.Str("sni", sni))
		case !validHostname(sni):
			s.emitAnomaly(f, e.Timestamp, "tls_invalid_sni", "tls_invalid_sni", detect.Str("sni", sni))
		case isDoHEndpoint(sni):
			s.emitAnomaly(f, e.Timestamp, "doh", "tls", detect.Str("sni", sni))
		}
		// ECH is not an anomaly here: Chrome offers a GREASE ECH extension on
		// every connection, indistinguishable on the wire from a real one;
		// the tls event's "ech" flag carries it for those who want it.
		if a != nil && a.connectHost != "" && sni != "" && !strings.EqualFold(a.connectHost, sni) {
			// A CONNECT to one name carrying TLS for another: domain fronting through the proxy.
			s.emitAnomaly(f, e.Timestamp, "proxy", "connect_sni_mismatch",
				detect.Str("connect_host", a.connectHost), detect.Str("sni", sni))
		}
	case e.QUIC != nil && e.QUIC.SNI != "" && isDoHEndpoint(e.QUIC.SNI):
		s.emitAnomaly(f, e.Timestamp, "doh", "quic", detect.Str("sni", e.QUIC.SNI))
	case e.HTTP != nil && e.HTTP.Proxied:
		kind := "absolute_uri"
		if e.HTTP.Method == "CONNECT" {
			kind = "http_connect"
			if a != nil {
				a.connectHost = e.HTTP.Hostname
			}
		}
		s.emitAnomaly(f, e.Timestamp, "proxy", kind, detect.Str("host", e.HTTP.Hostname))
	}
	if f.Marks&markMismatch == 0 {
		_, port := f.Server()
		if expect := wellKnown(port); expect != "" && e.AppProto != "" && e.AppProto != expect && !compatible(e.AppProto, expect) {
			s.emitAnomaly(f, e.Timestamp, "protocol_mismatch", e.AppProto+"_on_"+expect+"_port",
				detect.Str("app_proto", e.AppProto), detect.Num("port", int64(port)))
			f.Marks |= markMismatch
		}
	}
}

// wellKnown is the protocol a server port promises.
func wellKnown(port uint16) string {
	switch port {
	case 80:
		return "http"
	case 443:
		return "tls"
	case 53:
		return "dns"
	case 22:
		return "ssh"
	}
	return ""
}

// compatible: protocols that legitimately share a port (QUIC on 443/UDP).
func compatible(got, expect string) bool {
	return expect == "tls" && got == "quic"
}

// checkFlowEndAnomalies reports, as its flow ends, overlapping TCP
// segments whose bytes differed: one copy was injected.
func (s *Shard) checkFlowEndAnomalies(f *reassembly.Flow, conflicts uint32) {
	if conflicts > 0 {
		s.emitAnomaly(f, f.Last, "overlap_conflict", "overlap_conflict", detect.Num("segments", int64(conflicts)))
	}
}

// emitAnomaly queues an anomaly event with the flow's context.
func (s *Shard) emitAnomaly(f *reassembly.Flow, ts int64, typ, event string, detail ...detect.Detail) {
	e := s.arena.Event()
	e.Type, e.Timestamp = detect.TypeAnomaly, ts
	var cid string
	if f.App != 0 && int(f.App) < len(s.apps) {
		cid = s.apps[f.App].cid
		e.AppProto = s.apps[f.App].proto
	}
	s.fillContext(e, f, cid)
	e.Anomaly = &detect.Anomaly{Type: typ, Event: event, Detail: detail}
	s.emit(e, evAnomaly)
}

// checkFirstSegment remembers the first data segment of each direction and
// reports a later segment that starts at the same sequence number with
// different bytes: two answers to one request (an injection race seen from
// outside), which a parser that has finished with the flow would not see.
func (s *Shard) checkFirstSegment(a *appState, f *reassembly.Flow, p *capture.Packet, dir int) {
	bit := uint8(1) << dir
	if a.firstSeen&bit == 0 {
		a.firstSeen |= bit
		a.firstSeq[dir] = p.TCP.Seq
		a.firstLen[dir] = uint8(copy(a.firstData[dir][:], p.Payload))
		return
	}
	if p.TCP.Seq != a.firstSeq[dir] {
		return
	}
	n := min(int(a.firstLen[dir]), len(p.Payload))
	if n > 0 && string(a.firstData[dir][:n]) != string(p.Payload[:n]) {
		s.emitAnomaly(f, p.Timestamp, "overlap_conflict", "duplicate_response",
			detect.Str("direction", dirName(dir)), detect.Num("seq", int64(p.TCP.Seq)),
			detect.Num("ttl_seen", int64(p.TTL)), detect.Num("ttl_first", int64(f.TTL[dir])))
		f.Marks |= markDupResponse
	}
}

// observeScan feeds the shard's scan detector: every TCP packet, the first
// packet of other flows; a completed handshake is reported so that busy
// servers do not look flooded. Scan anomalies belong to no flow: the event
// carries the scanner as src_ip (and the target as dest_ip when there is one).
func (s *Shard) observeScan(f *reassembly.Flow, p *capture.Packet) {
	if p.Proto == capture.ProtoTCP {
		if f.State == reassembly.StateEstablished && f.Marks&markEstablished == 0 {
			f.Marks |= markEstablished
			sAddr, sPort := f.Server()
			s.scan.Established(sAddr, sPort, p.Timestamp)
		}
	} else if !firstPacket(f, p) {
		return
	}
	for _, a := range s.scan.Observe(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Flags, p.Timestamp) {
		e := s.arena.Event()
		e.Type, e.Timestamp, e.Sensor, e.Proto = detect.TypeAnomaly, p.Timestamp, s.sensor, p.Proto
		e.SrcIP = p.Src.Netip()
		if a.Event != "horizontal" {
			e.DestIP, e.DestPort = p.Dst.Netip(), p.DstPort
		}
		cp := *a // the detector reuses its slice, not the anomalies; copy anyway: events are immutable
		e.Anomaly = &cp
		s.emit(e, evAnomaly)
	}
}

// checkRawIPsec reports ESP and AH flows (IP protocols 50 and 51), once,
// on their first packet, with the SPI.
func (s *Shard) checkRawIPsec(f *reassembly.Flow, p *capture.Packet) {
	if !firstPacket(f, p) {
		return
	}
	proto := "esp"
	off := 0
	if p.Proto == capture.ProtoAH {
		proto, off = "ah", 4 // next header, length, reserved
	}
	d := []detect.Detail{detect.Str("protocol", proto)}
	if len(p.Payload) >= off+4 {
		spi := uint32(p.Payload[off])<<24 | uint32(p.Payload[off+1])<<16 | uint32(p.Payload[off+2])<<8 | uint32(p.Payload[off+3])
		d = append(d, detect.Num("spi", int64(spi)))
	}
	s.emitAnomaly(f, p.Timestamp, "vpn", "ipsec", d...)
}

func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil
}

// validHostname: LDH labels (underscore tolerated), 1–63 bytes each, at
// most 253 in all — what a server_name host_name must be (RFC 6066 §3).
func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.':
			if label == 0 {
				return false
			}
			label = 0
			continue
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
		if label++; label > 63 {
			return false
		}
	}
	return label > 0 || (len(s) > 1 && s[len(s)-1] == '.')
}

// dohEndpoints are public DNS-over-HTTPS resolvers' names: a client that
// resolves through them bypasses DNS-based blocking and DNS monitoring.
var dohEndpoints = map[string]bool{
	"dns.google": true, "dns.google.com": true, "8888.google": true,
	"cloudflare-dns.com": true, "mozilla.cloudflare-dns.com": true, "chrome.cloudflare-dns.com": true,
	"one.one.one.one": true, "1dot1dot1dot1.cloudflare-dns.com": true, "security.cloudflare-dns.com": true,
	"family.cloudflare-dns.com": true,
	"dns.quad9.net":             true, "dns9.quad9.net": true, "dns10.quad9.net": true, "dns11.quad9.net": true,
	"doh.opendns.com": true, "doh.familyshield.opendns.com": true, "dns.umbrella.com": true,
	"dns.adguard.com": true, "dns.adguard-dns.com": true, "unfiltered.adguard-dns.com": true, "family.adguard-dns.com": true,
	"doh.cleanbrowsing.org": true, "dns.nextdns.io": true, "doh.mullvad.net": true, "dns.mullvad.net": true,
	"ordns.he.net": true, "dns.alidns.com": true, "doh.pub": true, "dns.twnic.tw": true, "doh.libredns.gr": true,
	"dns.controld.com": true, "freedns.controld.com": true, "doh.dns.sb": true, "dns.switch.ch": true,
	"doh.applied-privacy.net": true, "odvr.nic.cz": true, "dns0.eu": true, "doh.dns4all.eu": true,
}

func isDoHEndpoint(sni string) bool {
	if dohEndpoints[sni] {
		return true
	}
	// NextDNS and Control D profiles: <id>.dns.nextdns.io and the like.
	for _, suffix := range []string{".dns.nextdns.io", ".dns.controld.com"} {
		if strings.HasSuffix(sni, suffix) {
			return true
		}
	}
	return false
}

// rstBurstWindow: two resets with different sequence numbers from one side
// within this much packet time are a burst spread over the window — how an
// injector makes sure one lands; a stack sends one reset per segment it
// refuses, at the sequence number that segment asked for.
const rstBurstWindow = int64(20 * 1e6)

// rstBurst records a RST and reports whether it makes a burst.
func (s *Shard) rstBurst(f *reassembly.Flow, p *capture.Packet, dir int) bool {
	if f.App == 0 || int(f.App) >= len(s.apps) {
		return false
	}
	a := s.apps[f.App]
	bit := uint8(1) << dir
	burst := a.rstSeen&bit != 0 && p.TCP.Seq != a.rstSeq[dir] && p.Timestamp-a.rstTS[dir] <= rstBurstWindow &&
		p.Timestamp >= a.rstTS[dir]
	a.rstSeen |= bit
	a.rstSeq[dir], a.rstTS[dir] = p.TCP.Seq, p.Timestamp
	return burst
}

// firstPacket reports whether p (already counted) is its flow's first
// packet (a reassembled datagram counts its wire fragments).
func firstPacket(f *reassembly.Flow, p *capture.Packet) bool {
	return f.Pkts[0]+f.Pkts[1] <= uint64(max(p.WirePkts, 1))
}
