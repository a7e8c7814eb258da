package detect

// Directions of stream data, relative to the flow's client/server
// orientation (the same values as reassembly.ToServer/ToClient).
const (
	ToServer = 0
	ToClient = 1
)

// Verdict is what a parser tells the stream that feeds it.
type Verdict uint8

const (
	// NeedMore: keep feeding this direction.
	NeedMore Verdict = iota
	// Done: the parser has what it needs; stop feeding it (both directions).
	// Reassembly state for the flow can be released: bulk transfers then
	// cost nothing.
	Done
	// NotMine: the bytes are not this protocol; detection may try another.
	NotMine
	// Upgrade: the stream now carries another protocol (an HTTP CONNECT or
	// SOCKS tunnel was opened, a 101 upgrade): the bytes after this call
	// are a new stream, to be detected afresh. The parser is done.
	Upgrade
)

// Emit hands a finished event to the shard. The parser fills Type,
// Timestamp and its own object (HTTP, TLS, QUIC or DNS); the shard fills the
// flow context (flow_id, community_id, addresses, ports, vlan, tunnel,
// app_proto, sensor) before publishing. The parser must not keep or modify
// the event after the call.
// An Emit callback must not keep an Early event (the parser reuses it).
type Emit func(e *Event)

// EarlyEmitter is implemented by parsers that can emit an Early event as
// soon as a name is known (HTTP request headers, TLS ClientHello). Off
// by default and after Reset; the shard turns it on when rules are loaded.
type EarlyEmitter interface {
	EmitEarly(on bool)
}

// StreamParser consumes the reassembled, in-order bytes of one TCP flow
// (both directions) as an incremental state machine: data may be split at
// any byte, and the parser keeps what it needs between calls within a byte
// budget. One per flow; not safe for concurrent use; no goroutines.
type StreamParser interface {
	// Data feeds the next in-order bytes of direction dir, seen at packet
	// time ts (Unix ns). data is valid only during the call.
	Data(dir int, data []byte, ts int64) Verdict
	// Gap reports n bytes of direction dir that will never arrive (capture
	// loss, or a mid-stream pickup). The parser resynchronises or gives up.
	Gap(dir int, n int, ts int64) Verdict
	// Close ends the stream (FIN/RST, flow expiry or shutdown): flush what
	// is pending (e.g. a request whose response never came).
	Close(ts int64)
}

// DatagramParser consumes the datagrams of one UDP flow (DNS, QUIC).
type DatagramParser interface {
	// Datagram feeds one UDP payload of direction dir at packet time ts.
	Datagram(dir int, data []byte, ts int64) Verdict
	// Close ends the flow.
	Close(ts int64)
}
