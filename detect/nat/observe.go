package nat

import (
	"net/netip"
	"slices"
	"strconv"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// stunSession is what one STUN client address has shown of a NAT test
// (RFC 3489 / RFC 5780 behaviour discovery): which ports it used toward
// which server addresses, and which change tests were answered. Requests
// and answers travel in different flows, which different shards may
// handle in either order, so everything here is order-independent: both
// are kept and matched by transaction id whichever comes second, and the
// verdicts use earliest answers and latest requests.
type stunSession struct {
	reqs   [32]stunReq // recent requests, a ring
	nreq   int
	resps  [32]stunResp // recent answers, a ring
	nresp  int
	tests  []stunTest
	toAddr []portUse  // change-free requests: source port → server address
	alt    []altAddr  // server address → alternate address it advertised
	outer  netip.Addr // inside view: the public address answers carried
	inside bool       // answers show an address other than the one they reach
	rtt    int64      // smallest request → answer time seen
	dirty  bool       // a verdict changed since it was applied
}

type stunReq struct {
	txid   [16]byte
	client netip.AddrPort
	server netip.AddrPort
	change uint8
	t      int64
}

type stunResp struct {
	txid    [16]byte
	to      netip.AddrPort
	mapped  netip.AddrPort
	changed netip.AddrPort
	t       int64
}

// stunTest is one change test (a CHANGE-REQUEST) from one client port.
type stunTest struct {
	port          uint16
	change        uint8
	requests      int
	first, latest int64 // earliest and latest request
	respAt        int64 // earliest answer (0: none)
	verdict       int8  // 0 undecided, 1 delivered, -1 filtered
}

type portUse struct {
	addr netip.Addr
	port uint16
}

type altAddr struct{ server, alt netip.Addr }

func (ss *stunSession) findReq(txid *[16]byte) *stunReq {
	for i := 0; i < ss.nreq && i < len(ss.reqs); i++ {
		if ss.reqs[i].txid == *txid {
			return &ss.reqs[i]
		}
	}
	return nil
}

func (ss *stunSession) findResp(txid *[16]byte) *stunResp {
	for i := 0; i < ss.nresp && i < len(ss.resps); i++ {
		if ss.resps[i].txid == *txid {
			return &ss.resps[i]
		}
	}
	return nil
}

func (ss *stunSession) test(port uint16, change uint8) *stunTest {
	for i := range ss.tests {
		if ss.tests[i].port == port && ss.tests[i].change == change {
			return &ss.tests[i]
		}
	}
	if len(ss.tests) >= 16 {
		return nil
	}
	ss.tests = append(ss.tests, stunTest{port: port, change: change})
	return &ss.tests[len(ss.tests)-1]
}

func (ss *stunSession) grace() int64 {
	return max(stunRetryGrace, 2*ss.rtt)
}

// ObserveSTUN takes one STUN Binding message.
func (t *Tracker) ObserveSTUN(p *capture.Packet, m *STUNMessage) []*detect.NAT {
	now := p.Timestamp
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.STUN++
	src := netip.AddrPortFrom(p.Src.Netip(), p.SrcPort)
	dst := netip.AddrPortFrom(p.Dst.Netip(), p.DstPort)
	var out []*detect.NAT
	switch {
	case m.IsRequest():
		s, ss := t.stunOf(p.Src, now)
		req := &ss.reqs[ss.nreq%len(ss.reqs)]
		*req = stunReq{txid: m.TxID, client: src, server: dst, change: m.Change, t: now}
		ss.nreq++
		if m.Change == 0 {
			if len(ss.toAddr) < 64 && !slices.Contains(ss.toAddr, portUse{addr: dst.Addr(), port: p.SrcPort}) {
				ss.toAddr = append(ss.toAddr, portUse{addr: dst.Addr(), port: p.SrcPort})
			}
		} else if tt := ss.test(p.SrcPort, m.Change); tt != nil {
			if tt.requests == 0 || now < tt.first {
				tt.first = now
			}
			tt.latest = max(tt.latest, now)
			tt.requests++
			ss.dirty = true
		}
		if resp := ss.findResp(&m.TxID); resp != nil {
			out = t.matchSTUN(s, req, resp, now, out)
		}
		if !ss.inside {
			ss.judgeMapping(s)
			out = t.maybeReport(s, now, out)
		}
		return out
	case m.IsResponse():
		s, ss := t.stunOf(p.Dst, now)
		resp := &ss.resps[ss.nresp%len(ss.resps)]
		*resp = stunResp{txid: m.TxID, to: dst, mapped: m.Mapped, changed: m.Changed, t: now}
		ss.nresp++
		if req := ss.findReq(&m.TxID); req != nil {
			out = t.matchSTUN(s, req, resp, now, out)
		} else if m.Changed.IsValid() {
			ss.addAlt(src.Addr(), m.Changed.Addr())
		}
		if ss.decide(now, false) {
			t.applySTUN(s)
			out = t.maybeReport(t.stunTarget(s), now, out)
		}
		if !ss.inside {
			ss.judgeMapping(s)
			out = t.maybeReport(s, now, out)
		}
	}
	return out
}

// stunOf returns the STUN client a's source and session, made if new.
func (t *Tracker) stunOf(a capture.Addr, now int64) (*source, *stunSession) {
	s := t.lookup(a, now)
	if s.stun == nil {
		s.stun = &stunSession{}
	}
	return s, s.stun
}

// matchSTUN pairs a request with its answer (whichever arrived second).
func (t *Tracker) matchSTUN(s *source, req *stunReq, resp *stunResp, now int64, out []*detect.NAT) []*detect.NAT {
	ss := s.stun
	if d := resp.t - req.t; d >= 0 && (ss.rtt == 0 || d < ss.rtt) {
		ss.rtt = d
	}
	if req.change != 0 {
		if tt := ss.test(req.client.Port(), req.change); tt != nil && (tt.respAt == 0 || resp.t < tt.respAt) {
			tt.respAt = resp.t
			ss.dirty = true
		}
	}
	if resp.changed.IsValid() {
		ss.addAlt(req.server.Addr(), resp.changed.Addr())
	}
	if mp := resp.mapped; mp.IsValid() && mp.Addr().Unmap() != resp.to.Addr() {
		// The answer names an address other than the one it reaches: this
		// tap is inside a NAT, and the server saw the NAT's mapping.
		ss.inside, ss.outer = true, mp.Addr().Unmap()
		outer := t.lookup(addrOf(ss.outer), now)
		outer.prune(now - t.window)
		outer.addInside(addrOf(resp.to.Addr()), now)
		if req.change == 0 && req.server.Addr() != ss.outer {
			outer.addMapping(resp.to, req.server.Addr(), req.server.Port(), mp.Port(), now, "stun")
		}
		ss.dirty = true
		out = t.maybeReport(outer, now, out)
	}
	return out
}

func (ss *stunSession) addAlt(server, alt netip.Addr) {
	for _, a := range ss.alt {
		if a.server == server {
			return
		}
	}
	ss.alt = append(ss.alt, altAddr{server: server, alt: alt})
}

// judgeMapping (outside view): the same client port toward a server and
// toward the alternate address it advertised = endpoint-independent
// mapping; only other ports toward the alternate = dependent mapping.
// RFC 3489 and RFC 5780 clients run this test from one socket.
func (ss *stunSession) judgeMapping(s *source) {
	for _, a := range ss.alt {
		var toServer, toAlt, shared bool
		for _, u := range ss.toAddr {
			switch u.addr {
			case a.server:
				toServer = true
			case a.alt:
				toAlt = true
				for _, v := range ss.toAddr {
					if v.addr == a.server && v.port == u.port {
						shared = true
					}
				}
			}
		}
		if toServer && toAlt {
			if shared {
				s.setMapping(endpointIndependent, "stun")
			} else {
				s.setMapping(addressDependent, "stun")
			}
		}
	}
}

// decide settles change tests: repeated after the answer = filtered;
// answered and not repeated for a while = delivered; in the inside view,
// asked again and again with no answer arriving = filtered (the answer
// was stopped at the NAT). It reports whether a verdict changed.
func (ss *stunSession) decide(now int64, final bool) bool {
	changed := ss.dirty
	ss.dirty = false
	for i := range ss.tests {
		tt := &ss.tests[i]
		v := tt.verdict
		switch {
		case tt.respAt != 0 && tt.latest > tt.respAt+ss.grace():
			v = -1 // asked again after the answer: it never arrived
		case tt.respAt != 0 && (final || now-tt.respAt >= stunDecide):
			v = 1
		case tt.respAt == 0 && ss.inside && tt.requests >= 2 && (final || now-tt.first >= stunDecide):
			v = -1
		}
		if v != tt.verdict {
			tt.verdict, changed = v, true
		}
	}
	return changed
}

func (t *Tracker) stunTarget(s *source) *source {
	if s.stun.inside && s.stun.outer.IsValid() {
		if o := t.sources[addrOf(s.stun.outer)]; o != nil {
			return o
		}
	}
	return s
}

// applySTUN turns decided change tests into a filtering verdict on the
// address the NAT presents (RFC 3489 §10.1 / RFC 5780 §4.4): an answer
// from another address got through = endpoint-independent filtering; only
// answers from another port of the same address = address-dependent;
// neither = address-and-port-dependent.
func (t *Tracker) applySTUN(s *source) {
	ss := s.stun
	target := t.stunTarget(s)
	var ipOK, ipBad, portOK, portBad bool
	for _, tt := range ss.tests {
		switch {
		case tt.change&changeIPFlag != 0 && tt.verdict == 1:
			ipOK = true
		case tt.change&changeIPFlag != 0 && tt.verdict == -1:
			ipBad = true
		case tt.change == changePortFlag && tt.verdict == 1:
			portOK = true
		case tt.change == changePortFlag && tt.verdict == -1:
			portBad = true
		}
	}
	var v string
	switch {
	case ipOK:
		v = endpointIndependent
	case ipBad && portOK:
		v = addressDependent
	case ipBad && portBad:
		v = addressPortDependent
	default:
		return
	}
	if target.filtVerdict != v {
		target.filtVerdict, target.dirty = v, true
	}
	if target.typeSource == "" {
		target.typeSource = "stun"
	}
}

// ObserveSSDP takes an SSDP datagram: a gateway answering or announcing
// itself as an Internet Gateway Device is remembered by its control
// endpoint.
func (t *Tracker) ObserveSSDP(p *capture.Packet, m *SSDPMessage) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.SSDP++
	if (m.Kind == SSDPResponse || m.Kind == SSDPNotify) && m.IGD && m.Location.IsValid() {
		if _, ok := t.igds[m.Location]; !ok && len(t.igds) < 4096 {
			t.igds[m.Location] = netip.Addr{}
		}
	}
}

