package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/metrics"
	"github.com/nunchi-sensor/nunchi/pipeline"
)

// addrLog is a slog handler that passes on the address the metrics
// endpoint reports when it starts listening.
type addrLog struct{ addr chan string }

func (h addrLog) Enabled(context.Context, slog.Level) bool { return true }
func (h addrLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "metrics endpoint listening" {
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "addr" {
				select {
				case h.addr <- a.Value.String():
				default:
				}
			}
			return true
		})
	}
	return nil
}
func (h addrLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h addrLog) WithGroup(string) slog.Handler      { return h }

// gateWriter is the JSONL sink's output. The sink writes the final stats
// event at its last flush, after the fan-out has counted every event as
// written: the writer holds that flush until the test has scraped, so the
// scrape sees the counters as Replay will return them.
type gateWriter struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	once    sync.Once
	held    chan struct{} // closed when the final flush is held
	release chan struct{}
}

func (g *gateWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`"event_type":"stats"`)) {
		g.once.Do(func() { close(g.held) })
		<-g.release
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.buf.Write(p)
}

func metricsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func scrapeMetrics(t *testing.T, addr string) map[string]*metrics.ParsedFamily {
	t.Helper()
	code, body := metricsGet(t, "http://"+addr+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	fams, err := metrics.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return fams
}

func metricValue(t *testing.T, fams map[string]*metrics.ParsedFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Errorf("%s missing", name)
		return -1
	}
	v, ok := f.Value(labels...)
	if !ok {
		t.Errorf("%s%v missing", name, labels)
		return -1
	}
	return v
}

// TestMetricsEndpointReplay replays demo.pcap with pacing and --metrics on
// a free port: /readyz is 200 while the replay runs and 503 once it has
// read everything; a scrape taken after the last event was written (the
// final flush is held) equals, series for series, the exposition of the
// Stats that Replay returns, and matches the stats event; the server is
// gone when Replay returns.
func TestMetricsEndpointReplay(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sensor = "metrics-test"
	cfg.Capture.Shards = 2
	cfg.Capture.Speed = 5 // ~10 s of capture in ~2 s
	cfg.Sinks.JSONL.Path = "-"
	cfg.Sinks.FlushInterval = time.Hour // one flush: the last one
	cfg.Metrics.Listen = "127.0.0.1:0"
	out := &gateWriter{held: make(chan struct{}), release: make(chan struct{})}
	addrs := make(chan string, 1)
	type result struct {
		st  pipeline.Stats
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := Replay(context.Background(), cfg, ReplayOptions{
			Files:  []string{filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")},
			Stdout: out,
		}, slog.New(addrLog{addrs}))
		done <- result{st, err}
	}()
	released := false
	defer func() {
		if !released {
			close(out.release)
		}
	}()
	var addr string
	select {
	case addr = <-addrs:
	case r := <-done:
		t.Fatalf("replay ended before the endpoint listened: %v", r.err)
	case <-time.After(30 * time.Second):
		t.Fatal("no metrics endpoint")
	}

	if code, body := metricsGet(t, "http://"+addr+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	// Ready while replaying (pacing keeps it running for seconds).
	sawReady := false
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if code, _ := metricsGet(t, "http://"+addr+"/readyz"); code == 200 {
			sawReady = true
			break
		}
	}
	if !sawReady {
		t.Error("/readyz never answered 200 during the replay")
	}
	mid := scrapeMetrics(t, addr)
	if v := metricValue(t, mid, "nunchi_ready"); v != 1 {
		t.Errorf("nunchi_ready during the replay = %v", v)
	}

	select {
	case <-out.held:
	case <-time.After(60 * time.Second):
		t.Fatal("the final flush never came")
	}
	if code, _ := metricsGet(t, "http://"+addr+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the replay read everything: %d, want 503", code)
	}
	got := scrapeMetrics(t, addr)
	close(out.release)
	released = true
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	st := r.st

	// The scrape equals the exposition of the final Stats, series for series.
	b := metrics.NewBuilder()
	metrics.WriteStats(b, &st)
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	want, err := metrics.Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, wf := range want {
		gf := got[name]
		if gf == nil {
			t.Errorf("%s missing from the scrape", name)
			continue
		}
		if len(gf.Samples) != len(wf.Samples) {
			t.Errorf("%s: %d series scraped, %d in the final stats", name, len(gf.Samples), len(wf.Samples))
		}
		for _, s := range wf.Samples {
			var labels []string
			for k, v := range s.Labels {
				labels = append(labels, k, v)
			}
			if v, ok := gf.Value(labels...); !ok || v != s.Value {
				t.Errorf("%s%v: scraped %v (present %v), final stats %v", name, s.Labels, v, ok, s.Value)
			}
			n++
		}
	}
	if n < 50 {
		t.Errorf("only %d series compared", n)
	}
	// Values a reader checks by eye: demo.pcap's frames, flows and events.
	if v := metricValue(t, got, "nunchi_capture_frames_total"); v != 82 || float64(st.Capture.Frames) != v {
		t.Errorf("frames: scraped %v, stats %d, want 82", v, st.Capture.Frames)
	}
	if v := metricValue(t, got, "nunchi_flows_created_total"); v != 12 {
		t.Errorf("flows created: %v, want 12", v)
	}
	if v := metricValue(t, got, "nunchi_events_total", "event_type", "tls"); v != 3 {
		t.Errorf("tls events: %v, want 3", v)
	}
	// Every event, the stats event too, was written by the JSONL sink.
	lines := strings.Count(out.buf.String(), "\n")
	if v := metricValue(t, got, "nunchi_sink_written_total", "sink", "jsonl"); v != float64(lines) {
		t.Errorf("jsonl written: scraped %v, %d lines out", v, lines)
	}
	if v := metricValue(t, got, "nunchi_sink_queued_events", "sink", "jsonl"); v != 0 {
		t.Errorf("jsonl queued: %v", v)
	}
	if v := metricValue(t, got, "nunchi_ready"); v != 0 {
		t.Errorf("nunchi_ready after the replay = %v", v)
	}

	// The stats event agrees with the endpoint on the pipeline's counters.
	var ev struct {
		Stats pipeline.Stats `json:"stats"`
	}
	all := out.buf.String()
	i := strings.LastIndex(all, `{"timestamp"`)
	if err := json.Unmarshal([]byte(all[i:]), &ev); err != nil {
		t.Fatal(err)
	}
	se := ev.Stats
	for _, c := range []struct {
		name   string
		labels []string
		want   uint64
	}{
		{"nunchi_capture_frames_total", nil, se.Capture.Frames},
		{"nunchi_capture_bytes_total", nil, se.Capture.Bytes},
		{"nunchi_decoder_decoded_total", nil, se.Decoder.Decoded},
		{"nunchi_decoder_dropped_total", []string{"reason", "non_ip"}, se.Decoder.Dropped["non_ip"]},
		{"nunchi_flows_created_total", nil, se.Flows.Created},
		{"nunchi_flows_ended_total", []string{"reason", "shutdown"}, se.Flows.Ended["shutdown"]},
		{"nunchi_streams_bytes_total", nil, se.Streams.Bytes},
		{"nunchi_events_total", []string{"event_type", "flow"}, se.Events["flow"]},
		{"nunchi_events_total", []string{"event_type", "dns"}, se.Events["dns"]},
	} {
		if v := metricValue(t, got, c.name, c.labels...); v != float64(c.want) {
			t.Errorf("%s%v: scraped %v, stats event %d", c.name, c.labels, v, c.want)
		}
	}

	// The server went with the replay.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("metrics endpoint still accepting after Replay returned")
	}
}

