package app

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// findChromium finds a headless-capable Chromium, or skips the test (fails
// when NUNCHI_TEST_REQUIRE_CHROMIUM=1). It runs as root only: the test
// launches it with --no-sandbox.
func findChromium(t *testing.T) string {
	t.Helper()
	require := os.Getenv("NUNCHI_TEST_REQUIRE_CHROMIUM") == "1"
	skip := func(msg string) {
		if require {
			t.Fatalf("%s (NUNCHI_TEST_REQUIRE_CHROMIUM=1)", msg)
		}
		t.Skip(msg)
	}
	if os.Geteuid() != 0 {
		skip("the headless Chromium test runs as root (it launches Chromium with --no-sandbox)")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	skip("no Chromium: apt-get install chromium")
	return ""
}

// runChromium runs a headless Chromium on url with extra arguments and
// returns its stdout and stderr.
func runChromium(t *testing.T, bin, url string, extra ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0"}
	args = append(append(args, extra...), url)
	cmd := exec.CommandContext(ctx, bin, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", extra, err, lastBytes(errb.String(), 3000))
	}
	return out.String(), errb.String()
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// consoleLine matches what Chromium logs for a page's console messages,
// uncaught exceptions and Content-Security-Policy violations (a blocked
// fetch): `INFO:CONSOLE:12] "Uncaught ReferenceError: …", source: …`.
var consoleLine = regexp.MustCompile(`(?m)^.*:CONSOLE[:(].*$`)

// TestReportInChromium replays demo.pcap with a rules file to an HTML
// report, then opens the report in headless Chromium: the screenshot is a
// real page, the page logs nothing to the console (no exception, no
// blocked fetch), its script ran, and the DOM shows what the replay found.
func TestReportInChromium(t *testing.T) {
	bin := findChromium(t)
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(rules, []byte(`lists:
  - id: demo-list
    version: "2026-11-21"
    action: alert
    domains: [blocked.example]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "report.html")
	cfg := DefaultConfig()
	cfg.Sensor = "report-test"
	cfg.Capture.Shards = 2
	cfg.Sinks.JSONL.Path = filepath.Join(dir, "events.jsonl")
	cfg.Rules.Files = []string{rules}
	cfg.Rules.ReloadCheck = 0
	cfg.Report.Path = out
	st, err := Replay(context.Background(), cfg, ReplayOptions{
		Files: []string{filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")},
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Events["block"] != 2 || st.Flows.Created != 12 {
		t.Fatalf("replay: %d block events, %d flows; want 2, 12", st.Events["block"], st.Flows.Created)
	}
	url := "file://" + out

	// Screenshot: a PNG of the window size, not blank.
	shot := filepath.Join(dir, "report.png")
	_, shotLog := runChromium(t, bin, url, "--screenshot="+shot, "--window-size=1280,2000")
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, lastBytes(shotLog, 2000))
	}
	img, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v, want 1280x2000", b)
	}
	colours := map[uint32]bool{}
	nonWhite, total := 0, 0
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 2 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[(r>>11)<<10|(g>>11)<<5|b>>11] = true
			if r < 0xf000 || g < 0xf000 || b < 0xf000 {
				nonWhite++
			}
			total++
		}
	}
	if len(colours) < 8 || nonWhite*100 < total*3 {
		t.Errorf("screenshot looks blank: %d colours, %d of %d pixels not white", len(colours), nonWhite, total)
	}

	// The DOM after the page's script ran, and the console. The fragment
	// asks the script to sort the talkers by "as server" (column 4),
	// descending: 192.0.2.20, the server of 7 flows, moves to the top.
	dom, logs := runChromium(t, bin, url+"#sort=top-talkers:4", "--dump-dom")
	for _, l := range append(consoleLine.FindAllString(shotLog, -1), consoleLine.FindAllString(logs, -1)...) {
		t.Errorf("console: %s", l)
	}
	if !strings.Contains(dom, `data-js="ok"`) {
		t.Error("the report's script did not run to its end")
	}
	section := func(id string) string {
		i := strings.Index(dom, `id="`+id+`"`)
		if i < 0 {
			t.Errorf("no element %s in the DOM", id)
			return ""
		}
		j := strings.Index(dom[i:], "</table>")
		if j < 0 {
			j = min(len(dom)-i, 2000)
		}
		return dom[i : i+j]
	}
	cell := func(html, text string) bool { return strings.Contains(html, ">"+text+"<") }
	if s := section("tls-sni"); !cell(s, "www.example.com") || !strings.Contains(s, `data-v="3"`) || !strings.Contains(s, "TLS 1.3, TLS 1.2") {
		t.Errorf("TLS SNI table lacks www.example.com ×3 (TLS 1.3, 1.2):\n%s", s)
	}
	if s := section("block-names"); !cell(s, "blocked.example") || !strings.Contains(s, `data-v="2"`) || !strings.Contains(s, "dns_query, http_host") {
		t.Errorf("blocked names table lacks blocked.example ×2:\n%s", s)
	}
	if s := section("block-lists"); !cell(s, "demo-list") || !cell(s, "2026-11-21") || !cell(s, "alert") {
		t.Errorf("block lists table:\n%s", s)
	}
	if s := section("http-hosts"); !cell(s, "blocked.example") || !cell(s, "www.example.com") {
		t.Errorf("HTTP hosts table:\n%s", s)
	}
	if s := section("dns-names"); !cell(s, "www.example.com") || !cell(s, "blocked.example") {
		t.Errorf("DNS names table:\n%s", s)
	}
	if s := section("top-talkers"); !cell(s, "192.0.2.10") || !cell(s, "2001:db8::20") {
		t.Errorf("talkers table:\n%s", s)
	} else {
		body := s[strings.Index(s, "<tbody>"):]
		first := body[:strings.Index(body, "</tr>")]
		if !cell(first, "192.0.2.20") || !strings.Contains(s, `aria-sort="descending"`) {
			t.Errorf("sorting by column 4 did not put 192.0.2.20 first:\n%s", s)
		}
	}
	if s := section("services"); !cell(s, "TCP/443") || !cell(s, "UDP/53") {
		t.Errorf("services table:\n%s", s)
	}
	// Numbers from the final stats event: cards and the stats table.
	for _, want := range []string{
		fmt.Sprintf(`data-card="Flows">%d<`, st.Flows.Created),
		fmt.Sprintf(`data-card="Packets">%d<`, st.Capture.Frames),
		fmt.Sprintf(`data-card="Blocked hits">%d<`, st.Events["block"]),
		fmt.Sprintf(`data-stat="flows.created">%d<`, st.Flows.Created),
		fmt.Sprintf(`data-stat="events.tls">%d<`, st.Events["tls"]),
		`data-stat="capture.bytes">13,776<`,
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("DOM lacks %s", want)
		}
	}
	for _, id := range []string{"quic-sni", "nat-gateways", "anomaly-list", "injection-list"} {
		if !strings.Contains(dom, `<p class="empty" id="`+id+`">None in this capture.</p>`) {
			t.Errorf("section %s not in its empty state", id)
		}
	}
	if n := strings.Count(dom, `<rect class="b"`); n < 3 {
		t.Errorf("%d chart bars", n)
	}
	if t.Failed() {
		keep := filepath.Join(os.TempDir(), "nunchi-report-test.html")
		if b, err := os.ReadFile(out); err == nil && os.WriteFile(keep, b, 0o644) == nil {
			t.Logf("report kept at %s", keep)
		}
	}
}
