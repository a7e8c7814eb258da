package nat

import (
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// Config sets the tracker's window, bounds and thresholds.
type Config struct {
	// Window is how long evidence counts (packet time): hosts that stopped
	// talking that long ago no longer add to an estimate.
	Window time.Duration
	// MaxSources bounds the addresses tracked; beyond it an arbitrary
	// address is forgotten (counted as evicted).
	MaxSources int
	// MinConfidence is the least confidence at which an address is
	// reported as hiding several hosts.
	MinConfidence float64
	// MinSYNs is the least TCP SYNs from an address before its host
	// estimate is reported.
	MinSYNs int
	// InsideNetworks are the prefixes behind the NATs the sensor watches
	// from the inside (a second tap): flows from them are paired with the
	// outside flows they were translated to.
	InsideNetworks []netip.Prefix
}

// DefaultConfig returns the defaults: a 10-minute window, 65 536 sources,
// confidence 0.5, 2 SYNs, RFC 1918 and ULA as inside networks.
func DefaultConfig() Config {
	return Config{
		Window: 10 * time.Minute, MaxSources: 65536, MinConfidence: 0.5, MinSYNs: 2,
		InsideNetworks: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
			netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("fc00::/7"),
		},
	}
}

// Stats are the tracker's counters.
type Stats struct {
	Sources      int    `json:"sources"`       // addresses tracked now
	Evicted      uint64 `json:"evicted"`       // addresses forgotten for MaxSources
	Expired      uint64 `json:"expired"`       // addresses idle longer than the window
	SYNs         uint64 `json:"syns"`          // SYNs observed
	PairedFlows  uint64 `json:"paired_flows"`  // inside/outside flow pairs matched
	STUN         uint64 `json:"stun"`          // STUN Binding messages read
	SSDP         uint64 `json:"ssdp"`          // SSDP datagrams read
	SOAP         uint64 `json:"soap"`          // IGD control messages read
	Reports      uint64 `json:"reports"`       // nat events produced
	PendingDrops uint64 `json:"pending_drops"` // pairing candidates not kept (table full)
}

// Per-source bounds: what one address can make the tracker hold.
const (
	maxSigs = 32
	maxTTLs = 32
	// maxHopSpread: more distinct hop counts than this for one initial
	// TTL is not a few hosts at different distances but TTLs chosen per
	// packet (scanners, forgers); they then count as one class.
	maxHopSpread = 3
	maxClocks    = 128
	maxIPIDSeqs  = 32
	maxJA4       = 16
	maxPaired    = 256
	maxMappings  = 64
	maxForwards  = 16
	maxUPnP      = 16
	portRing     = 32
	maxPending   = 1 << 16
	pairWindow   = int64(2 * time.Second)
	ipidGap      = 128
	ipidMaxDT    = int64(time.Second)
	ipidMinFlows = 3
	ipidMinPkts  = 5
	// stunRetryGrace: a request repeated this long after the server
	// answered it means the answer did not reach the client.
	stunRetryGrace = int64(50 * time.Millisecond)

	// stunDecide: a change test whose answer drew no repeat this long is
	// taken as delivered.
	stunDecide = int64(time.Second)
)

// Tracker gathers NAT evidence per source address. It is shared by all
// shards: one address's flows hash to different shards, so evidence must
// meet in one place. Observations are rare next to packets (SYNs, a
// flow's first packets, STUN/SSDP/SOAP messages, app events) and take
// one short-held lock.
type Tracker struct {
	mu      sync.Mutex
	cfg     Config
	window  int64
	sources map[capture.Addr]*source
	// Pairing candidates: inside and outside flow starts not yet matched.
	pendIn, pendOut map[pairKey]pairSide
	// Inbound flow starts (a remote's first packet), keyed by the remote
	// endpoint and payload: seen outside to a gateway's mapped port, and
	// inside when the NAT let it through (filtering, two taps).
	inbIn, inbOut map[pairKey]pairSide
	igds          map[netip.AddrPort]netip.Addr // IGD control endpoints → public address (when learned)
	lastSweep     int64
	insideSeen    int64    // packet time of the latest inside flow start (0: none)
	scratch       []uint64 // count's sort buffer (under mu)
	probation     []probationSYN
	stats         Stats
}

