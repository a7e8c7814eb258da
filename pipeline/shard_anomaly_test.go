package pipeline

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/scan"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestShardAnomalies: the anomalies the shard reports itself, on real
// captures — Zeek's RST-injection capture has a forged reset racing the
// handshake (TTL 46, then the server's SYN/ACK with 49), Suricata's overlap test carries
// overlapping segments with different bytes, Arkime's CONNECT capture a
// proxy — and the project's own clean capture raises none.
func TestShardAnomalies(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	cases := []struct {
		file string
		want map[string]int // "type/event" → count
	}{
		{filepath.Join(corpus, "zeek__tcp__rst-inject-rae.pcap"), map[string]int{"forged_rst/rst_then_synack": 1}},
		{filepath.Join(corpus, "sv__eve-overlap-payload-04-partial-overlap__tcp-overlap2.pcap"), map[string]int{"overlap_conflict/overlap_conflict": 1}},
		{filepath.Join(corpus, "arkime__https-connect.pcap"), map[string]int{"proxy/http_connect": 1, "tls_no_sni/tls_no_sni": 1}},
		{filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"), map[string]int{}},
		{filepath.Join(corpus, "ndpi__synscan.pcap"), map[string]int{"port_scan/vertical": 1}},
		{filepath.Join(corpus, "arkime__ah-esp.pcap"), map[string]int{"vpn/ipsec": -1}}, // ≥ 1
	}
	for _, c := range cases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			sc := scan.DefaultConfig()
			evs, _, err := replayFile(t, c.file, Config{Protocols: DefaultProtocols(), Scan: &sc})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, e := range evs {
				if e.Type == detect.TypeAnomaly {
					a := e.Anomaly
					if a.Type == "forged_rst" || a.Type == "overlap_conflict" || a.Type == "proxy" || a.Type == "tls_no_sni" ||
						a.Type == "tls_ip_sni" || a.Type == "ttl_anomaly" || a.Type == "protocol_mismatch" ||
						a.Type == "port_scan" || a.Type == "syn_flood" || (a.Type == "vpn" && a.Event == "ipsec" && e.Proto != 17) {
						got[a.Type+"/"+a.Event]++
					}
					if (e.FlowID == 0 || e.CommunityID == "") && a.Type != "port_scan" && a.Type != "syn_flood" {
						t.Errorf("anomaly without flow context: %+v", e)
					}
				}
			}
			for k, n := range c.want {
				if n < 0 && got[k] > 0 {
					continue // at least one
				}
				if got[k] != n {
					t.Errorf("%s: %d, want %d (all: %v)", k, got[k], n, got)
				}
			}
			for k, n := range got {
				if _, ok := c.want[k]; !ok {
					t.Errorf("unexpected %s ×%d", k, n)
				}
			}
		})
	}
}

// TestForgeryAttribution: Zeek's RST-injection capture. 234 ms after the
// client's SYN a RST "from the server" arrives with TTL 46 and the SYN's own
// IP-ID; 1.27 s after the SYN the real server's SYN/ACK arrives with TTL 49.
// The RST is reported when the SYN/ACK shows the port was open, attributed
// to an injector 3 hops nearer that copies the trigger's IP-ID and answers
// before one server RTT.
func TestForgeryAttribution(t *testing.T) {
	evs, _, err := replayFile(t, filepath.Join(testutil.CorpusDir(t), "zeek__tcp__rst-inject-rae.pcap"), Config{Protocols: DefaultProtocols()})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type != detect.TypeAnomaly || e.Anomaly.Type != "forged_rst" {
			continue
		}
		n++
		d := details(e.Anomaly)
		for k, want := range map[string]string{"attribution": "ttl-3/ipid:trigger_copy/before_rtt", "ipid_pattern": "trigger_copy",
			"attr_ttl_delta": "-3", "ttl_peer": "49", "server_rtt_us": "1266240", "latency_us": "233736", "timing": "before_rtt"} {
			if d[k] != want {
				t.Errorf("%s = %q, want %q (%v)", k, d[k], want, d)
			}
		}
		if e.Anomaly.Event != "rst_then_synack" {
			t.Errorf("event %q", e.Anomaly.Event)
		}
	}
	if n != 1 {
		t.Errorf("%d forged_rst events, want 1", n)
	}
}

