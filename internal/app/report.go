package app

import (
	"github.com/nunchi-sensor/nunchi/sinks"
)

// ReportConfig is the offline HTML report of a run.
type ReportConfig struct {
	// Path of the self-contained HTML report written at the end of a run
	// (nunchi replay --report); empty = none.
	Path string `yaml:"path"`
}

// reportSinks builds the report sink when a path is configured.
func reportSinks(cfg Config) ([]sinks.Sink, error) {
	return nil, nil
}