// New returns a tracker; zero fields of cfg take DefaultConfig's values
// (InsideNetworks: nil means the defaults, an empty non-nil slice none).
func New(cfg Config) *Tracker {
	d := DefaultConfig()
	if cfg.Window <= 0 {
		cfg.Window = d.Window
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = d.MaxSources
	}
	if cfg.MinConfidence <= 0 {
		cfg.MinConfidence = d.MinConfidence
	}
	if cfg.MinSYNs <= 0 {
		cfg.MinSYNs = d.MinSYNs
	}
	if cfg.InsideNetworks == nil {
		cfg.InsideNetworks = d.InsideNetworks
	}
	return &Tracker{
		cfg: cfg, window: int64(cfg.Window),
		sources: make(map[capture.Addr]*source),
		pendIn:  make(map[pairKey]pairSide), pendOut: make(map[pairKey]pairSide),
		inbIn: make(map[pairKey]pairSide), inbOut: make(map[pairKey]pairSide),
		igds:      make(map[netip.AddrPort]netip.Addr),
		probation: make([]probationSYN, probationSlots),
	}
}

// Stats returns the counters. Safe for concurrent use.
func (t *Tracker) Stats() Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.stats
	st.Sources = len(t.sources)
	return st
}

type sigEntry struct {
	sig  synSig
	last int64
	n    int
}

type ttlSeen struct {
	class uint16 // ttlClass
	last  int64
}

type clock struct {
	sig   synSig
	dst   capture.Addr
	lastT int64
	lastV uint32
	rate  uint32 // ticks per second; 0 = not known yet
	last  int64
	n     int // SYNs on this clock: one alone proves nothing (see addClock)
}

// portSeq is one host's run of source ports toward one service: Linux
// draws a connection's ephemeral port from a per-(source, destination,
// port) random offset that then creeps up by a few per connection, and
// Windows counts up globally, so one host's ports toward one service
// climb in small steps while another host's climb from elsewhere. A
// port-preserving NAT passes both through.
type portSeq struct {
	sig   synSig
	dst   capture.Addr
	dport uint16
	port  uint16 // highest port seen
	last  int64
	n     int
}

type ipidSeq struct {
	lastID   uint16
	lastT    int64
	lastFlow uint64
	flows    int
	pkts     int
}

type seen struct {
	key  uint64
	str  string
	last int64
}

type mapping struct {
	inner  netip.AddrPort
	remote netip.Addr
	rport  uint16 // the remote's port (0: not known)
	outer  uint16
	last   int64
}

type forward struct {
	port  uint16
	proto uint8
	n     int
	last  int64
}

// source is what one address has shown within the window.
type source struct {
	addr        capture.Addr
	first, last int64
	syns        int
	sigs        []sigEntry
	ttls        []ttlSeen
	clocks      []clock
	portSeqs    []portSeq
	ipid        []ipidSeq
	uaLast      [numUAFamilies]int64 // last time each OS family was seen (0 = never)
	ja4         []seen
	ports       [portRing]uint16
	nports      int // samples in ports (saturates at portRing), next write at portNext
	portNext    int
	paired      []seen // inside addresses (key: 0, str: address)
	pairsSame   int    // paired flows whose outside port equals the inside one
	pairsSeq    int    // … whose outside port follows the previous one closely
	pairsTotal  int
	lastOuter   uint16
	mappings    []mapping
	stun        *stunSession
	upnp        []detect.PortMapping
	upnpGateway string
	forwards    []forward
	reported    summary
	est         estimate // count's last result, valid unless dirty
	dirty       bool     // evidence changed shape since est was counted
	pruned      int64    // packet time of the last prune
	window      int64    // the tracker's window (for prune)
	// mapping/filtering verdicts and where they came from
	mapVerdict, filtVerdict string
	// probes counts inbound probes (two taps): stranger passed, stranger
	// stopped, other port of a contacted address passed, … stopped.
	probes     [4]int
	typeSource string
}

