package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The test config is shaped like nunchi's (DESIGN.md §4c), with a few extra
// fields to reach every feature: an inline struct, a map of structs, a pointer
// section, value types.

type testConfig struct {
	Sensor  string            `yaml:"sensor" doc:"name stamped on every event"`
	Capture captureConfig     `yaml:"capture"`
	Rules   rulesConfig       `yaml:"rules"`
	Inject  *injectConfig     `yaml:"inject"`
	Sinks   sinksConfig       `yaml:"sinks"`
	Labels  map[string]string `yaml:"labels"`
	Timeout Duration          `yaml:"timeout" doc:"how long to wait"`
	Ignored string            `yaml:"-"`
	private int               //nolint:unused // unexported fields are not keys
}

func (c *testConfig) Validate() error {
	if c.Inject != nil && c.Inject.Enabled && c.Inject.Interface == "" {
		return errors.New("inject.interface: required when inject.enabled is true")
	}
	if c.Sensor == "" {
		return errors.New("a sensor name is required")
	}
	return nil
}

type captureConfig struct {
	Interfaces []string `yaml:"interfaces"`
	Shards     int      `yaml:"shards"`
	Fanout     string   `yaml:"fanout"`
	BPF        string   `yaml:"bpf"`
}

// Validate has a value receiver on purpose.
func (c captureConfig) Validate() error {
	var errs []error
	if c.Shards < 0 {
		errs = append(errs, errors.New("shards: must be >= 0"))
	}
	switch c.Fanout {
	case "hash", "cpu", "lb":
	default:
		errs = append(errs, errors.New("fanout: must be hash, cpu or lb"))
	}
	return errors.Join(errs...)
}

type rulesConfig struct {
	Files []string     `yaml:"files"`
	Lists []listConfig `yaml:"lists"`
}

type listConfig struct {
	ID      string         `yaml:"id"`
	Version string         `yaml:"version"`
	Action  string         `yaml:"action"`
	Domains []string       `yaml:"domains"`
	CIDRs   []netip.Prefix `yaml:"cidrs"`
}

var errBadAction = errors.New("must be log, alert or inject")

// Validate has a pointer receiver on purpose.
func (l *listConfig) Validate() error {
	switch l.Action {
	case "log", "alert", "inject":
		return nil
	}
	return fmt.Errorf("action: %w", errBadAction)
}

type injectConfig struct {
	Enabled      bool      `yaml:"enabled"`
	Interface    string    `yaml:"interface"`
	DNS          dnsConfig `yaml:"dns"`
	MaxPerSecond int       `yaml:"max_per_second"`
}

type dnsConfig struct {
	AnswerIPv4 netip.Addr `yaml:"answer_ipv4"`
	TTL        Duration   `yaml:"ttl"`
}

type sinksConfig struct {
	JSONL   jsonlConfig             `yaml:"jsonl"`
	Kafka   kafkaConfig             `yaml:"kafka"`
	Outputs map[string]outputConfig `yaml:"outputs"`
}

type jsonlConfig struct {
	Path string `yaml:"path"`
}

type commonSink struct {
	QueueSize int `yaml:"queue_size"`
}

func (c commonSink) Validate() error {
	if c.QueueSize < 0 {
		return errors.New("queue_size: must be >= 0")
	}
	return nil
}

type kafkaConfig struct {
	commonSink    `yaml:",inline"`
	Brokers       []string      `yaml:"brokers"`
	TopicPrefix   string        `yaml:"topic_prefix"`
	Spool         bool          `yaml:"spool"`
	SpoolDir      string        `yaml:"spool_dir"`
	SpoolMaxBytes ByteSize      `yaml:"spool_max_bytes"`
	FlushInterval time.Duration `yaml:"flush_interval"`
}

type outputConfig struct {
	Path  string `yaml:"path"`
	Level int    `yaml:"level"`
}

func (o outputConfig) Validate() error {
	if o.Level > 9 {
		return errors.New("level: must be <= 9")
	}
	return nil
}

func defaultConfig() testConfig {
	return testConfig{
		Sensor: "edge-1",
		Capture: captureConfig{
			Interfaces: []string{"eth1"},
			Fanout:     "hash",
		},
		Sinks: sinksConfig{
			JSONL: jsonlConfig{Path: "-"},
			Kafka: kafkaConfig{
				commonSink:    commonSink{QueueSize: 1000},
				TopicPrefix:   "nunchi",
				SpoolMaxBytes: GiB,
				FlushInterval: time.Second,
			},
			Outputs: map[string]outputConfig{"main": {Path: "main.jsonl", Level: 1}},
		},
		Timeout: Duration(30 * time.Second),
	}
}

var cmpOpts = cmp.Options{
	cmp.AllowUnexported(testConfig{}, kafkaConfig{}),
	cmp.Comparer(func(a, b netip.Addr) bool { return a == b }),
	cmp.Comparer(func(a, b netip.Prefix) bool { return a == b }),
}

// errorLines splits a joined error into its lines; nil is no lines.
func errorLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

// doc builds a YAML document from lines, so that tests can count lines.
func doc(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

func TestErrorFormat(t *testing.T) {
	cause := errors.New("boom")
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{"full", &Error{Source: "c.yaml", Line: 3, Path: "a.b", Err: cause}, "c.yaml:3: a.b: boom"},
		{"no line", &Error{Source: "NUNCHI_A_B", Path: "a.b", Err: cause}, "NUNCHI_A_B: a.b: boom"},
		{"no source", &Error{Path: "a.b", Err: cause}, "a.b: boom"},
		{"line only", &Error{Line: 2, Err: cause}, "line 2: boom"},
		{"document", &Error{Source: "c.yaml", Line: 1, Err: cause}, "c.yaml:1: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, cause) {
				t.Error("errors.Is(err, cause) = false")
			}
		})
	}
}
