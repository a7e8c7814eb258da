package report

import (
	"bytes"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/nunchi-sensor/nunchi/detect"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano()

func flowEvent(src, dst string, dport uint16, app string, start, end int64, bytes uint64) *detect.Event {
	return &detect.Event{Type: detect.TypeFlow, Timestamp: end, Sensor: "s1",
		SrcIP: netip.MustParseAddr(src), DestIP: netip.MustParseAddr(dst), SrcPort: 40000, DestPort: dport, Proto: 6, AppProto: app,
		Flow: &detect.FlowInfo{Start: start, End: end, BytesToServer: bytes / 2, BytesToClient: bytes - bytes/2, PktsToServer: 2, PktsToClient: 2}}
}

func sumBuckets(a *Aggregator) (flows uint64, byts float64) {
	for _, b := range a.buckets {
		flows += b.Flows
		byts += b.Bytes
	}
	return
}

// TestFlowSpreadOverBuckets: a flow's bytes go to the seconds it lasted,
// in proportion; it counts as new where it starts.
func TestFlowSpreadOverBuckets(t *testing.T) {
	a := NewAggregator(Config{})
	s := int64(time.Second)
	a.Add(flowEvent("192.0.2.1", "192.0.2.2", 443, "tls", t0, t0+5*s/2, 1000)) // 2.5 s: 400, 400, 200
	a.Add(flowEvent("192.0.2.1", "192.0.2.3", 80, "http", t0+s/2, t0+s/2, 10)) // instant
	sr := a.bucketSeries(100)
	w, bs := sr.width, sr.buckets
	if w != s || len(bs) != 3 {
		t.Fatalf("width %v, %d buckets", time.Duration(w), len(bs))
	}
	want := []struct {
		flows uint64
		bytes float64
	}{{2, 410}, {0, 400}, {0, 200}}
	for i, wb := range want {
		if bs[i].Flows != wb.flows || math.Abs(bs[i].Bytes-wb.bytes) > 1e-6 {
			t.Errorf("bucket %d = %+v, want %+v", i, bs[i], wb)
		}
	}
	if a.flows != 2 || a.flowBytes != 1010 || a.flowPkts != 8 {
		t.Errorf("totals %d %d %d", a.flows, a.flowBytes, a.flowPkts)
	}
	hosts := a.hosts.Top(-1)
	if hosts[0].Key != netip.MustParseAddr("192.0.2.1") || hosts[0].Count != 1010 || hosts[0].Aux[auxFlows] != 2 || hosts[0].Aux[auxServer] != 0 {
		t.Errorf("hosts[0] = %+v", hosts[0])
	}
	svc := a.services.Top(-1)
	if len(svc) != 2 || svc[0].Key != (service{6, 80, "http"}) || svc[1].Key != (service{6, 443, "tls"}) || svc[1].Aux[auxBytes] != 1000 {
		t.Errorf("services = %+v", svc)
	}
}

// TestBucketsBounded: three days of flows through at most 100 buckets:
// the bound holds at every step, the width climbs the ladder, and merging
// loses nothing.
func TestBucketsBounded(t *testing.T) {
	a := NewAggregator(Config{Buckets: 100})
	var total float64
	step := int64(3*24*time.Hour) / 5000
	for i := int64(0); i < 5000; i++ {
		start := t0 + i*step
		a.Add(flowEvent("192.0.2.1", "198.51.100.7", 443, "tls", start, start+int64(90*time.Second), 1000))
		total += 1000
		if len(a.buckets) > 100 {
			t.Fatalf("%d buckets after %d flows", len(a.buckets), i+1)
		}
	}
	flows, byts := sumBuckets(a)
	if flows != 5000 || math.Abs(byts-total) > 1e-3 {
		t.Errorf("buckets hold %d flows, %v bytes; want 5000, %v", flows, byts, total)
	}
	if time.Duration(a.width) != time.Hour {
		t.Errorf("width %v, want 1h (3 days in ≤ 100 buckets)", time.Duration(a.width))
	}
	// Display merges to at most displayBars.
	if sr := a.bucketSeries(displayBars); len(sr.buckets) > displayBars || len(sr.buckets) < 50 {
		t.Errorf("%d bars", len(sr.buckets))
	}
}

// TestStrayTimestamp: one flow stamped 1970 in a capture of today is left
// out of the chart (and counted), not charted over 56 years.
func TestStrayTimestamp(t *testing.T) {
	a := NewAggregator(Config{})
	for i := int64(0); i < 300; i++ {
		ts := t0 + i*int64(time.Second)
		a.Add(flowEvent("192.0.2.1", "198.51.100.7", 443, "tls", ts, ts, 100))
	}
	a.Add(flowEvent("192.0.2.1", "198.51.100.7", 443, "tls", int64(time.Second), int64(time.Second), 100))
	sr := a.bucketSeries(displayBars)
	if sr.outFlows != 1 || sr.outEvents != 1 || sr.outFirst != int64(time.Second) {
		t.Errorf("left out %d flows %d events from %d", sr.outFlows, sr.outEvents, sr.outFirst)
	}
	if time.Duration(sr.width) > 5*time.Second || sr.start < t0-int64(time.Minute) {
		t.Errorf("charted from %v, width %v", time.Unix(0, sr.start).UTC(), time.Duration(sr.width))
	}
	if !strings.Contains(a.bucketIntro(), "Not charted: 1 flows and 1 events stamped far from the rest (1970-01-01 00:00)") {
		t.Errorf("intro: %s", a.bucketIntro())
	}
	// A contiguous capture loses nothing.
	b := NewAggregator(Config{})
	for i := int64(0); i < 300; i++ {
		ts := t0 + i*int64(time.Second)
		b.Add(flowEvent("192.0.2.1", "198.51.100.7", 443, "tls", ts, ts, 100))
	}
	if sr := b.bucketSeries(displayBars); sr.outFlows != 0 {
		t.Errorf("contiguous capture: %d flows left out", sr.outFlows)
	}
}

func TestAggregateNames(t *testing.T) {
	a := NewAggregator(Config{})
	ev := func(e *detect.Event) *detect.Event {
		e.Timestamp, e.Sensor = t0, "s1"
		e.SrcIP, e.DestIP = netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.20")
		return e
	}
	for _, v := range []string{"TLS 1.3", "TLS 1.2", "TLS 1.3"} {
		a.Add(ev(&detect.Event{Type: detect.TypeTLS, TLS: &detect.TLS{SNI: "www.example.com", Version: v}}))
	}
	a.Add(ev(&detect.Event{Type: detect.TypeQUIC, QUIC: &detect.QUIC{SNI: "q.example", Version: "1"}}))
	a.Add(ev(&detect.Event{Type: detect.TypeHTTP, HTTP: &detect.HTTP{Hostname: "h.example", Status: 404}}))
	a.Add(ev(&detect.Event{Type: detect.TypeDNS, DNS: &detect.DNS{Type: "query", RRName: "d.example", RRType: "A"}}))
	a.Add(ev(&detect.Event{Type: detect.TypeDNS, DNS: &detect.DNS{Type: "answer", RRName: "d.example", RRType: "A", RCode: "NXDOMAIN"}}))
	for _, s := range []string{"dns_query", "http_host", "dns_query"} {
		a.Add(ev(&detect.Event{Type: detect.TypeBlock, Block: &detect.Block{Surface: s, Name: "blocked.example", List: "gambling", ListVersion: "7", Action: "alert"}}))
	}
	a.Add(ev(&detect.Event{Type: detect.TypeBlock, Block: &detect.Block{Surface: "ip", Name: "203.0.113.9", List: "ips", Action: "log"}}))
	a.Add(ev(&detect.Event{Type: detect.TypeNAT}))
	for i, o := range []string{"won", "won", "lost", "unknown"} {
		a.Add(ev(&detect.Event{Type: detect.TypeInject, Inject: &detect.Inject{Kind: "http_warning", Name: "blocked.example",
			Outcome: o, LatencyUS: int64(1500 + 1000*i), DryRun: i == 3}}))
	}
	a.Add(&detect.Event{Type: detect.TypeStats, Timestamp: t0, Sensor: "s1", Stats: []byte(`{"capture":{"frames":5},"flows":{"created":3},"sinks":[{"name":"jsonl","written":9}],"shards":2}`)})

	if e := a.tlsSNI.Top(-1); len(e) != 1 || e[0].Count != 3 || strings.Join(e[0].Tags, ",") != "TLS 1.3,TLS 1.2" {
		t.Errorf("tls = %+v", e)
	}
	if e := a.quicSNI.Top(-1); len(e) != 1 || e[0].Tags[0] != "QUIC 1" {
		t.Errorf("quic = %+v", e)
	}
	if e := a.dnsNames.Top(-1); len(e) != 1 || e[0].Count != 2 || e[0].Aux[auxQueries] != 1 || e[0].Aux[auxAnswers] != 1 || e[0].Aux[auxNX] != 1 {
		t.Errorf("dns = %+v", e)
	}
	if e := a.blockNames.Top(-1); len(e) != 2 || e[0].Key != (blockKey{"gambling", "blocked.example"}) || e[0].Count != 3 || strings.Join(e[0].Tags, ",") != "dns_query,http_host" {
		t.Errorf("block names = %+v", e)
	}
	if li := a.lists["gambling"]; li == nil || li.Hits != 3 || li.Version != "7" || li.Actions[0] != "alert" {
		t.Errorf("lists = %+v", a.lists)
	}
	if e := a.injects.Top(-1); len(e) != 1 || e[0].Count != 4 || e[0].Aux[auxWon] != 2 || e[0].Aux[auxLost] != 1 || e[0].Aux[auxUnknown] != 1 || e[0].Aux[auxDryRun] != 1 || e[0].Tags[0] != "http_warning" {
		t.Errorf("injections = %+v", e)
	}
	// Latencies 1.5, 2.5, 3.5, 4.5 ms: the median's bucket tops at 2047 µs… 4095 µs.
	if p50, p99 := a.latencyQuantile(0.5), a.latencyQuantile(0.99); p50 != 4095 || p99 != 8191 {
		t.Errorf("latency p50 %d p99 %d", p50, p99)
	}
	if a.events[detect.TypeBlock] != 4 || a.events[detect.TypeStats] != 0 {
		t.Errorf("events = %v", a.events)
	}

	var buf bytes.Buffer
	if err := Render(&buf, a, time.Unix(0, t0)); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, want := range []string{
		`data-card="Flows">3<`, `data-card="Packets">5<`, // from the stats event
		`data-stat="capture.frames">5<`, `data-stat="sinks.jsonl.written">9<`, `data-stat="pipeline.shards">2<`,
		"www.example.com", "TLS 1.3, TLS 1.2", "q.example", "h.example", "404", "d.example", "blocked.example",
		"dns_query, http_host", "gambling", "203.0.113.9", "192.0.2.10", // the NAT event's address
		"http_warning", "median ≤ 4.1 ms, 99th percentile ≤ 8.2 ms",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	// Sections of types with no events say so.
	for _, id := range []string{"anomaly-list"} {
		if !regexp.MustCompile(`<p class="empty" id="` + id + `">None in this capture.</p>`).MatchString(html) {
			t.Errorf("section %s is not in its empty state", id)
		}
	}
	uniqueIDs(t, html)
	// The stats object keeps its order: capture before flows before sinks.
	if i, j, k := strings.Index(html, `data-group="capture"`), strings.Index(html, `data-group="flows"`), strings.Index(html, `data-group="sinks"`); !(i < j && j < k) {
		t.Errorf("stats groups out of order: %d %d %d", i, j, k)
	}
}

// TestRenderEscapesWireData: names from the wire are text, never markup.
func TestRenderEscapesWireData(t *testing.T) {
	a := NewAggregator(Config{})
	evil := `<script>alert(1)</script>`
	attr := `"><img src=x onerror=alert(1)>`
	a.Add(&detect.Event{Type: detect.TypeTLS, Timestamp: t0, Sensor: `<b>sensor</b>`, TLS: &detect.TLS{SNI: evil, Version: attr}})
	a.Add(&detect.Event{Type: detect.TypeHTTP, Timestamp: t0, HTTP: &detect.HTTP{Hostname: attr}})
	a.Add(&detect.Event{Type: detect.TypeBlock, Timestamp: t0, Block: &detect.Block{Name: evil, List: attr, Surface: "tls_sni"}})
	a.Add(&detect.Event{Type: detect.TypeStats, Timestamp: t0, Stats: []byte(`{"x":{"` + strings.ReplaceAll(evil, `/`, `\/`) + `":1}}`)})
	var buf bytes.Buffer
	if err := Render(&buf, a, time.Unix(0, t0)); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{evil, "<img", "<b>sensor"} {
		if strings.Contains(html, bad) {
			t.Errorf("report contains %q unescaped", bad)
		}
	}
	if !strings.Contains(html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the SNI is not shown escaped")
	}
	if strings.Count(html, "<script>") != 1 {
		t.Errorf("%d script elements, want only the report's own", strings.Count(html, "<script>"))
	}
	checkSelfContained(t, html)
}

// checkSelfContained: nothing in the page is loaded from elsewhere.
func checkSelfContained(t *testing.T, html string) {
	t.Helper()
	for _, re := range []string{`(?i)<[^>]*\ssrc\s*=`, `(?i)url\(`, `(?i)@import`, `(?i)<link[^>]+href="(?:https?:)?//`, `(?i)<(?:iframe|object|embed|img|audio|video)\b`, `(?i)fetch\(|XMLHttpRequest|WebSocket`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("report references something outside itself: %q (%s)", m, re)
		}
	}
	// The only http(s) URL is the SVG namespace (an identifier, never fetched).
	for _, m := range regexp.MustCompile(`https?://[^"'\s<>]+`).FindAllString(html, -1) {
		if m != "http://www.w3.org/2000/svg" {
			t.Errorf("URL in the report: %s", m)
		}
	}
	if !strings.Contains(html, `Content-Security-Policy" content="default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding fetches")
	}
}

func TestRenderEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, NewAggregator(Config{}), time.Unix(0, t0)); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if n := strings.Count(html, "None in this capture."); n < 10 {
		t.Errorf("%d empty states in an empty report", n)
	}
	if !strings.Contains(html, "No stats event in this run.") {
		t.Error("missing stats empty state")
	}
	checkSelfContained(t, html)
	uniqueIDs(t, html)
}

func TestSinkFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := New(Config{Path: filepath.Join(dir, "missing", "r.html")}); err == nil {
		t.Fatal("a report in a missing directory was accepted")
	}
	path := filepath.Join(dir, "r.html")
	s, err := New(Config{Path: path, Now: func() time.Time { return time.Unix(0, t0) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write([]*detect.Event{flowEvent("192.0.2.1", "192.0.2.2", 443, "tls", t0, t0, 100)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Error("report written before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil || !bytes.Contains(b, []byte("192.0.2.2")) || !bytes.Contains(b, []byte("Generated 2026-11-21 10:00:00 UTC")) {
		t.Fatalf("report: %v\n%.300s", err, b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("files left in the directory: %v", ents)
	}
	// Closed before any event (a run that failed to start): no file at all.
	other := filepath.Join(dir, "never.html")
	s2, err := New(Config{Path: other})
	if err != nil {
		t.Fatal(err)
	}
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a report with no events left files: %v", ents)
	}
}

func TestFormat(t *testing.T) {
	for n, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 13776: "13,776", 1234567: "1,234,567"} {
		if got := fmtInt(n); got != want {
			t.Errorf("fmtInt(%d) = %s", n, got)
		}
	}
	for n, want := range map[uint64]string{5: "5 B", 13776: "13.8 kB", 999_960: "1.0 MB", 2_500_000_000: "2.5 GB"} {
		if got := fmtBytes(n); got != want {
			t.Errorf("fmtBytes(%d) = %s", n, got)
		}
	}
	for d, want := range map[time.Duration]string{time.Second: "second", 5 * time.Minute: "5 minutes", time.Hour: "hour"} {
		if got := fmtWidth(d); got != want {
			t.Errorf("fmtWidth(%v) = %s", d, got)
		}
	}
}

// uniqueIDs: every id attribute is unique (the nav links and #sort= use them).
func uniqueIDs(t *testing.T, html string) {
	t.Helper()
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`\sid="([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if seen[m[1]] {
			t.Errorf("id %q used twice", m[1])
		}
		seen[m[1]] = true
	}
}

