package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	ch "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/sinks/clickhouse"
)

func TestParseRetroTime(t *testing.T) {
	now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                       now.Add(-24 * time.Hour),
		"90m":                       now.Add(-90 * time.Minute),
		"7d":                        now.Add(-7 * 24 * time.Hour),
		"0.5d":                      now.Add(-12 * time.Hour),
		"2026-11-01":                time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T10:20:30":       time.Date(2026, 11, 1, 10, 20, 30, 0, time.UTC),
		"2026-11-01T10:20:30+02:00": time.Date(2026, 11, 1, 8, 20, 30, 0, time.UTC),
	} {
		got, err := parseRetroTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("parseRetroTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-1h", "2026-13-01", "5x"} {
		if _, err := parseRetroTime(bad, now); err == nil {
			t.Errorf("parseRetroTime(%q): no error", bad)
		}
	}
}

func TestRetroArgs(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	os.WriteFile(cfg, []byte("sensor: s\n"), 0o644)
	rules := filepath.Join(dir, "r.txt")
	os.WriteFile(rules, []byte("blocked.example\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"rules", "retro", "-c", cfg, rules}, "--since is required"},
		{[]string{"rules", "retro", "-c", cfg, "--since", "soon", rules}, "--since"},
		{[]string{"rules", "retro", "-c", cfg, "--since", "1h", "--until", "2h", rules}, "empty time range"},
		{[]string{"rules", "retro", "-c", cfg, "--since", "1h"}, "no rules files"},
		{[]string{"rules", "retro", "-c", cfg, "--since", "1h", rules}, "sinks.clickhouse.addr"},
		{[]string{"rules", "retro", "-c", cfg, "--since", "1h", "--page", "0", rules}, "--page"},
	} {
		if _, _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args[2:], err, c.want)
		}
	}
}

