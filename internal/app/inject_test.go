package app

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestHelperDelayRelay stands in front of the lab's servers in the server
// namespace: it listens on 192.0.2.20 (TCP 80, 8080, 443; UDP 53),
// forwards to the real nginx and dnsmasq on the backend address, and holds
// every reply back by a delay — the latency of a distant server, which
// this kernel cannot add with netem. Subprocess only.
func TestHelperDelayRelay(t *testing.T) {
	spec := os.Getenv("NUNCHI_TEST_RELAY")
	if spec == "" {
		t.Skip("relay subprocess only")
	}
	f := strings.Split(spec, ",")
	front, back := f[0], f[1]
	delay, err := time.ParseDuration(f[2])
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range []string{"80", "8080", "443"} {
		ln, err := net.Listen("tcp", net.JoinHostPort(front, port))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go relayTCP(c, net.JoinHostPort(back, port), delay)
			}
		}()
	}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(front, "53"))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := append([]byte(nil), buf[:n]...)
			go func() {
				up, err := net.Dial("udp", net.JoinHostPort(back, "53"))
				if err != nil {
					return
				}
				defer up.Close()
				up.Write(q)
				up.SetReadDeadline(time.Now().Add(2 * time.Second))
				ans := make([]byte, 4096)
				m, err := up.Read(ans)
				if err != nil {
					return
				}
				time.Sleep(delay)
				pc.WriteTo(ans[:m], from)
			}()
		}
	}()
	fmt.Println("relay ready")
	select {} // until killed
}

func relayTCP(c net.Conn, backend string, delay time.Duration) {
	defer c.Close()
	b, err := net.Dial("tcp", backend)
	if err != nil {
		return
	}
	defer b.Close()
	go func() { io.Copy(b, c); b.(*net.TCPConn).CloseWrite() }()
	buf := make([]byte, 32<<10)
	for {
		n, err := b.Read(buf)
		if n > 0 {
			time.Sleep(delay)
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			c.(*net.TCPConn).CloseWrite()
			return
		}
	}
}

