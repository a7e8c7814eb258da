package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestKeys(t *testing.T) {
	got := Keys(defaultConfig())
	want := []KeyInfo{
		{Path: "sensor", Type: "string", Default: "edge-1", Doc: "name stamped on every event"},
		{Path: "capture.interfaces", Type: "[]string", Default: "[eth1]"},
		{Path: "capture.shards", Type: "int", Default: "0"},
		{Path: "capture.fanout", Type: "string", Default: "hash"},
		{Path: "capture.bpf", Type: "string", Default: `""`},
		{Path: "rules.files", Type: "[]string", Default: "[]"},
		{Path: "rules.lists", Type: "[]config.listConfig", Default: "[]"},
		{Path: "rules.lists[].id", Type: "string", Default: `""`},
		{Path: "rules.lists[].version", Type: "string", Default: `""`},
		{Path: "rules.lists[].action", Type: "string", Default: `""`},
		{Path: "rules.lists[].domains", Type: "[]string", Default: "[]"},
		{Path: "rules.lists[].cidrs", Type: "[]netip.Prefix", Default: "[]"},
		{Path: "inject.enabled", Type: "bool", Default: "false"},
		{Path: "inject.interface", Type: "string", Default: `""`},
		{Path: "inject.dns.answer_ipv4", Type: "netip.Addr", Default: `""`},
		{Path: "inject.dns.ttl", Type: "config.Duration", Default: "0s"},
		{Path: "inject.max_per_second", Type: "int", Default: "0"},
		{Path: "sinks.jsonl.path", Type: "string", Default: "'-'"},
		{Path: "sinks.kafka.queue_size", Type: "int", Default: "1000"},
		{Path: "sinks.kafka.brokers", Type: "[]string", Default: "[]"},
		{Path: "sinks.kafka.topic_prefix", Type: "string", Default: "nunchi"},
		{Path: "sinks.kafka.spool", Type: "bool", Default: "false"},
		{Path: "sinks.kafka.spool_dir", Type: "string", Default: `""`},
		{Path: "sinks.kafka.spool_max_bytes", Type: "config.ByteSize", Default: "1GiB"},
		{Path: "sinks.kafka.flush_interval", Type: "time.Duration", Default: "1s"},
		{Path: "sinks.outputs", Type: "map[string]config.outputConfig", Default: "{main: {path: main.jsonl, level: 1}}"},
		{Path: "sinks.outputs.*.path", Type: "string", Default: `""`},
		{Path: "sinks.outputs.*.level", Type: "int", Default: "0"},
		{Path: "labels", Type: "map[string]string", Default: "{}"},
		{Path: "timeout", Type: "config.Duration", Default: "30s", Doc: "how long to wait"},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Keys() (-got, +want):\n%s", diff)
	}
}

// Every key that Keys lists can be set in a file, and every variable built
// from a listed key (without "[]" or "*") is accepted by ApplyEnv: the three
// views of the struct agree.
func TestKeysAgreeWithDecodeAndEnv(t *testing.T) {
	keys := Keys(&testConfig{})
	containers := map[string]bool{} // lists and maps of sections
	for _, k := range keys {
		if i := strings.IndexAny(k.Path, "[*"); i > 0 {
			containers[strings.TrimSuffix(k.Path[:i], ".")] = true
		}
	}
	for _, k := range keys {
		if strings.ContainsAny(k.Path, "[*") {
			continue
		}
		parts := strings.Split(k.Path, ".")
		var b strings.Builder
		for i, p := range parts {
			b.WriteString(strings.Repeat("  ", i) + p + ":")
			if i == len(parts)-1 {
				b.WriteString(" " + k.Default)
			}
			b.WriteString("\n")
		}
		c := defaultConfig()
		if err := Decode([]byte(b.String()), "keys.yaml", &c); err != nil {
			t.Errorf("key %s: Decode(%q) error: %v", k.Path, b.String(), err)
		}
		if strings.HasPrefix(k.Type, "map[") || containers[k.Path] {
			continue // set through its entries or items
		}
		name := "NUNCHI_" + strings.ToUpper(strings.ReplaceAll(k.Path, ".", "_"))
		value := strings.Trim(k.Default, `[]"'`)
		if err := ApplyEnv("NUNCHI", []string{name + "=" + value}, &c); err != nil {
			t.Errorf("key %s: ApplyEnv(%s=%s) error: %v", k.Path, name, value, err)
		}
	}
}

func TestKeysRecursive(t *testing.T) {
	got := Keys(tree{})
	want := []KeyInfo{
		{Path: "name", Type: "string", Default: `""`},
		{Path: "children", Type: "[]config.tree", Default: "[]"}, // not walked again
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Keys() (-got, +want):\n%s", diff)
	}
}
