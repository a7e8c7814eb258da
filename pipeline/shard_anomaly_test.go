package pipeline

import (
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/scan"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestShardAnomalies: the anomalies the shard reports itself, on real
// captures — Zeek's RST-injection capture has a forged reset (TTL 49 where
// the server's packets arrive with 46), Suricata's overlap test carries
// overlapping segments with different bytes, Arkime's CONNECT capture a
// proxy — and the project's own clean capture raises none.
func TestShardAnomalies(t *testing.T) {
	corpus := testutil.CorpusDir(t)
	cases := []struct {
		file string
		want map[string]int // "type/event" → count
	}{
		{filepath.Join(corpus, "zeek__tcp__rst-inject-rae.pcap"), map[string]int{"forged_rst/ttl_mismatch": 1}},
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
