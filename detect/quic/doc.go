// Package quic reads the client's first flight of a QUIC connection and
// reports its version, SNI, ALPN and JA4 (IETF QUIC), or its SNI and user
// agent (gQUIC), as one "quic" event per flow (DESIGN.md §4).
//
// # Contract
//
// A Parser implements detect.DatagramParser for one UDP flow; the shard
// feeds it the flow's payloads with their direction. Only client→server
// datagrams (detect.ToServer) are read; server datagrams are ignored
// (NeedMore). The first client datagram decides: if Detect rejects it the
// verdict is NotMine and the parser holds no state. Otherwise the parser
// returns NeedMore until it emits its event, then Done (and Done for every
// later call). The shard fills the flow context of the event; the parser
// fills Type, Timestamp (packet time of the datagram that completed the
// ClientHello) and the QUIC object, which it never touches again.
//
// At most one event per flow:
//
//   - ClientHello complete: version, SNI (empty when the client sent none),
//     ALPN, JA4 (computed by detect/tls, transport 'q').
//   - Gave up on a flow that proved to be QUIC (an Initial decrypted, or a
//     gQUIC header was read): an event with the version only, no SNI. This
//     happens after MaxStale client Initials that brought no new CRYPTO
//     bytes, or MaxInitials Initials in all, without a complete ClientHello, when the CRYPTO stream does not start with a ClientHello
//     or holds one longer than MaxCrypto-4 bytes, when the ClientHello does
//     not parse, and on Close.
//   - The first Initial does not decrypt (not a client Initial, a capture
//     that starts mid-connection, truncation, forgery): Done, no event.
//
// # Versions
//
//	"1"          QUIC v1 (RFC 9000, RFC 9001): 0x00000001
//	"2"          QUIC v2 (RFC 9369): 0x6b3343cf (its salt, "quicv2 " labels, Initial type 0b01)
//	"draft-NN"   drafts 23–34 (0xff0000NN): salts of draft-23 (23–28), draft-29 (29–32), v1 (33–34)
//	"Q046"       gQUIC Q046: IETF invariant long header, cleartext CHLO → SNI, UAID
//	"Q039"–"Q043" gQUIC public header with version, cleartext CHLO → SNI, UAID
//	"Q050"       gQUIC Q050: Initial protection with the Q050 salt, CHLO in the
//	             decrypted payload → SNI, UAID (tested with packets this package
//	             seals itself; no real Q050 capture was available)
//
// Not read: T050/T051 and other gQUIC-over-TLS versions, Q044/Q045/Q048/Q049,
// version negotiation packets, 0-RTT and Handshake packets (skipped by their
// Length), short-header packets (the rest of the datagram), Retry packets.
//
// # Initial decryption
//
// Keys come from the Destination Connection ID of the client's first Initial
// (HKDF-Extract with the version's salt, then HKDF-Expand-Label "client in",
// "quic key"/"quic iv"/"quic hp"), and are cached for the flow. Later
// Initials may carry the server's connection ID as DCID and still use those
// keys. When the cached keys fail, the parser tries (at most 4 derivations
// per flow) keys for the first DCID under the packet's version (compatible
// version negotiation, v1 → v2) and keys for the packet's own DCID (after a
// Retry). Header protection is removed with AES-ECB over the 16-byte sample;
// the packet number is reconstructed from the largest one decrypted; the
// payload is opened with AES-128-GCM, the unprotected header as AAD. The
// datagram is never modified: the header and plaintext are built in a
// scratch buffer owned by the parser.
//
// # Frames and reassembly
//
// A datagram may coalesce several packets; they are walked by their Length
// field. In Initial payloads the parser reads PADDING, PING, ACK (with and
// without ECN counts) and CRYPTO frames; any other frame type stops that
// packet (counted in Stats.UnknownFrames; CONNECTION_CLOSE, for one). CRYPTO
// data is placed by offset into a MaxCrypto (16 KiB) buffer with a byte
// bitmap, so frames and packets may arrive in any order, overlap or repeat;
// bytes beyond MaxCrypto are dropped and counted. Where frames overlap, the
// bytes that arrived first are kept and a difference is counted
// (Stats.CryptoConflicts). The ClientHello (handshake
// type 1, 3-byte length) is parsed once the complete prefix covers it.
//
// # Bounds and cost
//
// Per flow: MaxInitials (32) client Initials of which at most MaxStale (8)
// without new CRYPTO bytes, 4 key derivations, a 16 KiB
// CRYPTO buffer and a bitmap (allocated on the first CRYPTO frame and kept
// by Reset), a scratch buffer of the largest datagram decrypted (≤ 64 KiB).
// Detect, a NotMine verdict and the decryption of an Initial with derived
// keys allocate nothing; a flow allocates its keys once (7 allocations:
// HKDF runs on an allocation-free HMAC-SHA-256 over sha256.Sum256, checked
// against crypto/hmac and crypto/hkdf; AES and GCM allocate), then its event. Stats counts what each Parser saw, for the shard's
// metrics.
//
// # Threading and lifetime
//
// A Parser is not safe for concurrent use: one per flow, owned by a shard.
// Datagram does not keep data after it returns. Reset prepares a Parser for
// another flow and keeps its buffers.
package quic
