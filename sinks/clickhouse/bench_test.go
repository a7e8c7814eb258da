package clickhouse

import (
	"bufio"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
)

// benchLines returns JSON lines to flatten: those of $NUNCHI_BENCH_JSONL
// (e.g. a benchgen replay's output), else synthetic flow and DNS events.
func benchLines(b *testing.B) [][]byte {
	if p := os.Getenv("NUNCHI_BENCH_JSONL"); p != "" {
		f, err := os.Open(p)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		var out [][]byte
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() && len(out) < 100000 {
			out = append(out, append([]byte(nil), sc.Bytes()...))
		}
		return out
	}
	ts := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano()
	var out [][]byte
	for i := 0; i < 1000; i++ {
		base := detect.Event{Timestamp: ts + int64(i)*1e6, Sensor: "bench", FlowID: uint64(i + 1), CommunityID: "1:LQU9qZlK+B5F3KDmev6m5PMibrg=",
			SrcIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), DestIP: netip.MustParseAddr("192.0.2.53"), SrcPort: 40000, DestPort: 53, Proto: 17, AppProto: "dns"}
		fl := base
		fl.Type = detect.TypeFlow
		fl.Flow = &detect.FlowInfo{PktsToServer: 1, PktsToClient: 1, BytesToServer: 70, BytesToClient: 130, Start: base.Timestamp - 1e7, End: base.Timestamp, State: "established", Reason: "timeout"}
		dn := base
		dn.Type = detect.TypeDNS
		dn.DNS = &detect.DNS{Type: "answer", ID: uint16(i), RRName: "www.example.com", RRType: "A", RCode: "NOERROR",
			Answers: []detect.DNSAnswer{{RRName: "www.example.com", RRType: "CNAME", TTL: 300, RData: "cdn.example.net"}, {RRName: "cdn.example.net", RRType: "A", TTL: 60, RData: "192.0.2.10"}}}
		out = append(out, fl.AppendJSON(nil), dn.AppendJSON(nil))
	}
	return out
}

// BenchmarkFlatten measures the insert path's JSON → columns step per event.
func BenchmarkFlatten(b *testing.B) {
	lines := benchLines(b)
	tables := map[string]*table{}
	for _, name := range EventTables {
		var cols []Column
		for _, st := range Migrations()[0].Statements("db", DialectFor(18, 16)) {
			cols = append(cols, columnsOf(st, name)...)
		}
		tables[name] = newTable(name, cols)
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		line := lines[n%len(lines)]
		n++
		t := tables[eventType(line)]
		if t == nil {
			continue
		}
		if t.rows >= 20000 {
			t.reset()
		}
		if err := t.addRow(line); err != nil {
			b.Fatal(err)
		}
	}
}
