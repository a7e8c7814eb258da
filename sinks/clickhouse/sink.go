package clickhouse

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// Drop reasons (the dropped counter's label).
const (
	DropSpoolFull  = "spool_full" // the spool refused a batch (bound reached or write error)
	DropRejected   = "rejected"   // the server refused the rows MaxAttempts times with a non-transient error
	DropMalformed  = "malformed"  // a spooled line that is not an event (a damaged record)
	DropNoTable    = "no_table"   // an event_type without a table (a type newer than the schema)
	DropShutdown   = "shutdown"   // left in a memory spool at exit with the server unreachable
	dropReasonsLen = 5
)

var dropReasons = [dropReasonsLen]string{DropSpoolFull, DropRejected, DropMalformed, DropNoTable, DropShutdown}

// Deps are the sink's collaborators.
type Deps struct {
	Log *slog.Logger
	// Spool holds batches the server cannot take now; nil = a MemSpool of
	// 256 MiB.
	Spool Spool
	// TLS is used when Config.Secure is set (nil = system roots).
	TLS *tls.Config
}

// Stats are the sink's counters, in events. After Close with the server
// reachable: Enqueued + Recovered = Sent + ΣDropped + Pending, and Pending is what a
// disk spool keeps for the next run (0 otherwise).
type Stats struct {
	Enqueued  uint64            `json:"enqueued"`  // accepted by Write
	Recovered uint64            `json:"recovered"` // found in the spool from an earlier run and delivered or dropped
	Sent      uint64            `json:"sent"`      // inserted (acknowledged by the server)
	Retried   uint64            `json:"retried"`   // events in re-attempted inserts (one event may count several times)
	Spooled   uint64            `json:"spooled"`   // events that went through the spool
	Dropped   map[string]uint64 `json:"dropped"`
	Pending   uint64            `json:"pending"` // in memory or in the spool, not yet sent
	Inserts   uint64            `json:"inserts"` // INSERT statements acknowledged
	Failures  uint64            `json:"failures"`
	Dialect   string            `json:"dialect"`
}

// DroppedTotal sums Dropped.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, v := range s.Dropped {
		n += v
	}
	return n
}

type batch struct {
	data      []byte // JSON lines
	n         int    // events
	fromSpool bool
	recovered bool // from an earlier run's spool
}

// Sink inserts events into ClickHouse. Write, Flush and Close come from
// the fan-out worker (one goroutine); one sender goroutine talks to the
// server. See doc.go.
type Sink struct {
	cfg   Config
	log   *slog.Logger
	spool Spool
	tls   *tls.Config

	// writer side
	cur      []byte
	curN     int
	curFirst time.Time
	ch       chan batch
	signal   chan struct{} // spool has data
	closing  chan struct{}
	done     chan struct{}
	started  bool
	closed   bool
	// backpressure: see SetBackpressure
	backpressure bool
	// lastBytes is the size of the last full batch (capacity hint)
	lastBytes int

	// sender side
	conn         driver.Conn
	dialect      Dialect
	tables       map[string]*table
	retentionSet bool
	preexisting  int // records in the spool at Start from an earlier run, not yet popped

	enqueued, recovered, sent, retried, spooled, inserts, failures atomic.Uint64
	memPending, spoolPending                                       atomic.Int64
	dropped                                                        [dropReasonsLen]atomic.Uint64
	dialectName                                                    atomic.Value
	errLogged                                                      atomic.Int64
	closeOnce                                                      sync.Once
	healthy                                                        atomic.Bool // the last insert attempt succeeded (or none yet)
	mu                                                             sync.Mutex  // dispatch vs spill
}

var _ sinks.Sink = (*Sink)(nil)

