package kafka_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/sinks/kafka"
	"github.com/nunchi-sensor/nunchi/sinks/kafka/kafkatest"
)

// BenchmarkReplayKafka replays a benchgen capture (NUNCHI_BENCH_PCAP) with
// JSONL only (to io.Discard) and with JSONL plus Kafka (the services broker,
// NUNCHI_TEST_KAFKA), and reports packets/s of the whole replay (including
// the Kafka sink's drain at shutdown) and events/s into Kafka.
//
//	NUNCHI_TEST_KAFKA=$KAFKA NUNCHI_BENCH_PCAP=/tmp/perf/bench-1500.pcap \
//	  go test -run '^$' -bench BenchmarkReplayKafka -benchtime 3x ./sinks/kafka/
func BenchmarkReplayKafka(b *testing.B) {
	pcap := os.Getenv("NUNCHI_BENCH_PCAP")
	if pcap == "" {
		b.Skip("NUNCHI_BENCH_PCAP not set (a benchgen capture)")
	}
	addr := kafkatest.ServiceAddr(b)
	for _, mode := range []string{"jsonl", "kafka-lz4", "kafka-zstd", "kafka-none"} {
		b.Run(mode, func(b *testing.B) {
			var pkts, events uint64
			var elapsed time.Duration
			for i := 0; i < b.N; i++ {
				cfg := app.DefaultConfig()
				cfg.Sensor = "bench"
				cfg.Sinks.JSONL.Path = "-"
				if mode != "jsonl" {
					k := &cfg.Sinks.Kafka
					k.Brokers = []string{addr}
					k.TopicPrefix = fmt.Sprintf("bench%d", time.Now().UnixNano())
					k.SpoolDir = filepath.Join(b.TempDir(), "spool")
					k.Compression = mode[len("kafka-"):]
				}
				start := time.Now()
				st, err := app.Replay(context.Background(), cfg, app.ReplayOptions{Files: []string{pcap}, Stdout: io.Discard, ShutdownGrace: 5 * time.Minute}, quiet)
				el := time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				elapsed += el
				pkts += st.Capture.Frames
				for _, s := range st.Sinks {
					if s.Name == "kafka" && s.Delivery != nil {
						d := s.Delivery
						if !d.Balanced() || d.Pending != 0 || d.DroppedTotal() != 0 {
							b.Errorf("delivery %+v", *d)
						}
						events += d.Sent
						b.Logf("run %d: %d events sent in %v (%d via the spool)", i, d.Sent, el.Round(time.Millisecond), d.Spooled)
					}
				}
			}
			b.ReportMetric(float64(pkts)/elapsed.Seconds(), "pkts/s")
			if events > 0 {
				b.ReportMetric(float64(events)/elapsed.Seconds(), "events/s")
			}
		})
	}
}

// BenchmarkSinkThroughput writes pre-built events straight into the sink
// (no capture, no other sink) and waits until the broker has confirmed all
// of them: the Kafka path's own ceiling on this machine.
//
//	NUNCHI_TEST_KAFKA=$KAFKA go test -run '^$' -bench BenchmarkSinkThroughput -benchtime 3x ./sinks/kafka/
func BenchmarkSinkThroughput(b *testing.B) {
	addr := kafkatest.ServiceAddr(b)
	const n = 200_000
	evs := kafkatest.Events(0, n)
	for _, comp := range []string{"lz4", "none"} {
		b.Run(comp, func(b *testing.B) {
			var elapsed time.Duration
			var bytes int
			for _, e := range evs {
				bytes += len(e.AppendJSON(nil))
			}
			for i := 0; i < b.N; i++ {
				cfg := kafka.DefaultConfig()
				cfg.Brokers = []string{addr}
				cfg.TopicPrefix = fmt.Sprintf("bench%d", time.Now().UnixNano())
				cfg.SpoolDir = filepath.Join(b.TempDir(), "spool")
				cfg.Compression = comp
				s, err := kafka.New(cfg, quiet)
				if err != nil {
					b.Fatal(err)
				}
				s.Start()
				start := time.Now()
				for j := 0; j < n; j += 256 {
					s.Write(evs[j:min(j+256, n)])
				}
				s.Close()
				elapsed += time.Since(start)
				if d := s.DeliveryStats(); d.Sent != n {
					b.Fatalf("delivery %+v", d)
				}
			}
			b.ReportMetric(float64(n*b.N)/elapsed.Seconds(), "events/s")
			b.ReportMetric(float64(bytes*b.N)/elapsed.Seconds()/1e6, "MB/s")
		})
	}
}

// BenchmarkSpool measures the outage path: events written while the broker
// is unreachable (Write → spool), then sent from the spool by the next run.
//
//	NUNCHI_TEST_KAFKA=$KAFKA go test -run '^$' -bench BenchmarkSpool -benchtime 3x ./sinks/kafka/
func BenchmarkSpool(b *testing.B) {
	addr := kafkatest.ServiceAddr(b)
	const n = 200_000
	evs := kafkatest.Events(0, n)
	var spoolT, drainT time.Duration
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(b.TempDir(), "spool")
		cfg := kafka.DefaultConfig()
		cfg.Brokers = []string{"127.0.0.1:1"} // nothing listens: connection refused
		cfg.TopicPrefix = fmt.Sprintf("bench%d", time.Now().UnixNano())
		cfg.SpoolDir = dir
		cfg.MemoryEvents = 1 // everything through the spool
		cfg.CloseTimeout = 100 * time.Millisecond
		s, err := kafka.New(cfg, quiet)
		if err != nil {
			b.Fatal(err)
		}
		s.Start()
		start := time.Now()
		for j := 0; j < n; j += 256 {
			s.Write(evs[j:min(j+256, n)])
		}
		spoolT += time.Since(start)
		s.Close()
		cfg.Brokers = []string{addr}
		cfg.CloseTimeout = 5 * time.Minute
		cfg.MemoryEvents = kafka.DefaultConfig().MemoryEvents
		if s, err = kafka.New(cfg, quiet); err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		s.Start()
		s.Close()
		drainT += time.Since(start)
		if d := s.DeliveryStats(); d.Sent != n || d.Recovered != n {
			b.Fatalf("delivery %+v", d)
		}
	}
	b.ReportMetric(float64(n*b.N)/spoolT.Seconds(), "spooled-events/s")
	b.ReportMetric(float64(n*b.N)/drainT.Seconds(), "drained-events/s")
}