// TestInjectLive is the injection acceptance test: a real SPAN lab whose
// server replies come 30 ms late; nunchi captures the mirror and injects
// through a second bridge port. For a blocked name, curl over HTTP gets
// the warning page (status and body) instead of the real page, curl over
// HTTPS gets a connection reset, dig gets the warning address; a name
// that is not blocked is untouched. Each is repeated 20 times; the win
// rate and the injection latency are logged.
func TestInjectLive(t *testing.T) {
	const backend, delay, runs = "127.0.0.2", "30ms", 20
	lab := testutil.StartSpanLab(t, "NUNCHI_LAB_BACKEND="+backend)
	relay := exec.Command("ip", "netns", "exec", lab.SrvNS, os.Args[0], "-test.run=^TestHelperDelayRelay$")
	relay.Env = append(os.Environ(), "NUNCHI_TEST_RELAY=192.0.2.20,"+backend+","+delay)
	out, _ := relay.StdoutPipe()
	if err := relay.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { relay.Process.Kill(); relay.Wait() })
	if !bufio.NewScanner(out).Scan() {
		t.Fatal("relay did not start")
	}

	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, []byte("lists:\n  - id: test-block\n    version: \"1\"\n    action: inject\n    domains: [blocked.example]\n"), 0o644)
	page := filepath.Join(dir, "page.html")
	os.WriteFile(page, []byte("<html><body>nunchi-warning: {name} is blocked</body></html>\n"), 0o644)
	evFile := filepath.Join(dir, "live.jsonl")
	cfg := liveTestConfig(t, lab.SensorIf, 2, evFile)
	cfg.Rules.Files = []string{rulesFile}
	cfg.Inject.Enabled = true
	cfg.Inject.Interface = lab.InjectIf
	cfg.Inject.HTTP.Mode, cfg.Inject.HTTP.PageFile = "page", page
	cfg.Inject.DNS.AnswerIPv4 = "192.0.2.80"
	cfg.Inject.MaxPerSecond, cfg.Inject.PerClientPerSecond = 1000, 1000
	// The server is not reset: its late answer crosses the mirror, as on an
	// ISP path where it has left before any reset could reach it — what
	// lets the observer below tell the forgery.
	cfg.Inject.ResetServer = false
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	run := startLive(t, cfg, LiveOptions{})
	// A second sensor on the same mirror, with no rules and no injection:
	// it must see the forgeries (its own fanout group, one socket).
	obsFile := filepath.Join(dir, "observer.jsonl")
	ocfg := liveTestConfig(t, lab.SensorIf, 1, obsFile)
	ocfg.Capture.Live.FanoutGroup = 4242
	observer := startLive(t, ocfg, LiveOptions{})
	var stopped sync.Once
	stop := func() { stopped.Do(func() { run.stop(t); observer.stop(t) }) }
	defer stop()

	won := map[string]int{}
	for i := 0; i < runs; i++ {
		body, _, err := lab.ClientOutput("curl", "-sS", "--max-time", "5", "--http1.1", "-w", "\nstatus=%{http_code}",
			"--resolve", "blocked.example:80:192.0.2.20", "http://blocked.example/")
		if err == nil && strings.Contains(body, "nunchi-warning: blocked.example is blocked") && strings.Contains(body, "status=200") &&
			!strings.Contains(body, "nunchi span lab") {
			won["http"]++
		} else if i < 3 {
			t.Logf("http run %d: err %v, body %q", i, err, body)
		}
		_, stderr, err := lab.ClientOutput("curl", "-sS", "--max-time", "5", "-k", "--resolve", "blocked.example:443:192.0.2.20", "https://blocked.example/")
		if err != nil && strings.Contains(strings.ToLower(stderr), "reset") {
			won["tls"]++
		} else if i < 3 {
			t.Logf("tls run %d: err %v, stderr %q", i, err, stderr)
		}
		ans, _, _ := lab.ClientOutput("dig", "+short", "+tries=1", "+time=2", "@192.0.2.20", "blocked.example", "A")
		if strings.TrimSpace(ans) == "192.0.2.80" {
			won["dns"]++
		} else if i < 3 {
			t.Logf("dns run %d: %q", i, ans)
		}
	}
	// Untouched: a name that is not blocked.
	body, _, err := lab.ClientOutput("curl", "-sS", "--max-time", "5", "--http1.1", "--resolve", "www.example.com:80:192.0.2.20", "http://www.example.com/")
	if err != nil || !strings.Contains(body, "nunchi span lab") {
		t.Errorf("a request that is not blocked was disturbed: %v %q", err, body)
	}
	if ans, _, _ := lab.ClientOutput("dig", "+short", "@192.0.2.20", "www.example.com", "A"); strings.TrimSpace(ans) != "192.0.2.20" {
		t.Errorf("a DNS answer that is not blocked was disturbed: %q", ans)
	}
	time.Sleep(300 * time.Millisecond)
	stop()

	// What the sensor says about it.
	data, err := os.ReadFile(evFile)
	if err != nil {
		t.Fatal(err)
	}
	lat := map[string][]float64{}
	outcomes := map[string]map[string]int{}
	var stats map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e struct {
			Type   string         `json:"event_type"`
			Inject map[string]any `json:"inject"`
			Stats  map[string]any `json:"stats"`
		}
		json.Unmarshal([]byte(line), &e)
		switch e.Type {
		case "inject":
			k := e.Inject["kind"].(string)
			lat[k] = append(lat[k], e.Inject["latency_us"].(float64))
			if outcomes[k] == nil {
				outcomes[k] = map[string]int{}
			}
			outcomes[k][e.Inject["outcome"].(string)]++
		case "stats":
			stats = e.Stats
		}
	}
	for _, k := range []string{"http", "tls", "dns"} {
		t.Logf("%s: client saw the forged reply in %d of %d runs", k, won[k], runs)
		if won[k] < runs*9/10 {
			t.Errorf("%s: won only %d of %d races", k, won[k], runs)
		}
	}
	for k, v := range lat {
		slices.Sort(v)
		t.Logf("%s: %d injections, latency median %.0f µs, p99 %.0f µs, outcomes %v", k, len(v), v[len(v)/2], v[len(v)*99/100], outcomes[k])
	}
	for _, k := range []string{"http_warning", "tcp_rst", "dns_answer"} {
		if len(lat[k]) < runs {
			t.Errorf("%d %s inject events, want %d", len(lat[k]), k, runs)
		}
		if outcomes[k]["won"] < runs*9/10 {
			t.Errorf("%s: sensor-side outcome %v", k, outcomes[k])
		}
	}
	// The observer's view of the same traffic: the forged resets are
	// followed by the real server's data, the forged HTTP answer overlaps the
	// real one with other bytes.
	odata, err := os.ReadFile(obsFile)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, line := range strings.Split(strings.TrimSpace(string(odata)), "\n") {
		var e struct {
			Type     string `json:"event_type"`
			DestPort int    `json:"dest_port"`
			Anomaly  struct {
				Type  string `json:"type"`
				Event string `json:"event"`
			} `json:"anomaly"`
		}
		json.Unmarshal([]byte(line), &e)
		if e.Type == "anomaly" {
			seen[fmt.Sprintf("%s/%s/%d", e.Anomaly.Type, e.Anomaly.Event, e.DestPort)]++
		}
	}
	t.Logf("observer's anomalies: %v", seen)
	if n := seen["forged_rst/rst_then_data/443"] + seen["forged_rst/ttl_mismatch/443"] + seen["forged_rst/rst_burst/443"]; n < runs*9/10 {
		t.Errorf("observer saw %d forged resets on TLS flows, want ≥ %d", n, runs*9/10)
	}
	if n := seen["overlap_conflict/duplicate_response/80"] + seen["overlap_conflict/overlap_conflict/80"]; n < runs*9/10 {
		t.Errorf("observer saw %d conflicting overlaps on HTTP flows, want ≥ %d", n, runs*9/10)
	}
	if inj, _ := stats["inject"].(map[string]any); inj == nil || inj["own_seen"].(float64) == 0 {
		t.Errorf("the forged packets came back through the mirror unnoticed: %v", stats["inject"])
	}
}
