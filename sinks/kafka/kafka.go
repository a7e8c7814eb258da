package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	kafkago "github.com/segmentio/kafka-go"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/spool"
)

// Drop reasons (the keys of Delivery.Dropped).
const (
	DropSpoolFull  = "spool_full"  // the spool is at spool_max_bytes
	DropSpoolError = "spool_error" // writing the spool failed (disk full…)
	DropNoSpool    = "no_spool"    // memory is full or a send failed, and no spool_dir is set
	DropTooLarge   = "too_large"   // one event is larger than batch_bytes
	DropUnreadable = "unreadable"  // a spooled record is not an event
)

// slot states
const (
	pending uint8 = iota
	finished
	abandoned // handed to the spool at shutdown; a late completion is ignored
)

// batch is one WriteMessages call: events from Write (memory) or from the spool.
type batch struct {
	msgs      []kafkago.Message
	slots     []slot
	fromSpool bool
	remaining int           // spool batches: completions still to come
	failed    int           // spool batches: failed completions
	done      chan struct{} // spool batches: closed when remaining hits 0
}

type slot struct {
	b     *batch
	state uint8
}

// Sink sends events to Kafka. See the package documentation.
type Sink struct {
	cfg    Config
	log    *slog.Logger
	w      *kafkago.Writer // memory batches
	ws     *kafkago.Writer // spool rounds: the same, with a short batch age
	spool  *spool.Spool    // nil without spool_dir
	topics map[string]string

	wake    chan struct{} // the sender has something to look at
	closing chan struct{} // Close was called: deliver what is left, then stop
	hard    chan struct{} // close_timeout passed: stop now
	stopped chan struct{} // the sender has returned

	topicsMu  sync.Mutex // guards topics
	startOnce sync.Once
	started   bool // set by Start; Close reads it from the goroutine that owns the sink
	closeOnce sync.Once

	mu          sync.Mutex // guards everything below
	queue       []*batch   // memory batches not yet submitted
	queued      int        // events in queue
	inflight    int        // events submitted and not completed (memory and spool)
	inflightMem int        // of those, from memory (the spool still counts its own)
	spooling    bool       // new events go to the spool, behind what it holds
	live        map[*batch]struct{}
	d           sinks.Delivery
	lastErr     time.Time
}

var (
	_ sinks.Sink          = (*Sink)(nil)
	_ sinks.StatsReporter = (*Sink)(nil)
)

// New validates cfg, opens the spool (recovering what an earlier run left)
// and builds the writer; it connects to nothing. Start begins delivery.
func New(cfg Config, log *slog.Logger) (*Sink, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sinks/kafka: %w", err)
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("sinks/kafka: no brokers")
	}
	tr, err := cfg.transport()
	if err != nil {
		return nil, fmt.Errorf("sinks/kafka: %w", err)
	}
	comp, _ := codec(cfg.Compression)
	s := &Sink{
		cfg: cfg, log: log.With("sink", "kafka"), topics: map[string]string{},
		wake: make(chan struct{}, 1), closing: make(chan struct{}), hard: make(chan struct{}),
		stopped: make(chan struct{}), live: map[*batch]struct{}{},
		d: sinks.Delivery{Dropped: map[string]uint64{}},
	}
	newWriter := func(age time.Duration) *kafkago.Writer {
		return &kafkago.Writer{
			Addr:                   kafkago.TCP(cfg.Brokers...),
			Balancer:               &kafkago.Murmur2Balancer{}, // the Java client's key → partition mapping
			MaxAttempts:            cfg.MaxAttempts,
			WriteBackoffMin:        100 * time.Millisecond,
			WriteBackoffMax:        time.Second,
			BatchSize:              cfg.BatchSize,
			BatchBytes:             int64(cfg.BatchBytes),
			BatchTimeout:           age,
			ReadTimeout:            cfg.WriteTimeout,
			WriteTimeout:           cfg.WriteTimeout,
			RequiredAcks:           kafkago.RequireAll,
			Async:                  true,
			Completion:             s.complete,
			Compression:            comp,
			Transport:              tr, // shared: one connection pool
			AllowAutoTopicCreation: cfg.AutoCreateTopics,
		}
	}
	s.w = newWriter(cfg.BatchTimeout)
	// A spool round submits many events at once: batches fill by size, and
	// the partial ones left need not wait batch_timeout (which would pace
	// the drain).
	s.ws = newWriter(min(cfg.BatchTimeout, 5*time.Millisecond))
	if cfg.SpoolDir != "" {
		sp, err := spool.Open(spool.Config{Dir: cfg.SpoolDir, MaxBytes: int64(cfg.SpoolMaxBytes)})
		if err != nil {
			return nil, fmt.Errorf("sinks/kafka: %w", err)
		}
		s.spool = sp
		if st := sp.Stats(); st.Records > 0 {
			// Left by an earlier run: send it before anything new.
			s.spooling = true
			s.d.Recovered = st.Records
			s.log.Info("spool holds events from an earlier run; sending them first", "events", st.Records, "torn_records", st.TornRecords)
		}
	} else {
		s.log.Warn("no spool_dir: events the broker cannot take are dropped when memory_events is reached")
	}
	return s, nil
}

