// Command nunchi-devbroker runs a Kafka-protocol broker for development and
// tests: franz-go's kfake, a real broker implementation that keeps its data in
// memory or, with -data, in a directory (so a stop and restart keeps the
// topics and offsets, as a real broker would).
//
// It listens on -addr (default 127.0.0.1:9092; port 0 picks a free one),
// creates topics on first use (the sink's metadata requests ask for that),
// prints "ready ADDR" on standard output once it accepts connections, writes
// ADDR to -addr-file when given, and stops on SIGTERM or SIGINT. It is not a
// production broker: one process, no replication.
//
// Optional SASL users (-sasl-user user:pass, mechanisms PLAIN,
// SCRAM-SHA-256 and SCRAM-SHA-512) exercise the sink's authentication.
//
// deploy/dev/services.sh builds and starts it.
package main
