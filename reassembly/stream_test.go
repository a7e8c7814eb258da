package reassembly

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// streamRecorder is a StreamConsumer that keeps everything it is told, in order.
type streamRecorder struct {
	data   [2][]byte
	calls  []string // "D0:abc", "G1:5", "E"
	ends   int
	stopAt int // return false once this many bytes arrived in total (0: never)
	got    int
	lastTS int64
}

func (r *streamRecorder) StreamData(dir int, b []byte, ts int64) bool {
	r.data[dir] = append(r.data[dir], b...)
	r.calls = append(r.calls, fmt.Sprintf("D%d:%s", dir, b))
	r.got += len(b)
	r.lastTS = ts
	return r.stopAt == 0 || r.got < r.stopAt
}

func (r *streamRecorder) StreamGap(dir int, n int, ts int64) bool {
	r.calls = append(r.calls, fmt.Sprintf("G%d:%d", dir, n))
	r.lastTS = ts
	return true
}

func (r *streamRecorder) StreamEnd(ts int64) {
	r.ends++
	r.calls = append(r.calls, "E")
	r.lastTS = ts
}

// seg builds one TCP segment at t0+ms milliseconds.
func seg(ms int, flags uint8, seq uint32, payload string) capture.Packet {
	p := capture.Packet{Timestamp: t0 + int64(ms)*int64(time.Millisecond), Proto: capture.ProtoTCP, Payload: []byte(payload)}
	p.TCP.Flags, p.TCP.Seq, p.TCP.HeaderLen = flags, seq, 20
	return p
}

type dirSeg struct {
	dir int
	p   capture.Packet
}

func feed(s *Streams, st *Stream, segs ...dirSeg) {
	for i := range segs {
		s.Assemble(st, &segs[i].p, segs[i].dir)
	}
}

func c(p capture.Packet) dirSeg { return dirSeg{ToServer, p} }
func v(p capture.Packet) dirSeg { return dirSeg{ToClient, p} }

const cISN uint32 = 1000

var sISN uint32 = 0xfffffff0 // the server's sequence numbers wrap

func handshake() []dirSeg {
	return []dirSeg{c(seg(0, syn, cISN, "")), v(seg(1, synAck, sISN, "")), c(seg(2, ack, cISN+1, ""))}
}

// handshaken returns a reassembler with cfg and one stream, recorded by r,
// whose handshake (client ISN cISN, server ISN sISN) has been fed.
func handshaken(cfg StreamConfig) (s *Streams, r *streamRecorder, st *Stream) {
	s, r = NewStreams(cfg), &streamRecorder{}
	st = s.NewStream(r)
	feed(s, st, handshake()...)
	return s, r, st
}

func TestStreamInOrderZeroCopy(t *testing.T) {
	s, _, st := handshaken(DefaultStreamConfig())
	p := seg(3, pshAck, cISN+1, "GET / HTTP/1.1\r\n")
	var seen []byte
	cons := &funcConsumer{data: func(_ int, b []byte) { seen = b }}
	st.consumer = cons
	s.Assemble(st, &p, ToServer)
	if &seen[0] != &p.Payload[0] {
		t.Error("an in-order segment was copied before delivery")
	}
	if got := s.Stats(); got.Streams != 1 || got.Connections != 1 || got.Bytes != 16 || got.Midstream != 0 {
		t.Errorf("stats %+v", got)
	}
}

type funcConsumer struct{ data func(int, []byte) }

func (f *funcConsumer) StreamData(d int, b []byte, _ int64) bool { f.data(d, b); return true }
func (f *funcConsumer) StreamGap(int, int, int64) bool           { return true }
func (f *funcConsumer) StreamEnd(int64)                          {}

