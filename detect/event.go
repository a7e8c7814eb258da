package detect

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
	"time"
	"unicode/utf8"
)

// Event types (the event_type field).
const (
	TypeFlow    = "flow"
	TypeHTTP    = "http"
	TypeTLS     = "tls"
	TypeQUIC    = "quic"
	TypeDNS     = "dns"
	TypeBlock   = "block"
	TypeInject  = "inject"
	TypeNAT     = "nat"
	TypeAnomaly = "anomaly"
	TypeStats   = "stats"
)

// Event is one EVE-shaped event. Field names in the JSON encoding are a
// public contract (DESIGN.md §4): add, never rename. Events are built when
// there is something to report, then shared read-only by every sink.
type Event struct {
	Type        string
	Timestamp   int64 // packet time, Unix ns
	Sensor      string
	FlowID      uint64 // 0 = not tied to a flow (stats)
	CommunityID string

	// Endpoints in client → server orientation. Valid iff SrcIP.IsValid().
	SrcIP, DestIP     netip.Addr
	SrcPort, DestPort uint16
	Proto             uint8
	ICMPType          uint8 // ICMP/ICMPv6 flows report type/code instead of ports
	ICMPCode          uint8

	VLAN     []uint16
	Tunnel   *Tunnel
	AppProto string

	Flow    *FlowInfo
	HTTP    *HTTP
	TLS     *TLS
	QUIC    *QUIC
	DNS     *DNS
	Block   *Block
	Inject  *Inject
	Anomaly *Anomaly
	NAT     *NAT
	Stats   []byte // pre-encoded JSON object for the "stats" member

	// Early marks a provisional event a parser emits as soon as a name is
	// known (an HTTP request's headers, a TLS ClientHello), before the
	// reply that completes its real event: rules and injection act on it
	// while the server's answer is still on its way. Early events are
	// never published; the parser owns and reuses them.
	Early bool
}

// Tunnel describes the encapsulation a packet arrived in.
type Tunnel struct {
	Type        string
	OuterSrcIP  netip.Addr
	OuterDestIP netip.Addr
	ID          uint32 // VNI, GRE key, PPTP call ID or ERSPAN session; valid iff HasID
	HasID       bool
	Depth       uint8
}

// FlowInfo is the "flow" object of a flow event.
type FlowInfo struct {
	PktsToServer, PktsToClient   uint64
	BytesToServer, BytesToClient uint64
	Start, End                   int64 // packet time, Unix ns
	State                        string
	Reason                       string
	TCPFlags, TCPFlagsTS         uint8
	TCPFlagsTC                   uint8
	History                      string
	// MissedBytes estimates the TCP payload the sensor never saw: bytes
	// the receiver acknowledged beyond the highest sequence captured
	// (capture loss, asymmetric routing).
	MissedBytes uint64
	Midstream   bool
	IsTCP       bool
}

// ProtoName returns the EVE protocol name for an IP protocol number.
func ProtoName(p uint8) string {
	switch p {
	case 1:
		return "ICMP"
	case 6:
		return "TCP"
	case 17:
		return "UDP"
	case 47:
		return "GRE"
	case 50:
		return "ESP"
	case 51:
		return "AH"
	case 58:
		return "IPv6-ICMP"
	case 132:
		return "SCTP"
	case 2:
		return "IGMP"
	case 41:
		return "IPv6"
	case 4:
		return "IPIP"
	case 103:
		return "PIM"
	case 112:
		return "VRRP"
	}
	return strconv.Itoa(int(p))
}

