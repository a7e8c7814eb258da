package metrics

import (
	"sort"
	"strconv"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/pipeline"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// EventTypes are the event_type label values written (with 0 until they
// happen). stats events are not counted by the pipeline.
var EventTypes = []string{detect.TypeFlow, detect.TypeHTTP, detect.TypeTLS, detect.TypeQUIC, detect.TypeDNS,
	detect.TypeBlock, detect.TypeInject, detect.TypeNAT, detect.TypeAnomaly}

// InjectSuppressReasons are the reason label values of nunchi_inject_suppressed_total.
var InjectSuppressReasons = []string{inject.SuppressNetwork, inject.SuppressRate, inject.SuppressClientRate,
	inject.SuppressPerFlow, inject.SuppressTunnel, inject.SuppressNoState, inject.SuppressNoAnswer, "unsupported_surface"}

// DefragDropReasons are the reason label values of nunchi_defrag_dropped_total.
var DefragDropReasons = []string{"timeout", "evicted", "too_many_fragments", "memcap", "too_large", "invalid"}

// DecoderDropReasons returns the decoder's drop reasons (capture.DropReason names).
func DecoderDropReasons() []string {
	out := make([]string, 0, int(capture.NumDropReasons))
	for r := capture.DropReason(1); r < capture.NumDropReasons; r++ {
		out = append(out, r.String())
	}
	return out
}

// known returns the values of m for the names in known (0 when absent),
// then any other key of m in sorted order, so a reason added upstream is
// exported before this list learns about it.
type labelled struct {
	label string
	v     uint64
}

func known(m map[string]uint64, names []string) []labelled {
	out := make([]labelled, 0, len(names)+len(m))
	seen := make(map[string]bool, len(names))
	for _, n := range names {
		seen[n] = true
		out = append(out, labelled{n, m[n]})
	}
	var extra []string
	for k := range m {
		if !seen[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, labelled{k, m[k]})
	}
	return out
}

// WriteStats adds every counter of st to b. docs/metrics.md documents each
// series; TestMetricsDoc keeps the two in step.
func WriteStats(b *Builder, st *pipeline.Stats) {
	c := &st.Capture
	b.Counter("nunchi_capture_files_total", "Capture files opened (replay).", c.Files)
	b.Counter("nunchi_capture_frames_total", "Frames read by the pipeline (replay: from files; live: from the sockets' rings).", c.Frames)
	b.Counter("nunchi_capture_bytes_total", "Wire bytes of the frames read.", c.Bytes)
	b.Counter("nunchi_capture_read_errors_total", "Read errors: corrupt or unreadable files, socket errors (capture retries).", c.Errors)
	b.Counter("nunchi_capture_span_duplicates_total", "Frames dropped as SPAN duplicates (capture.live.span_dedup_window).", c.SpanDuplicates)
	for _, s := range c.Sockets {
		l := []string{"interface", s.Interface, "socket", strconv.Itoa(s.Socket)}
		b.Counter("nunchi_capture_kernel_packets_total", "Packets the kernel accepted for a capture socket (after the BPF filter).", s.Packets, l...)
	}
	for _, s := range c.Sockets {
		l := []string{"interface", s.Interface, "socket", strconv.Itoa(s.Socket)}
		b.Counter("nunchi_capture_kernel_drops_total", "Packets the kernel dropped because the socket's ring was full.", s.Drops, l...)
	}
	for _, s := range c.Sockets {
		l := []string{"interface", s.Interface, "socket", strconv.Itoa(s.Socket)}
		b.Counter("nunchi_capture_kernel_freezes_total", "TPACKET_V3 queue freezes of a socket (its ring ran full).", s.Freezes, l...)
	}

	d := &st.Decoder
	b.Counter("nunchi_decoder_frames_total", "Frames given to the decoder: decoded + dropped.", d.Frames)
	b.Counter("nunchi_decoder_decoded_total", "Frames decoded into a packet.", d.Decoded)
	b.Counter("nunchi_decoder_ip_packets_total", "Decoded packets by IP version (innermost header).", d.IPv4, "version", "4")
	b.Counter("nunchi_decoder_ip_packets_total", "Decoded packets by IP version (innermost header).", d.IPv6, "version", "6")
	for _, p := range []struct {
		name string
		v    uint64
	}{{"tcp", d.TCP}, {"udp", d.UDP}, {"icmp", d.ICMP}, {"sctp", d.SCTP}, {"other", d.OtherIP}} {
		b.Counter("nunchi_decoder_transport_packets_total", "Decoded packets by transport protocol (icmp includes ICMPv6).", p.v, "protocol", p.name)
	}
	b.Counter("nunchi_decoder_tunnelled_total", "Decoded packets that arrived in a tunnel (GRE, VXLAN, Geneve, ERSPAN, IP-in-IP, Teredo…).", d.Tunnelled)
	b.Counter("nunchi_decoder_truncated_total", "Decoded packets cut by the snap length.", d.Truncated)
	for _, kv := range known(d.Dropped, DecoderDropReasons()) {
		b.Counter("nunchi_decoder_dropped_total", "Frames that produced no packet, by reason.", kv.v, "reason", kv.label)
	}

	f := &st.Defrag
	b.Counter("nunchi_defrag_fragments_total", "IP fragments given to the defragmenter: held + reassembled_fragments + dropped.", f.FragmentsIn)
	b.Counter("nunchi_defrag_reassembled_total", "IP datagrams reassembled.", f.Reassembled)
	b.Counter("nunchi_defrag_reassembled_fragments_total", "Fragments that went into a reassembled datagram.", f.ReassembledFragments)
	b.GaugeUint("nunchi_defrag_held_fragments", "Fragments held now, waiting for the rest of their datagram.", f.Held)
	b.Counter("nunchi_defrag_overlaps_total", "Fragments that overlapped bytes already held.", f.Overlaps)
	b.Counter("nunchi_defrag_overlap_conflicts_total", "Overlapping fragments whose bytes differed from those held (first bytes win).", f.Conflicts)
	for _, kv := range known(f.Dropped, DefragDropReasons) {
		b.Counter("nunchi_defrag_dropped_total", "Fragments dropped, by reason.", kv.v, "reason", kv.label)
	}

	fl := &st.Flows
	b.Counter("nunchi_flows_packets_total", "Packets applied to the flow tables.", fl.Packets)
	b.Counter("nunchi_flows_created_total", "Flows created: ended + active.", fl.Created)
	b.GaugeUint("nunchi_flows_active", "Flows in the flow tables now.", fl.Active)
	b.GaugeUint("nunchi_flows_peak", "Highest number of flows held at once (sum of the shards' peaks).", fl.Peak)
	for _, kv := range known(fl.Ended, reassembly.EndReasonNames()) {
		b.Counter("nunchi_flows_ended_total", "Flows ended, by reason (timeout, forced: evicted by the memcap, shutdown, reuse).", kv.v, "reason", kv.label)
	}
	b.Counter("nunchi_flows_emergency_entered_total", "Times a flow table reached flow.max_flows and entered emergency mode.", fl.EmergencyEntered)

	s := &st.Streams
	b.Counter("nunchi_streams_total", "TCP connections given to stream reassembly.", s.Streams)
	b.Counter("nunchi_streams_segments_total", "TCP segments given to stream reassembly.", s.Segments)
	b.Counter("nunchi_streams_bytes_total", "Stream bytes delivered in order to the parsers.", s.Bytes)
	b.Counter("nunchi_streams_gaps_total", "Holes in TCP streams skipped (capture loss, or flush_after elapsed).", s.Gaps)
	b.Counter("nunchi_streams_gap_bytes_total", "Bytes in the holes skipped.", s.GapBytes)
	b.Counter("nunchi_streams_midstream_total", "TCP streams picked up after their handshake.", s.Midstream)
	b.Counter("nunchi_streams_overlaps_total", "Segments overlapping bytes already delivered.", s.Overlaps)
	b.GaugeUint("nunchi_streams_connections", "TCP connections the reassembler holds now.", s.Connections)
	b.GaugeUint("nunchi_streams_connections_peak", "Most TCP connections the reassembler held at once (sum over shards).", s.ConnectionsPeak)
	b.GaugeUint("nunchi_streams_buffered_pages", "Out-of-order TCP data held now, in pages of 1900 bytes.", s.BufferedPages)
	b.Counter("nunchi_streams_windows_denied_total", "Stream directions left without an overlap window (streams.max_window_bytes reached).", s.WindowsDenied)
	b.Counter("nunchi_streams_overlap_conflicts_total", "Overlapping segments whose bytes differed from those delivered (injection signature).", s.OverlapConflicts)

	for _, kv := range known(st.Events, EventTypes) {
		b.Counter("nunchi_events_total", "Events emitted by the pipeline, by event_type (stats events not included).", kv.v, "event_type", kv.label)
	}
	b.GaugeUint("nunchi_shards", "Pipeline shards (goroutines that own a flow table).", uint64(st.Shards))

	if in := st.Inject; in != nil {
		b.Counter("nunchi_inject_offered_total", "Injection triggers (block events of inject lists): sent + failed + suppressed.", in.Offered)
		b.Counter("nunchi_inject_sent_total", "Triggers answered with forged frames (or written to the dry-run pcap).", in.Sent)
		b.Counter("nunchi_inject_failed_total", "Triggers whose frames could not be sent.", in.Failed)
		for _, kv := range known(in.Suppressed, InjectSuppressReasons) {
			b.Counter("nunchi_inject_suppressed_total", "Triggers not answered, by guardrail.", kv.v, "reason", kv.label)
		}
		b.Counter("nunchi_inject_packets_total", "Forged frames sent.", in.Packets)
		b.Counter("nunchi_inject_own_seen_total", "Forged frames seen again on the capture port (ignored).", in.OwnSeen)
		for _, o := range []labelled{{"won", in.Won}, {"lost", in.Lost}, {"unknown", in.Unknown}} {
			b.Counter("nunchi_inject_outcomes_total", "Injections by outcome of the race with the real server.", o.v, "outcome", o.label)
		}
	}

	for _, h := range st.Rules {
		b.Counter("nunchi_rules_hits_total", "Block hits per rules list (kept across reloads).", h.Hits, "list", h.List)
	}
	if n := st.NAT; n != nil {
		b.GaugeUint("nunchi_nat_sources", "Addresses the NAT tracker holds evidence for.", uint64(n.Sources))
		b.Counter("nunchi_nat_sources_evicted_total", "Addresses forgotten to stay within nat.max_sources.", n.Evicted)
		b.Counter("nunchi_nat_sources_expired_total", "Addresses forgotten after nat.window without traffic.", n.Expired)
		b.Counter("nunchi_nat_syns_total", "TCP SYNs the NAT tracker examined.", n.SYNs)
		b.Counter("nunchi_nat_paired_flows_total", "Inside flows paired with their translated outside flows.", n.PairedFlows)
		for _, m := range []labelled{{"stun", n.STUN}, {"ssdp", n.SSDP}, {"soap", n.SOAP}} {
			b.Counter("nunchi_nat_messages_total", "STUN, SSDP and UPnP SOAP messages read for NAT analysis.", m.v, "protocol", m.label)
		}
		b.Counter("nunchi_nat_reports_total", "nat events produced.", n.Reports)
		b.Counter("nunchi_nat_pairing_dropped_total", "Pairing candidates not kept (table full).", n.PendingDrops)
	}

	writeSinks(b, st)
}

func writeSinks(b *Builder, st *pipeline.Stats) {
	type series struct {
		name, help string
		gauge      bool
		get        func(i int) uint64
		labels     []string
	}
	sk := st.Sinks
	list := []series{
		{name: "nunchi_sink_offered_total", help: "Events offered to a sink's queue: enqueued + dropped{reason=queue_full}.", get: func(i int) uint64 { return sk[i].Offered }},
		{name: "nunchi_sink_enqueued_total", help: "Events taken into a sink's queue: written + dropped{reason=write_error} + queued.", get: func(i int) uint64 { return sk[i].Enqueued }},
		{name: "nunchi_sink_written_total", help: "Events a sink's Write accepted.", get: func(i int) uint64 { return sk[i].Written }},
		{name: "nunchi_sink_dropped_total", help: "Events a sink lost at the fan-out: its queue was full (live capture) or its Write failed.", labels: []string{"reason", "queue_full"}, get: func(i int) uint64 { return sk[i].DroppedFull }},
		{name: "nunchi_sink_dropped_total", help: "Events a sink lost at the fan-out: its queue was full (live capture) or its Write failed.", labels: []string{"reason", "write_error"}, get: func(i int) uint64 { return sk[i].DroppedError }},
		{name: "nunchi_sink_queued_events", help: "Events waiting in a sink's queue now.", gauge: true, get: func(i int) uint64 { return sk[i].Queued }},
		{name: "nunchi_sink_flushes_total", help: "Flushes of a sink (timer and shutdown).", get: func(i int) uint64 { return sk[i].Flushes }},
		{name: "nunchi_sink_flush_errors_total", help: "Flushes that failed.", get: func(i int) uint64 { return sk[i].FlushErrors }},
	}
	for _, m := range list {
		for i := range sk {
			l := append([]string{"sink", sk[i].Name}, m.labels...)
			if m.gauge {
				b.GaugeUint(m.name, m.help, m.get(i), l...)
			} else {
				b.Counter(m.name, m.help, m.get(i), l...)
			}
		}
	}
	// A sink's own delivery account (Kafka, ClickHouse): only for sinks that keep one.
	del := []series{
		{name: "nunchi_sink_delivery_enqueued_total", help: "Events a delivering sink took from Write.", get: func(i int) uint64 { return sk[i].Delivery.Enqueued }},
		{name: "nunchi_sink_delivery_sent_total", help: "Events whose delivery the server confirmed.", get: func(i int) uint64 { return sk[i].Delivery.Sent }},
		{name: "nunchi_sink_delivery_retried_total", help: "Events handed back for another attempt after a failure.", get: func(i int) uint64 { return sk[i].Delivery.Retried }},
		{name: "nunchi_sink_delivery_spooled_total", help: "Events written to the sink's on-disk spool.", get: func(i int) uint64 { return sk[i].Delivery.Spooled }},
		{name: "nunchi_sink_delivery_recovered_total", help: "Events found in the spool at start (left by an earlier run).", get: func(i int) uint64 { return sk[i].Delivery.Recovered }},
		{name: "nunchi_sink_delivery_pending_events", help: "Events a delivering sink holds now (memory, in flight, spool).", gauge: true, get: func(i int) uint64 { return sk[i].Delivery.Pending }},
	}
	for _, m := range del {
		for i := range sk {
			if sk[i].Delivery == nil {
				continue
			}
			l := []string{"sink", sk[i].Name}
			if m.gauge {
				b.GaugeUint(m.name, m.help, m.get(i), l...)
			} else {
				b.Counter(m.name, m.help, m.get(i), l...)
			}
		}
	}
	for i := range sk {
		if sk[i].Delivery == nil {
			continue
		}
		reasons := make([]string, 0, len(sk[i].Delivery.Dropped))
		for r := range sk[i].Delivery.Dropped {
			reasons = append(reasons, r)
		}
		sort.Strings(reasons)
		for _, r := range reasons {
			b.Counter("nunchi_sink_delivery_dropped_total", "Events a delivering sink lost, by reason (spool_full, spool_error, too_large…).",
				sk[i].Delivery.Dropped[r], "sink", sk[i].Name, "reason", r)
		}
	}
}