func TestStreamReordersAndTrims(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	feed(s, st,
		c(seg(3, pshAck, cISN+1+10, "klmno")),   // ahead: buffered
		c(seg(4, pshAck, cISN+1+5, "fghij")),    // ahead: buffered before it
		c(seg(5, pshAck, cISN+1, "abcde")),      // fills the hole: all three delivered
		c(seg(6, pshAck, cISN+1+3, "defghijk")), // retransmission of delivered bytes
		c(seg(7, pshAck, cISN+1+13, "nopqr")),   // partly delivered: only "pqr" is new
		v(seg(8, pshAck, sISN+1, "HTTP")),       // server data across the wrap
		v(seg(9, pshAck, sISN+1+4, "/1.1")),
	)
	if got := string(r.data[ToServer]); got != "abcdefghijklmnopqr" {
		t.Errorf("client stream %q", got)
	}
	if got := string(r.data[ToClient]); got != "HTTP/1.1" {
		t.Errorf("server stream %q", got)
	}
	st2 := s.Stats()
	if st2.Overlaps != 2 || st2.OverlapConflict != 0 || st2.Gaps != 0 || st2.BufferedPages != 0 {
		t.Errorf("stats %+v", st2)
	}
}

func TestStreamOverlapConflict(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	feed(s, st,
		c(seg(3, pshAck, cISN+1, "Host: a.example")),
		c(seg(4, pshAck, cISN+1, "Host: b.example")), // same bytes again, different: injected
		c(seg(5, pshAck, cISN+1+30, "tail")),         // buffered ...
		c(seg(6, pshAck, cISN+1+30, "TAIL")),         // ... and a conflicting copy of it
	)
	if st.Conflicts != 2 || s.Stats().OverlapConflict != 2 {
		t.Errorf("conflicts %d, stats %+v", st.Conflicts, s.Stats())
	}
	if string(r.data[ToServer]) != "Host: a.example" {
		t.Errorf("the first copy must win: %q", r.data[ToServer])
	}
}

func TestStreamEndsAfterBothFINs(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	feed(s, st,
		c(seg(3, pshAck, cISN+1, "req")),
		c(seg(4, capture.TCPFin|ack, cISN+1+3+4, "")), // FIN ahead of missing data
		v(seg(5, pshAck, sISN+1, "resp")),
		v(seg(6, capture.TCPFin|ack, sISN+5, "")),
	)
	if r.ends != 0 {
		t.Fatal("ended before the client's data reached its FIN")
	}
	feed(s, st, c(seg(7, pshAck, cISN+4, "more")))
	if r.ends != 1 || !st.Done() || string(r.data[ToServer]) != "reqmore" {
		t.Errorf("ends %d done %v data %q", r.ends, st.Done(), r.data[ToServer])
	}
	feed(s, st, c(seg(8, pshAck, cISN+8, "late")))
	if s.Stats().Connections != 0 || string(r.data[ToServer]) != "reqmore" {
		t.Errorf("data after the end: %q, %+v", r.data[ToServer], s.Stats())
	}
}

func TestStreamRST(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	feed(s, st,
		c(seg(3, pshAck, cISN+1, "abc")),
		v(seg(4, capture.TCPRst, sISN+100, "")), // out of window: a receiver drops it
		v(seg(5, pshAck, sISN+1, "xyz")),
		v(seg(6, capture.TCPRst, sISN+1, "")), // before next: dropped too
		c(seg(7, capture.TCPRst, cISN+4, "")), // at next: the client's side is over
		c(seg(8, pshAck, cISN+4, "def")),
		v(seg(9, pshAck, sISN+4, "uvw")),
	)
	if string(r.data[ToServer]) != "abc" || string(r.data[ToClient]) != "xyzuvw" || r.ends != 0 {
		t.Errorf("client %q server %q ends %d", r.data[ToServer], r.data[ToClient], r.ends)
	}
	feed(s, st, v(seg(10, capture.TCPRst|ack, sISN+7, "")))
	if r.ends != 1 {
		t.Errorf("ends %d after both sides reset", r.ends)
	}
}

