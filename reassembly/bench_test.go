package reassembly

import (
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// BenchmarkUpdateExisting is the hit path: every packet belongs to one
// established flow, alternating directions.
func BenchmarkUpdateExisting(b *testing.B) {
	for _, bc := range []struct {
		name string
		pkts []capture.Packet
	}{
		{"tcp4", []capture.Packet{
			tcp(cli4, 51000, srv4, 443, pshAck, 0, 1400),
			tcp(srv4, 443, cli4, 51000, ack, 0, 0),
		}},
		{"udp6", []capture.Packet{
			udp(cli6, 40000, srv6, 443, 0, 1200),
			udp(srv6, 443, cli6, 40000, 0, 1200),
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			tb := NewTable(DefaultFlowConfig(), nil)
			pkts := bc.pkts
			for n := range pkts {
				tb.Update(&pkts[n])
			}
			now := pkts[0].Timestamp
			n := 0
			b.ReportAllocs()
			for b.Loop() {
				now += int64(time.Microsecond)
				p := &pkts[n&1]
				p.Timestamp = now
				tb.Update(p)
				n++
			}
			if tb.Stats().Created != 1 {
				b.Fatalf("Created %d, want 1", tb.Stats().Created)
			}
		})
	}
}

// BenchmarkUpdateMany cycles over 100k established flows: the cost of the
// map lookup and the LRU move at size, with the flows out of cache.
func BenchmarkUpdateMany(b *testing.B) {
	const flows = 100_000
	tb := NewTable(DefaultFlowConfig(), nil)
	pkts := make([]capture.Packet, 0, 2*flows)
	for i := range flows {
		c := ip4(10, byte(i>>16), byte(i>>8), byte(i))
		port := uint16(1024 + i%50000)
		pkts = append(pkts, udp(c, port, srv4, 443, 0, 1200), udp(srv4, 443, c, port, 0, 1200))
	}
	now := t0
	for n := range pkts {
		pkts[n].Timestamp = now
		tb.Update(&pkts[n])
	}
	if tb.Len() != flows {
		b.Fatalf("Len %d, want %d", tb.Len(), flows)
	}
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		now += int64(time.Microsecond) // 1 Mpps: flows stay well inside their timeout
		p := &pkts[n]
		p.Timestamp = now
		tb.Update(p)
		if n++; n == len(pkts) {
			n = 0
		}
	}
	if st := tb.Stats(); st.Created != flows {
		b.Fatalf("Created %d, want %d: the loop must hit existing flows", st.Created, flows)
	}
}

// BenchmarkCreateExpire is churn: every packet starts a new flow, packet
// time advances 100 µs per packet and Expire runs once per second of it
// (as a shard does), so about 300k one-packet UDP flows are live at the
// UDP new-flow timeout (30 s) and as many end as start.
func BenchmarkCreateExpire(b *testing.B) {
	tb := NewTable(DefaultFlowConfig(), nil)
	p := udp(cli4, 0, srv4, 53, 0, 40)
	now, lastExpire := t0, t0
	var i uint32
	step := func() {
		i++
		p.Src = ip4(10, byte(i>>24), byte(i>>16), byte(i>>8))
		p.SrcPort = uint16(i) | 1024
		now += int64(100 * time.Microsecond)
		p.Timestamp = now
		tb.Update(&p)
		if now-lastExpire >= int64(time.Second) {
			tb.Expire(now)
			lastExpire = now
		}
	}
	for range 400_000 { // reach the steady state before measuring
		step()
	}
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
	b.ReportMetric(float64(tb.Len()), "flows")
}

func BenchmarkKeyHash(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    capture.Packet
	}{
		{"tcp4", tcp(srv4, 443, cli4, 51000, ack, 0, 0)},
		{"udp6", udp(cli6, 40000, srv6, 53, 0, 30)},
		{"icmp4", icmp(srv4, cli4, 0, 0, 0, 56)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.p
			var sum uint64
			b.ReportAllocs()
			for b.Loop() {
				k, _ := KeyOf(&p, true)
				sum += k.Hash()
				p.SrcPort++
			}
			if sum == 0 {
				b.Log(sum)
			}
		})
	}
}
