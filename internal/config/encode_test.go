package config

import (
	"math"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMarshal(t *testing.T) {
	c := defaultConfig()
	c.Labels = map[string]string{"z": "last", "a": "first", "needs quoting": "true", "n": "123", "e": ""}
	c.Rules.Lists = []listConfig{{ID: "x", Version: "2026-11-01", Action: "log", CIDRs: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")}}}
	got, err := Marshal(&c)
	if err != nil {
		t.Fatalf("Marshal() error: %v", err)
	}
	want := `sensor: edge-1
capture:
  interfaces: [eth1]
  shards: 0
  fanout: hash
  bpf: ""
rules:
  files: []
  lists:
    - id: x
      version: "2026-11-01"
      action: log
      domains: []
      cidrs: [192.0.2.0/24]
inject: null
sinks:
  jsonl:
    path: '-'
  kafka:
    queue_size: 1000
    brokers: []
    topic_prefix: nunchi
    spool: false
    spool_dir: ""
    spool_max_bytes: 1GiB
    flush_interval: 1s
  outputs:
    main:
      path: main.jsonl
      level: 1
labels:
  a: first
  e: ""
  n: "123"
  needs quoting: "true"
  z: last
timeout: 30s
`
	if diff := cmp.Diff(string(got), want); diff != "" {
		t.Errorf("Marshal() (-got, +want):\n%s", diff)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	full := defaultConfig()
	full.Sensor = "edge: 2" // needs quoting
	full.Capture = captureConfig{Interfaces: []string{"eth1", "null", "- x"}, Shards: 4, Fanout: "cpu", BPF: "tcp port 80\nor udp"}
	full.Rules = rulesConfig{
		Files: []string{"rules.yaml"},
		Lists: []listConfig{{ID: "a", Version: "1.10", Action: "inject", Domains: []string{".x.example"},
			CIDRs: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}}},
	}
	full.Inject = &injectConfig{Enabled: true, Interface: "eth2", MaxPerSecond: 7,
		DNS: dnsConfig{AnswerIPv4: netip.MustParseAddr("192.0.2.80"), TTL: Duration(90 * time.Minute)}}
	full.Sinks.Kafka.SpoolMaxBytes = 1500
	full.Sinks.Kafka.FlushInterval = 1234 * time.Microsecond
	full.Sinks.Outputs["x y"] = outputConfig{Path: "'quoted'"}
	full.Labels = map[string]string{"<<": "not a merge", "~": "tilde", "": "empty"}
	full.Timeout = Duration(-time.Second)

	type floats struct {
		F32 float32   `yaml:"f32"`
		F64 []float64 `yaml:"f64"`
		U   uint64    `yaml:"u"`
		M   map[int]string
	}
	tests := []struct {
		name string
		in   any
		zero func() any // fresh value to decode into
	}{
		{"defaults", defaultConfig(), func() any { return &testConfig{} }},
		{"everything set", full, func() any { return &testConfig{} }},
		{"floats and odd maps", floats{F32: 0.1, F64: []float64{1, 1e300, math.Inf(-1), 5e-324}, U: math.MaxUint64, M: map[int]string{10: "b", 9: "a"}},
			func() any { return &floats{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Marshal(tt.in)
			if err != nil {
				t.Fatalf("Marshal() error: %v", err)
			}
			out := tt.zero()
			if err := Decode(b, "dump.yaml", out); err != nil {
				t.Fatalf("Decode(Marshal()) error: %v\n%s", err, b)
			}
			got := reflectElem(out)
			if diff := cmp.Diff(got, tt.in, cmpOpts, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Decode(Marshal()) (-got, +want):\n%s\n%s", diff, b)
			}
		})
	}
}

// reflectElem returns what pointer p points to.
func reflectElem(p any) any { return reflect.ValueOf(p).Elem().Interface() }

func TestMarshalNil(t *testing.T) {
	b, err := Marshal(nil)
	if err != nil || string(b) != "null\n" {
		t.Errorf("Marshal(nil) = %q, %v", b, err)
	}
	var p *testConfig
	b, err = Marshal(p)
	if err != nil || string(b) != "null\n" {
		t.Errorf("Marshal(nil pointer) = %q, %v", b, err)
	}
	if _, err := Marshal(struct{ C chan int }{}); err == nil {
		t.Error("Marshal(chan) succeeded")
	}
}
