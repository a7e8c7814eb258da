package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// ethPcap writes pkts as Ethernet frames built by e into a microsecond pcap.
func ethPcap(pkts []pkt, e encap) ([]byte, error) {
	return pcapLE(layers.LinkTypeEthernet, false, timeline(defaultStep, frames(pkts, e)))
}

// --- Plain Ethernet ---

func caseEthTCP() ([]byte, error) {
	f := httpFlow(newPair4(), 40000, "/eth-tcp")
	// A body larger than one segment, so the response spans two segments.
	f.resp = httpResponseBody("/eth-tcp", 2400)
	return ethPcap(f.packets(), plainEth)
}

// httpResponseBody returns a response whose body is about size bytes.
func httpResponseBody(path string, size int) []byte {
	var body strings.Builder
	body.WriteString("<!doctype html>\n<html><head><title>nunchi</title></head><body>\n")
	for i := 0; body.Len() < size; i++ {
		fmt.Fprintf(&body, "<p>line %03d of the nunchi test page for %s</p>\n", i, path)
	}
	body.WriteString("</body></html>\n")
	return []byte("HTTP/1.1 200 OK\r\n" +
		"Server: nunchi-testdata\r\n" +
		"Date: Sat, 21 Nov 2026 10:00:00 GMT\r\n" +
		"Content-Type: text/html\r\n" +
		fmt.Sprintf("Content-Length: %d\r\n", body.Len()) +
		"Connection: close\r\n\r\n" + body.String())
}

func caseEthUDP() ([]byte, error) {
	pair := newPair4()
	a := newDNSFlow(pair, 53001, "www.example.com", layers.DNSTypeA)
	aaaa := newDNSFlow(pair, 53002, "www.example.com", layers.DNSTypeAAAA)
	return ethPcap(concat(a.packets(), aaaa.packets()), plainEth)
}

func caseEthIPv6TCP() ([]byte, error) {
	return ethPcap(httpFlow(newPair6(), 40000, "/eth-ipv6-tcp").packets(), plainEth)
}

// --- VLAN, MPLS, PPPoE ---

func caseVLAN() ([]byte, error) {
	e := func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{
			eth(p.dir, layers.EthernetTypeDot1Q),
			&layers.Dot1Q{Priority: 0, VLANIdentifier: 100, Type: p.ethType()},
		}, p)
	}
	return ethPcap(httpFlow(newPair4(), 40000, "/vlan").packets(), e)
}

// qinq tags frames with an outer S-tag (VLAN 200, TPID outer) and an inner
// C-tag (VLAN 100, TPID 0x8100).
func qinq(outer layers.EthernetType) encap {
	return func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{
			eth(p.dir, outer),
			&layers.Dot1Q{VLANIdentifier: 200, Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: 100, Type: p.ethType()},
		}, p)
	}
}

func caseQinQ88a8() ([]byte, error) {
	return ethPcap(httpFlow(newPair4(), 40000, "/qinq-88a8").packets(), qinq(layers.EthernetTypeQinQ))
}

func caseQinQ9100() ([]byte, error) {
	return ethPcap(httpFlow(newPair4(), 40000, "/qinq-9100").packets(), qinq(layers.EthernetType(0x9100)))
}

func caseMPLS() ([]byte, error) {
	e := func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{
			eth(p.dir, layers.EthernetTypeMPLSUnicast),
			&layers.MPLS{Label: 100, TTL: 64},
			&layers.MPLS{Label: 200, StackBottom: true, TTL: 64},
		}, p)
	}
	return ethPcap(httpFlow(newPair4(), 40000, "/mpls").packets(), e)
}

func casePPPoE() ([]byte, error) {
	e := func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{
			eth(p.dir, layers.EthernetTypePPPoESession),
			&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 0x0042},
			&layers.PPP{PPPType: layers.PPPTypeIPv4},
		}, p)
	}
	return ethPcap(httpFlow(newPair4(), 40000, "/pppoe").packets(), e)
}

// --- Tunnels ---

// ipInIP carries packets in an outer IPv4 header (protocol 4 or 41, or
// GRE when gre is set) between the tunnel endpoints.
func ipInIP(gre bool) encap {
	outer := outerPair()
	return func(p pkt) []gopacket.SerializableLayer {
		proto := p.ipProto()
		if gre {
			proto = layers.IPProtocolGRE
		}
		ip, _ := outer.ip(p.dir, proto)
		ls := append([]gopacket.SerializableLayer{outerEth(p.dir)}, ip...)
		if gre {
			ls = append(ls, &layers.GRE{Protocol: p.ethType()})
		}
		return layersOf(ls, p)
	}
}