// Start starts the background sender.
func (s *Sink) Start() {
	s.startOnce.Do(func() {
		s.started = true
		go s.run()
	})
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return "kafka" }

// topic returns <prefix>.<type>.v1, cached per type.
func (s *Sink) topic(typ string) string {
	s.topicsMu.Lock()
	defer s.topicsMu.Unlock()
	t, ok := s.topics[typ]
	if !ok {
		t = s.cfg.TopicPrefix + "." + typ + ".v1"
		s.topics[typ] = t
	}
	return t
}

// messageOverhead approximates a record's framing in a batch, so an event
// that can never fit in batch_bytes is dropped here and not retried forever.
const messageOverhead = 64

// Write implements sinks.Sink: it encodes the events and queues them for
// the sender, or appends them to the spool when memory is full or the spool
// already holds events (which keeps the order). It never waits for the broker.
func (s *Sink) Write(events []*detect.Event) error {
	if len(events) == 0 {
		return nil
	}
	// One arena for every key and value of the batch: one allocation (plus
	// growth), alive until the last message of the batch completes.
	arena := make([]byte, 0, 640*len(events))
	offs := make([]int, 0, 2*len(events)+1)
	for _, e := range events {
		offs = append(offs, len(arena))
		arena = e.AppendJSON(arena)
		offs = append(offs, len(arena))
		arena = append(arena, e.CommunityID...)
	}
	offs = append(offs, len(arena))
	b := &batch{msgs: make([]kafkago.Message, 0, len(events))}
	tooLarge := 0
	for i, e := range events {
		vs, ve, ke := offs[2*i], offs[2*i+1], offs[2*i+2]
		val := arena[vs:ve:ve]
		if len(val)+(ke-ve)+messageOverhead > int(s.cfg.BatchBytes) {
			tooLarge++
			continue
		}
		m := kafkago.Message{Topic: s.topic(e.Type), Value: val}
		if ke > ve {
			m.Key = arena[ve:ke:ke]
		}
		b.msgs = append(b.msgs, m)
	}
	b.slots = make([]slot, len(b.msgs))
	for i := range b.msgs {
		b.slots[i].b = b
		b.msgs[i].WriterData = &b.slots[i]
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.d.Enqueued += uint64(len(events))
	s.d.Dropped[DropTooLarge] += uint64(tooLarge)
	if len(b.msgs) == 0 {
		return nil
	}
	if !s.spooling && s.queued+s.inflightMem+len(b.msgs) <= s.cfg.MemoryEvents {
		s.queue = append(s.queue, b)
		s.queued += len(b.msgs)
		s.signal()
		return nil
	}
	s.spillLocked(b.msgs)
	return nil
}

// spillLocked hands messages to the spool (or drops them, counted). The
// caller holds s.mu, which orders spills with Write's choice of path.
func (s *Sink) spillLocked(msgs []kafkago.Message) {
	if s.spool == nil {
		s.d.Dropped[DropNoSpool] += uint64(len(msgs))
		return
	}
	recs := make([][]byte, len(msgs))
	for i := range msgs {
		recs[i] = msgs[i].Value
	}
	n, err := s.spool.Append(recs)
	s.d.Spooled += uint64(n)
	if n > 0 {
		s.spooling = true
		s.signal()
	}
	if err != nil {
		reason := DropSpoolError
		if errors.Is(err, spool.ErrFull) {
			reason = DropSpoolFull
		}
		s.d.Dropped[reason] += uint64(len(msgs) - n)
		s.logErrLocked("spool append", err)
	}
}

func (s *Sink) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// logErrLocked logs at most one error every 10 seconds; counters carry the rest.
func (s *Sink) logErrLocked(msg string, err error) {
	if now := time.Now(); now.Sub(s.lastErr) >= 10*time.Second {
		s.lastErr = now
		s.log.Error(msg, "err", err)
	}
}

// complete is the writer's completion callback, called once per partition
// batch with its messages.
func (s *Sink) complete(msgs []kafkago.Message, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var failed []kafkago.Message
	for i := range msgs {
		sl, ok := msgs[i].WriterData.(*slot)
		if !ok || sl.state != pending {
			continue
		}
		sl.state = finished
		b := sl.b
		s.inflight--
		if b.fromSpool {
			b.remaining--
			if err != nil {
				b.failed++
			}
			if b.remaining == 0 {
				delete(s.live, b)
				close(b.done)
			}
			continue
		}
		s.inflightMem--
		if b.remaining--; b.remaining == 0 {
			delete(s.live, b)
		}
		if err == nil {
			s.d.Sent++
		} else {
			failed = append(failed, msgs[i])
		}
	}
	if len(failed) > 0 {
		s.d.Retried += uint64(len(failed))
		s.logErrLocked("produce failed; events go to the spool", err)
		s.spillLocked(failed)
	}
	s.signal()
}

// DeliveryStats implements sinks.StatsReporter.
func (s *Sink) DeliveryStats() sinks.Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deliveryLocked()
}