// New validates cfg and allocates the sink; it opens nothing (Start does).
func New(cfg Config, deps Deps) (*Sink, error) {
	if cfg.Addr == "" {
		return nil, errors.New("sinks/clickhouse: no address")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sinks/clickhouse: %w", err)
	}
	s := &Sink{cfg: cfg, log: deps.Log, spool: deps.Spool, tls: deps.TLS,
		ch: make(chan batch, cfg.QueueBatches), signal: make(chan struct{}, 1),
		closing: make(chan struct{}), done: make(chan struct{}), tables: map[string]*table{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.spool == nil {
		s.spool = NewMemSpool(256 << 20)
	}
	s.dialectName.Store("")
	s.healthy.Store(true)
	return s, nil
}

// SetBackpressure makes Write wait for room in the queue while the server
// answers (it is only slower than the sensor) instead of spooling: for a
// replay, whose fan-out blocks and can wait, so that a replay larger than
// the spool loses nothing. A server that fails still never holds Write up:
// its batches go to the spool. Call before Start.
func (s *Sink) SetBackpressure(on bool) { s.backpressure = on }

// Start starts the sender. It does not wait for the server: until it
// answers, batches go to the spool.
func (s *Sink) Start() {
	if s.started {
		return
	}
	s.started = true
	s.preexisting = s.spool.Len()
	go s.run()
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return "clickhouse" }

// Write implements sinks.Sink: it encodes the events (the JSON carries
// event_id) and hands full batches on. It never waits for the server.
func (s *Sink) Write(events []*detect.Event) error {
	if s.closed {
		return errors.New("sinks/clickhouse: write after close")
	}
	for _, e := range events {
		if s.curN == 0 {
			s.curFirst = time.Now()
			if s.cur == nil {
				// The last batch's size: a full batch grows without copying.
				s.cur = make([]byte, 0, max(s.lastBytes+s.lastBytes/8, 64<<10))
			}
		}
		s.cur = e.AppendJSON(s.cur)
		s.cur = append(s.cur, '\n')
		s.curN++
		if s.curN >= s.cfg.BatchSize {
			s.dispatch()
		}
	}
	s.enqueued.Add(uint64(len(events)))
	return nil
}

// Flush implements sinks.Sink: a batch older than BatchAge goes out.
func (s *Sink) Flush() error {
	if s.curN > 0 && time.Since(s.curFirst) >= s.cfg.BatchAge {
		s.dispatch()
	}
	return nil
}

// dispatch hands the current batch to the sender, or to the spool when the
// spool already holds batches (order) or the sender's queue is full.
func (s *Sink) dispatch() {
	if s.curN == 0 {
		return
	}
	b := batch{data: s.cur, n: s.curN}
	if b.n >= s.cfg.BatchSize {
		s.lastBytes = len(b.data)
	}
	s.cur, s.curN = nil, 0
	// Under mu: the sender's spill moves the queue into the spool under it
	// too, so no batch can overtake another on the way.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memPending.Add(int64(b.n))
	if s.spool.Len() == 0 {
		select {
		case s.ch <- b:
			return
		default:
		}
		if s.backpressure {
			// A replay waits for a server that answers but is slower than the
			// sensor, rather than filling the spool; never for one that fails.
			tick := time.NewTicker(50 * time.Millisecond)
			for s.healthy.Load() {
				select {
				case s.ch <- b:
					tick.Stop()
					return
				case <-tick.C:
				}
			}
			tick.Stop()
		}
		// The queue is full: it goes to the spool first, so the batches
		// keep their order there.
		s.drainQueue()
	}
	s.memPending.Add(-int64(b.n))
	s.toSpool(b)
}

// drainQueue moves the batches waiting in the queue to the spool and
// reports whether the queue is still open. Called with mu held.
func (s *Sink) drainQueue() (open bool) {
	for {
		select {
		case next, ok := <-s.ch:
			if !ok {
				return false
			}
			s.memPending.Add(-int64(next.n))
			s.toSpool(next)
			continue
		default:
		}
		return true
	}
}

// spill moves a batch that failed its first attempt, and the batches queued
// behind it, into the spool, so that a sensor killed while the server is
// away loses only the batch still being filled. The order holds unless the
// spool already had batches (a burst overflowed the queue just before the
// failure): then this one batch lands behind them.
func (s *Sink) spill(b batch, chOpen *bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.memPending.Add(-int64(b.n))
	s.toSpool(b)
	if *chOpen {
		*chOpen = s.drainQueue()
	}
}

func (s *Sink) toSpool(b batch) {
	if err := s.spool.Append(b.data); err != nil {
		s.drop(DropSpoolFull, b.n)
		if !errors.Is(err, ErrSpoolFull) {
			s.logErr("spool append failed", err)
		}
		return
	}
	s.spooled.Add(uint64(b.n))
	s.spoolPending.Add(int64(b.n))
	select {
	case s.signal <- struct{}{}:
	default:
	}
}

func (s *Sink) drop(reason string, n int) {
	for i, r := range dropReasons {
		if r == reason {
			s.dropped[i].Add(uint64(n))
			return
		}
	}
}

// Close implements sinks.Sink: the last batch goes out, the sender drains
// its queue and the spool (trying an unreachable server for CloseTimeout),
// and what is left stays in the spool.
func (s *Sink) Close() error {
	var err error
	s.closeOnce.Do(func() {
		s.dispatch()
		s.closed = true
		close(s.ch)
		close(s.closing)
		if s.started {
			<-s.done
		} else {
			for b := range s.ch {
				s.memPending.Add(-int64(b.n))
				s.toSpool(b)
			}
		}
		if _, isMem := s.spool.(*MemSpool); isMem {
			if left := s.spoolPending.Load(); left > 0 {
				s.drop(DropShutdown, int(left))
				s.spoolPending.Store(0)
			}
		}
		err = s.spool.Close()
		if s.conn != nil {
			err = errors.Join(err, s.conn.Close())
		}
	})
	return err
}

// Stats returns the counters.
func (s *Sink) Stats() Stats {
	st := Stats{Enqueued: s.enqueued.Load(), Recovered: s.recovered.Load(), Sent: s.sent.Load(),
		Retried: s.retried.Load(), Spooled: s.spooled.Load(), Inserts: s.inserts.Load(),
		Failures: s.failures.Load(), Dropped: map[string]uint64{}, Dialect: s.dialectName.Load().(string)}
	for i, r := range dropReasons {
		if v := s.dropped[i].Load(); v > 0 {
			st.Dropped[r] = v
		}
	}
	if p := s.memPending.Load() + s.spoolPending.Load(); p > 0 {
		st.Pending = uint64(p)
	}
	return st
}

// run is the sender: the in-memory queue first (its batches are older than
// anything in the spool), then the spool, one batch at a time.
func (s *Sink) run() {
	defer close(s.done)
	retention := time.NewTicker(s.cfg.RetentionCheck)
	defer retention.Stop()
	chOpen := true
	for {
		var b batch
		got := false
		if chOpen {
			select {
			case b, chOpen = <-s.ch:
				got = chOpen
			default:
			}
		}
		if !got {
			rec, ok, err := s.spool.Peek()
			if err != nil {
				s.logErr("spool read failed", err)
			}
			if ok {
				b = batch{data: rec, n: bytes.Count(rec, []byte{'\n'}), fromSpool: true, recovered: s.preexisting > 0}
				got = true
			}
		}
		if !got {
			if !chOpen {
				return
			}
			select {
			case b, chOpen = <-s.ch:
				got = chOpen
			case <-s.signal:
			case <-retention.C:
				s.applyRetention()
			}
			if !got {
				continue
			}
		}
		st := s.deliver(b, &chOpen)
		if st == spilled {
			continue // b and the queue are in the spool now: go on from there
		}
		if st == gaveUp {
			// Shutting down with the server unreachable: keep the rest in the spool.
			if !b.fromSpool {
				s.memPending.Add(-int64(b.n))
				s.toSpool(b)
			}
			if chOpen {
				for rest := range s.ch {
					s.memPending.Add(-int64(rest.n))
					s.toSpool(rest)
				}
			}
			return
		}
		if b.fromSpool {
			if err := s.spool.Pop(); err != nil {
				s.logErr("spool pop failed", err)
			}
			if b.recovered {
				s.preexisting--
				s.recovered.Add(uint64(b.n))
			} else {
				s.spoolPending.Add(-int64(b.n))
			}
		} else {
			s.memPending.Add(-int64(b.n))
		}
	}
}

type outcome int

const (
	delivered outcome = iota
	spilled           // moved to the spool with the queue behind it (see spill)
	gaveUp            // closing, and the server stayed unreachable past CloseTimeout
)

// deliver inserts one batch, retrying with exponential backoff. A batch
// from memory that fails its first attempt before any of its tables was
// acknowledged is spilled to the spool (when the spool is empty).
func (s *Sink) deliver(b batch, chOpen *bool) outcome {
	backoff := s.cfg.RetryMin
	var deadline time.Time
	attempts := map[string]int{}
	var built map[string]*table
	var drops map[string]int // counted once the batch is delivered (a spilled batch is built again)
	tables := 0
	first := true
	for {
		if deadline.IsZero() {
			select {
			case <-s.closing:
				deadline = time.Now().Add(s.cfg.CloseTimeout)
			default:
			}
		}
		err := s.ready()
		if err == nil {
			if built == nil {
				built, drops = s.build(b)
				tables = len(built)
			}
			if !first {
				n := 0
				for _, t := range built {
					n += t.rows
				}
				s.retried.Add(uint64(n))
			}
			err = s.insertAll(built, attempts)
			s.healthy.Store(err == nil)
			if err == nil {
				for reason, n := range drops {
					s.drop(reason, n)
				}
				return delivered
			}
		}
		s.failures.Add(1)
		s.healthy.Store(false)
		s.logErr("insert failed; retrying", err)
		progress := built != nil && len(built) < tables
		if first && !b.fromSpool && !progress {
			s.spill(b, chOpen)
			return spilled
		}
		first = false
		if !deadline.IsZero() && time.Now().After(deadline) {
			return gaveUp
		}
		wait := time.NewTimer(backoff)
		select {
		case <-wait.C:
		case <-s.closing:
			wait.Stop()
			if deadline.IsZero() {
				deadline = time.Now().Add(s.cfg.CloseTimeout)
			}
			// Closing: keep the backoff short so the grace period is used.
			time.Sleep(min(backoff, 200*time.Millisecond))
		}
		backoff = min(backoff*2, s.cfg.RetryMax)
	}
}

// build flattens a batch into its tables and counts the lines it cannot
// place, by drop reason.
func (s *Sink) build(b batch) (map[string]*table, map[string]int) {
	out := map[string]*table{}
	drops := map[string]int{}
	for _, t := range s.tables {
		t.reset()
	}
	data := b.data
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		typ := eventType(line)
		t := s.tables[typ]
		if t == nil {
			if typ == "" {
				drops[DropMalformed]++
			} else {
				drops[DropNoTable]++
			}
			continue
		}
		if err := t.addRow(line); err != nil {
			drops[DropMalformed]++
			continue
		}
		out[typ] = t
	}
	return out, drops
}

// insertAll inserts every table of a built batch that is not done yet;
// a table the server keeps refusing is dropped after MaxAttempts.
func (s *Sink) insertAll(built map[string]*table, attempts map[string]int) error {
	var errs []error
	for name, t := range built {
		if s.conn == nil { // dropped after an error on an earlier table: reconnect first
			errs = append(errs, fmt.Errorf("%s: not sent (reconnecting)", name))
			break
		}
		err := s.insert(t)
		if err == nil {
			s.sent.Add(uint64(t.rows))
			s.inserts.Add(1)
			delete(built, name)
			continue
		}
		var ex *clickhouse.Exception
		if errors.As(err, &ex) && !transientCode(ex.Code) {
			attempts[name]++
			if ex.Code == 60 || ex.Code == 16 { // UNKNOWN_TABLE, NO_SUCH_COLUMN_IN_TABLE: schema changed; look again
				s.resetConn()
			}
			if attempts[name] >= s.cfg.MaxAttempts {
				s.drop(DropRejected, t.rows)
				s.logErr("rows rejected by the server; dropped", fmt.Errorf("table %s: %w", name, err))
				delete(built, name)
				continue
			}
		} else {
			s.resetConn()
		}
		errs = append(errs, fmt.Errorf("%s: %w", name, err))
	}
	return errors.Join(errs...)
}

// transientCode reports server error codes worth retrying without limit
// on the same batch: overload and timeouts, not bad data.
func transientCode(code int32) bool {
	switch code {
	case 159, 160, 164, 202, 203, 209, 210, 241, 242, 252, 319, 425:
		// TIMEOUT_EXCEEDED, TOO_SLOW, READONLY, TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION,
		// SOCKET_TIMEOUT, NETWORK_ERROR, MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY, TOO_MANY_PARTS,
		// UNKNOWN_STATUS_OF_INSERT, SYSTEM_ERROR
		return true
	}
	return false
}

func (s *Sink) insert(t *table) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.InsertTimeout)
	defer cancel()
	cols := t.columnNames()
	q := "INSERT INTO " + quoteIdent(s.cfg.Database) + "." + quoteIdent(t.name) + " (" + strings.Join(cols, ", ") + ")"
	bt, err := s.conn.PrepareBatch(ctx, q)
	if err != nil {
		return err
	}
	for i, c := range t.cols {
		if err := bt.Column(i).Append(c.values()); err != nil {
			bt.Abort()
			return fmt.Errorf("column %s: %w", c.name, err)
		}
	}
	return bt.Send()
}

