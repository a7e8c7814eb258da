package reassembly

import (
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// TestAckGapMissedBytes checks the capture-loss estimate: payload the
// receiver acknowledges beyond what the sensor saw counts as missed, once,
// for the direction that sent it; retransmissions, out-of-order arrival
// and wrap-around of sequence numbers count nothing.
func TestAckGapMissedBytes(t *testing.T) {
	seg := func(src capture.Addr, sport uint16, dst capture.Addr, dport uint16, flags uint8, ts int, seq, ack uint32, n int) capture.Packet {
		p := tcp(src, sport, dst, dport, flags, time.Duration(ts)*time.Millisecond, n)
		p.TCP.Seq, p.TCP.Ack = seq, ack
		return p
	}
	var cs, ss uint32 = 0xffffff00, 5000 // client ISN near the wrap
	tb := NewTable(testConfig(), nil)
	var f *Flow
	for _, p := range []capture.Packet{
		seg(cli4, 51000, srv4, 80, syn, 0, cs, 0, 0),
		seg(srv4, 80, cli4, 51000, synAck, 1, ss, cs+1, 0),
		seg(cli4, 51000, srv4, 80, ack, 2, cs+1, ss+1, 0),
		seg(cli4, 51000, srv4, 80, pshAck, 3, cs+1, ss+1, 200),     // crosses 2^32
		seg(srv4, 80, cli4, 51000, ack, 4, ss+1, cs+201, 0),        // no gap
		seg(cli4, 51000, srv4, 80, pshAck, 5, cs+1, ss+1, 200),     // retransmission
		seg(cli4, 51000, srv4, 80, pshAck, 6, cs+401, ss+1, 100),   // cs+201..cs+401 never captured
		seg(srv4, 80, cli4, 51000, ack, 7, ss+1, cs+501, 0),        // acks it: 200 missed
		seg(srv4, 80, cli4, 51000, ack, 8, ss+1, cs+501, 0),        // duplicate ACK: nothing more
		seg(srv4, 80, cli4, 51000, pshAck, 9, ss+1001, cs+501, 50), // server's first 1000 bytes lost
		seg(cli4, 51000, srv4, 80, ack, 10, cs+501, ss+1051, 0),    // ... acknowledged
		seg(cli4, 51000, srv4, 80, ack, 11, cs+501, ss+1, 0),       // an old ACK
	} {
		f, _ = tb.Update(&p)
	}
	if f.Missed[ToServer] != 200 || f.Missed[ToClient] != 1000 {
		t.Errorf("missed = %v, want [200 1000]", f.Missed)
	}
}

// TestAckGapMidstream: a flow picked up mid-stream has no sequence base for
// a direction until it sends; ACKs before that count nothing.
func TestAckGapMidstream(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	p := tcp(srv4, 80, cli4, 51000, ack, 0, 0)
	p.TCP.Seq, p.TCP.Ack = 100, 900000
	f, _ := tb.Update(&p)
	q := tcp(cli4, 51000, srv4, 80, pshAck, time.Millisecond, 10)
	q.TCP.Seq, q.TCP.Ack = 900000, 100
	f, _ = tb.Update(&q)
	if f.Missed != [2]uint64{} {
		t.Errorf("missed = %v, want none", f.Missed)
	}
}

// TestAckGapReordered: a segment that arrives after the one behind it is
// not a loss once it is seen.
func TestAckGapReordered(t *testing.T) {
	tb := NewTable(testConfig(), nil)
	var f *Flow
	for i, s := range []struct {
		fromCli  bool
		flags    uint8
		seq, ack uint32
		n        int
	}{
		{true, syn, 99, 0, 0}, {false, synAck, 999, 100, 0}, {true, ack, 100, 1000, 0},
		{true, pshAck, 200, 1000, 100}, // arrives first
		{true, pshAck, 100, 1000, 100}, // fills the hole
		{false, ack, 1000, 300, 0},
		{true, pshAck, 400, 1000, 100}, // past a new hole...
		{true, pshAck, 300, 1000, 200}, // ...re-cut retransmission covering it
		{false, ack, 1000, 500, 0},
	} {
		var p capture.Packet
		if s.fromCli {
			p = tcp(cli4, 51000, srv4, 80, s.flags, time.Duration(i)*time.Millisecond, s.n)
		} else {
			p = tcp(srv4, 80, cli4, 51000, s.flags, time.Duration(i)*time.Millisecond, s.n)
		}
		p.TCP.Seq, p.TCP.Ack = s.seq, s.ack
		f, _ = tb.Update(&p)
	}
	if f.Missed != [2]uint64{} {
		t.Errorf("missed = %v, want none", f.Missed)
	}
}
