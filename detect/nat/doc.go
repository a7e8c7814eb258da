// Package nat finds NAT gateways on the wire: which addresses hide several
// hosts, roughly how many, how the NAT maps and filters (RFC 4787; the RFC
// 3489 names full cone, restricted cone, port-restricted cone, symmetric),
// how it allocates ports, and which port forwards it was asked for (UPnP
// IGD) or accepts.
//
// A Tracker is shared by every shard: one address's flows hash to
// different shards, so its evidence must meet in one place. Shards feed
// it the few packets that carry evidence — TCP SYNs (p0f-style signature,
// TTL class, TCP timestamp clock, source port), the first client packets
// of a flow (IP-ID, Bellovin's technique), SYN/ACKs from known gateways
// (inbound connections accepted), STUN Binding messages, SSDP datagrams,
// SOAP AddPortMapping requests and GetExternalIPAddress answers — and the
// app events that name a client (User-Agent OS family, JA4). Each call
// returns the reports (detect.NAT) it made news: an address is reported
// when its estimate or verdicts change and it is reportable (several
// hosts with enough confidence, or translation shown outright).
//
// Everything is in packet time within Config.Window and bounded: at most
// Config.MaxSources addresses, and fixed caps per address. docs/nat.md
// says what each kind of evidence can and cannot show.
package nat
