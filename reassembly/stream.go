package reassembly

import (
	"errors"
	"fmt"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/internal/slab"
)

// StreamConfig bounds TCP stream reassembly (the `streams:` section).
type StreamConfig struct {
	// MaxPagesPerConn bounds the out-of-order data one connection may
	// buffer, in pages of PageSize bytes; past it the hole before the
	// oldest buffered segment is given up as a gap.
	MaxPagesPerConn int `yaml:"max_pages_per_conn"`
	// MaxPagesTotal bounds the pages buffered by one shard; past it the
	// connection that has waited longest gives up its first hole.
	MaxPagesTotal int `yaml:"max_pages_total"`
	// FlushAfter pushes through data waiting for a missing segment longer
	// than this (packet time) and reports the hole as a gap.
	FlushAfter time.Duration `yaml:"flush_after"`
	// CloseAfter ends streams idle this long (packet time): their parsers
	// finish even though the flow itself may live on.
	CloseAfter time.Duration `yaml:"close_after"`
	// ConflictWindow is how many recently delivered bytes per direction are
	// kept to compare retransmissions with: an overlap whose bytes differ is
	// how an injected segment shows up.
	ConflictWindow int `yaml:"conflict_window"`
	// MaxWindowBytes bounds the memory of those windows in one shard (a
	// window is held per direction while the flow's parser reads it);
	// past it, new streams go without one (counted as windows_denied).
	MaxWindowBytes int `yaml:"max_window_bytes"`
}

// PageSize is the unit of MaxPagesPerConn and MaxPagesTotal: a buffered
// segment counts ceil(len/PageSize) pages.
const PageSize = 1900

// DefaultStreamConfig returns the defaults.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{MaxPagesPerConn: 64, MaxPagesTotal: 16384, FlushAfter: 5 * time.Second,
		CloseAfter: 120 * time.Second, ConflictWindow: 4096, MaxWindowBytes: 64 << 20}
}

// Validate checks the section.
func (c StreamConfig) Validate() error {
	var errs []error
	if c.MaxPagesPerConn < 1 || c.MaxPagesTotal < c.MaxPagesPerConn {
		errs = append(errs, fmt.Errorf("max_pages_per_conn (%d) must be >= 1 and <= max_pages_total (%d)", c.MaxPagesPerConn, c.MaxPagesTotal))
	}
	if c.FlushAfter <= 0 || c.CloseAfter < c.FlushAfter {
		errs = append(errs, fmt.Errorf("flush_after must be > 0 and <= close_after"))
	}
	if c.ConflictWindow < 0 || c.ConflictWindow > 1<<20 {
		errs = append(errs, fmt.Errorf("conflict_window: %d out of range 0..1048576", c.ConflictWindow))
	}
	if c.ConflictWindow > 0 && c.MaxWindowBytes < c.ConflictWindow {
		errs = append(errs, fmt.Errorf("max_window_bytes (%d) must be >= conflict_window (%d)", c.MaxWindowBytes, c.ConflictWindow))
	}
	return errors.Join(errs...)
}

// StreamConsumer receives one flow's reassembled bytes, in order, per
// direction (ToServer/ToClient in the flow's orientation).
type StreamConsumer interface {
	// StreamData delivers in-order bytes, valid only during the call; it
	// returns false when the consumer wants no more (the stream then stops
	// being reassembled).
	StreamData(dir int, data []byte, ts int64) bool
	// StreamGap reports n bytes that will never arrive.
	StreamGap(dir int, n int, ts int64) bool
	// StreamEnd: no more data in either direction.
	StreamEnd(ts int64)
}