// TestMetricsListenBusy: a port in use fails the run at start, with a
// message naming the address.
func TestMetricsListenBusy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg := DefaultConfig()
	cfg.Sensor = "metrics-test"
	cfg.Sinks.JSONL.Path = "-"
	cfg.Metrics.Listen = ln.Addr().String()
	_, err = Replay(context.Background(), cfg, ReplayOptions{
		Files:  []string{filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")},
		Stdout: io.Discard,
	}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) {
		t.Fatalf("err = %v, want a listen error naming %s", err, ln.Addr())
	}
}

func TestMetricsConfigValidate(t *testing.T) {
	for in, ok := range map[string]bool{"": true, "127.0.0.1:9911": true, ":9911": true, "[::1]:9911": true, "9911": false, "localhost": false} {
		if err := (MetricsConfig{Listen: in}).Validate(); (err == nil) != ok {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestMetricsEndpointLive: live capture from the SPAN lab (two shards)
// with --metrics: /readyz is 200 while capturing, the per-socket kernel
// series name the interface and both sockets, what a scrape counts never
// exceeds the final Stats, and the endpoint is gone after shutdown.
func TestMetricsEndpointLive(t *testing.T) {
	lab := testutil.StartSpanLab(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := liveTestConfig(t, lab.SensorIf, 2, filepath.Join(t.TempDir(), "live.jsonl"))
	cfg.Metrics.Listen = addr
	run := startLive(t, cfg, LiveOptions{})
	if code, _ := metricsGet(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz while capturing: %d", code)
	}
	lab.Traffic(t)
	time.Sleep(500 * time.Millisecond)
	fams := scrapeMetrics(t, addr)
	st := run.stop(t)

	if v := metricValue(t, fams, "nunchi_ready"); v != 1 {
		t.Errorf("nunchi_ready = %v", v)
	}
	var kernel float64
	for _, sock := range []string{"0", "1"} {
		v := metricValue(t, fams, "nunchi_capture_kernel_packets_total", "interface", lab.SensorIf, "socket", sock)
		kernel += v
		if d := metricValue(t, fams, "nunchi_capture_kernel_drops_total", "interface", lab.SensorIf, "socket", sock); d != 0 {
			t.Errorf("socket %s: %v kernel drops", sock, d)
		}
	}
	if kernel == 0 || kernel > float64(st.Capture.KernelPackets) {
		t.Errorf("scraped kernel packets %v, final %d", kernel, st.Capture.KernelPackets)
	}
	for _, c := range []struct {
		name   string
		labels []string
		final  uint64
	}{
		{"nunchi_capture_frames_total", nil, st.Capture.Frames},
		{"nunchi_flows_created_total", nil, st.Flows.Created},
		{"nunchi_events_total", []string{"event_type", "tls"}, st.Events["tls"]},
		{"nunchi_events_total", []string{"event_type", "http"}, st.Events["http"]},
	} {
		if v := metricValue(t, fams, c.name, c.labels...); v <= 0 || v > float64(c.final) {
			t.Errorf("%s%v: scraped %v, final %d", c.name, c.labels, v, c.final)
		}
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Error("metrics endpoint still accepting after live capture stopped")
	}
}