// summary is what decides whether a new report is due.
type summary struct {
	hosts                  int
	conf10                 int
	natType, mapping, filt string
	portAlloc              string
	paired, upnp, forwards int
	reported               bool
}

func (t *Tracker) lookup(a capture.Addr, now int64) *source {
	s := t.sources[a]
	if s == nil {
		if len(t.sources) >= t.cfg.MaxSources {
			for k := range t.sources { // arbitrary victim: O(1), bounded memory
				delete(t.sources, k)
				t.stats.Evicted++
				break
			}
		}
		s = &source{addr: a, first: now, dirty: true, pruned: now, window: t.window}
		t.sources[a] = s
	}
	if now > s.last {
		s.last = now
	}
	return s
}

// prune drops evidence older than the window.
func (s *source) prune(cut int64) {
	if s.first >= cut || cut-s.pruned < int64(time.Second) {
		return // pruned within the last second of packet time
	}
	s.first, s.pruned, s.dirty = cut, cut, true
	s.sigs = slices.DeleteFunc(s.sigs, func(e sigEntry) bool { return e.last < cut })
	s.ttls = slices.DeleteFunc(s.ttls, func(e ttlSeen) bool { return e.last < cut })
	s.clocks = slices.DeleteFunc(s.clocks, func(c clock) bool { return c.last < cut })
	s.portSeqs = slices.DeleteFunc(s.portSeqs, func(q portSeq) bool { return q.last < cut })
	s.ipid = slices.DeleteFunc(s.ipid, func(q ipidSeq) bool { return q.lastT < cut })
	s.ja4 = slices.DeleteFunc(s.ja4, func(e seen) bool { return e.last < cut })
	s.paired = slices.DeleteFunc(s.paired, func(e seen) bool { return e.last < cut })
	s.mappings = slices.DeleteFunc(s.mappings, func(m mapping) bool { return m.last < cut })
	s.forwards = slices.DeleteFunc(s.forwards, func(f forward) bool { return f.last < cut })
	for i, l := range s.uaLast {
		if l < cut {
			s.uaLast[i] = 0
		}
	}
	syns := 0
	for _, e := range s.sigs {
		syns += e.n
	}
	s.syns = syns
}

// ObserveSYN takes a TCP SYN (without ACK) from a client: its signature,
// TTL class, timestamp clock and source port, and pairs it with its other
// side when the sensor sees both sides of a NAT.
func (t *Tracker) ObserveSYN(p *capture.Packet) []*detect.NAT {
	now := p.Timestamp
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stats.SYNs++
	var out []*detect.NAT
	if outer := t.pair(pairKey{remote: p.Dst, rport: p.DstPort, proto: capture.ProtoTCP, token: uint64(p.TCP.Seq)}, p, now); outer != nil {
		out = t.maybeReport(outer, now, out)
	}
	s := t.sources[p.Src]
	if s == nil {
		// A first SYN waits in the probation table: an address is only
		// tracked from its second SYN (one SYN proves nothing, and a flood
		// of spoofed sources must not fill the source table).
		fp := &t.probation[addrSlot(p.Src)]
		if !fp.used || fp.p.Src != p.Src || now-fp.p.Timestamp > t.window || fp.p.Timestamp-now > t.window {
			fp.p, fp.used = *p, true
			fp.p.Payload = nil
			return out
		}
		first := fp.p
		fp.used = false
		s = t.lookup(p.Src, min(first.Timestamp, now))
		s.observeSYN(&first)
	} else if now > s.last {
		s.last = now
	}
	s.observeSYN(p)
	return t.maybeReport(s, now, out)
}

// probationSlots sizes the table of first SYNs (about 3 MB).
const probationSlots = 1 << 14

type probationSYN struct {
	p    capture.Packet
	used bool
}

func addrSlot(a capture.Addr) int {
	return int(detect.EventID(a[:]) & (probationSlots - 1))
}

