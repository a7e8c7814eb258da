// Command benchprof replays captures exactly as `nunchi replay` does (the
// same app.Replay wiring: rules, parsers, JSONL sink) under the CPU
// profiler, so the profile in docs/performance.md covers the whole
// pipeline of the benchmark, JSON encoding and the rules included, which
// pipeline's BenchmarkReplay leaves out. A developer tool, not part of the
// sensor.
//
//	benchprof -cpuprofile cpu.out [-shards N] [-rules FILE]... -o events.jsonl FILE...
//	go tool pprof -top cpu.out
//
// -heapprofile FILE -heapafter D also writes the live heap D into the run
// (what holds memory while flows are live): go tool pprof -sample_index=inuse_space.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/app"
)

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var ruleFiles listFlag
	profile := flag.String("cpuprofile", "", "write the CPU profile here (required)")
	shards := flag.Int("shards", 0, "worker shards (0 = one per CPU)")
	output := flag.String("o", os.DevNull, "events as JSON lines to this file")
	flag.Var(&ruleFiles, "rules", "rules or list file (repeatable)")
	heapProfile := flag.String("heapprofile", "", "write a heap profile here, -heapafter into the run")
	heapAfter := flag.Duration("heapafter", time.Second, "when to write the heap profile")
	flag.Parse()
	if *heapProfile != "" {
		time.AfterFunc(*heapAfter, func() {
			runtime.GC() // the profile shows the heap as of the last GC
			if f, err := os.Create(*heapProfile); err == nil {
				pprof.Lookup("heap").WriteTo(f, 0)
				f.Close()
			}
		})
	}
	if *profile == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: benchprof -cpuprofile OUT [-shards N] [-rules FILE]... [-o EVENTS] FILE...")
		os.Exit(2)
	}
	if err := run(*profile, *shards, *output, ruleFiles, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "benchprof:", err)
		os.Exit(1)
	}
}

func run(profile string, shards int, output string, ruleFiles, files []string) error {
	cfg, err := app.LoadConfig("", nil)
	if err != nil {
		return err
	}
	cfg.Sinks.JSONL.Path = output
	cfg.Capture.Shards = shards
	cfg.Rules.Files = ruleFiles
	if err := cfg.Check(); err != nil {
		return err
	}
	f, err := os.Create(profile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	start := time.Now()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := app.Replay(context.Background(), cfg, app.ReplayOptions{Files: files, Stdout: io.Discard}, log)
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("%d packets in %v: %.0f pkts/s (rules loading included)\n", st.Capture.Frames, el.Round(time.Millisecond),
		float64(st.Capture.Frames)/el.Seconds())
	return f.Close()
}
