package tls

import (
	"path/filepath"
	"sort"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// Test-only TCP reassembly: enough to turn a corpus capture into the
// in-order byte streams a StreamParser is fed. Not a model for production
// code (no limits, no overlap policy beyond "first copy wins").

type chunk struct {
	dir  int
	data []byte
	ts   int64
	gap  int // > 0: a hole of gap bytes precedes data
}

type tcpConn struct {
	clientPort, serverPort uint16
	chunks                 []chunk // both directions, merged by packet time
}

type segment struct {
	seq  uint32
	data []byte
	ts   int64
	n    int // arrival order
}

type halfConn struct {
	isn     uint32
	haveISN bool
	segs    []segment
}

type connKey struct {
	a, b   capture.Addr
	ap, bp uint16
}

// readTCPConns reads a capture and returns its TCP connections, each as
// in-order chunks. The client is the SYN sender, else the first sender.
func readTCPConns(t testing.TB, path string) []*tcpConn {
	t.Helper()
	type state struct {
		client     connKey // src→dst of the client
		half       [2]halfConn
		clientPort uint16
		serverPort uint16
	}
	conns := map[connKey]*state{}
	var order []connKey
	n := 0
	for pkt := range testutil.Packets(t, path, capture.ProtoTCP) {
		n++
		fwd := connKey{pkt.Src, pkt.Dst, pkt.SrcPort, pkt.DstPort}
		rev := connKey{pkt.Dst, pkt.Src, pkt.DstPort, pkt.SrcPort}
		st := conns[fwd]
		if st == nil {
			st = conns[rev]
		}
		if st == nil {
			st = &state{client: fwd, clientPort: pkt.SrcPort, serverPort: pkt.DstPort}
			if pkt.TCP.Flags&(capture.TCPSyn|capture.TCPAck) == capture.TCPSyn|capture.TCPAck {
				st.client, st.clientPort, st.serverPort = rev, pkt.DstPort, pkt.SrcPort
			}
			conns[st.client] = st
			order = append(order, st.client)
		}
		dir := detect.ToServer
		if fwd != st.client {
			dir = detect.ToClient
		}
		h := &st.half[dir]
		if pkt.TCP.Flags&capture.TCPSyn != 0 {
			h.isn, h.haveISN = pkt.TCP.Seq+1, true
			continue
		}
		if len(pkt.Payload) == 0 {
			continue
		}
		h.segs = append(h.segs, segment{seq: pkt.TCP.Seq, data: append([]byte(nil), pkt.Payload...), ts: pkt.Timestamp, n: n})
	}
	var out []*tcpConn
	for _, k := range order {
		st := conns[k]
		c := &tcpConn{clientPort: st.clientPort, serverPort: st.serverPort}
		var per [2][]chunk
		var firstN [2][]int
		for dir := range 2 {
			h := &st.half[dir]
			if len(h.segs) == 0 {
				continue
			}
			base := h.isn
			if !h.haveISN {
				base = h.segs[0].seq
				for _, s := range h.segs {
					if int32(s.seq-base) < 0 {
						base = s.seq
					}
				}
			}
			sort.SliceStable(h.segs, func(i, j int) bool {
				return int32(h.segs[i].seq-base) < int32(h.segs[j].seq-base)
			})
			next := 0
			for _, s := range h.segs {
				off := int(int32(s.seq - base))
				end := off + len(s.data)
				if end <= next {
					continue // duplicate
				}
				data := s.data
				gap := 0
				if off < next {
					data = data[next-off:]
				} else if off > next {
					gap = off - next
				}
				per[dir] = append(per[dir], chunk{dir: dir, data: data, ts: s.ts, gap: gap})
				firstN[dir] = append(firstN[dir], s.n)
				next = end
			}
		}
		// Merge the two in-order lists by arrival.
		i, j := 0, 0
		for i < len(per[0]) || j < len(per[1]) {
			if j >= len(per[1]) || i < len(per[0]) && firstN[0][i] < firstN[1][j] {
				c.chunks = append(c.chunks, per[0][i])
				i++
			} else {
				c.chunks = append(c.chunks, per[1][j])
				j++
			}
		}
		out = append(out, c)
	}
	return out
}

// feed runs a fresh Parser over a connection's chunks and returns the
// events it emitted and its final verdict.
func feed(c *tcpConn) ([]*detect.Event, detect.Verdict) {
	var evs []*detect.Event
	p := NewParser(func(e *detect.Event) { evs = append(evs, e) })
	v := detect.NeedMore
	var ts int64
	for _, ch := range c.chunks {
		ts = ch.ts
		if ch.gap > 0 {
			if v = p.Gap(ch.dir, ch.gap, ch.ts); v != detect.NeedMore {
				return evs, v
			}
		}
		if v = p.Data(ch.dir, ch.data, ch.ts); v != detect.NeedMore {
			return evs, v
		}
	}
	p.Close(ts)
	return evs, v
}

func corpusPath(t testing.TB, name string) string {
	return filepath.Join(testutil.CorpusDir(t), name)
}