// observeSYN files one SYN's evidence under s.
func (s *source) observeSYN(p *capture.Packet) {
	now := p.Timestamp
	s.prune(now - s.window)
	sig := synSigOf(p)
	si := -1
	for i := range s.sigs {
		if s.sigs[i].sig == sig {
			si = i
			break
		}
	}
	if si < 0 {
		if len(s.sigs) >= maxSigs {
			return
		}
		s.sigs = append(s.sigs, sigEntry{sig: sig})
		si = len(s.sigs) - 1
		s.dirty = true
	}
	s.sigs[si].last, s.sigs[si].n = now, s.sigs[si].n+1
	s.addTTL(ttlClass(p.TTL), now)
	s.syns++
	if p.TCP.HasTS && p.TCP.TSVal != 0 {
		s.addClock(sig, p.Dst, now, p.TCP.TSVal)
	}
	s.addPort(p.SrcPort, now)
	s.addPortSeq(sig, p.Dst, p.DstPort, p.SrcPort, now)
}

// A clock seen once proves nothing: Linux since 6.x (and other stacks)
// draws the timestamp offset per connection, so only a clock that a later
// connection continues is a host's own.
//
// clockRates are the timestamp clock rates in use (RFC 7323 allows
// 1 ms to 1 s ticks): Linux and macOS 1000 Hz, old kernels 250/100 Hz,
// some embedded stacks 10 Hz.
var clockRates = [...]uint32{1000, 250, 100, 10}

// addClock files a TCP timestamp under an existing clock of the same
// signature toward the same destination when it fits that clock's
// progress, else starts a new clock. Linux randomises the offset per
// (source, destination) pair, so clocks are only compared per destination.
func (s *source) addClock(sig synSig, dst capture.Addr, now int64, v uint32) {
	for i := range s.clocks {
		c := &s.clocks[i]
		if c.sig != sig || c.dst != dst {
			continue
		}
		if r, ok := fitsClock(c, now, v); ok {
			if c.rate == 0 && r != 0 {
				c.rate = r
			}
			if now >= c.lastT {
				c.lastT, c.lastV = now, v
			}
			c.last = now
			c.n++
			if c.n == 2 {
				s.dirty = true // confirmed
			}
			return
		}
	}
	if len(s.clocks) >= maxClocks {
		return
	}
	s.clocks = append(s.clocks, clock{sig: sig, dst: dst, lastT: now, lastV: v, last: now, n: 1})
}

// portSeqStep is the largest step between one host's successive ports
// toward one service (Linux adds 2 plus a little per connection, more
// when the host connects elsewhere meanwhile).
const portSeqStep = 64

func (s *source) addPortSeq(sig synSig, dst capture.Addr, dport, port uint16, now int64) {
	for i := range s.portSeqs {
		q := &s.portSeqs[i]
		if q.sig != sig || q.dst != dst || q.dport != dport {
			continue
		}
		d := int(port) - int(q.port)
		if d == 0 {
			q.last = now // the same connection's SYN again
			return
		}
		if d >= -portSeqStep && d <= portSeqStep {
			// (a step back: SYNs handled out of order by two shards)
			q.port, q.last, q.n = max(q.port, port), now, q.n+1
			if q.n == 2 {
				s.dirty = true // confirmed
			}
			return
		}
	}
	if len(s.portSeqs) < maxClocks {
		s.portSeqs = append(s.portSeqs, portSeq{sig: sig, dst: dst, dport: dport, port: port, last: now, n: 1})
	}
}

// fitsClock reports whether timestamp v at time now continues clock c,
// and the rate that made it fit (0 when the gap was too short to tell).
func fitsClock(c *clock, now int64, v uint32) (uint32, bool) {
	dt := now - c.lastT
	dv := int64(int32(v - c.lastV))
	if dt < 0 {
		dt, dv = -dt, -dv
	}
	if dv < 0 {
		return 0, false
	}
	if dt < int64(10*time.Millisecond) && dv <= 20 {
		return 0, true
	}
	try := func(r uint32) bool {
		want := dt * int64(r) / int64(time.Second)
		tol := 3 + want/50 // 2% plus a few ticks of scheduling jitter
		return dv >= want-tol && dv <= want+tol
	}
	if c.rate != 0 {
		return c.rate, try(c.rate)
	}
	for _, r := range clockRates {
		if try(r) {
			return r, true
		}
	}
	return 0, false
}

