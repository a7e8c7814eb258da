package main

import (
	"encoding/binary"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// --- Bad files ---

// recordOffsets returns the file offset of every record of a
// little-endian pcap file.
func recordOffsets(file []byte) []int {
	var out []int
	for off := 24; off+16 <= len(file); {
		out = append(out, off)
		off += 16 + int(binary.LittleEndian.Uint32(file[off+8:]))
	}
	return out
}

// caseTruncated is eth-tcp.pcap cut in the middle of the data of its sixth
// record (the first response segment): five whole packets, then half of one.
func caseTruncated() ([]byte, error) {
	full, err := caseEthTCP()
	if err != nil {
		return nil, err
	}
	offs := recordOffsets(full)
	const keep = 5
	caplen := int(binary.LittleEndian.Uint32(full[offs[keep]+8:]))
	return full[:offs[keep]+16+caplen/2], nil
}

// corruptCaplen is the capture length claimed by the broken record of
// corrupt-len.pcap: 200 MiB, far beyond the file's snapshot length.
const corruptCaplen = 200 << 20

// caseCorruptLen is three good packets (a DNS query, its answer and a second
// query) followed by a record header claiming a 200 MiB packet, and 64 bytes.
func caseCorruptLen() ([]byte, error) {
	pair := newPair4()
	pkts := concat(
		newDNSFlow(pair, 53001, "www.example.com", layers.DNSTypeA).packets(),
		newDNSFlow(pair, 53002, "www.example.com", layers.DNSTypeAAAA).packets(),
	)
	recs := timeline(defaultStep, frames(pkts, plainEth))
	good, err := pcapLE(layers.LinkTypeEthernet, false, recs[:3])
	if err != nil {
		return nil, err
	}
	var h [16]byte
	le := binary.LittleEndian
	le.PutUint32(h[0:], uint32(recs[3].ts.Unix()))
	le.PutUint32(h[4:], uint32(recs[3].ts.Nanosecond()/1000))
	le.PutUint32(h[8:], corruptCaplen)
	le.PutUint32(h[12:], corruptCaplen)
	out := append(good, h[:]...)
	return append(out, recs[3].data[:64]...), nil
}

// caseUnknownLinkType holds DNS frames under link type 147
// (LINKTYPE_USER0), which no decoder knows.
func caseUnknownLinkType() ([]byte, error) {
	pkts := newDNSFlow(newPair4(), 53001, "www.example.com", layers.DNSTypeA).packets()
	return pcapLE(layers.LinkType(147), false, timeline(defaultStep, frames(pkts, plainEth)))
}

// --- Malformed packets ---

// ipv4Checksum recomputes the header checksum of the IPv4 header at the
// start of b, over hlen bytes.
func ipv4Checksum(b []byte, hlen int) {
	b[10], b[11] = 0, 0
	var sum uint32
	for i := 0; i+1 < hlen; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	binary.BigEndian.PutUint16(b[10:], ^uint16(sum))
}

// malformedFrame is one broken frame and what is wrong with it.
type malformedFrame struct {
	what string
	data []byte
}

// good4 returns a valid IPv4 packet (no link header) from the client to the
// server: a TCP SYN, or a UDP datagram with payload when udp is set.
func good4(udp bool, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Id: 0x0bad, Protocol: layers.IPProtocolTCP, SrcIP: client4, DstIP: server4}
	var l4 gopacket.SerializableLayer
	if udp {
		ip.Protocol = layers.IPProtocolUDP
		u := &layers.UDP{SrcPort: 53099, DstPort: 53}
		_ = u.SetNetworkLayerForChecksum(ip)
		l4 = u
	} else {
		t := &layers.TCP{SrcPort: 40099, DstPort: 80, Seq: 0x0bad0000, SYN: true, Window: 64240}
		_ = t.SetNetworkLayerForChecksum(ip)
		l4 = t
	}
	return serialize(ip, l4, gopacket.Payload(payload))
}

// good6 returns a valid IPv6 TCP SYN from the client to the server.
func good6() []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: client6, DstIP: server6}
	t := &layers.TCP{SrcPort: 40099, DstPort: 80, Seq: 0x0bad0000, SYN: true, Window: 64240}
	_ = t.SetNetworkLayerForChecksum(ip)
	return serialize(ip, t)
}