func caseGREIP() ([]byte, error) {
	return ethPcap(httpFlow(newPair4(), 40000, "/gre-ip").packets(), ipInIP(true))
}

func caseIPIP() ([]byte, error) {
	return ethPcap(httpFlow(newPair4(), 40000, "/ipip").packets(), ipInIP(false))
}

func case6in4() ([]byte, error) {
	return ethPcap(httpFlow(newPair6(), 40000, "/6in4").packets(), ipInIP(false))
}

// PPTP call IDs: each side's GRE packets carry the peer's call ID.
const (
	pptpClientCallID = 0x1001
	pptpServerCallID = 0x4002
)

func caseGREPPTP() ([]byte, error) {
	outer := outerPair()
	var (
		next    [2]uint32 // next sequence number sent in each direction
		got     [2]bool   // whether each side has received a packet
		lastGot [2]uint32 // the last sequence number each side received
	)
	gre := func(d dir, payload bool) pptpGRE {
		g := pptpGRE{callID: pptpServerCallID}
		if d == s2c {
			g.callID = pptpClientCallID
		}
		if payload {
			g.hasSeq, g.seq = true, next[d]
			next[d]++
		}
		if got[d] {
			g.hasAck, g.ack = true, lastGot[d]
		}
		if payload {
			got[1-d], lastGot[1-d] = true, g.seq
		}
		return g
	}
	e := func(p pkt) []gopacket.SerializableLayer {
		ip, _ := outer.ip(p.dir, layers.IPProtocolGRE)
		ls := append([]gopacket.SerializableLayer{outerEth(p.dir)}, ip...)
		ls = append(ls, gre(p.dir, true).header(), &layers.PPP{PPPType: layers.PPPTypeIPv4, HasPPTPHeader: true})
		return layersOf(ls, p)
	}
	recs := frames(httpFlow(newPair4(), 40000, "/gre-pptp").packets(), e)
	// The server acknowledges the client's last GRE packet with an
	// acknowledgment-only packet (no sequence number, no payload).
	ip, _ := outer.ip(s2c, layers.IPProtocolGRE)
	ackOnly := append([]gopacket.SerializableLayer{outerEth(s2c)}, ip...)
	ackOnly = append(ackOnly, gre(s2c, false).header())
	recs = append(recs, record{data: serialize(ackOnly...)})
	return pcapLE(layers.LinkTypeEthernet, false, timeline(defaultStep, recs))
}

// erspan mirrors both directions of a conversation from the switch (tunA4)
// to the collector (tunB4) in GRE; inner builds the GRE header and the
// ERSPAN header (if any) for the n-th mirrored packet.
func erspan(inner func(n int, p pkt) []gopacket.SerializableLayer) encap {
	outer := outerPair()
	n := 0
	return func(p pkt) []gopacket.SerializableLayer {
		ip, _ := outer.ip(c2s, layers.IPProtocolGRE)
		ls := append([]gopacket.SerializableLayer{outerEth(c2s)}, ip...)
		ls = append(ls, inner(n, p)...)
		ls = append(ls, eth(p.dir, p.ethType()))
		n++
		return layersOf(ls, p)
	}
}

func caseERSPAN1() ([]byte, error) {
	e := erspan(func(int, pkt) []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{&layers.GRE{Protocol: layers.EthernetTypeERSPAN}}
	})
	return ethPcap(httpFlow(newPair4(), 40000, "/erspan1").packets(), e)
}

func caseERSPAN2() ([]byte, error) {
	e := erspan(func(n int, p pkt) []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{
			&layers.GRE{SeqPresent: true, Seq: uint32(n), Protocol: layers.EthernetTypeERSPAN},
			&layers.ERSPANII{Version: layers.ERSPANIIVersion, VLANIdentifier: 10, SessionID: 100, Index: 5},
		}
	})
	return ethPcap(httpFlow(newPair4(), 40000, "/erspan2").packets(), e)
}

