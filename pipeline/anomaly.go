package pipeline

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket/layers"

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
// reset from the "closed" side) and TTL changes within a flow. It also keeps
// the little per-flow state that attributes a forgery (flowAnomalies).
func (s *Shard) checkPacketAnomalies(f *reassembly.Flow, p *capture.Packet, dir int) {
	if p.Proto != capture.ProtoTCP {
		return
	}
	fa := s.flowAnom(f)
	isSynAck := p.TCP.Flags&(capture.TCPSyn|capture.TCPAck) == capture.TCPSyn|capture.TCPAck
	if fa != nil && dir == reassembly.ToClient && isSynAck && fa.synAckTTL == 0 && !f.Midstream {
		fa.synAckTTL = p.TTL // the handshake peer: the baseline of the server's TTL
		fa.synAckUs = max(sinceStart(f, p.Timestamp), 1)
	}
	if f.Marks&markForged == 0 {
		if dir == reassembly.ToClient && isSynAck && f.Marks&markRSTToClient != 0 && !f.Midstream {
			// The "server" reset the SYN, then the server accepted it: the
			// reset was someone else's (an injector racing the handshake).
			d := []detect.Detail{detect.Str("direction", dirName(dir)), detect.Num("ttl_seen", int64(p.TTL))}
			sus := suspect{v4: p.IPVersion == 4}
			if a := s.appOf(f); a != nil && fa != nil {
				sus.ttl, sus.ipid = fa.rstTTL[dir], fa.rstIPID[dir]
				if a.rstSeen&(1<<dir) != 0 {
					sus.at = a.rstTS[dir]
				}
			}
			s.emitAnomaly(f, p.Timestamp, "forged_rst", "rst_then_synack", s.attribute(d, f, fa, dir, sus)...)
			f.Marks |= markForged
		} else {
			s.checkForged(f, fa, p, dir)
		}
	}
	if fa != nil {
		// The first server data segment may be a forged answer: it does not
		// move the server's IP-ID baseline (checkFirstSegment keeps its ID).
		// Nor does a second segment at its sequence number (the other copy).
		a := s.appOf(f)
		firstData := dir == reassembly.ToClient && p.PayloadLen > 0 &&
			(a.firstSeen&(1<<dir) == 0 || p.TCP.Seq == a.firstSeq[dir])
		fa.track(f, p, dir, firstData)
	}
}

