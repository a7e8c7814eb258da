package pipeline

import (
	"sync"
	"time"
	"unsafe"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/nat"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/internal/slab"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
)

// Publisher receives a shard's events, a batch at a time. sinks.Fanout is one.
type Publisher interface {
	Publish(events []*detect.Event)
}

// batch carries decoded packets from the reader to one shard. Payloads are
// copied into arena so the batch owns everything it points to; batches are
// recycled through the shard's free list, so steady state allocates nothing.
type batch struct {
	pkts  []capture.Packet
	arena []byte
	// now is the reader's packet clock when the batch was sent: a shard
	// that receives few packets still sees time pass and expires flows.
	now int64
}

func newBatch(size, arena int) *batch {
	return &batch{pkts: make([]capture.Packet, 0, size), arena: make([]byte, 0, arena)}
}

// add appends a copy of p whose payload lives in the batch's arena. It
// reports false when the batch is full.
func (b *batch) add(p *capture.Packet) bool {
	if len(b.pkts) == cap(b.pkts) || len(b.arena)+len(p.Payload) > cap(b.arena) {
		if len(b.pkts) > 0 || len(p.Payload) <= cap(b.arena) {
			return false
		}
		// A payload larger than the whole arena (jumbo reassembled
		// datagram): grow once rather than lose it.
		b.arena = make([]byte, 0, len(p.Payload))
	}
	b.pkts = append(b.pkts, *p)
	q := &b.pkts[len(b.pkts)-1]
	if len(p.Payload) > 0 {
		off := len(b.arena)
		b.arena = append(b.arena, p.Payload...)
		q.Payload = b.arena[off:len(b.arena):len(b.arena)]
	} else {
		q.Payload = nil
	}
	return true
}

func (b *batch) reset() {
	clear(b.pkts) // drop references into the arena
	b.pkts = b.pkts[:0]
	b.arena = b.arena[:0]
	b.now = 0
}

// ShardStats are one shard's counters, published after every batch.
type ShardStats struct {
	Packets uint64
	Batches uint64
	Flows   reassembly.TableStats
	Streams reassembly.StreamStats
	Events  map[string]uint64 // by event type
}

// Shard owns a flow table and its per-flow state; it is driven by exactly
// one goroutine. Events go to its outbox and are published per batch.
type Shard struct {
	id      int
	sensor  string
	seed    uint16
	table   *reassembly.Table
	pub     Publisher
	outbox  []*detect.Event
	packets uint64
	batches uint64
	events  [numEventTypes]uint64
	clock   int64 // packet time of the latest packet
	expired int64 // packet time of the last expiry pass

	// Application layer: stream reassembly and parsers (nil = flows only).
	streams   *reassembly.Streams
	protocols []protocol
	apps      []*appState // indexed by Flow.App; [0] unused
	appPool   *slab.Pool[appState]
	cur       *appState // the flow whose parser is running (for emitApp)

	spool      [][]detect.StreamParser   // finished parsers for reuse, by protocol
	dpool      [][]detect.DatagramParser // (see protocol.pooled)
	flowEvents []flowEventPair           // slab of flow events not handed out yet
	strs       []byte                    // slab of interned strings
	arena      detect.Arena              // parsers' events and their strings
	emitFn     detect.Emit               // s.emitApp, bound once (a method value allocates)
	rules      *rules.Holder

	// Injection (nil = off): curPkt/curDir is the packet the parsers are
	// working on, the trigger of an injection; batchWall is when the batch
	// began, for latencies in replays.
	inj        *inject.Injector
	scan       *sharedScan // shared by all shards; nil = no scan detection
	scanPkt    *capture.Packet
	emitScanFn func(*detect.Anomaly) // s.emitScan, bound once
	nat        *nat.Tracker          // shared by all shards; nil = no NAT detection
	curPkt     *capture.Packet
	curDir     int
	batchWall  int64
	anom       shardAnomalies // pipeline/anomaly.go

	mu       sync.Mutex
	snapshot ShardStats
}

const (
	evFlow = iota
	evHTTP
	evTLS
	evQUIC
	evDNS
	evBlock
	evInject
	evAnomaly
	evNAT
	numEventTypes
)

var eventTypeNames = [numEventTypes]string{detect.TypeFlow, detect.TypeHTTP, detect.TypeTLS, detect.TypeQUIC, detect.TypeDNS, detect.TypeBlock, detect.TypeInject, detect.TypeAnomaly, detect.TypeNAT}

// expiryInterval: flows are expired at most once per second of packet time.
const expiryInterval = int64(1e9)