// TestKeysOwnTheirMemory: events may keep their strings in a shard's
// 32 KiB slabs (detect.Arena); a name the report keeps must be a copy, or
// 2000 kept names could pin 2000 slabs.
func TestKeysOwnTheirMemory(t *testing.T) {
	slab := []byte("xxwww.example.comblocked.examplelistAv1alertQUICsensorflow")
	str := func(from, to int) string { return unsafe.String(&slab[from], to-from) }
	shares := func(s string) bool {
		p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
		lo := uintptr(unsafe.Pointer(&slab[0]))
		return p >= lo && p < lo+uintptr(len(slab))
	}
	a := NewAggregator(Config{})
	sni, name, list, ver, action := str(2, 17), str(17, 32), str(32, 37), str(37, 39), str(39, 44)
	sensor := str(48, 54)
	a.Add(&detect.Event{Type: detect.TypeTLS, Timestamp: t0, Sensor: sensor, TLS: &detect.TLS{SNI: sni, Version: ver}})
	a.Add(&detect.Event{Type: detect.TypeHTTP, Timestamp: t0, HTTP: &detect.HTTP{Hostname: name}})
	a.Add(&detect.Event{Type: detect.TypeDNS, Timestamp: t0, DNS: &detect.DNS{RRName: name, RRType: ver}})
	a.Add(&detect.Event{Type: detect.TypeQUIC, Timestamp: t0, QUIC: &detect.QUIC{SNI: sni}})
	a.Add(&detect.Event{Type: str(54, 58), Timestamp: t0})
	a.Add(&detect.Event{Type: detect.TypeBlock, Timestamp: t0, Block: &detect.Block{Name: name, List: list, ListVersion: ver, Action: action, Surface: action}})
	a.Add(&detect.Event{Type: detect.TypeInject, Timestamp: t0, Inject: &detect.Inject{Name: name, Kind: action}})
	var kept []string
	for _, tk := range []*TopK[string]{a.tlsSNI, a.quicSNI, a.httpHosts, a.dnsNames, a.injects} {
		for _, e := range tk.Top(-1) {
			kept = append(kept, e.Key)
			kept = append(kept, e.Tags...)
		}
	}
	for _, e := range a.blockNames.Top(-1) {
		kept = append(kept, e.Key.List, e.Key.Name)
		kept = append(kept, e.Tags...)
	}
	for k, li := range a.lists {
		kept = append(kept, k, li.Version)
		kept = append(kept, li.Actions...)
	}
	for k := range a.events {
		kept = append(kept, k)
	}
	kept = append(kept, a.sensor)
	if len(kept) < 15 {
		t.Fatalf("only %d strings kept", len(kept))
	}
	for _, s := range kept {
		if shares(s) {
			t.Errorf("%q is kept in the event's memory", s)
		}
	}
}
