package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

func TestQueryNeedsAddress(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("sensor: s\n"), 0o644)
	if _, _, err := run(t, "query", "blocked", "-c", cfg); err == nil || !strings.Contains(err.Error(), "sinks.clickhouse.addr") {
		t.Errorf("err = %v", err)
	}
	if _, _, err := run(t, "query", "nonsense", "-c", cfg); err == nil || !strings.Contains(err.Error(), "unknown report") {
		t.Errorf("err = %v", err)
	}
}

func TestReportExpand(t *testing.T) {
	now := time.Unix(100000, 0)
	sql, args := report{sql: "FROM t WHERE {where:ts} UNION FROM u WHERE {where:hour} LIMIT {limit}"}.expand(queryOptions{since: time.Hour, sensor: "s1", limit: 5, now: now})
	want := "FROM t WHERE 1 AND ts >= toDateTime(96400) AND sensor = ? UNION FROM u WHERE 1 AND hour >= toDateTime(96400) AND sensor = ? LIMIT 5"
	if sql != want || len(args) != 2 {
		t.Errorf("got %s %v\nwant %s", sql, args, want)
	}
}

// TestQueryReports replays the corpus into a fresh ClickHouse database with
// `nunchi replay -c`, then prints every report with `nunchi query all`.
func TestQueryReports(t *testing.T) {
	if testing.Short() && os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") != "1" {
		t.Skip("ClickHouse integration test skipped under -short")
	}
	addr := os.Getenv("NUNCHI_TEST_CLICKHOUSE")
	if addr == "" {
		if os.Getenv("NUNCHI_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal("NUNCHI_TEST_CLICKHOUSE is not set")
		}
		t.Skip("NUNCHI_TEST_CLICKHOUSE is not set")
	}
	var rb [4]byte
	rand.Read(rb[:])
	db := "nunchi_query_" + hex.EncodeToString(rb[:])
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rules, []byte("lists:\n  - id: testlist\n    version: \"1\"\n    action: alert\n    domains: [.com, .org]\n"), 0o644)
	cfg := filepath.Join(dir, "nunchi.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("sensor: query-test\nlog: {level: error}\nrules: {files: [%s]}\nsinks:\n  clickhouse: {addr: %q, database: %s}\n", rules, addr, db)), 0o644)
	t.Cleanup(func() {
		conn, err := clickhouse.Connect(context.Background(), &ch.Options{Addr: []string{addr}})
		if err == nil {
			conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db)
			conn.Close()
		}
	})

	files, _ := filepath.Glob(filepath.Join(testutil.CorpusDir(t), "*.pcap*"))
	sort.Strings(files)
	args := append([]string{"replay", "-c", cfg, "-o", filepath.Join(dir, "events.jsonl"), "--progress", "never"}, files...)
	if _, stderr, err := run(t, args...); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr)
	}
	out, stderr, err := run(t, "query", "all", "-c", cfg, "--limit", "5")
	if err != nil {
		t.Fatalf("query: %v\n%s", err, stderr)
	}
	t.Logf("\n%s", out)
	for _, want := range []string{"Top blocked names (5)", "Top talkers (5)", "TLS and QUIC server names (5)", "DNS names (5)",
		"NAT gateways (0)", "Anomalies (", "openvpn", "LIST", "testlist", "CLIENT", "BYTES_SENT", "PROTO", "quic", "tls", "NXDOMAIN"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	// Columns are aligned: in the talkers table, every row's second column starts under FLOWS.
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "CLIENT ") {
			continue
		}
		col := strings.Index(l, "FLOWS")
		for _, row := range lines[i+1 : i+6] {
			if len(row) <= col || row[col-1] != ' ' || row[col] == ' ' {
				t.Errorf("row %q not aligned under FLOWS (offset %d)", row, col)
			}
		}
	}
	if out2, _, err := run(t, "query", "talkers", "-c", cfg, "--sensor", "nobody"); err != nil || !strings.Contains(out2, "Top talkers (0)") {
		t.Errorf("--sensor filter: %v %q", err, out2)
	}
	if out3, _, err := run(t, "query", "blocked", "-c", cfg, "--since", "1h"); err != nil || !strings.Contains(out3, "Top blocked names (0)") {
		t.Errorf("--since 1h over old captures: %v %q", err, out3)
	}
}
