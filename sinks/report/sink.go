package report

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// Config is the report's settings.
type Config struct {
	// Path of the HTML file written at Close.
	Path string
	// Top is the number of rows shown per table (default 20).
	Top int
	// Track is the number of keys tracked per table (default 2000): the
	// memory bound, and how many distinct keys may be seen before counts
	// become estimates (marked in the report).
	Track int
	// Bucket is the narrowest width of the time-series buckets (default 1
	// second); Buckets the most buckets kept (default 1440): past it, the
	// width moves up a ladder (5 s, 10 s, 30 s, 1 min, 5 min … 1 day) and
	// neighbours merge, so a day of capture is kept per minute.
	Bucket  time.Duration
	Buckets int
	// Now stamps the report's generation time (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	if c.Top <= 0 {
		c.Top = 20
	}
	if c.Track <= 0 {
		c.Track = 2000
	}
	if c.Track < c.Top {
		c.Track = c.Top
	}
	if c.Bucket <= 0 {
		c.Bucket = time.Second
	}
	if c.Buckets <= 1 {
		c.Buckets = 1440
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Sink aggregates events and writes the report at Close.
type Sink struct {
	cfg  Config
	agg  *Aggregator
	tmp  *os.File
	done bool
}

var _ sinks.Sink = (*Sink)(nil)

// New checks that the report can be written — it creates a temporary file
// next to cfg.Path, renamed over it at Close — so a bad path fails before
// a long replay rather than after it.
func New(cfg Config) (*Sink, error) {
	cfg.setDefaults()
	if cfg.Path == "" {
		return nil, errors.New("sinks/report: no path")
	}
	dir := filepath.Dir(cfg.Path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(cfg.Path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("sinks/report: %w", err)
	}
	return &Sink{cfg: cfg, agg: NewAggregator(cfg), tmp: tmp}, nil
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return "report" }

// Write implements sinks.Sink.
func (s *Sink) Write(events []*detect.Event) error {
	for _, e := range events {
		s.agg.Add(e)
	}
	return nil
}

// Flush implements sinks.Sink (the report is written once, at Close).
func (s *Sink) Flush() error { return nil }

// Close renders the report into the temporary file and renames it to the
// configured path. A sink closed before any event arrived (the run failed
// to start) writes nothing and leaves no file behind.
func (s *Sink) Close() error {
	if s.done {
		return nil
	}
	s.done = true
	name := s.tmp.Name()
	if s.agg.empty() {
		s.tmp.Close()
		os.Remove(name)
		return nil
	}
	err := Render(s.tmp, s.agg, s.cfg.Now())
	if err == nil {
		err = s.tmp.Chmod(0o644)
	}
	if err == nil {
		err = s.tmp.Sync()
	}
	if cerr := s.tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, s.cfg.Path)
	}
	if err != nil {
		os.Remove(name)
		return fmt.Errorf("sinks/report: %s: %w", s.cfg.Path, err)
	}
	return nil
}
