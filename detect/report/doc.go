// Package report builds anomaly events for the detectors under detect/
// (vpn, tor, proxy, scan) and lets a detector watch the events of another
// parser without changing it.
//
// # Contract
//
// New returns one detect.Event of type detect.TypeAnomaly whose Anomaly
// object and evidence list (at most MaxDetail entries) are carved from one
// allocation, and the Event itself from the shard's detect.Arena when one
// is given: a detector allocates only when it has something to report. The
// event is complete except for the flow context, which the shard fills
// (flow_id, community_id, endpoints, app_proto).
//
// Tap wraps a stream parser (TLS, HTTP…): every event the inner parser
// emits is passed on unchanged, and a Derive function sees each published
// (non-Early) event before it is passed on and may return one anomaly
// event for the flow, emitted right after it. At most one derived event per
// flow. Tap forwards Reset, UseArena and EmitEarly, so a wrapped parser
// keeps its pooling, arena and early-event behaviour. Derive must only read
// the event it is given and must not keep it.
//
// Not safe for concurrent use: one Tap per flow, owned by its shard.
package report
