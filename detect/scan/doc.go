// Package scan detects port scans and SYN floods from packet headers, in
// bounded memory and packet-time windows. It is pure logic: the shard feeds
// it and publishes what it returns.
//
// # Contract
//
// Detector.Observe takes one packet's addresses, ports, IP protocol, TCP
// flags and packet time (Unix ns). Packets that can probe are counted:
// TCP SYN (without ACK), FIN (alone), NULL (no flag), XMAS (FIN+PSH+URG),
// and UDP; everything else returns at once. For each probe kind it keeps,
// per packet-time window (Config.Window, tumbling, started by the first
// packet of a key):
//
//   - horizontal: per (source, destination port, kind), the distinct
//     destination hosts; reported as port_scan/horizontal when they reach
//     Config.HorizontalHosts;
//   - vertical: per (source, destination host, kind), the distinct
//     destination ports; reported as port_scan/vertical at
//     Config.VerticalPorts;
//   - SYN flood: per (destination host, port), the distinct SYN-sending
//     endpoints (source address and port) minus the handshakes the caller
//     reports complete (Established); reported as syn_flood/half_open when
//     the half-open count reaches Config.SynFloodHalfOpen and is at least
//     Config.SynFloodRatio of the SYNs.
//
// Each is reported once per key and window: Observe returns the new
// anomalies (nil almost always), with the evidence in Detail (src, dst,
// dst_port, kind, hosts/ports/half_open estimates, packets, duration_ms,
// window_s). The returned slice is reused by the next call; the anomalies
// themselves are new and owned by the caller.
//
// # Bounds
//
// Distinct counts are HyperLogLog sketches of 128 one-byte registers
// (about 9 % standard error; exact-ish below ~40 thanks to linear
// counting). Keys live in fixed-size 4-way set-associative tables
// (Config.MaxEntries each) allocated by New and never grown: a new key
// takes an empty or expired way of its set, else evicts the way with the
// fewest packets (counted in Stats.Evicted). A scan of a million addresses
// therefore costs no more memory than one of ten (TestMillionTargets); it
// does churn the small entries of its sets, which an attacker could use to
// hide a slow scan among them (docs/anomalies.md). Hashing is
// deterministic (seeded by Config.Seed) so replays give the same events.
//
// Not safe for concurrent use: one Detector per shard.
package scan
