package clickhouse

import (
	"errors"
	"fmt"
	"sync"

	"github.com/nunchi-sensor/nunchi/sinks/spool"
)

// DiskSpool adapts sinks/spool (bounded on-disk segments with checksums,
// kept across restarts) to the sink's Spool seam. One spool record is one
// batch of JSON lines.
type DiskSpool struct {
	sp   *spool.Spool
	mu   sync.Mutex
	last spool.Batch // the record Peek returned, for Pop
	has  bool
}

var _ Spool = (*DiskSpool)(nil)

// OpenDiskSpool opens (or creates) the spool directory; records a previous
// run left there are delivered first.
func OpenDiskSpool(dir string, maxBytes int64) (*DiskSpool, error) {
	sp, err := spool.Open(spool.Config{Dir: dir, MaxBytes: maxBytes, MaxRecordBytes: 256 << 20})
	if err != nil {
		return nil, fmt.Errorf("sinks/clickhouse: %w", err)
	}
	return &DiskSpool{sp: sp}, nil
}

// Append implements Spool.
func (d *DiskSpool) Append(rec []byte) error {
	n, err := d.sp.Append([][]byte{rec})
	if n == 1 {
		return nil
	}
	if errors.Is(err, spool.ErrFull) {
		return ErrSpoolFull
	}
	return err
}

// Peek implements Spool.
func (d *DiskSpool) Peek() ([]byte, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.has {
		return d.last.Records[0], true, nil
	}
	b, err := d.sp.Read(1, 1)
	if err != nil || len(b.Records) == 0 {
		return nil, false, err
	}
	d.last, d.has = b, true
	return b.Records[0], true, nil
}

// Pop implements Spool.
func (d *DiskSpool) Pop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.has {
		return nil
	}
	d.has = false
	return d.sp.Ack(d.last)
}

// Len implements Spool.
func (d *DiskSpool) Len() int { return d.sp.Len() }

// Close implements Spool: unsent records stay on disk for the next run.
func (d *DiskSpool) Close() error { return d.sp.Close() }

// Stats returns the underlying spool's counters.
func (d *DiskSpool) Stats() spool.Stats { return d.sp.Stats() }
