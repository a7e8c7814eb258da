package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/nat"
	"github.com/nunchi-sensor/nunchi/detect/scan"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// Config is what the pipeline needs from the application config.
type Config struct {
	Sensor    string
	Shards    int // 0 = runtime.NumCPU()
	BatchSize int // packets per batch (default 256)
	// QueueBatches is how many batches may wait for each shard.
	QueueBatches int
	Speed        float64 // replay pacing; 0 = as fast as possible
	Decode       capture.DecoderConfig
	Flow         reassembly.FlowConfig
	// StatsInterval emits a stats event this often (wall clock); 0 = only at the end.
	StatsInterval time.Duration
	// Protocols is the content-detection table; nil = flows only, no
	// stream reassembly or parsers. DefaultProtocols() has them all.
	Protocols []protocol
	// Streams bounds TCP reassembly (used when Protocols is set).
	Streams reassembly.StreamConfig
	// Scan configures port-scan and SYN-flood detection (nil = off).
	Scan       *scan.Config
	scanShared *sharedScan // made from Scan by setDefaults: one detector for all shards

	// NAT gathers NAT-gateway evidence for all shards (nil = off).
	NAT *nat.Tracker
	// Inject forges warning replies for rules with action inject (nil = off).
	Inject *inject.Injector
	// Rules holds the blocked-site rules (nil = no matching); swapped
	// atomically on reload, read by every shard.
	Rules *rules.Holder
	// Anomalies tunes the shards' own anomalies (DoH list, ECH names, malformed samples).
	Anomalies AnomalyConfig
}

func (c *Config) setDefaults() {
	if c.Shards <= 0 {
		c.Shards = runtime.NumCPU()
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 256
	}
	if c.QueueBatches <= 0 {
		c.QueueBatches = 8
	}
	// An unset section means its defaults (a zero flow config would
	// expire every flow at once).
	if c.Flow.MaxFlows == 0 {
		c.Flow = reassembly.DefaultFlowConfig()
	}
	if c.Streams.MaxPagesTotal == 0 {
		c.Streams = reassembly.DefaultStreamConfig()
	}
	if c.Scan != nil && c.scanShared == nil {
		c.scanShared = newSharedScan(*c.Scan)
	}
}

// arenaPerPacket sizes a batch's payload arena: room for a full batch of
// average ISP-mix payloads (256 KiB for 256 packets); a larger payload
// closes the batch early.
const arenaPerPacket = 1 << 10

// Progress is the replay's position, readable from any goroutine.
type Progress struct {
	Frames    atomic.Uint64
	Bytes     atomic.Uint64 // wire bytes
	FilePos   atomic.Int64  // bytes consumed of all files so far
	TotalSize atomic.Int64  // bytes of all files
}

// Replay reads capture files, decodes them, spreads packets over shards by
// a symmetric flow hash, and publishes events to pub. The reader blocks
// when shards fall behind (a replay loses nothing); Run returns when every
// flow has been flushed and every event handed to pub.
type Replay struct {
	cfg      Config
	log      *slog.Logger
	pub      Publisher
	fan      *sinks.Fanout // optional, for sink counters in stats events
	shards   []*Shard
	in       []chan *batch
	free     []chan *batch
	cur      []*batch
	Progress Progress
	clock    atomic.Int64 // highest packet time read (Unix ns)

	mu          sync.Mutex // guards the reader's snapshots below
	decodeStats capture.DecodeStats
	defragStats capture.DefragStats
	files       uint64
	readErrors  uint64
}

// NewReplay is inert: it validates and allocates; Run does the work.
func NewReplay(cfg Config, log *slog.Logger, pub Publisher, fan *sinks.Fanout) *Replay {
	cfg.setDefaults()
	r := &Replay{cfg: cfg, log: log, pub: pub, fan: fan}
	for i := 0; i < cfg.Shards; i++ {
		r.shards = append(r.shards, newShard(i, cfg, cfg.Sensor, pub))
		r.in = append(r.in, make(chan *batch, cfg.QueueBatches))
		free := make(chan *batch, cfg.QueueBatches+2)
		for j := 0; j < cfg.QueueBatches+1; j++ {
			free <- newBatch(cfg.BatchSize, cfg.BatchSize*arenaPerPacket)
		}
		r.free = append(r.free, free)
	}
	r.cur = make([]*batch, cfg.Shards)
	return r
}

// SetRules installs the rules holder (before Run).
func (r *Replay) SetRules(h *rules.Holder) {
	for _, s := range r.shards {
		s.rules = h
	}
}

