package sinks

import (
	"github.com/nunchi-sensor/nunchi/detect"
)

// Sink consumes events. Write and Flush are called from the sink's own
// worker goroutine only (never concurrently); events are shared with other
// sinks and must not be modified.
type Sink interface {
	// Name is the sink's label in metrics and stats ("jsonl", "kafka"…).
	Name() string
	// Write takes a batch of events. It may buffer; an error counts the
	// batch as dropped(write_error) and the sink keeps going.
	Write(events []*detect.Event) error
	// Flush pushes buffered events out (called on a wall-clock timer and at shutdown).
	Flush() error
	// Close flushes and releases resources.
	Close() error
}

// Delivery is a sink's own account of the events it was given (Write), for
// sinks that deliver asynchronously and may hold events in memory or on disk:
// Enqueued + Recovered = Sent + ΣDropped + Pending.
type Delivery struct {
	// Enqueued counts events taken by Write (the fan-out's Written, less
	// batches Write refused with an error).
	Enqueued uint64 `json:"enqueued"`
	// Sent counts events whose delivery the server confirmed, each once.
	Sent uint64 `json:"sent"`
	// Retried counts events handed back for another attempt after a failure.
	Retried uint64 `json:"retried"`
	// Spooled counts events written to the on-disk spool.
	Spooled uint64 `json:"spooled"`
	// Recovered counts events found in the spool at start (left by an earlier run).
	Recovered uint64 `json:"recovered"`
	// Pending is what the sink holds now (memory, in flight, spool).
	Pending uint64 `json:"pending"`
	// Dropped counts lost events by reason (spool_full, spool_error, too_large…).
	Dropped map[string]uint64 `json:"dropped,omitempty"`
}

// Balanced reports whether Enqueued + Recovered = Sent + ΣDropped + Pending.
func (d Delivery) Balanced() bool {
	return d.Enqueued+d.Recovered == d.Sent+d.DroppedTotal()+d.Pending
}

// DroppedTotal sums Dropped.
func (d Delivery) DroppedTotal() uint64 {
	var n uint64
	for _, v := range d.Dropped {
		n += v
	}
	return n
}

// StatsReporter is implemented by sinks that keep delivery counters; the
// fan-out puts them in SinkStats.Delivery. Safe for concurrent use with
// Write (stats are read from other goroutines).
type StatsReporter interface {
	DeliveryStats() Delivery
}
