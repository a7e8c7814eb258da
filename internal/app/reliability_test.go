package app

// Helpers shared by the reliability tests (issue 11, docs/reliability.md):
// a replay through the whole pipeline (decoder, defragmenter, flow tables,
// reassembly, every parser, scan detection, fan-out, the JSONL sink), an
// event counter in place of stdout, the accounting equations, and a heap
// sampler.

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/pipeline"
)

// eventCounter is the JSONL sink's stdout: it counts lines by event_type
// without keeping them (a flood writes hundreds of megabytes of events).
type eventCounter struct {
	mu      sync.Mutex
	partial []byte
	lines   uint64
	types   map[string]uint64
	// keep, when set, is called with every line of these types.
	keep  map[string]bool
	kept  [][]byte
	bytes uint64
}

var eventTypeKey = []byte(`"event_type":"`)

func (c *eventCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.types == nil {
		c.types = map[string]uint64{}
	}
	c.bytes += uint64(len(p))
	data := p
	if len(c.partial) > 0 {
		// Finish the line the last write left open, without copying p.
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.partial = append(c.partial, p...)
			return len(p), nil
		}
		c.partial = append(c.partial, p[:i]...)
		c.line(c.partial)
		c.partial = c.partial[:0]
		data = p[i+1:]
	}
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			c.partial = append(c.partial, data...)
			return len(p), nil
		}
		c.line(data[:i])
		data = data[i+1:]
	}
}

func (c *eventCounter) line(line []byte) {
	c.lines++
	typ := "?"
	if j := bytes.Index(line, eventTypeKey); j >= 0 {
		rest := line[j+len(eventTypeKey):]
		if k := bytes.IndexByte(rest, '"'); k >= 0 {
			typ = string(rest[:k])
		}
	}
	c.types[typ]++
	if c.keep[typ] {
		c.kept = append(c.kept, bytes.Clone(line))
	}
}

func (c *eventCounter) count(typ string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.types[typ]
}

// reliabilityConfig is the defaults with two shards, JSONL to the counter,
// a quiet log and the end-of-replay stats event only.
func reliabilityConfig() Config {
	cfg := DefaultConfig()
	cfg.Sensor = "reliability"
	cfg.Capture.Shards = 2
	cfg.Sinks.JSONL.Path = "-"
	cfg.Stats.Interval = 0
	cfg.Log = LogConfig{Level: "error", Format: "text"}
	return cfg
}

// replayCounted replays files through the whole pipeline; the error is the
// replay's (a corrupt file ends it with one, after everything before it).
func replayCounted(t testing.TB, cfg Config, files ...string) (pipeline.Stats, *eventCounter, error) {
	t.Helper()
	ctr := &eventCounter{}
	st, err := Replay(context.Background(), cfg, ReplayOptions{Files: files, Stdout: ctr, ShutdownGrace: time.Minute},
		NewLogger(cfg.Log, io.Discard))
	return st, ctr, err
}

func sum(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}

// checkAccounting asserts every stage's in = out + dropped(reason) on the
// stats a finished replay returns, and that the sinks lost nothing:
//
//	capture   frames read = decoder frames
//	decoder   frames = decoded + Σ dropped{reason}
//	defrag    fragments = held + reassembled_fragments + Σ dropped{reason}
//	flows     packets = decoded; created = Σ ended{reason} + active; active = 0
//	events    Σ events{type} + 1 (the final stats event) = offered to each sink
//	sinks     offered = enqueued + dropped_queue_full
//	          enqueued = written + dropped_write_error + queued; queued = 0
//	          written = lines the JSONL sink wrote; dropped = 0 (events lost = 0)
func checkAccounting(t testing.TB, name string, st pipeline.Stats, ctr *eventCounter) {
	t.Helper()
	fail := func(format string, args ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{name}, args...)...)
	}
	if st.Capture.Frames != st.Decoder.Frames {
		fail("capture frames %d != decoder frames %d", st.Capture.Frames, st.Decoder.Frames)
	}
	if st.Streams.Connections != 0 || st.Streams.ConnectionsPeak > st.Streams.Streams {
		fail("reassembly: %d connections still held at the end (peak %d of %d created)",
			st.Streams.Connections, st.Streams.ConnectionsPeak, st.Streams.Streams)
	}
	d := st.Decoder
	if d.Frames != d.Decoded+sum(d.Dropped) {
		fail("decoder: frames %d != decoded %d + dropped %d %v", d.Frames, d.Decoded, sum(d.Dropped), d.Dropped)
	}
	f := st.Defrag
	if f.FragmentsIn != f.Held+f.ReassembledFragments+sum(f.Dropped) {
		fail("defrag: fragments %d != held %d + reassembled %d + dropped %d %v", f.FragmentsIn, f.Held, f.ReassembledFragments, sum(f.Dropped), f.Dropped)
	}
	fl := st.Flows
	if fl.Packets != d.Decoded {
		fail("flows: packets %d != decoded %d", fl.Packets, d.Decoded)
	}
	if fl.Created != sum(fl.Ended)+fl.Active || fl.Active != 0 {
		fail("flows: created %d != ended %d %v + active %d (want 0 after the replay)", fl.Created, sum(fl.Ended), fl.Ended, fl.Active)
	}
	events := sum(st.Events) + 1
	if len(st.Sinks) == 0 {
		fail("no sink stats")
	}
	for _, s := range st.Sinks {
		if s.Offered != events {
			fail("sink %s: offered %d, pipeline events %d + 1 stats", s.Name, s.Offered, events-1)
		}
		if s.Offered != s.Enqueued+s.DroppedFull {
			fail("sink %s: offered %d != enqueued %d + dropped_queue_full %d", s.Name, s.Offered, s.Enqueued, s.DroppedFull)
		}
		if s.Enqueued != s.Written+s.DroppedError+s.Queued {
			fail("sink %s: enqueued %d != written %d + dropped_write_error %d + queued %d", s.Name, s.Enqueued, s.Written, s.DroppedError, s.Queued)
		}
		if s.Queued != 0 || s.DroppedFull != 0 || s.DroppedError != 0 {
			fail("sink %s: queued %d, dropped %d+%d after close: events lost", s.Name, s.Queued, s.DroppedFull, s.DroppedError)
		}
		if ctr != nil && s.Name == "jsonl" && s.Written != ctr.lines {
			fail("sink jsonl: written %d, lines out %d", s.Written, ctr.lines)
		}
	}
	if ctr != nil {
		for typ, n := range st.Events {
			if got := ctr.count(typ); got != n {
				fail("events %s: counted %d, written %d", typ, n, got)
			}
		}
	}
}

// heapSampler records the peak of the live Go heap while a replay runs:
// every 50 ms it collects garbage and reads HeapAlloc, so the figure is
// what the sensor holds (its tables, buffers and queues), not garbage
// waiting for the collector.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	base uint64
	peak uint64
}

func startHeapSampler() *heapSampler {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	h := &heapSampler{stop: make(chan struct{}), done: make(chan struct{}), base: ms.HeapAlloc, peak: ms.HeapAlloc}
	go func() {
		defer close(h.done)
		tk := time.NewTicker(50 * time.Millisecond)
		defer tk.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tk.C:
				runtime.GC()
				runtime.ReadMemStats(&ms)
				h.peak = max(h.peak, ms.HeapAlloc)
			}
		}
	}()
	return h
}

// finish stops sampling and returns the baseline and the peak, in bytes.
func (h *heapSampler) finish() (base, peak uint64) {
	close(h.stop)
	<-h.done
	return h.base, h.peak
}

// sortedKeys is for stable log lines.
func sortedKeys(m map[string]uint64) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
