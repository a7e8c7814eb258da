package clickhouse

import (
	"errors"
	"sync"
)

// ErrSpoolFull is returned by a Spool that has reached its bound; the sink
// counts the record's events as dropped(spool_full).
var ErrSpoolFull = errors.New("spool full")

// Spool is the seam to the queue the sink falls back to while the server is
// down or slower than the sensor: records are opaque (here: a batch of JSON
// lines), kept in append order, bounded. Append is called by the fan-out
// worker's goroutine, Peek and Pop by the sender; implementations must be
// safe for that concurrent use. A disk spool (sinks/spool) survives a
// restart of the sensor; MemSpool does not.
type Spool interface {
	// Append adds a record at the tail; ErrSpoolFull when it does not fit.
	Append(rec []byte) error
	// Peek returns the oldest record without removing it; ok is false when
	// the spool is empty. The slice is valid until the next Pop.
	Peek() (rec []byte, ok bool, err error)
	// Pop removes the oldest record (after it was delivered).
	Pop() error
	// Len is the number of records held.
	Len() int
	// Close releases the spool; records a disk spool holds stay for the next run.
	Close() error
}

// MemSpool is a Spool in memory, bounded by the bytes it holds. It is the
// fallback when no spool directory is configured: it rides out a short
// outage or a slow server, but what it holds at exit is lost (counted).
type MemSpool struct {
	mu       sync.Mutex
	recs     [][]byte
	head     int
	bytes    int64
	maxBytes int64
}

// NewMemSpool returns a spool holding at most maxBytes of records.
func NewMemSpool(maxBytes int64) *MemSpool { return &MemSpool{maxBytes: maxBytes} }

var _ Spool = (*MemSpool)(nil)

// Append implements Spool.
func (m *MemSpool) Append(rec []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.bytes+int64(len(rec)) > m.maxBytes {
		return ErrSpoolFull
	}
	m.recs = append(m.recs, rec)
	m.bytes += int64(len(rec))
	return nil
}

// Peek implements Spool.
func (m *MemSpool) Peek() ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.head == len(m.recs) {
		return nil, false, nil
	}
	return m.recs[m.head], true, nil
}

// Pop implements Spool.
func (m *MemSpool) Pop() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.head == len(m.recs) {
		return nil
	}
	m.bytes -= int64(len(m.recs[m.head]))
	m.recs[m.head] = nil
	m.head++
	if m.head == len(m.recs) {
		m.recs, m.head = m.recs[:0], 0
	} else if m.head > 1024 && m.head*2 > len(m.recs) {
		m.recs = append(m.recs[:0:0], m.recs[m.head:]...)
		m.head = 0
	}
	return nil
}

// Len implements Spool.
func (m *MemSpool) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.recs) - m.head
}

// Close implements Spool.
func (m *MemSpool) Close() error { return nil }
