// Package inject forges the replies an out-of-path blocker races against
// the real server: an HTTP warning (302 to a warning URL or a 200 page)
// with FIN to the client plus an RST to the server; RSTs both ways for TLS
// and other TCP (the first at the exact expected sequence number, which is
// all an RFC 5961 receiver accepts, the rest spread over the window); a
// DNS answer pointing at the warning server, with the query's id, flags
// and question bytes.
//
// A Trigger is what the shard observed (endpoints in client → server
// orientation, next sequence numbers, windows, TTLs, IP IDs, MACs, VLANs).
// Plan builds the frames with gopacket serialization (lengths and
// checksums computed); Offer applies the guardrails (never-inject
// networks, a global token bucket, a per-client limit per second), sends
// the frames on an AF_PACKET socket of the TX interface (or writes them to
// a dry-run pcap) and remembers them, so that IsOwn can tell the shard to
// ignore them when they come back through the mirror. Offer runs inline on
// the shard goroutine and is safe for concurrent use; every trigger is
// counted: offered = sent + suppressed(reason) + failed.
package inject
