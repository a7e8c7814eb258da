package nat

import (
	"net/netip"
	"slices"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// Mapping and filtering behaviours (RFC 4787 §4.1, §5).
const (
	endpointIndependent  = "endpoint_independent"
	addressDependent     = "address_dependent"
	addressPortDependent = "address_port_dependent"
)

// estimate is the evidence of one source, counted.
type estimate struct {
	hosts       int
	conf        float64
	ttlClasses  int
	sigs        int
	clocks      int // hosts the timestamp clocks separate (per signature, most toward one destination)
	maxClocks   int // most clocks of one signature toward one destination
	portRuns    int // hosts the source-port runs separate
	maxPortRuns int
	ipid        int
	ua          int
	ja4         int
	paired      int
	portAlloc   string
	ports       int
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// runsPerSig sorts keys (signature index << 56 | destination hash) and
// returns, per signature, the most keys any one destination has.
func runsPerSig(keys []uint64) (per [maxSigs]int) {
	slices.Sort(keys)
	for i := 0; i < len(keys); {
		j := i + 1
		for j < len(keys) && keys[j] == keys[i] {
			j++
		}
		gi := int(keys[i] >> 56)
		per[gi] = max(per[gi], j-i)
		i = j
	}
	return per
}

// count measures s's evidence. The work is bounded by the per-source caps
// (at most maxClocks timestamp clocks are sorted).
func (t *Tracker) count(s *source) estimate {
	var e estimate
	e.ttlClasses = s.ttlClasses()
	e.sigs = len(s.sigs)

	// Confirmed clocks and port runs per (signature, destination): the
	// hosts of one signature are at least the most of either seen toward
	// any one destination.
	keys := t.scratch[:0]
	for i := range s.clocks {
		c := &s.clocks[i]
		if c.n < 2 {
			continue
		}
		if gi := slices.IndexFunc(s.sigs, func(g sigEntry) bool { return g.sig == c.sig }); gi >= 0 {
			keys = append(keys, uint64(gi)<<56|detect.EventID(c.dst[:])>>8)
		}
	}
	clockSig := runsPerSig(keys)
	keys = keys[:0]
	for i := range s.portSeqs {
		q := &s.portSeqs[i]
		if q.n < 2 {
			continue
		}
		if gi := slices.IndexFunc(s.sigs, func(g sigEntry) bool { return g.sig == q.sig }); gi >= 0 {
			keys = append(keys, uint64(gi)<<56|(detect.EventID(q.dst[:])^uint64(q.dport)*0x9e3779b97f4a7c15)>>8)
		}
	}
	portSig := runsPerSig(keys)
	t.scratch = keys
	sigHosts := 0
	for gi := range s.sigs {
		e.clocks += clockSig[gi]
		e.portRuns += portSig[gi]
		e.maxClocks = max(e.maxClocks, clockSig[gi])
		e.maxPortRuns = max(e.maxPortRuns, portSig[gi])
		sigHosts += max(1, clockSig[gi], portSig[gi])
	}

	for _, q := range s.ipid {
		if q.flows >= ipidMinFlows && q.pkts >= ipidMinPkts {
			e.ipid++
		}
	}
	for _, l := range s.uaLast {
		if l != 0 {
			e.ua++
		}
	}
	e.ja4 = len(s.ja4)
	e.paired = len(s.paired)
	e.hosts = max(sigHosts, e.ttlClasses, e.ua, e.ipid, e.paired)
	if len(s.sigs) == 0 && e.paired == 0 {
		e.hosts = max(e.ua, e.ipid)
	}

	// Confidence: each kind of evidence that shows more than one host
	// lowers the chance that it is one host after all.
	miss := 1.0
	if e.ttlClasses >= 2 {
		miss *= 0.3
	}
	if e.sigs > 1 && e.sigs > ittls(s) {
		miss *= 0.4 // signatures differ beyond their initial TTLs
	}
	if e.maxClocks >= 2 {
		miss *= 0.2
	}
	if e.maxPortRuns >= 2 {
		miss *= 0.35
	}
	if e.ipid >= 2 {
		miss *= 0.55
	}
	if e.ua >= 2 {
		miss *= 0.5
	}
	e.conf = 1 - miss
	if e.paired >= 1 {
		e.conf = max(e.conf, 0.99)
	}
	return e
}

// ttlClasses counts distinct (initial TTL, hops) pairs, an initial TTL
// with more than maxHopSpread hop counts as one.
func (s *source) ttlClasses() int {
	n := 0
	for i, a := range s.ttls {
		it := a.class >> 8
		first, hops := true, 0
		for j, b := range s.ttls {
			if b.class>>8 == it {
				hops++
				if j < i {
					first = false
				}
			}
		}
		switch {
		case hops <= maxHopSpread:
			n++
		case first:
			n++ // unstable: this initial TTL counts once
		}
	}
	return n
}

// ittls counts the distinct initial TTLs among the signatures.
func ittls(s *source) int {
	var seen [4]bool
	n := 0
	for _, g := range s.sigs {
		i := 0
		switch g.sig.ittl {
		case 64:
			i = 1
		case 128:
			i = 2
		case 255:
			i = 3
		}
		if !seen[i] {
			seen[i], n = true, n+1
		}
	}
	return n
}

// portAllocation classifies the gateway's source ports: exactly from
// paired inside/outside flows, else from the outside alone by the shape
// of its TCP SYNs' source ports (the last 32).
func (s *source) portAllocation() (string, int) {
	if s.pairsTotal >= 3 {
		switch {
		case s.pairsSame*10 >= s.pairsTotal*8:
			return "preserving", s.pairsTotal
		case s.pairsSeq*10 >= (s.pairsTotal-1)*6:
			return "sequential", s.pairsTotal
		}
		return "random", s.pairsTotal
	}
	n := s.nports
	if n < 10 {
		return "", n
	}
	start := (s.portNext - n + portRing) % portRing
	seq, low := 0, 0
	prev := s.ports[start]
	for i := 0; i < n; i++ {
		p := s.ports[(start+i)%portRing]
		if i > 0 {
			if d := p - prev; d >= 1 && d <= 16 {
				seq++
			}
		}
		if p < 32768 {
			low++
		}
		prev = p
	}
	switch {
	case seq*10 >= (n-1)*6:
		return "sequential", n
	case low >= 2 && low*8 >= n:
		// Client stacks pick ephemeral ports from 32768 up (Linux
		// 32768–60999, Windows and BSD 49152–65535); many below that
		// is a gateway choosing its own ports across 1024–65535.
		return "random", n
	}
	return "preserving", n
}

// natType combines the mapping and filtering verdicts (RFC 3489 names).
func natType(mapping, filtering string) string {
	switch mapping {
	case addressDependent, addressPortDependent:
		return "symmetric"
	case endpointIndependent:
		switch filtering {
		case endpointIndependent:
			return "full_cone"
		case addressDependent:
			return "restricted_cone"
		case addressPortDependent:
			return "port_restricted_cone"
		}
	}
	return "unknown"
}

// summarise recounts the evidence only when its shape changed (a new
// signature, a clock or port run confirmed, a pruned entry…): the common
// SYN, one more on a known run, costs only the port-allocation pass.
func (t *Tracker) summarise(s *source) (summary, estimate) {
	if s.dirty {
		s.est, s.dirty = t.count(s), false
	}
	e := s.est
	e.portAlloc, e.ports = s.portAllocation()
	if e.hosts >= 2 && s.syns < 2*e.hosts && e.paired == 0 {
		e.conf *= 0.6 // few connections per claimed host
	}
	return summary{
		hosts: e.hosts, conf10: int(e.conf * 10),
		natType: natType(s.mapVerdict, s.filtVerdict), mapping: s.mapVerdict, filt: s.filtVerdict,
		portAlloc: e.portAlloc, paired: e.paired, upnp: len(s.upnp), forwards: len(s.forwards),
	}, e
}

// reportable: several hosts with enough confidence, or translation shown
// outright (paired flows, a STUN mapping seen from inside, UPnP port
// mappings), or a STUN exchange that shows a NAT's restrictions. An
// address whose STUN tests look open (independent mapping and filtering)
// is not reported on that alone: from outside, a host with no NAT looks
// the same.
func (t *Tracker) reportable(s *source, sum *summary, e estimate) bool {
	switch {
	case e.hosts >= 2 && e.conf >= t.cfg.MinConfidence && s.syns >= t.cfg.MinSYNs:
		return true
	case e.paired > 0, len(s.upnp) > 0:
		return true
	case sum.mapping == addressDependent || sum.mapping == addressPortDependent:
		return true
	case sum.filt == addressDependent || sum.filt == addressPortDependent:
		return true
	}
	return false
}

// build renders the report (allocates; reports are rare).
func (t *Tracker) build(s *source, sum *summary, e estimate, now int64) *detect.NAT {
	pub := s.addr.Netip()
	n := &detect.NAT{
		PublicIP: pub, HostsEstimate: e.hosts, Confidence: float64(int(e.conf*100)) / 100,
		NATType: sum.natType, Mapping: s.mapVerdict, Filtering: s.filtVerdict, TypeSource: s.typeSource,
		PortAllocation: e.portAlloc, CGNAT: cgnat.Contains(pub),
		WindowStart: s.first, WindowEnd: now,
	}
	if n.NATType == "unknown" {
		n.NATType = ""
	}
	ev := &n.Evidence
	ev.TTLClasses, ev.SYNSignatures, ev.Clocks, ev.PortRuns = e.ttlClasses, e.sigs, e.clocks, e.portRuns
	ev.IPIDSequences, ev.UserAgents, ev.JA4, ev.PairedHosts = e.ipid, e.ua, e.ja4, e.paired
	ev.SYNs, ev.PortSamples = s.syns, e.ports
	for _, c := range s.ttls {
		if len(ev.TTLs) < 16 {
			ev.TTLs = append(ev.TTLs, ttlClassString(c.class))
		}
	}
	for _, g := range s.sigs {
		if len(ev.Signatures) < 16 {
			ev.Signatures = append(ev.Signatures, g.sig.String())
		}
	}
	for fam, l := range s.uaLast {
		if l != 0 {
			ev.UAFamilies = append(ev.UAFamilies, uaFamilyNames[fam])
		}
	}
	for i, j := range s.ja4 {
		if i == 8 {
			break
		}
		ev.JA4s = append(ev.JA4s, j.str)
	}
	for i, h := range s.paired {
		if i == 16 {
			break
		}
		ev.InsideHosts = append(ev.InsideHosts, h.str)
	}
	if len(s.upnp) > 0 {
		n.UPnP = &detect.UPnP{Gateway: s.upnpGateway, Mappings: slices.Clone(s.upnp)}
	}
	for _, f := range s.forwards {
		n.Forwards = append(n.Forwards, detect.PortForward{Port: f.port, Protocol: detect.ProtoName(f.proto), Accepted: f.n})
	}
	return n
}

// pairKey identifies one flow start by what a NAT does not change: the
// remote endpoint, and the TCP initial sequence number or a hash of the
// first UDP payload.
type pairKey struct {
	remote capture.Addr
	rport  uint16
	proto  uint8
	token  uint64
}

type pairSide struct {
	addr capture.Addr
	port uint16
	t    int64
}

func (t *Tracker) isInside(a capture.Addr) bool {
	ip := a.Netip()
	for _, p := range t.cfg.InsideNetworks {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// pair files a flow start as a pairing candidate and matches it with the
// other side's. It returns the outside source when a pair was made.
// Outside candidates are kept whether or not inside traffic was seen yet:
// the two taps' copies of a flow's first packet reach the tracker in
// either order (different sockets, different shards). A sensor without
// an inside tap pays a map insert per flow start (entries live 2 s; the
// table is capped at 65 536).
func (t *Tracker) pair(k pairKey, p *capture.Packet, now int64) *source {
	if len(t.cfg.InsideNetworks) == 0 {
		return nil // pairing off
	}
	inside := t.isInside(p.Src)
	if inside {
		t.insideSeen = now
	}
	mine, other := t.pendOut, t.pendIn
	if inside {
		mine, other = t.pendIn, t.pendOut
	}
	side := pairSide{addr: p.Src, port: p.SrcPort, t: now}
	if o, ok := other[k]; ok && o.addr != p.Src && now-o.t <= pairWindow && o.t-now <= pairWindow {
		delete(other, k)
		in, out := side, o
		if !inside {
			in, out = o, side
		}
		return t.paired(in, out, k.remote.Netip(), k.rport, now)
	}
	if len(mine) >= maxPending {
		if t.insideSeen != 0 && now-t.insideSeen <= t.window {
			t.stats.PendingDrops++ // a loss only where there is an inside tap
		}
		return nil
	}
	mine[k] = side
	return nil
}

// paired records one inside flow translated to an outside one.
func (t *Tracker) paired(in, out pairSide, remote netip.Addr, rport uint16, now int64) *source {
	t.stats.PairedFlows++
	s := t.lookup(out.addr, now)
	s.prune(now - t.window)
	s.addInside(in.addr, now)
	s.pairsTotal++
	if in.port == out.port {
		s.pairsSame++
	} else if d := out.port - s.lastOuter; s.lastOuter != 0 && d >= 1 && d <= 16 {
		s.pairsSeq++
	}
	s.lastOuter = out.port
	s.dirty = true // port allocation
	s.addMapping(netip.AddrPortFrom(in.addr.Netip(), in.port), remote, rport, out.port, now, "paired")
	return s
}

func (s *source) addInside(a capture.Addr, now int64) {
	k := detect.EventID(a[:])
	for i := range s.paired {
		if s.paired[i].key == k {
			s.paired[i].last = now
			return
		}
	}
	if len(s.paired) < maxPaired {
		s.paired = append(s.paired, seen{key: k, str: a.String(), last: now})
		s.dirty = true
	}
}

// addMapping records that inner reached remote through outside port
// outer, and judges the mapping behaviour when the same inside endpoint
// has reached another remote address.
func (s *source) addMapping(inner netip.AddrPort, remote netip.Addr, rport, outer uint16, now int64, from string) {
	for i := range s.mappings {
		m := &s.mappings[i]
		if m.inner != inner {
			continue
		}
		if m.remote == remote {
			m.last = now
			continue
		}
		if m.outer == outer {
			s.setMapping(endpointIndependent, from)
		} else {
			s.setMapping(addressDependent, from)
		}
	}
	for i := range s.mappings {
		if m := &s.mappings[i]; m.inner == inner && m.remote == remote && m.rport == rport {
			return
		}
	}
	if len(s.mappings) < maxMappings {
		s.mappings = append(s.mappings, mapping{inner: inner, remote: remote, rport: rport, outer: outer, last: now})
	}
}

// setMapping keeps a dependent verdict once made: one inside endpoint
// seen with two outside ports proves the mapping depends on the remote.
func (s *source) setMapping(v, from string) {
	if s.mapVerdict == addressDependent && v == endpointIndependent {
		return
	}
	if s.mapVerdict != v {
		s.mapVerdict, s.typeSource, s.dirty = v, from, true
	}
}

// Inbound probes (two taps): a remote's first UDP packet to a gateway's
// mapped port is an unsolicited packet unless that inside endpoint sent to
// exactly that remote endpoint; whether it shows up inside tells the NAT's
// filtering (RFC 4787 §5). A stranger's packet let through = endpoint-
// independent; only packets from contacted addresses = address-dependent;
// not even those = address-and-port-dependent.
type probeClass uint8

const (
	probeNone      probeClass = iota // solicited, or no mapping on that port
	probeStranger                    // from an address the mapping never contacted
	probeOtherPort                   // from a contacted address, another port
)

// inbound files a flow start as an inbound candidate (outside: to a
// gateway; inside: to an inside host) and settles it when both are seen.
func (t *Tracker) inbound(k pairKey, p *capture.Packet, now int64) *source {
	if t.insideSeen == 0 || now-t.insideSeen > t.window || t.isInside(p.Src) {
		return nil
	}
	side := pairSide{addr: p.Dst, port: p.DstPort, t: now}
	if t.isInside(p.Dst) {
		if o, ok := t.inbOut[k]; ok {
			delete(t.inbOut, k)
			return t.probeResult(k, o, true, now)
		}
		if len(t.inbIn) < maxPending {
			t.inbIn[k] = side
		}
		return nil
	}
	if s := t.sources[p.Dst]; s == nil || len(s.mappings) == 0 {
		return nil // not a gateway whose mappings the sensor knows
	}
	if _, ok := t.inbIn[k]; ok { // the inside copy came first (another tap)
		delete(t.inbIn, k)
		return t.probeResult(k, side, true, now)
	}
	if len(t.inbOut) < maxPending {
		t.inbOut[k] = side
	}
	return nil
}

// probeResult records whether an inbound packet from k's remote to the
// gateway endpoint out passed, when it was an unsolicited probe.
func (t *Tracker) probeResult(k pairKey, out pairSide, passed bool, now int64) *source {
	s := t.sources[out.addr]
	if s == nil {
		return nil
	}
	remote := k.remote.Netip()
	class, mapped := probeStranger, false
	for _, m := range s.mappings {
		if m.outer != out.port {
			continue
		}
		mapped = true
		if m.remote == remote {
			if m.rport == k.rport {
				return nil // solicited: an answer, not a probe
			}
			class = probeOtherPort
		}
	}
	if !mapped {
		return nil
	}
	i := 0
	if class == probeOtherPort {
		i = 2
	}
	if !passed {
		i++
	}
	s.probes[i]++
	v := ""
	switch {
	case s.probes[0] > 0: // a stranger got through
		v = endpointIndependent
	case s.probes[3] > 0: // a contacted address, another port, stopped
		v = addressPortDependent
	case s.probes[1] > 0 && s.probes[2] > 0:
		v = addressDependent
	}
	if v != "" && (s.typeSource == "" || s.typeSource == "paired") && s.filtVerdict != v {
		s.filtVerdict, s.typeSource, s.dirty = v, "paired", true
	}
	return s
}
