package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/sinks"
)

func TestBuilderRoundTrip(t *testing.T) {
	b := NewBuilder()
	b.Counter("a_total", "help with \\ and\nnewline", 3, "l", `quote " back \ nl`+"\n")
	b.Gauge("g", "a gauge", 1.5)
	b.Counter("a_total", "help with \\ and\nnewline", 4, "l", "other")
	b.GaugeUint("big", "exact", math.MaxUint64>>11)
	b.Gauge("inf", "inf", math.Inf(1))
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	// Samples of a family are written together, though added apart.
	if i, j, k := strings.Index(text, `a_total{l="other"}`), strings.Index(text, "a_total{l=\"quote"), strings.Index(text, "# TYPE g gauge"); !(j < i && i < k) {
		t.Errorf("family a_total not contiguous:\n%s", text)
	}
	fams, err := Parse(strings.NewReader(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	a := fams["a_total"]
	if a == nil || a.Type != "counter" || a.Help != "help with \\ and\nnewline" {
		t.Fatalf("a_total = %+v", a)
	}
	if v, ok := a.Value("l", `quote " back \ nl`+"\n"); !ok || v != 3 {
		t.Errorf("escaped label: %v %v", v, ok)
	}
	if v, _ := fams["g"].Value(); v != 1.5 {
		t.Errorf("g = %v", v)
	}
	if v, _ := fams["big"].Value(); v != float64(math.MaxUint64>>11) {
		t.Errorf("big = %v", v)
	}
	if v, _ := fams["inf"].Value(); !math.IsInf(v, 1) {
		t.Errorf("inf = %v", v)
	}
	if !strings.Contains(text, "big 9007199254740991\n") {
		t.Errorf("large integer not written exactly:\n%s", text)
	}
}

func TestBuilderMisuse(t *testing.T) {
	for name, f := range map[string]func(b *Builder){
		"counter without _total": func(b *Builder) { b.Counter("a", "h", 1) },
		"gauge with _total":      func(b *Builder) { b.Gauge("a_total", "h", 1) },
		"bad name":               func(b *Builder) { b.Gauge("a-b", "h", 1) },
		"bad label":              func(b *Builder) { b.Gauge("a", "h", 1, "1x", "v") },
		"reserved label":         func(b *Builder) { b.Gauge("a", "h", 1, "__name__", "v") },
		"odd labels":             func(b *Builder) { b.Gauge("a", "h", 1, "x") },
		"label twice":            func(b *Builder) { b.Gauge("a", "h", 1, "x", "1", "x", "2") },
		"series twice":           func(b *Builder) { b.Gauge("a", "h", 1, "x", "1"); b.Gauge("a", "h", 2, "x", "1") },
		"type changed":           func(b *Builder) { b.Gauge("a_total", "h", 1); b.Counter("a_total", "h", 1) },
		"help changed":           func(b *Builder) { b.Gauge("a", "h", 1, "x", "1"); b.Gauge("a", "other", 1, "x", "2") },
	} {
		b := NewBuilder()
		f(b)
		if _, err := b.WriteTo(io.Discard); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseStrict(t *testing.T) {
	good := "# HELP a_total h\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"2\",} 2 1700000000000\n# plain comment\n\nb 1\n"
	if _, err := Parse(strings.NewReader(good)); err != nil {
		t.Fatalf("good input: %v", err)
	}
	for name, in := range map[string]string{
		"no final newline":  "a 1",
		"family split":      "a 1\nb 1\na{x=\"1\"} 2\n",
		"type after sample": "a 1\n# TYPE a gauge\n",
		"two types":         "# TYPE a gauge\n# TYPE a gauge\n",
		"two helps":         "# HELP a x\n# HELP a y\n",
		"unknown type":      "# TYPE a thing\n",
		"duplicate series":  "a{x=\"1\"} 1\na{x=\"1\"} 2\n",
		"bad value":         "a one\n",
		"bad escape":        "a{x=\"\\t\"} 1\n",
		"unquoted":          "a{x=1} 1\n",
		"unterminated":      "a{x=\"1} 1\n",
		"label twice":       "a{x=\"1\",x=\"2\"} 1\n",
		"bad metric name":   "1a 1\n",
		"bad label name":    "a{1x=\"1\"} 1\n",
		"no value":          "a{x=\"1\"}\n",
		"extra field":       "a 1 2 3\n",
		"bad timestamp":     "a 1 x\n",
		"quote in help":     "# HELP a x\\\"y\n",
	} {
		if _, err := Parse(strings.NewReader(in)); err == nil {
			t.Errorf("%s: %q parsed without error", name, in)
		}
	}
}

// fill sets every number in v to a distinct value, every string to a name,
// gives slices two elements and maps two keys (names no list knows, so the
// exporter's catch-all for new keys is exercised too).
func fill(v reflect.Value, n *uint64) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem(), n)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i), n)
			}
		}
	case reflect.Uint64, reflect.Uint32, reflect.Uint, reflect.Uint16:
		*n++
		v.SetUint(*n)
	case reflect.Int, reflect.Int64:
		*n++
		v.SetInt(int64(*n))
	case reflect.String:
		*n++
		v.SetString("s" + strconv.FormatUint(*n, 10))
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := 0; i < 2; i++ {
			fill(v.Index(i), n)
		}
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i < 2; i++ {
			k := reflect.New(v.Type().Key()).Elem()
			fill(k, n)
			e := reflect.New(v.Type().Elem()).Elem()
			fill(e, n)
			v.SetMapIndex(k, e)
		}
	}
}

