package detect

import (
	"net/netip"
	"strconv"
)

// NAT is the "nat" object (DESIGN.md §4): what the sensor concluded about
// one address that hides other hosts, and the evidence behind it. Counts in
// Evidence are the fixed contract fields (ttl_classes, ipid_sequences,
// clocks, user_agents, ja4); the lists beside them say which values were
// seen, so an operator can check a verdict by hand.
type NAT struct {
	PublicIP      netip.Addr
	HostsEstimate int
	Confidence    float64 // 0..1
	Evidence      NATEvidence

	// NATType is full_cone | restricted_cone | port_restricted_cone |
	// symmetric | unknown; Mapping and Filtering are its RFC 4787 parts
	// (endpoint_independent | address_dependent |
	// address_port_dependent | unknown).
	NATType   string
	Mapping   string
	Filtering string
	// TypeSource says what the type was learned from: stun (exchanges
	// seen on the wire), paired (inside and outside taps), "" (unknown).
	TypeSource string

	PortAllocation string // preserving | sequential | random | "" (not enough flows)
	CGNAT          bool   // the address is in 100.64.0.0/10 (RFC 6598)

	WindowStart, WindowEnd int64 // packet time of the evidence, Unix ns

	UPnP     *UPnP
	Forwards []PortForward // inbound connections the address accepted
}

// NATEvidence is the per-kind evidence of several hosts behind one address.
type NATEvidence struct {
	TTLClasses    int      // distinct (initial TTL, hops) pairs
	TTLs          []string // "64-1": initial TTL and hops
	IPIDSequences int      // independent IP-ID counters spanning several flows
	Clocks        int      // independent TCP timestamp clocks (most toward one destination)
	PortRuns      int      // independent source-port runs (most toward one service)
	SYNSignatures int      // distinct p0f-style SYN signatures
	Signatures    []string
	UserAgents    int      // distinct User-Agent operating-system families
	UAFamilies    []string //
	JA4           int      // distinct JA4 client fingerprints
	JA4s          []string
	PairedHosts   int      // inside addresses paired with this one (two taps)
	InsideHosts   []string // those addresses (at most a few)
	SYNs          int      // TCP SYNs observed in the window
	PortSamples   int      // new flows whose source port was classified
}

// UPnP is what the sensor saw of UPnP Internet Gateway Device use for this
// gateway: its inside control endpoint and the port mappings requested.
type UPnP struct {
	Gateway  string // inside ip:port of the IGD's control URL host
	Mappings []PortMapping
}

// PortMapping is one AddPortMapping request (or a forward seen in use).
type PortMapping struct {
	ExternalPort   uint16
	Protocol       string // TCP | UDP
	InternalClient string
	InternalPort   uint16
	Description    string
	LeaseSeconds   uint32
}

// PortForward is an inbound connection accepted on the gateway's address.
type PortForward struct {
	Port     uint16
	Protocol string
	Accepted int // handshakes completed in the window
}

