package pipeline

import (
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/scan"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestScanAcrossShards: nmap's 1994 SYN probes are separate flows spread
// over the shards; the one shared detector sees them all and reports the
// scan once, whatever the shard count.
func TestScanAcrossShards(t *testing.T) {
	file := filepath.Join(testutil.CorpusDir(t), "ndpi__synscan.pcap")
	for _, shards := range []int{1, 2, 4} {
		sc := scan.DefaultConfig()
		evs, _, err := replayFile(t, file, Config{Shards: shards, Protocols: DefaultProtocols(), Scan: &sc})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Type == detect.TypeAnomaly && e.Anomaly.Type == "port_scan" {
				n++
				if e.Anomaly.Event != "vertical" || e.SrcIP.String() != "172.16.0.8" {
					t.Errorf("%d shards: %s/%s from %v", shards, e.Anomaly.Type, e.Anomaly.Event, e.SrcIP)
				}
			}
		}
		if n != 1 {
			t.Errorf("%d shards: %d port_scan events, want 1", shards, n)
		}
	}
}
