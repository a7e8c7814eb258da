package testutil

import (
	"sort"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
)

// TCPReplay is a test-only TCP reassembler for parser tests: good enough to
// replay corpus captures into a StreamParser (reordering, retransmissions,
// gaps at the end), not a model for the real one in package reassembly
// (the pipeline's tests cover that end to end).

// FlowKey is a canonical (lower endpoint first) TCP/UDP 4-tuple for tests.
type FlowKey struct {
	a, b         capture.Addr
	aport, bport uint16
}

// KeyOf returns p's canonical key and whether p travels from the B side.
func KeyOf(p *capture.Packet) (FlowKey, bool) {
	k := FlowKey{p.Src, p.Dst, p.SrcPort, p.DstPort}
	if string(p.Src[:]) > string(p.Dst[:]) || (p.Src == p.Dst && p.SrcPort > p.DstPort) {
		return FlowKey{p.Dst, p.Src, p.DstPort, p.SrcPort}, true
	}
	return k, false
}

type testSeg struct {
	off  int64
	data []byte
	ts   int64
}

type testDir struct {
	based   bool
	base    uint32 // sequence number of stream offset 0
	next    int64  // next offset to deliver
	pending []testSeg
}

type testFlow struct {
	clientIsA bool
	known     bool // the client side is decided
	dirs      [2]testDir
	sp        detect.StreamParser
	dead      bool
	sawData   bool
}

// TCPReplay feeds every TCP flow of a capture file to a parser from mk and
// returns the number of TCP flows seen. isClient decides, for a flow whose
// first packet with data is p (no SYN seen), whether p's sender is the client.
func TCPReplay(t testing.TB, path string, mk func() detect.StreamParser, isClient func(p *capture.Packet) bool) int {
	t.Helper()
	flows := map[FlowKey]*testFlow{}
	var order []*testFlow
	var lastTS int64
	for p := range Packets(t, path, capture.ProtoTCP) {
		lastTS = p.Timestamp
		k, fromB := KeyOf(p)
		f := flows[k]
		syn := p.TCP.Flags&capture.TCPSyn != 0
		ack := p.TCP.Flags&capture.TCPAck != 0
		if f != nil && syn && !ack && f.sawData && f.dirs[f.clientDir(fromB)].base != p.TCP.Seq+1 {
			f.close(lastTS) // port reuse: a new connection
			f = nil
		}
		if f == nil {
			f = &testFlow{sp: mk()}
			flows[k] = f
			order = append(order, f)
		}
		if !f.known {
			switch {
			case syn && !ack:
				f.clientIsA, f.known = !fromB, true
			case syn && ack:
				f.clientIsA, f.known = fromB, true
			case len(p.Payload) > 0:
				f.clientIsA, f.known = isClient(p) != fromB, true
			}
		}
		dir := detect.ToServer
		if fromB == f.clientIsA {
			dir = detect.ToClient
		}
		f.segment(dir, p)
	}
	for _, f := range order {
		f.close(lastTS)
	}
	return len(order)
}

func (f *testFlow) clientDir(fromB bool) int {
	if fromB == f.clientIsA {
		return detect.ToClient
	}
	return detect.ToServer
}

func (f *testFlow) segment(dir int, p *capture.Packet) {
	d := &f.dirs[dir]
	seq := p.TCP.Seq
	if p.TCP.Flags&capture.TCPSyn != 0 {
		if !f.sawData {
			d.based, d.base, d.next = true, seq+1, 0
		}
		return
	}
	if len(p.Payload) == 0 || f.dead {
		return
	}
	if !d.based {
		d.based, d.base = true, seq
	}
	f.sawData = true
	off := int64(int32(seq - d.base))
	d.pending = append(d.pending, testSeg{off: off, data: append([]byte(nil), p.Payload...), ts: p.Timestamp})
	f.deliver(dir, false)
}

// deliver hands over in-order data; at the end (final) holes become gaps.
func (f *testFlow) deliver(dir int, final bool) {
	d := &f.dirs[dir]
	for len(d.pending) > 0 && !f.dead {
		sort.SliceStable(d.pending, func(i, j int) bool { return d.pending[i].off < d.pending[j].off })
		s := d.pending[0]
		if s.off > d.next {
			if !final {
				return
			}
			f.verdict(f.sp.Gap(dir, int(s.off-d.next), s.ts))
			d.next = s.off
			continue
		}
		d.pending = d.pending[1:]
		skip := d.next - s.off
		if skip >= int64(len(s.data)) {
			continue // retransmission
		}
		f.verdict(f.sp.Data(dir, s.data[skip:], s.ts))
		d.next = s.off + int64(len(s.data))
	}
}

func (f *testFlow) verdict(v detect.Verdict) {
	if v != detect.NeedMore {
		f.dead = true
	}
}

func (f *testFlow) close(ts int64) {
	if f.sp == nil {
		return
	}
	f.deliver(detect.ToServer, true)
	f.deliver(detect.ToClient, true)
	f.sp.Close(ts)
	f.sp = nil
}