func newShard(id int, cfg Config, sensor string, pub Publisher) *Shard {
	s := &Shard{id: id, sensor: sensor, seed: cfg.Flow.CommunityIDSeed, pub: pub}
	s.table = reassembly.NewTable(cfg.Flow, s.flowEnded)
	s.rules = cfg.Rules
	s.inj = cfg.Inject
	if cfg.Scan != nil {
		s.scan = cfg.scanShared
		if s.scan == nil {
			s.scan = newSharedScan(*cfg.Scan) // a shard built alone (tests)
		}
	}
	s.nat = cfg.NAT
	s.emitFn = s.emitApp
	s.emitScanFn = s.emitScan
	s.initAnomalies(cfg.Anomalies)
	if cfg.Protocols != nil {
		s.protocols = cfg.Protocols
		s.streams = reassembly.NewStreams(cfg.Streams)
		s.apps = []*appState{nil}
		s.appPool = slab.New[appState](appSlabSize)
		s.spool = make([][]detect.StreamParser, len(s.protocols))
		s.dpool = make([][]detect.DatagramParser, len(s.protocols))
	}
	return s
}

// process handles one batch: every packet is applied to its flow in order.
func (s *Shard) process(b *batch) {
	if s.inj != nil {
		s.batchWall = time.Now().UnixNano()
	}
	for i := range b.pkts {
		p := &b.pkts[i]
		if s.inj != nil && s.inj.IsOwn(p) {
			continue // our own forged packet, back through the mirror
		}
		f, dir := s.table.Update(p)
		s.checkPacketAnomalies(f, p, dir)
		if s.scan != nil {
			s.observeScan(f, p)
		}
		if s.nat != nil {
			s.observeNAT(f, p, dir)
		}
		if p.Proto == capture.ProtoESP || p.Proto == capture.ProtoAH {
			s.checkRawIPsec(f, p)
		}
		if s.rules != nil {
			s.checkServerIP(f)
		}
		if s.protocols != nil {
			s.appPacket(f, p, dir)
		}
		s.tick(p.Timestamp)
	}
	s.drainAnomalies()
	s.packets += uint64(len(b.pkts))
	if b.now != 0 {
		s.tick(b.now)
	}
	s.batches++
	s.publish()
}

// tick advances the shard's packet clock and expires flows once per
// second of it. The clock follows the latest packet, not the highest time
// seen: in a file merged from captures of different times, a jump back
// must not expire the flows of the earlier capture at once.
func (s *Shard) tick(now int64) {
	s.clock = now
	if now < s.expired {
		s.expired = now
	}
	if now-s.expired >= expiryInterval {
		s.table.Expire(now)
		if s.streams != nil {
			s.streams.Tick(now)
		}
		if s.nat != nil {
			s.emitNAT(s.nat.Tick(now))
		}
		s.expired = now
	}
}

// finish ends every flow (end of input) and publishes the last events.
func (s *Shard) finish() {
	if s.streams != nil {
		s.streams.FlushAll() // buffered segments reach their parsers first
	}
	s.table.Flush(reassembly.EndShutdown)
	if s.nat != nil {
		s.emitNAT(s.nat.Flush(s.clock))
	}
	s.publish()
}

func (s *Shard) publish() {
	if len(s.outbox) > 0 {
		s.pub.Publish(s.outbox)
		s.outbox = nil // the fan-out owns the slice now
	}
	s.mu.Lock()
	s.snapshot.Packets = s.packets
	s.snapshot.Batches = s.batches
	s.snapshot.Flows = s.table.Stats()
	if s.streams != nil {
		s.snapshot.Streams = s.streams.Stats()
	}
	if s.snapshot.Events == nil {
		s.snapshot.Events = make(map[string]uint64, numEventTypes)
	}
	for i, n := range s.events {
		s.snapshot.Events[eventTypeNames[i]] = n
	}
	s.mu.Unlock()
}

// Stats returns the counters as of the last published batch. Safe for concurrent use.
func (s *Shard) Stats() ShardStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.snapshot
	st.Events = make(map[string]uint64, len(s.snapshot.Events))
	for k, v := range s.snapshot.Events {
		st.Events[k] = v
	}
	return st
}

