package app

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/jsonl"
)

// Config is the whole config file (DESIGN.md §4c). Every key listed there
// exists here; sections of features that are not built yet are accepted
// with their defaults and rejected when switched on, so a config written
// for the documented contract never fails on an unknown key.
type Config struct {
	Sensor  string                  `yaml:"sensor"`
	Capture capture.Config          `yaml:"capture"`
	Flow    reassembly.FlowConfig   `yaml:"flow"`
	Streams reassembly.StreamConfig `yaml:"streams"`
	Rules   RulesConfig             `yaml:"rules"`
	Inject  InjectConfig            `yaml:"inject"`
	Sinks   SinksConfig             `yaml:"sinks"`
	Metrics MetricsConfig           `yaml:"metrics"`
	Report  ReportConfig            `yaml:"report"`
	Stats   StatsConfig             `yaml:"stats"`
	Log     LogConfig               `yaml:"log"`
}

// RulesConfig names the rule and list files (any supported format, detected
// by content) and how often they are checked for changes.
type RulesConfig struct {
	Files []string `yaml:"files"`
	// ReloadCheck is how often the files are checked for changes (0 = only on SIGHUP).
	ReloadCheck time.Duration `yaml:"reload_check"`
}

// Validate implements config validation.
func (c RulesConfig) Validate() error {
	if c.ReloadCheck < 0 {
		return errors.New("reload_check: must be >= 0")
	}
	return nil
}

// InjectConfig configures spoofed responses (opt-in).
type InjectConfig struct {
	Enabled             bool          `yaml:"enabled"`
	Interface           string        `yaml:"interface"`
	DryRunPcap          string        `yaml:"dry_run_pcap"`
	HTTP                InjectHTTP    `yaml:"http"`
	DNS                 InjectDNS     `yaml:"dns"`
	NeverInjectNetworks []string      `yaml:"never_inject_networks"`
	MaxPerSecond        int           `yaml:"max_per_second"`
	Window              time.Duration `yaml:"window"`
}

// InjectHTTP is the HTTP warning response.
type InjectHTTP struct {
	Mode     string `yaml:"mode"` // redirect | page
	Location string `yaml:"location"`
	PageFile string `yaml:"page_file"`
}

// InjectDNS is the spoofed DNS answer.
type InjectDNS struct {
	AnswerIPv4 string `yaml:"answer_ipv4"`
	AnswerIPv6 string `yaml:"answer_ipv6"`
	TTL        int    `yaml:"ttl"`
}

// Validate implements config validation.
func (c InjectConfig) Validate() error {
	var errs []error
	if c.Enabled {
		errs = append(errs, errors.New("enabled: injection is not part of this build yet"))
	}
	switch c.HTTP.Mode {
	case "redirect", "page":
	default:
		errs = append(errs, fmt.Errorf("http.mode: %q is not one of redirect, page", c.HTTP.Mode))
	}
	for _, a := range []struct{ k, v string }{{"dns.answer_ipv4", c.DNS.AnswerIPv4}, {"dns.answer_ipv6", c.DNS.AnswerIPv6}} {
		if a.v == "" {
			continue
		}
		if _, err := netip.ParseAddr(a.v); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", a.k, err))
		}
	}
	for i, n := range c.NeverInjectNetworks {
		if _, err := netip.ParsePrefix(n); err != nil {
			errs = append(errs, fmt.Errorf("never_inject_networks[%d]: %w", i, err))
		}
	}
	if c.MaxPerSecond < 0 {
		errs = append(errs, fmt.Errorf("max_per_second: must be >= 0"))
	}
	return errors.Join(errs...)
}

// SinksConfig holds every sink's section and the shared queue settings.
type SinksConfig struct {
	sinks.QueueConfig `yaml:",inline"`
	JSONL             jsonl.Config     `yaml:"jsonl"`
	Kafka             KafkaConfig      `yaml:"kafka"`
	ClickHouse        ClickHouseConfig `yaml:"clickhouse"`
}

// StatsConfig controls stats events.
type StatsConfig struct {
	// Interval between periodic stats events (wall clock); 0 = only at the end of a replay.
	Interval time.Duration `yaml:"interval"`
}

// LogConfig controls the sensor's own log (stderr).
type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// Validate implements config validation.
func (c LogConfig) Validate() error {
	var errs []error
	switch c.Level {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("level: %q is not one of debug, info, warn, error", c.Level))
	}
	switch c.Format {
	case "text", "json":
	default:
		errs = append(errs, fmt.Errorf("format: %q is not one of text, json", c.Format))
	}
	return errors.Join(errs...)
}

// Validate checks cross-section rules.
func (c Config) Validate() error {
	if c.Sensor == "" {
		return errors.New("sensor: must not be empty")
	}
	return nil
}

// DefaultConfig returns the effective configuration when no file is given.
func DefaultConfig() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "nunchi"
	}
	return Config{
		Sensor:  host,
		Capture: capture.DefaultConfig(),
		Flow:    reassembly.DefaultFlowConfig(),
		Streams: reassembly.DefaultStreamConfig(),
		Rules:   RulesConfig{ReloadCheck: 5 * time.Second},
		Inject: InjectConfig{
			HTTP:         InjectHTTP{Mode: "redirect", Location: "http://warning.example/?blocked={name}"},
			DNS:          InjectDNS{AnswerIPv4: "192.0.2.80", AnswerIPv6: "2001:db8::80", TTL: 60},
			MaxPerSecond: 100,
		},
		Sinks: SinksConfig{
			QueueConfig: sinks.DefaultQueueConfig(),
			JSONL:       jsonl.DefaultConfig(),
			Kafka:       defaultKafkaConfig(),
			ClickHouse:  defaultClickHouseConfig(),
		},
		Log: LogConfig{Level: "info", Format: "text"},
	}
}

// LoadConfig returns the defaults overlaid with the file at path (if any)
// and NUNCHI_* environment variables, validated.
func LoadConfig(path string, environ []string) (Config, error) {
	cfg := DefaultConfig()
	if path != "" {
		if err := config.Load(path, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := config.ApplyEnv("NUNCHI", configEnv(environ), &cfg); err != nil {
		return cfg, err
	}
	return cfg, cfg.Check()
}

// configEnv drops the variables that are not config keys: NUNCHI_TEST_*
// belong to the test suite. Every other NUNCHI_* variable must name a key.
func configEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "NUNCHI_TEST_") {
			out = append(out, kv)
		}
	}
	return out
}

// Check validates the whole tree.
func (c *Config) Check() error {
	if err := config.Validate(c); err != nil {
		return fmt.Errorf("invalid config:\n%w", err)
	}
	return nil
}
