package sinks

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// memSink records what it is given; it can be made slow or failing.
type memSink struct {
	mu      sync.Mutex
	got     int
	flushes int
	closed  bool
	gate    chan struct{} // when set, Write waits on it
	fail    bool
}

func (m *memSink) Name() string { return "mem" }
func (m *memSink) Write(evs []*detect.Event) error {
	if m.gate != nil {
		<-m.gate
	}
	if m.fail {
		return errors.New("broker down")
	}
	m.mu.Lock()
	m.got += len(evs)
	m.mu.Unlock()
	return nil
}
func (m *memSink) Flush() error { m.mu.Lock(); m.flushes++; m.mu.Unlock(); return nil }
func (m *memSink) Close() error { m.closed = true; return nil }

func batchOf(n int) []*detect.Event {
	evs := make([]*detect.Event, n)
	for i := range evs {
		evs[i] = &detect.Event{Type: detect.TypeFlow}
	}
	return evs
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

func checkEquations(t *testing.T, s SinkStats) {
	t.Helper()
	if s.Offered != s.Enqueued+s.DroppedFull {
		t.Errorf("offered %d != enqueued %d + dropped_full %d", s.Offered, s.Enqueued, s.DroppedFull)
	}
	if s.Enqueued != s.Written+s.DroppedError+s.Queued {
		t.Errorf("enqueued %d != written %d + dropped_error %d + queued %d", s.Enqueued, s.Written, s.DroppedError, s.Queued)
	}
}

func TestFanoutDropsWhenFullAndNeverBlocks(t *testing.T) {
	slow := &memSink{gate: make(chan struct{})}
	f := NewFanout(QueueConfig{Batches: 2, FlushInterval: time.Hour}, false, discard, slow)
	f.Start()
	done := make(chan struct{})
	go func() {
		for i := 0; i < 10; i++ {
			f.Publish(batchOf(5))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a full queue")
	}
	st := f.Stats()[0]
	if st.DroppedFull == 0 || st.Offered != 50 {
		t.Errorf("stats %+v: want drops and 50 offered", st)
	}
	close(slow.gate)
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st = f.Stats()[0]
	checkEquations(t, st)
	if st.Queued != 0 || uint64(slow.got) != st.Written || !slow.closed || slow.flushes == 0 {
		t.Errorf("after Stop: %+v, sink got %d, closed %v, flushes %d", st, slow.got, slow.closed, slow.flushes)
	}
}

func TestFanoutBlockingLosesNothing(t *testing.T) {
	slow := &memSink{gate: make(chan struct{})}
	fast := &memSink{}
	f := NewFanout(QueueConfig{Batches: 1, FlushInterval: time.Hour}, true, discard, slow, fast)
	f.Start()
	go func() { time.Sleep(50 * time.Millisecond); close(slow.gate) }()
	for i := 0; i < 20; i++ {
		f.Publish(batchOf(3))
	}
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, st := range f.Stats() {
		checkEquations(t, st)
		if st.Written != 60 || st.DroppedFull != 0 {
			t.Errorf("%+v: want 60 written, none dropped", st)
		}
	}
}

func TestFanoutCountsWriteErrors(t *testing.T) {
	bad := &memSink{fail: true}
	f := NewFanout(DefaultQueueConfig(), true, discard, bad)
	f.Start()
	f.Publish(batchOf(4))
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()[0]
	checkEquations(t, st)
	if st.DroppedError != 4 {
		t.Errorf("%+v: want 4 dropped_write_error", st)
	}
	// Publishing after Stop is counted, not a panic.
	f.Publish(batchOf(2))
	st = f.Stats()[0]
	checkEquations(t, st)
	if st.DroppedFull != 2 {
		t.Errorf("after stop: %+v", st)
	}
}

func TestStopGracePeriod(t *testing.T) {
	stuck := &memSink{gate: make(chan struct{})}
	defer close(stuck.gate)
	f := NewFanout(DefaultQueueConfig(), false, discard, stuck)
	f.Start()
	f.Publish(batchOf(1))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := f.Stop(ctx); err == nil {
		t.Error("Stop returned nil with a sink stuck past the grace period")
	}
}

// reportingSink keeps delivery counters like the Kafka sink does.
type reportingSink struct {
	memSink
	d Delivery
}

func (r *reportingSink) Write(evs []*detect.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	// Half sent, the rest dropped for want of spool room.
	r.d.Enqueued += uint64(len(evs))
	r.d.Sent += uint64(len(evs) / 2)
	r.d.Dropped["spool_full"] += uint64(len(evs) - len(evs)/2)
	return nil
}

func (r *reportingSink) DeliveryStats() Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.d
	d.Dropped = map[string]uint64{}
	for k, v := range r.d.Dropped {
		d.Dropped[k] = v
	}
	return d
}

func TestFanoutCarriesSinkDeliveryStats(t *testing.T) {
	rs := &reportingSink{d: Delivery{Dropped: map[string]uint64{}}}
	plain := &memSink{}
	f := NewFanout(DefaultQueueConfig(), true, discard, rs, plain)
	f.Start()
	for i := 0; i < 5; i++ {
		f.Publish(batchOf(4))
	}
	if err := f.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := f.Stats()
	checkEquations(t, st[0])
	d := st[0].Delivery
	if d == nil || d.Sent != 10 || d.DroppedTotal() != 10 || !d.Balanced() || d.Enqueued != st[0].Written {
		t.Errorf("delivery %+v, stats %+v", d, st[0])
	}
	if st[1].Delivery != nil {
		t.Errorf("a sink without counters reports %+v", st[1].Delivery)
	}
}
