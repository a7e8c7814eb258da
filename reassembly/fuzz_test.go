package reassembly

import (
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// fuzzConsumer checks what a Stream delivers: never more bytes per
// direction than the segments carried, nothing after the end.
type fuzzConsumer struct {
	t         *testing.T
	got       [2]int
	gaps      [2]int
	ended     bool
	stopAfter int // stop (return false) once this many bytes arrived; 0 = never
}

func (c *fuzzConsumer) StreamData(dir int, data []byte, ts int64) bool {
	if c.ended {
		c.t.Fatal("data after StreamEnd")
	}
	if dir != ToServer && dir != ToClient {
		c.t.Fatalf("direction %d", dir)
	}
	c.got[dir] += len(data)
	return c.stopAfter == 0 || c.got[0]+c.got[1] < c.stopAfter
}

func (c *fuzzConsumer) StreamGap(dir int, n int, ts int64) bool {
	if n < 0 {
		c.t.Fatalf("negative gap %d", n)
	}
	c.gaps[dir] += n
	return true
}

func (c *fuzzConsumer) StreamEnd(ts int64) { c.ended = true }

// FuzzStreams drives the flow table and TCP reassembly as a shard does
// (Table.Update, then Streams.Assemble with the flow's direction) over
// random segment sequences: out of order, overlapping, with holes, SYN/FIN/
// RST anywhere, sequence numbers wrapping, packet time going back, on a
// reassembler with tiny page budgets. Each 5-byte record is one segment:
//
//	b0      bit 0 direction (server → client), bits 1-2 connection,
//	        bits 3-5 flags (SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK, RST, RST-ACK, none),
//	        bits 6-7 packet time step (0, 10 ms, 2 s, −1 s)
//	b1 b2   sequence offset from the direction's ISN (near 2^32: wraps)
//	b3      payload length
//	b4      payload fill byte (differs between copies: overlap conflicts)
//
// Properties: no panic; per direction, the bytes delivered never exceed the
// payload bytes offered; no data after StreamEnd; counters add up.
func FuzzStreams(f *testing.F) {
	// Handshake then in order; the same with a hole and a late fill;
	// overlapping retransmission with other bytes; RST mid-stream.
	f.Add([]byte{0x00, 0, 0, 0, 0, 0x09, 0, 0, 0, 0, 0x10, 0, 1, 0, 0, 0x18, 0, 1, 100, 'a', 0x19, 0, 1, 50, 'b'}, uint8(0))
	f.Add([]byte{0x00, 0, 0, 0, 0, 0x09, 0, 0, 0, 0, 0x18, 0, 201, 100, 'a', 0x18, 0, 1, 100, 'a', 0x18, 0, 101, 100, 'a'}, uint8(0))
	f.Add([]byte{0x18, 0, 1, 100, 'a', 0x18, 0, 51, 100, 'x', 0x28, 0, 1, 0, 0, 0x31, 0, 0, 0, 0}, uint8(30))
	f.Add([]byte{0x1a, 0xff, 0xf0, 200, 'q', 0x5a, 0x00, 0x10, 200, 'q', 0x9a, 0xff, 0xff, 255, 'r'}, uint8(0))

	cfg := StreamConfig{MaxPagesPerConn: 4, MaxPagesTotal: 16, FlushAfter: time.Second, CloseAfter: 5 * time.Second, ConflictWindow: 256, MaxWindowBytes: 1024}
	if err := cfg.Validate(); err != nil {
		f.Fatal(err)
	}
	flagSet := [8]uint8{syn, syn | capture.TCPAck, capture.TCPAck, pshAck, capture.TCPFin | capture.TCPAck,
		capture.TCPRst, capture.TCPRst | capture.TCPAck, 0}
	steps := [4]time.Duration{0, 10 * time.Millisecond, 2 * time.Second, -time.Second}
	var buf [255]byte
	f.Fuzz(func(t *testing.T, data []byte, stopAfter uint8) {
		if len(data) > 5*2000 {
			return
		}
		tc := testConfig()
		tc.MaxFlows = 2
		tb := NewTable(tc, nil)
		ss := NewStreams(cfg)
		streams := map[uint64]*Stream{}
		consumers := map[uint64]*fuzzConsumer{}
		var offered [4][2]int // per connection and direction (client, server side)
		var now time.Duration
		for ; len(data) >= 5; data = data[5:] {
			b0 := data[0]
			conn := int(b0>>1) & 3
			fromServer := b0&1 != 0
			now += steps[b0>>6]
			cport := uint16(50000 + conn)
			var p capture.Packet
			if fromServer {
				p = tcp(srv4, 80, cli4, cport, flagSet[(b0>>3)&7], now, int(data[3]))
			} else {
				p = tcp(cli4, cport, srv4, 80, flagSet[(b0>>3)&7], now, int(data[3]))
			}
			isn := uint32(0xfffff000) // client ISN: the client's stream wraps
			if fromServer {
				isn = 7000
			}
			p.TCP.Seq = isn + uint32(data[1])<<8 | uint32(data[2])
			p.TCP.Ack = 1
			for i := range int(data[3]) {
				buf[i] = data[4] + byte(i)
			}
			p.Payload = buf[:data[3]]
			fl, dir := tb.Update(&p)
			if fl == nil || p.Proto != capture.ProtoTCP {
				continue
			}
			st := streams[fl.ID]
			if st == nil {
				c := &fuzzConsumer{t: t, stopAfter: int(stopAfter) * 8}
				consumers[fl.ID] = c
				st = ss.NewStream(c)
				streams[fl.ID] = st
			}
			side := 0
			if fromServer {
				side = 1
			}
			offered[conn][side] += len(p.Payload)
			ss.Assemble(st, &p, dir)
			ss.Tick(p.Timestamp)
		}
		ss.FlushAll()
		var total [2]int
		for _, c := range consumers {
			total[0] += c.got[0]
			total[1] += c.got[1]
		}
		var off [2]int
		for _, o := range offered {
			off[0] += o[0]
			off[1] += o[1]
		}
		// The flow's orientation (who sent the SYN) decides which side is
		// ToServer: compare the sums over both directions.
		if total[0]+total[1] > off[0]+off[1] {
			t.Fatalf("delivered %v bytes, offered %v", total, off)
		}
		if st := ss.Stats(); st.Bytes != uint64(total[0]+total[1]) {
			t.Fatalf("stats bytes %d, consumers got %d", st.Bytes, total[0]+total[1])
		}
	})
}
