package inject

import (
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Kind is what is forged.
type Kind uint8

const (
	KindHTTPWarning Kind = iota + 1 // HTTP response to the client + RST to the server
	KindTCPReset                    // RSTs both ways (TLS and other TCP)
	KindDNSAnswer                   // a DNS answer to the client
)

func (k Kind) String() string {
	switch k {
	case KindHTTPWarning:
		return "http_warning"
	case KindTCPReset:
		return "tcp_rst"
	case KindDNSAnswer:
		return "dns_answer"
	}
	return "unknown"
}

// Trigger is what the sensor observed when a request for a blocked name
// crossed the mirror: the flow's endpoints in client → server orientation
// and the state a forged reply must match.
type Trigger struct {
	Kind Kind
	Name string // the blocked name (for the warning page/URL)
	Time int64  // packet time of the triggering packet (Unix ns)

	Client, Server         netip.Addr
	ClientPort, ServerPort uint16
	// MACs of the observed frame (the client sent it to ServerMAC, which
	// may be a router); HasMAC false for links without Ethernet.
	ClientMAC, ServerMAC [6]byte
	HasMAC               bool
	VLANs                []uint16

	// TCP: the next sequence number each side will send (ClientNext =
	// what the server expects, ServerNext = what the client expects, i.e.
	// the client's latest ACK) and each side's advertised window.
	ClientNext, ServerNext     uint32
	ClientWindow, ServerWindow uint16 // as sent (unscaled)
	// Receive windows in bytes (scaled): where in-window RSTs may land.
	ClientRcvWindow, ServerRcvWindow uint32
	// Observed IP TTL/hop limit and last IPv4 ID per side (0 = unknown).
	ClientTTL, ServerTTL   uint8
	ClientIPID, ServerIPID uint16

	// DNS: the query's UDP payload (the answer copies its id, flags and
	// question bytes, so 0x20 case randomisation is honoured).
	DNSQuery []byte
}

// Frame is one built packet and where it goes.
type Frame struct {
	Data       []byte
	ToClient   bool
	Seq, Ack   uint32 // TCP
	Flags      string // "FA", "R", "DNS"…
	PayloadLen int    // transport payload bytes
}

// L2 addresses used for the frames (see Config.NextHopMAC / SourceMAC).
type L2 struct {
	Src     [6]byte
	NextHop [6]byte
	UseHop  bool
}

// Plan builds the frames for t: the forged reply and its companions.
func (in *Injector) Plan(t *Trigger) ([]Frame, error) {
	switch t.Kind {
	case KindHTTPWarning:
		body := in.httpResponse(t.Name)
		var out []Frame
		f, err := in.tcpFrame(t, true, t.ServerNext, t.ClientNext, tcpFlags{psh: true, ack: true, fin: true}, body)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
		if !in.cfg.ResetServer {
			return out, nil
		}
		// The server's copy of the connection ends too: its real response
		// must not follow ours into the client.
		r, err := in.tcpFrame(t, false, t.ClientNext, 0, tcpFlags{rst: true}, nil)
		if err != nil {
			return nil, err
		}
		return append(out, r), nil
	case KindTCPReset:
		var out []Frame
		for k := 0; k < in.cfg.RSTCount; k++ {
			for _, toClient := range []bool{true, false} {
				if !toClient && !in.cfg.ResetServer {
					continue
				}
				seq, win := t.ServerNext, t.ClientRcvWindow // to the client: its receive window
				if !toClient {
					seq, win = t.ClientNext, t.ServerRcvWindow
				}
				f, err := in.tcpFrame(t, toClient, seq+spread(k, in.cfg.RSTCount, win), 0, tcpFlags{rst: true}, nil)
				if err != nil {
					return nil, err
				}
				out = append(out, f)
			}
		}
		return out, nil
	case KindDNSAnswer:
		msg, err := in.dnsAnswer(t.DNSQuery)
		if err != nil {
			return nil, err
		}
		f, err := in.udpFrame(t, msg)
		if err != nil {
			return nil, err
		}
		return []Frame{f}, nil
	}
	return nil, fmt.Errorf("inject: unknown kind %d", t.Kind)
}

// spread places RST k of n in the receiver's window: the first at the
// exact sequence number, the others evenly after it (for data in flight).
func spread(k, n int, window uint32) uint32 {
	if k == 0 || n < 2 {
		return 0
	}
	return uint32(k) * (window / uint32(n))
}

type tcpFlags struct{ psh, ack, fin, rst bool }

func (f tcpFlags) String() string {
	s := ""
	for _, x := range []struct {
		on bool
		c  string
	}{{f.fin, "F"}, {f.rst, "R"}, {f.psh, "P"}, {f.ack, "A"}} {
		if x.on {
			s += x.c
		}
	}
	return s
}

// endpoints returns (src, dst) addressing for a frame in one direction,
// with TTL and IP ID that resemble the side being impersonated.
func (in *Injector) endpoints(t *Trigger, toClient bool) (srcIP, dstIP netip.Addr, sport, dport uint16, dstMAC [6]byte, ttl uint8, ipid uint16) {
	if toClient { // impersonate the server
		srcIP, dstIP, sport, dport, dstMAC, ttl, ipid = t.Server, t.Client, t.ServerPort, t.ClientPort, t.ClientMAC, t.ServerTTL, t.ServerIPID+1
	} else { // impersonate the client
		srcIP, dstIP, sport, dport, dstMAC, ttl, ipid = t.Client, t.Server, t.ClientPort, t.ServerPort, t.ServerMAC, t.ClientTTL, t.ClientIPID+1
	}
	if in.l2.UseHop {
		dstMAC = in.l2.NextHop
	}
	if ttl == 0 {
		ttl = 64
	}
	return
}

func (in *Injector) linkLayers(t *Trigger, dstMAC [6]byte, ipv6 bool) []gopacket.SerializableLayer {
	etype := layers.EthernetTypeIPv4
	if ipv6 {
		etype = layers.EthernetTypeIPv6
	}
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: in.l2.Src[:], DstMAC: dstMAC[:], EthernetType: etype}
	if len(t.VLANs) > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, eth)
		for i, v := range t.VLANs {
			next := layers.EthernetTypeDot1Q
			if i == len(t.VLANs)-1 {
				next = etype
			}
			ls = append(ls, &layers.Dot1Q{VLANIdentifier: v, Type: next})
		}
		return ls
	}
	return append(ls, eth)
}

