package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want func(c *testConfig) // edits the defaults into the expected value
	}{
		{
			name: "everything",
			in: doc(
				"sensor: edge-2",
				"capture:",
				"  interfaces: [eth1, eth2]",
				"  shards: 4",
				"  fanout: cpu",
				"  bpf: tcp port 80",
				"rules:",
				"  files: [rules.yaml, lists/extra.txt]",
				"  lists:",
				"    - id: gambling",
				"      version: 2026-11-01",
				"      action: inject",
				"      domains: [blocked.example, .casino.example]",
				"      cidrs: [203.0.113.0/28]",
				"    - id: news",
				"      action: log",
				"inject:",
				"  enabled: true",
				"  interface: eth2",
				"  dns: {answer_ipv4: 192.0.2.80, ttl: 60}",
				"  max_per_second: 0x64",
				"sinks:",
				"  jsonl: {path: out.jsonl}",
				"  kafka:",
				"    queue_size: 10_000",
				"    brokers: [k1:9092]",
				"    spool: yes",
				"    spool_dir: /var/spool/nunchi",
				"    spool_max_bytes: 512MiB",
				"    flush_interval: 250ms",
				"  outputs:",
				"    main: {level: 2}",
				"    audit: {path: audit.jsonl}",
				"labels: {site: ams, \"rack id\": r7}",
				"timeout: 1h30m",
			),
			want: func(c *testConfig) {
				c.Sensor = "edge-2"
				c.Capture = captureConfig{Interfaces: []string{"eth1", "eth2"}, Shards: 4, Fanout: "cpu", BPF: "tcp port 80"}
				c.Rules = rulesConfig{
					Files: []string{"rules.yaml", "lists/extra.txt"},
					Lists: []listConfig{
						{
							ID: "gambling", Version: "2026-11-01", Action: "inject",
							Domains: []string{"blocked.example", ".casino.example"},
							CIDRs:   []netip.Prefix{netip.MustParsePrefix("203.0.113.0/28")},
						},
						{ID: "news", Action: "log"},
					},
				}
				c.Inject = &injectConfig{
					Enabled: true, Interface: "eth2", MaxPerSecond: 100,
					DNS: dnsConfig{AnswerIPv4: netip.MustParseAddr("192.0.2.80"), TTL: Duration(time.Minute)},
				}
				c.Sinks.JSONL.Path = "out.jsonl"
				c.Sinks.Kafka = kafkaConfig{
					commonSink:    commonSink{QueueSize: 10000},
					Brokers:       []string{"k1:9092"},
					TopicPrefix:   "nunchi", // default kept
					Spool:         true,
					SpoolDir:      "/var/spool/nunchi",
					SpoolMaxBytes: 512 * MiB,
					FlushInterval: 250 * time.Millisecond,
				}
				c.Sinks.Outputs = map[string]outputConfig{
					"main":  {Path: "main.jsonl", Level: 2}, // existing entry decoded into
					"audit": {Path: "audit.jsonl"},
				}
				c.Labels = map[string]string{"site": "ams", "rack id": "r7"}
				c.Timeout = Duration(90 * time.Minute)
			},
		},
		{
			name: "defaults kept",
			in:   doc("capture:", "  shards: 2", "sinks:", "  kafka: {spool_dir: /s}"),
			want: func(c *testConfig) {
				c.Capture.Shards = 2
				c.Sinks.Kafka.SpoolDir = "/s"
			},
		},
		{name: "empty", in: []byte("")},
		{name: "only comments", in: doc("# nothing here", "  # still nothing")},
		{name: "document marker", in: doc("---")},
		{name: "null document", in: doc("~")},
		{name: "empty sections", in: doc("capture:", "sinks: {}", "inject: {}"), want: func(c *testConfig) {
			c.Inject = &injectConfig{}
		}},
		{name: "trailing empty document", in: doc("sensor: a", "---"), want: func(c *testConfig) { c.Sensor = "a" }},
		{
			name: "null clears what can be nil",
			in:   doc("capture:", "  interfaces:", "  shards: ~", "sinks:", "  outputs: null"),
			want: func(c *testConfig) {
				c.Capture.Interfaces = nil
				c.Sinks.Outputs = nil
			},
		},
		{
			name: "empty list replaces default",
			in:   doc("capture: {interfaces: []}"),
			want: func(c *testConfig) { c.Capture.Interfaces = []string{} },
		},
		{
			name: "strings take any scalar",
			in:   doc("sensor: 123", "capture: {fanout: true, bpf: 1.50}"),
			want: func(c *testConfig) {
				c.Sensor = "123"
				c.Capture.Fanout = "true"
				c.Capture.BPF = "1.50"
			},
		},
		{
			name: "anchors, aliases and merge keys",
			in: doc(
				"rules:",
				"  lists:",
				"    - &base {id: a, action: log, domains: &d [x.example]}",
				"    - <<: *base",
				"      id: b",
				"    - {id: c, action: alert, domains: *d}",
			),
			want: func(c *testConfig) {
				c.Rules.Lists = []listConfig{
					{ID: "a", Action: "log", Domains: []string{"x.example"}},
					{ID: "b", Action: "log", Domains: []string{"x.example"}},
					{ID: "c", Action: "alert", Domains: []string{"x.example"}},
				}
			},
		},
		{
			name: "merge list, earlier wins, explicit wins",
			in: doc(
				"capture:",
				"  <<: [{shards: 1, fanout: lb}, {shards: 2, bpf: udp}]",
				"  fanout: cpu",
			),
			want: func(c *testConfig) {
				c.Capture.Shards = 1
				c.Capture.Fanout = "cpu"
				c.Capture.BPF = "udp"
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := defaultConfig()
			if err := Decode(tt.in, "config.yaml", &got); err != nil {
				t.Fatalf("Decode() error: %v", err)
			}
			want := defaultConfig()
			if tt.want != nil {
				tt.want(&want)
			}
			if diff := cmp.Diff(got, want, cmpOpts); diff != "" {
				t.Errorf("Decode() (-got, +want):\n%s", diff)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name string
		file string // default config.yaml
		in   []byte
		want []string
	}{
		{
			name: "unknown key at top",
			in:   doc("sensr: edge-1"),
			want: []string{`config.yaml:1: sensr: unknown key (known keys: sensor, capture, rules, inject, sinks, labels, timeout)`},
		},
		{
			name: "unknown nested key",
			file: "rules.yaml",
			in: doc(
				"# the brief's example, on line 7",
				"sensor: edge-1",
				"",
				"capture:",
				"  interfaces: [eth1]",
				"  shards: 2",
				"  bogus_key: 1",
			),
			want: []string{`rules.yaml:7: capture.bogus_key: unknown key (known keys: interfaces, shards, fanout, bpf)`},
		},
		{
			name: "unknown key in a list item",
			in: doc(
				"rules:",
				"  lists:",
				"    - id: a",
				"    - id: b",
				"      domain: [x.example]",
			),
			want: []string{`config.yaml:5: rules.lists[1].domain: unknown key (known keys: id, version, action, domains, cidrs)`},
		},
		{
			name: "unknown key in a map entry and under a pointer",
			in:   doc("sinks:", "  outputs:", "    main: {paht: x}", "inject:", "  dns: {ttl: 1, answer: 1.2.3.4}"),
			want: []string{
				`config.yaml:3: sinks.outputs.main.paht: unknown key (known keys: path, level)`,
				`config.yaml:5: inject.dns.answer: unknown key (known keys: answer_ipv4, ttl)`,
			},
		},
		{
			name: "unknown key through inline",
			in:   doc("sinks:", "  kafka:", "    queue_size: 1", "    queue: 2"),
			want: []string{
				`config.yaml:4: sinks.kafka.queue: unknown key (known keys: queue_size, brokers, topic_prefix, spool, spool_dir, spool_max_bytes, flush_interval)`,
			},
		},
		{
			name: "odd key is quoted in the path",
			in:   doc("labels: {ok: 1}", "capture: {\"a b\": 1}"),
			want: []string{`config.yaml:2: capture["a b"]: unknown key (known keys: interfaces, shards, fanout, bpf)`},
		},
		{
			name: "wrong types",
			in: doc(
				"capture:",
				"  interfaces: eth0",
				"  shards: abc",
				"inject:",
				"  enabled: \"true\"",
				"  dns: {answer_ipv4: 999.1.1.1, ttl: soon}",
				"  max_per_second: [1]",
				"sinks:",
				"  jsonl: out.jsonl",
				"  kafka: {spool_max_bytes: 1M, flush_interval: 1.5}",
				"labels: {a: {b: c}}",
				"timeout: 1.5",
			),
			want: []string{
				`config.yaml:2: capture.interfaces: cannot use "eth0" as list`,
				`config.yaml:3: capture.shards: cannot use "abc" as integer`,
				`config.yaml:5: inject.enabled: cannot use "true" as boolean`,
				`config.yaml:6: inject.dns.answer_ipv4: cannot use "999.1.1.1" as netip.Addr: ParseAddr("999.1.1.1"): IPv4 field has value >255`,
				`config.yaml:6: inject.dns.ttl: cannot use "soon" as duration (want a number of seconds or a value like 30s, 5m, 1h30m)`,
				`config.yaml:7: inject.max_per_second: cannot use list as integer`,
				`config.yaml:9: sinks.jsonl: cannot use "out.jsonl" as mapping`,
				`config.yaml:10: sinks.kafka.spool_max_bytes: cannot use "1M" as size: ambiguous unit "M": write MB (powers of 1000) or MiB (powers of 1024) (want bytes or a value like 512MiB, 1GiB, 100MB)`,
				`config.yaml:10: sinks.kafka.flush_interval: cannot use "1.5" as duration (a plain number is whole seconds; write fractions with a unit, like 1500ms)`,
				`config.yaml:11: labels.a: cannot use mapping as string`,
				`config.yaml:12: timeout: cannot use "1.5" as duration (a plain number is whole seconds; write fractions with a unit, like 1500ms)`,
			},
		},
		{
			name: "duplicate keys",
			in: doc(
				"sensor: a",
				"capture:",
				"  shards: 1",
				"  shards: 2",
				"sensor: b",
				"labels: {x: 1, x: 2}",
			),
			want: []string{
				`config.yaml:4: capture.shards: duplicate key (first at line 3)`,
				`config.yaml:5: sensor: duplicate key (first at line 1)`,
				`config.yaml:6: labels.x: duplicate key (first at line 6)`,
			},
		},
		{
			name: "all errors, sorted by line",
			in: doc(
				"capture:",
				"  <<: {shards: abc}", // merged keys are walked after explicit ones
				"  bogus: 1",
				"rules:",
				"  lists:",
				"    - {id: a, x: 1}",
				"    - {id: b, y: 2}",
			),
			want: []string{
				`config.yaml:2: capture.shards: cannot use "abc" as integer`,
				`config.yaml:3: capture.bogus: unknown key (known keys: interfaces, shards, fanout, bpf)`,
				`config.yaml:6: rules.lists[0].x: unknown key (known keys: id, version, action, domains, cidrs)`,
				`config.yaml:7: rules.lists[1].y: unknown key (known keys: id, version, action, domains, cidrs)`,
			},
		},
		{
			name: "an error under an alias is reported once",
			in:   doc("rules:", "  lists:", "    - &a {id: a, bad: 1}", "    - *a", "    - *a"),
			want: []string{`config.yaml:3: rules.lists[0].bad: unknown key (known keys: id, version, action, domains, cidrs)`},
		},
		{
			name: "top level is a list",
			in:   doc("- a", "- b"),
			want: []string{`config.yaml:1: the document must be a mapping of keys, not a list`},
		},
		{
			name: "top level is a scalar",
			in:   doc("# comment", "hello"),
			want: []string{`config.yaml:2: the document must be a mapping of keys, not a scalar`},
		},
		{
			name: "syntax error",
			in:   doc("capture:", "  shards: 1", " fanout: x"),
			want: []string{`config.yaml:2: invalid YAML: did not find expected key`}, // yaml.v3's line
		},
		{
			name: "two documents",
			in:   doc("sensor: a", "---", "sensor: b"),
			want: []string{`config.yaml:3: a second YAML document; a config file holds one`},
		},
		{
			name: "bad merge",
			in:   doc("capture:", "  <<: 5"),
			want: []string{`config.yaml:2: capture: cannot merge "5": want a mapping or a list of mappings`},
		},
		{
			name: "non-scalar key",
			in:   doc("labels:", "  ? [a]", "  : b"),
			want: []string{`config.yaml:2: labels: a key must be a scalar, not a list`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "config.yaml"
			}
			got := defaultConfig()
			err := Decode(tt.in, file, &got)
			if diff := cmp.Diff(errorLines(err), tt.want); diff != "" {
				t.Errorf("Decode() errors (-got, +want):\n%s", diff)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("errors.As(err, *Error) = false for %v", err)
			}
		})
	}
}

func TestDecodeNumbers(t *testing.T) {
	type numbers struct {
		I8  int8    `yaml:"i8"`
		U16 uint16  `yaml:"u16"`
		F32 float32 `yaml:"f32"`
		F64 float64 `yaml:"f64"`
		U   uint    `yaml:"u"`
		B   bool    `yaml:"b"`
		Arr [2]int  `yaml:"arr"`
		Any any     `yaml:"any"`
	}
	tests := []struct {
		name    string
		in      string
		want    numbers
		wantErr []string
	}{
		{name: "in range", in: "i8: -128\nu16: 65535\nf32: 1.5\nf64: 7\nu: 0o17\nb: off\narr: [1, 2]\nany: {a: [1]}",
			want: numbers{I8: -128, U16: 65535, F32: 1.5, F64: 7, U: 15, Arr: [2]int{1, 2}, Any: map[string]any{"a": []any{1}}}},
		{name: "infinity", in: "f64: -.inf", want: numbers{F64: math.Inf(-1)}},
		{name: "out of range", in: "i8: 128\nu16: -1\nf32: 1e39\nu: 1.0\narr: [1]",
			wantErr: []string{
				`c.yaml:1: i8: cannot use "128" as integer: out of range [-128, 127]`,
				`c.yaml:2: u16: cannot use "-1" as non-negative integer: out of range [0, 65535]`,
				`c.yaml:3: f32: cannot use "1e39" as number: out of range for float32`,
				`c.yaml:4: u: cannot use "1.0" as non-negative integer`,
				`c.yaml:5: arr: want a list of 2 items, got 1`,
			}},
		{name: "quoted number is a string", in: "i8: \"1\"\nb: 'yes'",
			wantErr: []string{
				`c.yaml:1: i8: cannot use "1" as integer`,
				`c.yaml:2: b: cannot use "yes" as boolean`,
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got numbers
			err := Decode([]byte(tt.in), "c.yaml", &got)
			if diff := cmp.Diff(errorLines(err), tt.wantErr); diff != "" {
				t.Fatalf("Decode() errors (-got, +want):\n%s", diff)
			}
			if err == nil {
				if diff := cmp.Diff(got, tt.want); diff != "" {
					t.Errorf("Decode() (-got, +want):\n%s", diff)
				}
			}
		})
	}
}

// tree is recursive, so aliases can nest as deep as the document does.
type tree struct {
	Name     string `yaml:"name"`
	Children []tree `yaml:"children"`
}

func TestDecodeHostileAliases(t *testing.T) {
	t.Run("alias inside its own anchor", func(t *testing.T) {
		var got tree
		err := Decode(doc("children: &a [{children: *a}]"), "c.yaml", &got)
		want := []string{`c.yaml:1: children[0].children: an alias or merge key makes this value contain itself`}
		if diff := cmp.Diff(errorLines(err), want); diff != "" {
			t.Errorf("Decode() errors (-got, +want):\n%s", diff)
		}
	})
	t.Run("merge of itself", func(t *testing.T) {
		var got map[string]map[string]int
		err := Decode(doc("a: &a {x: 1, <<: *a}"), "c.yaml", &got)
		want := []string{`c.yaml:1: a: a mapping cannot merge itself`}
		if diff := cmp.Diff(errorLines(err), want); diff != "" {
			t.Errorf("Decode() errors (-got, +want):\n%s", diff)
		}
	})
	t.Run("merge that brings its anchor back", func(t *testing.T) {
		var got fuzzItem
		err := Decode(doc("inner: &s {inner: {<<: *s}}"), "c.yaml", &got)
		want := []string{`c.yaml:1: inner.inner.inner: an alias or merge key makes this value contain itself`}
		if diff := cmp.Diff(errorLines(err), want); diff != "" {
			t.Errorf("Decode() errors (-got, +want):\n%s", diff)
		}
	})
	t.Run("billion laughs", func(t *testing.T) {
		// Ten levels of ten aliases: 10^10 nodes once expanded.
		lines := []string{"children:", "- &l0 {name: lol}"}
		for i := 1; i <= 10; i++ {
			refs := strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 10)
			lines = append(lines, fmt.Sprintf("- &l%d {children: [%s]}", i, strings.TrimSuffix(refs, ", ")))
		}
		var got tree
		start := time.Now()
		err := Decode(doc(lines...), "c.yaml", &got)
		if err == nil || !strings.Contains(err.Error(), "aliases expand the document too much") {
			t.Errorf("Decode() error = %v, want too large", err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("Decode() took %v", d)
		}
	})
}

// The alias budget grows with the document: a big list written out in full
// is fine, and so is reusing anchors a few times.
func TestDecodeLargeDocument(t *testing.T) {
	var b strings.Builder
	b.WriteString("rules:\n  lists:\n    - &l {id: big, domains: [")
	for i := range 100_000 {
		fmt.Fprintf(&b, "d%d.example, ", i)
	}
	b.WriteString("x.example]}\n")
	for range 5 {
		b.WriteString("    - *l\n")
	}
	var got testConfig
	if err := Decode([]byte(b.String()), "big.yaml", &got); err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if len(got.Rules.Lists) != 6 || len(got.Rules.Lists[5].Domains) != 100_001 {
		t.Errorf("Decode() got %d lists", len(got.Rules.Lists))
	}
}

func TestDecodeArguments(t *testing.T) {
	var c testConfig
	for _, out := range []any{nil, c, (*testConfig)(nil)} {
		if err := Decode([]byte("sensor: a"), "c.yaml", out); err == nil {
			t.Errorf("Decode(%T) succeeded, want an error", out)
		}
	}
	type badInline struct {
		A int `yaml:"a"`
		B struct {
			A int `yaml:"a"`
		} `yaml:",inline"`
	}
	err := Decode([]byte("a: 1"), "c.yaml", &badInline{})
	want := []string{`c.yaml:1: type config.badInline: key "a" is used by two fields`}
	if diff := cmp.Diff(errorLines(err), want); diff != "" {
		t.Errorf("Decode() errors (-got, +want):\n%s", diff)
	}
}

func TestDecodeInlineMapAndNode(t *testing.T) {
	type extensible struct {
		Name  string            `yaml:"name"`
		Raw   yaml.Node         `yaml:"raw"`
		Rest  map[string]string `yaml:",inline"`
		Inner *struct {
			Deep int `yaml:"deep"`
		} `yaml:",inline"`
	}
	var got extensible
	if err := Decode(doc("name: n", "raw: [1, 2]", "deep: 3", "other: x", "more: y"), "c.yaml", &got); err != nil {
		t.Fatalf("Decode() error: %v", err)
	}
	if got.Name != "n" || got.Raw.Kind != yaml.SequenceNode || got.Raw.Line != 2 || got.Inner == nil || got.Inner.Deep != 3 {
		t.Errorf("Decode() = %+v", got)
	}
	if diff := cmp.Diff(got.Rest, map[string]string{"other": "x", "more": "y"}); diff != "" {
		t.Errorf("inline map (-got, +want):\n%s", diff)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nunchi.yaml")
	if err := os.WriteFile(path, doc("sensor: from-file", "capture: {shardz: 1}"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := defaultConfig()
	err := Load(path, &got)
	want := []string{path + `:2: capture.shardz: unknown key (known keys: interfaces, shards, fanout, bpf)`}
	if diff := cmp.Diff(errorLines(err), want); diff != "" {
		t.Errorf("Load() errors (-got, +want):\n%s", diff)
	}
	if got.Sensor != "from-file" {
		t.Errorf("Load() left sensor = %q", got.Sensor)
	}

	err = Load(filepath.Join(dir, "missing.yaml"), &got)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}
