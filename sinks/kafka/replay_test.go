package kafka_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/kafka"
	"github.com/nunchi-sensor/nunchi/sinks/kafka/kafkatest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// replayConfig sends a replay to JSONL (a file) and to Kafka with a fresh
// topic prefix, so runs against a shared broker never see each other's data.
func replayConfig(t *testing.T, broker string) (app.Config, string) {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Sensor = "kafka-it"
	cfg.Sinks.JSONL.Path = filepath.Join(t.TempDir(), "events.jsonl")
	k := &cfg.Sinks.Kafka
	k.Brokers = []string{broker}
	k.TopicPrefix = fmt.Sprintf("it%d", time.Now().UnixNano())
	k.SpoolDir = filepath.Join(t.TempDir(), "spool")
	k.BatchTimeout = 50 * time.Millisecond
	k.WriteTimeout = 5 * time.Second
	k.MaxAttempts = 2
	k.RetryBackoffMax = 500 * time.Millisecond
	k.CloseTimeout = 2 * time.Minute
	return cfg, k.TopicPrefix
}

func replay(t *testing.T, cfg app.Config, files ...string) pipeline.Stats {
	t.Helper()
	st, err := app.Replay(context.Background(), cfg, app.ReplayOptions{Files: files, Stdout: io.Discard, ShutdownGrace: 3 * time.Minute}, quiet)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// jsonlByType reads the JSONL output: event lines per event_type.
func jsonlByType(t *testing.T, path string) map[string][][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var m struct {
			Type string `json:"event_type"`
		}
		line := append([]byte(nil), sc.Bytes()...)
		if err := json.Unmarshal(line, &m); err != nil {
			t.Fatal(err)
		}
		out[m.Type] = append(out[m.Type], line)
	}
	return out
}

func kafkaDelivery(t *testing.T, st pipeline.Stats) sinks.Delivery {
	t.Helper()
	for _, s := range st.Sinks {
		if s.Name == "kafka" && s.Delivery != nil {
			if !s.Delivery.Balanced() {
				t.Errorf("kafka delivery does not balance: %+v", *s.Delivery)
			}
			return *s.Delivery
		}
	}
	t.Fatal("no kafka sink stats")
	return sinks.Delivery{}
}

func counts(vals [][]byte) map[string]int {
	m := map[string]int{}
	for _, v := range vals {
		m[string(v)]++
	}
	return m
}

// compare checks that got holds every line of want; exactly as often when
// exact, else at least once with any extra copy byte-equal (same event_id).
func compare(t *testing.T, topic string, want, got [][]byte, exact bool) (dups int) {
	t.Helper()
	w, g := counts(want), counts(got)
	for v, n := range w {
		switch {
		case g[v] < n:
			t.Errorf("%s: %d of %d copies of %s", topic, g[v], n, v)
		case g[v] > n:
			dups += g[v] - n
		}
	}
	for v := range g {
		if w[v] == 0 {
			t.Errorf("%s: unexpected value %s", topic, v)
		}
	}
	if exact && dups > 0 {
		t.Errorf("%s: %d duplicates", topic, dups)
	}
	return dups
}

// checkTopics consumes every topic of the prefix with kafka-go (and with
// kcat when withKcat) and compares it with the JSONL output of the replay.
func checkTopics(t *testing.T, addr, prefix, jsonlPath string, exact, withKcat bool) (events, dups int) {
	t.Helper()
	want := jsonlByType(t, jsonlPath)
	topics := kafkatest.Topics(t, addr, prefix+".")
	var wantTopics []string
	for typ := range want {
		wantTopics = append(wantTopics, prefix+"."+typ+".v1")
	}
	sort.Strings(wantTopics)
	if fmt.Sprint(topics) != fmt.Sprint(wantTopics) {
		t.Errorf("topics %v, want %v", topics, wantTopics)
	}
	for typ, lines := range want {
		topic := prefix + "." + typ + ".v1"
		recs := kafkatest.Consume(t, addr, topic)
		var vals [][]byte
		for _, r := range recs {
			var m struct {
				CommunityID string `json:"community_id"`
			}
			json.Unmarshal(r.Value, &m)
			if string(r.Key) != m.CommunityID {
				t.Errorf("%s: key %q, community_id %q", topic, r.Key, m.CommunityID)
			}
			vals = append(vals, r.Value)
		}
		dups += compare(t, topic, lines, vals, exact)
		events += len(lines)
		if withKcat {
			compare(t, topic+" (kcat)", lines, kafkatest.Kcat(t, addr, topic), exact)
		}
	}
	return events, dups
}

func corpusFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testutil.CorpusDir(t), "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus captures: %v", err)
	}
	return files
}

// TestReplayIntoServiceBroker replays the corpus and the demo capture into
// the broker deploy/dev/services.sh started, then reads every topic back with
// kafka-go and kcat: each event exactly once, byte-equal to the JSONL output.
func TestReplayIntoServiceBroker(t *testing.T) {
	addr := kafkatest.ServiceAddr(t)
	root := testutil.RepoRoot(t)
	for _, tc := range []struct {
		name  string
		files []string
	}{
		{"demo", []string{filepath.Join(root, "testdata", "demo.pcap")}},
		{"corpus", corpusFiles(t)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, prefix := replayConfig(t, addr)
			st := replay(t, cfg, tc.files...)
			d := kafkaDelivery(t, st)
			if d.Pending != 0 || d.DroppedTotal() != 0 || d.Sent != d.Enqueued {
				t.Errorf("delivery %+v", d)
			}
			n, _ := checkTopics(t, addr, prefix, cfg.Sinks.JSONL.Path, true, true)
			if uint64(n) != d.Sent {
				t.Errorf("%d JSONL events, %d sent", n, d.Sent)
			}
			t.Logf("%d events in %d files, each once in Kafka (kafka-go and kcat)", n, len(tc.files))
		})
	}
}

// restartableBroker is an in-process broker on a fixed port with its data on
// disk, so it can be stopped and started again with its topics intact.
type restartableBroker struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func newRestartableBroker(t *testing.T) *restartableBroker {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	b := &restartableBroker{t: t, port: port, dir: t.TempDir()}
	b.start()
	t.Cleanup(b.stop)
	return b
}

func (b *restartableBroker) addr() string { return "127.0.0.1:" + strconv.Itoa(b.port) }

