package app

import (
	"errors"
	"io"

	"github.com/nunchi-sensor/nunchi/sinks"
	"github.com/nunchi-sensor/nunchi/sinks/jsonl"
)

// buildSinks opens every configured sink: JSONL (the embedded default),
// Kafka and ClickHouse. On error the sinks already opened are closed.
func buildSinks(cfg Config, stdout io.Writer) ([]sinks.Sink, error) {
	var list []sinks.Sink
	fail := func(err error) ([]sinks.Sink, error) {
		for _, s := range list {
			err = errors.Join(err, s.Close())
		}
		return nil, err
	}
	if cfg.Sinks.JSONL.Path != "" {
		s, err := jsonl.New(cfg.Sinks.JSONL, stdout)
		if err != nil {
			return fail(err)
		}
		list = append(list, s)
	}
	for _, build := range []func(Config) ([]sinks.Sink, error){kafkaSinks, clickhouseSinks, reportSinks} {
		s, err := build(cfg)
		if err != nil {
			return fail(err)
		}
		list = append(list, s...)
	}
	return list, nil
}