// ethernetTypeERSPAN3 is the GRE protocol type of ERSPAN type III.
const ethernetTypeERSPAN3 = layers.EthernetType(0x22eb)

func caseERSPAN3() ([]byte, error) {
	e := erspan(func(n int, p pkt) []gopacket.SerializableLayer {
		h := erspan3{
			vlan: 10, sessionID: 300, hwID: 1,
			timestamp: uint32(n) * uint32(defaultStep/(100*time.Microsecond)),
		}
		if p.dir == s2c {
			// Egress packets carry the platform-specific subheader (O=1).
			h.direction = 1
			h.withPlatform, h.portIndex, h.tsSeconds = true, 5, uint32(start.Unix())
		}
		return []gopacket.SerializableLayer{
			&layers.GRE{SeqPresent: true, Seq: uint32(n), Protocol: ethernetTypeERSPAN3},
			fixed(h.bytes()),
		}
	})
	return ethPcap(httpFlow(newPair4(), 40000, "/erspan3").packets(), e)
}

// udpTunnel carries Ethernet frames in UDP between the tunnel endpoints,
// from an entropy source port per endpoint to the well-known port.
func udpTunnel(port uint16, hdr func() gopacket.SerializableLayer) encap {
	outer := outerPair()
	return func(p pkt) []gopacket.SerializableLayer {
		src := uint16(51000)
		if p.dir == s2c {
			src = 51001
		}
		ls := outerUDP(outer, p.dir, src, port)
		ls = append(ls, hdr(), eth(p.dir, p.ethType()))
		return layersOf(ls, p)
	}
}

func caseVXLAN() ([]byte, error) {
	e := udpTunnel(4789, func() gopacket.SerializableLayer {
		return &layers.VXLAN{ValidIDFlag: true, VNI: 42}
	})
	return ethPcap(httpFlow(newPair4(), 40000, "/vxlan").packets(), e)
}

func caseGeneve() ([]byte, error) {
	e := udpTunnel(6081, func() gopacket.SerializableLayer {
		return &layers.Geneve{
			Protocol: layers.EthernetTypeTransparentEthernetBridging,
			VNI:      7,
			Options: []*layers.GeneveOption{
				{Class: 0x0102, Type: 0x01, Data: []byte{0x00, 0x00, 0x00, 0x2a}},
			},
		}
	})
	return ethPcap(httpFlow(newPair4(), 40000, "/geneve").packets(), e)
}

// Teredo: the client (192.0.2.10, UDP 40001) talks to a relay (203.0.113.1,
// UDP 3544). The inner IPv6 addresses are documentation addresses rather
// than Teredo 2001::/32 ones, so that every address in the project's
// captures stays in a documentation range.
var (
	teredoClient4 = client4
	teredoRelay4  = []byte{203, 0, 113, 1}
)

const (
	teredoClientPort = 40001
	teredoPort       = 3544
)

func caseTeredo() ([]byte, error) {
	outer := &ipPair{client: teredoClient4, server: teredoRelay4, id: [2]uint16{0x5000, 0x6000}}
	n := 0
	e := func(p pkt) []gopacket.SerializableLayer {
		src, dst := uint16(teredoClientPort), uint16(teredoPort)
		if p.dir == s2c {
			src, dst = dst, src
		}
		ls := outerUDP(outer, p.dir, src, dst)
		if n == 1 {
			// The relay's SYN-ACK carries an origin indication.
			ls = append(ls, fixed(teredoOrigin(teredoPort, teredoRelay4)))
		}
		n++
		return layersOf(ls, p)
	}
	return ethPcap(httpFlow(newPair6(), 40000, "/teredo").packets(), e)
}

// --- IP features ---

func caseIPv6ExtHdr() ([]byte, error) {
	pair := newPair6()
	pair.ext = func() []gopacket.SerializableLayer {
		return []gopacket.SerializableLayer{
			&layers.IPv6HopByHop{Options: []*layers.IPv6HopByHopOption{
				{OptionType: 0x05, OptionLength: 2, OptionData: []byte{0, 0}}, // Router Alert: MLD
				{OptionType: 0x01, OptionLength: 0, OptionData: []byte{}},     // PadN, 2 bytes
			}},
			&layers.IPv6Destination{Options: []*layers.IPv6DestinationOption{
				// RFC 4727 experimental option, skipped when unknown.
				{OptionType: 0x1e, OptionLength: 4, OptionData: []byte{0x6e, 0x75, 0x6e, 0x63}},
			}},
			// Segment Routing header (type 4) with no segment left: its
			// only segment is the destination itself.
			&layers.IPv6Routing{RoutingType: 4, SegmentsLeft: 0, Reserved: []byte{0, 0, 0, 0}, Data: server6To16()},
		}
	}
	return ethPcap(httpFlow(pair, 40000, "/ipv6-exthdr").packets(), plainEth)
}

