package pipeline

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// benchTruth is the part of benchgen's truth file this test checks.
type benchTruth struct {
	FlowsByKind  map[string]int
	TLSWithSNI   int
	HTTPRequests int
	DNSQueries   int
	DNSResponses int
	QUICWithSNI  int
}

// TestBenchgenTruth replays a generated ISP-mix capture with every parser
// on and compares the event counts with the generator's truth file.
func TestBenchgenTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a 30 MB capture")
	}
	path := benchgenPcap(t, 30)
	raw, err := os.ReadFile(path + ".truth.json")
	if err != nil {
		t.Fatal(err)
	}
	var truth benchTruth
	if err := json.Unmarshal(raw, &truth); err != nil {
		t.Fatal(err)
	}
	cfg := Config{Sensor: "truth", Shards: 2, Decode: capture.DefaultDecoderConfig(), Flow: reassembly.DefaultFlowConfig(),
		Streams: reassembly.DefaultStreamConfig(), Protocols: DefaultProtocols()}
	evs, st, err := replayFile(t, path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var flows, tlsSNI, http, dnsQ, dnsA, quicSNI int
	for _, e := range evs {
		switch {
		case e.Type == detect.TypeFlow:
			flows++
		case e.TLS != nil && e.TLS.SNI != "":
			tlsSNI++
		case e.HTTP != nil:
			http++
		case e.DNS != nil && e.DNS.Type == "query":
			dnsQ++
		case e.DNS != nil && e.DNS.Type == "answer":
			dnsA++
		case e.QUIC != nil && e.QUIC.SNI != "":
			quicSNI++
		}
	}
	wantFlows := 0
	for _, n := range truth.FlowsByKind {
		wantFlows += n
	}
	for _, c := range []struct {
		name      string
		got, want int
	}{
		{"flows", flows, wantFlows},
		{"tls with sni", tlsSNI, truth.TLSWithSNI},
		{"http requests", http, truth.HTTPRequests},
		{"dns queries", dnsQ, truth.DNSQueries},
		{"dns answers", dnsA, truth.DNSResponses},
		{"quic with sni", quicSNI, truth.QUICWithSNI},
	} {
		if c.got != c.want {
			t.Errorf("%s: %d, truth %d", c.name, c.got, c.want)
		}
	}
	checkStatsAccounting(t, st)
}