// leaves flattens JSON into path → value for every number.
func leaves(prefix string, v any, out map[string]float64, ctx map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			p := k
			if prefix != "" {
				p = prefix + "." + k
			}
			leaves(p, e, out, x)
		}
	case []any:
		for i, e := range x {
			leaves(fmt.Sprintf("%s[%d]", prefix, i), e, out, ctx)
		}
	case float64:
		out[prefix] = x
	}
}

// series maps a stats JSON path to the series that must carry its value.
// Sums (kernel_packets …) map to "" and are checked as sums.
func series(st *pipeline.Stats, path string) (name string, labels []string) {
	simple := map[string]string{
		"capture.files": "nunchi_capture_files_total", "capture.frames": "nunchi_capture_frames_total",
		"capture.bytes": "nunchi_capture_bytes_total", "capture.read_errors": "nunchi_capture_read_errors_total",
		"capture.span_duplicates": "nunchi_capture_span_duplicates_total",
		"decoder.frames":          "nunchi_decoder_frames_total", "decoder.decoded": "nunchi_decoder_decoded_total",
		"decoder.tunnelled": "nunchi_decoder_tunnelled_total", "decoder.truncated": "nunchi_decoder_truncated_total",
		"defrag.fragments": "nunchi_defrag_fragments_total", "defrag.reassembled": "nunchi_defrag_reassembled_total",
		"defrag.reassembled_fragments": "nunchi_defrag_reassembled_fragments_total", "defrag.held": "nunchi_defrag_held_fragments",
		"defrag.overlaps": "nunchi_defrag_overlaps_total", "defrag.overlap_conflicts": "nunchi_defrag_overlap_conflicts_total",
		"flows.packets": "nunchi_flows_packets_total", "flows.created": "nunchi_flows_created_total",
		"flows.active": "nunchi_flows_active", "flows.peak": "nunchi_flows_peak",
		"flows.emergency_entered": "nunchi_flows_emergency_entered_total",
		"streams.streams":         "nunchi_streams_total", "streams.segments": "nunchi_streams_segments_total",
		"streams.bytes": "nunchi_streams_bytes_total", "streams.gaps": "nunchi_streams_gaps_total",
		"streams.gap_bytes": "nunchi_streams_gap_bytes_total", "streams.midstream": "nunchi_streams_midstream_total",
		"streams.connections": "nunchi_streams_connections", "streams.connections_peak": "nunchi_streams_connections_peak",
		"streams.buffered_pages": "nunchi_streams_buffered_pages",
		"streams.windows_denied": "nunchi_streams_windows_denied_total",
		"streams.overlaps":       "nunchi_streams_overlaps_total", "streams.overlap_conflicts": "nunchi_streams_overlap_conflicts_total",
		"shards":         "nunchi_shards",
		"inject.offered": "nunchi_inject_offered_total", "inject.sent": "nunchi_inject_sent_total",
		"inject.failed": "nunchi_inject_failed_total", "inject.packets": "nunchi_inject_packets_total",
		"inject.own_seen": "nunchi_inject_own_seen_total",
		"nat.sources":     "nunchi_nat_sources", "nat.evicted": "nunchi_nat_sources_evicted_total",
		"nat.expired": "nunchi_nat_sources_expired_total", "nat.syns": "nunchi_nat_syns_total",
		"nat.paired_flows": "nunchi_nat_paired_flows_total", "nat.reports": "nunchi_nat_reports_total",
		"nat.pending_drops": "nunchi_nat_pairing_dropped_total",
	}
	if n, ok := simple[path]; ok {
		return n, nil
	}
	switch path {
	case "capture.kernel_packets", "capture.kernel_drops", "capture.kernel_freezes":
		return "", nil
	case "decoder.ipv4":
		return "nunchi_decoder_ip_packets_total", []string{"version", "4"}
	case "decoder.ipv6":
		return "nunchi_decoder_ip_packets_total", []string{"version", "6"}
	case "decoder.tcp", "decoder.udp", "decoder.icmp", "decoder.sctp":
		return "nunchi_decoder_transport_packets_total", []string{"protocol", strings.TrimPrefix(path, "decoder.")}
	case "decoder.other_ip":
		return "nunchi_decoder_transport_packets_total", []string{"protocol", "other"}
	case "nat.stun", "nat.ssdp", "nat.soap":
		return "nunchi_nat_messages_total", []string{"protocol", strings.TrimPrefix(path, "nat.")}
	case "inject.won", "inject.lost", "inject.unknown":
		return "nunchi_inject_outcomes_total", []string{"outcome", strings.TrimPrefix(path, "inject.")}
	}
	for prefix, m := range map[string][2]string{
		"decoder.dropped.":   {"nunchi_decoder_dropped_total", "reason"},
		"defrag.dropped.":    {"nunchi_defrag_dropped_total", "reason"},
		"flows.ended.":       {"nunchi_flows_ended_total", "reason"},
		"events.":            {"nunchi_events_total", "event_type"},
		"inject.suppressed.": {"nunchi_inject_suppressed_total", "reason"},
	} {
		if k, ok := strings.CutPrefix(path, prefix); ok {
			return m[0], []string{m[1], k}
		}
	}
	var i int
	var field string
	if n, _ := fmt.Sscanf(path, "capture.sockets[%d].%s", &i, &field); n == 2 {
		s := st.Capture.Sockets[i]
		l := []string{"interface", s.Interface, "socket", strconv.Itoa(s.Socket)}
		switch field {
		case "packets", "drops", "freezes":
			return "nunchi_capture_kernel_" + field + "_total", l
		case "socket":
			return "", nil // a label
		}
	}
	if n, _ := fmt.Sscanf(path, "rules[%d].%s", &i, &field); n == 2 && field == "hits" {
		return "nunchi_rules_hits_total", []string{"list", st.Rules[i].List}
	}
	if n, _ := fmt.Sscanf(path, "sinks[%d].%s", &i, &field); n == 2 {
		s := st.Sinks[i]
		l := []string{"sink", s.Name}
		if r, ok := strings.CutPrefix(field, "delivery.dropped."); ok {
			return "nunchi_sink_delivery_dropped_total", append(l, "reason", r)
		}
		m := map[string]string{
			"offered": "nunchi_sink_offered_total", "enqueued": "nunchi_sink_enqueued_total", "written": "nunchi_sink_written_total",
			"queued": "nunchi_sink_queued_events", "flushes": "nunchi_sink_flushes_total", "flush_errors": "nunchi_sink_flush_errors_total",
			"delivery.enqueued": "nunchi_sink_delivery_enqueued_total", "delivery.sent": "nunchi_sink_delivery_sent_total",
			"delivery.retried": "nunchi_sink_delivery_retried_total", "delivery.spooled": "nunchi_sink_delivery_spooled_total",
			"delivery.recovered": "nunchi_sink_delivery_recovered_total", "delivery.pending": "nunchi_sink_delivery_pending_events",
		}
		if n, ok := m[field]; ok {
			return n, l
		}
		switch field {
		case "dropped_queue_full":
			return "nunchi_sink_dropped_total", append(l, "reason", "queue_full")
		case "dropped_write_error":
			return "nunchi_sink_dropped_total", append(l, "reason", "write_error")
		}
	}
	return "?", nil
}