func server6To16() []byte { return bytes.Clone(server6.To16()) }

// bigDNS returns a DNS flow whose answer (TXT records, EDNS) makes a UDP
// datagram of exactly 3000 bytes.
func bigDNS(pair *ipPair, cport uint16) *dnsFlow {
	f := newDNSFlow(pair, cport, "big.example.com", layers.DNSTypeTXT)
	f.edns = true
	for i := range 11 {
		txt := make([]byte, 240)
		for j := range txt {
			txt[j] = byte('a' + (i+j)%26)
		}
		f.answers = append(f.answers, layers.DNSResourceRecord{
			Name: []byte(f.name), Type: layers.DNSTypeTXT, Class: layers.DNSClassIN, TTL: 300,
			TXTs: [][]byte{txt},
		})
	}
	return f
}

// fragment is one piece of a datagram: its byte offset in the IP payload,
// its bytes and whether more fragments follow.
type fragment struct {
	offset int
	data   []byte
	more   bool
}

// split cuts an IP payload into fragments of at most size bytes.
func split(payload []byte, size int) []fragment {
	var out []fragment
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		out = append(out, fragment{offset: off, data: payload[off:end], more: end < len(payload)})
	}
	return out
}

// udpPayload serializes the UDP header and payload of a datagram, with the
// checksum computed against nl.
func udpPayload(nl gopacket.NetworkLayer, sport, dport uint16, payload gopacket.SerializableLayer) []byte {
	u := &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	if err := u.SetNetworkLayerForChecksum(nl); err != nil {
		panic(err)
	}
	return serialize(u, payload)
}

// fragments4 returns IPv4 fragments of a UDP datagram from the server to the
// client.
func fragments4(id uint16, frags []fragment) []pkt {
	var out []pkt
	for _, f := range frags {
		ip := &layers.IPv4{
			Version: 4, TTL: 64, Id: id, Protocol: layers.IPProtocolUDP,
			SrcIP: server4, DstIP: client4, FragOffset: uint16(f.offset / 8),
		}
		if f.more {
			ip.Flags = layers.IPv4MoreFragments
		}
		out = append(out, pkt{dir: s2c, layers: []gopacket.SerializableLayer{ip, gopacket.Payload(f.data)}})
	}
	return out
}

// fragments6 returns IPv6 fragments (Fragment header) of a UDP datagram from
// the server to the client.
func fragments6(id uint32, frags []fragment) []pkt {
	var out []pkt
	for _, f := range frags {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolIPv6Fragment, SrcIP: server6, DstIP: client6}
		fh := &layers.IPv6Fragment{
			NextHeader: layers.IPProtocolUDP, FragmentOffset: uint16(f.offset / 8),
			MoreFragments: f.more, Identification: id,
		}
		out = append(out, pkt{dir: s2c, v6: true, layers: []gopacket.SerializableLayer{ip, fh, gopacket.Payload(f.data)}})
	}
	return out
}

// bigAnswer returns the query packet of a big DNS flow and the serialized
// UDP datagram of its answer.
func bigAnswer(pair *ipPair, cport uint16) (query pkt, answer []byte) {
	f := bigDNS(pair, cport)
	q, a := f.messages()
	query = f.udpDatagram(c2s, q)
	var nl gopacket.NetworkLayer = &layers.IPv4{SrcIP: server4, DstIP: client4}
	if pair.v6 {
		nl = &layers.IPv6{SrcIP: server6, DstIP: client6}
	}
	answer = udpPayload(nl, 53, cport, a)
	if len(answer) != 3000 {
		panic(fmt.Sprintf("big DNS answer is %d bytes, want 3000", len(answer)))
	}
	return query, answer
}

// reorder returns frags in the given order.
func reorder(frags []fragment, order ...int) []fragment {
	out := make([]fragment, len(order))
	for i, j := range order {
		out[i] = frags[j]
	}
	return out
}