func (s *Sink) deliveryLocked() sinks.Delivery {
	d := s.d
	d.Dropped = make(map[string]uint64, len(s.d.Dropped))
	for k, v := range s.d.Dropped {
		if v > 0 {
			d.Dropped[k] = v
		}
	}
	d.Pending = uint64(s.queued + s.inflightMem)
	if s.spool != nil {
		d.Pending += uint64(s.spool.Len())
	}
	return d
}

// SpoolStats returns the spool's counters (zero without a spool).
func (s *Sink) SpoolStats() spool.Stats {
	if s.spool == nil {
		return spool.Stats{}
	}
	return s.spool.Stats()
}

// Flush implements sinks.Sink. The writer sends batches by size and age on
// its own; there is nothing to push.
func (s *Sink) Flush() error { return nil }

// run is the sender: memory batches first (they are older than anything in
// the spool), then, with nothing in flight, the spool, in order.
func (s *Sink) run() {
	defer close(s.stopped)
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-s.hard:
			return
		default:
		}
		s.mu.Lock()
		if len(s.queue) > 0 {
			// Write bounds queued + in flight by memory_events, so this
			// never piles up in the writer.
			b := s.queue[0]
			s.queue[0] = nil
			s.queue = s.queue[1:]
			s.queued -= len(b.msgs)
			s.submitLocked(b)
			s.mu.Unlock()
			continue
		}
		spoolTurn := s.spooling && s.inflight == 0
		closingDone := !s.spooling && s.inflight == 0
		s.mu.Unlock()
		if spoolTurn {
			switch s.sendSpool() {
			case sentOK:
				backoff = 100 * time.Millisecond
			case sentFailed:
				if !s.sleep(backoff) {
					return
				}
				backoff = min(2*backoff, s.cfg.RetryBackoffMax)
			case stopNow:
				return
			}
			continue
		}
		if closingDone && s.isClosing() {
			return
		}
		if !s.waitWake() {
			return
		}
	}
}

func (s *Sink) isClosing() bool {
	select {
	case <-s.closing:
		return true
	default:
		return false
	}
}

// waitWake waits for a signal; false means stop now. While closing it also
// returns on the closing signal so the loop can notice it is done.
func (s *Sink) waitWake() bool {
	select {
	case <-s.wake:
		return true
	case <-s.hard:
		return false
	case <-s.closing:
		// closing stays closed: poll instead of spinning.
		select {
		case <-s.wake:
		case <-s.hard:
			return false
		case <-time.After(50 * time.Millisecond):
		}
		return true
	}
}

func (s *Sink) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.hard:
		return false
	}
}

// submitLocked hands a batch to the writer. The writer only blocks here to
// look up a topic's partitions it has not seen (bounded by write_timeout);
// Write never calls it.
func (s *Sink) submitLocked(b *batch) {
	n := len(b.msgs)
	b.remaining = n
	s.inflight += n
	if !b.fromSpool {
		s.inflightMem += n
	}
	s.live[b] = struct{}{}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.WriteTimeout)
	w := s.w
	if b.fromSpool {
		w = s.ws
	}
	err := w.WriteMessages(ctx, b.msgs...)
	cancel()
	if err != nil {
		// Nothing of the batch was queued (metadata lookup failed): it failed whole.
		s.complete(b.msgs, err)
	}
	s.mu.Lock()
}

type spoolResult int

const (
	sentOK spoolResult = iota
	sentFailed
	stopNow
)

// spoolRecord is what the sender needs from a spooled event line.
type spoolRecord struct {
	Type        string `json:"event_type"`
	CommunityID string `json:"community_id"`
}