// ObserveSOAP takes an IGD control message: AddPortMapping requests are
// attached to the gateway (its public address once a GetExternalIPAddress
// answer has named it, its inside address until then).
func (t *Tracker) ObserveSOAP(p *capture.Packet, m *SOAPMessage) []*detect.NAT {
	now := p.Timestamp
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.SOAP++
	switch m.Kind {
	case SOAPExternalIP:
		igd := netip.AddrPortFrom(p.Src.Netip(), p.SrcPort)
		if len(t.igds) < 4096 || t.igdKnown(igd) {
			t.igds[igd] = m.ExternalIP
		}
		// Mappings filed under the inside address move to the public one.
		if in := t.sources[p.Src]; in != nil && len(in.upnp) > 0 {
			pub := t.lookup(addrOf(m.ExternalIP), now)
			pub.upnp = append(pub.upnp, in.upnp...)
			pub.dirty = true
			pub.upnpGateway = in.upnpGateway
			in.upnp = nil
			return t.maybeReport(pub, now, nil)
		}
		return nil
	case SOAPAddPortMapping:
		igd := netip.AddrPortFrom(p.Dst.Netip(), p.DstPort)
		target := p.Dst
		if pub := t.igds[igd]; pub.IsValid() {
			target = addrOf(pub)
		} else if !t.igdKnown(igd) && len(t.igds) < 4096 {
			t.igds[igd] = netip.Addr{}
		}
		s := t.lookup(target, now)
		s.prune(now - t.window)
		pm := detect.PortMapping{
			ExternalPort: m.ExternalPort, Protocol: string(m.Protocol), InternalClient: string(m.InternalClient),
			InternalPort: m.InternalPort, Description: string(m.Description), LeaseSeconds: m.LeaseSeconds,
		}
		for _, have := range s.upnp {
			if have == pm {
				return nil
			}
		}
		if len(s.upnp) >= maxUPnP {
			return nil
		}
		s.upnp = append(s.upnp, pm)
		s.dirty = true
		s.upnpGateway = igd.Addr().String() + ":" + strconv.Itoa(int(igd.Port()))
		return t.maybeReport(s, now, nil)
	}
	return nil
}

func (t *Tracker) igdKnown(ap netip.AddrPort) bool {
	_, ok := t.igds[ap]
	return ok
}
