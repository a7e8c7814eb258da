package main

import (
	"fmt"
	"net"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// dir is the direction of a packet inside a conversation.
type dir int

const (
	c2s dir = iota // client to server
	s2c            // server to client
)

// Fixed addresses, all from the documentation ranges.
var (
	clientMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x0a}
	serverMAC = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x14}
	tunAMAC   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x01}
	tunBMAC   = net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x01, 0x02}

	client4 = net.IP{192, 0, 2, 10}
	server4 = net.IP{192, 0, 2, 20}
	client6 = net.ParseIP("2001:db8::10")
	server6 = net.ParseIP("2001:db8::20")

	// Tunnel endpoints (GRE, VXLAN, Geneve, IPIP, 6in4, ERSPAN source and collector).
	tunA4 = net.IP{198, 51, 100, 1}
	tunB4 = net.IP{198, 51, 100, 2}
)

// macs returns the source and destination MAC of a packet going in d.
func macs(d dir) (src, dst net.HardwareAddr) {
	if d == c2s {
		return clientMAC, serverMAC
	}
	return serverMAC, clientMAC
}

// pkt is one packet of a conversation before any link or tunnel header is put
// around it: its network layer (IPv4 or IPv6, possibly with extension headers)
// and everything above it.
type pkt struct {
	dir    dir
	v6     bool
	layers []gopacket.SerializableLayer
}

// ethType returns the EtherType that announces p's network layer.
func (p pkt) ethType() layers.EthernetType {
	if p.v6 {
		return layers.EthernetTypeIPv6
	}
	return layers.EthernetTypeIPv4
}

// ipProto returns the IP protocol number that announces p's network layer
// inside an outer IP header.
func (p pkt) ipProto() layers.IPProtocol {
	if p.v6 {
		return layers.IPProtocolIPv6
	}
	return layers.IPProtocolIPv4
}

// ipPair builds the network layers between a client and a server. It keeps
// one IPv4 identification counter per direction.
type ipPair struct {
	client, server net.IP
	v6             bool
	id             [2]uint16
	// ext, when set, returns IPv6 extension headers put between the IPv6
	// header and the transport header; the last one's NextHeader is set to
	// the transport protocol.
	ext func() []gopacket.SerializableLayer
}

func newPair4() *ipPair {
	return &ipPair{client: client4, server: server4, id: [2]uint16{0x1000, 0x2000}}
}
func newPair6() *ipPair { return &ipPair{client: client6, server: server6, v6: true} }

func (p *ipPair) addrs(d dir) (src, dst net.IP) {
	if d == c2s {
		return p.client, p.server
	}
	return p.server, p.client
}

