package pipeline

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// benchPcap returns the benchgen capture to replay: $NUNCHI_BENCH_PCAP, or
// /tmp/nunchi-bench/bench-200.pcap, generated from ../shared/tools/benchgen
// when missing (deterministic: seed 1, 200 MB).
func benchPcap(b testing.TB) string {
	b.Helper()
	if p := os.Getenv("NUNCHI_BENCH_PCAP"); p != "" {
		return p
	}
	return benchgenPcap(b, 200)
}

// benchgenPcap generates (once) a benchgen capture of sizeMB megabytes,
// seed 1, in $TMPDIR/nunchi-bench, with its truth files beside it.
func benchgenPcap(b testing.TB, sizeMB int) string {
	dir := filepath.Join(os.TempDir(), "nunchi-bench")
	out := filepath.Join(dir, fmt.Sprintf("bench-%d.pcap", sizeMB))
	if _, err := os.Stat(out); err == nil {
		return out
	}
	gen := filepath.Join(testutil.RepoRoot(b), "..", "shared", "tools", "benchgen")
	if _, err := os.Stat(gen); err != nil {
		b.Skipf("benchgen not found at %s", gen)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, "benchgen")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = gen
	if o, err := build.CombinedOutput(); err != nil {
		b.Fatalf("building benchgen: %v\n%s", err, o)
	}
	if o, err := exec.Command(bin, "-o", out, "-size-mb", fmt.Sprint(sizeMB), "-seed", "1").CombinedOutput(); err != nil {
		b.Fatalf("benchgen: %v\n%s", err, o)
	}
	return out
}

// countingPublisher counts events without keeping them, so the benchmark
// measures the pipeline, not a sink.
type countingPublisher struct{ n int }

func (c *countingPublisher) Publish(evs []*detect.Event) { c.n += len(evs) }

// BenchmarkReplay replays the whole benchgen capture per iteration and
// reports packets per second, heap allocations per packet and the
// process's peak RSS, for 1 and 2 shards.
func BenchmarkReplay(b *testing.B) {
	path := benchPcap(b)
	for _, c := range []struct {
		name      string
		shards    int
		protocols bool
	}{{"flows/shards=1", 1, false}, {"flows/shards=2", 2, false}, {"parsers/shards=1", 1, true}, {"parsers/shards=2", 2, true}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := Config{Sensor: "bench", Shards: c.shards, Decode: capture.DefaultDecoderConfig(), Flow: reassembly.DefaultFlowConfig(),
				Streams: reassembly.DefaultStreamConfig()}
			if c.protocols {
				cfg.Protocols = DefaultProtocols()
			}
			log := slog.New(slog.NewTextHandler(io.Discard, nil))
			var packets uint64
			var elapsed time.Duration
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			b.ReportAllocs()
			for b.Loop() {
				pub := &countingPublisher{}
				r := NewReplay(cfg, log, pub, nil)
				start := time.Now()
				if err := r.Run(context.Background(), []string{path}); err != nil {
					b.Fatal(err)
				}
				elapsed += time.Since(start)
				packets += r.Stats().Capture.Frames
			}
			runtime.ReadMemStats(&ms1)
			b.ReportMetric(float64(packets)/elapsed.Seconds(), "pkts/s")
			b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/float64(packets), "allocs/pkt")
			var ru syscall.Rusage
			if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
				b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
			}
		})
	}
}
