package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/rules"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// ReplayOptions are the parts of a replay that come from the command line
// rather than the config file.
type ReplayOptions struct {
	Files    []string
	Stdout   io.Writer // where "-" writes
	Progress io.Writer // terminal for the progress line; nil = none
	// ShutdownGrace bounds how long sinks may take to flush at the end.
	ShutdownGrace time.Duration
}

// Replay runs the whole pipeline over capture files: reader → shards →
// fan-out → sinks, then shuts down in that order. The returned error is the
// first that stopped the replay (a corrupt file, a sink that cannot open);
// everything read before it has been reported.
func Replay(ctx context.Context, cfg Config, opts ReplayOptions, log *slog.Logger) (pipeline.Stats, error) {
	sinkList, err := buildSinks(cfg, opts.Stdout)
	if err != nil {
		return pipeline.Stats{}, err
	}
	// A replay can wait for its sinks: block instead of dropping.
	fan := sinks.NewFanout(cfg.Sinks.QueueConfig, true, log, sinkList...)
	fan.Start()

	inj, err := inject.New(cfg.Inject)
	if err != nil {
		fan.Stop(context.Background())
		return pipeline.Stats{}, err
	}
	defer inj.Close()

	pcfg := pipelineConfig(cfg, inj)
	pcfg.Shards, pcfg.Speed = cfg.Capture.Shards, cfg.Capture.Speed
	rp := pipeline.NewReplay(pcfg, log, fan, fan)

	running, stopAround, err := startAround(ctx, cfg, rp, fan, log)
	if err != nil {
		return pipeline.Stats{}, err
	}
	defer stopAround()

	var stopProgress func()
	if opts.Progress != nil {
		stopProgress = startProgress(opts.Progress, &rp.Progress)
	}
	running.Store(true)
	runErr := rp.Run(ctx, opts.Files)
	running.Store(false)
	if stopProgress != nil {
		stopProgress()
	}
	stopErr := stopSinks(fan, opts.ShutdownGrace)
	// The caller reports the error (one line on stderr, from main).
	return rp.Stats(), errors.Join(runErr, stopErr)
}

// pipelineConfig is the part of the pipeline's configuration that replay
// and live share (live takes its shard count from its sockets).
func pipelineConfig(cfg Config, inj *inject.Injector) pipeline.Config {
	return pipeline.Config{
		Sensor:        cfg.Sensor,
		Decode:        cfg.Capture.Decode,
		Flow:          cfg.Flow,
		Streams:       cfg.Streams,
		Protocols:     pipeline.DefaultProtocols(),
		StatsInterval: cfg.Stats.Interval,
		Inject:        inj,
		Scan:          cfg.Anomalies.scanConfig(),
		NAT:           cfg.NAT.tracker(),
		Anomalies:     cfg.Anomalies.pipelineConfig(),
	}
}

// runner is what Replay and Live have in common around the pipeline.
type runner interface {
	Stats() pipeline.Stats
	SetRules(*rules.Holder)
}

// startAround starts what runs beside a pipeline — the metrics endpoint
// and the rules (with their reloads) — and returns the readiness flag the
// caller sets while the pipeline runs, and a stop function. On error the
// fan-out is stopped too.
func startAround(ctx context.Context, cfg Config, r runner, fan *sinks.Fanout, log *slog.Logger) (*atomic.Bool, func(), error) {
	running := new(atomic.Bool)
	stopMetrics, err := startMetrics(ctx, cfg.Metrics, r.Stats, running.Load, log)
	if err != nil {
		fan.Stop(context.Background())
		return nil, nil, err
	}
	holder, stopRules, err := startRules(ctx, cfg.Rules, log)
	if err != nil {
		stopMetrics()
		fan.Stop(context.Background())
		return nil, nil, err
	}
	r.SetRules(holder)
	return running, func() { stopRules(); stopMetrics() }, nil
}

// stopSinks flushes the sinks within the grace period (30 s by default).
func stopSinks(fan *sinks.Fanout, grace time.Duration) error {
	if grace <= 0 {
		grace = 30 * time.Second
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	return fan.Stop(sctx)
}

// startRules loads the rule files (an error names file and line) and keeps
// them current: SIGHUP and, every ReloadCheck, a change of the files reload
// them; a bad file keeps the rules in force and is logged.
func startRules(ctx context.Context, c RulesConfig, log *slog.Logger) (*rules.Holder, func(), error) {
	if len(c.Files) == 0 {
		return nil, func() {}, nil
	}
	set, err := rules.LoadFiles(c.Files...)
	if err != nil {
		return nil, nil, fmt.Errorf("rules: %w", err)
	}
	h := rules.NewHolder(set)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	if c.ReloadCheck > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); h.Watch(ctx, c.Files, c.ReloadCheck, log) }()
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-hup:
				if err := h.Reload(c.Files...); err != nil {
					log.Error("rules reload failed; the previous rules stay in force", "err", err)
				} else {
					st := h.Load().Stats()
					log.Info("rules reloaded", "names", st.Names, "urls", st.URLs, "cidrs", st.CIDRs)
				}
			case <-ctx.Done():
				return
			}
		}
	}()
	return h, func() { signal.Stop(hup); cancel(); wg.Wait() }, nil
}

// startProgress redraws one status line on a terminal twice a second.
func startProgress(w io.Writer, p *pipeline.Progress) func() {
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	draw := func(final bool) {
		frames, bytes := p.Frames.Load(), p.Bytes.Load()
		pos, total := p.FilePos.Load(), p.TotalSize.Load()
		el := time.Since(start).Seconds()
		rate := float64(frames) / max(el, 1e-9)
		line := fmt.Sprintf("\r%d packets  %.1f MB  %.0f pkts/s", frames, float64(bytes)/1e6, rate)
		if total > 0 && pos > 0 && !final {
			frac := float64(pos) / float64(total)
			eta := time.Duration(el/frac*(1-frac)) * time.Second
			line += fmt.Sprintf("  %3.0f%%  ETA %s", frac*100, eta.Round(time.Second))
		}
		fmt.Fprintf(w, "%-78s", line)
		if final {
			fmt.Fprintln(w)
		}
	}
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				draw(false)
			case <-done:
				draw(true)
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}