// AppendTimestamp appends ns as RFC 3339 UTC with microseconds.
// Every event carries one (flow events three): formatted by hand, with
// the civil-from-days algorithm (Howard Hinnant's), at a third of the cost
// of time.AppendFormat; years outside 0–9999 fall back to it.
func AppendTimestamp(b []byte, ns int64) []byte {
	sec, frac := ns/1e9, ns%1e9
	if frac < 0 {
		sec, frac = sec-1, frac+1e9
	}
	days, rem := sec/86400, sec%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	// civil from days since 1970-01-01
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y := yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d := doy - (153*mp+2)/5 + 1
	m := mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	if y < 0 || y > 9999 {
		return time.Unix(0, ns).UTC().AppendFormat(b, "2006-01-02T15:04:05.000000Z07:00")
	}
	us := frac / 1000
	var t [27]byte // 2006-01-02T15:04:05.000000Z
	put := func(i int, v int64, n int) {
		for j := i + n - 1; j >= i; j-- {
			t[j] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	t[4] = '-'
	put(5, m, 2)
	t[7] = '-'
	put(8, d, 2)
	t[10] = 'T'
	put(11, rem/3600, 2)
	t[13] = ':'
	put(14, rem/60%60, 2)
	t[16] = ':'
	put(17, rem%60, 2)
	t[19] = '.'
	put(20, us, 6)
	t[26] = 'Z'
	return append(b, t[:]...)
}

// AppendJSON appends the event as one JSON object (no newline). The last
// member is event_id: 16 hex digits of a 64-bit hash (EventID) of
// everything before it, so the same event always has the same id (a replay
// run twice, a batch re-sent from a spool) and consumers can de-duplicate
// on it.
func (e *Event) AppendJSON(b []byte) []byte {
	start := len(b)
	b = append(b, `{"timestamp":"`...)
	b = AppendTimestamp(b, e.Timestamp)
	b = append(b, `","event_type":`...)
	b = AppendString(b, e.Type)
	b = append(b, `,"sensor":`...)
	b = AppendString(b, e.Sensor)
	if e.FlowID != 0 {
		b = append(b, `,"flow_id":`...)
		b = strconv.AppendUint(b, e.FlowID, 10)
	}
	if e.CommunityID != "" {
		b = append(b, `,"community_id":`...)
		b = AppendString(b, e.CommunityID)
	}
	if e.SrcIP.IsValid() {
		b = append(b, `,"src_ip":"`...)
		b = e.SrcIP.AppendTo(b)
		b = append(b, '"')
		icmp := e.Proto == 1 || e.Proto == 58
		if !icmp && hasPorts(e.Proto) {
			b = append(b, `,"src_port":`...)
			b = strconv.AppendUint(b, uint64(e.SrcPort), 10)
		}
		b = append(b, `,"dest_ip":"`...)
		b = e.DestIP.AppendTo(b)
		b = append(b, '"')
		if !icmp && hasPorts(e.Proto) {
			b = append(b, `,"dest_port":`...)
			b = strconv.AppendUint(b, uint64(e.DestPort), 10)
		}
		b = append(b, `,"proto":`...)
		b = AppendString(b, ProtoName(e.Proto))
		if icmp {
			b = append(b, `,"icmp_type":`...)
			b = strconv.AppendUint(b, uint64(e.ICMPType), 10)
			b = append(b, `,"icmp_code":`...)
			b = strconv.AppendUint(b, uint64(e.ICMPCode), 10)
		}
	}
	if len(e.VLAN) > 0 {
		b = append(b, `,"vlan":[`...)
		for i, v := range e.VLAN {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendUint(b, uint64(v), 10)
		}
		b = append(b, ']')
	}
	if t := e.Tunnel; t != nil {
		b = t.appendJSON(b)
	}
	if e.AppProto != "" {
		b = append(b, `,"app_proto":`...)
		b = AppendString(b, e.AppProto)
	}
	if f := e.Flow; f != nil {
		b = f.appendJSON(b)
	}
	if h := e.HTTP; h != nil {
		b = h.appendJSON(b)
	}
	if t := e.TLS; t != nil {
		b = t.appendJSON(b)
	}
	if q := e.QUIC; q != nil {
		b = q.appendJSON(b)
	}
	if d := e.DNS; d != nil {
		b = d.appendJSON(b)
	}
	if k := e.Block; k != nil {
		b = k.appendJSON(b)
	}
	if j := e.Inject; j != nil {
		b = j.appendJSON(b)
	}
	if a := e.Anomaly; a != nil {
		b = a.appendJSON(b)
	}
	if n := e.NAT; n != nil {
		b = n.appendJSON(b)
	}
	if e.Stats != nil {
		b = append(b, `,"stats":`...)
		b = append(b, e.Stats...)
	}
	id := EventID(b[start:])
	b = append(b, `,"event_id":"`...)
	b = appendHex64(b, id)
	return append(b, '"', '}')
}

// EventID hashes an event's JSON bytes (before the event_id member) into
// its id. Stable across processes and versions — consumers store it — and
// word-at-a-time: eight bytes per multiply, not one as FNV does. Each
// 64-bit little-endian word w (the tail zero-padded) is mixed as
// h = rotl(h^w · k1, 31) · k2, starting from len·k3; a final avalanche
// (xor-shift-multiply, as in MurmurHash3's fmix64) spreads the last word.
func EventID(p []byte) uint64 {
	const (
		k1 = 0x87c37b91114253d5
		k2 = 0x4cf5ad432745937f
		k3 = 0x9e3779b97f4a7c15
	)
	h := uint64(len(p)) * k3
	for len(p) >= 8 {
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(p))*k1, 31) * k2
		p = p[8:]
	}
	if len(p) > 0 {
		var w [8]byte
		copy(w[:], p)
		h = bits.RotateLeft64((h^binary.LittleEndian.Uint64(w[:]))*k1, 31) * k2
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	return h ^ h>>33
}

func appendHex64(b []byte, v uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, digits[(v>>uint(shift))&0xf])
	}
	return b
}

