package app

import (
	"fmt"
	"os"

	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/kafka"
)

// KafkaConfig is the Kafka sink's section (sinks/kafka documents the keys).
// The sink is on when brokers are set.
type KafkaConfig = kafka.Config

func defaultKafkaConfig() KafkaConfig { return kafka.DefaultConfig() }

// kafkaSinks builds and starts the Kafka sink when brokers are configured.
// It connects lazily: an unreachable broker is not an error here, its events
// go to the spool.
func kafkaSinks(cfg Config) ([]sinks.Sink, error) {
	if len(cfg.Sinks.Kafka.Brokers) == 0 {
		return nil, nil
	}
	// buildSinks has no logger parameter: the sink logs through
	// NewLogger's settings on stderr (spool recovery, rate-limited errors).
	s, err := kafka.New(cfg.Sinks.Kafka, NewLogger(cfg.Log, os.Stderr))
	if err != nil {
		return nil, fmt.Errorf("sinks.kafka: %w", err)
	}
	s.Start()
	return []sinks.Sink{s}, nil
}
