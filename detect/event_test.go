package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestAppendJSONFlow(t *testing.T) {
	e := &Event{
		Type: TypeFlow, Timestamp: 1763722083123456789, Sensor: "edge-1", FlowID: 42, CommunityID: "1:abc=",
		SrcIP: netip.MustParseAddr("192.0.2.10"), DestIP: netip.MustParseAddr("2001:db8::20"), SrcPort: 40000, DestPort: 443, Proto: 6,
		VLAN:   []uint16{10, 20},
		Tunnel: &Tunnel{Type: "vxlan", OuterSrcIP: netip.MustParseAddr("203.0.113.1"), OuterDestIP: netip.MustParseAddr("203.0.113.2"), ID: 42, HasID: true},
		Flow: &FlowInfo{PktsToServer: 3, PktsToClient: 2, BytesToServer: 180, BytesToClient: 120, Start: 1763722080000000000,
			End: 1763722083123456789, State: "closed", Reason: "timeout", IsTCP: true, TCPFlags: 0x1b, TCPFlagsTS: 0x1b, TCPFlagsTC: 0x12,
			History: "ShAD", MissedBytes: 7},
	}
	got := string(e.AppendJSON(nil))
	want := `{"timestamp":"2025-11-21T10:48:03.123456Z","event_type":"flow","sensor":"edge-1","flow_id":42,"community_id":"1:abc=",` +
		`"src_ip":"192.0.2.10","src_port":40000,"dest_ip":"2001:db8::20","dest_port":443,"proto":"TCP","vlan":[10,20],` +
		`"tunnel":{"type":"vxlan","outer_src_ip":"203.0.113.1","outer_dest_ip":"203.0.113.2","vni":42},` +
		`"flow":{"pkts_toserver":3,"pkts_toclient":2,"bytes_toserver":180,"bytes_toclient":120,"start":"2025-11-21T10:48:00.000000Z",` +
		`"end":"2025-11-21T10:48:03.123456Z","age":3,"state":"closed","reason":"timeout","tcp_flags":"1b","tcp_flags_ts":"1b",` +
		`"tcp_flags_tc":"12","history":"ShAD","missed_bytes":7,"midstream":false},"event_id":"082aacd4a46d4b86"}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("AppendJSON (-want, +got):\n%s", diff)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatalf("not valid JSON: %v", err)
	}
}

func TestAppendJSONICMP(t *testing.T) {
	e := &Event{Type: TypeFlow, Timestamp: 0, Sensor: "s", SrcIP: netip.MustParseAddr("192.0.2.1"), DestIP: netip.MustParseAddr("192.0.2.2"),
		Proto: 1, ICMPType: 8, ICMPCode: 0, SrcPort: 8}
	got := string(e.AppendJSON(nil))
	want := `{"timestamp":"1970-01-01T00:00:00.000000Z","event_type":"flow","sensor":"s","src_ip":"192.0.2.1","dest_ip":"192.0.2.2","proto":"ICMP","icmp_type":8,"icmp_code":0,"event_id":"677ce18fd28050c1"}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestEventID: event_id is EventID of the bytes before it; EventID is
// pinned to known values (it is stored by consumers: it must never change)
// and tells apart inputs that differ in one bit, in any position.
func TestEventID(t *testing.T) {
	e := &Event{Type: TypeDNS, Timestamp: 1, Sensor: "s", FlowID: 7, DNS: &DNS{Type: "query", RRName: "example.com"}}
	got := e.AppendJSON([]byte("prefix"))[len("prefix"):]
	i := bytes.LastIndex(got, []byte(`,"event_id":"`))
	if i < 0 {
		t.Fatalf("no event_id in %s", got)
	}
	if want := fmt.Sprintf(`,"event_id":"%016x"}`, EventID(got[:i])); string(got[i:]) != want {
		t.Errorf("got %s, want %s", got[i:], want)
	}
	for in, want := range map[string]uint64{"": 0x0, "a": 0x75b1f86a949436dc, "event": 0x811e6d5a6e171156,
		"0123456789abcdefX": 0x5d3c7d099e0cde0b} {
		if got := EventID([]byte(in)); got != want {
			t.Errorf("EventID(%q) = %#016x, want %#016x (ids are stored by consumers: never change the hash)", in, got, want)
		}
	}
	seen := map[uint64]bool{}
	base := []byte(`{"timestamp":"2026-11-21T10:48:03.123456Z","event_type":"flow"}`)
	for pos := range base {
		for bit := 0; bit < 8; bit++ {
			b := append([]byte(nil), base...)
			b[pos] ^= 1 << bit
			h := EventID(b)
			if seen[h] {
				t.Fatalf("collision flipping bit %d of byte %d", bit, pos)
			}
			seen[h] = true
		}
	}
}

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`q"uote\back`, `"q\"uote\\back"`},
		{"line\nfeed\ttab\r", `"line\nfeed\ttab\r"`},
		{"\x00\x1f\x7f", `"\u0000\u001f\u007f"`},
		{"bad \xff utf8", `"bad \ufffd utf8"`},
		{"ünïcødé 한국", `"ünïcødé 한국"`},
		{"sep\u2028x", `"sep\u2028x"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var s string
		if err := json.Unmarshal([]byte(got), &s); err != nil {
			t.Errorf("AppendString(%q) is not valid JSON: %v", tt.in, err)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("GET /\r\n\"x\"\xff")
	f.Fuzz(func(t *testing.T, s string) {
		var out string
		if err := json.Unmarshal(AppendString(nil, s), &out); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
	})
}

func BenchmarkAppendJSONFlow(b *testing.B) {
	e := &Event{Type: TypeFlow, Timestamp: 1763722083123456789, Sensor: "edge-1", FlowID: 42, CommunityID: "1:abcdefghijklmnopqrstuvwxyz0=",
		SrcIP: netip.MustParseAddr("192.0.2.10"), DestIP: netip.MustParseAddr("198.51.100.20"), SrcPort: 40000, DestPort: 443, Proto: 6,
		Flow: &FlowInfo{PktsToServer: 3, State: "closed", Reason: "timeout", IsTCP: true, History: "ShADadFf"}}
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = e.AppendJSON(buf[:0])
	}
}

func TestAppendJSONAnomaly(t *testing.T) {
	e := &Event{Type: TypeAnomaly, Sensor: "s", Anomaly: &Anomaly{Type: "port_scan", Event: "horizontal",
		Detail: []Detail{Num("ports", 1), Num("targets", 120), Str("flags", "S")}}}
	got := string(e.AppendJSON(nil))
	if !strings.Contains(got, `,"anomaly":{"type":"port_scan","event":"horizontal","detail":{"ports":1,"targets":120,"flags":"S"}}`) {
		t.Errorf("got %s", got)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got), &m); err != nil {
		t.Fatal(err)
	}
}
