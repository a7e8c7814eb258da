package clickhouse_test

import (
	"net/netip"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// eventGen makes distinct flow events (distinct event_ids) for sink tests.
type eventGen struct {
	sensor string
	n      uint64
	t0     int64
	mixed  bool // every third event a DNS answer (batches span two tables)
}

func newEventGen(sensor string) *eventGen {
	return &eventGen{sensor: sensor, t0: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano()}
}

func (g *eventGen) batch(n int) []*detect.Event {
	out := make([]*detect.Event, n)
	for i := range out {
		g.n++
		ts := g.t0 + int64(g.n)*int64(time.Millisecond)
		out[i] = &detect.Event{Type: detect.TypeFlow, Timestamp: ts, Sensor: g.sensor, FlowID: g.n,
			CommunityID: "1:test", SrcIP: netip.AddrFrom4([4]byte{10, 0, byte(g.n >> 8), byte(g.n)}), DestIP: netip.MustParseAddr("192.0.2.1"),
			SrcPort: uint16(1024 + g.n%60000), DestPort: 443, Proto: 6, AppProto: "tls",
			Flow: &detect.FlowInfo{PktsToServer: 3, PktsToClient: 2, BytesToServer: 300, BytesToClient: 2000, Start: ts - 1e9, End: ts,
				State: "closed", Reason: "timeout", IsTCP: true, TCPFlags: 0x1b, History: "ShADadFf"}}
		if g.mixed && g.n%3 == 0 {
			e := out[i]
			e.Type, e.Flow, e.DestPort, e.Proto, e.AppProto = detect.TypeDNS, nil, 53, 17, "dns"
			e.DNS = &detect.DNS{Type: "answer", ID: uint16(g.n), RRName: "host.example", RRType: "A", RCode: "NOERROR",
				Answers: []detect.DNSAnswer{{RRName: "host.example", RRType: "A", TTL: 60, RData: "192.0.2.7"}}}
		}
	}
	return out
}
