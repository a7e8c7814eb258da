package sinks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// QueueConfig is the fan-out's part of the `sinks:` section.
type QueueConfig struct {
	// Batches is the capacity of each sink's queue, in batches of events.
	Batches int `yaml:"queue_batches"`
	// FlushInterval is the wall-clock interval at which sinks flush.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// DefaultQueueConfig returns the defaults.
func DefaultQueueConfig() QueueConfig {
	return QueueConfig{Batches: 1024, FlushInterval: time.Second}
}

// Validate checks the settings.
func (c QueueConfig) Validate() error {
	var errs []error
	if c.Batches < 1 {
		errs = append(errs, fmt.Errorf("queue_batches: must be >= 1, got %d", c.Batches))
	}
	if c.FlushInterval <= 0 {
		errs = append(errs, fmt.Errorf("flush_interval: must be > 0"))
	}
	return errors.Join(errs...)
}

// SinkStats are one sink's counters, in events.
// Enqueued = Written + DroppedError + Queued.
// DroppedFull counts events refused at the queue, so
// Offered = Enqueued + DroppedFull. Delivery is set for sinks that report
// their own delivery (StatsReporter): Delivery.Enqueued + Delivery.Recovered =
// Delivery.Sent + ΣDelivery.Dropped + Delivery.Pending.
type SinkStats struct {
	Name         string    `json:"name"`
	Offered      uint64    `json:"offered"`
	Enqueued     uint64    `json:"enqueued"`
	Written      uint64    `json:"written"`
	DroppedFull  uint64    `json:"dropped_queue_full"`
	DroppedError uint64    `json:"dropped_write_error"`
	Queued       uint64    `json:"queued"`
	Flushes      uint64    `json:"flushes"`
	FlushErrors  uint64    `json:"flush_errors"`
	Delivery     *Delivery `json:"delivery,omitempty"`
}

type worker struct {
	sink  Sink
	queue chan []*detect.Event
	log   *slog.Logger

	offered, enqueued, written, droppedFull, droppedErr, flushes, flushErrs atomic.Uint64
	errLogged                                                               atomic.Int64 // unix seconds of the last logged error
}

// Fanout hands every published batch to each sink's bounded queue. It never
// blocks a publisher unless Block is set (lossless replay): a full queue
// drops the batch for that sink and counts it.
type Fanout struct {
	cfg     QueueConfig
	block   bool
	workers []*worker
	wg      sync.WaitGroup
	mu      sync.RWMutex // Publish holds it shared; Stop exclusively, to close the queues
	closed  bool
}

// NewFanout is inert: it starts nothing. block selects backpressure instead
// of dropping when a queue is full (for replays, where the reader can wait).
func NewFanout(cfg QueueConfig, block bool, log *slog.Logger, sinks ...Sink) *Fanout {
	f := &Fanout{cfg: cfg, block: block}
	for _, s := range sinks {
		f.workers = append(f.workers, &worker{sink: s, queue: make(chan []*detect.Event, cfg.Batches),
			log: log.With("sink", s.Name())})
	}
	return f
}

// Start starts one goroutine per sink.
func (f *Fanout) Start() {
	for _, w := range f.workers {
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			w.run(f.cfg.FlushInterval)
		}()
	}
}

// Publish offers a batch of events to every sink. Safe for concurrent use.
// The batch slice must not be modified by the caller afterwards.
func (f *Fanout) Publish(events []*detect.Event) {
	if len(events) == 0 {
		return
	}
	n := uint64(len(events))
	f.mu.RLock()
	defer f.mu.RUnlock()
	closed := f.closed
	for _, w := range f.workers {
		w.offered.Add(n)
		if closed {
			w.droppedFull.Add(n)
			continue
		}
		if f.block {
			w.enqueued.Add(n)
			w.queue <- events
			continue
		}
		select {
		case w.queue <- events:
			w.enqueued.Add(n)
		default:
			w.droppedFull.Add(n)
		}
	}
}

// Stop closes the queues and waits until every sink has written and
// flushed what it holds, or ctx ends. Publishers must have stopped.
func (f *Fanout) Stop(ctx context.Context) error {
	f.mu.Lock()
	if !f.closed {
		f.closed = true
		for _, w := range f.workers {
			close(w.queue)
		}
	}
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("sinks: shutdown grace period over with events still queued: %w", ctx.Err())
	}
	var errs []error
	for _, w := range f.workers {
		if err := w.sink.Close(); err != nil {
			errs = append(errs, fmt.Errorf("sinks: %s: close: %w", w.sink.Name(), err))
		}
	}
	return errors.Join(errs...)
}

// Stats returns each sink's counters.
func (f *Fanout) Stats() []SinkStats {
	out := make([]SinkStats, 0, len(f.workers))
	for _, w := range f.workers {
		s := SinkStats{Name: w.sink.Name(), Offered: w.offered.Load(), Enqueued: w.enqueued.Load(),
			Written: w.written.Load(), DroppedFull: w.droppedFull.Load(), DroppedError: w.droppedErr.Load(),
			Flushes: w.flushes.Load(), FlushErrors: w.flushErrs.Load()}
		if done := s.Written + s.DroppedError; s.Enqueued > done {
			s.Queued = s.Enqueued - done
		}
		if r, ok := w.sink.(StatsReporter); ok {
			d := r.DeliveryStats()
			s.Delivery = &d
		}
		out = append(out, s)
	}
	return out
}

func (w *worker) run(interval time.Duration) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case evs, ok := <-w.queue:
			if !ok {
				w.flush()
				return
			}
			if err := w.sink.Write(evs); err != nil {
				w.droppedErr.Add(uint64(len(evs)))
				w.logErr("write failed; batch dropped", err)
			} else {
				w.written.Add(uint64(len(evs)))
			}
		case <-tick.C:
			w.flush()
		}
	}
}

func (w *worker) flush() {
	w.flushes.Add(1)
	if err := w.sink.Flush(); err != nil {
		w.flushErrs.Add(1)
		w.logErr("flush failed", err)
	}
}

// logErr logs at most one error per second per sink; the counters carry the rest.
func (w *worker) logErr(msg string, err error) {
	now := time.Now().Unix()
	if last := w.errLogged.Load(); now > last && w.errLogged.CompareAndSwap(last, now) {
		w.log.Error(msg, "err", err)
	}
}
