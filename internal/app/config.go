package app

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect/scan"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/jsonl"
)

// Config is the whole config file (DESIGN.md §4c). Every key listed there
// exists here; sections of features that are not built yet are accepted
// with their defaults and rejected when switched on, so a config written
// for the documented contract never fails on an unknown key.
type Config struct {
	Sensor    string                  `yaml:"sensor"`
	Capture   capture.Config          `yaml:"capture"`
	Flow      reassembly.FlowConfig   `yaml:"flow"`
	Streams   reassembly.StreamConfig `yaml:"streams"`
	Rules     RulesConfig             `yaml:"rules"`
	Inject    inject.Config           `yaml:"inject"`
	Sinks     SinksConfig             `yaml:"sinks"`
	Metrics   MetricsConfig           `yaml:"metrics"`
	Report    ReportConfig            `yaml:"report"`
	Anomalies AnomaliesConfig         `yaml:"anomalies"`
	NAT       NATConfig               `yaml:"nat"`
	Stats     StatsConfig             `yaml:"stats"`
	Log       LogConfig               `yaml:"log"`
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

// SinksConfig holds every sink's section and the shared queue settings.
type SinksConfig struct {
	sinks.QueueConfig `yaml:",inline"`
	JSONL             jsonl.Config     `yaml:"jsonl"`
	Kafka             KafkaConfig      `yaml:"kafka"`
	ClickHouse        ClickHouseConfig `yaml:"clickhouse"`
}

// AnomaliesConfig tunes the anomaly detectors the shards run themselves.
type AnomaliesConfig struct {
	// ScanDetection turns the port-scan and SYN-flood detector on.
	ScanDetection bool        `yaml:"scan_detection"`
	Scan          scan.Config `yaml:"scan"`
	// DoH: the DNS-over-HTTPS endpoint list (list_file: names, ".suffix",
	// addresses, CIDRs, one a line; empty = the built-in list).
	DoH struct {
		ListFile string `yaml:"list_file"`
	} `yaml:"doh"`
	// ECHPublicNames: outer SNIs of real ECH deployments (tls_ech); unset = cloudflare-ech.com.
	ECHPublicNames []string `yaml:"ech_public_names"`
	// MalformedSampleInterval: at most one malformed anomaly per decoder
	// reason per this much packet time (0 = none).
	MalformedSampleInterval time.Duration `yaml:"malformed_sample_interval"`
}

// Validate loads the DoH list, so that a bad line fails `nunchi check` and
// startup with its file and line.
func (c AnomaliesConfig) Validate() error {
	if c.MalformedSampleInterval < 0 {
		return errors.New("malformed_sample_interval: must be >= 0")
	}
	if c.DoH.ListFile != "" {
		if _, err := pipeline.LoadDoHList(c.DoH.ListFile); err != nil {
			return fmt.Errorf("doh.list_file: %w", err)
		}
	}
	return nil
}

// pipelineConfig is the pipeline's view. The DoH list was validated with
// the config; a file broken since then falls back to the built-in list.
func (c AnomaliesConfig) pipelineConfig() pipeline.AnomalyConfig {
	pc := pipeline.AnomalyConfig{ECHPublicNames: c.ECHPublicNames, MalformedSampleInterval: c.MalformedSampleInterval}
	if c.DoH.ListFile != "" {
		pc.DoH, _ = pipeline.LoadDoHList(c.DoH.ListFile)
	}
	return pc
}

// scanConfig is the pipeline's view: nil when scan detection is off.
func (c AnomaliesConfig) scanConfig() *scan.Config {
	if !c.ScanDetection {
		return nil
	}
	sc := c.Scan
	return &sc
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
		Sensor:    host,
		Capture:   capture.DefaultConfig(),
		Flow:      reassembly.DefaultFlowConfig(),
		Streams:   reassembly.DefaultStreamConfig(),
		Rules:     RulesConfig{ReloadCheck: 5 * time.Second},
		Inject:    inject.DefaultConfig(),
		NAT:       defaultNATConfig(),
		Anomalies: AnomaliesConfig{ScanDetection: true, Scan: scan.DefaultConfig(), MalformedSampleInterval: time.Minute},

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
// belong to the test suite, NUNCHI_SERVICES* and NUNCHI_LAB_* to the dev
// scripts (deploy/dev/services.sh, testdata/netns/span-lab.sh). Every other
// NUNCHI_* variable must name a key.
func configEnv(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "NUNCHI_TEST_") && !strings.HasPrefix(kv, "NUNCHI_SERVICES") && !strings.HasPrefix(kv, "NUNCHI_LAB_") {
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
