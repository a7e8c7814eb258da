package capture

import (
	"errors"
	"fmt"
)

// Config is the `capture:` section of the config file.
type Config struct {
	// Interfaces to capture from (live mode). Replay takes files on the command line.
	Interfaces []string `yaml:"interfaces"`
	// Shards is the number of worker shards; 0 means one per CPU.
	Shards int `yaml:"shards"`
	// Fanout selects the AF_PACKET fanout mode: hash, cpu or lb.
	Fanout string `yaml:"fanout"`
	// BPF is a tcpdump filter expression applied at the source.
	BPF string `yaml:"bpf"`
	// Speed paces a replay: 0 = as fast as possible, 1 = original timing, 10 = ten times faster.
	Speed float64 `yaml:"speed"`
	// Decode configures the packet decoder.
	Decode DecoderConfig `yaml:"decode"`
	// Live tunes live capture (nunchi live).
	Live LiveConfig `yaml:"live"`
}

// DefaultConfig returns the capture defaults.
func DefaultConfig() Config {
	return Config{Fanout: "hash", Decode: DefaultDecoderConfig(), Live: DefaultLiveConfig()}
}

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if c.Shards < 0 || c.Shards > 1024 {
		errs = append(errs, fmt.Errorf("shards: %d out of range 0..1024", c.Shards))
	}
	switch c.Fanout {
	case "hash", "cpu", "lb":
	default:
		errs = append(errs, fmt.Errorf("fanout: %q is not one of hash, cpu, lb", c.Fanout))
	}
	if c.Speed < 0 {
		errs = append(errs, fmt.Errorf("speed: must be >= 0, got %g", c.Speed))
	}
	if err := c.Live.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("live: %w", err))
	}
	return errors.Join(errs...)
}

// DecoderConfig tunes the packet decoder.
type DecoderConfig struct {
	// VXLANPorts are UDP destination ports decoded as VXLAN (at most 4).
	VXLANPorts []uint16 `yaml:"vxlan_ports"`
	// GenevePort is the UDP destination port decoded as Geneve.
	GenevePort uint16 `yaml:"geneve_port"`
	// Teredo decodes UDP port 3544 payloads that hold IPv6 as Teredo.
	Teredo bool `yaml:"teredo"`
	// DisableTunnels keeps UDP tunnels (VXLAN, Geneve, Teredo) as plain UDP flows.
	DisableTunnels bool `yaml:"disable_tunnels"`
	// Defrag bounds IP defragmentation.
	Defrag DefragConfig `yaml:"defrag"`
}

// DefaultDecoderConfig returns the decoder defaults.
func DefaultDecoderConfig() DecoderConfig {
	return DecoderConfig{VXLANPorts: []uint16{4789, 8472}, GenevePort: 6081, Teredo: true, Defrag: DefragConfig{}.WithDefaults()}
}

// Validate checks the decoder settings.
func (c DecoderConfig) Validate() error {
	var errs []error
	if len(c.VXLANPorts) > 4 {
		errs = append(errs, fmt.Errorf("vxlan_ports: at most 4 ports, got %d", len(c.VXLANPorts)))
	}
	if err := c.Defrag.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("defrag: %w", err))
	}
	return errors.Join(errs...)
}

func (c *DecoderConfig) setDefaults() {
	if c.VXLANPorts == nil {
		c.VXLANPorts = []uint16{4789, 8472}
	}
	if c.GenevePort == 0 {
		c.GenevePort = 6081
	}
}
