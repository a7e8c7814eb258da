package pipeline

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
)

func writeRules(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rules.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// replayBlocks replays captures with every parser and the given rules, and
// returns the block events as "surface name list:rule" lines, sorted.
func replayBlocks(t *testing.T, rulesFile string, paths ...string) []string {
	t.Helper()
	set, err := rules.LoadFiles(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, path := range paths {
		evs, st, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig(),
			Rules: rules.NewHolder(set)})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Type != detect.TypeBlock {
				continue
			}
			n++
			b := e.Block
			if e.FlowID == 0 || e.CommunityID == "" || !e.SrcIP.IsValid() {
				t.Errorf("block event without flow context: %s", e.AppendJSON(nil))
			}
			got = append(got, b.Surface+" "+b.Name+" "+b.List+":"+b.Matched+" "+b.Action)
		}
		if uint64(n) != st.Events["block"] {
			t.Errorf("stats count %d block events, %d seen", st.Events["block"], n)
		}
	}
	sort.Strings(got)
	return got
}

// TestBlockEventsDemo: the project's own real-client capture (curl, dig,
// openssl against nginx and dnsmasq) gives exactly the expected block
// events on every surface.
func TestBlockEventsDemo(t *testing.T) {
	rf := writeRules(t, `
lists:
  - id: test
    version: "1"
    action: alert
    domains: [blocked.example]
    urls: [www.example.com/]
    cidrs: ["2001:db8::20/128"]
allow:
  domains: [ok.blocked.example]
`)
	got := replayBlocks(t, rf, filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"))
	want := []string{
		"dns_answer 2001:db8::20 test:2001:db8::20 alert",       // dig AAAA www.example.com
		"dns_query blocked.example test:blocked.example alert",  // dig blocked.example
		"http_host blocked.example test:blocked.example alert",  // curl http://blocked.example:8080/path?x=1
		"http_url www.example.com/ test:www.example.com/ alert", // curl http://www.example.com/
		"ip 2001:db8::20 test:2001:db8::20 alert",               // curl -6 https://… (TCP flow)
		"ip 2001:db8::20 test:2001:db8::20 alert",               // neighbour discovery towards the server
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("block events (-want, +got):\n%s", diff)
	}
}

// TestBlockEventsCorpus: names from the corpus on each surface (HTTP host
// and URL, TLS SNI incl. a post-quantum ClientHello, QUIC SNI, DNS query)
// give exactly one block event per visit.
func TestBlockEventsCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	rf := writeRules(t, `
lists:
  - id: corpus
    version: "2026-11-21"
    action: log
    domains: [www.mozilla.org, LH3.Google.COM., .cirrus-ci.com, www.github.com, blog.cloudflare.com]
    urls: ["bro.org/download/"]
`)
	var files []string
	for _, f := range []string{"zeek__http__pipelined-requests.pcap", "zeek__tls__chrome-1250-tls-x25519-kyber.pcap",
		"zeek__quic__chromium-115.0.5790.110-api-cirrus-com.pcap", "arkime__dns-udp.pcap", "arkime__tls13.pcap",
		"zeek__http-qinq-0.pcap"} {
		files = append(files, filepath.Join(dir, f))
	}
	got := replayBlocks(t, rf, files...)
	want := []string{
		"dns_query www.github.com corpus:www.github.com log", // two flows ask for it
		"dns_query www.github.com corpus:www.github.com log",
		"http_host www.mozilla.org corpus:www.mozilla.org log",
		"http_url bro.org/download/CHANGES.bro-aux.txt corpus:bro.org/download/ log",
		"quic_sni api.cirrus-ci.com corpus:.cirrus-ci.com log",
		"tls_sni blog.cloudflare.com corpus:blog.cloudflare.com log",
		"tls_sni lh3.google.com corpus:lh3.google.com log",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("block events (-want, +got):\n%s", strings.TrimSpace(diff))
	}
}

// swapPublisher collects events and reloads the rules from next once the
// first block event has been published: the swap happens while the replay
// runs, between two packets (batches of one).
type swapPublisher struct {
	testutil.Collector
	t       *testing.T
	holder  *rules.Holder
	next    string
	swapped bool
}

func (p *swapPublisher) Publish(evs []*detect.Event) {
	p.Collector.Publish(evs)
	for _, e := range evs {
		if e.Type == detect.TypeBlock && !p.swapped {
			p.swapped = true
			if err := p.holder.Reload(p.next); err != nil {
				p.t.Error(err)
			}
		}
	}
}

// TestRulesReloadDuringReplay: rules swapped mid-replay apply from the next
// packet on; events before the swap used the old rules, none is lost.
func TestRulesReloadDuringReplay(t *testing.T) {
	a := writeRules(t, "lists:\n  - id: a\n    version: \"1\"\n    domains: [www.example.com]\n")
	b := filepath.Join(t.TempDir(), "b.txt")
	if err := os.WriteFile(b, []byte("blocked.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	setA, err := rules.LoadFiles(a)
	if err != nil {
		t.Fatal(err)
	}
	holder := rules.NewHolder(setA)
	pub := &swapPublisher{t: t, holder: holder, next: b}
	demo := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")
	cfg := Config{Sensor: "t", Shards: 1, BatchSize: 1, QueueBatches: 2, Protocols: DefaultProtocols(),
		Decode: capture.DefaultDecoderConfig(), Flow: reassembly.DefaultFlowConfig(),
		Streams: reassembly.DefaultStreamConfig(), Rules: holder}
	r := NewReplay(cfg, discardLog(), pub, nil)
	if err := r.Run(t.Context(), []string{demo}); err != nil {
		t.Fatal(err)
	}
	var got []string
	flows := 0
	for _, e := range pub.Events() {
		switch e.Type {
		case detect.TypeBlock:
			got = append(got, e.Block.List+" "+e.Block.Surface+" "+e.Block.Name)
		case detect.TypeFlow:
			flows++
		}
	}
	want := []string{
		"a dns_query www.example.com", // the first query, under the old rules
		"b dns_query blocked.example", // after the swap
		"b http_host blocked.example",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("block events across the reload (-want, +got):\n%s", diff)
	}
	if flows != 12 {
		t.Errorf("%d flow events, want all 12", flows)
	}
	if rs := holder.Reloads(); rs.OK != 1 {
		t.Errorf("reloads %+v", rs)
	}
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