func (s *Shard) checkForged(f *reassembly.Flow, fa *flowAnomalies, p *capture.Packet, dir int) {
	first := peerTTL(f, fa, dir) // the claimed sender's TTL
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
		d := []detect.Detail{detect.Str("direction", dirName(dir)), detect.Num("ttl_seen", int64(p.TTL)), detect.Num("seq", int64(p.TCP.Seq))}
		s.emitAnomaly(f, p.Timestamp, "forged_rst", "rst_burst", s.attribute(d, f, fa, dir, suspectOf(p))...)
		f.Marks |= markForged
	case p.TCP.Flags&capture.TCPRst != 0:
		if fa != nil {
			fa.rstTTL[dir], fa.rstIPID[dir] = p.TTL, uint16(p.IPID)
		}
		// Only once data has flowed: a RST that answers a bare handshake
		// is often the scanning host's own kernel (nmap sends its SYNs
		// raw, with a TTL of its choosing), not a forgery of anyone.
		if f.Pkts[dir] > 1 && first != 0 && delta >= forgedTTLDelta && f.Data[0]+f.Data[1] > 0 {
			d := []detect.Detail{detect.Num("ttl_expected", int64(first)), detect.Num("ttl_seen", int64(p.TTL)),
				detect.Num("ttl_delta", int64(int(p.TTL)-int(first))), detect.Str("direction", dirName(dir))}
			s.emitAnomaly(f, p.Timestamp, "forged_rst", "ttl_mismatch", s.attribute(d, f, fa, dir, suspectOf(p))...)
			f.Marks |= markForged
			return
		}
		f.Marks |= rstMark
	case f.Marks&rstMark != 0 && p.PayloadLen > 0:
		// Data from a side that "reset" the connection: the RST was not
		// its own. The suspect is that earlier RST.
		d := []detect.Detail{detect.Str("direction", dirName(dir)), detect.Num("ttl_seen", int64(p.TTL))}
		sus := suspect{ttl: 0, at: 0, v4: p.IPVersion == 4}
		if fa != nil {
			sus.ttl, sus.ipid = fa.rstTTL[dir], fa.rstIPID[dir]
		}
		if a := s.appOf(f); a != nil && a.rstSeen&(1<<dir) != 0 {
			sus.at = a.rstTS[dir]
		}
		s.emitAnomaly(f, p.Timestamp, "forged_rst", "rst_then_data", s.attribute(d, f, fa, dir, sus)...)
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
// an address for a name, ECH to a known public name, DNS-over-HTTPS, a
// protocol on another protocol's well-known port, proxy use, and a tunnel
// (CONNECT, SOCKS) to one name carrying a request for another.
func (s *Shard) checkAppAnomalies(e *detect.Event, a *appState, f *reassembly.Flow) {
	if e.Type == detect.TypeAnomaly {
		// The SOCKS parser's report: remember the target for the
		// tunnelled protocol's name (below).
		if an := e.Anomaly; a != nil && an != nil && an.Type == "proxy" && an.Event == "socks" {
			for _, d := range an.Detail {
				// A target address says nothing: the client resolved the
				// name itself (curl --socks5) and the SNI names it.
				if h := hostOnly(d.Str); d.Key == "target" && h != "" && !isIPLiteral(h) {
					a.connectHost, a.anom.tunnel = h, tunnelSOCKS
				}
			}
		}
		return
	}
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
		}
		s.checkDoH(e, f, "tls", sni)
		// ECH: Chrome offers a GREASE ECH extension on every connection,
		// indistinguishable on the wire from a real one, with the real
		// name as SNI; a real ECH ClientHello carries the deployment's
		// public name instead. Only the latter is reported: the real
		// name is hidden.
		if e.TLS.ECH && sni != "" && s.isECHPublicName(sni) {
			s.emitAnomaly(f, e.Timestamp, "tls_ech", "ech", detect.Str("outer_sni", sni))
		}
		if a != nil && a.connectHost != "" && sni != "" && !strings.EqualFold(a.connectHost, sni) {
			// A tunnel to one name carrying TLS for another: domain fronting through the proxy.
			s.emitAnomaly(f, e.Timestamp, "proxy", a.anom.tunnelName()+"_sni_mismatch",
				detect.Str(a.anom.tunnelName()+"_host", a.connectHost), detect.Str("sni", sni))
		}
	case e.QUIC != nil:
		s.checkDoH(e, f, "quic", e.QUIC.SNI)
	case e.HTTP != nil:
		h := e.HTTP
		if h.Proxied {
			kind := "absolute_uri"
			if h.Method == "CONNECT" {
				kind = "http_connect"
				if a != nil && !isIPLiteral(h.Hostname) { // an address target names nothing to compare
					a.connectHost, a.anom.tunnel = h.Hostname, tunnelCONNECT
				}
			}
			s.emitAnomaly(f, e.Timestamp, "proxy", kind, detect.Str("host", h.Hostname))
			if kind == "absolute_uri" {
				// The request target names one host, the Host header
				// another: a proxy goes by the target, a filter in front
				// of it may go by Host.
				if uh := uriHost(h.URL); uh != "" && h.Hostname != "" && !strings.EqualFold(uh, h.Hostname) {
					s.emitAnomaly(f, e.Timestamp, "proxy", "uri_host_mismatch",
						detect.Str("uri_host", uh), detect.Str("host", h.Hostname))
				}
			}
		} else if a != nil && a.connectHost != "" && h.Hostname != "" && !strings.EqualFold(a.connectHost, h.Hostname) &&
			a.anom.seen&seenHostMismatch == 0 {
			// A plain HTTP request through a CONNECT or SOCKS tunnel whose
			// Host is not the tunnel's target.
			s.emitAnomaly(f, e.Timestamp, "proxy", a.anom.tunnelName()+"_host_mismatch",
				detect.Str(a.anom.tunnelName()+"_host", a.connectHost), detect.Str("host", h.Hostname))
			a.anom.seen |= seenHostMismatch
		}
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

// Tunnels whose target is compared with the names inside (flowAnomalies.tunnel).
const (
	tunnelNone = iota
	tunnelCONNECT
	tunnelSOCKS
)

func (fa *flowAnomalies) tunnelName() string {
	if fa.tunnel == tunnelSOCKS {
		return "socks"
	}
	return "connect"
}

// checkDoH reports a TLS or QUIC connection to a DNS-over-HTTPS endpoint,
// by name (SNI) or by server address.
func (s *Shard) checkDoH(e *detect.Event, f *reassembly.Flow, event, sni string) {
	l := s.anom.doh
	if l == nil {
		return
	}
	if sni != "" && l.MatchName(sni) {
		s.emitAnomaly(f, e.Timestamp, "doh", event, detect.Str("sni", sni), detect.Str("matched", "name"))
		return
	}
	if addr, _ := f.Server(); l.MatchAddr(addr.Netip()) {
		d := []detect.Detail{detect.Str("matched", "address")}
		if sni != "" {
			d = append(d, detect.Str("sni", sni))
		}
		s.emitAnomaly(f, e.Timestamp, "doh", event, d...)
	}
}

func (s *Shard) isECHPublicName(sni string) bool {
	for _, n := range s.anom.echNames {
		if strings.EqualFold(n, strings.TrimSuffix(sni, ".")) {
			return true
		}
	}
	return false
}

// hostOnly strips a ":port" (and IPv6 brackets) from a host:port target.
func hostOnly(hp string) string {
	if strings.HasPrefix(hp, "[") {
		if i := strings.IndexByte(hp, ']'); i > 0 {
			return hp[1:i]
		}
	}
	if i := strings.LastIndexByte(hp, ':'); i >= 0 && strings.IndexByte(hp, ':') == i {
		return hp[:i]
	}
	return hp
}

// uriHost is the host of an absolute URI ("http://user@Host:port/p" →
// "Host"), or "".
func uriHost(u string) string {
	i := strings.Index(u, "://")
	if i < 0 {
		return ""
	}
	u = u[i+3:]
	if j := strings.IndexAny(u, "/?#"); j >= 0 {
		u = u[:j]
	}
	if j := strings.LastIndexByte(u, '@'); j >= 0 {
		u = u[j+1:]
	}
	return hostOnly(u)
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
// segments whose bytes differed: one copy was injected. Reassembly does not
// say which packet carried the other copy: the attribution has the flow's
// timing (RTTs) only, with ipid_pattern and the TTL delta unknown.
func (s *Shard) checkFlowEndAnomalies(f *reassembly.Flow, conflicts uint32) {
	if conflicts > 0 {
		d := []detect.Detail{detect.Num("segments", int64(conflicts))}
		s.emitAnomaly(f, f.Last, "overlap_conflict", "overlap_conflict", s.attribute(d, f, s.flowAnom(f), reassembly.ToClient, suspect{})...)
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
		if dir == reassembly.ToClient { // responses: what injectors forge
			a.anom.firstTTL, a.anom.firstIPID, a.anom.firstUs = p.TTL, uint16(p.IPID), sinceStart(f, p.Timestamp)
		}
		return
	}
	if p.TCP.Seq != a.firstSeq[dir] {
		return
	}
	n := min(int(a.firstLen[dir]), len(p.Payload))
	if n > 0 && string(a.firstData[dir][:n]) != string(p.Payload[:n]) {
		d := []detect.Detail{detect.Str("direction", dirName(dir)), detect.Num("seq", int64(p.TCP.Seq)),
			detect.Num("ttl_seen", int64(p.TTL)), detect.Num("ttl_first", int64(f.TTL[dir]))}
		sus := suspectOf(p)
		copyName := "second"
		if dir == reassembly.ToClient {
			// Which copy is forged: the one whose TTL fits the handshake
			// peer less; on a tie the one whose IP-ID is further from the
			// server's counter; then the first (an injector near the sensor
			// wins the race; that is why it forges).
			first := suspect{ttl: a.anom.firstTTL, ipid: a.anom.firstIPID, at: f.First + int64(a.anom.firstUs)*1000, v4: p.IPVersion == 4}
			peer := int(peerTTL(f, &a.anom, dir))
			d1, d2 := absInt(int(first.ttl)-peer), absInt(int(p.TTL)-peer)
			if d1 == d2 && p.IPVersion == 4 && a.anom.seen&(1<<dir) != 0 {
				base := a.anom.ipid[dir]
				d1, d2 = absInt(int(int16(first.ipid-base))), absInt(int(int16(uint16(p.IPID)-base)))
			}
			if d1 >= d2 {
				sus, copyName = first, "first"
			}
		}
		d = append(d, detect.Str("forged_copy", copyName))
		s.emitAnomaly(f, p.Timestamp, "overlap_conflict", "duplicate_response", s.attribute(d, f, &a.anom, dir, sus)...)
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
			s.scan.established(sAddr, sPort, p.Timestamp)
		}
		if p.TCP.Flags&(capture.TCPAck|capture.TCPRst) != 0 {
			return // not a probe (SYN, FIN, NULL and XMAS probes carry neither)
		}
	} else if !firstPacket(f, p) {
		return
	}
	s.scanPkt = p
	s.scan.observe(p, s.emitScanFn)
	s.scanPkt = nil
}

// emitScan turns a scan anomaly into an event, from the shard whose probe
// completed it (called under the shared detector's lock; s.scanPkt is
// that probe).
func (s *Shard) emitScan(a *detect.Anomaly) {
	p := s.scanPkt
	e := s.arena.Event()
	e.Type, e.Timestamp, e.Sensor, e.Proto = detect.TypeAnomaly, p.Timestamp, s.sensor, p.Proto
	e.SrcIP = p.Src.Netip()
	if a.Event != "horizontal" {
		e.DestIP, e.DestPort = p.Dst.Netip(), p.DstPort
	}
	cp := *a // the detector reuses its slice and anomalies; events are immutable
	e.Anomaly = &cp
	s.emit(e, evAnomaly)
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

// builtinDoH are public DNS-over-HTTPS resolvers' names: a client that
// resolves through them bypasses DNS-based blocking and DNS monitoring.
// A leading dot: the name's subdomains (NextDNS and Control D profiles are
// <id>.dns.nextdns.io and the like).
var builtinDoH = []string{
	"dns.google", "dns.google.com", "8888.google",
	"cloudflare-dns.com", "mozilla.cloudflare-dns.com", "chrome.cloudflare-dns.com",
	"one.one.one.one", "1dot1dot1dot1.cloudflare-dns.com", "security.cloudflare-dns.com",
	"family.cloudflare-dns.com",
	"dns.quad9.net", "dns9.quad9.net", "dns10.quad9.net", "dns11.quad9.net",
	"doh.opendns.com", "doh.familyshield.opendns.com", "dns.umbrella.com",
	"dns.adguard.com", "dns.adguard-dns.com", "unfiltered.adguard-dns.com", "family.adguard-dns.com",
	"doh.cleanbrowsing.org", "dns.nextdns.io", "doh.mullvad.net", "dns.mullvad.net",
	"ordns.he.net", "dns.alidns.com", "doh.pub", "dns.twnic.tw", "doh.libredns.gr",
	"dns.controld.com", "freedns.controld.com", "doh.dns.sb", "dns.switch.ch",
	"doh.applied-privacy.net", "odvr.nic.cz", "dns0.eu", "doh.dns4all.eu",
	".dns.nextdns.io", ".dns.controld.com",
}

// DoHList is a set of DNS-over-HTTPS endpoints: exact names, name suffixes
// (".example" or "*.example": the subdomains), and addresses or prefixes.
// Immutable once built; shared by every shard.
type DoHList struct {
	names    map[string]bool
	suffixes []string // with the leading dot
	prefixes []netip.Prefix
}

var defaultDoH = sync.OnceValue(func() *DoHList {
	l, _ := parseDoHList("builtin", strings.NewReader(strings.Join(builtinDoH, "\n")))
	return l
})

// DefaultDoHList is the built-in list (public resolvers, names only).
func DefaultDoHList() *DoHList { return defaultDoH() }

// LoadDoHList reads a DoH endpoint list: one entry a line — a name
// ("dns.example"), a name and its subdomains (".dns.example" or
// "*.dns.example"), an address or a CIDR prefix; "#" starts a comment. A
// bad line is an error naming file and line.
func LoadDoHList(path string) (*DoHList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // names the file
	}
	defer f.Close()
	return parseDoHList(path, f)
}

func parseDoHList(name string, r io.Reader) (*DoHList, error) {
	l := &DoHList{names: map[string]bool{}}
	sc := bufio.NewScanner(r)
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if i := strings.IndexByte(t, '#'); i >= 0 {
			t = t[:i]
		}
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		if strings.ContainsAny(t, " \t") {
			return nil, fmt.Errorf("%s:%d: one entry per line, got %q", name, line, t)
		}
		if p, err := netip.ParsePrefix(t); err == nil {
			l.prefixes = append(l.prefixes, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(t); err == nil {
			l.prefixes = append(l.prefixes, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		if strings.Contains(t, "/") {
			return nil, fmt.Errorf("%s:%d: %q is not a CIDR prefix", name, line, t)
		}
		n := strings.ToLower(strings.TrimSuffix(t, "."))
		suffix := false
		if strings.HasPrefix(n, "*.") {
			n, suffix = n[1:], true
		} else if strings.HasPrefix(n, ".") {
			suffix = true
		}
		if !validHostname(strings.TrimPrefix(n, ".")) {
			return nil, fmt.Errorf("%s:%d: %q is not a host name, address or prefix", name, line, t)
		}
		if suffix {
			l.suffixes = append(l.suffixes, n)
		} else {
			l.names[n] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return l, nil
}

// Len is the number of entries.
func (l *DoHList) Len() int { return len(l.names) + len(l.suffixes) + len(l.prefixes) }

// MatchName reports whether sni (any case, trailing dot or not) is listed.
func (l *DoHList) MatchName(sni string) bool {
	n := strings.TrimSuffix(sni, ".")
	for i := 0; i < len(n); i++ {
		if c := n[i]; c >= 'A' && c <= 'Z' {
			n = strings.ToLower(n)
			break
		}
	}
	if l.names[n] {
		return true
	}
	for _, suf := range l.suffixes {
		if len(n) > len(suf) && strings.HasSuffix(n, suf) {
			return true
		}
	}
	return false
}

// MatchAddr reports whether a is in a listed prefix.
func (l *DoHList) MatchAddr(a netip.Addr) bool {
	if len(l.prefixes) == 0 || !a.IsValid() {
		return false
	}
	a = a.Unmap()
	for _, p := range l.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func isDoHEndpoint(sni string) bool { return DefaultDoHList().MatchName(sni) }

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

// flowAnomalies is the per-flow state behind the attribution of forged
// packets (appState.anom, 32 bytes): the handshake's timing, the latest
// request, and the IP-IDs and TTLs a forgery is compared with. Times are
// microseconds since the flow's first packet (0 = not seen; a flow older
// than 71 minutes saturates).
type flowAnomalies struct {
	synAckUs  uint32    // SYN → SYN/ACK: the sensor ↔ server round trip
	rttUs     uint32    // SYN → ACK: the whole handshake RTT (client ↔ server)
	reqUs     uint32    // the latest client data segment (the request an answer answers)
	firstUs   uint32    // the first server data segment (see checkFirstSegment)
	ipid      [2]uint16 // the latest IPv4 ID of each side (not from RSTs or the first server data segment)
	rstIPID   [2]uint16 // the latest RST of each direction
	firstIPID uint16
	rstTTL    [2]uint8
	firstTTL  uint8
	synAckTTL uint8 // the SYN/ACK's TTL: the real server's (0 = none seen)
	tunnel    uint8 // tunnelCONNECT | tunnelSOCKS: what set appState.connectHost
	seen      uint8 // 1 << dir once ipid[dir] holds a value; seenHostMismatch
}

// seenHostMismatch: a tunnel's target differed from an HTTP Host in it
// (reported once per flow).
const seenHostMismatch = 1 << 2

// track updates the state with one TCP packet (after the forgery checks,
// which compare the packet with what came before it).
func (fa *flowAnomalies) track(f *reassembly.Flow, p *capture.Packet, dir int, firstData bool) {
	fl := p.TCP.Flags
	switch {
	case f.Midstream:
	case dir == reassembly.ToServer && fl&(capture.TCPSyn|capture.TCPRst) == 0 && fl&capture.TCPAck != 0 && fa.synAckUs != 0 && fa.rttUs == 0:
		fa.rttUs = max(sinceStart(f, p.Timestamp), fa.synAckUs)
	}
	if dir == reassembly.ToServer && p.PayloadLen > 0 {
		fa.reqUs = max(sinceStart(f, p.Timestamp), 1)
	}
	// The peer's own counter: its latest packet other than a RST or the
	// first server data segment (what injectors forge); a forged RST or
	// answer is compared with the packet its claimed sender sent last.
	if p.IPVersion == 4 && fl&capture.TCPRst == 0 && !firstData {
		fa.ipid[dir] = uint16(p.IPID)
		fa.seen |= 1 << dir
	}
}

// peerTTL is the TTL a packet from dir should have: the SYN/ACK's for the
// server (the first packet "from the server" may itself be a forged RST
// racing the handshake), else the first packet's of that direction.
func peerTTL(f *reassembly.Flow, fa *flowAnomalies, dir int) uint8 {
	if dir == reassembly.ToClient && fa != nil && fa.synAckTTL != 0 {
		return fa.synAckTTL
	}
	return f.TTL[dir]
}

// sinceStart is ts in microseconds since the flow's first packet.
func sinceStart(f *reassembly.Flow, ts int64) uint32 {
	us := (ts - f.First) / 1000
	switch {
	case us < 0:
		return 0
	case us > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(us)
}

// suspect is the packet an anomaly blames: its TTL, IPv4 ID and arrival.
type suspect struct {
	ttl  uint8 // 0 = unknown
	ipid uint16
	at   int64 // packet time; 0 = unknown
	v4   bool
}

func suspectOf(p *capture.Packet) suspect {
	return suspect{ttl: p.TTL, ipid: uint16(p.IPID), at: p.Timestamp, v4: p.IPVersion == 4}
}

// ipidClose: an IPv4 ID this far after the peer's latest fits the peer's
// own counter (a few packets in between).
const ipidClose = 16

// attribute appends the attribution of a forgery to d: how the suspect
// packet differs from the real sender of its direction (TTL delta, IP-ID
// pattern) and when it came relative to the flow's RTT. The string
// "attribution" sums them up in one value a dashboard can group injectors by
// ("ttl+3/ipid:zero/before_rtt"); the parts are numbers and words beside it.
//
// Timing: latency_us is the suspect's arrival after the latest request the
// sensor saw; server_rtt_us the SYN → SYN/ACK time, the sensor ↔ server round
// trip — no real answer can come sooner. An answer earlier than 80 % of it
// ("before_rtt") came from something nearer than the server: an on-path or
// on-tap injector.
func (s *Shard) attribute(d []detect.Detail, f *reassembly.Flow, fa *flowAnomalies, dir int, sus suspect) []detect.Detail {
	var sig [64]byte
	b := sig[:0]
	peer := peerTTL(f, fa, dir)
	ttlPart := "ttl?"
	if sus.ttl != 0 && peer != 0 && f.Tunnel.Type == capture.TunnelNone {
		delta := int(sus.ttl) - int(peer)
		d = append(d, detect.Num("ttl_peer", int64(peer)), detect.Num("attr_ttl_delta", int64(delta)))
		b = append(b, "ttl"...)
		if delta >= 0 {
			b = append(b, '+')
		}
		b = strconv.AppendInt(b, int64(delta), 10)
	} else {
		b = append(b, ttlPart...)
	}
	pattern := "unknown"
	switch {
	case !sus.v4 && sus.at != 0:
		pattern = "none" // IPv6 has no ID outside fragments
	case sus.ttl == 0 && sus.ipid == 0:
	case sus.ipid == 0:
		pattern = "zero"
	case sus.ipid == f.LastIPID(1-dir) && sus.at != 0:
		pattern = "trigger_copy" // the ID of the packet it answers, copied
	case fa != nil && fa.seen&(1<<dir) != 0:
		delta := int16(sus.ipid - fa.ipid[dir])
		d = append(d, detect.Num("ipid_delta", int64(delta)))
		switch {
		case delta == 0:
			pattern = "copy" // the peer's latest ID again: copied by a forger
		case delta > 0 && delta <= ipidClose:
			pattern = "sequential" // fits the peer's counter
		default:
			pattern = "random"
		}
	}
	d = append(d, detect.Str("ipid_pattern", pattern))
	b = append(b, "/ipid:"...)
	b = append(b, pattern...)
	timing := "unknown"
	if fa != nil {
		if fa.synAckUs != 0 {
			d = append(d, detect.Num("server_rtt_us", int64(fa.synAckUs)))
		}
		if fa.rttUs != 0 {
			d = append(d, detect.Num("rtt_us", int64(fa.rttUs)))
		}
		// The request answered: the latest client data, or the SYN itself
		// for a forgery racing the handshake.
		if req := f.First + int64(fa.reqUs)*1000; (fa.reqUs != 0 || !f.Midstream) && sus.at >= req {
			lat := (sus.at - req) / 1000
			d = append(d, detect.Num("latency_us", lat))
			if fa.synAckUs != 0 {
				timing = "after_rtt"
				if lat*10 < int64(fa.synAckUs)*8 {
					timing = "before_rtt"
				}
			}
		}
	}
	d = append(d, detect.Str("timing", timing))
	b = append(b, '/')
	b = append(b, timing...)
	return append(d, detect.Str("attribution", s.intern(b)))
}

// appOf is the flow's application state (nil before it has one, or when
// the shard runs no parsers).
func (s *Shard) appOf(f *reassembly.Flow) *appState {
	if f.App == 0 || int(f.App) >= len(s.apps) {
		return nil
	}
	return s.apps[f.App]
}

// flowAnom is the flow's attribution state (nil: none kept).
func (s *Shard) flowAnom(f *reassembly.Flow) *flowAnomalies {
	if a := s.appOf(f); a != nil {
		return &a.anom
	}
	return nil
}

func absInt(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

// AnomalyConfig tunes the anomalies the shards report themselves
// (Config.Anomalies; the zero value: built-in DoH list, the default ECH
// public names, no malformed-packet samples).
type AnomalyConfig struct {
	// DoH lists DNS-over-HTTPS endpoints (names and addresses); nil = the
	// built-in list (DefaultDoHList).
	DoH *DoHList
	// ECHPublicNames are outer SNIs that real ECH deployments use
	// (cloudflare-ech.com): a ClientHello with an ECH extension and one of
	// these names is reported as tls_ech. nil = DefaultECHPublicNames.
	ECHPublicNames []string
	// MalformedSampleInterval: at most one `malformed` anomaly per decoder
	// drop reason per this much packet time, with the count since the last
	// one; 0 = none.
	MalformedSampleInterval time.Duration
}

// DefaultECHPublicNames: Cloudflare serves every ECH-enabled site behind
// this one outer name.
var DefaultECHPublicNames = []string{"cloudflare-ech.com"}

// shardAnomalies is the shard's anomaly configuration and the
// malformed-packet sampler (Shard.anom).
type shardAnomalies struct {
	doh      *DoHList
	echNames []string
	// sampler is used by whoever decodes for this shard: the shard itself
	// (live) or the reader (replay, shard 0's). Its events reach the shard
	// through samples, drained once per batch.
	sampler malformedSampler
	samples chan *detect.Event
}

func (s *Shard) initAnomalies(c AnomalyConfig) {
	s.anom.doh = c.DoH
	if s.anom.doh == nil {
		s.anom.doh = DefaultDoHList()
	}
	s.anom.echNames = c.ECHPublicNames
	if s.anom.echNames == nil {
		s.anom.echNames = DefaultECHPublicNames
	}
	if c.MalformedSampleInterval > 0 {
		s.anom.sampler = malformedSampler{interval: int64(c.MalformedSampleInterval), sensor: s.sensor}
		s.anom.samples = make(chan *detect.Event, malformedQueue)
	}
}

// malformedQueue bounds the samples waiting for their shard: one per
// reason is what an interval can make.
const malformedQueue = int(capture.NumDropReasons) * 2

// malformedSampler turns the decoder's malformed-frame drops into sampled
// anomalies: per drop reason, the first malformed frame, then at most one
// per interval of packet time, each with the frames since the previous
// sample. Frames after the last sample are in the stats' decoder counters
// only. Costs nothing for frames that decode.
type malformedSampler struct {
	interval int64
	sensor   string
	seen     [capture.NumDropReasons]uint64 // the decoder's counters at the last malformed frame
	since    [capture.NumDropReasons]uint64 // frames since the last sample
	last     [capture.NumDropReasons]int64  // packet time of the last sample
	sampled  [capture.NumDropReasons]bool
	lost     uint64 // samples dropped because the shard's queue was full
}

// decodeSampled is dec.Decode plus the malformed-frame sampler (the one
// call site of each capture loop).
func (s *Shard) decodeSampled(dec *capture.Decoder, p *capture.Packet, lt layers.LinkType, data []byte, ts int64, wireLen int) capture.Result {
	res := dec.Decode(p, lt, data, ts, wireLen)
	if res == capture.Malformed && s.anom.samples != nil {
		s.anom.sampler.observe(dec, p, ts, s.anom.samples)
	}
	return res
}

func (m *malformedSampler) observe(dec *capture.Decoder, p *capture.Packet, ts int64, out chan<- *detect.Event) {
	st := dec.Stats()
	for r := range st.Dropped {
		n := st.Dropped[r] - m.seen[r]
		m.seen[r] = st.Dropped[r]
		if n == 0 || r < int(capture.ReasonLink) { // only the malformed_* reasons
			continue
		}
		m.since[r] += n
		if m.sampled[r] && ts-m.last[r] < m.interval && ts >= m.last[r] {
			continue
		}
		e := &detect.Event{Type: detect.TypeAnomaly, Timestamp: ts, Sensor: m.sensor}
		d := []detect.Detail{detect.Str("reason", capture.DropReason(r).String()), detect.Num("count", int64(m.since[r])),
			detect.Num("interval_s", m.interval/1e9)}
		if p.IPVersion != 0 { // the IP header decoded: the offending endpoints
			e.SrcIP, e.DestIP, e.Proto = p.Src.Netip(), p.Dst.Netip(), p.Proto
			if p.SrcPort != 0 || p.DstPort != 0 {
				e.SrcPort, e.DestPort = p.SrcPort, p.DstPort
			}
		}
		e.Anomaly = &detect.Anomaly{Type: "malformed", Event: capture.DropReason(r).String(), Detail: d}
		select {
		case out <- e:
			m.since[r], m.last[r], m.sampled[r] = 0, ts, true
		default:
			m.lost++ // the counts carry over to the next sample
		}
	}
}

// drainAnomalies emits the malformed-frame samples waiting for this shard
// (once per batch).
func (s *Shard) drainAnomalies() {
	for s.anom.samples != nil {
		select {
		case e := <-s.anom.samples:
			s.emit(e, evAnomaly)
		default:
			return
		}
	}
}
