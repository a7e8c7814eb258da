package report

import (
	"cmp"
	"math"
	"math/bits"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// Aux slots of the tables' entries.
const (
	auxBytes   = 0 // hosts, services
	auxPkts    = 1
	auxFlows   = 2 // hosts: flows; services: unused
	auxServer  = 3 // hosts: flows as server
	auxQueries = 0 // dns
	auxAnswers = 1
	auxNX      = 2
	auxWon     = 0 // injections
	auxLost    = 1
	auxUnknown = 2
	auxDryRun  = 3
)

// service is a destination port (ICMP: the type) and what was found on it.
type service struct {
	Proto    uint8
	Port     uint16
	AppProto string
}

func (s service) less(o service) bool {
	if c := cmp.Compare(s.Proto, o.Proto); c != 0 {
		return c < 0
	}
	if c := cmp.Compare(s.Port, o.Port); c != 0 {
		return c < 0
	}
	return s.AppProto < o.AppProto
}

// blockKey is a blocked name within its list.
type blockKey struct {
	List, Name string
}

func (b blockKey) less(o blockKey) bool {
	if b.List != o.List {
		return b.List < o.List
	}
	return b.Name < o.Name
}

// listInfo aggregates a block list's hits.
type listInfo struct {
	Version string
	Actions []string // distinct, bounded
	Hits    uint64
}

// bucket is one slot of the time series.
type bucket struct {
	Flows  uint64 // flows that started in it
	Bytes  float64
	Pkts   float64
	Blocks uint64
	Events uint64 // every event but stats
}

// Aggregator folds a stream of events into the report's tables in bounded
// memory: top-K tables of Config.Track keys each, at most Config.Buckets
// time buckets (the bucket width doubles when there would be more), and
// maps whose keys come from small fixed sets (event types, block lists up
// to Track). Not safe for concurrent use.
type Aggregator struct {
	cfg Config

	sensor      string
	first, last int64 // packet time, Unix ns; 0 = none yet

	events     map[string]uint64
	flows      uint64
	flowBytes  uint64
	flowPkts   uint64
	hosts      *TopK[netip.Addr]
	services   *TopK[service]
	blockNames *TopK[blockKey]
	lists      map[string]*listInfo
	listsOver  uint64 // hits of lists past the Track bound
	tlsSNI     *TopK[string]
	quicSNI    *TopK[string]
	httpHosts  *TopK[string]
	dnsNames   *TopK[string]
	nat        *TopK[string]
	anomalies  *TopK[string]
	injects    *TopK[string]

	// injection latency (trigger → last frame sent), log2 buckets of µs
	injLatency [64]uint64

	width   int64 // bucket width, ns
	buckets map[int64]*bucket

	stats   []byte // the last stats event's object
	statsTS int64
}

// NewAggregator returns an empty aggregator (cfg's zero fields take their defaults).
func NewAggregator(cfg Config) *Aggregator {
	cfg.setDefaults()
	n := cfg.Track
	strLess := func(a, b string) bool { return a < b }
	return &Aggregator{
		cfg:    cfg,
		events: map[string]uint64{},
		hosts:  NewTopK(n, func(a, b netip.Addr) bool { return a.Less(b) }, nil),
		services: NewTopK(n, service.less, func(s service) service {
			s.AppProto = strings.Clone(s.AppProto)
			return s
		}),
		blockNames: NewTopK(n, blockKey.less, func(b blockKey) blockKey {
			return blockKey{List: strings.Clone(b.List), Name: strings.Clone(b.Name)}
		}),
		lists:     map[string]*listInfo{},
		tlsSNI:    NewTopK(n, strLess, strings.Clone),
		quicSNI:   NewTopK(n, strLess, strings.Clone),
		httpHosts: NewTopK(n, strLess, strings.Clone),
		dnsNames:  NewTopK(n, strLess, strings.Clone),
		nat:       NewTopK(n, strLess, strings.Clone),
		anomalies: NewTopK(n, strLess, strings.Clone),
		injects:   NewTopK(n, strLess, strings.Clone),
		width:     int64(cfg.Bucket),
		buckets:   map[int64]*bucket{},
	}
}

// empty reports whether no event (not even a stats event) was added.
func (a *Aggregator) empty() bool { return len(a.events) == 0 && a.stats == nil }

// maxEventTypes bounds the event-type map; further types count as "other".
const maxEventTypes = 32

func (a *Aggregator) seen(ts int64) {
	if ts <= 0 {
		return
	}
	if a.first == 0 || ts < a.first {
		a.first = ts
	}
	if ts > a.last {
		a.last = ts
	}
}

func (a *Aggregator) setSensor(s string) {
	if s != "" && s != a.sensor {
		a.sensor = strings.Clone(s)
	}
}

// Add folds one event in. Events are read, never modified.
func (a *Aggregator) Add(e *detect.Event) {
	if e.Type == detect.TypeStats {
		if len(e.Stats) > 0 && e.Timestamp >= a.statsTS {
			a.stats = append(a.stats[:0], e.Stats...)
			a.statsTS = e.Timestamp
		}
		a.setSensor(e.Sensor)
		return
	}
	a.setSensor(e.Sensor)
	typ := e.Type
	if _, ok := a.events[typ]; !ok {
		if len(a.events) >= maxEventTypes {
			typ = "other"
		} else {
			typ = strings.Clone(typ)
		}
	}
	a.events[typ]++
	a.seen(e.Timestamp)
	if b := a.bucketAt(e.Timestamp); b != nil {
		b.Events++
	}
	switch e.Type {
	case detect.TypeFlow:
		a.addFlow(e)
	case detect.TypeTLS:
		if e.TLS != nil && e.TLS.SNI != "" {
			a.tlsSNI.Add(e.TLS.SNI, 1).Tag(e.TLS.Version)
		}
	case detect.TypeQUIC:
		if e.QUIC != nil && e.QUIC.SNI != "" {
			v := e.QUIC.Version
			if v != "" {
				v = "QUIC " + v
			}
			a.quicSNI.Add(e.QUIC.SNI, 1).Tag(v)
		}
	case detect.TypeHTTP:
		if e.HTTP != nil && e.HTTP.Hostname != "" {
			en := a.httpHosts.Add(e.HTTP.Hostname, 1)
			if e.HTTP.Status != 0 {
				en.Tag(strconv.Itoa(e.HTTP.Status))
			}
		}
	case detect.TypeDNS:
		if e.DNS != nil && e.DNS.RRName != "" {
			en := a.dnsNames.Add(e.DNS.RRName, 1)
			if e.DNS.Type == "answer" {
				en.Aux[auxAnswers]++
				if e.DNS.RCode == "NXDOMAIN" {
					en.Aux[auxNX]++
				}
			} else {
				en.Aux[auxQueries]++
			}
			en.Tag(e.DNS.RRType)
		}
	case detect.TypeBlock:
		a.addBlock(e)
	case detect.TypeNAT:
		if e.NAT != nil {
			a.nat.Add(e.NAT.PublicIP.String(), 1)
		} else {
			a.nat.Add(endpoints(e, false), 1)
		}
	case detect.TypeAnomaly:
		a.anomalies.Add(endpoints(e, true), 1)
	case detect.TypeInject:
		a.addInject(e)
	}
}

// endpoints names the parties of an event for the tables of event types
// whose own fields the report does not read yet (nat, anomaly, inject).
func endpoints(e *detect.Event, both bool) string {
	if !e.SrcIP.IsValid() {
		return "(no address)"
	}
	if !both {
		return e.SrcIP.String()
	}
	return e.SrcIP.String() + " → " + e.DestIP.String()
}

func (a *Aggregator) addInject(e *detect.Event) {
	j := e.Inject
	if j == nil {
		a.injects.Add(endpoints(e, true), 1)
		return
	}
	key := j.Name
	if key == "" {
		key = endpoints(e, true)
	}
	en := a.injects.Add(key, 1)
	en.Tag(j.Kind)
	switch j.Outcome {
	case "won":
		en.Aux[auxWon]++
	case "lost":
		en.Aux[auxLost]++
	default:
		en.Aux[auxUnknown]++
	}
	if j.DryRun {
		en.Aux[auxDryRun]++
	}
	if j.LatencyUS >= 0 {
		a.injLatency[bits.Len64(uint64(j.LatencyUS))]++
	}
}

// latencyQuantile returns an upper bound of the q-quantile of injection
// latency (the top of its power-of-two bucket), in µs; -1 when none.
func (a *Aggregator) latencyQuantile(q float64) int64 {
	var n uint64
	for _, c := range a.injLatency {
		n += c
	}
	if n == 0 {
		return -1
	}
	rank := uint64(math.Ceil(q * float64(n)))
	var cum uint64
	for b, c := range a.injLatency {
		cum += c
		if cum >= rank && c > 0 {
			if b == 0 {
				return 0
			}
			return int64(1)<<b - 1
		}
	}
	return -1
}

func (a *Aggregator) addFlow(e *detect.Event) {
	f := e.Flow
	if f == nil {
		return
	}
	a.flows++
	bytes := f.BytesToServer + f.BytesToClient
	pkts := f.PktsToServer + f.PktsToClient
	a.flowBytes += bytes
	a.flowPkts += pkts
	a.seen(f.Start)
	a.seen(f.End)
	if e.SrcIP.IsValid() {
		c := a.hosts.Add(e.SrcIP.Unmap(), bytes)
		c.Aux[auxPkts] += pkts
		c.Aux[auxFlows]++
		s := a.hosts.Add(e.DestIP.Unmap(), bytes)
		s.Aux[auxPkts] += pkts
		s.Aux[auxFlows]++
		s.Aux[auxServer]++
	}
	port := e.DestPort
	if e.Proto == 1 || e.Proto == 58 {
		port = uint16(e.ICMPType)
	}
	svc := a.services.Add(service{Proto: e.Proto, Port: port, AppProto: e.AppProto}, 1)
	svc.Aux[auxBytes] += bytes
	svc.Aux[auxPkts] += pkts
	if b := a.bucketAt(f.Start); b != nil {
		b.Flows++
	}
	a.spread(f.Start, f.End, float64(bytes), float64(pkts))
}

func (a *Aggregator) addBlock(e *detect.Event) {
	b := e.Block
	if b == nil {
		return
	}
	if bk := a.bucketAt(e.Timestamp); bk != nil {
		bk.Blocks++
	}
	en := a.blockNames.Add(blockKey{List: b.List, Name: b.Name}, 1)
	en.Tag(b.Surface)
	li := a.lists[b.List]
	if li == nil {
		if len(a.lists) >= a.cfg.Track {
			a.listsOver++
			return
		}
		li = &listInfo{}
		a.lists[strings.Clone(b.List)] = li
	}
	li.Hits++
	if b.ListVersion != "" && b.ListVersion != li.Version {
		li.Version = strings.Clone(b.ListVersion) // the latest (a reload may bump it)
	}
	found := false
	for _, x := range li.Actions {
		found = found || x == b.Action
	}
	if !found && len(li.Actions) < maxTags && b.Action != "" {
		li.Actions = append(li.Actions, strings.Clone(b.Action))
	}
}

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

// bucketAt returns the bucket holding packet time ts (nil for ts <= 0).
func (a *Aggregator) bucketAt(ts int64) *bucket {
	if ts <= 0 {
		return nil
	}
	k := floorDiv(ts, a.width)
	b := a.buckets[k]
	if b == nil {
		for len(a.buckets) >= a.cfg.Buckets {
			a.coarsen()
			k = floorDiv(ts, a.width)
			if b = a.buckets[k]; b != nil {
				return b
			}
		}
		b = &bucket{}
		a.buckets[k] = b
	}
	return b
}

// widths is the ladder of bucket widths; each divides the next, so
// merging buckets into the next width is exact.
var widths = []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second,
	time.Minute, 5 * time.Minute, 10 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour}