func (s *Sink) resetConn() {
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// ready connects, picks the dialect, migrates and reads the tables' columns.
func (s *Sink) ready() error {
	if s.conn != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.InsertTimeout)
	defer cancel()
	conn, d, err := Open(ctx, s.cfg, s.tls)
	if err != nil {
		return err
	}
	n, err := migrate(ctx, conn, s.cfg.Database, d)
	if err != nil {
		conn.Close()
		return err
	}
	if n > 0 {
		s.log.Info("clickhouse schema migrated", "migrations", n, "dialect", d.Name)
	}
	cols, err := Columns(ctx, conn, s.cfg.Database)
	if err != nil {
		conn.Close()
		return err
	}
	tables := map[string]*table{}
	for _, name := range EventTables {
		tables[name] = newTable(name, cols[name])
	}
	s.conn, s.dialect, s.tables = conn, d, tables
	s.dialectName.Store(d.Name)
	if !s.retentionSet {
		s.retentionSet = true
		s.applyRetention()
	}
	return nil
}

// Open connects to the server of cfg (database "default", so it works
// before the sink's database exists) and returns the connection with the
// server's dialect; on 18.x the session enables LowCardinality.
func Open(ctx context.Context, cfg Config, tc *tls.Config) (driver.Conn, Dialect, error) {
	opts := &clickhouse.Options{
		Addr:         []string{cfg.Addr},
		Auth:         clickhouse.Auth{Database: "default", Username: cfg.Username, Password: cfg.Password},
		DialTimeout:  cfg.DialTimeout,
		ReadTimeout:  cfg.InsertTimeout,
		Compression:  &clickhouse.Compression{Method: clickhouse.CompressionLZ4},
		MaxOpenConns: 2, MaxIdleConns: 1,
	}
	if cfg.Secure {
		opts.TLS = tc
		if opts.TLS == nil {
			opts.TLS = &tls.Config{}
		}
	}
	conn, err := Connect(ctx, opts)
	if err != nil {
		return nil, Dialect{}, err
	}
	v, err := conn.ServerVersion()
	if err != nil {
		conn.Close()
		return nil, Dialect{}, err
	}
	d := DialectFor(int(v.Version.Major), int(v.Version.Minor))
	if d.ExperimentalLC {
		conn.Close()
		opts.Settings = clickhouse.Settings{"allow_experimental_low_cardinality_type": 1}
		if conn, err = Connect(ctx, opts); err != nil {
			return nil, Dialect{}, err
		}
	}
	return conn, d, nil
}

