package clickhouse

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/detect"
)

func cols(spec ...string) []Column {
	var out []Column
	for i := 0; i+1 < len(spec); i += 2 {
		out = append(out, Column{Name: spec[i], Type: spec[i+1]})
	}
	return out
}

func TestFlattenDNSAndTLS(t *testing.T) {
	ts := time.Date(2026, 11, 21, 10, 48, 3, 123456000, time.UTC).UnixNano()
	dns := &detect.Event{Type: detect.TypeDNS, Timestamp: ts, Sensor: "s", FlowID: 7,
		SrcIP: netip.MustParseAddr("10.0.0.1"), DestIP: netip.MustParseAddr("2001:db8::1"), SrcPort: 5353, DestPort: 53, Proto: 17,
		DNS: &detect.DNS{Type: "answer", ID: 9, RRName: "a.example", RRType: "A", RCode: "NOERROR",
			Answers: []detect.DNSAnswer{{RRName: "a.example", RRType: "CNAME", TTL: 60, RData: "b.example"}, {RRName: "b.example", RRType: "A", TTL: 30, RData: "192.0.2.1"}}}}
	tb := newTable("dns", cols("timestamp", "DateTime", "sensor", "LowCardinality(String)", "flow_id", "UInt64",
		"src_ip", "FixedString(16)", "dest_ip", "IPv6", "dest_port", "UInt16", "dns_answers_rdata", "Array(String)",
		"dns_answers_ttl", "Array(UInt32)", "dns_rrname", "String", "dns_tcp", "UInt8", "vlan", "Array(UInt16)", "event_id", "String", "odd", "Map(String, String)"))
	line := dns.AppendJSON(nil)
	if err := tb.addRow(line); err != nil {
		t.Fatal(err)
	}
	second := *dns
	second.DNS = &detect.DNS{Type: "query", RRName: "q\"\u00e9\U0001F600.example", RRType: "AAAA"}
	second.VLAN = []uint16{100, 200}
	second.DNS.TCP = true
	if err := tb.addRow(second.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
	if err := tb.addRow([]byte(`{"timestamp":"x","event_type":"dns",`)); err == nil {
		t.Error("truncated line accepted")
	}
	if tb.rows != 2 {
		t.Fatalf("rows %d", tb.rows)
	}
	get := func(name string) any { return tb.cols[tb.byName[name]].values() }
	mapped := netip.MustParseAddr("::ffff:10.0.0.1").As16()
	v6 := netip.MustParseAddr("2001:db8::1").As16()
	checks := []struct {
		col  string
		want any
	}{
		{"timestamp", []time.Time{time.Unix(0, ts).UTC(), time.Unix(0, ts).UTC()}},
		{"sensor", []string{"s", "s"}},
		{"flow_id", []uint64{7, 7}},
		{"src_ip", [][]byte{mapped[:], mapped[:]}},
		{"dest_ip", [][]byte{v6[:], v6[:]}},
		{"dest_port", []uint16{53, 53}},
		{"dns_answers_rdata", [][]string{{"b.example", "192.0.2.1"}, {}}},
		{"dns_answers_ttl", [][]uint32{{60, 30}, {}}},
		{"dns_rrname", []string{"a.example", "q\"\u00e9\U0001F600.example"}},
		{"dns_tcp", []uint8{0, 1}},
		{"vlan", [][]uint16{{}, {100, 200}}},
	}
	for _, c := range checks {
		if diff := cmp.Diff(c.want, get(c.col)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", c.col, diff)
		}
	}
	ids := get("event_id").([]string)
	if len(ids[0]) != 16 || ids[0] == ids[1] {
		t.Errorf("event_id %q", ids)
	}
	if len(tb.skipped) != 1 || tb.skipped[0] != "odd" {
		t.Errorf("skipped %v", tb.skipped)
	}
}

func TestFlattenObjectIntoStringColumn(t *testing.T) {
	e := &detect.Event{Type: detect.TypeStats, Sensor: "s", Stats: []byte(`{"a":{"b":[1,2]},"c":"}"}`)}
	tb := newTable("stats", cols("stats", "String", "event_type", "String"))
	if err := tb.addRow(e.AppendJSON(nil)); err != nil {
		t.Fatal(err)
	}
	if got := tb.cols[0].str[0]; got != `{"a":{"b":[1,2]},"c":"}"}` {
		t.Errorf("stats %q", got)
	}
	if eventType(e.AppendJSON(nil)) != "stats" {
		t.Error("eventType")
	}
}

func TestDialects(t *testing.T) {
	old := DialectFor(18, 16)
	if old.IP != "FixedString(16)" || old.Time != "DateTime" || old.LC != "LowCardinality(String)" || !old.ExperimentalLC || old.TTL {
		t.Errorf("18.16: %+v", old)
	}
	if d := DialectFor(18, 1); d.LC != "String" {
		t.Errorf("18.1: %+v", d)
	}
	if d := DialectFor(24, 3); d.IP != "IPv6" || d.Time != "DateTime64(6, 'UTC')" || d.ExperimentalLC || !d.TTL {
		t.Errorf("24.3: %+v", d)
	}
	ms := Migrations()
	if len(ms) < 2 || ms[0].Version != 1 {
		t.Fatalf("migrations %+v", ms)
	}
	for _, d := range []Dialect{old, DialectFor(24, 3)} {
		for _, m := range ms {
			for _, st := range m.Statements("db", d) {
				if len(st) == 0 || st[len(st)-1] == ';' {
					t.Errorf("statement %q", st)
				}
			}
		}
	}
}

func TestAddColumnMatch(t *testing.T) {
	for _, c := range []struct{ stmt, table, col string }{
		{"ALTER TABLE `nunchi`.inject ADD COLUMN inject_name String AFTER inject_kind", "inject", "inject_name"},
		{"alter table db.`flow` add column `x_y` UInt8", "flow", "x_y"},
		{"CREATE TABLE IF NOT EXISTS db.t (a String)", "", ""},
	} {
		m := addColumn.FindStringSubmatch(c.stmt)
		if (m == nil) != (c.table == "") || (m != nil && (m[2] != c.table || m[3] != c.col)) {
			t.Errorf("%q: %q", c.stmt, m)
		}
	}
	var stmts []string
	for _, m := range Migrations() {
		stmts = append(stmts, m.Statements("nunchi", DialectFor(18, 16))...)
	}
	adds := 0
	for _, s := range stmts {
		if strings.Contains(strings.ToUpper(s), "ADD COLUMN") {
			adds++
			if addColumn.FindStringSubmatch(s) == nil {
				t.Errorf("migration statement not recognised as ADD COLUMN: %q", s)
			}
		}
	}
	if adds == 0 {
		t.Error("no ADD COLUMN in the migrations")
	}
}