// ethHeader returns a 14-byte Ethernet header from the client to the
// server. It is built by hand: gopacket pads a lone Ethernet header to the
// 60-byte minimum frame.
func ethHeader(t layers.EthernetType) []byte {
	h := append(append([]byte{}, serverMAC...), clientMAC...)
	return binary.BigEndian.AppendUint16(h, uint16(t))
}

func withEth(t layers.EthernetType, payload []byte) []byte {
	return append(ethHeader(t), payload...)
}

// malformedFrames returns the broken frames of malformed.pcap, in order.
// Each is what a sensor may see on the wire; the capture length always
// equals the wire length.
func malformedFrames() []malformedFrame {
	be := binary.BigEndian
	var out []malformedFrame
	add := func(what string, data []byte) { out = append(out, malformedFrame{what, data}) }

	add("Ethernet frame shorter than the Ethernet header (10 bytes)", ethHeader(layers.EthernetTypeIPv4)[:10])

	add("IPv4 header truncated: 12 of its 20 bytes", withEth(layers.EthernetTypeIPv4, good4(false, nil)[:12]))

	p := good4(false, nil)
	p[0] = 0x44 // IHL 4
	ipv4Checksum(p, 20)
	add("IPv4 IHL 4 (< 5)", withEth(layers.EthernetTypeIPv4, p))

	p = good4(false, nil)
	be.PutUint16(p[2:], 1000)
	ipv4Checksum(p, 20)
	add("IPv4 total length 1000 > 40 bytes present", withEth(layers.EthernetTypeIPv4, p))

	p = good4(false, nil)
	be.PutUint16(p[2:], 12)
	ipv4Checksum(p, 20)
	add("IPv4 total length 12 < header length 20", withEth(layers.EthernetTypeIPv4, p))

	p = good4(false, nil)[:30]
	be.PutUint16(p[2:], 30)
	ipv4Checksum(p, 20)
	add("TCP header truncated: 10 of its 20 bytes", withEth(layers.EthernetTypeIPv4, p))

	p = good4(false, nil)
	p[20+12] = 3 << 4 // data offset 3
	add("TCP data offset 3 (< 5)", withEth(layers.EthernetTypeIPv4, p))

	p = good4(true, []byte("nunchi-udp-length-20"))
	be.PutUint16(p[20+4:], 200)
	be.PutUint16(p[20+6:], 0) // no checksum
	add("UDP length 200 > 28 bytes present", withEth(layers.EthernetTypeIPv4, p))

	p = good4(true, []byte("nunchi-udp-length-20"))
	be.PutUint16(p[20+4:], 4)
	be.PutUint16(p[20+6:], 0)
	add("UDP length 4 (< 8)", withEth(layers.EthernetTypeIPv4, p))

	add("IPv6 header truncated: 30 of its 40 bytes", withEth(layers.EthernetTypeIPv6, good6()[:30]))

	p = good6()
	be.PutUint16(p[4:], 1000)
	add("IPv6 payload length 1000 > 20 bytes present", withEth(layers.EthernetTypeIPv6, p))

	// IPv6 with a Hop-by-Hop header claiming (200+1)*8 = 1608 bytes in a
	// 16-byte payload.
	p = good6()[:40]
	p[6] = uint8(layers.IPProtocolIPv6HopByHop)
	be.PutUint16(p[4:], 16)
	hbh := make([]byte, 16)
	hbh[0] = uint8(layers.IPProtocolTCP)
	hbh[1] = 200
	hbh[2] = 0x01 // PadN covering the rest
	hbh[3] = 12
	add("IPv6 Hop-by-Hop header length 1608 > 16 bytes present", withEth(layers.EthernetTypeIPv6, append(p, hbh...)))

	add("802.1Q tag truncated: 2 of its 4 bytes", withEth(layers.EthernetTypeDot1Q, []byte{0x00, 0x64}))
	return out
}

// caseMalformed is the broken frames of malformedFrames followed by a good
// TCP conversation, which a decoder must still see whole.
func caseMalformed() ([]byte, error) {
	var recs []record
	for _, m := range malformedFrames() {
		recs = append(recs, record{data: m.data})
	}
	recs = append(recs, frames(httpFlow(newPair4(), 40000, "/after-malformed").packets(), plainEth)...)
	return pcapLE(layers.LinkTypeEthernet, false, timeline(defaultStep, recs))
}