// fillContext stamps an event with its flow's context: sensor, flow_id,
// community_id, endpoints in client → server orientation, vlan, tunnel.
func (s *Shard) fillContext(e *detect.Event, f *reassembly.Flow, cid string) {
	cAddr, cPort := f.Client()
	sAddr, sPort := f.Server()
	e.Sensor, e.FlowID = s.sensor, f.ID
	e.SrcIP, e.DestIP, e.SrcPort, e.DestPort = cAddr.Netip(), sAddr.Netip(), cPort, sPort
	e.Proto, e.ICMPType, e.ICMPCode = f.Key.Proto, f.ICMPType, f.ICMPCode
	if cid == "" {
		cp, sp := cPort, sPort
		if f.Key.Proto == capture.ProtoICMP || f.Key.Proto == capture.ProtoICMPv6 {
			cp, sp = uint16(f.ICMPType), uint16(f.ICMPCode)
		}
		cid = s.internCommunityID(f.Key.Proto, cAddr.Bytes(), sAddr.Bytes(), cp, sp)
	}
	e.CommunityID = cid
	if f.NumVLANs > 0 {
		e.VLAN = append(s.arena.Uint16s(int(f.NumVLANs)), f.VLANs[:f.NumVLANs]...)
	}
	if t := &f.Tunnel; t.Type != capture.TunnelNone {
		e.Tunnel = &detect.Tunnel{Type: t.Type.String(), OuterSrcIP: t.OuterSrc.Netip(), OuterDestIP: t.OuterDst.Netip(),
			ID: t.ID, HasID: t.HasID, Depth: t.Depth}
	}
}

// flowEnded turns an ended flow into a flow event, after its parsers have
// flushed theirs.
func (s *Shard) flowEnded(f *reassembly.Flow, reason reassembly.EndReason) {
	var cid string
	var conflicts uint32
	if f.App != 0 {
		a := s.apps[f.App]
		cid = a.cid
		if a.stream != nil {
			conflicts = a.stream.Conflicts
		}
	}
	if conflicts > 0 {
		s.checkFlowEndAnomalies(f, conflicts) // before endApp releases the app state
	}
	appProto := s.endApp(f, f.Last)
	e, fi := s.newFlowEvent()
	*e = detect.Event{Type: detect.TypeFlow, Timestamp: f.Last, AppProto: appProto}
	s.fillContext(e, f, cid)
	e.Flow = fi
	*fi = detect.FlowInfo{
		PktsToServer: f.Pkts[reassembly.ToServer], PktsToClient: f.Pkts[reassembly.ToClient],
		BytesToServer: f.Bytes[reassembly.ToServer], BytesToClient: f.Bytes[reassembly.ToClient],
		Start: f.First, End: f.Last,
		State: f.State.String(), Reason: reason.String(),
		IsTCP:      f.Key.Proto == capture.ProtoTCP,
		TCPFlags:   f.TCPFlags[0] | f.TCPFlags[1],
		TCPFlagsTS: f.TCPFlags[reassembly.ToServer], TCPFlagsTC: f.TCPFlags[reassembly.ToClient],
		History:   s.intern(f.History[:f.HistLen]),
		Midstream: f.Midstream, MissedBytes: f.Missed[0] + f.Missed[1],
	}
	s.emit(e, evFlow)
}

// Flow events and their short strings are carved from per-shard slabs: one
// allocation serves many flows (the GC frees a slab once no sink holds any
// of its events). Nothing handed out is ever written again.
const (
	flowEventSlab = 256
	stringSlab    = 16 << 10
)

type flowEventPair struct {
	e detect.Event
	f detect.FlowInfo
}

func (s *Shard) newFlowEvent() (*detect.Event, *detect.FlowInfo) {
	if len(s.flowEvents) == 0 {
		s.flowEvents = make([]flowEventPair, flowEventSlab)
	}
	p := &s.flowEvents[0]
	s.flowEvents = s.flowEvents[1:]
	return &p.e, &p.f
}

// intern returns b as a string stored in the shard's string slab.
func (s *Shard) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > cap(s.strs)-len(s.strs) {
		s.strs = make([]byte, 0, max(stringSlab, len(b)))
	}
	off := len(s.strs)
	s.strs = append(s.strs, b...)
	return unsafe.String(&s.strs[off], len(b))
}

// internCommunityID computes a Community ID straight into the string slab.
func (s *Shard) internCommunityID(proto uint8, src, dst []byte, sp, dp uint16) string {
	const idLen = 30 // "1:" + base64 of a SHA-1
	if cap(s.strs)-len(s.strs) < idLen {
		s.strs = make([]byte, 0, stringSlab)
	}
	off := len(s.strs)
	s.strs = reassembly.AppendCommunityID(s.strs, s.seed, proto, src, dst, sp, dp)
	return unsafe.String(&s.strs[off], len(s.strs)-off)
}

func (s *Shard) emit(e *detect.Event, kind int) {
	if s.outbox == nil {
		s.outbox = make([]*detect.Event, 0, 64) // the fan-out keeps the slice: a new one per batch
	}
	s.outbox = append(s.outbox, e)
	s.events[kind]++
}
