// Package jsonl is the embedded default sink: one JSON object per line to
// standard output or a file, through a large buffer that is flushed by the
// fan-out's timer and at shutdown. Not safe for concurrent use (the fan-out
// calls it from one goroutine).
package jsonl
