package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/rules"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// LiveOptions are the live-only parts of a live run.
type LiveOptions struct {
	// SpanDedupWindow drops SPAN duplicates within this window (0 = off).
	SpanDedupWindow time.Duration
	// SlowBatch sleeps after every batch: a deliberately slow pipeline,
	// for drop-accounting tests only.
	SlowBatch time.Duration
	// OnStarted is called once every shard is reading (tests, readiness).
	OnStarted func()
}

// Live runs the pipeline on live sources. Each shard goroutine owns its
// sockets (one per interface, members of that interface's fanout group):
// it reads, decodes, de-duplicates and applies packets to its own flow
// table, with no queue between capture and processing. The kernel's
// symmetric fanout hash keeps both directions of a flow on one socket,
// hence on one shard. Packet time comes from the kernel timestamps; when
// the link is quiet the wall clock moves it on, so flows still expire.
type Live struct {
	cfg     Config
	opts    LiveOptions
	log     *slog.Logger
	pub     Publisher
	fan     *sinks.Fanout
	shards  []*Shard
	sources [][]capture.LiveSource
	clock   atomic.Int64
	started atomic.Int32

	mu          sync.Mutex
	decodeStats []capture.DecodeStats
	defragStats []capture.DefragStats
	frames      []uint64
	bytes       []uint64
	readErrors  []uint64
	dups        []uint64
}

// NewLive is inert. sources[i] are shard i's sockets (capture.OpenLive);
// the shard count is len(sources). Live does not close the sources.
func NewLive(cfg Config, opts LiveOptions, sources [][]capture.LiveSource, log *slog.Logger, pub Publisher, fan *sinks.Fanout) *Live {
	cfg.Shards = len(sources)
	cfg.setDefaults()
	l := &Live{cfg: cfg, opts: opts, log: log, pub: pub, fan: fan, sources: sources}
	for i := range sources {
		l.shards = append(l.shards, newShard(i, cfg, cfg.Sensor, pub))
	}
	n := len(sources)
	l.decodeStats, l.defragStats = make([]capture.DecodeStats, n), make([]capture.DefragStats, n)
	l.frames, l.bytes, l.readErrors, l.dups = make([]uint64, n), make([]uint64, n), make([]uint64, n), make([]uint64, n)
	return l
}

// SetRules installs the rules holder (before Run).
func (l *Live) SetRules(h *rules.Holder) {
	for _, s := range l.shards {
		s.rules = h
	}
}

// Run captures until ctx is done, then ends every open flow, publishes the
// last events and a final stats event. A source error (interface down)
// is counted and retried, not fatal.
func (l *Live) Run(ctx context.Context) error {
	if len(l.sources) == 0 {
		return errors.New("pipeline: no live sources")
	}
	var wg sync.WaitGroup
	for i := range l.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l.runShard(ctx, i)
		}()
	}
	stopStats := startPeriodicStats(l.cfg.StatsInterval, l.pub, l.StatsEvent)
	wg.Wait()
	stopStats()
	l.pub.Publish([]*detect.Event{l.StatsEvent()})
	return nil
}

