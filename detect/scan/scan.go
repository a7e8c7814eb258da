package scan

import (
	"math/bits"
	"unsafe"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// ways is the associativity of the tables.
const ways = 4

// Probe kinds.
const (
	kindNone uint8 = iota
	kindSYN
	kindFIN
	kindNULL
	kindXMAS
	kindUDP
	nKinds
)

var kindNames = [nKinds]string{"", "syn", "fin", "null", "xmas", "udp"}

// TCP flag bits (capture.TCPFin…).
const (
	fin = capture.TCPFin
	syn = capture.TCPSyn
	rst = capture.TCPRst
	psh = capture.TCPPsh
	ack = capture.TCPAck
	urg = capture.TCPUrg
)

// kindOf classifies a packet; kindNone for packets that do not probe.
func kindOf(proto, flags uint8) uint8 {
	switch proto {
	case capture.ProtoUDP:
		return kindUDP
	case capture.ProtoTCP:
		f := flags & (fin | syn | rst | psh | ack | urg)
		switch {
		case f&(syn|ack|rst) == syn:
			return kindSYN
		case f == 0:
			return kindNULL
		case f == fin:
			return kindFIN
		case f&(fin|psh|urg) == fin|psh|urg && f&(syn|ack|rst) == 0:
			return kindXMAS
		}
	}
	return kindNone
}

// key identifies one table entry.
type key struct {
	a, b capture.Addr // horizontal: src, -; vertical: src, dst; flood: dst, -
	port uint16
	kind uint8
}

// entry is one key's window.
type entry struct {
	k        key
	used     bool
	reported bool
	start    int64 // window start (packet time)
	first    int64 // first and last packet counted in the window
	last     int64
	pkts     uint32
	est      int // last estimate of the main sketch
	est2     int // flood: established handshakes
	sk       hll // distinct targets (hosts, ports) or SYN endpoints
}

// table is a fixed-size set-associative table.
type table struct {
	sets    [][ways]entry
	mask    uint64
	evicted uint64
	// second sketch per entry (flood table only: distinct source hosts),
	// indexed like the entries.
	second []hll
}

func newTable(n int, second bool) table {
	sets := 1
	for sets*ways < n {
		sets <<= 1
	}
	t := table{sets: make([][ways]entry, sets), mask: uint64(sets - 1)}
	if second {
		t.second = make([]hll, sets*ways)
	}
	return t
}

// secondOf returns e's second sketch.
func (t *table) secondOf(e *entry, h uint64) *hll {
	set := &t.sets[h&t.mask]
	w := (uintptr(unsafe.Pointer(e)) - uintptr(unsafe.Pointer(&set[0]))) / unsafe.Sizeof(entry{})
	return &t.second[int(h&t.mask)*ways+int(w)]
}

// get returns the entry for k (found, or a way taken for it), restarted
// when its window is over. A new key takes an unused way, else an expired
// one, else evicts the way with the fewest packets.
// stale reports whether e's window no longer covers ts. A ts a little
// before the window's start is inside it: shards share the detector and
// each runs at its own pace, so probes arrive slightly out of time order;
// restarting on them would report one scan twice. Only a jump back by a
// whole window (a file from another time) starts over.
func stale(e *entry, ts, window int64) bool {
	return ts-e.start >= window || e.start-ts >= window
}

func (t *table) get(k *key, h uint64, ts, window int64) *entry {
	set := &t.sets[h&t.mask]
	for i := range set {
		if e := &set[i]; e.used && e.k == *k {
			if stale(e, ts, window) {
				e.restart(ts)
				if t.second != nil {
					t.secondOf(e, h).reset()
				}
			}
			return e
		}
	}
	var victim *entry
	for i := range set {
		e := &set[i]
		if !e.used || stale(e, ts, window) {
			victim = e
			break
		}
		if victim == nil || e.pkts < victim.pkts {
			victim = e
		}
	}
	if victim.used && !stale(victim, ts, window) {
		t.evicted++
	}
	victim.k, victim.used = *k, true
	victim.restart(ts)
	if t.second != nil {
		t.secondOf(victim, h).reset()
	}
	return victim
}

func (e *entry) restart(ts int64) {
	e.reported, e.start, e.first, e.last, e.pkts, e.est, e.est2 = false, ts, ts, ts, 0, 0, 0
	e.sk.reset()
}

// Stats are the detector's counters.
type Stats struct {
	Observed uint64            // packets given to Observe
	Probes   [nKinds]uint64    // counted, by kind (index 0 unused)
	Reports  map[string]uint64 // anomalies by event: horizontal, vertical, half_open
	Evicted  [3]uint64         // live entries evicted: horizontal, vertical, flood
	Entries  int               // capacity of each table
	Bytes    int               // memory held by the tables (fixed at New)
}

// Detector finds scans and SYN floods. Not safe for concurrent use.
type Detector struct {
	cfg    Config
	window int64
	seed   uint64
	horiz  table
	vert   table
	flood  table
	out    []*detect.Anomaly

	observed uint64
	probes   [nKinds]uint64
	reports  [3]uint64
}

// New returns a Detector with its tables allocated (and never grown).
func New(cfg Config) (*Detector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Detector{
		cfg:    cfg,
		window: int64(cfg.Window),
		seed:   cfg.Seed ^ 0x9e3779b97f4a7c15,
		horiz:  newTable(cfg.MaxEntries, false),
		vert:   newTable(cfg.MaxEntries, false),
		flood:  newTable(cfg.MaxEntries, true),
		out:    make([]*detect.Anomaly, 0, 3),
	}, nil
}

// mix is a 64-bit finaliser (splitmix64).
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func addrHash(a capture.Addr, seed uint64) uint64 {
	lo := *(*uint64)(unsafe.Pointer(&a[0]))
	hi := *(*uint64)(unsafe.Pointer(&a[8]))
	return mix(mix(lo^seed) ^ bits.RotateLeft64(hi, 17))
}

func (d *Detector) keyHash(k *key) uint64 {
	return mix(addrHash(k.a, d.seed) ^ addrHash(k.b, d.seed+1) ^ uint64(k.port)<<8 ^ uint64(k.kind))
}

// Observe counts one packet at packet time ts and returns the anomalies it
// completes (nil almost always; the slice is reused by the next call).
func (d *Detector) Observe(src, dst capture.Addr, sport, dport uint16, proto, tcpFlags uint8, ts int64) []*detect.Anomaly {
	d.observed++
	kind := kindOf(proto, tcpFlags)
	if kind == kindNone {
		return nil
	}
	d.probes[kind]++
	out := d.out[:0]

	// Horizontal: one source, one port, many hosts.
	k := key{a: src, port: dport, kind: kind}
	e := d.horiz.get(&k, d.keyHash(&k), ts, d.window)
	e.touch(ts)
	if e.sk.add(addrHash(dst, d.seed+2)) {
		e.est = e.sk.estimate()
		if !e.reported && e.est >= d.cfg.HorizontalHosts {
			e.reported = true
			d.reports[0]++
			out = append(out, d.report(e, "port_scan", "horizontal",
				detect.Str("src", src.String()), detect.Num("dst_port", int64(dport)),
				detect.Num("hosts", int64(e.est))))
		}
	}

	// Vertical: one source, one host, many ports.
	k = key{a: src, b: dst, kind: kind}
	e = d.vert.get(&k, d.keyHash(&k), ts, d.window)
	e.touch(ts)
	if e.sk.add(mix(uint64(dport) ^ d.seed + 3)) {
		e.est = e.sk.estimate()
		if !e.reported && e.est >= d.cfg.VerticalPorts {
			e.reported = true
			d.reports[1]++
			out = append(out, d.report(e, "port_scan", "vertical",
				detect.Str("src", src.String()), detect.Str("dst", dst.String()),
				detect.Num("ports", int64(e.est))))
		}
	}

	// SYN flood: many half-open handshakes to one host and port.
	if kind == kindSYN {
		k = key{a: dst, port: dport, kind: kindSYN}
		h := d.keyHash(&k)
		e = d.flood.get(&k, h, ts, d.window)
		e.touch(ts)
		sources := d.flood.secondOf(e, h)
		sources.add(addrHash(src, d.seed+4))
		if e.sk.add(addrHash(src, d.seed+5) ^ mix(uint64(sport)+d.seed)) {
			e.est = e.sk.estimate()
			if a := d.checkFlood(e, sources, dst, dport); a != nil {
				out = append(out, a)
			}
		}
	}
	d.out = out
	if len(out) == 0 {
		return nil
	}
	return out
}

// Established tells the detector that a TCP handshake to dst:dport
// completed (call once per flow, at the client's first ACK): it is not
// half-open.
func (d *Detector) Established(dst capture.Addr, dport uint16, ts int64) {
	k := key{a: dst, port: dport, kind: kindSYN}
	set := &d.flood.sets[d.keyHash(&k)&d.flood.mask]
	for i := range set {
		if e := &set[i]; e.used && e.k == k && ts-e.start < d.window {
			e.est2++
			return
		}
	}
}

func (d *Detector) checkFlood(e *entry, sources *hll, dst capture.Addr, dport uint16) *detect.Anomaly {
	half := e.est - e.est2
	if e.reported || half < d.cfg.SynFloodHalfOpen || float64(half) < d.cfg.SynFloodRatio*float64(e.est) {
		return nil
	}
	e.reported = true
	d.reports[2]++
	return d.report(e, "syn_flood", "half_open",
		detect.Str("dst", dst.String()), detect.Num("dst_port", int64(dport)),
		detect.Num("syns", int64(e.est)), detect.Num("half_open", int64(half)),
		detect.Num("sources", int64(sources.estimate())))
}

func (e *entry) touch(ts int64) {
	e.pkts++
	if ts > e.last {
		e.last = ts
	}
}

// box holds an anomaly and its details in one allocation.
type box struct {
	a detect.Anomaly
	d [12]detect.Detail
}

func (d *Detector) report(e *entry, typ, event string, ds ...detect.Detail) *detect.Anomaly {
	b := new(box)
	n := copy(b.d[:], ds)
	if e.k.kind != kindNone {
		b.d[n] = detect.Str("kind", kindNames[e.k.kind])
		n++
	}
	b.d[n] = detect.Num("packets", int64(e.pkts))
	b.d[n+1] = detect.Num("duration_ms", (e.last-e.first)/1e6)
	b.d[n+2] = detect.Num("window_s", d.window/1e9)
	n += 3
	b.a = detect.Anomaly{Type: typ, Event: event, Detail: b.d[:n:n]}
	return &b.a
}

// Stats returns the counters.
func (d *Detector) Stats() Stats {
	s := Stats{
		Observed: d.observed,
		Probes:   d.probes,
		Reports:  map[string]uint64{"horizontal": d.reports[0], "vertical": d.reports[1], "half_open": d.reports[2]},
		Evicted:  [3]uint64{d.horiz.evicted, d.vert.evicted, d.flood.evicted},
		Entries:  len(d.horiz.sets) * ways,
	}
	s.Bytes = 3*len(d.horiz.sets)*int(unsafe.Sizeof([ways]entry{})) + len(d.flood.second)*int(unsafe.Sizeof(hll{}))
	return s
}