// StreamStats are a Streams' counters.
type StreamStats struct {
	Packets         uint64 // segments given to the reassembler
	Streams         uint64 // connections that carried data
	Bytes           uint64 // in-order bytes delivered
	GapBytes        uint64 // bytes reported missing
	Gaps            uint64
	Overlaps        uint64 // retransmitted segments overlapping delivered bytes
	OverlapConflict uint64 // ... whose bytes differ (injection / evasion signal)
	Midstream       uint64 // streams started without a SYN
	// Connections is how many streams are being reassembled now (from a
	// flow's first data until both sides close, the parser is done, the
	// flow ends or close_after passes); ConnectionsPeak the most at once.
	Connections     uint64
	ConnectionsPeak uint64
	// BufferedPages is the out-of-order data held now, in pages.
	BufferedPages uint64
	// WindowsDenied counts stream directions that got no overlap window
	// because max_window_bytes was reached: their retransmissions are not
	// compared (no overlap_conflict can be seen on them).
	WindowsDenied uint64
}

// Streams reassembles the TCP flows of one shard. A Stream is bound to one
// nunchi flow (the shard's flow table decides which packets belong
// together and in which direction), so there is no second connection
// table: in-order segments go straight from the capture batch to the
// consumer without a copy, and only segments that arrive ahead of a hole
// are copied and buffered. Not safe for concurrent use.
type Streams struct {
	cfg         StreamConfig
	stats       StreamStats
	pages       int // pages buffered by all streams
	lastFlushed int64
	live        streamList // streams that carried data and have not ended, least recently active first
	waiting     streamList // streams holding out-of-order segments, in the order they began to wait
	freeWindows [][]byte   // conflict windows of stopped streams, for reuse
	windowBytes int        // capacity of all windows made (in use or in freeWindows)
	freeBufs    [][]byte   // segment buffers of segBufSize bytes, for reuse
	pool        *slab.Pool[Stream]
}

// segBufSize is the size of the pooled buffers that out-of-order segments
// are copied into; longer segments (captures with TSO/GRO) get their own.
const segBufSize = 2048

const streamSlab = 128

// Stream.lnk indexes: the links of the Streams.live and Streams.waiting lists.
const (
	linkLive = iota
	linkWaiting
)

// streamList is an intrusive doubly linked list of streams; which links
// a Stream uses for which list is fixed (see Stream.lnk).
type streamList struct {
	head, tail *Stream
	which      int // index into Stream.lnk
}

type links struct {
	prev, next *Stream
	in         bool
}

func (l *streamList) pushBack(st *Stream) {
	k := &st.lnk[l.which]
	k.prev, k.next, k.in = l.tail, nil, true
	if l.tail != nil {
		l.tail.lnk[l.which].next = st
	} else {
		l.head = st
	}
	l.tail = st
}

