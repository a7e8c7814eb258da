// Package kafka is the Kafka sink: every event goes to the topic
// <topic_prefix>.<event_type>.v1 (nunchi.flow.v1, nunchi.tls.v1, …), keyed
// by its community_id (so one flow's events share a partition; Java's
// murmur2 key mapping), with the event's JSON object as the value — the same
// bytes as a JSONL line without its newline, ending in the event_id content
// hash that consumers de-duplicate on.
//
// # Contract
//
//   - Write never waits for the broker. It encodes the batch and either
//     queues it in memory for the background sender (up to memory_events
//     events queued and in flight) or appends it to the on-disk spool
//     (sinks/spool) when memory is full or the spool already holds events —
//     new events then queue behind the spooled ones, which keeps the order.
//     Its bounded work is the encoding and, when spooling, one file write.
//   - The sender submits memory batches to kafka-go's asynchronous writer
//     (batches by batch_size, batch_bytes and batch_timeout per partition,
//     compression, RequiredAcks all, max_attempts tries). The writer's
//     completion callback counts every event: confirmed → sent; failed →
//     retried and appended to the spool. With nothing in flight, the sender
//     sends the spool oldest first and acknowledges a spool batch only when
//     the broker confirmed all of it; a failed spool batch is sent again after
//     a backoff (up to retry_backoff_max), so an outage costs duplicates
//     (same event_id), not events. Order is kept per path; the one exception
//     is a memory batch whose failure is reported after newer events were
//     already spooled (it is spooled behind them).
//   - Spool full or a spool write error (disk full) → the events are
//     dropped and counted (spool_full, spool_error); nothing blocks, nothing
//     crashes. Without spool_dir, events that do not fit in memory or fail
//     are dropped (no_spool).
//   - Counters (Delivery, through sinks.StatsReporter): enqueued + recovered
//     = sent + Σdropped + pending, where recovered are the events an earlier
//     run left in the spool (sent first, before new ones) and pending what
//     is queued, in flight or spooled now.
//   - Close keeps delivering for up to close_timeout; what is left (queued,
//     in flight, spooled) stays in the spool for the next start.
//   - A spool left by a killed process is recovered at New: a torn last
//     record is cut and counted (see sinks/spool).
//
// TLS (CA, client certificate, insecure_skip_verify) and SASL (PLAIN,
// SCRAM-SHA-256/512, the password read from password_file) are read at New.
//
// New is inert apart from opening the spool; Start starts the sender.
//
// docs/kafka.md has the configuration, the tests (an in-process kfake
// broker, and the services broker from deploy/dev/services.sh through
// NUNCHI_TEST_KAFKA) and measured throughput (bench_test.go): on this 2-core
// machine the sink alone delivers 150–300 k events/s (lz4, acks=all), a
// benchgen replay sends 20–74 k events/s (the replay is the limit), and a
// spool drains at 100–150 k events/s.
package kafka