func hasPorts(p uint8) bool { return p == 6 || p == 17 || p == 132 }

func (t *Tunnel) appendJSON(b []byte) []byte {
	b = append(b, `,"tunnel":{"type":`...)
	b = AppendString(b, t.Type)
	if t.OuterSrcIP.IsValid() {
		b = append(b, `,"outer_src_ip":"`...)
		b = t.OuterSrcIP.AppendTo(b)
		b = append(b, `","outer_dest_ip":"`...)
		b = t.OuterDestIP.AppendTo(b)
		b = append(b, '"')
	}
	if t.HasID {
		switch t.Type {
		case "vxlan", "geneve":
			b = append(b, `,"vni":`...)
		case "gre":
			b = append(b, `,"key":`...)
		case "pptp":
			b = append(b, `,"call_id":`...)
		default:
			b = append(b, `,"session_id":`...)
		}
		b = strconv.AppendUint(b, uint64(t.ID), 10)
	}
	if t.Depth > 1 {
		b = append(b, `,"depth":`...)
		b = strconv.AppendUint(b, uint64(t.Depth), 10)
	}
	return append(b, '}')
}

func (f *FlowInfo) appendJSON(b []byte) []byte {
	b = append(b, `,"flow":{"pkts_toserver":`...)
	b = strconv.AppendUint(b, f.PktsToServer, 10)
	b = append(b, `,"pkts_toclient":`...)
	b = strconv.AppendUint(b, f.PktsToClient, 10)
	b = append(b, `,"bytes_toserver":`...)
	b = strconv.AppendUint(b, f.BytesToServer, 10)
	b = append(b, `,"bytes_toclient":`...)
	b = strconv.AppendUint(b, f.BytesToClient, 10)
	b = append(b, `,"start":"`...)
	b = AppendTimestamp(b, f.Start)
	b = append(b, `","end":"`...)
	b = AppendTimestamp(b, f.End)
	b = append(b, `","age":`...)
	b = strconv.AppendInt(b, (f.End-f.Start)/1e9, 10)
	b = append(b, `,"state":`...)
	b = AppendString(b, f.State)
	b = append(b, `,"reason":`...)
	b = AppendString(b, f.Reason)
	if f.IsTCP {
		b = append(b, `,"tcp_flags":"`...)
		b = appendHex2(b, f.TCPFlags)
		b = append(b, `","tcp_flags_ts":"`...)
		b = appendHex2(b, f.TCPFlagsTS)
		b = append(b, `","tcp_flags_tc":"`...)
		b = appendHex2(b, f.TCPFlagsTC)
		b = append(b, `","history":`...)
		b = AppendString(b, f.History)
		b = append(b, `,"missed_bytes":`...)
		b = strconv.AppendUint(b, f.MissedBytes, 10)
	}
	b = append(b, `,"midstream":`...)
	b = strconv.AppendBool(b, f.Midstream)
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

func appendHex2(b []byte, v uint8) []byte {
	return append(b, hexDigits[v>>4], hexDigits[v&15])
}

// AppendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD so
// the output is always valid JSON, whatever bytes the network sent.
func AppendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, `\u202`...)
			b = append(b, hexDigits[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
