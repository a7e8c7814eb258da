// Package tls parses the clear-text part of a TLS handshake (ClientHello,
// ServerHello, and the Certificate message of TLS ≤ 1.2) and computes the
// JA3, JA3S and JA4 fingerprints.
//
// ParseClientHello is shared with the QUIC parser: it takes the body of a
// ClientHello handshake message (after the 4-byte handshake header), is
// bounds-checked everywhere, never panics and returns an error for
// malformed input. The returned ClientHello owns its slices and strings.
package tls
