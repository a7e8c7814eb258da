package jsonl

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/sinks"
)

// Config is the `sinks.jsonl` section.
type Config struct {
	// Path of the output file; "-" is standard output, "" disables the sink.
	Path string `yaml:"path"`
	// BufferSize is the write buffer in bytes.
	BufferSize int `yaml:"buffer_size"`
}

// DefaultConfig writes to standard output.
func DefaultConfig() Config { return Config{Path: "-", BufferSize: 1 << 20} }

// Validate checks the section.
func (c Config) Validate() error {
	if c.BufferSize < 4096 {
		return fmt.Errorf("buffer_size: must be >= 4096, got %d", c.BufferSize)
	}
	return nil
}

// Sink writes one JSON object per line through a buffer.
type Sink struct {
	w      *bufio.Writer
	closer io.Closer
	buf    []byte
}

var _ sinks.Sink = (*Sink)(nil)

// New opens the output (created or truncated). stdout is used for "-".
func New(cfg Config, stdout io.Writer) (*Sink, error) {
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 1 << 20
	}
	s := &Sink{buf: make([]byte, 0, 4096)}
	if cfg.Path == "-" || cfg.Path == "" {
		s.w = bufio.NewWriterSize(stdout, cfg.BufferSize)
		return s, nil
	}
	f, err := os.OpenFile(cfg.Path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("sinks/jsonl: %w", err)
	}
	s.w, s.closer = bufio.NewWriterSize(f, cfg.BufferSize), f
	return s, nil
}

// Name implements sinks.Sink.
func (s *Sink) Name() string { return "jsonl" }

// Write implements sinks.Sink.
func (s *Sink) Write(events []*detect.Event) error {
	for _, e := range events {
		s.buf = e.AppendJSON(s.buf[:0])
		s.buf = append(s.buf, '\n')
		if _, err := s.w.Write(s.buf); err != nil {
			return fmt.Errorf("sinks/jsonl: %w", err)
		}
	}
	return nil
}

// Flush implements sinks.Sink.
func (s *Sink) Flush() error { return s.w.Flush() }

// Close implements sinks.Sink.
func (s *Sink) Close() error {
	err := s.w.Flush()
	if s.closer != nil {
		err = errors.Join(err, s.closer.Close())
	}
	return err
}
