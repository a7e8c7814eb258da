package rules

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestReloadKeepsOldSetOnError(t *testing.T) {
	dir := writeFiles(t, map[string]string{"l.txt": "a.example\n"})
	p := filepath.Join(dir, "l.txt")
	h := NewHolder(mustLoad(t, p))
	old := h.Load()
	if err := os.WriteFile(p, []byte("a.example\nbad!name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := h.Reload(p)
	if err == nil {
		t.Fatal("Reload of a bad file succeeded")
	}
	if want := p + ":2: invalid name"; !strings.Contains(err.Error(), want) {
		t.Errorf("Reload error %q does not contain %q", err, want)
	}
	if h.Load() != old {
		t.Error("a failed reload replaced the Set")
	}
	if _, ok := h.Load().MatchName("a.example"); !ok {
		t.Error("old rules lost")
	}
	if err := os.WriteFile(p, []byte("b.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.Reload(p); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.Load().MatchName("b.example"); !ok {
		t.Error("new rules not served")
	}
	if _, ok := old.MatchName("a.example"); !ok {
		t.Error("the old Set changed after the swap")
	}
	if r := h.Reloads(); r.OK != 1 || r.Failed != 1 {
		t.Errorf("Reloads = %+v", r)
	}
	if NewHolder(nil).Load() != nil {
		t.Error("NewHolder(nil)")
	}
}

// TestReloadConcurrentReaders swaps between two rule sets while readers look
// up names: every answer must come from one whole Set (run with -race).
func TestReloadConcurrentReaders(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a/l.txt": "one.example\n.both.example\n",
		"b/l.txt": "two.example\n.both.example\n",
	})
	pa, pb := filepath.Join(dir, "a/l.txt"), filepath.Join(dir, "b/l.txt")
	h := NewHolder(mustLoad(t, pa))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var lookups atomic.Int64
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				s := h.Load()
				_, one := s.MatchName("one.example")
				_, two := s.MatchName("two.example")
				m, both := s.MatchName("x.both.example")
				if one == two || !both || m.Line != 2 {
					t.Errorf("inconsistent Set: one=%v two=%v both=%v", one, two, both)
					return
				}
				lookups.Add(1)
			}
		}()
	}
	for i := range 50 {
		p := pa
		if i%2 == 0 {
			p = pb
		}
		if err := h.Reload(p); err != nil {
			t.Error(err)
		}
		if i%10 == 0 {
			if err := h.Reload(filepath.Join(dir, "missing.txt")); err == nil {
				t.Error("reload of a missing file succeeded")
			}
		}
	}
	close(stop)
	wg.Wait()
	if lookups.Load() == 0 {
		t.Error("no lookups ran")
	}
	if r := h.Reloads(); r.OK != 50 || r.Failed != 5 {
		t.Errorf("Reloads = %+v", r)
	}
}

func TestWatch(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"rules.yaml": "lists:\n  - id: a\n    files: [l.txt]\n",
		"l.txt":      "a.example\n",
	})
	rules := filepath.Join(dir, "rules.yaml")
	list := filepath.Join(dir, "l.txt")
	h := NewHolder(mustLoad(t, rules))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		h.Watch(ctx, []string{rules}, 10*time.Millisecond, slog.New(slog.DiscardHandler))
		close(done)
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, f func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if f() {
				return
			}
		}
		t.Fatalf("timed out waiting for %s", what)
	}
	// A change in a list file named by the YAML file is picked up.
	if err := os.WriteFile(list, []byte("a.example\nb.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("b.example", func() bool { _, ok := h.Load().MatchName("b.example"); return ok })
	// A bad change keeps the rules and is not retried until the next change.
	if err := os.WriteFile(list, []byte("a.example\nbad!\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("a failed reload", func() bool { return h.Reloads().Failed == 1 })
	time.Sleep(50 * time.Millisecond)
	if r := h.Reloads(); r.Failed != 1 {
		t.Errorf("failed reload retried without a change: %+v", r)
	}
	if _, ok := h.Load().MatchName("b.example"); !ok {
		t.Error("rules lost after a bad change")
	}
	if err := os.WriteFile(list, []byte("c.example\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor("c.example", func() bool { _, ok := h.Load().MatchName("c.example"); return ok })
}