func (n *NAT) appendJSON(b []byte) []byte {
	b = append(b, `,"nat":{"public_ip":"`...)
	b = n.PublicIP.AppendTo(b)
	b = append(b, `","hosts_estimate":`...)
	b = strconv.AppendInt(b, int64(n.HostsEstimate), 10)
	b = append(b, `,"confidence":`...)
	b = strconv.AppendFloat(b, n.Confidence, 'f', 2, 64)
	ev := &n.Evidence
	b = append(b, `,"evidence":{"ttl_classes":`...)
	b = strconv.AppendInt(b, int64(ev.TTLClasses), 10)
	if len(ev.TTLs) > 0 {
		b = append(b, `,"ttls":`...)
		b = appendStrings(b, ev.TTLs)
	}
	b = append(b, `,"ipid_sequences":`...)
	b = strconv.AppendInt(b, int64(ev.IPIDSequences), 10)
	b = append(b, `,"clocks":`...)
	b = strconv.AppendInt(b, int64(ev.Clocks), 10)
	b = append(b, `,"port_runs":`...)
	b = strconv.AppendInt(b, int64(ev.PortRuns), 10)
	b = append(b, `,"syn_signatures":`...)
	b = strconv.AppendInt(b, int64(ev.SYNSignatures), 10)
	if len(ev.Signatures) > 0 {
		b = append(b, `,"signatures":`...)
		b = appendStrings(b, ev.Signatures)
	}
	b = append(b, `,"user_agents":`...)
	b = strconv.AppendInt(b, int64(ev.UserAgents), 10)
	if len(ev.UAFamilies) > 0 {
		b = append(b, `,"ua_families":`...)
		b = appendStrings(b, ev.UAFamilies)
	}
	b = append(b, `,"ja4":`...)
	b = strconv.AppendInt(b, int64(ev.JA4), 10)
	if len(ev.JA4s) > 0 {
		b = append(b, `,"ja4_fingerprints":`...)
		b = appendStrings(b, ev.JA4s)
	}
	b = append(b, `,"paired_hosts":`...)
	b = strconv.AppendInt(b, int64(ev.PairedHosts), 10)
	if len(ev.InsideHosts) > 0 {
		b = append(b, `,"inside_hosts":`...)
		b = appendStrings(b, ev.InsideHosts)
	}
	b = append(b, `,"syns":`...)
	b = strconv.AppendInt(b, int64(ev.SYNs), 10)
	b = append(b, `,"port_samples":`...)
	b = strconv.AppendInt(b, int64(ev.PortSamples), 10)
	b = append(b, '}')
	b = append(b, `,"nat_type":`...)
	b = AppendString(b, orUnknown(n.NATType))
	b = append(b, `,"mapping":`...)
	b = AppendString(b, orUnknown(n.Mapping))
	b = append(b, `,"filtering":`...)
	b = AppendString(b, orUnknown(n.Filtering))
	b = field(b, "type_source", n.TypeSource)
	b = field(b, "port_allocation", n.PortAllocation)
	if n.CGNAT {
		b = append(b, `,"cgnat":true`...)
	} else {
		b = append(b, `,"cgnat":false`...)
	}
	if n.WindowStart != 0 {
		b = append(b, `,"window_start":"`...)
		b = AppendTimestamp(b, n.WindowStart)
		b = append(b, `","window_end":"`...)
		b = AppendTimestamp(b, n.WindowEnd)
		b = append(b, '"')
	}
	if u := n.UPnP; u != nil {
		b = append(b, `,"upnp":{"gateway":`...)
		b = AppendString(b, u.Gateway)
		b = append(b, `,"mappings":[`...)
		for i := range u.Mappings {
			if i > 0 {
				b = append(b, ',')
			}
			b = u.Mappings[i].appendJSON(b)
		}
		b = append(b, "]}"...)
	}
	if len(n.Forwards) > 0 {
		b = append(b, `,"port_forwards":[`...)
		for i, f := range n.Forwards {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"port":`...)
			b = strconv.AppendUint(b, uint64(f.Port), 10)
			b = append(b, `,"proto":`...)
			b = AppendString(b, f.Protocol)
			b = append(b, `,"accepted":`...)
			b = strconv.AppendInt(b, int64(f.Accepted), 10)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func (m *PortMapping) appendJSON(b []byte) []byte {
	b = append(b, `{"external_port":`...)
	b = strconv.AppendUint(b, uint64(m.ExternalPort), 10)
	b = append(b, `,"protocol":`...)
	b = AppendString(b, m.Protocol)
	b = append(b, `,"internal_client":`...)
	b = AppendString(b, m.InternalClient)
	b = append(b, `,"internal_port":`...)
	b = strconv.AppendUint(b, uint64(m.InternalPort), 10)
	b = field(b, "description", m.Description)
	if m.LeaseSeconds != 0 {
		b = append(b, `,"lease_seconds":`...)
		b = strconv.AppendUint(b, uint64(m.LeaseSeconds), 10)
	}
	return append(b, '}')
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
