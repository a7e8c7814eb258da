// Package testutil holds helpers shared by nunchi's tests: locating the
// shared conformance corpus beside the repository, and collecting events.
package testutil

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test directory")
		}
		dir = parent
	}
}

// CorpusDir returns ../shared/corpus beside the repository. When it is
// missing the test is skipped, unless NUNCHI_TEST_REQUIRE_CORPUS=1 (CI), where
// it fails: a conformance suite that silently skips proves nothing.
func CorpusDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	if _, err := os.Stat(filepath.Join(dir, "expected.json")); err != nil {
		if os.Getenv("NUNCHI_TEST_REQUIRE_CORPUS") == "1" {
			t.Fatalf("conformance corpus not found at %s: %v", dir, err)
		}
		t.Skipf("conformance corpus not found at %s", dir)
	}
	return dir
}

// Collector is a Publisher that keeps every event, in arrival order.
type Collector struct {
	mu     sync.Mutex
	events []*detect.Event
}

// Publish implements pipeline.Publisher.
func (c *Collector) Publish(evs []*detect.Event) {
	c.mu.Lock()
	c.events = append(c.events, evs...)
	c.mu.Unlock()
}

// Events returns the events collected so far.
func (c *Collector) Events() []*detect.Event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*detect.Event(nil), c.events...)
}

// OfType returns the collected events of one event_type.
func (c *Collector) OfType(typ string) []*detect.Event {
	var out []*detect.Event
	for _, e := range c.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}