// nextWidth is the next width of the ladder (then doubling).
func nextWidth(w int64) int64 {
	for _, l := range widths {
		if int64(l) > w && int64(l)%w == 0 {
			return int64(l)
		}
	}
	return 2 * w
}

// coarsen moves to the next bucket width, merging buckets.
func (a *Aggregator) coarsen() {
	nw := nextWidth(a.width)
	a.buckets = mergeBuckets(a.buckets, a.width, nw)
	a.width = nw
}

// mergeBuckets re-keys buckets of width from into buckets of width to (a
// multiple of from), into a new map.
func mergeBuckets(m map[int64]*bucket, from, to int64) map[int64]*bucket {
	out := make(map[int64]*bucket, len(m))
	for k, b := range m {
		nk := floorDiv(k*from, to)
		mb := out[nk]
		if mb == nil {
			mb = &bucket{}
			out[nk] = mb
		}
		mb.Flows += b.Flows
		mb.Bytes += b.Bytes
		mb.Pkts += b.Pkts
		mb.Blocks += b.Blocks
		mb.Events += b.Events
	}
	return out
}

// spread adds bytes and packets over [start, end] in proportion to the
// time the flow spent in each bucket.
func (a *Aggregator) spread(start, end int64, bytes, pkts float64) {
	if start <= 0 {
		start = end
	}
	if end < start {
		end = start
	}
	if end <= 0 {
		return
	}
	// Make the flow fit in the allowed number of buckets.
	for (end-start)/a.width+1 > int64(a.cfg.Buckets) {
		a.coarsen()
	}
	w := a.width
	first, last := floorDiv(start, w), floorDiv(end, w)
	if first == last {
		b := a.bucketAt(start)
		b.Bytes += bytes
		b.Pkts += pkts
		return
	}
	dur := float64(end - start)
	for k := first; k <= last; k++ {
		lo, hi := max(start, k*w), min(end, (k+1)*w)
		frac := float64(hi-lo) / dur
		if frac <= 0 {
			continue
		}
		// By the slice's time, not k: adding a bucket may have coarsened.
		b := a.bucketAt(lo)
		b.Bytes += bytes * frac
		b.Pkts += pkts * frac
	}
}
