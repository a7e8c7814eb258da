package app

import (
	"errors"
	"fmt"

	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/report"
)

// ReportConfig is the offline HTML report of a run.
type ReportConfig struct {
	// Path of the self-contained HTML report written at the end of a run
	// (nunchi replay --report); empty = none.
	Path string `yaml:"path"`
	// Top is the number of rows per table (0 = 20).
	Top int `yaml:"top"`
	// Track is the number of keys each table tracks, its memory bound
	// (0 = 2000); past it, counts become estimates, marked in the report.
	Track int `yaml:"track"`
}

// Validate implements config validation.
func (c ReportConfig) Validate() error {
	var errs []error
	if c.Top < 0 {
		errs = append(errs, fmt.Errorf("top: must be >= 0 (0 = 20), got %d", c.Top))
	}
	if c.Track < 0 {
		errs = append(errs, fmt.Errorf("track: must be >= 0 (0 = 2000), got %d", c.Track))
	} else if c.Track > 0 && c.Track < max(c.Top, 1) {
		errs = append(errs, fmt.Errorf("track: must be >= top (%d), got %d", c.Top, c.Track))
	}
	return errors.Join(errs...)
}

// reportSinks builds the report sink when a path is configured.
func reportSinks(cfg Config) ([]sinks.Sink, error) {
	if cfg.Report.Path == "" {
		return nil, nil
	}
	s, err := report.New(report.Config{Path: cfg.Report.Path, Top: cfg.Report.Top, Track: cfg.Report.Track})
	if err != nil {
		return nil, err
	}
	return []sinks.Sink{s}, nil
}