// Run replays files in order. A file that cannot be opened or read to its
// end stops the replay with an error naming the file and offset; events for
// everything read before the error are still emitted.
func (r *Replay) Run(ctx context.Context, files []string) error {
	if len(files) == 0 {
		return errNoFiles
	}
	var wg sync.WaitGroup
	for i, s := range r.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range r.in[i] {
				s.process(b)
				b.reset()
				r.free[i] <- b
			}
			s.finish()
		}()
	}
	stopStats := startPeriodicStats(r.cfg.StatsInterval, r.pub, r.StatsEvent)

	var total int64
	for _, f := range files {
		if sz, err := fileSize(f); err == nil {
			total += sz
		}
	}
	r.Progress.TotalSize.Store(total)

	err := r.readAll(ctx, files)

	for i := range r.shards {
		r.send(i, r.clockNow())
		close(r.in[i])
	}
	wg.Wait()
	stopStats()
	r.pub.Publish([]*detect.Event{r.StatsEvent()})
	return err
}

func (r *Replay) clockNow() int64 { return r.clock.Load() }

func (r *Replay) readAll(ctx context.Context, files []string) (err error) {
	// Files are read through a memory mapping: one truncated by someone
	// else while it is read would fault (SIGBUS). Turn that into an error
	// for this replay instead of a crash.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if v := recover(); v != nil {
			// A memory fault carries its address (debug.SetPanicOnFault).
			fault, ok := v.(interface{ Addr() uintptr })
			if !ok {
				panic(v)
			}
			err = fmt.Errorf("pipeline: a capture file changed while it was read (memory fault at %#x)", fault.Addr())
		}
	}()
	dec := capture.NewDecoder(r.cfg.Decode)
	defer r.snapshotDecoder(dec)
	var (
		fr        capture.Frame
		p         capture.Packet
		lastTick  int64
		paceBase  int64
		paceStart time.Time
		consumed  int64
		n         = uint64(len(r.shards))
	)
	var pendFrames, pendBytes uint64
	var pendTS int64
	publish := func() {
		if pendFrames > 0 {
			r.Progress.Frames.Add(pendFrames)
			r.Progress.Bytes.Add(pendBytes)
			r.clock.Store(pendTS)
			pendFrames, pendBytes = 0, 0
		}
	}
	defer publish()
	for _, path := range files {
		rd, err := capture.OpenFile(path)
		if err != nil {
			r.countReadError()
			return err
		}
		r.mu.Lock()
		r.files++
		r.mu.Unlock()
		for {
			if err := rd.ReadFrame(&fr); err != nil {
				consumed += rd.Size()
				rd.Close()
				if err == io.EOF {
					break
				}
				r.countReadError()
				return err
			}
			ts := fr.Timestamp
			if r.cfg.Speed > 0 {
				if paceStart.IsZero() {
					paceBase, paceStart = ts, time.Now()
				}
				if due := paceStart.Add(time.Duration(float64(ts-paceBase) / r.cfg.Speed)); time.Until(due) > time.Millisecond {
					r.flushAll(ts) // let shards see what is due before sleeping
					select {
					case <-time.After(time.Until(due)):
					case <-ctx.Done():
					}
				}
			}
			res := r.shards[0].decodeSampled(dec, &p, fr.LinkType, fr.Data, ts, fr.WireLen) // malformed samples go to shard 0
			p.Interface = uint16(fr.Interface)
			if res == capture.Decoded {
				i := 0
				if n > 1 {
					i = int(reassembly.HashPacket(&p, r.cfg.Flow.VLANInKey) % n)
				}
				r.add(i, &p, ts)
			}
			if ts < lastTick { // time went backwards (merged captures)
				lastTick = ts
			}
			if ts-lastTick >= expiryInterval {
				// Once per second of packet time: every shard's clock moves,
				// the defragmenter expires, counters and progress are published.
				lastTick = ts
				publish()
				dec.Defragmenter().Expire(ts)
				r.flushAll(ts)
				r.snapshotDecoder(dec)
				if ctx.Err() != nil {
					rd.Close()
					return nil
				}
			}
			// Progress is published every 1024 frames (and when reading
			// ends), not per packet: shared atomics cost the reader.
			pendFrames++
			pendBytes += uint64(fr.WireLen)
			pendTS = ts
			if pendFrames == 1024 {
				publish()
				r.Progress.FilePos.Store(consumed + rd.Position())
				if ctx.Err() != nil { // interrupted: stop reading, flush what we have
					rd.Close()
					return nil
				}
			}
		}
		r.Progress.FilePos.Store(consumed)
	}
	return nil
}

func (r *Replay) countReadError() {
	r.mu.Lock()
	r.readErrors++
	r.mu.Unlock()
}

func (r *Replay) snapshotDecoder(dec *capture.Decoder) {
	r.mu.Lock()
	r.decodeStats = dec.Stats()
	r.defragStats = dec.DefragStats()
	r.mu.Unlock()
}

// add queues a copy of p for shard i.
func (r *Replay) add(i int, p *capture.Packet, now int64) {
	for {
		b := r.cur[i]
		if b == nil {
			b = <-r.free[i]
			r.cur[i] = b
		}
		if b.add(p) {
			return
		}
		r.send(i, now)
	}
}

