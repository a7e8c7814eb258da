package reassembly

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	gpreasm "github.com/gopacket/gopacket/reassembly"

	"github.com/nunchi-sensor/nunchi/capture"
)

// StreamConfig bounds TCP stream reassembly (the `streams:` section).
type StreamConfig struct {
	// MaxPagesPerConn bounds the out-of-order pages (≈1900 bytes each) one
	// connection may buffer; past it the oldest data is pushed through as a gap.
	MaxPagesPerConn int `yaml:"max_pages_per_conn"`
	// MaxPagesTotal bounds the pages buffered by one shard.
	MaxPagesTotal int `yaml:"max_pages_total"`
	// FlushAfter pushes through data waiting for a missing segment longer
	// than this (packet time) and reports the hole as a gap.
	FlushAfter time.Duration `yaml:"flush_after"`
	// CloseAfter forgets connections idle this long (packet time).
	CloseAfter time.Duration `yaml:"close_after"`
	// ConflictWindow is how many recently delivered bytes per direction are
	// kept to compare retransmissions with: an overlap whose bytes differ is
	// how an injected segment shows up.
	ConflictWindow int `yaml:"conflict_window"`
}

// DefaultStreamConfig returns the defaults.
func DefaultStreamConfig() StreamConfig {
	return StreamConfig{MaxPagesPerConn: 64, MaxPagesTotal: 16384, FlushAfter: 5 * time.Second,
		CloseAfter: 120 * time.Second, ConflictWindow: 4096}
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
	return errors.Join(errs...)
}

// StreamConsumer receives one flow's reassembled bytes, in order, per
// direction (ToServer/ToClient in the flow's orientation).
type StreamConsumer interface {
	// StreamData delivers in-order bytes; it returns false when the
	// consumer wants no more (the stream then stops being reassembled).
	StreamData(dir int, data []byte, ts int64) bool
	// StreamGap reports n bytes that will never arrive.
	StreamGap(dir int, n int, ts int64) bool
	// StreamEnd: no more data in either direction.
	StreamEnd(ts int64)
}

// StreamStats are a Streams' counters.
type StreamStats struct {
	Packets         uint64 // segments given to the assembler
	Streams         uint64 // connections created
	Bytes           uint64 // in-order bytes delivered
	GapBytes        uint64 // bytes reported missing
	Gaps            uint64
	Overlaps        uint64 // retransmitted segments overlapping delivered bytes
	OverlapConflict uint64 // ... whose bytes differ (injection / evasion signal)
	Midstream       uint64 // streams started without a SYN
	// Connections is how many connections gopacket holds now (created
	// when a flow first carries data, released when both sides close or
	// close_after passes); ConnectionsPeak the most at once.
	Connections     uint64
	ConnectionsPeak uint64
}

// Streams reassembles the TCP flows of one shard over gopacket's
// reassembly package: one StreamPool and one Assembler per shard (no
// sharing, so gopacket's locks are never contended). Only flows a consumer
// wants are fed to it, and only until the consumer has what it needs.
// Not safe for concurrent use.
type Streams struct {
	cfg   StreamConfig
	pool  *gpreasm.StreamPool
	asm   *gpreasm.Assembler
	tcp   layers.TCP // scratch header rebuilt from capture.Packet
	ctx   pktContext
	stats StreamStats
	// pending is the consumer for the connection the next Assemble call
	// may create (gopacket's factory cannot be given it directly).
	pending     *Stream
	lastFlushed int64
	freeWindows [][]byte // conflict windows of stopped streams, for reuse
	slab        []Stream // Streams not handed out yet
}

