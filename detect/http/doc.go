// Package http parses HTTP/1.0 and HTTP/1.1 from the reassembled bytes of
// a TCP flow and emits one detect.HTTP event per transaction (a request
// and its response, either of which may be missing).
//
// # Contract
//
// Parser implements detect.StreamParser. It is an incremental state
// machine per direction (request line or status line, header lines, body)
// that accepts bytes split at any position: a line split across Data calls
// is kept in a per-direction buffer of at most MaxHeaderBytes, otherwise
// lines are read in place. Bodies are never buffered: they are skipped by
// counting (Content-Length, chunked framing with chunk extensions and
// trailers, close-delimited responses). HEAD requests and 1xx, 204 and 304
// responses have no body. Lines may end in CRLF or a bare LF; header names
// are case-insensitive; obs-fold continuation lines are joined to the
// header they continue with one space.
//
// The first client bytes must be a known method followed by a space
// (Detect); otherwise Data says detect.NotMine. A server speaking first
// must start with "HTTP/" (content detection in the pipeline takes a flow
// whose server speaks first only for a whole status line, DetectResponse).
// Later requests on the same connection may use any token as method.
//
// # Events
//
// One event per request (Type detect.TypeHTTP, Timestamp = packet time of
// the Data call that completed the request line). Requests wait in a queue
// (MaxPending) and are paired with responses in order (pipelining,
// keep-alive). The event is emitted:
//
//   - when the response headers are complete and the body length is known
//     (Content-Length, or no body): Status, response Content-Type,
//     Location (Redirect) and Length set;
//   - for a chunked or close-delimited response, when the body ends (last
//     chunk and trailers, Close, a gap that breaks the framing): Length is
//     the body bytes counted (chunk data, not framing; gap bytes included);
//   - without a response (Status 0, Length -1) at Close, on queue overflow
//     (the oldest request; the response that may still come for it is then
//     skipped), or when a gap breaks the response's header block.
//
// Interim 1xx responses (except 101) are skipped. A 101 response, or a 2xx
// response to CONNECT, turns the stream into something else: the event is
// emitted, pending requests are flushed and the parser says detect.Upgrade
// (the stream is then detected afresh: TLS inside a CONNECT tunnel, a
// WebSocket…); later calls say detect.Done.
// A response without any request (a capture that starts mid-stream at a
// response, or a request lost to capture) is reported as a transaction
// with an empty request side: Method, URL and Hostname empty, Timestamp =
// packet time of its status line. Responses to requests already reported
// on queue overflow are skipped.
//
// Hostname comes from the Host header (port split into Port; an IPv6
// literal loses its brackets; lower case, no trailing dot). For an
// absolute-URI request (a client talking to a proxy) Proxied is true and,
// when there is no Host header, Hostname and Port come from the URI. For
// CONNECT they come from the target, and Proxied is true. URL is the
// request target as sent. ContentType is the response's, or the request's
// when the response has none.
//
// # Bounds
//
//   - A header block larger than MaxHeaderBytes (start line included) is cut
//     there: a request is queued with what was parsed, a response emitted
//     with Length -1, and that direction resynchronises on the next start
//     line (its body cannot be framed).
//   - Kept fields are truncated: URL, Referer and Location to 2 KiB,
//     User-Agent to 512 bytes, other values to 512 bytes.
//   - After MaxTransactions events the parser says detect.Done, so that
//     long keep-alive sessions stop costing.
//
// # Gaps
//
// A gap inside a body with a known length is subtracted and parsing goes
// on; in a close-delimited body it is counted. A gap in a header block
// drops that message (a request is replaced by a placeholder so that its
// response is not paired with the next request; a response leaves its
// request reported without one) and the direction resynchronises: lines
// are skipped until one parses as a request (status) line. A gap that
// breaks body framing resynchronises the same way. A gap before the
// client's first bytes were seen gives detect.NotMine.
//
// # Ownership and threading
//
// Not safe for concurrent use: one Parser per flow, owned by its shard; no
// goroutines. Data never keeps the slice it is given. Each event (and its
// HTTP object) is freshly allocated and handed over to the Emit callback;
// the parser never touches it again. Reset reuses a Parser (and its line
// buffers) for another flow.
package http