func caseFrag4() ([]byte, error) {
	pair := newPair4()
	q1, a1 := bigAnswer(pair, 53001)
	q2, a2 := bigAnswer(pair, 53002)
	f1 := split(a1, 1480)
	f2 := split(a2, 1480)
	if len(f1) != 3 {
		return nil, fmt.Errorf("%d fragments, want 3", len(f1))
	}
	pkts := concat(
		[]pkt{q1}, fragments4(0x7001, f1),
		// The second answer's fragments arrive last, first, middle.
		[]pkt{q2}, fragments4(0x7002, reorder(f2, 2, 0, 1)),
	)
	return ethPcap(pkts, plainEth)
}

func caseFrag6() ([]byte, error) {
	pair := newPair6()
	q1, a1 := bigAnswer(pair, 53001)
	q2, a2 := bigAnswer(pair, 53002)
	f1 := split(a1, 1448)
	f2 := split(a2, 1448)
	if len(f1) != 3 {
		return nil, fmt.Errorf("%d fragments, want 3", len(f1))
	}
	pkts := concat(
		[]pkt{q1}, fragments6(0x70000001, f1),
		[]pkt{q2}, fragments6(0x70000002, reorder(f2, 2, 0, 1)),
	)
	return ethPcap(pkts, plainEth)
}

// altered returns a copy of b with its lowercase letters made uppercase: the
// DNS message stays parseable (names are case-insensitive, TXT data is
// opaque) but the bytes differ, so the UDP checksum only matches the
// original.
func altered(b []byte) []byte {
	out := bytes.Clone(b)
	for i, c := range out {
		if 'a' <= c && c <= 'z' {
			out[i] = c - 'a' + 'A'
		}
	}
	return out
}

func caseFrag4Overlap() ([]byte, error) {
	pair := newPair4()

	// Set 1: the second fragment starts 80 bytes before the end of the
	// first (offset 1400 instead of 1480) and carries different bytes
	// there. The UDP checksum matches the first fragment's bytes.
	q1, a1 := bigAnswer(pair, 53001)
	second := append(altered(a1[1400:1480]), a1[1480:2880]...)
	set1 := []fragment{
		{offset: 0, data: a1[:1480], more: true},
		{offset: 1400, data: second, more: true},
		{offset: 2880, data: a1[2880:]},
	}

	// Set 2: the middle fragment is sent twice at the same offset, the
	// second copy with different bytes.
	q2, a2 := bigAnswer(pair, 53002)
	set2 := []fragment{
		{offset: 0, data: a2[:1480], more: true},
		{offset: 1480, data: a2[1480:2960], more: true},
		{offset: 1480, data: altered(a2[1480:2960]), more: true},
		{offset: 2960, data: a2[2960:]},
	}
	pkts := concat([]pkt{q1}, fragments4(0x7101, set1), []pkt{q2}, fragments4(0x7102, set2))
	return ethPcap(pkts, plainEth)
}

// echoPayload is the 48-byte payload of the echo requests and replies.
var echoPayload = []byte("nunchi echo 0123456789abcdefghijklmnopqrstuvwxyz")[:48]

func caseICMP() ([]byte, error) {
	pair := newPair4()
	var pkts []pkt
	for seq := uint16(1); seq <= 2; seq++ {
		for _, d := range []dir{c2s, s2c} {
			ls, _ := pair.ip(d, layers.IPProtocolICMPv4)
			typ := uint8(layers.ICMPv4TypeEchoRequest)
			if d == s2c {
				typ = layers.ICMPv4TypeEchoReply
			}
			icmp := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: 0x4e4e, Seq: seq}
			pkts = append(pkts, pkt{dir: d, layers: append(ls, icmp, gopacket.Payload(echoPayload))})
		}
	}
	return ethPcap(pkts, plainEth)
}

func caseICMP6() ([]byte, error) {
	pair := newPair6()
	var pkts []pkt
	for seq := uint16(1); seq <= 2; seq++ {
		for _, d := range []dir{c2s, s2c} {
			ls, nl := pair.ip(d, layers.IPProtocolICMPv6)
			typ := uint8(layers.ICMPv6TypeEchoRequest)
			if d == s2c {
				typ = layers.ICMPv6TypeEchoReply
			}
			icmp := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}
			if err := icmp.SetNetworkLayerForChecksum(nl); err != nil {
				return nil, err
			}
			echo := &layers.ICMPv6Echo{Identifier: 0x4e4e, SeqNumber: seq}
			pkts = append(pkts, pkt{dir: d, v6: true, layers: append(ls, icmp, echo, gopacket.Payload(echoPayload))})
		}
	}
	return ethPcap(pkts, plainEth)
}

