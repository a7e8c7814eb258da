package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Sentinel errors; Append's errors wrap them.
var (
	ErrFull     = errors.New("spool: full")
	ErrWrite    = errors.New("spool: write failed")
	ErrTooLarge = errors.New("spool: record too large")
	ErrClosed   = errors.New("spool: closed")
)

const (
	magic      = "NSPOOL1\n"
	headerLen  = int64(len(magic))
	recHdrLen  = 8
	posFile    = "read.pos"
	lockFile   = "lock"
	segSuffix  = ".seg"
	readChunk  = 1 << 20
	defaultMax = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Config sizes a spool.
type Config struct {
	// Dir holds the segment files; created if missing.
	Dir string
	// MaxBytes bounds the segment files on disk (default 1 GiB).
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started
	// (default MaxBytes/16, between 1 MiB and 64 MiB).
	SegmentBytes int64
	// MaxRecordBytes refuses larger records (default 16 MiB).
	MaxRecordBytes int
}

// Stats are a spool's counters (records and bytes) and its current size.
type Stats struct {
	Appended    uint64 `json:"appended"`
	Acked       uint64 `json:"acked"`
	RefusedFull uint64 `json:"refused_full"`
	WriteErrors uint64 `json:"write_errors"` // records not appended because a write failed
	TornRecords uint64 `json:"torn_records"` // damaged records cut off at Open
	TornBytes   uint64 `json:"torn_bytes"`
	// PosWriteErrors counts read positions that could not be saved (disk
	// full); the position in memory stays right.
	PosWriteErrors uint64 `json:"pos_write_errors"`
	Recovered      uint64 `json:"recovered"` // unacknowledged records found at Open
	Records        uint64 `json:"records"`   // waiting now
	Bytes          int64  `json:"bytes"`     // on disk now
	Segments       int    `json:"segments"`
	DeletedFiles   uint64 `json:"deleted_segments"`
}

type segment struct {
	seq  uint64
	size int64 // valid bytes (the file is cut to this)
}

// Spool is an on-disk FIFO of records. See the package documentation.
type Spool struct {
	mu      sync.Mutex
	cfg     Config
	lock    *os.File
	segs    []segment // oldest first; the last one is written to
	w       *os.File  // the last segment
	r       *os.File  // cached read handle
	rSeq    uint64    // segment r belongs to
	readSeq uint64    // persisted read position
	readOff int64
	size    int64
	st      Stats
	closed  bool
	// writeAt is the file write; tests replace it to simulate a full disk.
	writeAt func(f *os.File, b []byte, off int64) (int, error)
	buf     []byte
}

// Batch is what Read returned; pass it to Ack once its records are delivered.
type Batch struct {
	Records [][]byte
	Bytes   int
	endSeq  uint64
	endOff  int64
}

func segName(seq uint64) string { return fmt.Sprintf("%020d%s", seq, segSuffix) }

func (s *Spool) path(name string) string { return filepath.Join(s.cfg.Dir, name) }

// Open opens or creates the spool in cfg.Dir, recovering what a previous
// process left there.
func Open(cfg Config) (*Spool, error) {
	if cfg.Dir == "" {
		return nil, errors.New("spool: no directory")
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = defaultMax
	}
	if cfg.SegmentBytes <= 0 {
		cfg.SegmentBytes = min(max(cfg.MaxBytes/16, 1<<20), 64<<20)
	}
	if cfg.MaxRecordBytes <= 0 {
		cfg.MaxRecordBytes = 16 << 20
	}
	if err := os.MkdirAll(cfg.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	s := &Spool{cfg: cfg, writeAt: (*os.File).WriteAt}
	lf, err := os.OpenFile(s.path(lockFile), os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, fmt.Errorf("spool: %s is in use by another process: %w", cfg.Dir, err)
	}
	s.lock = lf
	if err := s.recover(); err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// recover lists the segments, loads the read position, deletes acknowledged
// segments, scans the rest (cutting a damaged tail) and opens the last
// segment for appending.
func (s *Spool) recover() error {
	ents, err := os.ReadDir(s.cfg.Dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var seqs []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, segSuffix) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segSuffix), 10, 64)
		if err != nil {
			continue // not ours
		}
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	rs, ro, ok := s.loadPos()
	// A position inside (or before) a segment's header was never written by
	// a spool: read.pos was damaged in a way its checksum cannot tell.
	ro = max(ro, headerLen)
	if !ok || len(seqs) == 0 || rs < seqs[0] {
		// No usable position: start at the oldest segment (re-sends, never loses).
		rs, ro = 0, headerLen
		if len(seqs) > 0 {
			rs = seqs[0]
		}
	}
	for _, seq := range seqs {
		if seq < rs {
			os.Remove(s.path(segName(seq))) // acknowledged before the crash
			continue
		}
		from := headerLen
		if seq == rs {
			from = max(ro, headerLen)
		}
		size, n, err := s.scan(seq, from)
		if err != nil {
			return err
		}
		if size < 0 {
			// Not a segment (bad magic, or cut inside the header): drop it.
			os.Remove(s.path(segName(seq)))
			if seq == rs {
				rs, ro = seq+1, headerLen
			}
			continue
		}
		if seq == rs && ro > size {
			ro = size
		}
		s.segs = append(s.segs, segment{seq: seq, size: size})
		s.size += size
		s.st.Records += n
	}
	s.st.Recovered = s.st.Records
	if len(s.segs) == 0 {
		next := uint64(1)
		if len(seqs) > 0 {
			next = seqs[len(seqs)-1] + 1
		}
		if err := s.newSegment(next); err != nil {
			return err
		}
		rs, ro = next, headerLen
	} else {
		last := s.segs[len(s.segs)-1]
		f, err := os.OpenFile(s.path(segName(last.seq)), os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.w = f
		if rs < s.segs[0].seq {
			rs, ro = s.segs[0].seq, headerLen
		}
	}
	s.readSeq, s.readOff = rs, ro
	// A full disk must not keep the spool from opening (the sink could not
	// start, and reading is what frees space): the position in memory is
	// right, the one on disk is older or missing (duplicates, never loss),
	// and the next Ack or Close writes it again.
	_ = s.savePos() // counted in PosWriteErrors
	return nil
}

// scan validates a segment from offset from to its end, cuts it at the first
// damaged record and returns its valid size and the records after from.
// size -1: the file is not a segment.
func (s *Spool) scan(seq uint64, from int64) (int64, uint64, error) {
	f, err := os.OpenFile(s.path(segName(seq)), os.O_RDWR, 0)
	if err != nil {
		return 0, 0, fmt.Errorf("spool: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, 0, fmt.Errorf("spool: %w", err)
	}
	var m [headerLen]byte
	if _, err := f.ReadAt(m[:], 0); err != nil || string(m[:]) != magic {
		s.st.TornBytes += uint64(fi.Size())
		return -1, 0, nil
	}
	if from > fi.Size() {
		from = fi.Size()
	}
	br := bufio.NewReaderSize(io.NewSectionReader(f, from, fi.Size()-from), readChunk)
	off, n := from, uint64(0)
	var hdr [recHdrLen]byte
	var payload []byte
	for off < fi.Size() {
		ok := false
		if _, err := io.ReadFull(br, hdr[:]); err == nil {
			l := binary.LittleEndian.Uint32(hdr[0:4])
			if int64(l) <= fi.Size()-off-recHdrLen && int(l) <= s.cfg.MaxRecordBytes {
				if cap(payload) < int(l) {
					payload = make([]byte, l)
				}
				payload = payload[:l]
				if _, err := io.ReadFull(br, payload); err == nil && checksum(hdr[0:4], payload) == binary.LittleEndian.Uint32(hdr[4:8]) {
					ok = true
					off += recHdrLen + int64(l)
					n++
				}
			}
		}
		if !ok {
			// A torn or damaged record: everything from here is unusable.
			s.st.TornRecords++
			s.st.TornBytes += uint64(fi.Size() - off)
			if err := f.Truncate(off); err != nil {
				return 0, 0, fmt.Errorf("spool: cutting a damaged tail: %w", err)
			}
			break
		}
	}
	return off, n, nil
}

func checksum(lenBytes, payload []byte) uint32 {
	c := crc32.Update(0, castagnoli, lenBytes)
	return crc32.Update(c, castagnoli, payload)
}

// loadPos reads read.pos: seq(8) off(8) crc(4).
func (s *Spool) loadPos() (uint64, int64, bool) {
	b, err := os.ReadFile(s.path(posFile))
	if err != nil || len(b) != 20 || crc32.Checksum(b[:16], castagnoli) != binary.LittleEndian.Uint32(b[16:]) {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint64(b[0:8]), int64(binary.LittleEndian.Uint64(b[8:16])), true
}

// savePos replaces read.pos atomically (write, rename).
func (s *Spool) savePos() error {
	var b [20]byte
	binary.LittleEndian.PutUint64(b[0:8], s.readSeq)
	binary.LittleEndian.PutUint64(b[8:16], uint64(s.readOff))
	binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	tmp := s.path(posFile + ".tmp")
	err := os.WriteFile(tmp, b[:], 0o640)
	if err == nil {
		err = os.Rename(tmp, s.path(posFile))
	}
	if err != nil {
		os.Remove(tmp)
		// A full disk has no block for a new file: overwrite the old one in
		// place. Not atomic, but a torn position fails its checksum and
		// reading restarts at the oldest segment (duplicates, never loss).
		if f, ferr := os.OpenFile(s.path(posFile), os.O_WRONLY, 0); ferr == nil {
			_, werr := f.WriteAt(b[:], 0)
			if cerr := f.Close(); werr == nil && cerr == nil {
				return nil
			}
		}
		s.st.PosWriteErrors++
		return fmt.Errorf("spool: saving the read position: %w", err)
	}
	return nil
}

// newSegment creates segment seq and makes it the one appended to.
func (s *Spool) newSegment(seq uint64) error {
	f, err := os.OpenFile(s.path(segName(seq)), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o640)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	if _, err := s.writeAt(f, []byte(magic), 0); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("%w: %w", ErrWrite, err)
	}
	if s.w != nil {
		s.w.Close()
	}
	s.w = f
	s.segs = append(s.segs, segment{seq: seq, size: headerLen})
	s.size += headerLen
	return nil
}

// Append adds records at the end, in order. It returns how many were
// appended; when not all, the error wraps ErrFull, ErrWrite, ErrTooLarge or
// ErrClosed.
func (s *Spool) Append(records [][]byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0, ErrClosed
	}
	done := 0
	for done < len(records) {
		last := &s.segs[len(s.segs)-1]
		if last.size >= s.cfg.SegmentBytes {
			if err := s.newSegment(last.seq + 1); err != nil {
				s.st.WriteErrors += uint64(len(records) - done)
				return done, err
			}
			continue
		}
		// Encode as many records as fit in this segment and under MaxBytes.
		buf := s.buf[:0]
		n := 0
		var err error
		for _, r := range records[done:] {
			if len(r) > s.cfg.MaxRecordBytes {
				err = fmt.Errorf("%w: %d bytes", ErrTooLarge, len(r))
				break
			}
			add := int64(recHdrLen + len(r))
			if s.size+int64(len(buf))+add > s.cfg.MaxBytes {
				err = ErrFull
				break
			}
			if n > 0 && last.size+int64(len(buf))+add > s.cfg.SegmentBytes {
				break // the rest goes to the next segment
			}
			var h [recHdrLen]byte
			binary.LittleEndian.PutUint32(h[0:4], uint32(len(r)))
			binary.LittleEndian.PutUint32(h[4:8], checksum(h[0:4], r))
			buf = append(buf, h[:]...)
			buf = append(buf, r...)
			n++
		}
		if n > 0 {
			if _, werr := s.writeAt(s.w, buf, last.size); werr != nil {
				// Cut back to the last whole record so the file stays readable.
				s.w.Truncate(last.size)
				s.st.WriteErrors += uint64(len(records) - done)
				s.keepBuf(buf)
				return done, fmt.Errorf("%w: %w", ErrWrite, werr)
			}
			last.size += int64(len(buf))
			s.size += int64(len(buf))
			s.st.Appended += uint64(n)
			s.st.Records += uint64(n)
			done += n
		}
		s.keepBuf(buf)
		if err != nil {
			if errors.Is(err, ErrFull) {
				s.st.RefusedFull += uint64(len(records) - done)
			}
			return done, err
		}
	}
	return done, nil
}

// keepBuf keeps the encode buffer for reuse unless it grew large.
func (s *Spool) keepBuf(b []byte) {
	if cap(b) <= 4<<20 {
		s.buf = b[:0]
	}
}

// Read returns up to maxRecords of the oldest unacknowledged records,
// stopping before maxBytes of payload unless that would return none. An
// empty batch means the spool is empty.
func (s *Spool) Read(maxRecords, maxBytes int) (Batch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Batch{}, ErrClosed
	}
	b := Batch{endSeq: s.readSeq, endOff: s.readOff}
	for i := 0; i < len(s.segs) && len(b.Records) < maxRecords; i++ {
		sg := s.segs[i]
		if sg.seq < b.endSeq {
			continue
		}
		if sg.seq > b.endSeq {
			b.endSeq, b.endOff = sg.seq, headerLen
		}
		if b.endOff >= sg.size {
			continue
		}
		if err := s.readSegment(&b, sg, maxRecords, maxBytes); err != nil {
			return Batch{}, err
		}
		if b.endOff < sg.size {
			// Stopped inside this segment (count or byte budget): the next
			// segment must wait, or the rest of this one would be skipped.
			break
		}
	}
	return b, nil
}

// readSegment appends records of sg from b.endOff to b, up to the limits.
func (s *Spool) readSegment(b *Batch, sg segment, maxRecords, maxBytes int) error {
	if s.r == nil || s.rSeq != sg.seq {
		if s.r != nil {
			s.r.Close()
			s.r = nil
		}
		f, err := os.Open(s.path(segName(sg.seq)))
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.r, s.rSeq = f, sg.seq
	}
	want := min(sg.size-b.endOff, int64(max(maxBytes-b.Bytes, 0))+recHdrLen)
	want = max(want, recHdrLen)
	chunk := make([]byte, want)
	if _, err := s.r.ReadAt(chunk, b.endOff); err != nil && err != io.EOF {
		return fmt.Errorf("spool: %w", err)
	}
	for len(b.Records) < maxRecords {
		if len(chunk) < recHdrLen {
			return nil
		}
		l := int64(binary.LittleEndian.Uint32(chunk[0:4]))
		if b.endOff+recHdrLen+l > sg.size {
			return fmt.Errorf("spool: segment %d: record at %d runs past the end", sg.seq, b.endOff)
		}
		if len(b.Records) > 0 && b.Bytes+int(l) > maxBytes {
			return nil
		}
		var payload []byte
		if int64(len(chunk)) >= recHdrLen+l {
			payload = chunk[recHdrLen : recHdrLen+l : recHdrLen+l]
		} else {
			// The first record is larger than the budget: read it whole.
			payload = make([]byte, l)
			if _, err := s.r.ReadAt(payload, b.endOff+recHdrLen); err != nil {
				return fmt.Errorf("spool: %w", err)
			}
		}
		if checksum(chunk[0:4], payload) != binary.LittleEndian.Uint32(chunk[4:8]) {
			return fmt.Errorf("spool: segment %d: checksum mismatch at %d", sg.seq, b.endOff)
		}
		b.Records = append(b.Records, payload)
		b.Bytes += int(l)
		b.endOff += recHdrLen + l
		if int64(len(chunk)) < recHdrLen+l {
			return nil
		}
		chunk = chunk[recHdrLen+l:]
	}
	return nil
}

// Ack acknowledges a batch returned by the last Read: the read position
// moves past it and is persisted, and wholly read segments are deleted.
func (s *Spool) Ack(b Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if len(b.Records) == 0 {
		return nil
	}
	s.readSeq, s.readOff = b.endSeq, b.endOff
	s.st.Acked += uint64(len(b.Records))
	s.st.Records -= min(uint64(len(b.Records)), s.st.Records)
	var err error
	// Delete segments before the read position, and the last one too when
	// everything in it is read (a drained spool keeps one empty segment).
	for len(s.segs) > 0 {
		sg := s.segs[0]
		lastSeg := len(s.segs) == 1
		if sg.seq > s.readSeq || (sg.seq == s.readSeq && (s.readOff < sg.size || (lastSeg && sg.size == headerLen))) {
			break
		}
		if lastSeg {
			if err = s.newSegment(sg.seq + 1); err != nil {
				break
			}
			s.readSeq, s.readOff = sg.seq+1, headerLen
		}
		if s.r != nil && s.rSeq == sg.seq {
			s.r.Close()
			s.r = nil
		}
		if rerr := os.Remove(s.path(segName(sg.seq))); rerr != nil && !os.IsNotExist(rerr) {
			err = errors.Join(err, fmt.Errorf("spool: %w", rerr))
		}
		s.st.DeletedFiles++
		s.size -= sg.size
		s.segs = s.segs[1:]
		if s.readSeq < s.segs[0].seq {
			s.readSeq, s.readOff = s.segs[0].seq, headerLen
		}
	}
	return errors.Join(err, s.savePos())
}

// Len is the number of records waiting.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return int(s.st.Records)
}

// Stats returns the counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Bytes, st.Segments = s.size, len(s.segs)
	return st
}

// Close persists the read position and closes the files. The records stay
// for the next Open.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.savePos()
	return errors.Join(err, s.closeFiles())
}

func (s *Spool) closeFiles() error {
	var err error
	for _, f := range []*os.File{s.w, s.r, s.lock} {
		if f != nil {
			err = errors.Join(err, f.Close())
		}
	}
	s.w, s.r, s.lock = nil, nil, nil
	return err
}
