package app

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite docs/config-keys.md")

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "nunchi.yaml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultConfigIsValid(t *testing.T) {
	cfg := DefaultConfig()
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadConfig("", nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadConfig(t *testing.T) {
	p := writeConfig(t, `
sensor: edge-1
capture:
  shards: 4
  decode:
    vxlan_ports: [4789]
flow:
  max_flows: 5000
  timeouts:
    udp: {new: 10s}
sinks:
  jsonl: {path: /tmp/x.jsonl}
`)
	cfg, err := LoadConfig(p, []string{"NUNCHI_FLOW_VLAN_IN_KEY=true", "NUNCHI_CAPTURE_SHARDS=2"})
	if err != nil {
		t.Fatal(err)
	}
	def := DefaultConfig()
	switch {
	case cfg.Sensor != "edge-1", cfg.Capture.Shards != 2, cfg.Flow.MaxFlows != 5000, !cfg.Flow.VLANInKey,
		cfg.Flow.Timeouts.UDP.New.Seconds() != 10, cfg.Flow.Timeouts.UDP.Established != def.Flow.Timeouts.UDP.Established,
		len(cfg.Capture.Decode.VXLANPorts) != 1, cfg.Sinks.JSONL.Path != "/tmp/x.jsonl", cfg.Capture.Decode.GenevePort != 6081:
		t.Errorf("unexpected effective config: %+v", cfg)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	tests := []struct {
		name, body string
		want       []string
	}{
		{"unknown nested key names its path and line", "sensor: x\ncapture:\n  shardz: 4\n", []string{"nunchi.yaml:3", "capture.shardz", "unknown key"}},
		{"unknown top-level key", "sensors: x\n", []string{"nunchi.yaml:1", "sensors", "unknown key"}},
		{"wrong type", "capture:\n  shards: many\n", []string{"nunchi.yaml:2", "capture.shards"}},
		{"invalid value", "capture:\n  fanout: random\n", []string{"capture.fanout", "random"}},
		{"bad duration", "flow:\n  timeouts:\n    tcp: {new: soon}\n", []string{"nunchi.yaml:3", "flow.timeouts.tcp.new"}},
		{"injection without a TX interface", "inject:\n  enabled: true\n", []string{"inject.interface", "no TX interface"}},
		{"injection with a bad warning URL", "inject:\n  enabled: true\n  interface: lo\n  http: {location: \"warning page\"}\n", []string{"inject.http.location", "not an absolute http(s) URL"}},
		{"injection with an IPv6 answer for A", "inject:\n  dns: {answer_ipv4: \"2001:db8::1\"}\n", []string{"inject.dns.answer_ipv4", "not an IPv4 address"}},
		{"not a mapping", "- a\n- b\n", []string{"nunchi.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadConfig(writeConfig(t, tt.body), nil)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Error("missing file: no error")
	}
}

// TestDesignContractConfig: the config example of DESIGN.md §4c is valid
// as it stands (rule files are read by the commands that use them).
func TestDesignContractConfig(t *testing.T) {
	p := writeConfig(t, `
sensor: edge-1
capture:
  interfaces: [eth1]
  shards: 0
  fanout: hash
  bpf: ""
rules:
  files: [rules.yaml, lists/extra.txt]
inject:
  enabled: false
  interface: eth2
  dry_run_pcap: ""
  http: {mode: redirect, location: "http://warning.example/?blocked={name}", page_file: ""}
  dns: {answer_ipv4: 192.0.2.80, answer_ipv6: "2001:db8::80", ttl: 60}
  never_inject_networks: []
  max_per_second: 100
sinks:
  jsonl: {path: "-"}
  kafka: {brokers: [], topic_prefix: nunchi, compression: lz4, spool_dir: "", spool_max_bytes: 1GiB}
  clickhouse: {addr: "", database: nunchi, username: default, password_file: "", spool_dir: ""}
metrics: {listen: ""}
`)
	cfg, err := LoadConfig(p, nil)
	if err != nil {
		t.Fatalf("the DESIGN.md example config is rejected: %v", err)
	}
	if len(cfg.Rules.Files) != 2 || cfg.Sinks.Kafka.SpoolMaxBytes != 1<<30 || cfg.Inject.DNS.TTL != 60 {
		t.Errorf("effective config: %+v", cfg)
	}
}

// TestConfigKeysDoc keeps docs/config-keys.md, the generated list of every
// config key with its type and default, in step with the structs.
func TestConfigKeysDoc(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sensor = "<host name>"
	var b strings.Builder
	b.WriteString("# Config keys\n\nGenerated from the config structs by `go test ./internal/app -run TestConfigKeysDoc -update`;\n")
	b.WriteString("a test fails when this file and the code disagree. What the keys do: README.md (Configuration) and the\ndoc comments of each package's Config type.\n\n")
	b.WriteString("| key | type | default |\n|---|---|---|\n")
	for _, k := range config.Keys(&cfg) {
		b.WriteString("| `" + k.Path + "` | " + strings.ReplaceAll(k.Type, "|", "\\|") + " | `" + strings.ReplaceAll(k.Default, "|", "\\|") + "` |\n")
	}
	path := filepath.Join(testutil.RepoRoot(t), "docs", "config-keys.md")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	got, err := os.ReadFile(path)
	if err != nil || string(got) != b.String() {
		t.Errorf("docs/config-keys.md is out of date (err %v): run go test ./internal/app -run TestConfigKeysDoc -update", err)
	}
}

func TestEnvOverrides(t *testing.T) {
	cfg, err := LoadConfig("", []string{"NUNCHI_SENSOR=env-1", "NUNCHI_TEST_ANYTHING=1", "PATH=/bin"})
	if err != nil || cfg.Sensor != "env-1" {
		t.Fatalf("cfg.Sensor %q, err %v", cfg.Sensor, err)
	}
	if _, err := LoadConfig("", []string{"NUNCHI_SENSORZ=x"}); err == nil || !strings.Contains(err.Error(), "NUNCHI_SENSORZ") {
		t.Errorf("misspelt variable: err = %v", err)
	}
}
