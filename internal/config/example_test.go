package config_test

import (
	"errors"
	"fmt"

	"github.com/nunchi-sensor/nunchi/internal/config"
)

type Capture struct {
	Interfaces []string        `yaml:"interfaces"`
	Shards     int             `yaml:"shards"`
	Flush      config.Duration `yaml:"flush"`
}

func (c *Capture) Validate() error {
	if c.Shards < 0 {
		return errors.New("shards: must be >= 0")
	}
	return nil
}

type Sinks struct {
	SpoolDir      string          `yaml:"spool_dir"`
	SpoolMaxBytes config.ByteSize `yaml:"spool_max_bytes"`
}

type Config struct {
	Sensor  string  `yaml:"sensor"`
	Capture Capture `yaml:"capture"`
	Sinks   Sinks   `yaml:"sinks"`
}

func Example() {
	cfg := Config{Sensor: "edge-1", Capture: Capture{Flush: config.Duration(30e9)}, Sinks: Sinks{SpoolMaxBytes: config.GiB}}

	err := config.Decode([]byte(`
capture:
  interfaces: [eth1]
  shards: -1
sinks:
  spool_dir: /var/spool/nunchi
`), "nunchi.yaml", &cfg)
	fmt.Println("decode:", err)

	err = config.ApplyEnv("NUNCHI", []string{"NUNCHI_SINKS_SPOOL_MAX_BYTES=512MiB", "HOME=/root"}, &cfg)
	fmt.Println("env:", err)

	fmt.Println("validate:", config.Validate(&cfg))

	out, _ := config.Marshal(&cfg)
	fmt.Print(string(out))
	// Output:
	// decode: <nil>
	// env: <nil>
	// validate: capture.shards: must be >= 0
	// sensor: edge-1
	// capture:
	//   interfaces: [eth1]
	//   shards: -1
	//   flush: 30s
	// sinks:
	//   spool_dir: /var/spool/nunchi
	//   spool_max_bytes: 512MiB
}

func ExampleDecode_errors() {
	var cfg Config
	err := config.Decode([]byte(`
sensor: edge-1
capture:
  interfaces: eth1
  shards: four
  shard: 4
sinks: {spool_max_bytes: 1G}
`), "nunchi.yaml", &cfg)
	fmt.Println(err)
	// Output:
	// nunchi.yaml:4: capture.interfaces: cannot use "eth1" as list
	// nunchi.yaml:5: capture.shards: cannot use "four" as integer
	// nunchi.yaml:6: capture.shard: unknown key (known keys: interfaces, shards, flush)
	// nunchi.yaml:7: sinks.spool_max_bytes: cannot use "1G" as size: ambiguous unit "G": write GB (powers of 1000) or GiB (powers of 1024) (want bytes or a value like 512MiB, 1GiB, 100MB)
}

func ExampleKeys() {
	for _, k := range config.Keys(Config{Sinks: Sinks{SpoolMaxBytes: config.GiB}}) {
		fmt.Printf("%-22s %-16s %s\n", k.Path, k.Type, k.Default)
	}
	// Output:
	// sensor                 string           ""
	// capture.interfaces     []string         []
	// capture.shards         int              0
	// capture.flush          config.Duration  0s
	// sinks.spool_dir        string           ""
	// sinks.spool_max_bytes  config.ByteSize  1GiB
}