func TestStreamMidstream(t *testing.T) {
	s := NewStreams(DefaultStreamConfig())
	r := &streamRecorder{}
	st := s.NewStream(r)
	feed(s, st,
		v(seg(0, ack, 500, "")), // a pure ACK cannot start a direction
		v(seg(1, pshAck, 500, "body tail")),
		c(seg(2, pshAck, 9000, "GET /next")),
	)
	if string(r.data[ToClient]) != "body tail" || string(r.data[ToServer]) != "GET /next" {
		t.Errorf("%q %q", r.data[ToClient], r.data[ToServer])
	}
	if s.Stats().Midstream != 1 {
		t.Errorf("midstream %d", s.Stats().Midstream)
	}
}

func TestStreamPageLimitGivesUpHole(t *testing.T) {
	cfg := DefaultStreamConfig()
	cfg.MaxPagesPerConn, cfg.MaxPagesTotal = 2, 2
	s, r, st := handshaken(cfg)
	feed(s, st,
		c(seg(3, pshAck, cISN+1+10, "B")), // hole of 10 bytes, then three segments
		c(seg(4, pshAck, cISN+1+11, "C")),
		c(seg(5, pshAck, cISN+1+20, "D")), // third page: the first hole is given up
	)
	want := []string{"G0:10", "D0:B", "D0:C"}
	if strings.Join(r.calls, " ") != strings.Join(want, " ") {
		t.Errorf("calls %v, want %v", r.calls, want)
	}
	// The shard's budget: another stream's buffered data is given up for it.
	r2 := &streamRecorder{}
	st2 := s.NewStream(r2)
	feed(s, st2, handshake()...)
	feed(s, st2, c(seg(6, pshAck, cISN+1+5, "x")), c(seg(7, pshAck, cISN+1+7, "y")))
	if got := strings.Join(r.calls, " "); got != "G0:10 D0:B D0:C G0:8 D0:D" {
		t.Errorf("first stream after the second buffered: %s", got)
	}
	if s.Stats().BufferedPages != 2 || s.Stats().Gaps != 2 || s.Stats().GapBytes != 18 {
		t.Errorf("stats %+v", s.Stats())
	}
}

func TestStreamFlushAfterAndCloseAfter(t *testing.T) {
	cfg := DefaultStreamConfig()
	cfg.FlushAfter, cfg.CloseAfter = 2*time.Second, 10*time.Second
	s, r, st := handshaken(cfg)
	feed(s, st, c(seg(3, pshAck, cISN+1, "a")), c(seg(4, pshAck, cISN+1+5, "f")))
	s.Tick(t0 + int64(time.Second+500*time.Millisecond))
	if len(r.calls) != 1 {
		t.Fatalf("flushed too early: %v", r.calls)
	}
	s.Tick(t0 + int64(3*time.Second))
	if got := strings.Join(r.calls, " "); got != "D0:a G0:4 D0:f" {
		t.Errorf("after flush_after: %s", got)
	}
	s.Tick(t0 + int64(9*time.Second))
	if r.ends != 0 {
		t.Fatal("ended before close_after")
	}
	s.Tick(t0 + int64(11*time.Second))
	if r.ends != 1 || s.Stats().Connections != 0 || r.lastTS != t0+4*int64(time.Millisecond) {
		t.Errorf("ends %d, stats %+v, end ts %d", r.ends, s.Stats(), r.lastTS-t0)
	}
}

func TestStreamFinishDeliversBuffered(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	feed(s, st, c(seg(3, pshAck, cISN+1, "GET")), c(seg(4, pshAck, cISN+1+7, "HTTP")))
	st.Finish(t0 + int64(time.Second))
	if got := strings.Join(r.calls, " "); got != "D0:GET G0:4 D0:HTTP E" {
		t.Errorf("calls %s", got)
	}
	st.Stop()
	if s.Stats().BufferedPages != 0 || s.Stats().Connections != 0 {
		t.Errorf("stats %+v", s.Stats())
	}
	// The handle is reused, clean.
	r2 := &streamRecorder{}
	st2 := s.NewStream(r2)
	if st2 != st || st2.Conflicts != 0 || st2.half[0].synced {
		t.Error("a stopped stream was not reused clean")
	}
}

