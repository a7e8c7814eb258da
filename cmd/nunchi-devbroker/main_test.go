package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl/scram"
)

type lineWriter struct {
	mu    sync.Mutex
	b     strings.Builder
	ready chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if a, ok := strings.CutPrefix(strings.TrimSpace(w.b.String()), "ready "); ok {
		select {
		case w.ready <- a:
		default:
		}
	}
	return len(p), nil
}

// start runs the broker until the test ends and returns its address.
func start(t *testing.T, args ...string) (string, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{ready: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	}
	select {
	case a := <-out.ready:
		t.Cleanup(func() { cancel() })
		return a, stop
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("not ready")
	}
	return "", nil
}

func produceConsume(t *testing.T, w *kafkago.Writer, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, kafkago.Message{Topic: topic, Value: []byte(value)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
}

func TestServesAndKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	addr, stop := start(t, "-addr", "127.0.0.1:0", "-addr-file", addrFile, "-data", filepath.Join(dir, "data"), "-partitions", "1")
	if b, _ := os.ReadFile(addrFile); strings.TrimSpace(string(b)) != addr {
		t.Errorf("addr file %q, ready line %q", b, addr)
	}
	produceConsume(t, &kafkago.Writer{Addr: kafkago.TCP(addr), AllowAutoTopicCreation: true, RequiredAcks: kafkago.RequireAll}, "dev.test.v1", "hello")
	stop()

	// Same port and data directory: the topic and its record are still there.
	addr2, stop2 := start(t, "-addr", addr, "-data", filepath.Join(dir, "data"))
	defer stop2()
	r := kafkago.NewReader(kafkago.ReaderConfig{Brokers: []string{addr2}, Topic: "dev.test.v1", Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := r.ReadMessage(ctx)
	if err != nil || string(m.Value) != "hello" {
		t.Fatalf("after restart: %q, %v", m.Value, err)
	}
}

func TestSASLUser(t *testing.T) {
	addr, stop := start(t, "-addr", "127.0.0.1:0", "-sasl-user", "dev:pw")
	defer stop()
	mech, _ := scram.Mechanism(scram.SHA512, "dev", "pw")
	w := &kafkago.Writer{Addr: kafkago.TCP(addr), AllowAutoTopicCreation: true, Transport: &kafkago.Transport{SASL: mech}}
	produceConsume(t, w, "dev.sasl.v1", "x")
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-addr", "nohost"}, {"-addr", "127.0.0.1:0", "-sasl-user", "nocolon"}, {"-bogus"}} {
		if err := run(context.Background(), args, io.Discard); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
