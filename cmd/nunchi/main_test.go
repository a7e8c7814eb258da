package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestReplayToFile(t *testing.T) {
	repo := testutil.RepoRoot(t)
	out := filepath.Join(t.TempDir(), "events.jsonl")
	_, _, err := run(t, "replay", filepath.Join(repo, "testdata", "demo.pcap"), "-o", out, "--shards", "2", "--progress", "never")
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(out)
	defer f.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e struct {
			EventType string `json:"event_type"`
			Sensor    string `json:"sensor"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad line %q: %v", sc.Text(), err)
		}
		counts[e.EventType]++
	}
	if counts["flow"] != 12 || counts["stats"] != 1 {
		t.Errorf("event counts %v, want 12 flow and 1 stats", counts)
	}
}

func TestCheckAndDump(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("sensor: s1\nflow:\n  max_flows: 1000\n"), 0o644)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sensor: s1\nflow:\n  max_flowz: 1000\n"), 0o644)

	if out, _, err := run(t, "check", "-c", good); err != nil || !strings.Contains(out, "ok") {
		t.Errorf("check good: %q %v", out, err)
	}
	_, _, err := run(t, "check", "-c", bad)
	if err == nil || !strings.Contains(oneLine(err), "bad.yaml:3: flow.max_flowz: unknown key") || strings.Contains(oneLine(err), "\n") {
		t.Errorf("check bad: %v", err)
	}
	out, _, err := run(t, "config", "dump", "-c", good)
	if err != nil || !strings.Contains(out, "max_flows: 1000") || !strings.Contains(out, "sensor: s1") {
		t.Errorf("config dump: %v\n%s", err, out)
	}
	if out, _, err := run(t, "version"); err != nil || !strings.HasPrefix(out, "nunchi ") {
		t.Errorf("version: %q %v", out, err)
	}
}

// TestExitStatus runs the real binary: a corrupt capture exits non-zero with
// one line on stderr, after writing the events for what came before.
func TestExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	repo := testutil.RepoRoot(t)
	bin := filepath.Join(t.TempDir(), "nunchi")
	build := exec.Command("go", "build", "-o", bin, ".")
	if o, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, o)
	}
	cmd := exec.Command(bin, "replay", filepath.Join(repo, "testdata", "pcap", "truncated.pcap"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() == 0 {
		t.Fatalf("exit: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "nunchi: ") || !strings.Contains(lines[0], "byte offset 502") {
		t.Errorf("stderr = %q, want one line naming the offset", stderr.String())
	}
	if !strings.Contains(stdout.String(), `"event_type":"flow"`) {
		t.Errorf("no flow event for the packets before the truncation:\n%s", stdout.String())
	}
	cmd = exec.Command(bin, "replay", filepath.Join(repo, "testdata", "pcap", "unknown-linktype.pcap"))
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.Contains(stderr.String(), "link type 147") {
		t.Errorf("unknown link type: %v %q", err, stderr.String())
	}

	// SIGINT during a paced replay: stop reading, flush every flow, exit 0.
	cmd = exec.Command(bin, "replay", "--speed", "1", filepath.Join(repo, "testdata", "demo.pcap"))
	stdout.Reset()
	cmd.Stdout = &stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("interrupted replay: %v", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatal("replay did not stop after SIGINT")
	}
	if !strings.Contains(stdout.String(), `"reason":"shutdown"`) || !strings.Contains(stdout.String(), `"event_type":"stats"`) {
		t.Errorf("interrupted replay did not flush flows and stats:\n%s", stdout.String())
	}
}

func TestRulesCommands(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "rules.yaml")
	os.WriteFile(good, []byte("lists:\n  - id: l1\n    version: v1\n    action: alert\n    domains: [blocked.example, .casino.example]\n    cidrs: [203.0.113.0/28]\n"), 0o644)
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("ok.example\nnot a domain!\n"), 0o644)

	out, _, err := run(t, "rules", "check", good)
	if err != nil || !strings.Contains(out, "l1") || !strings.Contains(out, "2 names") {
		t.Errorf("rules check: %v\n%s", err, out)
	}
	if _, _, err := run(t, "rules", "check", bad); err == nil || !strings.Contains(oneLine(err), "bad.txt:2") {
		t.Errorf("rules check bad: %v", err)
	}
	out, _, err = run(t, "rules", "test", good, "--", "www.casino.example", "203.0.113.5", "free.example")
	if err != nil || !strings.Contains(out, "* www.casino.example: suffix .casino.example") ||
		!strings.Contains(out, "203.0.113.0/28") || !strings.Contains(out, "free.example: no match") {
		t.Errorf("rules test: %v\n%s", err, out)
	}
	repo := testutil.RepoRoot(t)
	events := filepath.Join(dir, "events.jsonl")
	if _, _, err := run(t, "replay", "--rules", good, "-o", events, "--progress", "never", filepath.Join(repo, "testdata", "demo.pcap")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(events)
	if n := strings.Count(string(b), `"event_type":"block"`); n != 2 {
		t.Errorf("%d block events for blocked.example in the demo capture, want 2 (dns_query, http_host)", n)
	}
	if _, _, err := run(t, "replay", "--rules", bad, filepath.Join(repo, "testdata", "demo.pcap")); err == nil {
		t.Error("replay with a bad rules file did not fail")
	}
}
