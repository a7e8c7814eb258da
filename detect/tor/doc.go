// Package tor recognises Tor's link-protocol TLS connections from the
// events of the TLS parser and reports them as one anomaly (Type "tor",
// Event "tls") per flow.
//
// # Heuristic
//
// A Tor relay connection's ClientHello carries a made-up server name
// "www.<random>.com" whose random part is base32 ([a-z2-7], 4–25
// characters in the wild); relays' certificates (visible up to TLS 1.2)
// carry made-up names of the same shape, "www.<random>.net" as the
// subject and "www.<random>.com" as the issuer. Check scores:
//
//   - sni: the SNI has that shape (required);
//   - cert: the subject and the issuer CNs both have that shape and differ
//     (strong; confidence "high");
//   - random: the random part mixes base32 digits (2–7) with letters, or
//     has fewer than 20 % vowels over at least 8 characters;
//   - no_alpn: the ClientHello offers no ALPN (browsers and most HTTP
//     clients do; Tor does not).
//
// It reports sni+cert (high), or sni+random+no_alpn (medium).
//
// # False positives
//
// A real site named www.<letters>.com, reached by a client without ALPN
// and with a vowel-poor or digit-bearing name (www.k8s2.com from a script),
// reaches "medium". TLS 1.3 hides the certificate, so modern Tor is
// reported at medium confidence at best. Pluggable transports (obfs4,
// meek, snowflake) do not look like this and are not detected; nor is
// Tor's directory traffic over plain HTTP.
//
// Derive has the report.Derive signature for a report.Tap around the TLS
// parser: it only reads the event, allocates only when it reports.
package tor
