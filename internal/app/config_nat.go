package app

import (
	"errors"
	"net/netip"
	"time"

	"github.com/nunchi-sensor/nunchi/detect/nat"
)

// NATConfig is the `nat` section: NAT-gateway detection (docs/nat.md).
type NATConfig struct {
	Enabled bool `yaml:"enabled"`
	// Window: evidence older than this (packet time) no longer counts.
	Window time.Duration `yaml:"window"`
	// MaxSources bounds the addresses tracked at once.
	MaxSources int `yaml:"max_sources"`
	// MinConfidence: the least confidence for a "several hosts" report.
	MinConfidence float64 `yaml:"min_confidence"`
	// MinSYNs: the least TCP SYNs from an address before it is judged.
	MinSYNs int `yaml:"min_syns"`
	// InsideNetworks: prefixes seen from an inside tap, whose flows are
	// paired with their translated outside flows.
	InsideNetworks []netip.Prefix `yaml:"inside_networks"`
}

func defaultNATConfig() NATConfig {
	d := nat.DefaultConfig()
	return NATConfig{Enabled: true, Window: d.Window, MaxSources: d.MaxSources, MinConfidence: d.MinConfidence,
		MinSYNs: d.MinSYNs, InsideNetworks: d.InsideNetworks}
}

// Validate implements config validation.
func (c NATConfig) Validate() error {
	var errs []error
	if c.Window < time.Second {
		errs = append(errs, errors.New("window: must be at least 1s"))
	}
	if c.MaxSources < 1 {
		errs = append(errs, errors.New("max_sources: must be >= 1"))
	}
	if c.MinConfidence <= 0 || c.MinConfidence > 1 {
		errs = append(errs, errors.New("min_confidence: must be in (0, 1]"))
	}
	if c.MinSYNs < 1 {
		errs = append(errs, errors.New("min_syns: must be >= 1"))
	}
	return errors.Join(errs...)
}

// tracker returns the shared tracker the pipeline feeds, nil when off.
func (c NATConfig) tracker() *nat.Tracker {
	if !c.Enabled {
		return nil
	}
	ins := c.InsideNetworks
	if ins == nil {
		ins = []netip.Prefix{}
	}
	return nat.New(nat.Config{Window: c.Window, MaxSources: c.MaxSources, MinConfidence: c.MinConfidence,
		MinSYNs: c.MinSYNs, InsideNetworks: ins})
}
