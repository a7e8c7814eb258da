package config

import (
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestApplyEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    func(c *testConfig) // edits the defaults into the expected value
		wantErr []string
	}{
		{
			name:    "scalar",
			environ: []string{"NUNCHI_CAPTURE_SHARDS=4"},
			want:    func(c *testConfig) { c.Capture.Shards = 4 },
		},
		{
			name:    "unrelated variables are ignored",
			environ: []string{"HOME=/root", "NUNCHIX=1", "PATH=/bin", "NUNCHI_SENSOR"},
		},
		{
			name:    "key with an underscore, longest match first",
			environ: []string{"NUNCHI_SINKS_KAFKA_SPOOL_DIR=/var/spool/nunchi", "NUNCHI_SINKS_KAFKA_SPOOL=true"},
			want: func(c *testConfig) {
				c.Sinks.Kafka.SpoolDir = "/var/spool/nunchi"
				c.Sinks.Kafka.Spool = true
			},
		},
		{
			name:    "list",
			environ: []string{"NUNCHI_CAPTURE_INTERFACES=eth1, eth2,eth3", "NUNCHI_SINKS_KAFKA_BROKERS=k1:9092"},
			want: func(c *testConfig) {
				c.Capture.Interfaces = []string{"eth1", "eth2", "eth3"}
				c.Sinks.Kafka.Brokers = []string{"k1:9092"}
			},
		},
		{
			name:    "empty list",
			environ: []string{"NUNCHI_CAPTURE_INTERFACES="},
			want:    func(c *testConfig) { c.Capture.Interfaces = []string{} },
		},
		{
			name:    "strings are verbatim",
			environ: []string{"NUNCHI_SENSOR=", "NUNCHI_CAPTURE_BPF=tcp port 80 # not a comment", "NUNCHI_CAPTURE_FANOUT=~"},
			want: func(c *testConfig) {
				c.Sensor = ""
				c.Capture.BPF = "tcp port 80 # not a comment"
				c.Capture.Fanout = "~"
			},
		},
		{
			name: "value types",
			environ: []string{
				"NUNCHI_TIMEOUT=5m",
				"NUNCHI_SINKS_KAFKA_SPOOL_MAX_BYTES=2GiB",
				"NUNCHI_SINKS_KAFKA_FLUSH_INTERVAL=100ms",
				"NUNCHI_INJECT_DNS_ANSWER_IPV4=192.0.2.1",
			},
			want: func(c *testConfig) {
				c.Timeout = Duration(5 * time.Minute)
				c.Sinks.Kafka.SpoolMaxBytes = 2 * GiB
				c.Sinks.Kafka.FlushInterval = 100 * time.Millisecond
				c.Inject = &injectConfig{DNS: dnsConfig{AnswerIPv4: netip.MustParseAddr("192.0.2.1")}}
			},
		},
		{
			name:    "inline field",
			environ: []string{"NUNCHI_SINKS_KAFKA_QUEUE_SIZE=5"},
			want:    func(c *testConfig) { c.Sinks.Kafka.QueueSize = 5 },
		},
		{
			name: "maps",
			environ: []string{
				"NUNCHI_LABELS_SITE=ams",
				"NUNCHI_SINKS_OUTPUTS_MAIN_LEVEL=3",
				"NUNCHI_SINKS_OUTPUTS_NEW_ONE_PATH=new.jsonl",
			},
			want: func(c *testConfig) {
				c.Labels = map[string]string{"site": "ams"}
				c.Sinks.Outputs = map[string]outputConfig{
					"main":    {Path: "main.jsonl", Level: 3},
					"new_one": {Path: "new.jsonl"},
				}
			},
		},
		{
			name:    "lower-case names",
			environ: []string{"nunchi_capture_shards=2"},
			want:    func(c *testConfig) { c.Capture.Shards = 2 },
		},
		{
			name: "errors name the variable and the reason",
			environ: []string{
				"NUNCHI_CAPTURE_SHARDS=abc",
				"NUNCHI_CAPTURE_BOGUS=1",
				"NUNCHI_CAPTURE=eth0",
				"NUNCHI_INJECT_ENABLED=maybe",
				"NUNCHI_INJECT_MAX_PER_SECOND=",
				"NUNCHI_TIMEOUT=soon",
				"NUNCHI_RULES_LISTS_5_ID=x",
				"NUNCHI_=1",
			},
			wantErr: []string{
				`NUNCHI_: names no config key`,
				`NUNCHI_CAPTURE: names no config key`,
				`NUNCHI_CAPTURE_BOGUS: names no config key`,
				`NUNCHI_CAPTURE_SHARDS: capture.shards: cannot use "abc" as integer`,
				`NUNCHI_INJECT_ENABLED: inject.enabled: cannot use "maybe" as boolean`,
				`NUNCHI_INJECT_MAX_PER_SECOND: inject.max_per_second: cannot use "" as integer`,
				`NUNCHI_RULES_LISTS_5_ID: rules.lists[5]: no such list item (the list has 1)`,
				`NUNCHI_TIMEOUT: timeout: cannot use "soon" as duration (want a number of seconds or a value like 30s, 5m, 1h30m)`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultConfig()
			got.Rules.Lists = []listConfig{{ID: "a", Action: "log"}}
			err := ApplyEnv("NUNCHI", tt.environ, &got)
			if diff := cmp.Diff(errorLines(err), tt.wantErr); diff != "" {
				t.Fatalf("ApplyEnv() errors (-got, +want):\n%s", diff)
			}
			if err != nil {
				return
			}
			want := defaultConfig()
			want.Rules.Lists = []listConfig{{ID: "a", Action: "log"}}
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(got, want, cmpOpts); diff != "" {
				t.Errorf("ApplyEnv() (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestApplyEnvListItem(t *testing.T) {
	got := defaultConfig()
	got.Rules.Lists = []listConfig{{ID: "a", Action: "log"}, {ID: "b", Action: "log"}}
	err := ApplyEnv("NUNCHI", []string{"NUNCHI_RULES_LISTS_1_ACTION=alert", "NUNCHI_RULES_LISTS_0_DOMAINS=a.example,b.example"}, &got)
	if err != nil {
		t.Fatalf("ApplyEnv() error: %v", err)
	}
	want := []listConfig{{ID: "a", Action: "log", Domains: []string{"a.example", "b.example"}}, {ID: "b", Action: "alert"}}
	if diff := cmp.Diff(got.Rules.Lists, want, cmpOpts); diff != "" {
		t.Errorf("ApplyEnv() (-got, +want):\n%s", diff)
	}
}

// Two fields whose names only differ by where "_" falls: the longer key is
// tried first, and the walk backs off when the rest of the name does not fit.
func TestApplyEnvAmbiguous(t *testing.T) {
	type inner struct {
		Dir string `yaml:"dir"`
	}
	type ambiguous struct {
		Spool    inner  `yaml:"spool"`
		SpoolDir string `yaml:"spool_dir"`
		A        struct {
			BC string `yaml:"b_c"`
		} `yaml:"a"`
		AB struct {
			D string `yaml:"d"`
		} `yaml:"a_b"`
		Dashed int `yaml:"max-rate"`
	}
	var got ambiguous
	err := ApplyEnv("X", []string{"X_SPOOL_DIR=1", "X_A_B_C=2", "X_A_B_D=3", "X_MAX_RATE=4"}, &got)
	if err != nil {
		t.Fatalf("ApplyEnv() error: %v", err)
	}
	var want ambiguous
	want.SpoolDir = "1"
	want.A.BC = "2"
	want.AB.D = "3"
	want.Dashed = 4
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("ApplyEnv() (-got, +want):\n%s", diff)
	}
}

func TestApplyEnvArguments(t *testing.T) {
	var c testConfig
	if err := ApplyEnv("", nil, &c); err == nil {
		t.Error("ApplyEnv with no prefix succeeded")
	}
	if err := ApplyEnv("NUNCHI", nil, c); err == nil {
		t.Error("ApplyEnv on a value succeeded")
	}
}