func details(a *detect.Anomaly) map[string]string {
	m := map[string]string{}
	for _, d := range a.Detail {
		if d.IsNum {
			m[d.Key] = fmt.Sprint(d.Num)
		} else {
			m[d.Key] = d.Str
		}
	}
	return m
}

// TestMalformedSamples: the decoder's malformed-frame drops on real
// captures become sampled anomalies — every frame when the interval is
// tiny (the counts add up to the decoder's), one per reason when it is long.
func TestMalformedSamples(t *testing.T) {
	files := []string{filepath.Join(testutil.RepoRoot(t), "testdata", "pcap", "malformed.pcap"),
		filepath.Join(testutil.CorpusDir(t), "zeek__tcp__truncated-header.pcap"),
		filepath.Join(testutil.CorpusDir(t), "zeek__trunc__ip4-trunc.pcap")}
	for _, path := range files {
		for _, iv := range []time.Duration{time.Nanosecond, time.Hour} {
			t.Run(fmt.Sprintf("%s/%v", filepath.Base(path), iv), func(t *testing.T) {
				evs, st, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Anomalies: AnomalyConfig{MalformedSampleInterval: iv}})
				if err != nil {
					t.Fatal(err)
				}
				counts, events := map[string]int64{}, map[string]int{}
				for _, e := range evs {
					if e.Type == detect.TypeAnomaly && e.Anomaly.Type == "malformed" {
						d := details(e.Anomaly)
						if d["reason"] != e.Anomaly.Event {
							t.Errorf("reason %q, event %q", d["reason"], e.Anomaly.Event)
						}
						var c int64
						fmt.Sscan(d["count"], &c)
						counts[e.Anomaly.Event] += c
						events[e.Anomaly.Event]++
						if strings.Contains(e.Anomaly.Event, "tcp") && !e.SrcIP.IsValid() {
							t.Errorf("malformed TCP without its addresses: %+v", e)
						}
					}
				}
				total := 0
				for reason, n := range st.Decoder.Dropped {
					if !strings.HasPrefix(reason, "malformed_") {
						continue
					}
					total++
					if iv == time.Nanosecond && counts[reason] != int64(n) {
						t.Errorf("%s: samples count %d, decoder %d", reason, counts[reason], n)
					}
					if iv == time.Hour && (events[reason] != 1 || counts[reason] != 1) {
						t.Errorf("%s: %d samples counting %d, want one counting 1", reason, events[reason], counts[reason])
					}
				}
				if total == 0 || len(events) != total {
					t.Errorf("reasons sampled %v, decoder %v", events, st.Decoder.Dropped)
				}
				t.Logf("decoder %v → samples %v counts %v", st.Decoder.Dropped, events, counts)
			})
		}
	}
}

// TestDoHListFile: a DoH list from a file, by name and by address, on the
// nDPI ECH capture (a TLS 1.3 connection to performance.radar.cloudflare.com
// at 2606:4700::6812:1e4e); the built-in list does not name it.
func TestDoHListFile(t *testing.T) {
	path := filepath.Join(testutil.CorpusDir(t), "ndpi__tls_ech.pcapng")
	dir := t.TempDir()
	for _, c := range []struct {
		list string
		want string // matched detail; "" = no doh event
	}{
		{"", ""},
		{"# resolvers\nPerformance.Radar.Cloudflare.com.\n", "name"},
		{"*.radar.cloudflare.com\n", "name"},
		{"2606:4700::/32\n", "address"},
		{"192.0.2.1\nexample.com\n", ""},
	} {
		cfg := Config{Protocols: DefaultProtocols()}
		if c.list != "" {
			f := filepath.Join(dir, "doh.txt")
			os.WriteFile(f, []byte(c.list), 0o644)
			l, err := LoadDoHList(f)
			if err != nil {
				t.Fatal(err)
			}
			cfg.Anomalies.DoH = l
		}
		evs, _, err := replayFile(t, path, cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, e := range evs {
			if e.Type == detect.TypeAnomaly && e.Anomaly.Type == "doh" {
				got += details(e.Anomaly)["matched"]
				if e.Anomaly.Event != "tls" || e.FlowID == 0 {
					t.Errorf("%+v", e)
				}
			}
		}
		if got != c.want {
			t.Errorf("list %q: matched %q, want %q", c.list, got, c.want)
		}
	}
}