func TestStreamConsumerStops(t *testing.T) {
	s, r, st := handshaken(DefaultStreamConfig())
	r.stopAt = 4
	feed(s, st, c(seg(3, pshAck, cISN+1+2, "cdef")), c(seg(4, pshAck, cISN+1, "ab")), c(seg(5, pshAck, cISN+7, "gh")))
	if !st.Done() || string(r.data[ToServer]) != "abcdef" || r.ends != 0 {
		t.Errorf("done %v data %q ends %d", st.Done(), r.data[ToServer], r.ends)
	}
	if got := s.Stats(); got.Connections != 0 || got.BufferedPages != 0 {
		t.Errorf("stats %+v", got)
	}
}

func TestStreamInOrderDoesNotAllocate(t *testing.T) {
	s := NewStreams(DefaultStreamConfig())
	st := s.NewStream(&funcConsumer{data: func(int, []byte) {}})
	feed(s, st, handshake()...)
	payload := bytes.Repeat([]byte{'x'}, 1400)
	p := capture.Packet{Timestamp: t0, Proto: capture.ProtoTCP, Payload: payload}
	p.TCP.Seq, p.TCP.Flags = cISN+1, pshAck
	s.Assemble(st, &p, ToServer) // takes the conflict window
	allocs := testing.AllocsPerRun(1000, func() {
		p.TCP.Seq += uint32(len(payload))
		s.Assemble(st, &p, ToServer)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocations per in-order segment", allocs)
	}
}

// BenchmarkStreamAssemble is the per-segment cost of reassembly itself
// (the consumer does nothing): in order, and with every pair of segments
// swapped (one copy into a buffer and one drain per pair).
func BenchmarkStreamAssemble(b *testing.B) {
	payload := bytes.Repeat([]byte{'x'}, 1400)
	for _, swapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("swapped=%v", swapped), func(b *testing.B) {
			s := NewStreams(DefaultStreamConfig())
			st := s.NewStream(&funcConsumer{data: func(int, []byte) {}})
			feed(s, st, handshake()...)
			p := capture.Packet{Timestamp: t0, Proto: capture.ProtoTCP, Payload: payload}
			p.TCP.Flags = pshAck
			next := uint32(cISN + 1)
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				seq := next
				if swapped {
					seq += uint32(len(payload))
					if n&1 == 1 {
						seq -= 2 * uint32(len(payload))
					}
				}
				p.TCP.Seq = seq
				s.Assemble(st, &p, ToServer)
				next += uint32(len(payload))
				n++
			}
		})
	}
}

func TestStreamWindowBudget(t *testing.T) {
	cfg := DefaultStreamConfig()
	cfg.ConflictWindow, cfg.MaxWindowBytes = 64, 128 // two windows per shard
	s := NewStreams(cfg)
	var rs [2]*streamRecorder
	var sts [2]*Stream
	for i := range sts {
		rs[i] = &streamRecorder{}
		sts[i] = s.NewStream(rs[i])
		feed(s, sts[i], handshake()...)
	}
	// Stream 0 takes both windows (one per direction); stream 1 gets none.
	feed(s, sts[0], c(seg(3, pshAck, cISN+1, "abc")), v(seg(4, pshAck, sISN+1, "xyz")))
	feed(s, sts[1], c(seg(5, pshAck, cISN+1, "abc")), c(seg(6, pshAck, cISN+1, "ABC")))
	if got := s.Stats(); got.WindowsDenied != 1 || got.OverlapConflict != 0 || string(rs[1].data[ToServer]) != "abc" {
		t.Fatalf("over budget: %+v, data %q", got, rs[1].data[ToServer])
	}
	// Once stream 0 is handed back its windows serve new streams.
	sts[0].Stop()
	r2 := &streamRecorder{}
	st2 := s.NewStream(r2)
	feed(s, st2, handshake()...)
	feed(s, st2, c(seg(7, pshAck, cISN+1, "abc")), c(seg(8, pshAck, cISN+1, "ABC")))
	if got := s.Stats(); got.WindowsDenied != 1 || got.OverlapConflict != 1 || st2.Conflicts != 1 {
		t.Errorf("with a recycled window: %+v, conflicts %d", got, st2.Conflicts)
	}
}
