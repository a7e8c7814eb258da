package pipeline

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestReplayPacing: --speed X replays no faster than the capture's own
// timing divided by X. Only the lower bound is asserted (a busy machine can
// only make a replay slower), so the test cannot flake.
func TestReplayPacing(t *testing.T) {
	if testing.Short() {
		t.Skip("sleeps")
	}
	path := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")
	const speed = 25
	start := time.Now()
	evs, st, err := replayFile(t, path, Config{Speed: speed, StatsInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	var first, last int64
	for _, e := range evs {
		if e.Flow == nil {
			continue
		}
		if first == 0 || e.Flow.Start < first {
			first = e.Flow.Start
		}
		last = max(last, e.Flow.End)
	}
	want := time.Duration(last-first) / speed
	if elapsed < want-5*time.Millisecond {
		t.Errorf("replay at speed %d took %v, the capture spans %v: want at least %v", speed, elapsed, time.Duration(last-first), want)
	}
	if st.Capture.Frames == 0 {
		t.Error("nothing replayed")
	}
	// The replay lasts several stats intervals: periodic stats events come
	// before the final one.
	stats := 0
	for _, e := range evs {
		if e.Type == "stats" {
			stats++
		}
	}
	if stats < 2 {
		t.Errorf("%d stats events, want periodic ones besides the final one", stats)
	}
}