func (in *Injector) ipLayer(src, dst netip.Addr, proto layers.IPProtocol, ttl uint8, ipid uint16) (gopacket.SerializableLayer, gopacket.NetworkLayer) {
	if src.Is4() {
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: ttl, Id: ipid, Flags: layers.IPv4DontFragment, Protocol: proto,
			SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		return ip, ip
	}
	ip := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
	return ip, ip
}

var serializeOpts = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}

func (in *Injector) tcpFrame(t *Trigger, toClient bool, seq, ack uint32, fl tcpFlags, payload []byte) (Frame, error) {
	src, dst, sport, dport, dstMAC, ttl, ipid := in.endpoints(t, toClient)
	ls := in.linkLayers(t, dstMAC, !src.Is4())
	ipL, netL := in.ipLayer(src, dst, layers.IPProtocolTCP, ttl, ipid)
	win := t.ServerWindow
	if !toClient {
		win = t.ClientWindow
	}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: seq, Ack: ack,
		PSH: fl.psh, ACK: fl.ack, FIN: fl.fin, RST: fl.rst, Window: win, DataOffset: 5}
	if fl.rst {
		tcp.Window = 0
	}
	if err := tcp.SetNetworkLayerForChecksum(netL); err != nil {
		return Frame{}, err
	}
	ls = append(ls, ipL, tcp, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		return Frame{}, fmt.Errorf("inject: build TCP: %w", err)
	}
	return Frame{Data: append([]byte(nil), buf.Bytes()...), ToClient: toClient, Seq: seq, Ack: ack, Flags: fl.String(),
		PayloadLen: len(payload)}, nil
}

