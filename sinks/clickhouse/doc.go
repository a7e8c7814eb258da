// Package clickhouse is the ClickHouse sink: every event becomes one row of
// the table named after its event_type (flow, http, tls, quic, dns, block,
// stats; inject, nat and anomaly exist for the features that will fill
// them), in the configured database, over the native protocol with
// clickhouse-go/v2 v2.25.0 (the last release that 18.16 accepts inserts
// from; see DESIGN.md §5).
//
// # Schema
//
// The sink creates and migrates the schema itself: versioned SQL files
// embedded in the binary (migrations/NNNN_name.sql), applied in order and
// recorded in <database>.schema_migrations. Every statement is idempotent
// (IF NOT EXISTS), so sensors starting together converge. Column names
// are the JSON field paths with dots turned into underscores
// (flow.pkts_toserver → flow_pkts_toserver; dns.answers[].rdata →
// dns_answers_rdata, an array); event_id is a column of every table.
// The DDL dialect follows the server version (Dialect): IPv6 or
// FixedString(16) (IPv4-mapped), DateTime64(6) or DateTime (whole
// seconds), LowCardinality(String) (experimental on 18.x, enabled per
// session) and TTL where available. The insert path is one: it reads the
// column types back from the server and fills them from the event's JSON
// line, the same bytes the JSONL sink writes (block.go).
//
// Raw tables are ReplacingMergeTree partitioned by day, sorted by hour of
// timestamp, then the columns dashboards group by, then event_id. Rollups
// (flow_1m, flow_1h: flows, packets and bytes per sensor, app_proto,
// proto, dest_port, dest_ip; block_1m, block_1h: hits per list, name,
// surface and action) are SummingMergeTree tables filled by materialized
// views. Retention: TTL on servers that have it, day-partition drops by
// the sink otherwise.
//
// # Delivery
//
// Write (the fan-out worker's goroutine) encodes events into a batch of JSON
// lines and never waits for a failing server (with SetBackpressure, used
// for replays, it waits for one that answers but is slower than the
// sensor, so a replay larger than the spool loses nothing): a full batch (BatchSize events, or
// older than BatchAge at a flush tick) goes to an in-memory queue of
// QueueBatches batches, or to the Spool when that queue is full or the spool
// already holds batches, so batches stay in order. One sender goroutine
// takes the queue first (always older than the spool), then the spool;
// each batch is split per table and inserted, retrying with exponential
// backoff (RetryMin…RetryMax): connection errors until the server returns,
// errors the server gives for the data itself at most MaxAttempts times
// (then dropped(rejected)). Tables of a batch already acknowledged are not
// sent again. A full queue moves to the spool before the batch that found
// it full, and a batch from memory that fails its first attempt moves to
// the spool with the queue behind it: while the server is away everything
// but the batch being filled is in the spool, and a disk spool survives
// kill -9 of the sensor. Batches keep their order, except that a batch in
// flight when the server fails lands behind batches a burst had already
// spooled (rows are sorted by the table's key anyway). A spool that refuses
// a batch (full) drops it, counted.
//
// Delivery is at least once: an insert the server committed but whose
// acknowledgement was lost is sent again, so a row can appear twice with
// the same event_id. Exact queries dedupe on it (count(DISTINCT event_id),
// LIMIT 1 BY event_id, or FINAL on the ReplacingMergeTree tables); the
// rollups count such rows twice.
//
// Counters (Stats, in events): Enqueued + Recovered = Sent + ΣDropped +
// Pending. At Close the sink tries an unreachable server for CloseTimeout
// and leaves the rest in the spool: a disk spool keeps it for the next run
// (delivered first, counted as Recovered); a MemSpool loses it, counted as
// dropped(shutdown).
//
// Concurrency: Write, Flush and Close must come from one goroutine (the
// fan-out's worker); Stats is safe from any goroutine.
package clickhouse