// ip returns the network layers of one packet carrying proto, and the layer
// the transport checksum is computed against.
func (p *ipPair) ip(d dir, proto layers.IPProtocol) ([]gopacket.SerializableLayer, gopacket.NetworkLayer) {
	src, dst := p.addrs(d)
	if !p.v6 {
		ip := &layers.IPv4{
			Version: 4, TTL: 64, Flags: layers.IPv4DontFragment,
			Id: p.id[d], Protocol: proto, SrcIP: src, DstIP: dst,
		}
		p.id[d]++
		return []gopacket.SerializableLayer{ip}, ip
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
	if p.ext == nil {
		return []gopacket.SerializableLayer{ip}, ip
	}
	ext := p.ext()
	out := append([]gopacket.SerializableLayer{ip}, ext...)
	setNextHeaders(ip, ext, proto)
	return out, ip
}

// setNextHeaders chains the NextHeader fields of an IPv6 header and its
// extension headers, ending with proto.
func setNextHeaders(ip *layers.IPv6, ext []gopacket.SerializableLayer, proto layers.IPProtocol) {
	set := func(i int, v layers.IPProtocol) {
		switch h := ext[i].(type) {
		case *layers.IPv6HopByHop:
			h.NextHeader = v
		case *layers.IPv6Destination:
			h.NextHeader = v
		case *layers.IPv6Routing:
			h.NextHeader = v
		case *layers.IPv6Fragment:
			h.NextHeader = v
		default:
			panic(fmt.Sprintf("unknown extension header %T", h))
		}
	}
	ip.NextHeader = extProto(ext[0])
	for i := range ext {
		next := proto
		if i+1 < len(ext) {
			next = extProto(ext[i+1])
		}
		set(i, next)
	}
}

func extProto(l gopacket.SerializableLayer) layers.IPProtocol {
	switch l.(type) {
	case *layers.IPv6HopByHop:
		return layers.IPProtocolIPv6HopByHop
	case *layers.IPv6Destination:
		return layers.IPProtocolIPv6Destination
	case *layers.IPv6Routing:
		return layers.IPProtocolIPv6Routing
	case *layers.IPv6Fragment:
		return layers.IPProtocolIPv6Fragment
	}
	panic(fmt.Sprintf("unknown extension header %T", l))
}

// tcpFlow is one complete TCP conversation: handshake, request, response and
// a FIN teardown from both sides.
type tcpFlow struct {
	net          *ipPair
	cport, sport uint16
	cisn, sisn   uint32
	req, resp    []byte
	mss          int // response segments are at most this long; 0 means 1460
}

// httpFlow returns a TCP conversation carrying an HTTP/1.1 GET for path on
// www.example.com and a small HTML answer naming the capture.
func httpFlow(pair *ipPair, cport uint16, path string) *tcpFlow {
	return &tcpFlow{
		net: pair, cport: cport, sport: 80,
		cisn: 0x1c0ffee0 + uint32(cport), sisn: 0x5e4a0000 + uint32(cport),
		req:  httpRequest(path),
		resp: httpResponse(path),
	}
}

func httpRequest(path string) []byte {
	return []byte("GET " + path + " HTTP/1.1\r\n" +
		"Host: www.example.com\r\n" +
		"User-Agent: nunchi-testdata/1\r\n" +
		"Accept: */*\r\n\r\n")
}

func httpResponse(path string) []byte {
	body := "<!doctype html>\n<html><head><title>nunchi</title></head>" +
		"<body><p>nunchi test page for " + path + "</p></body></html>\n"
	return []byte("HTTP/1.1 200 OK\r\n" +
		"Server: nunchi-testdata\r\n" +
		"Date: Sat, 21 Nov 2026 10:00:00 GMT\r\n" +
		"Content-Type: text/html\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", len(body)) +
		"Connection: close\r\n\r\n" + body)
}