// Stream is the per-flow reassembly handle: it implements gopacket's
// reassembly.Stream and forwards to a StreamConsumer.
type Stream struct {
	s         *Streams
	consumer  StreamConsumer
	toServer  gpreasm.TCPFlowDirection // gopacket's direction that is our ToServer
	bound     bool                     // toServer is set
	tags      [2][9]byte               // connection key endpoints: flow ID + side (client, server)
	done      bool
	midstream bool
	// window keeps the last delivered bytes per direction (a ring) with
	// the sequence number that follows them, to spot conflicting overlaps.
	window   [2][]byte
	winEnd   [2]uint32 // sequence number after the last byte in window
	winValid [2]bool
	// seqNext is the sequence number of the next byte to be delivered.
	seqNext  [2]uint32
	seqValid [2]bool
	lastTS   int64 // packet time of the last segment accepted
	// synSeq holds each direction's SYN sequence number until the first
	// payload: gopacket (about 1 KB a connection) is only told about a
	// connection once data flows, so SYN floods, scans and empty
	// connections cost it nothing; the SYNs are replayed to it first.
	synSeq  [2]uint32
	synSeen [2]bool
	held    bool // gopacket holds a connection for this stream
	// Conflicts counts overlapping segments whose bytes differed, per flow.
	Conflicts uint32
}

type pktContext struct{ ci gopacket.CaptureInfo }

