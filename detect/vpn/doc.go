// Package vpn recognises VPN protocols by content, on any port, and emits
// one anomaly event per flow (Type "vpn", Event openvpn | wireguard | ipsec
// | l2tp | pptp) once it is confident, then says detect.Done.
//
// # Contract
//
// Each protocol has a probe for the pipeline's content-detection table
// (Detect…: cheap, looks at one datagram or the first 16 stream bytes,
// allocates nothing) and a parser:
//
//   - OpenVPN (UDP: DatagramParser; TCP: StreamParser over the 2-byte
//     record length). Probe: a hard reset (client V1/V2/V3 or server
//     V1/V2) with key ID 0. Confirmed by the session ID: the peer's reset
//     in reply, the peer echoing our session ID in its ack array, or a
//     second control packet from the same side with the same 64-bit
//     session ID. Detail: transport, opcode (of the first packet), hmac
//     (none | tls-auth | tls-crypt | unknown, from the reset's layout),
//     evidence, session_id, packets. Budget: OpenVPNMaxPackets packets.
//   - WireGuard (DatagramParser). Probe: type 1–4 with the three reserved
//     bytes zero and the exact size (148, 92, 64; transport ≥ 32 and a
//     multiple of 16). Confirmed by a response or cookie naming the
//     initiator's index, a transport message to a handshake index, or
//     three transport messages in one direction to one receiver index
//     with increasing counters. Budget: WireGuardMaxPackets.
//   - IPsec (DatagramParser). IKEv1/IKEv2 with or without the RFC 3948
//     non-ESP marker: initiator SPI set, version 1 or 2, known exchange
//     type and next payload, and the header's length equal to the datagram:
//     one message is proof; Detail: protocol "ike", version, exchange,
//     nat_t, initiator_spi. ESP in UDP (the last, fuzziest probe: SPI ≥
//     256, sequence 1…2^24, 4-byte aligned): three datagrams with one SPI
//     and increasing sequence numbers; Detail: protocol "esp", nat_t, spi.
//     Raw ESP (IP protocol 50) never reaches a parser: see docs/anomalies.md.
//   - L2TP (DatagramParser). v2 or v3 control message: T, L, S bits,
//     length equal to the datagram, a mandatory Message Type AVP first.
//     Detail: version, message.
//   - PPTP (StreamParser). The control connection's magic cookie
//     0x1A2B3C4D; the first message (at most 156 bytes) is read. Detail:
//     message, protocol_version, hostname, vendor.
//
// Parsers answer detect.NotMine when the flow's first packet does not fit
// after all, detect.Done when they reported or their packet budget ran out.
// They keep fixed-size state (no buffer grows with the flow) and allocate
// only the event they emit (report.New: the Event from the shard's
// arena, the anomaly and its details in one allocation).
//
// # Ownership and threading
//
// One parser per flow, owned by its shard; not safe for concurrent use; no
// goroutines. Data and Datagram never keep the slices they are given.
// Reset reuses a parser for another flow; its events share nothing with it.
package vpn