// packets returns the conversation in order.
func (f *tcpFlow) packets() []pkt {
	var out []pkt
	seq := [2]uint32{f.cisn, f.sisn}
	port := func(d dir) (src, dst uint16) {
		if d == c2s {
			return f.cport, f.sport
		}
		return f.sport, f.cport
	}
	send := func(d dir, flags string, payload []byte) {
		ls, nl := f.net.ip(d, layers.IPProtocolTCP)
		src, dst := port(d)
		t := &layers.TCP{
			SrcPort: layers.TCPPort(src), DstPort: layers.TCPPort(dst),
			Seq: seq[d], Window: 64240,
			SYN: strings.Contains(flags, "S"), ACK: strings.Contains(flags, "A"),
			PSH: strings.Contains(flags, "P"), FIN: strings.Contains(flags, "F"),
		}
		if t.ACK {
			t.Ack = seq[1-d]
		}
		if t.SYN {
			t.Options = []layers.TCPOption{
				{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
				{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
				{OptionType: layers.TCPOptionKindNop},
				{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
			}
		} else {
			t.Window = 502 // scaled by 128
		}
		if err := t.SetNetworkLayerForChecksum(nl); err != nil {
			panic(err)
		}
		ls = append(ls, t)
		if len(payload) > 0 {
			ls = append(ls, gopacket.Payload(payload))
		}
		seq[d] += uint32(len(payload))
		if t.SYN || t.FIN {
			seq[d]++
		}
		out = append(out, pkt{dir: d, v6: f.net.v6, layers: ls})
	}
	mss := f.mss
	if mss == 0 {
		mss = 1460
	}
	send(c2s, "S", nil)
	send(s2c, "SA", nil)
	send(c2s, "A", nil)
	send(c2s, "PA", f.req)
	send(s2c, "A", nil)
	for rest := f.resp; len(rest) > 0; {
		n := min(mss, len(rest))
		send(s2c, "PA", rest[:n])
		rest = rest[n:]
	}
	send(c2s, "A", nil)
	send(c2s, "FA", nil)
	send(s2c, "FA", nil)
	send(c2s, "A", nil)
	return out
}

// dnsFlow is a DNS query and its answer over UDP.
type dnsFlow struct {
	net   *ipPair
	cport uint16
	id    uint16
	name  string
	qtype layers.DNSType
	// answers is the answer section; nil answers the A/AAAA of the
	// documentation server address.
	answers []layers.DNSResourceRecord
	// edns adds an OPT record announcing a 4096-byte UDP payload.
	edns bool
}

func newDNSFlow(pair *ipPair, cport uint16, name string, qtype layers.DNSType) *dnsFlow {
	return &dnsFlow{net: pair, cport: cport, id: cport ^ 0x5a5a, name: name, qtype: qtype}
}

func (f *dnsFlow) messages() (query, answer *layers.DNS) {
	q := layers.DNSQuestion{Name: []byte(f.name), Type: f.qtype, Class: layers.DNSClassIN}
	query = &layers.DNS{ID: f.id, RD: true, Questions: []layers.DNSQuestion{q}}
	answer = &layers.DNS{
		ID: f.id, QR: true, RD: true, RA: true, ResponseCode: layers.DNSResponseCodeNoErr,
		Questions: []layers.DNSQuestion{q},
	}
	if f.edns {
		opt := layers.DNSResourceRecord{Type: layers.DNSTypeOPT, Class: layers.DNSClass(4096)}
		query.Additionals = []layers.DNSResourceRecord{opt}
		answer.Additionals = []layers.DNSResourceRecord{opt}
	}
	answer.Answers = f.answers
	if answer.Answers == nil {
		rr := layers.DNSResourceRecord{Name: []byte(f.name), Type: f.qtype, Class: layers.DNSClassIN, TTL: 300}
		switch f.qtype {
		case layers.DNSTypeAAAA:
			rr.IP = server6
		default:
			rr.IP = server4
		}
		answer.Answers = []layers.DNSResourceRecord{rr}
	}
	return query, answer
}

// udpDatagram returns the network, UDP and payload layers of one datagram.
func (f *dnsFlow) udpDatagram(d dir, payload gopacket.SerializableLayer) pkt {
	ls, nl := f.net.ip(d, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: layers.UDPPort(f.cport), DstPort: 53}
	if d == s2c {
		u.SrcPort, u.DstPort = u.DstPort, u.SrcPort
	}
	if err := u.SetNetworkLayerForChecksum(nl); err != nil {
		panic(err)
	}
	return pkt{dir: d, v6: f.net.v6, layers: append(ls, u, payload)}
}

func (f *dnsFlow) packets() []pkt {
	q, a := f.messages()
	return []pkt{f.udpDatagram(c2s, q), f.udpDatagram(s2c, a)}
}

// interleave merges conversations by taking one packet of each in turn.
func interleave(convs ...[]pkt) []pkt {
	var out []pkt
	for i := 0; ; i++ {
		added := false
		for _, c := range convs {
			if i < len(c) {
				out = append(out, c[i])
				added = true
			}
		}
		if !added {
			return out
		}
	}
}

// concat joins conversations one after the other.
func concat(convs ...[]pkt) []pkt {
	var out []pkt
	for _, c := range convs {
		out = append(out, c...)
	}
	return out
}
