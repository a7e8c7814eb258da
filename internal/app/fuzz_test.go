package app

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/internal/config"
)

// FuzzLoadConfig loads arbitrary bytes as the config file, as `nunchi
// check`, `replay` and `live` do (strict decoding into the whole Config, then
// every section's Validate; LoadConfig's steps without its file read). Properties: no panic; a config that loads dumps
// (`nunchi config dump`), and the dump loads again and dumps the same bytes:
// what the sensor prints as its effective config is a config it accepts.
// Seeds: the deployed example, the defaults' dump, and small edits of it.
func FuzzLoadConfig(f *testing.F) {
	root := filepath.Join("..", "..")
	for _, p := range []string{"deploy/systemd/nunchi.yaml", "deploy/docker/nunchi.yaml", "deploy/k8s/nunchi.yaml"} {
		if b, err := os.ReadFile(filepath.Join(root, p)); err == nil {
			f.Add(b)
		}
	}
	def := DefaultConfig()
	if b, err := config.Marshal(&def); err == nil {
		f.Add(b)
	}
	f.Add([]byte("sensor: x\ncapture:\n  shards: 4\n  decode:\n    defrag: {max_bytes: 65536, max_datagrams: 16}\nflow: {max_flows: 1000}\n"))
	f.Add([]byte("sinks:\n  kafka:\n    brokers: [127.0.0.1:1]\n    sasl: {mechanism: PLAIN, username: u, password_file: /nonexistent}\n"))
	f.Add([]byte("streams: {max_pages_per_conn: 0, max_pages_total: -1}\nstats: {interval: 1ns}\n"))
	f.Add([]byte("capture: {shardz: 1}\n"))
	f.Add([]byte("inject: {enabled: true, never_inject_networks: [10.0.0.0/8, '::/0']}\nanomalies: {scan: {max_entries: 1}}\n"))

	// load is LoadConfig without the file and environment reads.
	load := func(data []byte) (Config, error) {
		cfg := DefaultConfig()
		if err := config.Decode(data, "fuzz.yaml", &cfg); err != nil {
			return cfg, err
		}
		return cfg, cfg.Check()
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 16<<10 {
			return
		}
		cfg, err := load(data)
		if err != nil {
			return
		}
		dump, err := config.Marshal(&cfg)
		if err != nil {
			t.Fatalf("config dump of a config that loaded: %v", err)
		}
		again, err := load(dump)
		if err != nil {
			t.Fatalf("the dump does not load again: %v\n%s", err, dump)
		}
		dump2, err := config.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dump, dump2) {
			t.Fatalf("dump changed on reload:\n%s\n---\n%s", dump, dump2)
		}
	})
}