func (l *streamList) remove(st *Stream) {
	k := &st.lnk[l.which]
	if !k.in {
		return
	}
	if k.prev != nil {
		k.prev.lnk[l.which].next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nil {
		k.next.lnk[l.which].prev = k.prev
	} else {
		l.tail = k.prev
	}
	*k = links{}
}

// moveBack makes st the most recent element (adding it if absent).
func (l *streamList) moveBack(st *Stream) {
	if l.tail == st {
		return
	}
	l.remove(st)
	l.pushBack(st)
}

// half is one direction of a stream.
type half struct {
	next    uint32 // sequence number of the next byte to deliver
	synced  bool   // next is known (SYN seen, or the first data of a stream picked up mid-way)
	closed  bool   // FIN reached, or RST at next: nothing more this way
	finSeen bool   // a FIN at finSeq, at or ahead of next
	finSeq  uint32
	pages   int
	queue   []segment // out-of-order segments, ordered by sequence number
	// window keeps the last delivered bytes (at most ConflictWindow) with
	// the sequence number that follows them, to spot conflicting overlaps.
	window   []byte
	winEnd   uint32
	winValid bool
	noWindow bool // denied one (max_window_bytes): counted once
}

// segment is a buffered out-of-order segment (a copy).
type segment struct {
	seq  uint32
	data []byte
	ts   int64
}

// Stream is the per-flow reassembly handle, created by NewStream (the
// pipeline does so at a flow's first data) and handed back with Stop when
// the flow ends.
type Stream struct {
	s         *Streams
	consumer  StreamConsumer
	half      [2]half
	lnk       [2]links // in Streams.live, Streams.waiting
	lastTS    int64    // packet time of the latest segment
	done      bool     // stopped: consumer satisfied, stream ended (StreamEnd sent), or Stop
	midstream bool
	// Conflicts counts overlapping segments whose bytes differed, per flow.
	Conflicts uint32
}

// NewStreams returns an empty reassembler; cfg must be valid.
func NewStreams(cfg StreamConfig) *Streams {
	s := &Streams{cfg: cfg, pool: slab.New[Stream](streamSlab)}
	s.live.which, s.waiting.which = linkLive, linkWaiting
	return s
}

// Stats returns a copy of the counters.
func (s *Streams) Stats() StreamStats {
	st := s.stats
	st.BufferedPages = uint64(s.pages)
	return st
}

// NewStream returns a handle whose bytes go to c. The caller keeps the
// association with its flow and feeds it that flow's packets.
func (s *Streams) NewStream(c StreamConsumer) *Stream {
	st, _ := s.pool.Get()
	q0, q1 := st.half[0].queue[:0], st.half[1].queue[:0]
	*st = Stream{s: s, consumer: c}
	st.half[0].queue, st.half[1].queue = q0, q1
	return st
}

// SawSYN starts direction dir after a SYN with sequence number seq that
// the stream was not given (the caller creates streams at a flow's first
// data, so that handshakes alone cost nothing).
func (st *Stream) SawSYN(dir int, seq uint32) {
	if h := &st.half[dir]; !h.synced {
		h.next, h.synced = seq+1, true
	}
}

// Done reports whether the stream has stopped (consumer satisfied or ended).
func (st *Stream) Done() bool { return st.done }

// Stop hands the stream back: later data for the flow is ignored and the
// handle must not be used again.
func (st *Stream) Stop() {
	s := st.s
	if s == nil {
		return
	}
	st.stop()
	st.consumer, st.s = nil, nil
	s.pool.Put(st)
}

// Finish pushes buffered data through (holes reported as gaps) and ends the
// stream as its flow ends, so a parser sees everything the sensor captured.
func (st *Stream) Finish(ts int64) {
	if !st.done {
		st.s.endStream(st, ts)
	}
}

// stop ends reassembly: buffers and the conflict windows go back to the
// shard's pools, so memory is held only while a parser still reads the flow.
func (st *Stream) stop() {
	if st.done { // done is set here only: already stopped
		return
	}
	s := st.s
	st.done = true
	for d := range st.half {
		h := &st.half[d]
		s.dropQueue(h)
		if w := h.window; cap(w) > 0 {
			s.freeWindows = append(s.freeWindows, w[:0])
			h.window = nil
		}
		h.winValid = false
	}
	if st.lnk[linkLive].in {
		s.live.remove(st)
		s.stats.Connections--
	}
	s.waiting.remove(st)
}

// Assemble feeds one TCP packet of the flow st belongs to; dir is its
// direction in the flow's orientation.
func (s *Streams) Assemble(st *Stream, p *capture.Packet, dir int) {
	if st.done {
		return
	}
	s.stats.Packets++
	if p.Timestamp > st.lastTS {
		st.lastTS = p.Timestamp
	}
	s.apply(st, p, dir)
	s.maybeFlush(p.Timestamp)
}

// apply applies one segment to its direction.
func (s *Streams) apply(st *Stream, p *capture.Packet, dir int) {
	ts := p.Timestamp
	h := &st.half[dir]
	fl, seq, payload := p.TCP.Flags, p.TCP.Seq, p.Payload
	if fl&capture.TCPSyn != 0 {
		if h.synced {
			// A SYN on a synchronised direction is answered with a
			// challenge ACK and dropped by the receiver (RFC 5961).
			return
		}
		h.next, h.synced = seq+1, true
		seq++ // data on a SYN (TCP Fast Open) starts after it
	}
	if !h.synced {
		if len(payload) == 0 {
			return // nothing to start from yet
		}
		// Picked up mid-stream (or the SYN was lost): start here, flagged.
		h.next, h.synced = seq, true
		if !st.midstream {
			st.midstream = true
			s.stats.Midstream++
		}
	}
	if st.lnk[linkLive].in {
		s.live.moveBack(st)
	} else if len(payload) > 0 {
		// First data: the stream is now being reassembled.
		s.live.pushBack(st)
		s.stats.Streams++
		s.stats.Connections++
		s.stats.ConnectionsPeak = max(s.stats.ConnectionsPeak, s.stats.Connections)
	}
	if len(payload) > 0 {
		st.checkOverlap(dir, seq, payload)
	}
	if h.closed {
		return
	}
	end := seq + uint32(len(payload))
	ahead := int32(seq - h.next)
	switch {
	case fl&capture.TCPRst != 0:
		// Only a RST exactly at next ends the direction; a receiver drops
		// any other (RFC 5961), so it must not end the stream here either.
		if ahead == 0 {
			s.closeHalf(st, dir, ts)
		}
		return
	case fl&capture.TCPFin != 0 && int32(end-h.next) >= 0:
		h.finSeq, h.finSeen = end, true
	}
	switch {
	case ahead > 0:
		if len(payload) > 0 {
			s.enqueue(st, dir, seq, payload, ts)
			s.enforceLimits(st, dir, ts)
		}
	case int32(end-h.next) > 0:
		// In order, possibly retransmitting delivered bytes at its start.
		if s.deliver(st, dir, payload[h.next-seq:], ts) {
			s.drain(st, dir, ts)
		}
	}
	s.closeAtFIN(st, dir, ts) // a FIN that brought no new data
}

// deliver hands in-order bytes to the consumer; false when the stream stopped.
func (s *Streams) deliver(st *Stream, d int, data []byte, ts int64) bool {
	h := &st.half[d]
	h.next += uint32(len(data))
	s.stats.Bytes += uint64(len(data))
	st.remember(d, data, h.next)
	if !st.consumer.StreamData(d, data, ts) {
		st.stop()
		return false
	}
	return !st.done
}

// drain delivers the buffered segments that the data so far has reached.
func (s *Streams) drain(st *Stream, d int, ts int64) {
	h := &st.half[d]
	for len(h.queue) > 0 && !st.done {
		sg := h.queue[0]
		if int32(sg.seq-h.next) > 0 {
			break
		}
		copy(h.queue, h.queue[1:])
		h.queue = h.queue[:len(h.queue)-1]
		s.unpage(h, len(sg.data))
		st.checkOverlap(d, sg.seq, sg.data)
		if end := sg.seq + uint32(len(sg.data)); int32(end-h.next) > 0 {
			ok := s.deliver(st, d, sg.data[h.next-sg.seq:], ts)
			s.freeBuf(sg.data)
			if !ok {
				return
			}
		} else {
			s.freeBuf(sg.data)
		}
	}
	s.settleWaiting(st)
	s.closeAtFIN(st, d, ts)
}

// closeAtFIN closes direction d once its data has reached its FIN.
func (s *Streams) closeAtFIN(st *Stream, d int, ts int64) {
	if h := &st.half[d]; !st.done && h.finSeen && h.next == h.finSeq {
		s.closeHalf(st, d, ts)
	}
}

// skipHole gives up the hole before the direction's first buffered segment:
// the consumer is told of the gap and the data behind it is delivered.
func (s *Streams) skipHole(st *Stream, d int, ts int64) {
	h := &st.half[d]
	if len(h.queue) == 0 {
		return
	}
	n := h.queue[0].seq - h.next
	h.next = h.queue[0].seq
	h.winValid = false
	s.stats.Gaps++
	s.stats.GapBytes += uint64(n)
	if !st.consumer.StreamGap(d, int(n), ts) {
		st.stop()
		return
	}
	if !st.done {
		s.drain(st, d, ts)
	}
}

// enqueue copies an out-of-order segment into the direction's queue.
func (s *Streams) enqueue(st *Stream, d int, seq uint32, payload []byte, ts int64) {
	h := &st.half[d]
	i := len(h.queue)
	for i > 0 && int32(h.queue[i-1].seq-seq) > 0 {
		i--
	}
	// A retransmission of a buffered segment is compared, not stored again.
	if i > 0 {
		if q := &h.queue[i-1]; q.seq == seq && len(q.data) >= len(payload) {
			s.stats.Overlaps++
			if string(q.data[:len(payload)]) != string(payload) {
				st.Conflicts++
				s.stats.OverlapConflict++
			}
			return
		}
	}
	var buf []byte
	if len(payload) <= segBufSize {
		if k := len(s.freeBufs); k > 0 {
			buf = s.freeBufs[k-1][:len(payload)]
			s.freeBufs = s.freeBufs[:k-1]
		} else {
			buf = make([]byte, len(payload), segBufSize)
		}
	} else {
		buf = make([]byte, len(payload))
	}
	copy(buf, payload)
	h.queue = append(h.queue, segment{})
	copy(h.queue[i+1:], h.queue[i:])
	h.queue[i] = segment{seq: seq, data: buf, ts: ts}
	n := pagesOf(len(payload))
	h.pages += n
	s.pages += n
	if !st.lnk[linkWaiting].in {
		s.waiting.pushBack(st)
	}
}

// enforceLimits keeps buffered data within the per-connection and shard
// budgets by giving up holes: this direction's first, then those of the
// streams that have waited longest.
func (s *Streams) enforceLimits(st *Stream, d int, ts int64) {
	h := &st.half[d]
	for !st.done && h.pages > s.cfg.MaxPagesPerConn && len(h.queue) > 0 {
		s.skipHole(st, d, ts)
	}
	for s.pages > s.cfg.MaxPagesTotal && s.waiting.head != nil {
		w := s.waiting.head
		before := s.pages
		s.skipHole(w, w.oldestHalf(), ts)
		if s.waiting.head == w {
			if s.pages == before { // cannot happen: a waiting stream buffers something
				s.waiting.remove(w)
			} else {
				s.waiting.moveBack(w) // it keeps data past its next hole: let others give up theirs
			}
		}
	}
}

// oldestHalf is the direction whose first buffered segment arrived first.
func (st *Stream) oldestHalf() int {
	q0, q1 := st.half[0].queue, st.half[1].queue
	if len(q0) == 0 || (len(q1) > 0 && q1[0].ts < q0[0].ts) {
		return 1
	}
	return 0
}

// settleWaiting takes st off the waiting list once it buffers nothing.
func (s *Streams) settleWaiting(st *Stream) {
	if st.lnk[linkWaiting].in && len(st.half[0].queue) == 0 && len(st.half[1].queue) == 0 {
		s.waiting.remove(st)
	}
}

func pagesOf(n int) int { return (n + PageSize - 1) / PageSize }

func (s *Streams) unpage(h *half, n int) {
	p := pagesOf(n)
	h.pages -= p
	s.pages -= p
}

func (s *Streams) freeBuf(b []byte) {
	if cap(b) == segBufSize {
		s.freeBufs = append(s.freeBufs, b[:0])
	}
}

// dropQueue releases a direction's buffered segments.
func (s *Streams) dropQueue(h *half) {
	for i := range h.queue {
		s.unpage(h, len(h.queue[i].data))
		s.freeBuf(h.queue[i].data)
		h.queue[i] = segment{}
	}
	h.queue = h.queue[:0]
}

// closeHalf ends one direction (FIN reached or RST at next); when both are
// closed the stream ends.
func (s *Streams) closeHalf(st *Stream, d int, ts int64) {
	h := &st.half[d]
	h.closed, h.finSeen = true, false
	s.dropQueue(h)
	s.settleWaiting(st)
	if st.half[1-d].closed {
		s.endStream(st, ts)
	}
}

// endStream pushes everything buffered through and tells the consumer the
// stream is over.
func (s *Streams) endStream(st *Stream, ts int64) {
	for d := range st.half {
		for !st.done && len(st.half[d].queue) > 0 {
			s.skipHole(st, d, ts)
		}
	}
	// Only streams that carried data are reported as ended: for the
	// others there is nothing to finish before the flow ends.
	if !st.done && st.lnk[linkLive].in {
		st.stop()
		st.consumer.StreamEnd(ts)
		return
	}
	st.stop()
}

// maybeFlush pushes stalled data through and ends idle streams, at most
// once per second of packet time.
func (s *Streams) maybeFlush(now int64) {
	if now-s.lastFlushed < int64(time.Second) && now >= s.lastFlushed {
		return
	}
	s.lastFlushed = now
	stale := now - int64(s.cfg.FlushAfter)
	for st := s.waiting.head; st != nil; {
		next := st.lnk[linkWaiting].next
		for d := range st.half {
			for !st.done && len(st.half[d].queue) > 0 && st.half[d].queue[0].ts < stale {
				s.skipHole(st, d, st.half[d].queue[0].ts)
			}
		}
		st = next
	}
	idle := now - int64(s.cfg.CloseAfter)
	for st := s.live.head; st != nil && st.lastTS < idle; st = s.live.head {
		s.endStream(st, st.lastTS)
	}
}

// Tick lets packet time pass without a packet (idle shards).
func (s *Streams) Tick(now int64) { s.maybeFlush(now) }

// FlushAll pushes everything through and ends every stream (end of input).
func (s *Streams) FlushAll() {
	for st := s.live.head; st != nil; st = s.live.head {
		s.endStream(st, st.lastTS)
	}
}

// checkOverlap compares a segment with the delivered bytes it overlaps.
func (st *Stream) checkOverlap(d int, seq uint32, payload []byte) {
	h := &st.half[d]
	if !h.winValid || len(payload) == 0 {
		return
	}
	w := h.window
	end := h.winEnd
	winStart := end - uint32(len(w))
	segEnd := seq + uint32(len(payload))
	// Overlap with [winStart, end), in sequence space (mod 2^32).
	if int32(segEnd-winStart) <= 0 || int32(end-seq) <= 0 {
		return
	}
	lo, hi := seq, segEnd
	if int32(lo-winStart) < 0 {
		lo = winStart
	}
	if int32(hi-end) > 0 {
		hi = end
	}
	st.s.stats.Overlaps++
	if string(w[lo-winStart:hi-winStart]) != string(payload[lo-seq:hi-seq]) {
		st.Conflicts++
		st.s.stats.OverlapConflict++
	}
}

// remember appends delivered bytes to the direction's window.
func (st *Stream) remember(d int, data []byte, nextSeq uint32) {
	n := st.s.cfg.ConflictWindow
	if n == 0 {
		return
	}
	h := &st.half[d]
	w := h.window
	if cap(w) == 0 { // first data: take a window (from the pool when one is free)
		s := st.s
		if k := len(s.freeWindows); k > 0 {
			w = s.freeWindows[k-1]
			s.freeWindows = s.freeWindows[:k-1]
		} else if s.windowBytes+n <= s.cfg.MaxWindowBytes {
			w = make([]byte, 0, n)
			s.windowBytes += n
		} else {
			if !h.noWindow {
				h.noWindow = true
				s.stats.WindowsDenied++
			}
			return
		}
	}
	if len(data) >= n {
		w = append(w[:0], data[len(data)-n:]...)
	} else {
		if over := len(w) + len(data) - n; over > 0 {
			copy(w, w[over:])
			w = w[:len(w)-over]
		}
		w = append(w, data...)
	}
	h.window, h.winEnd, h.winValid = w, nextSeq, true
}