func TestQuoteStrings(t *testing.T) {
	if got, want := quoteStrings([]string{"a.example", `it's\x`}), `'a.example', 'it\'s\\x'`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// retroLine is the part of a finding the tests compare.
type retroLine struct {
	Surface, Name, Src, Dst, Proto, RuleID, List, Version, Matched, Action, First string
	Port, Count                                                                   int
}

func (l retroLine) key() string {
	return strings.Join([]string{l.Surface, l.Name, l.Src, l.Dst, fmt.Sprint(l.Port), l.Proto, l.RuleID}, " ")
}

func readRetro(t *testing.T, path string) []retroLine {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []retroLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			Timestamp string `json:"timestamp"`
			EventType string `json:"event_type"`
			Sensor    string `json:"sensor"`
			SrcIP     string `json:"src_ip"`
			DestIP    string `json:"dest_ip"`
			DestPort  int    `json:"dest_port"`
			Proto     string `json:"proto"`
			Block     struct {
				Surface, Name, List, Matched, Action string
				RuleID                               string `json:"rule_id"`
				ListVersion                          string `json:"list_version"`
			} `json:"block"`
			Retro     bool   `json:"retro"`
			FirstSeen string `json:"first_seen"`
			LastSeen  string `json:"last_seen"`
			Count     int    `json:"count"`
			EventID   string `json:"event_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		if e.EventType != "block" || !e.Retro || e.Sensor != "retro-test" || len(e.EventID) != 16 ||
			e.Timestamp != e.FirstSeen || e.LastSeen < e.FirstSeen || e.Count < 1 {
			t.Errorf("malformed finding: %s", sc.Text())
		}
		b := e.Block
		out = append(out, retroLine{Surface: b.Surface, Name: b.Name, Src: e.SrcIP, Dst: e.DestIP, Port: e.DestPort, Proto: e.Proto,
			RuleID: b.RuleID, List: b.List, Version: b.ListVersion, Matched: b.Matched, Action: b.Action,
			First: e.FirstSeen[:len("2006-01-02T15:04:05")], Count: e.Count})
	}
	return out
}

// TestRetroClickHouse replays demo.pcap and a QUIC capture into a fresh
// ClickHouse database through the real sink (`nunchi replay -c`), then runs
// `nunchi rules retro` with a rules file naming hosts, a URL and an address
// in them: the findings are exactly the expected ones, and the same as the
// block events the sensor itself wrote during the replay with the same rules.
func TestRetroClickHouse(t *testing.T) {
	if testing.Short() && os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") != "1" {
		t.Skip("ClickHouse integration test skipped under -short")
	}
	addr := os.Getenv("NUNCHI_TEST_CLICKHOUSE")
	if addr == "" {
		if os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("NUNCHI_TEST_CLICKHOUSE is not set (eval \"$(deploy/dev/services.sh up)\")")
		}
		t.Skip("NUNCHI_TEST_CLICKHOUSE is not set")
	}
	repo := testutil.RepoRoot(t)
	quic := filepath.Join(testutil.CorpusDir(t), "zeek__quic__chromium-115.0.5790.110-api-cirrus-com.pcap")
	var rb [4]byte
	rand.Read(rb[:])
	db := "nunchi_retro_" + hex.EncodeToString(rb[:])
	t.Cleanup(func() {
		if os.Getenv("NUNCHI_TEST_KEEP_DB") != "" {
			return
		}
		conn, err := clickhouse.Connect(context.Background(), &ch.Options{Addr: []string{addr}})
		if err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			conn.Close()
		}
	})
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rulesFile, []byte(`lists:
  - id: news
    version: "7"
    action: inject
    domains: [blocked.example]
    urls: [www.example.com/]
  - id: cloud
    version: "2026-11-01"
    action: alert
    domains: [.cirrus-ci.com, nothing-here.example]
    cidrs: [2001:db8::20/128]
allow:
  domains: [ok.cirrus-ci.com]
`), 0o644)
	cfg := filepath.Join(dir, "nunchi.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sensor: retro-test\nlog: {level: error}\nrules: {files: [%s]}\nsinks:\n  clickhouse: {addr: %q, database: %s}\n", rulesFile, addr, db)), 0o644)
	events := filepath.Join(dir, "events.jsonl")
	if _, stderr, err := run(t, "replay", "-c", cfg, "-o", events, "--progress", "never", filepath.Join(repo, "testdata", "demo.pcap"), quic); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}

	out := filepath.Join(dir, "retro.jsonl")
	_, stderr, err := run(t, "rules", "retro", "-c", cfg, "--since", "2020-01-01", "-o", out, rulesFile)
	if err != nil {
		t.Fatalf("retro: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", stderr)
	got := readRetro(t, out)
	// On ClickHouse 18.16 times are whole seconds; compare to the second.
	want := []retroLine{
		{"http_host", "blocked.example", "192.0.2.10", "192.0.2.20", "TCP", "news:rules.yaml:5", "news", "7", "blocked.example", "inject", "2026-11-21T11:40:24", 8080, 1},
		{"http_url", "www.example.com/", "192.0.2.10", "192.0.2.20", "TCP", "news:rules.yaml:6", "news", "7", "www.example.com/", "inject", "2026-11-21T11:40:24", 80, 1},
		{"quic_sni", "api.cirrus-ci.com", "82.239.54.117", "110.213.53.115", "UDP", "cloud:rules.yaml:10", "cloud", "2026-11-01", ".cirrus-ci.com", "alert", "2023-08-16T15:06:26", 443, 1},
		{"dns_query", "blocked.example", "192.0.2.10", "192.0.2.20", "UDP", "news:rules.yaml:5", "news", "7", "blocked.example", "inject", "2026-11-21T11:40:23", 53, 2},
		{"dns_answer", "2001:db8::20", "192.0.2.10", "192.0.2.20", "UDP", "cloud:rules.yaml:11", "cloud", "2026-11-01", "2001:db8::20", "alert", "2026-11-21T11:40:23", 53, 1},
		{"ip", "2001:db8::20", "2001:db8::10", "2001:db8::20", "IPv6-ICMP", "cloud:rules.yaml:11", "cloud", "2026-11-01", "2001:db8::20", "alert", "2026-11-21T11:40:25", 0, 1},
		{"ip", "2001:db8::20", "2001:db8::10", "2001:db8::20", "TCP", "cloud:rules.yaml:11", "cloud", "2026-11-01", "2001:db8::20", "alert", "2026-11-21T11:40:25", 443, 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("findings:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(stderr, "7 findings (cloud 4, news 3)") {
		t.Errorf("summary: %s", stderr)
	}

	// The sensor's own block events of the replay: the same (surface, name,
	// endpoints, rule) set.
	var live []string
	f, _ := os.Open(events)
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var e struct {
			EventType string `json:"event_type"`
			SrcIP     string `json:"src_ip"`
			DestIP    string `json:"dest_ip"`
			DestPort  int    `json:"dest_port"`
			Proto     string `json:"proto"`
			Block     struct {
				Surface, Name string
				RuleID        string `json:"rule_id"`
			} `json:"block"`
		}
		json.Unmarshal(sc.Bytes(), &e)
		if e.EventType == "block" {
			live = append(live, retroLine{Surface: e.Block.Surface, Name: e.Block.Name, Src: e.SrcIP, Dst: e.DestIP, Port: e.DestPort, Proto: e.Proto, RuleID: e.Block.RuleID}.key())
		}
	}
	f.Close()
	var retro []string
	for _, l := range got {
		retro = append(retro, l.key())
	}
	sort.Strings(live)
	sort.Strings(retro)
	if strings.Join(live, "\n") != strings.Join(retro, "\n") {
		t.Errorf("retro findings differ from the sensor's block events:\nretro:\n%s\nlive:\n%s", strings.Join(retro, "\n"), strings.Join(live, "\n"))
	}

	// Paging: one name per query gives the same lines, in the same order.
	paged := filepath.Join(dir, "paged.jsonl")
	if _, stderr, err := run(t, "rules", "retro", "-c", cfg, "--since", "2020-01-01", "--page", "1", "-o", paged, rulesFile); err != nil {
		t.Fatalf("retro --page 1: %v\n%s", err, stderr)
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(paged)
	if string(a) != string(b) {
		t.Errorf("--page 1 differs:\n%s\nvs\n%s", b, a)
	}

	// The time range and the sensor filter.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--since", "2023-08-16", "--until", "2023-08-17"}, "1 findings (cloud 1)"},
		{[]string{"--since", "2026-11-21T11:40:24Z", "--until", "2026-11-21T11:40:25Z"}, "2 findings (news 2)"},
		{[]string{"--since", "1h", "--until", "0s"}, "0 findings in"},
		{[]string{"--since", "2020-01-01", "--sensor", "nobody"}, "0 findings in"},
	} {
		args := append([]string{"rules", "retro", "-c", cfg, "-o", filepath.Join(dir, "x.jsonl")}, c.args...)
		if _, stderr, err := run(t, append(args, rulesFile)...); err != nil || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: %v\n%s", c.args, err, stderr)
		}
	}
}