func (s *source) addTTL(c uint16, now int64) {
	for i := range s.ttls {
		if s.ttls[i].class == c {
			s.ttls[i].last = now
			return
		}
	}
	if len(s.ttls) < maxTTLs {
		s.ttls = append(s.ttls, ttlSeen{class: c, last: now})
		s.dirty = true
	}
}

func (s *source) addPort(port uint16, now int64) {
	if s.nports > 0 {
		if s.ports[(s.portNext+portRing-1)%portRing] == port {
			return // a retransmitted SYN, or a second packet of one flow
		}
	}
	s.ports[s.portNext] = port
	s.portNext = (s.portNext + 1) % portRing
	if s.nports < portRing {
		s.nports++
	}
}

// ObserveIPID takes the IPv4 identification of one of a flow's first
// client packets (Bellovin's technique: hosts with one global counter
// show a sequence that runs across flows; each host its own).
func (t *Tracker) ObserveIPID(p *capture.Packet, flowID uint64) {
	if p.IPID == 0 || p.IPVersion != 4 {
		return
	}
	now, id := p.Timestamp, uint16(p.IPID)
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[p.Src]
	if s == nil {
		return // only addresses that opened connections are tracked
	}
	best, bestD := -1, uint16(ipidGap+1)
	for i := range s.ipid {
		q := &s.ipid[i]
		d := id - q.lastID
		if d == 0 || d > ipidGap || now-q.lastT > ipidMaxDT || now < q.lastT {
			continue
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	if best < 0 {
		if len(s.ipid) >= maxIPIDSeqs {
			// replace the stalest sequence: it is probably one flow's own
			old := 0
			for i := range s.ipid {
				if s.ipid[i].lastT < s.ipid[old].lastT {
					old = i
				}
			}
			s.ipid[old] = ipidSeq{lastID: id, lastT: now, lastFlow: flowID, flows: 1, pkts: 1}
			return
		}
		s.ipid = append(s.ipid, ipidSeq{lastID: id, lastT: now, lastFlow: flowID, flows: 1, pkts: 1})
		return
	}
	q := &s.ipid[best]
	counted := q.flows >= ipidMinFlows && q.pkts >= ipidMinPkts
	q.lastID, q.lastT, q.pkts = id, now, q.pkts+1
	if q.lastFlow != flowID {
		q.lastFlow, q.flows = flowID, q.flows+1
	}
	if !counted && q.flows >= ipidMinFlows && q.pkts >= ipidMinPkts {
		s.dirty = true
	}
}

// ObserveUserAgent takes an HTTP User-Agent sent from src.
func (t *Tracker) ObserveUserAgent(src netip.Addr, ua string, now int64) []*detect.NAT {
	fam := uaFamily(ua)
	if fam == uaNone {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[addrOf(src)]
	if s == nil {
		return nil
	}
	if s.uaLast[fam] == 0 {
		s.dirty = true
	}
	s.uaLast[fam] = now
	return t.maybeReport(s, now, nil)
}

// ObserveJA4 takes a TLS/QUIC client fingerprint sent from src.
func (t *Tracker) ObserveJA4(src netip.Addr, ja4 string, now int64) {
	if ja4 == "" {
		return
	}
	h := detect.EventID([]byte(ja4))
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[addrOf(src)]
	if s == nil {
		return
	}
	for i := range s.ja4 {
		if s.ja4[i].key == h {
			s.ja4[i].last = now
			return
		}
	}
	if len(s.ja4) < maxJA4 {
		s.ja4 = append(s.ja4, seen{key: h, str: ja4, last: now})
	}
}

// ObserveUDPStart takes the first packet of a UDP flow from its client: a
// pairing candidate (remote endpoint and payload) for inside/outside
// pairing.
func (t *Tracker) ObserveUDPStart(p *capture.Packet) []*detect.NAT {
	now := p.Timestamp
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*detect.NAT
	if len(p.Payload) > 0 {
		token := detect.EventID(p.Payload)
		if outer := t.pair(pairKey{remote: p.Dst, rport: p.DstPort, proto: capture.ProtoUDP, token: token}, p, now); outer != nil {
			out = t.maybeReport(outer, now, out)
		}
		if s := t.inbound(pairKey{remote: p.Src, rport: p.SrcPort, proto: capture.ProtoUDP, token: token}, p, now); s != nil {
			out = t.maybeReport(s, now, out)
		}
	}
	// No port sample: UDP applications often bind their own ports (STUN
	// clients, games, resolvers with random source ports), which says
	// nothing about the gateway's allocation.
	return out
}

// ObserveAccept takes a SYN/ACK: when the answering address is one the
// tracker knows as a NAT gateway, the gateway accepted an inbound
// connection (a port forward).
func (t *Tracker) ObserveAccept(p *capture.Packet) []*detect.NAT {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.sources[p.Src]
	if s == nil || !s.reported.reported {
		return nil
	}
	now := p.Timestamp
	for i := range s.forwards {
		f := &s.forwards[i]
		if f.port == p.SrcPort && f.proto == capture.ProtoTCP {
			f.n++
			f.last = now
			return t.maybeReport(s, now, nil)
		}
	}
	if len(s.forwards) < maxForwards {
		s.forwards = append(s.forwards, forward{port: p.SrcPort, proto: capture.ProtoTCP, n: 1, last: now})
		s.dirty = true
	}
	return t.maybeReport(s, now, nil)
}

// Tick lets time pass: STUN tests waiting for a verdict are decided and
// idle sources forgotten. Any shard may call it; the work is done once
// per second of packet time.
func (t *Tracker) Tick(now int64) []*detect.NAT {
	t.mu.Lock()
	defer t.mu.Unlock()
	if now-t.lastSweep < int64(time.Second) && now >= t.lastSweep {
		return nil
	}
	t.lastSweep = now
	return t.sweep(now, false)
}

// Flush decides everything still pending at the end of input.
func (t *Tracker) Flush(now int64) []*detect.NAT {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sweep(now, true)
}

func (t *Tracker) sweep(now int64, final bool) []*detect.NAT {
	var out []*detect.NAT
	for k, v := range t.pendIn {
		if now-v.t > pairWindow {
			delete(t.pendIn, k)
		}
	}
	for k, v := range t.pendOut {
		if now-v.t > pairWindow {
			delete(t.pendOut, k)
		}
	}
	for k, v := range t.inbIn {
		if final || now-v.t > pairWindow {
			delete(t.inbIn, k)
		}
	}
	for k, v := range t.inbOut {
		if final || now-v.t > pairWindow {
			// Never seen inside: the NAT dropped it.
			delete(t.inbOut, k)
			if s := t.probeResult(k, v, false, now); s != nil {
				out = t.maybeReport(s, now, out)
			}
		}
	}
	for a, s := range t.sources {
		if now-s.last > t.window {
			delete(t.sources, a)
			t.stats.Expired++
			continue
		}
		if s.stun != nil && s.stun.decide(now, final) {
			t.applySTUN(s)
			out = t.maybeReport(s, now, out)
		}
	}
	return out
}

// maybeReport appends a report for s when what it would say changed.
func (t *Tracker) maybeReport(s *source, now int64, out []*detect.NAT) []*detect.NAT {
	sum, est := t.summarise(s)
	if !t.reportable(s, &sum, est) {
		if s.reported.reported && sum.hosts < 2 && sum.paired == 0 {
			s.reported = summary{} // a later rise is news again
		}
		return out
	}
	sum.reported = true
	if sum == s.reported {
		return out
	}
	s.reported = sum
	t.stats.Reports++
	return append(out, t.build(s, &sum, est, now))
}
