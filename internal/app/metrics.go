package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/nunchi-sensor/nunchi/metrics"
	"github.com/nunchi-sensor/nunchi/pipeline"
)

// MetricsConfig is the metrics and health endpoint.
type MetricsConfig struct {
	// Listen is the address of the Prometheus metrics and health
	// endpoints (e.g. 127.0.0.1:9911); empty = off.
	Listen string `yaml:"listen"`
}

// Validate implements config validation.
func (c MetricsConfig) Validate() error {
	if c.Listen == "" {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen: %q is not host:port (e.g. 127.0.0.1:9911 or :9911): %w", c.Listen, err)
	}
	return nil
}

// metricsStopGrace bounds how long a scrape in progress may hold the end
// of a run.
const metricsStopGrace = 5 * time.Second

// startMetrics serves metrics from stats while a run lasts; stop shuts
// the server down. ready reports whether the pipeline is capturing.
func startMetrics(ctx context.Context, cfg MetricsConfig, stats func() pipeline.Stats, ready func() bool, log *slog.Logger) (stop func(), err error) {
	if cfg.Listen == "" {
		return func() {}, nil
	}
	srv := metrics.New(cfg.Listen, metrics.Source{Stats: stats, Ready: ready}, log.With("component", "metrics"))
	if err := srv.Start(); err != nil {
		return nil, err
	}
	log.Info("metrics endpoint listening", "addr", srv.Addr(), "paths", "/metrics /healthz /readyz")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsStopGrace)
		defer cancel()
		if err := srv.Stop(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Warn("metrics endpoint shutdown", "err", err)
		}
	}, nil
}