// checkStats asserts that every number in st is exposed with its value.
func checkStats(t *testing.T, st *pipeline.Stats, fams map[string]*ParsedFamily) {
	t.Helper()
	js, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(js, &tree); err != nil {
		t.Fatal(err)
	}
	flat := map[string]float64{}
	leaves("", tree, flat, nil)
	paths := make([]string, 0, len(flat))
	for p := range flat {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		name, labels := series(st, p)
		switch name {
		case "?":
			t.Errorf("stats field %s has no metric: export it in WriteStats and document it in docs/metrics.md", p)
			continue
		case "":
			continue
		}
		f := fams[name]
		if f == nil {
			t.Errorf("%s: family %s missing", p, name)
			continue
		}
		got, ok := f.Value(labels...)
		if !ok {
			t.Errorf("%s: %s%v missing", p, name, labels)
		} else if got != flat[p] {
			t.Errorf("%s: %s%v = %v, want %v", p, name, labels, got, flat[p])
		}
	}
	// Sums over sockets.
	for _, s := range []struct {
		name string
		want uint64
	}{{"nunchi_capture_kernel_packets_total", st.Capture.KernelPackets}, {"nunchi_capture_kernel_drops_total", st.Capture.KernelDrops}, {"nunchi_capture_kernel_freezes_total", st.Capture.KernelFreezes}} {
		var sum float64
		if f := fams[s.name]; f != nil {
			for _, smp := range f.Samples {
				sum += smp.Value
			}
		}
		if sum != float64(s.want) {
			t.Errorf("sum of %s = %v, want %d", s.name, sum, s.want)
		}
	}
}

