package app

import (
	"errors"
	"fmt"

	"github.com/nunchi-sensor/nunchi/internal/config"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// KafkaConfig is the Kafka sink's section.
type KafkaConfig struct {
	Brokers       []string        `yaml:"brokers"`
	TopicPrefix   string          `yaml:"topic_prefix"`
	Compression   string          `yaml:"compression"`
	SpoolDir      string          `yaml:"spool_dir"`
	SpoolMaxBytes config.ByteSize `yaml:"spool_max_bytes"`
}

// Validate implements config validation.
func (c KafkaConfig) Validate() error {
	var errs []error
	if len(c.Brokers) > 0 {
		errs = append(errs, errors.New("brokers: the Kafka sink is not part of this build yet"))
	}
	switch c.Compression {
	case "none", "gzip", "snappy", "lz4", "zstd":
	default:
		errs = append(errs, fmt.Errorf("compression: %q is not one of none, gzip, snappy, lz4, zstd", c.Compression))
	}
	return errors.Join(errs...)
}

func defaultKafkaConfig() KafkaConfig {
	return KafkaConfig{TopicPrefix: "nunchi", Compression: "lz4", SpoolMaxBytes: 1 << 30}
}

// kafkaSinks builds the Kafka sink when brokers are configured.
func kafkaSinks(cfg Config) ([]sinks.Sink, error) {
	return nil, nil
}
