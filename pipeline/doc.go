// Package pipeline runs the hot path: a reader spreads packets over N
// shards, and each shard — one goroutine — owns a flow table and turns what
// it sees into events.
//
// Replay reads capture files in order, decodes each frame (the reader must,
// to find the innermost tuple and to reassemble fragments), picks a shard
// by a symmetric hash of the flow key, and hands packets over in batches
// (never one channel send per packet). Batches are recycled through a
// per-shard free list; their payloads live in the batch's arena. Once per
// second of packet time every shard receives a batch, even an empty one,
// so that idle shards still expire flows on time. A replay loses nothing:
// when shards fall behind, the reader waits.
//
// Live runs the same shards on live sources: each shard goroutine reads
// its own AF_PACKET sockets (the kernel's fanout hash already keeps a
// flow's two directions together), so there is no queue between capture
// and processing; on a quiet link the wall clock moves packet time on.
//
// A Shard publishes the events of each batch to a Publisher (the sinks'
// fan-out) and a snapshot of its counters, readable from other goroutines.
// At the end of input every flow is flushed (reason "shutdown") and a
// stats event closes the run. With one shard the output is deterministic;
// with N shards the events of each flow keep their order.
package pipeline
