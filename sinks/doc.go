// Package sinks delivers events to their destinations without ever
// blocking capture.
//
// Fanout gives each Sink its own bounded queue and goroutine. Publish is
// safe for concurrent use by every shard. In dropping mode (live capture) a
// full queue drops the batch for that sink and counts it; in blocking mode
// (replay, where the reader can wait) it applies backpressure and loses
// nothing. Per sink: offered = enqueued + dropped_queue_full and
// enqueued = written + dropped_write_error + queued, asserted in tests.
// Sinks flush on a wall-clock timer and at Stop, which waits for the queues
// to drain within a grace period (a context) and then closes the sinks.
// A sink that delivers asynchronously (Kafka, ClickHouse) implements
// StatsReporter; its own counters (sent, retried, spooled, recovered, pending,
// dropped by reason) appear in SinkStats.Delivery, and
// enqueued + recovered = sent + Σdropped + pending holds for them.
// Subpackages hold the sinks themselves (jsonl, kafka; spool is the on-disk
// buffer the network sinks share).
package sinks