// TestWriteStatsCoversStats fills every field of pipeline.Stats (including
// SinkStats.Delivery) with a distinct value: each must come out in its
// series. A field added to Stats without a metric fails here.
func TestWriteStatsCoversStats(t *testing.T) {
	var st pipeline.Stats
	var n uint64
	fill(reflect.ValueOf(&st).Elem(), &n)
	// The sums are the sums of the sockets, as the pipeline computes them.
	st.Capture.KernelPackets, st.Capture.KernelDrops, st.Capture.KernelFreezes = 0, 0, 0
	for _, s := range st.Capture.Sockets {
		st.Capture.KernelPackets += s.Packets
		st.Capture.KernelDrops += s.Drops
		st.Capture.KernelFreezes += s.Freezes
	}
	st.Capture.Sockets[1].Interface = `eth"1\` // label escaping on the way
	b := NewBuilder()
	WriteStats(b, &st)
	var buf bytes.Buffer
	if _, err := b.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	fams, err := Parse(&buf)
	if err != nil {
		t.Fatal(err)
	}
	checkStats(t, &st, fams)
	// Known label values are there before they happen.
	if v, ok := fams["nunchi_decoder_dropped_total"].Value("reason", "malformed_tcp"); !ok || v != 0 {
		t.Errorf("malformed_tcp: %v %v", v, ok)
	}
	if _, ok := fams["nunchi_events_total"].Value("event_type", "anomaly"); !ok {
		t.Error("event_type=anomaly missing")
	}
	checkNaming(t, fams)
}

// checkNaming: counters end in _total, gauges do not, every family has help.
func checkNaming(t *testing.T, fams map[string]*ParsedFamily) {
	t.Helper()
	for name, f := range fams {
		if f.Help == "" {
			t.Errorf("%s has no help", name)
		}
		switch f.Type {
		case "counter":
			if !strings.HasSuffix(name, "_total") {
				t.Errorf("counter %s lacks _total", name)
			}
		case "gauge":
			if strings.HasSuffix(name, "_total") {
				t.Errorf("gauge %s ends in _total", name)
			}
		default:
			t.Errorf("%s has type %s", name, f.Type)
		}
	}
}

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func TestServer(t *testing.T) {
	before := runtime.NumGoroutine()
	var ready atomic.Bool
	var scrapes atomic.Int64
	st := pipeline.Stats{Events: map[string]uint64{"flow": 7}, Shards: 2,
		Sinks: []sinks.SinkStats{{Name: "jsonl", Offered: 9, Enqueued: 9, Written: 8, Queued: 1}}}
	srv := New("127.0.0.1:0", Source{
		Stats: func() pipeline.Stats { scrapes.Add(1); return st },
		Ready: ready.Load,
	}, nil)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	base := "http://" + srv.Addr()

	if code, body, _ := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, _, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before ready: %d", code)
	}
	ready.Store(true)
	if code, _, _ := get(t, base+"/readyz"); code != 200 {
		t.Errorf("/readyz when ready: %d", code)
	}
	code, body, hdr := get(t, base+"/metrics")
	if code != 200 || hdr.Get("Content-Type") != ContentType {
		t.Fatalf("/metrics: %d %s", code, hdr.Get("Content-Type"))
	}
	if scrapes.Load() != 1 {
		t.Errorf("stats built %d times for one scrape", scrapes.Load())
	}
	fams, err := Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	checkNaming(t, fams)
	checkStats(t, &st, fams)
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "process_resident_memory_bytes", "process_start_time_seconds", "nunchi_build_info", "go_memstats_alloc_bytes"} {
		if fams[name] == nil {
			t.Errorf("%s missing", name)
		}
	}
	if v, _ := fams["nunchi_ready"].Value(); v != 1 {
		t.Errorf("nunchi_ready = %v", v)
	}
	if v, _ := fams["process_start_time_seconds"].Value(); math.Abs(v-float64(time.Now().Unix())) > 3600 {
		t.Errorf("process_start_time_seconds = %v", v)
	}
	if code, _, _ := get(t, base+"/nope"); code != 404 {
		t.Errorf("/nope: %d", code)
	}

	// The port is taken: a second server fails at Start.
	if err := New(srv.Addr(), Source{}, nil).Start(); err == nil {
		t.Error("second server on the same port started")
	}

	// A client that keeps a connection open does not hold Stop up.
	conn, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	buf := make([]byte, 512)
	if _, err := conn.Read(buf); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(ctx); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if _, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
		t.Error("still accepting after Stop")
	}
	conn.Close()
	// Every goroutine the server started has ended.
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines after Stop, %d before:\n%s", n, before, buf[:runtime.Stack(buf, true)])
	}
}

func TestStopBeforeStart(t *testing.T) {
	if err := New("127.0.0.1:0", Source{}, nil).Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