func (b *restartableBroker) start() {
	var err error
	for i := 0; i < 50; i++ { // the port may take a moment to be free again
		b.c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(b.port), kfake.DataDir(b.dir),
			kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.t.Errorf("broker restart: %v", err)
}

func (b *restartableBroker) stop() {
	if b.c != nil {
		b.c.Close()
		b.c = nil
	}
}

// TestReplayWithBrokerStoppedAndRestarted stops the broker during a paced
// replay (stats events flow throughout) and starts it again a few seconds
// later: no event is lost, duplicates are byte-equal (same event_id).
func TestReplayWithBrokerStoppedAndRestarted(t *testing.T) {
	if testing.Short() {
		t.Skip("paced replay")
	}
	b := newRestartableBroker(t)
	cfg, prefix := replayConfig(t, b.addr())
	cfg.Capture.Speed = 1.5 // demo.pcap spans 10.6 s: about 7 s
	cfg.Stats.Interval = 100 * time.Millisecond
	go func() {
		time.Sleep(1500 * time.Millisecond)
		b.stop()
		time.Sleep(4 * time.Second)
		b.start()
	}()
	st := replay(t, cfg, filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"))
	d := kafkaDelivery(t, st)
	if d.Pending != 0 || d.DroppedTotal() != 0 || d.Sent != d.Enqueued || d.Spooled == 0 {
		t.Errorf("delivery %+v (want everything sent, some of it through the spool)", d)
	}
	n, dups := checkTopics(t, b.addr(), prefix, cfg.Sinks.JSONL.Path, false, false)
	t.Logf("%d events, %d duplicates; delivery %+v", n, dups, d)
}

// TestReplayWithSpoolFull: the broker is unreachable and the spool small;
// the replay runs to the end, JSONL gets every event, Kafka's losses are
// counted as spool_full drops and the counters balance.
func TestReplayWithSpoolFull(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	cfg, _ := replayConfig(t, dead)
	cfg.Sinks.Kafka.SpoolMaxBytes = config.MiB
	cfg.Sinks.Kafka.MemoryEvents = 100
	cfg.Sinks.Kafka.CloseTimeout = time.Second
	files := corpusFiles(t)
	files = append(append(append(files, files...), files...), files...) // enough events to fill 1 MiB
	st := replay(t, cfg, files...)
	d := kafkaDelivery(t, st)
	lines := 0
	for _, l := range jsonlByType(t, cfg.Sinks.JSONL.Path) {
		lines += len(l)
	}
	if d.Dropped[kafka.DropSpoolFull] == 0 || d.Enqueued != uint64(lines) || d.Sent != 0 {
		t.Errorf("delivery %+v, %d JSONL events", d, lines)
	}
	t.Logf("%d events: %d spooled, %d dropped (spool full)", lines, d.Pending, d.Dropped[kafka.DropSpoolFull])
}

// TestSpoolOfAnEarlierReplayIsSentByTheNext: a replay that cannot reach
// the broker leaves its events in the spool; the next replay, with the
// broker up, sends them (before its own) and both are complete in Kafka.
func TestSpoolOfAnEarlierReplayIsSentByTheNext(t *testing.T) {
	_, addr := kafkatest.Broker(t)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	cfg, prefix := replayConfig(t, dead)
	cfg.Sinks.Kafka.CloseTimeout = 500 * time.Millisecond
	demo := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")
	d1 := kafkaDelivery(t, replay(t, cfg, demo))
	if d1.Sent != 0 || d1.Pending != d1.Enqueued {
		t.Fatalf("first run %+v", d1)
	}
	first, _ := os.ReadFile(cfg.Sinks.JSONL.Path)

	cfg.Sinks.Kafka.Brokers = []string{addr}
	cfg.Sinks.Kafka.CloseTimeout = time.Minute
	cfg.Sensor = "kafka-it-2" // different events from the same capture
	cfg.Sinks.JSONL.Path = filepath.Join(t.TempDir(), "second.jsonl")
	d2 := kafkaDelivery(t, replay(t, cfg, demo))
	if d2.Recovered != d1.Pending || d2.Sent != d2.Recovered+d2.Enqueued || d2.Pending != 0 {
		t.Errorf("second run %+v", d2)
	}
	second, _ := os.ReadFile(cfg.Sinks.JSONL.Path)
	both := filepath.Join(t.TempDir(), "both.jsonl")
	os.WriteFile(both, append(first, second...), 0o644)
	n, _ := checkTopics(t, addr, prefix, both, true, false)
	if !bytes.Contains(first, []byte(`"sensor":"kafka-it"`)) || uint64(n) != d2.Sent {
		t.Errorf("%d events in both runs' JSONL, %d sent", n, d2.Sent)
	}
}

// TestConfigFile: the sinks.kafka keys load from a config file through the
// application's strict loader, and mistakes name their key.
func TestConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(body string) string {
		p := filepath.Join(dir, "nunchi.yaml")
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	cfg, err := app.LoadConfig(write(`
sensor: s1
sinks:
  kafka:
    brokers: [127.0.0.1:9092, "[::1]:9093"]
    topic_prefix: ops
    compression: zstd
    spool_dir: /var/lib/nunchi/spool/kafka
    spool_max_bytes: 2GiB
    required_acks: all
    batch_size: 1000
    batch_bytes: 512KiB
    batch_timeout: 50ms
    tls: {enabled: true, ca_file: /etc/ca.pem, insecure_skip_verify: false}
    sasl: {mechanism: SCRAM-SHA-512, username: nunchi, password_file: /etc/nunchi/kafka.pw}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	k := cfg.Sinks.Kafka
	if len(k.Brokers) != 2 || k.Compression != "zstd" || k.SpoolMaxBytes != 2*config.GiB || k.BatchBytes != 512*config.KiB ||
		k.BatchTimeout != 50*time.Millisecond || !k.TLS.Enabled || k.SASL.Mechanism != "SCRAM-SHA-512" || k.CloseTimeout != kafka.DefaultConfig().CloseTimeout {
		t.Errorf("loaded %+v", k)
	}
	for body, want := range map[string]string{
		"sinks:\n  kafka: {required_acks: \"1\"}\n": "sinks.kafka",
		"sinks:\n  kafka: {compression: brotli}\n":  "compression",
		"sinks:\n  kafka: {sasl: {mechanism: x}}\n": "sasl.mechanism",
		"sinks:\n  kafka: {batch_bytez: 1}\n":       "sinks.kafka.batch_bytez",
		"sinks:\n  kafka: {brokers: [kafka-1]}\n":   "brokers[0]",
		"sinks:\n  kafka: {spool_max_bytes: 1M}\n":  "sinks.kafka.spool_max_bytes",
	} {
		if _, err := app.LoadConfig(write(body), nil); err == nil || !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("%q: error %v, want it to mention %s", body, err, want)
		}
	}
}
