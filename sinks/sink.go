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