func caseSCTP() ([]byte, error) {
	const (
		cport, sport     = 40000, 7 // echo
		ctag, stag       = 0x1111aaaa, 0x2222bbbb
		ctsn, stsn       = 1000, 5000
		window           = 106496
		streams          = 10
		stateCookieParam = 7
	)
	cookie := []byte("nunchi-state-cookie-0001")
	pair := newPair4()
	var pkts []pkt
	send := func(d dir, vtag uint32, chunks ...gopacket.SerializableLayer) {
		ls, _ := pair.ip(d, layers.IPProtocolSCTP)
		h := &layers.SCTP{SrcPort: cport, DstPort: sport, VerificationTag: vtag}
		if d == s2c {
			h.SrcPort, h.DstPort = h.DstPort, h.SrcPort
		}
		ls = append(ls, h)
		pkts = append(pkts, pkt{dir: d, layers: append(ls, chunks...)})
	}
	data := func(tsn uint32, payload string) *layers.SCTPData {
		return &layers.SCTPData{
			SCTPChunk:     layers.SCTPChunk{Type: layers.SCTPChunkTypeData, Length: uint16(16 + len(payload))},
			BeginFragment: true, EndFragment: true, TSN: tsn, StreamId: 0, StreamSequence: 0,
			Payload: []byte(payload),
		}
	}
	sack := func(cum uint32) *layers.SCTPSack {
		return &layers.SCTPSack{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeSack}, CumulativeTSNAck: cum, AdvertisedReceiverWindowCredit: window}
	}
	send(c2s, 0, &layers.SCTPInit{
		SCTPChunk:   layers.SCTPChunk{Type: layers.SCTPChunkTypeInit},
		InitiateTag: ctag, AdvertisedReceiverWindowCredit: window,
		OutboundStreams: streams, InboundStreams: streams, InitialTSN: ctsn,
	})
	send(s2c, ctag, &layers.SCTPInit{
		SCTPChunk:   layers.SCTPChunk{Type: layers.SCTPChunkTypeInitAck},
		InitiateTag: stag, AdvertisedReceiverWindowCredit: window,
		OutboundStreams: streams, InboundStreams: streams, InitialTSN: stsn,
		Parameters: []layers.SCTPInitParameter{{Type: stateCookieParam, Value: cookie}},
	})
	send(c2s, stag, &layers.SCTPCookieEcho{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeCookieEcho}, Cookie: cookie})
	send(s2c, ctag, &layers.SCTPEmptyLayer{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeCookieAck}})
	send(c2s, stag, data(ctsn, "hello from the nunchi sctp client\n"))
	send(s2c, ctag, sack(ctsn))
	send(s2c, ctag, data(stsn, "hello from the nunchi sctp client\n"))
	send(c2s, stag, sack(stsn))
	send(c2s, stag, &layers.SCTPShutdown{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeShutdown}, CumulativeTSNAck: stsn})
	send(s2c, ctag, &layers.SCTPShutdownAck{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeShutdownAck}})
	send(c2s, stag, &layers.SCTPEmptyLayer{SCTPChunk: layers.SCTPChunk{Type: layers.SCTPChunkTypeShutdownComplete}})
	return ethPcap(pkts, plainEth)
}

// --- Link types ---

func caseSLL() ([]byte, error) {
	e := func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{fixed(sllHeader(p))}, p)
	}
	pkts := concat(httpFlow(newPair4(), 40000, "/sll").packets(), newDNSFlow(newPair6(), 53001, "www.example.com", layers.DNSTypeAAAA).packets())
	return pcapLE(layers.LinkTypeLinuxSLL, false, timeline(defaultStep, frames(pkts, e)))
}

