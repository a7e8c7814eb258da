package app

import (
	"errors"

	"github.com/nunchi-sensor/nunchi/sinks"
)

// ClickHouseConfig is the ClickHouse sink's section.
type ClickHouseConfig struct {
	Addr         string `yaml:"addr"`
	Database     string `yaml:"database"`
	Username     string `yaml:"username"`
	PasswordFile string `yaml:"password_file"`
	SpoolDir     string `yaml:"spool_dir"`
}

// Validate implements config validation.
func (c ClickHouseConfig) Validate() error {
	if c.Addr != "" {
		return errors.New("addr: the ClickHouse sink is not part of this build yet")
	}
	return nil
}

func defaultClickHouseConfig() ClickHouseConfig {
	return ClickHouseConfig{Database: "nunchi", Username: "default"}
}

// clickhouseSinks builds the ClickHouse sink when an address is configured.
func clickhouseSinks(cfg Config) ([]sinks.Sink, error) {
	return nil, nil
}
