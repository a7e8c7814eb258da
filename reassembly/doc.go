// Package reassembly tracks flows: the bounded, per-shard flow table (keys,
// orientation, counters, state, expiry in packet time, memcap) and Community
// ID v1 flow hashing (see communityid.go), and TCP stream reassembly
// ([Streams], see stream.go and docs/design.md): one [Stream] per flow,
// fed by the shard with the flow's packets and direction, delivering each
// direction's bytes in order to a [StreamConsumer] (in-order segments
// without a copy), reporting holes as gaps and overlapping retransmissions
// whose bytes differ as conflicts, within fixed buffer budgets.
//
// # Keys and hashing
//
// [KeyOf] turns a [capture.Packet] into a canonical [Key]: the endpoint with
// the smaller (address, port) is A, so both directions of a conversation give
// the same Key, and KeyOf also reports whether the packet travels from A to
// B. A Key is packed, comparable and pointer-free (IPv4 addresses are
// IPv4-mapped 16-byte [capture.Addr]), so maps of millions of keys cost the
// GC nothing to scan. ICMP and ICMPv6 requests and their replies (echo,
// timestamp, neighbour solicitation/advertisement…) share a key. VLAN IDs
// are part of the key only with FlowConfig.VLANInKey; tunnel endpoints never
// are. [Key.Hash] and [HashPacket] are symmetric (both directions hash
// alike): use them to pick the shard of a packet.
//
// # Threading model
//
// A [Table] is not safe for concurrent use: one Table per shard, owned by
// the shard's goroutine, fed packets of the flows that hash to that shard.
// [Table.Stats] returns a copy that the owner may publish to others.
//
// # Lifetime of *Flow
//
// The *[Flow] returned by [Table.Update] and [Table.Lookup] points into the
// table's storage. It is valid until the next call to Update, Expire or
// Flush on the same Table: any of them may end the flow and reuse its slot
// for another. Copy what must outlive that. The *Flow passed to an [EndFunc]
// is valid only during the call. Flow.App is the shard's to use.
//
// # Orientation and state
//
// Each flow has a client and a server, decided from its first packet: a SYN's
// sender is the client, a SYN-ACK's receiver is; for mid-stream TCP, UDP and
// others a well-known/service port talking to an ephemeral one is the
// server (else the first sender is the client); for ICMP the requester is
// the client. Counters (packets, IP bytes, payload bytes, TCP flags, TTL)
// are kept per direction, [ToServer] and [ToClient]. Flows are [StateNew]
// until both sides are seen (TCP: the handshake completes, or a mid-stream
// flow is seen both ways), then [StateEstablished], and TCP flows become
// [StateClosed] after FIN both ways or a RST. Flow.History holds Zeek-style
// letters (S h A D F R…; upper case from the client, lower case from the
// server), each at most once per direction. Reassembled datagrams marked
// capture.FlagFragTail refresh the flow but add no packets or bytes: their
// first fragment was counted.
//
// # Packet time and expiry
//
// All time is packet time (capture timestamps, Unix ns), never the wall
// clock, so a replay is deterministic. Each (protocol, state) pair has an
// idle timeout (FlowConfig.Timeouts) and an LRU list ordered by last-seen
// time: [Table.Expire](now) ends, with reason [EndTimeout], every flow idle
// for longer than its timeout, looking only at list heads, so its cost is
// proportional to the flows it ends. Update ends an idle flow the same way
// before it starts a new one for the packet, and a SYN on a closed TCP flow
// ends it with [EndReuse]. Time may go backwards (merged captures): a packet
// older than its flow's Last counts but neither moves Last back nor
// refreshes the flow, and Expire with an earlier clock ends nothing. Across
// flows, lists are kept in the order packets arrived, so a flow refreshed
// by a packet from behind the latest clock may expire up to that skew late.
//
// # Bounds
//
// A Table holds at most FlowConfig.MaxFlows flows. When a new flow does not
// fit, the table enters emergency mode (Stats().EmergencyEntered counts it):
// the shorter FlowConfig.EmergencyTimeouts apply, idle flows are expired and,
// if still full, the least recently seen flow is evicted with [EndForced].
// Emergency mode ends once Expire brings the table under
// FlowConfig.EmergencyRecovery percent of MaxFlows. [Table.Flush] ends every
// flow (reason [EndShutdown] at the end of input) in a deterministic order:
// list by list, least recently seen first.
//
// # Counters
//
// [TableStats] counts packets applied, flows created, flows ended by
// [EndReason], active flows (a gauge, equal to [Table.Len]), the peak, and
// emergency entries. They obey
//
//	Created = sum(Ended) + Active
//
// at every point between calls; tests assert it after every scenario.
//
// # Allocation
//
// Updating an existing flow and Lookup allocate nothing (guarded by
// TestUpdateExistingFlowDoesNotAllocate). Storage grows in chunks of slots
// that are reused once flows end; creating a flow allocates only when the
// map or the slot storage grows. [AppendCommunityID] allocates only when it
// must grow its destination; [Flow.HistoryString] and [CommunityID]
// allocate their result and are meant for reporting.
package reassembly