func (in *Injector) udpFrame(t *Trigger, payload []byte) (Frame, error) {
	src, dst, sport, dport, dstMAC, ttl, ipid := in.endpoints(t, true)
	ls := in.linkLayers(t, dstMAC, !src.Is4())
	ipL, netL := in.ipLayer(src, dst, layers.IPProtocolUDP, ttl, ipid)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := udp.SetNetworkLayerForChecksum(netL); err != nil {
		return Frame{}, err
	}
	ls = append(ls, ipL, udp, gopacket.Payload(payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, serializeOpts, ls...); err != nil {
		return Frame{}, fmt.Errorf("inject: build UDP: %w", err)
	}
	return Frame{Data: append([]byte(nil), buf.Bytes()...), ToClient: true, Flags: "DNS", PayloadLen: len(payload)}, nil
}

// httpResponse is the warning: a 302 to the configured location or a
// 200 page, with the blocked name substituted (escaped for its context).
func (in *Injector) httpResponse(name string) []byte {
	var b strings.Builder
	if in.cfg.HTTP.Mode == "page" {
		body := strings.ReplaceAll(in.page, "{name}", html.EscapeString(name))
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ")
		b.WriteString(strconv.Itoa(len(body)))
		b.WriteString("\r\n\r\n")
		b.WriteString(body)
		return []byte(b.String())
	}
	loc := strings.ReplaceAll(in.cfg.HTTP.Location, "{name}", url.QueryEscape(name))
	body := `<html><body>Blocked: <a href="` + html.EscapeString(loc) + `">` + html.EscapeString(loc) + "</a></body></html>\n"
	b.WriteString("HTTP/1.1 302 Found\r\nLocation: ")
	b.WriteString(loc)
	b.WriteString("\r\nContent-Type: text/html\r\nCache-Control: no-store\r\nConnection: close\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\r\n\r\n")
	b.WriteString(body)
	return []byte(b.String())
}

var errDNSQuery = errors.New("inject: not a DNS query with one question")

// errNoAnswer: the question's type has no configured answer (e.g. HTTPS
// records, or AAAA without dns.answer_ipv6): nothing is forged.
var errNoAnswer = errors.New("inject: no answer configured for this query type")

// dnsAnswer forges the response to query: same id, RD copied, QR and RA
// set, the question copied byte for byte, one A or AAAA answer.
func (in *Injector) dnsAnswer(query []byte) ([]byte, error) {
	if len(query) < 12 || query[2]&0x80 != 0 || binary.BigEndian.Uint16(query[4:]) != 1 {
		return nil, errDNSQuery
	}
	// walk the question name (no compression in a question)
	i := 12
	for {
		if i >= len(query) {
			return nil, errDNSQuery
		}
		l := int(query[i])
		if l == 0 {
			i++
			break
		}
		if l&0xc0 != 0 {
			return nil, errDNSQuery
		}
		i += 1 + l
	}
	if i+4 > len(query) {
		return nil, errDNSQuery
	}
	qtype, qclass := binary.BigEndian.Uint16(query[i:]), binary.BigEndian.Uint16(query[i+2:])
	question := query[12 : i+4]
	var rdata []byte
	switch {
	case qclass != 1:
		return nil, errNoAnswer
	case qtype == 1 && in.dnsV4.IsValid():
		rdata = in.dnsV4.AsSlice()
	case qtype == 28 && in.dnsV6.IsValid():
		rdata = in.dnsV6.AsSlice()
	default:
		return nil, errNoAnswer
	}
	msg := make([]byte, 0, 12+len(question)+16+len(rdata))
	msg = append(msg, query[0], query[1])       // id
	msg = append(msg, 0x80|query[2]&0x79, 0x80) // QR, opcode and RD copied; RA; NOERROR
	msg = append(msg, 0, 1, 0, 1, 0, 0, 0, 0)   // 1 question, 1 answer
	msg = append(msg, question...)
	msg = append(msg, 0xc0, 12) // the question's name
	msg = binary.BigEndian.AppendUint16(msg, qtype)
	msg = binary.BigEndian.AppendUint16(msg, 1)
	msg = binary.BigEndian.AppendUint32(msg, uint32(in.cfg.DNS.TTL))
	msg = binary.BigEndian.AppendUint16(msg, uint16(len(rdata)))
	return append(msg, rdata...), nil
}
