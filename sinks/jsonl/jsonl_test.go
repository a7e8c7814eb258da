package jsonl

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func TestJSONLWritesOneObjectPerLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.jsonl")
	s, err := New(Config{Path: path, BufferSize: 4096}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*detect.Event
	for i := 0; i < 1000; i++ {
		evs = append(evs, &detect.Event{Type: detect.TypeFlow, Sensor: "s\n\"x\"", FlowID: uint64(i + 1)})
	}
	if err := s.Write(evs); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if m["flow_id"].(float64) != float64(n+1) || m["sensor"] != "s\n\"x\"" {
			t.Fatalf("line %d: %v", n+1, m)
		}
		n++
	}
	if n != 1000 {
		t.Errorf("%d lines, want 1000", n)
	}
}

func TestJSONLStdoutAndBadPath(t *testing.T) {
	var sb strings.Builder
	s, err := New(DefaultConfig(), &sb)
	if err != nil {
		t.Fatal(err)
	}
	s.Write([]*detect.Event{{Type: detect.TypeStats, Sensor: "x", Stats: []byte(`{"a":1}`)}})
	s.Flush()
	if !strings.Contains(sb.String(), `"stats":{"a":1},"event_id":"`) || !strings.HasSuffix(sb.String(), "\"}\n") {
		t.Errorf("stdout got %q", sb.String())
	}
	if _, err := New(Config{Path: "/nonexistent-dir/x.jsonl"}, nil); err == nil {
		t.Error("no error for an unwritable path")
	}
}