// sendSpool sends the oldest spooled events and acknowledges them once the
// broker has every one; on any failure the whole batch is sent again later
// (duplicates carry the same event_id).
func (s *Sink) sendSpool() spoolResult {
	// Large reads: each round ends with partial batches that wait
	// batch_timeout, so fewer, larger rounds drain faster.
	rb, err := s.spool.Read(100_000, 16*int(s.cfg.BatchBytes))
	if err != nil {
		s.mu.Lock()
		s.logErrLocked("spool read", err)
		s.mu.Unlock()
		return sentFailed
	}
	if len(rb.Records) == 0 {
		s.mu.Lock()
		defer s.mu.Unlock()
		if n := s.spool.Len(); n > 0 {
			// Appended between the Read and now: read again. (Were the
			// count ever wrong, the backoff keeps this from spinning.)
			return sentFailed
		}
		if len(s.queue) == 0 {
			// Drained: new events take the memory path again. Write cannot
			// spill meanwhile, it needs s.mu.
			s.spooling = false
		}
		return sentOK
	}
	b := &batch{fromSpool: true, done: make(chan struct{}), msgs: make([]kafkago.Message, 0, len(rb.Records))}
	unreadable := 0
	for _, r := range rb.Records {
		var sr spoolRecord
		if err := json.Unmarshal(r, &sr); err != nil || sr.Type == "" {
			unreadable++
			continue
		}
		m := kafkago.Message{Topic: s.topic(sr.Type), Value: r}
		if sr.CommunityID != "" {
			m.Key = []byte(sr.CommunityID)
		}
		b.msgs = append(b.msgs, m)
	}
	b.slots = make([]slot, len(b.msgs))
	for i := range b.msgs {
		b.slots[i].b = b
		b.msgs[i].WriterData = &b.slots[i]
	}
	if len(b.msgs) > 0 {
		s.mu.Lock()
		s.submitLocked(b)
		s.mu.Unlock()
		select {
		case <-b.done:
		case <-s.hard:
			return stopNow
		}
		if b.failed > 0 { // read after done: no more completions for b
			s.mu.Lock()
			s.d.Retried += uint64(len(b.msgs))
			s.mu.Unlock()
			return sentFailed
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.spool.Ack(rb); err != nil {
		s.logErrLocked("spool ack", err)
	}
	s.d.Sent += uint64(len(b.msgs))
	s.d.Dropped[DropUnreadable] += uint64(unreadable)
	return sentOK
}

// Close delivers what the sink holds for up to close_timeout, then leaves
// the rest in the spool (memory batches and events still in flight are
// appended to it; some may then reach the broker twice) and closes.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() { err = s.close() })
	return err
}

func (s *Sink) close() error {
	close(s.closing)
	s.signal()
	if !s.started {
		close(s.stopped)
	}
	t := time.NewTimer(s.cfg.CloseTimeout)
	select {
	case <-s.stopped:
		t.Stop()
	case <-t.C:
		close(s.hard)
		<-s.stopped
	}
	s.mu.Lock()
	left := s.queued + s.inflightMem
	// Whatever is still in memory goes to the spool so the next run sends it.
	for _, b := range s.queue {
		s.spillLocked(b.msgs)
	}
	s.queue, s.queued = nil, 0
	for b := range s.live {
		if b.fromSpool {
			for i := range b.slots {
				b.slots[i].state = abandoned // still in the spool, unacknowledged
			}
			continue
		}
		var msgs []kafkago.Message
		for i := range b.slots {
			if b.slots[i].state == pending {
				b.slots[i].state = abandoned
				msgs = append(msgs, b.msgs[i])
			}
		}
		s.inflightMem -= len(msgs)
		s.spillLocked(msgs)
	}
	s.live = map[*batch]struct{}{}
	s.inflight = 0
	s.mu.Unlock()
	if left > 0 {
		s.log.Warn("shutdown with events in memory the broker did not confirm; spooled (dropped without a spool)", "events", left)
	}
	// The writer's Close waits for batches in flight; bound it, their events
	// are in the spool already.
	wdone := make(chan error, 1)
	go func() { wdone <- errors.Join(s.w.Close(), s.ws.Close()) }()
	var err error
	select {
	case err = <-wdone:
		if left > 0 {
			err = nil // the writer reports the batches that failed; they are in the spool
		}
	case <-time.After(5 * time.Second):
		// A silent broker holds the writer's requests until write_timeout;
		// their events are in the spool, so this is not a failure.
		s.log.Warn("kafka writer still waiting on the broker at shutdown; its events are in the spool")
	}
	if s.spool != nil {
		if n := s.spool.Len(); n > 0 {
			s.log.Warn("events left in the spool for the next start", "events", n, "dir", s.cfg.SpoolDir)
		}
		err = errors.Join(err, s.spool.Close())
	}
	s.mu.Lock()
	d := s.deliveryLocked()
	s.mu.Unlock()
	if !d.Balanced() {
		s.log.Error("delivery counters do not balance", "delivery", d)
	}
	return err
}