func (c *pktContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

// NewStreams returns an empty reassembler; cfg must be valid.
func NewStreams(cfg StreamConfig) *Streams {
	s := &Streams{cfg: cfg}
	s.pool = gpreasm.NewStreamPool(factory{s})
	s.asm = gpreasm.NewAssembler(s.pool)
	s.asm.MaxBufferedPagesPerConnection = cfg.MaxPagesPerConn
	s.asm.MaxBufferedPagesTotal = cfg.MaxPagesTotal
	return s
}

// Stats returns a copy of the counters.
func (s *Streams) Stats() StreamStats { return s.stats }

type factory struct{ s *Streams }

func (f factory) New(_, _ gopacket.Flow, _ *layers.TCP, _ gpreasm.AssemblerContext) gpreasm.Stream {
	st := f.s.pending
	if st == nil { // cannot happen: Assemble always sets it
		st = &Stream{s: f.s, done: true}
	}
	f.s.stats.Streams++
	f.s.stats.Connections++
	f.s.stats.ConnectionsPeak = max(f.s.stats.ConnectionsPeak, f.s.stats.Connections)
	st.held = true
	return st
}

const streamSlab = 128

// endpointFlow is the gopacket endpoint type of the connection keys built
// from nunchi flow IDs (see Assemble).
var endpointFlow = gopacket.RegisterEndpointType(0x6e75, gopacket.EndpointTypeMetadata{Name: "nunchi-flow",
	Formatter: func(b []byte) string { return fmt.Sprintf("flow %x/%d", b[:8], b[8]) }})

// NewStream prepares the handle for the flow with ID flowID; the first
// Assemble call for the flow's packets binds it.
func (s *Streams) NewStream(flowID uint64, c StreamConsumer) *Stream {
	// Streams are carved from slabs: gopacket may hold a Stream until it
	// forgets the connection, so they are never reused, and a slab is freed
	// by the GC once none of its Streams is referenced.
	if len(s.slab) == 0 {
		s.slab = make([]Stream, streamSlab)
	}
	st := &s.slab[0]
	s.slab = s.slab[1:]
	*st = Stream{s: s, consumer: c}
	for side := range st.tags {
		binary.BigEndian.PutUint64(st.tags[side][:8], flowID)
		st.tags[side][8] = byte(side)
	}
	return st
}

// Done reports whether the stream has stopped (consumer satisfied or ended).
func (st *Stream) Done() bool { return st.done }

// Stop detaches the consumer: later data for the flow is ignored.
func (st *Stream) Stop() { st.stop() }

// stop ends the stream and gives its conflict windows back to the pool:
// memory is held only while a parser still reads the flow.
func (st *Stream) stop() {
	st.done = true
	for d := range st.window {
		if w := st.window[d]; cap(w) > 0 {
			st.s.freeWindows = append(st.s.freeWindows, w[:0])
			st.window[d] = nil
		}
		st.winValid[d] = false
	}
}

// Assemble feeds one TCP packet of the flow st belongs to; dir is its
// direction in the flow's orientation.
func (s *Streams) Assemble(st *Stream, p *capture.Packet, dir int) {
	if st.done {
		return
	}
	s.stats.Packets++
	if !st.bound {
		if len(p.Payload) == 0 {
			if p.TCP.Flags&capture.TCPSyn != 0 {
				st.synSeq[dir], st.synSeen[dir] = p.TCP.Seq, true
			}
			s.maybeFlush(p.Timestamp)
			return // nothing to reassemble yet
		}
		// First data: bind, gopacket's "client to server" being the first
		// packet it sees, and replay the SYNs (client's first) so its
		// sequence tracking starts where it would have.
		st.bound = true
		st.toServer = gpreasm.TCPDirClientToServer
		first := ToServer
		if !st.synSeen[ToServer] && (st.synSeen[ToClient] || dir == ToClient) {
			first = ToClient
			st.toServer = gpreasm.TCPDirServerToClient
		}
		for _, d := range [2]int{first, 1 - first} {
			if st.synSeen[d] {
				fl := uint8(capture.TCPSyn)
				if d == ToClient {
					fl |= capture.TCPAck
				}
				s.feed(st, d, st.synSeq[d], 0, fl, 0, nil, p.Timestamp)
			}
		}
	}
	s.feed(st, dir, p.TCP.Seq, p.TCP.Ack, p.TCP.Flags, p.TCP.Window, p.Payload, p.Timestamp)
	s.maybeFlush(p.Timestamp)
}

// feed hands one segment of st's flow to gopacket.
func (s *Streams) feed(st *Stream, dir int, seq, ack uint32, f uint8, win uint16, payload []byte, ts int64) {
	t := &s.tcp
	t.SrcPort, t.DstPort = 0, 0 // the connection key is the flow's tags below
	t.Seq, t.Ack, t.Window = seq, ack, win
	t.FIN, t.SYN, t.RST, t.PSH = f&capture.TCPFin != 0, f&capture.TCPSyn != 0, f&capture.TCPRst != 0, f&capture.TCPPsh != 0
	t.ACK, t.URG, t.ECE, t.CWR = f&capture.TCPAck != 0, f&capture.TCPUrg != 0, f&capture.TCPEce != 0, f&capture.TCPCwr != 0
	t.Payload = payload
	// gopacket keys connections by addresses and ports; nunchi keys them by
	// its own flow, so a connection gopacket still holds for an ended flow
	// never captures the packets of a new flow on the same tuple.
	src, dst := &st.tags[0], &st.tags[1]
	if dir == ToClient {
		src, dst = dst, src
	}
	netFlow := gopacket.NewFlow(endpointFlow, src[:], dst[:])
	s.ctx.ci = gopacket.CaptureInfo{Timestamp: time.Unix(0, ts), CaptureLength: len(payload), Length: len(payload)}
	s.pending = st
	s.asm.AssembleWithContext(netFlow, t, &s.ctx)
	s.pending = nil
}

// maybeFlush pushes stalled data through and forgets idle connections,
// at most once per second of packet time.
func (s *Streams) maybeFlush(now int64) {
	if now-s.lastFlushed < int64(time.Second) && now >= s.lastFlushed {
		return
	}
	s.lastFlushed = now
	s.asm.FlushWithOptions(gpreasm.FlushOptions{
		T:  time.Unix(0, now-int64(s.cfg.FlushAfter)),
		TC: time.Unix(0, now-int64(s.cfg.CloseAfter)),
	})
}

// Tick lets packet time pass without a packet (idle shards).
func (s *Streams) Tick(now int64) { s.maybeFlush(now) }

// FlushAll pushes everything through and ends every stream (end of input).
func (s *Streams) FlushAll() { s.asm.FlushAll() }

func (st *Stream) ourDir(d gpreasm.TCPFlowDirection) int {
	if d == st.toServer {
		return ToServer
	}
	return ToClient
}

// Accept implements gopacket's reassembly.Stream. It sees every segment
// before assembly: retransmissions are compared with the bytes already
// delivered, and a stream picked up mid-way is started at once.
func (st *Stream) Accept(tcp *layers.TCP, ci gopacket.CaptureInfo, dir gpreasm.TCPFlowDirection, nextSeq gpreasm.Sequence, start *bool, _ gpreasm.AssemblerContext) bool {
	if st.done {
		return false
	}
	st.lastTS = ci.Timestamp.UnixNano()
	if !*start && nextSeq == -1 && !tcp.SYN && len(tcp.Payload) > 0 {
		*start = true // mid-stream pickup (or the SYN was lost): start here, flagged
		if !st.midstream {
			st.midstream = true
			st.s.stats.Midstream++
		}
	}
	d := st.ourDir(dir)
	switch {
	case nextSeq != -1:
		st.seqNext[d], st.seqValid[d] = uint32(nextSeq), true
	case tcp.SYN:
		st.seqNext[d], st.seqValid[d] = tcp.Seq+1, true
	case *start:
		st.seqNext[d], st.seqValid[d] = tcp.Seq, true
	}
	st.checkOverlap(d, tcp.Seq, tcp.Payload)
	return true
}

// checkOverlap compares a segment with the delivered bytes it overlaps.
func (st *Stream) checkOverlap(d int, seq uint32, payload []byte) {
	if !st.winValid[d] || len(payload) == 0 {
		return
	}
	w := st.window[d]
	end := st.winEnd[d]
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
	a := w[lo-winStart : hi-winStart]
	b := payload[lo-seq : hi-seq]
	if string(a) != string(b) {
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
	w := st.window[d]
	if cap(w) == 0 { // first data: take a window (from the pool when one is free)
		if k := len(st.s.freeWindows); k > 0 {
			w = st.s.freeWindows[k-1]
			st.s.freeWindows = st.s.freeWindows[:k-1]
		} else {
			w = make([]byte, 0, n)
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
	st.window[d], st.winEnd[d], st.winValid[d] = w, nextSeq, true
}

// ReassembledSG implements gopacket's reassembly.Stream.
func (st *Stream) ReassembledSG(sg gpreasm.ScatterGather, ac gpreasm.AssemblerContext) {
	if st.done {
		return
	}
	gdir, _, _, skip := sg.Info()
	d := st.ourDir(gdir)
	ts := st.when(ac)
	if skip > 0 {
		st.s.stats.Gaps++
		st.s.stats.GapBytes += uint64(skip)
		st.winValid[d] = false
		if !st.consumer.StreamGap(d, skip, ts) {
			st.stop()
			return
		}
	}
	avail, _ := sg.Lengths()
	if avail == 0 {
		return
	}
	data := sg.Fetch(avail)
	st.s.stats.Bytes += uint64(avail)
	if st.seqValid[d] {
		end := st.seqNext[d] + uint32(skip) + uint32(avail)
		st.seqNext[d] = end
		st.remember(d, data, end)
	}
	if !st.consumer.StreamData(d, data, ts) {
		st.stop()
	}
}

// when is the packet time of a callback: the context's when gopacket gives
// one (it does not on every flush path), else the last packet seen.
func (st *Stream) when(ac gpreasm.AssemblerContext) int64 {
	if ac != nil {
		if t := ac.GetCaptureInfo().Timestamp; !t.IsZero() {
			return t.UnixNano()
		}
	}
	return st.lastTS
}

// ReassemblyComplete implements gopacket's reassembly.Stream.
func (st *Stream) ReassemblyComplete(ac gpreasm.AssemblerContext) bool {
	if !st.done {
		st.stop()
		st.consumer.StreamEnd(st.when(ac))
	}
	if st.held { // gopacket now forgets the connection
		st.held = false
		st.s.stats.Connections--
	}
	return true
}
