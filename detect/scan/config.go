package scan

import (
	"errors"
	"fmt"
	"time"
)

// Config is the `anomaly.scan:` section.
type Config struct {
	// Window is the packet-time window counts are kept over.
	Window time.Duration `yaml:"window"`
	// HorizontalHosts: distinct hosts one source probes on one port.
	HorizontalHosts int `yaml:"horizontal_hosts"`
	// VerticalPorts: distinct ports one source probes on one host.
	VerticalPorts int `yaml:"vertical_ports"`
	// SynFloodHalfOpen: half-open handshakes to one host and port.
	SynFloodHalfOpen int `yaml:"syn_flood_half_open"`
	// SynFloodRatio: the share of SYNs left half-open (0–1).
	SynFloodRatio float64 `yaml:"syn_flood_ratio"`
	// MaxEntries bounds each of the three tables (rounded up to a power of two).
	MaxEntries int `yaml:"max_entries"`
	// Seed seeds the table and sketch hashes.
	Seed uint64 `yaml:"seed"`
}

// DefaultConfig returns the defaults: a minute's window, 20 hosts, 25
// ports, 500 half-open handshakes at 80 %, 4096 entries per table.
func DefaultConfig() Config {
	return Config{
		Window:           time.Minute,
		HorizontalHosts:  20,
		VerticalPorts:    25,
		SynFloodHalfOpen: 500,
		SynFloodRatio:    0.8,
		MaxEntries:       4096,
	}
}

// Validate checks the values.
func (c Config) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("window: %v, want > 0", c.Window))
	}
	if c.HorizontalHosts < 2 {
		errs = append(errs, fmt.Errorf("horizontal_hosts: %d, want ≥ 2", c.HorizontalHosts))
	}
	if c.VerticalPorts < 2 {
		errs = append(errs, fmt.Errorf("vertical_ports: %d, want ≥ 2", c.VerticalPorts))
	}
	if c.SynFloodHalfOpen < 1 {
		errs = append(errs, fmt.Errorf("syn_flood_half_open: %d, want ≥ 1", c.SynFloodHalfOpen))
	}
	if c.SynFloodRatio < 0 || c.SynFloodRatio > 1 {
		errs = append(errs, fmt.Errorf("syn_flood_ratio: %v, want 0–1", c.SynFloodRatio))
	}
	if c.MaxEntries < ways || c.MaxEntries > 1<<22 {
		errs = append(errs, fmt.Errorf("max_entries: %d, want %d–%d", c.MaxEntries, ways, 1<<22))
	}
	if len(errs) > 0 {
		return fmt.Errorf("scan: %w", errors.Join(errs...))
	}
	return nil
}
