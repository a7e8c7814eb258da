package pipeline

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// corpusExpect is the part of ../shared/corpus/expected.json this test reads.
type corpusExpect struct {
	Pcaps []struct {
		File   string `json:"file"`
		TShark struct {
			Packets          int `json:"packets"`
			TCPStreams       int `json:"tcp_streams"`
			UDPConversations int `json:"udp_conversations"`
		} `json:"tshark"`
	} `json:"pcaps"`
}

// flowDeviations are the captures where nunchi's flow counts differ from
// tshark's stream/conversation counts, with nunchi's exact counts and the
// reason. docs/conformance.md carries the same table; keep them in step.
var flowDeviations = map[string]struct {
	TCP, UDP int
	Why      string
}{
	"zeek__tunnels__vxlan-encapsulated-http.pcap": {1, 0, "tshark also counts the VXLAN transport conversation (UDP 4789); nunchi keys flows on the innermost tuple and records the tunnel on the inner flow"},
	"sv__vxlan-decoder-03__vxlan.pcap":            {4, 9, "13 of tshark's 22 UDP conversations are VXLAN transport (outer source port varies per inner flow)"},
	"zeek__tunnels__Teredo.pcap":                  {4, 5, "2 of tshark's 7 UDP conversations are Teredo transport (UDP 3544)"},
	"arkime__IKEv2.pcap":                          {0, 2, "the first IKE_SA_INIT goes unanswered for 32 s, longer than the UDP new-flow timeout (30 s, Suricata's default): its retry starts a second flow"},
	"zeek__socks.pcap":                            {4, 0, "after the close, three FIN retransmissions arrive 64 s apart, longer than the closed timeout (60 s): each is a one-packet flow (history F)"},
	"ndpi__tor.pcap":                              {8, 12, "Dropbox LAN-sync broadcasts every 30.0x s exceed the UDP new-flow timeout (30 s): one flow each; tshark conversations never time out"},
}

// replayFile runs one capture through a single-shard pipeline and returns
// its events and stats.
func replayFile(t testing.TB, path string, cfg Config) ([]*detect.Event, Stats, error) {
	t.Helper()
	var col testutil.Collector
	if cfg.Shards == 0 {
		cfg.Shards = 1
	}
	if cfg.Decode.VXLANPorts == nil {
		cfg.Decode = capture.DefaultDecoderConfig()
	}
	if cfg.Flow.MaxFlows == 0 {
		cfg.Flow = reassembly.DefaultFlowConfig()
	}
	if cfg.Sensor == "" {
		cfg.Sensor = "test"
	}
	if cfg.BatchSize == 0 { // small captures: small batches keep tests fast
		cfg.BatchSize, cfg.QueueBatches = 32, 2
	}
	r := NewReplay(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &col, nil)
	err := r.Run(context.Background(), []string{path})
	return col.Events(), r.Stats(), err
}

func TestCorpusConformance(t *testing.T) {
	dir := testutil.CorpusDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp corpusExpect
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Pcaps) == 0 {
		t.Fatal("expected.json lists no captures")
	}
	seen := map[string]bool{}
	for _, pc := range exp.Pcaps {
		t.Run(pc.File, func(t *testing.T) {
			events, st, err := replayFile(t, filepath.Join(dir, pc.File), Config{})
			if err != nil {
				t.Fatalf("replay: %v", err)
			}
			tcp, udp := 0, 0
			for _, e := range events {
				if e.Type != detect.TypeFlow {
					continue
				}
				switch e.Proto {
				case capture.ProtoTCP:
					tcp++
				case capture.ProtoUDP:
					udp++
				}
			}
			wantTCP, wantUDP := pc.TShark.TCPStreams, pc.TShark.UDPConversations
			if dev, ok := flowDeviations[pc.File]; ok {
				seen[pc.File] = true
				wantTCP, wantUDP = dev.TCP, dev.UDP
			}
			if tcp != wantTCP || udp != wantUDP {
				t.Errorf("flows: tcp %d udp %d, want tcp %d udp %d (tshark: %d/%d)", tcp, udp, wantTCP, wantUDP,
					pc.TShark.TCPStreams, pc.TShark.UDPConversations)
			}
			if st.Capture.Frames != uint64(pc.TShark.Packets) {
				t.Errorf("frames read %d, tshark %d", st.Capture.Frames, pc.TShark.Packets)
			}
			checkStatsAccounting(t, st)
		})
	}
	for f := range flowDeviations {
		if !seen[f] {
			t.Errorf("deviation listed for %s, which is not in the corpus", f)
		}
	}
}

// checkStatsAccounting asserts the per-stage equations of a finished replay.
func checkStatsAccounting(t testing.TB, st Stats) {
	t.Helper()
	if st.Decoder.Frames != st.Capture.Frames {
		t.Errorf("decoder saw %d frames, reader read %d", st.Decoder.Frames, st.Capture.Frames)
	}
	var dropped uint64
	for _, n := range st.Decoder.Dropped {
		dropped += n
	}
	if st.Decoder.Decoded+dropped != st.Decoder.Frames {
		t.Errorf("decoder: decoded %d + dropped %d != frames %d", st.Decoder.Decoded, dropped, st.Decoder.Frames)
	}
	if st.Flows.Packets != st.Decoder.Decoded {
		t.Errorf("flows got %d packets, decoder delivered %d", st.Flows.Packets, st.Decoder.Decoded)
	}
	var ended uint64
	for _, n := range st.Flows.Ended {
		ended += n
	}
	if st.Flows.Created != ended+st.Flows.Active || st.Flows.Active != 0 {
		t.Errorf("flows: created %d != ended %d + active %d (want 0 active after the replay)", st.Flows.Created, ended, st.Flows.Active)
	}
	if st.Events["flow"] != st.Flows.Created {
		t.Errorf("flow events %d != flows created %d", st.Events["flow"], st.Flows.Created)
	}
}