func (r *Replay) send(i int, now int64) {
	b := r.cur[i]
	if b == nil {
		b = <-r.free[i]
	}
	b.now = now
	r.in[i] <- b
	r.cur[i] = nil
}

// flushAll sends every shard its current batch, even an empty one, so
// that packet time advances on all shards together.
func (r *Replay) flushAll(now int64) {
	for i := range r.shards {
		r.send(i, now)
	}
}

// startPeriodicStats publishes a stats event every interval (wall clock)
// until the returned stop function is called; 0 = never.
func startPeriodicStats(interval time.Duration, pub Publisher, event func() *detect.Event) func() {
	if interval <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				pub.Publish([]*detect.Event{event()})
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// Stats is the pipeline's counters, as carried by stats events.
type Stats struct {
	Capture struct {
		Files  uint64 `json:"files"`
		Frames uint64 `json:"frames"`
		Bytes  uint64 `json:"bytes"`
		Errors uint64 `json:"read_errors"`
		// Live capture: the kernel's per-socket counters and their sums.
		// Kernel packets - kernel drops = frames the shards read.
		KernelPackets  uint64                `json:"kernel_packets,omitempty"`
		KernelDrops    uint64                `json:"kernel_drops,omitempty"`
		KernelFreezes  uint64                `json:"kernel_freezes,omitempty"`
		SpanDuplicates uint64                `json:"span_duplicates,omitempty"`
		Sockets        []capture.SourceStats `json:"sockets,omitempty"`
	} `json:"capture"`
	Decoder DecoderStats      `json:"decoder"`
	Defrag  DefragStats       `json:"defrag"`
	Flows   FlowStats         `json:"flows"`
	Streams StreamStats       `json:"streams"`
	Events  map[string]uint64 `json:"events"`
	Sinks   []sinks.SinkStats `json:"sinks,omitempty"`
	Inject  *inject.Stats     `json:"inject,omitempty"`
	NAT     *nat.Stats        `json:"nat,omitempty"`
	Rules   []RuleListStats   `json:"rules,omitempty"`
	Shards  int               `json:"shards"`
}

// DecoderStats is the decoder part of Stats: frames = decoded + sum(dropped).
type DecoderStats struct {
	Frames    uint64            `json:"frames"`
	Decoded   uint64            `json:"decoded"`
	IPv4      uint64            `json:"ipv4"`
	IPv6      uint64            `json:"ipv6"`
	TCP       uint64            `json:"tcp"`
	UDP       uint64            `json:"udp"`
	ICMP      uint64            `json:"icmp"`
	SCTP      uint64            `json:"sctp"`
	OtherIP   uint64            `json:"other_ip"`
	Tunnelled uint64            `json:"tunnelled"`
	Truncated uint64            `json:"truncated"`
	Dropped   map[string]uint64 `json:"dropped"`
}

// DefragStats is the defragmentation part of Stats.
type DefragStats struct {
	FragmentsIn          uint64            `json:"fragments"`
	Reassembled          uint64            `json:"reassembled"`
	ReassembledFragments uint64            `json:"reassembled_fragments"`
	Held                 uint64            `json:"held"`
	Overlaps             uint64            `json:"overlaps"`
	Conflicts            uint64            `json:"overlap_conflicts"`
	Dropped              map[string]uint64 `json:"dropped"`
}

// FlowStats sums the shards' flow tables: created = sum(ended) + active.
type FlowStats struct {
	Packets          uint64            `json:"packets"`
	Created          uint64            `json:"created"`
	Active           uint64            `json:"active"`
	Peak             uint64            `json:"peak"`
	Ended            map[string]uint64 `json:"ended"`
	EmergencyEntered uint64            `json:"emergency_entered"`
}

// StreamStats sums the shards' TCP reassembly counters.
type StreamStats struct {
	Streams          uint64 `json:"streams"`
	Segments         uint64 `json:"segments"`
	Bytes            uint64 `json:"bytes"`
	Gaps             uint64 `json:"gaps"`
	GapBytes         uint64 `json:"gap_bytes"`
	Midstream        uint64 `json:"midstream"`
	Overlaps         uint64 `json:"overlaps"`
	OverlapConflicts uint64 `json:"overlap_conflicts"`
	// Connections held by the reassembler now, and the most at once (sum
	// of the shards' peaks).
	Connections     uint64 `json:"connections"`
	ConnectionsPeak uint64 `json:"connections_peak"`
	// BufferedPages is the out-of-order data held now, in pages of
	// reassembly.PageSize bytes (bounded by streams.max_pages_total per shard).
	BufferedPages uint64 `json:"buffered_pages"`
	// WindowsDenied counts stream directions left without an overlap
	// window (streams.max_window_bytes reached).
	WindowsDenied uint64 `json:"windows_denied"`
}

// RuleListStats counts one rules list's hits (block events), kept across
// reloads.
type RuleListStats struct {
	List string `json:"list"`
	Hits uint64 `json:"hits"`
}

// Stats gathers counters from the reader, the shards and the sinks.
func (r *Replay) Stats() Stats {
	r.mu.Lock()
	ds, fs := r.decodeStats, r.defragStats
	files, readErrors := r.files, r.readErrors
	r.mu.Unlock()
	st := collectStats(ds, fs, r.shards, r.fan, r.cfg.Inject, r.cfg.NAT)
	st.Capture.Files, st.Capture.Errors = files, readErrors
	st.Capture.Frames = r.Progress.Frames.Load()
	st.Capture.Bytes = r.Progress.Bytes.Load()
	return st
}

// collectStats builds Stats from decoder counters and the shards' snapshots.
func collectStats(ds capture.DecodeStats, fs capture.DefragStats, shards []*Shard, fan *sinks.Fanout, inj *inject.Injector, nt *nat.Tracker) Stats {
	var st Stats
	st.Decoder = DecoderStats{Frames: ds.Frames, Decoded: ds.Decoded, IPv4: ds.IPv4, IPv6: ds.IPv6, TCP: ds.TCP,
		UDP: ds.UDP, ICMP: ds.ICMP, SCTP: ds.SCTP, OtherIP: ds.OtherIP, Tunnelled: ds.Tunnelled,
		Truncated: ds.Truncated, Dropped: map[string]uint64{}}
	for i := capture.DropReason(1); i < capture.NumDropReasons; i++ {
		if n := ds.Dropped[i]; n > 0 {
			st.Decoder.Dropped[i.String()] = n
		}
	}
	st.Defrag = DefragStats{FragmentsIn: fs.FragmentsIn, Reassembled: fs.Reassembled,
		ReassembledFragments: fs.ReassembledFragments, Held: fs.Held,
		Overlaps: fs.Overlaps, Conflicts: fs.OverlapConflicts, Dropped: map[string]uint64{
			"timeout": fs.TimedOut, "evicted": fs.Evicted, "too_many_fragments": fs.TooManyFragments,
			"memcap": fs.MemcapBytes, "too_large": fs.TooLarge, "invalid": fs.InvalidFragment}}
	st.Flows.Ended = map[string]uint64{}
	st.Events = map[string]uint64{}
	for _, s := range shards {
		ss := s.Stats()
		st.Flows.Packets += ss.Flows.Packets
		st.Flows.Created += ss.Flows.Created
		st.Flows.Active += ss.Flows.Active
		st.Flows.Peak += ss.Flows.Peak
		st.Flows.EmergencyEntered += ss.Flows.EmergencyEntered
		for i, name := range reassembly.EndReasonNames() {
			st.Flows.Ended[name] += ss.Flows.Ended[i]
		}
		st.Streams.Streams += ss.Streams.Streams
		st.Streams.Segments += ss.Streams.Packets
		st.Streams.Bytes += ss.Streams.Bytes
		st.Streams.Gaps += ss.Streams.Gaps
		st.Streams.GapBytes += ss.Streams.GapBytes
		st.Streams.Midstream += ss.Streams.Midstream
		st.Streams.Overlaps += ss.Streams.Overlaps
		st.Streams.OverlapConflicts += ss.Streams.OverlapConflict
		st.Streams.Connections += ss.Streams.Connections
		st.Streams.ConnectionsPeak += ss.Streams.ConnectionsPeak
		st.Streams.BufferedPages += ss.Streams.BufferedPages
		st.Streams.WindowsDenied += ss.Streams.WindowsDenied
		for k, v := range ss.Events {
			st.Events[k] += v
		}
	}
	if fan != nil {
		st.Sinks = fan.Stats()
	}
	if inj != nil {
		is := inj.Stats()
		st.Inject = &is
	}
	if nt != nil {
		ns := nt.Stats()
		st.NAT = &ns
	}
	if len(shards) > 0 && shards[0].rules != nil {
		for _, h := range shards[0].rules.ListHits() {
			st.Rules = append(st.Rules, RuleListStats{List: h.List, Hits: h.Hits})
		}
	}
	st.Shards = len(shards)
	return st
}

// StatsEvent builds a stats event stamped with the reader's packet clock.
func (r *Replay) StatsEvent() *detect.Event {
	st := r.Stats()
	b, err := json.Marshal(st)
	if err != nil { // cannot happen for these types
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	return &detect.Event{Type: detect.TypeStats, Timestamp: r.clockNow(), Sensor: r.cfg.Sensor, Stats: b}
}

var errNoFiles = errors.New("pipeline: no capture files")

func fileSize(path string) (int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}