// Migrate brings the schema of db up to date on conn (from Open).
func Migrate(ctx context.Context, conn driver.Conn, db string, d Dialect) error {
	_, err := migrate(ctx, conn, db, d)
	return err
}

// Connect opens a connection pool and checks that the server answers.
func Connect(ctx context.Context, opts *clickhouse.Options) (driver.Conn, error) {
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, err
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// Columns returns the columns of every table of db, by table.
func Columns(ctx context.Context, conn driver.Conn, db string) (map[string][]Column, error) {
	rows, err := conn.Query(ctx, "SELECT table, name, type, default_kind FROM system.columns WHERE database = ?", db)
	if err != nil {
		return nil, fmt.Errorf("read columns: %w", err)
	}
	defer rows.Close()
	out := map[string][]Column{}
	for rows.Next() {
		var table, name, typ, dk string
		if err := rows.Scan(&table, &name, &typ, &dk); err != nil {
			return nil, err
		}
		if dk == "MATERIALIZED" || dk == "ALIAS" {
			continue
		}
		out[table] = append(out[table], Column{Name: name, Type: typ})
	}
	return out, rows.Err()
}

// logErr logs at most one error per second; the counters carry the rest.
func (s *Sink) logErr(msg string, err error) {
	now := time.Now().Unix()
	if last := s.errLogged.Load(); now > last && s.errLogged.CompareAndSwap(last, now) {
		s.log.Error(msg, "err", err)
	}
}

var _ sinks.StatsReporter = (*Sink)(nil)

// DeliveryStats implements sinks.StatsReporter: the counters of Stats in
// the fan-out's stats (stats events, metrics). Spooled counts the memory
// spool too when no spool_dir is set.
func (s *Sink) DeliveryStats() sinks.Delivery {
	st := s.Stats()
	return sinks.Delivery{Enqueued: st.Enqueued, Sent: st.Sent, Retried: st.Retried, Spooled: st.Spooled,
		Recovered: st.Recovered, Pending: st.Pending, Dropped: st.Dropped}
}