func (l *Live) runShard(ctx context.Context, i int) {
	s, srcs := l.shards[i], l.sources[i]
	dec := capture.NewDecoder(l.cfg.Decode)
	dedup := capture.NewSpanDedup(int64(l.opts.SpanDedupWindow))
	b := newBatch(l.cfg.BatchSize, l.cfg.BatchSize*arenaPerPacket)
	var (
		fr          capture.Frame
		p           capture.Packet
		lastTick    int64
		lastIdle    int64
		frames, byt uint64
		readErrs    uint64
		loggedErr   time.Time
	)
	snapshot := func() {
		l.mu.Lock()
		l.decodeStats[i], l.defragStats[i] = dec.Stats(), dec.DefragStats()
		l.frames[i], l.bytes[i], l.readErrors[i] = frames, byt, readErrs
		if dedup != nil {
			l.dups[i] = dedup.Dropped
		}
		l.mu.Unlock()
	}
	process := func(now int64) {
		b.now = now
		s.process(b)
		b.reset()
		if l.opts.SlowBatch > 0 {
			time.Sleep(l.opts.SlowBatch)
		}
	}
	// take counts, decodes and de-duplicates the frame just read into fr
	// and adds it to the batch (processing the batch first when it is full).
	take := func() {
		frames++
		byt += uint64(fr.WireLen)
		if s.decodeSampled(dec, &p, fr.LinkType, fr.Data, fr.Timestamp, fr.WireLen) != capture.Decoded || dedup.Duplicate(&p) {
			return
		}
		if !b.add(&p) {
			process(p.Timestamp)
			b.add(&p)
		}
	}
	if int(l.started.Add(1)) == len(l.shards) && l.opts.OnStarted != nil {
		l.opts.OnStarted()
	}
	for ctx.Err() == nil {
		for _, src := range srcs {
			for n := 0; n < l.cfg.BatchSize; n++ {
				err := src.ReadFrame(&fr)
				if err == capture.ErrTimeout {
					break
				}
				if err != nil {
					// Interface down, socket error: count, say so now and
					// then, wait a poll interval and keep trying.
					readErrs++
					if time.Since(loggedErr) > 10*time.Second {
						loggedErr = time.Now()
						l.log.Warn("capture read failed; retrying", "shard", i, "err", err)
					}
					time.Sleep(50 * time.Millisecond)
					break
				}
				take()
			}
		}
		now := time.Now().UnixNano()
		if len(b.pkts) == 0 && now-lastIdle < idleTick {
			continue // nothing read: keep polling; time moves on every idleTick
		}
		lastIdle = now
		if len(b.pkts) > 0 {
			if last := b.pkts[len(b.pkts)-1].Timestamp; last > now {
				now = last // a clock step back: never move time behind packets
			}
		}
		process(now)
		if c := l.clock.Load(); now > c {
			l.clock.CompareAndSwap(c, now)
		}
		if now-lastTick >= expiryInterval {
			lastTick = now
			dec.Defragmenter().Expire(now)
			snapshot()
		}
	}
	// Drain: what the kernel already queued in the ring is read before the
	// flows are ended, so that at shutdown kernel packets = frames read +
	// kernel drops. Bounded, for a link that never goes quiet.
	deadline := time.Now().Add(drainLimit)
	for _, src := range srcs {
		for time.Now().Before(deadline) {
			if err := src.ReadFrame(&fr); err != nil {
				break
			}
			take()
		}
	}
	if len(b.pkts) > 0 {
		process(time.Now().UnixNano())
	}
	s.finish()
	snapshot()
}

// idleTick is how often a shard that reads nothing still processes an
// empty batch, so that packet time follows the wall clock and flows expire.
const idleTick = int64(100 * time.Millisecond)

// drainLimit bounds the reading of the rings at shutdown.
const drainLimit = 2 * time.Second

// Stats gathers counters from the sockets, decoders, shards and sinks.
func (l *Live) Stats() Stats {
	var ds capture.DecodeStats
	var fs capture.DefragStats
	var frames, byt, errs, dups uint64
	l.mu.Lock()
	for i := range l.decodeStats {
		ds.Add(l.decodeStats[i])
		fs.Add(l.defragStats[i])
		frames += l.frames[i]
		byt += l.bytes[i]
		errs += l.readErrors[i]
		dups += l.dups[i]
	}
	l.mu.Unlock()
	st := collectStats(ds, fs, l.shards, l.fan, l.cfg.Inject, l.cfg.NAT)
	st.Capture.Frames, st.Capture.Bytes, st.Capture.Errors, st.Capture.SpanDuplicates = frames, byt, errs, dups
	for _, srcs := range l.sources {
		for _, src := range srcs {
			ss := src.Stats()
			st.Capture.Sockets = append(st.Capture.Sockets, ss)
			st.Capture.KernelPackets += ss.Packets
			st.Capture.KernelDrops += ss.Drops
			st.Capture.KernelFreezes += ss.Freezes
		}
	}
	return st
}

// StatsEvent builds a stats event stamped with the latest packet time.
func (l *Live) StatsEvent() *detect.Event {
	b, err := json.Marshal(l.Stats())
	if err != nil {
		b = []byte(fmt.Sprintf(`{"error":%q}`, err.Error()))
	}
	ts := l.clock.Load()
	if ts == 0 {
		ts = time.Now().UnixNano()
	}
	return &detect.Event{Type: detect.TypeStats, Timestamp: ts, Sensor: l.cfg.Sensor, Stats: b}
}
