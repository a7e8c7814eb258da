package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/user"
	"runtime"
	"strconv"
	"syscall"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// LiveOptions are the parts of a live run that come from the command line
// or a test rather than the config file.
type LiveOptions struct {
	Stdout io.Writer // where "-" writes
	// ShutdownGrace bounds how long sinks may take to flush at the end.
	ShutdownGrace time.Duration
	// OnStarted is called once every capture socket is open and read.
	OnStarted func()
	// SlowBatch slows every shard down (drop-accounting tests only).
	SlowBatch time.Duration
}

// Live captures from cfg.Capture.Interfaces until ctx is done (SIGINT or
// SIGTERM in the CLI), then drains the shards, reports every open flow
// and flushes the sinks. Sockets are opened first (they need
// CAP_NET_RAW); then, when capture.live.user is set, the process drops to
// that user. Unlike a replay, a slow sink never holds capture back: its
// queue drops and counts.
func Live(ctx context.Context, cfg Config, opts LiveOptions, log *slog.Logger) (pipeline.Stats, error) {
	shards := cfg.Capture.Shards
	if shards <= 0 {
		shards = runtime.NumCPU()
	}
	if cfg.Capture.Live.Source == "pcap" {
		shards = 1 // libpcap has no fanout: one socket per interface, one shard
	}
	sources, err := capture.OpenLive(capture.LiveSpec{
		Interfaces: cfg.Capture.Interfaces, Shards: shards, Fanout: cfg.Capture.Fanout,
		BPF: cfg.Capture.BPF, Live: cfg.Capture.Live,
	})
	if err != nil {
		return pipeline.Stats{}, err
	}
	defer func() {
		for _, ss := range sources {
			for _, s := range ss {
				s.Close()
			}
		}
	}()
	// The TX socket needs CAP_NET_RAW too: open it before any privilege drop.
	inj, err := inject.New(cfg.Inject)
	if err != nil {
		return pipeline.Stats{}, err
	}
	defer inj.Close()
	sinkList, err := buildSinks(cfg, opts.Stdout)
	if err != nil {
		return pipeline.Stats{}, err
	}
	if cfg.Capture.Live.User != "" {
		if err := dropPrivileges(cfg.Capture.Live.User); err != nil {
			for _, s := range sinkList {
				s.Close()
			}
			return pipeline.Stats{}, err
		}
		log.Info("dropped privileges", "user", cfg.Capture.Live.User)
	}
	fan := sinks.NewFanout(cfg.Sinks.QueueConfig, false, log, sinkList...)
	fan.Start()

	lv := pipeline.NewLive(pipelineConfig(cfg, inj), pipeline.LiveOptions{
		SpanDedupWindow: cfg.Capture.Live.SpanDedupWindow,
		SlowBatch:       opts.SlowBatch,
		OnStarted:       opts.OnStarted,
	}, sources, log, fan, fan)

	running, stopAround, err := startAround(ctx, cfg, lv, fan, log)
	if err != nil {
		return pipeline.Stats{}, err
	}
	defer stopAround()

	log.Info("live capture started", "interfaces", cfg.Capture.Interfaces, "shards", len(sources),
		"source", cfg.Capture.Live.Source, "bpf", cfg.Capture.BPF)
	running.Store(true)
	runErr := lv.Run(ctx)
	running.Store(false)
	stopErr := stopSinks(fan, opts.ShutdownGrace)
	st := lv.Stats()
	log.Info("live capture stopped", "frames", st.Capture.Frames, "kernel_packets", st.Capture.KernelPackets,
		"kernel_drops", st.Capture.KernelDrops, "span_duplicates", st.Capture.SpanDuplicates)
	return st, errors.Join(runErr, stopErr)
}

// dropPrivileges switches every thread of the process to name (a user
// name or numeric uid) and its primary group, with no supplementary
// groups. Capabilities go with root; sockets already open keep working.
func dropPrivileges(name string) error {
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.Atoi(name); nerr == nil {
			u, err = user.LookupId(name)
		}
		if err != nil {
			return fmt.Errorf("capture.live.user: %w", err)
		}
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		return fmt.Errorf("capture.live.user: %q has a non-numeric uid/gid", name)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("capture.live.user: setgroups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("capture.live.user: setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("capture.live.user: setuid %d: %w", uid, err)
	}
	return nil
}
