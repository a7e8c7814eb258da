// Package metrics serves the sensor's own health over HTTP: Prometheus
// metrics in the text exposition format 0.0.4, a liveness probe and a
// readiness probe.
//
// Contract:
//
//   - GET /metrics builds one pipeline.Stats per scrape (stats are cheap but
//     not free: the shards' snapshots are copied under their locks) and
//     writes every counter in it as a Prometheus series, plus process and Go
//     runtime basics. Counters are named nunchi_<stage>_<thing>_total,
//     gauges carry no _total suffix. Labels are of bounded cardinality only:
//     interface and socket (capture sockets, fixed at start), reason (fixed
//     sets), event_type, sink. Known label values (drop reasons, event
//     types, flow end reasons) are written with 0 before they first happen,
//     so rate() and absent() behave. docs/metrics.md lists every series.
//   - GET /healthz answers 200 while the process serves HTTP at all.
//   - GET /readyz answers 200 while ready() is true (the pipeline is
//     capturing or replaying) and 503 otherwise.
//   - Server.Start binds the address before it returns (a busy port is an
//     error at start, not a log line later); Server.Stop shuts the listener
//     and every connection down and returns when the serving goroutine has
//     ended, so a stopped server leaves no goroutine behind.
//
// The exposition is written in-house (Write, Family) rather than with
// client_golang: the sensor's counters already live in pipeline.Stats, so
// a registry of live metric objects would only duplicate them. Parse is a
// strict reader of the same format, used by the tests to check what a
// scrape returns.
package metrics