func caseSLL2() ([]byte, error) {
	e := func(p pkt) []gopacket.SerializableLayer {
		return layersOf([]gopacket.SerializableLayer{fixed(sll2Header(p))}, p)
	}
	pkts := concat(httpFlow(newPair4(), 40000, "/sll2").packets(), newDNSFlow(newPair6(), 53001, "www.example.com", layers.DNSTypeAAAA).packets())
	return pcapLE(layers.LinkTypeLinuxSLL2, false, timeline(defaultStep, frames(pkts, e)))
}

// bare puts no header around a packet (LINKTYPE_RAW).
func bare(p pkt) []gopacket.SerializableLayer { return p.layers }

func caseRaw() ([]byte, error) {
	pkts := concat(httpFlow(newPair4(), 40000, "/raw").packets(), newDNSFlow(newPair6(), 53001, "www.example.com", layers.DNSTypeAAAA).packets())
	return pcapLE(layers.LinkTypeRaw, false, timeline(defaultStep, frames(pkts, bare)))
}

func caseNull() ([]byte, error) {
	// DLT_NULL's family is in the capturing host's byte order; these
	// captures are from little-endian hosts.
	le := binary.LittleEndian
	recs := timeline(defaultStep,
		frames(httpFlow(newPair4(), 40000, "/null").packets(), withAF(le, afInet)),
		frames(newDNSFlow(newPair6(), 53001, "www.example.com", layers.DNSTypeAAAA).packets(), withAF(le, afInet6NetBSD)),
		frames(newDNSFlow(newPair6(), 53002, "www.example.com", layers.DNSTypeAAAA).packets(), withAF(le, afInet6FreeBSD)),
		frames(httpFlow(newPair6(), 40001, "/null-darwin").packets(), withAF(le, afInet6Darwin)),
	)
	return pcapLE(layers.LinkTypeNull, false, recs)
}

func caseLoop() ([]byte, error) {
	be := binary.BigEndian
	recs := timeline(defaultStep,
		frames(httpFlow(newPair4(), 40000, "/loop").packets(), withAF(be, afInet)),
		frames(newDNSFlow(newPair6(), 53001, "www.example.com", layers.DNSTypeAAAA).packets(), withAF(be, afInet6NetBSD)),
	)
	return pcapLE(layers.LinkTypeLoop, false, recs)
}

// --- File formats ---

func caseBigEndian() ([]byte, error) {
	recs := timeline(defaultStep, frames(httpFlow(newPair4(), 40000, "/bigendian").packets(), plainEth))
	return pcapBE(layers.LinkTypeEthernet, recs), nil
}

func caseNanosec() ([]byte, error) {
	pkts := concat(httpFlow(newPair4(), 40000, "/nanosec").packets(), newDNSFlow(newPair4(), 53001, "www.example.com", layers.DNSTypeA).packets())
	// Steps of 1.000123457 ms: every timestamp after the first has
	// non-zero sub-microsecond digits.
	recs := timeline(time.Millisecond+123457*time.Nanosecond, frames(pkts, plainEth))
	return pcapLE(layers.LinkTypeEthernet, true, recs)
}

func caseMultiIf() ([]byte, error) {
	// Interface 0: Ethernet, microsecond timestamps (no if_tsresol).
	// Interface 1: raw IP, nanosecond timestamps (if_tsresol 9).
	ifaces := []ngInterface{
		{linkType: layers.LinkTypeEthernet, name: "eth0"},
		{linkType: layers.LinkTypeRaw, name: "tun0", tsresol: 9},
	}
	eth0 := timeline(time.Millisecond, frames(httpFlow(newPair4(), 40000, "/multi-if").packets(), plainEth))
	tun0 := timeline(time.Millisecond, frames(concat(
		newDNSFlow(newPair4(), 53001, "www.example.com", layers.DNSTypeA).packets(),
		newDNSFlow(newPair6(), 53002, "www.example.com", layers.DNSTypeAAAA).packets(),
	), bare))
	for i := range tun0 {
		tun0[i].ifIndex = 1
		tun0[i].ts = tun0[i].ts.Add(500*time.Microsecond + 123*time.Nanosecond)
	}
	// Interleave by time: eth0 packets on whole milliseconds, tun0 ones
	// half a millisecond later.
	var recs []record
	for i := 0; i < len(eth0) || i < len(tun0); i++ {
		if i < len(eth0) {
			recs = append(recs, eth0[i])
		}
		if i < len(tun0) {
			recs = append(recs, tun0[i])
		}
	}
	return pcapng(ifaces, recs), nil
}
