package capture

import (
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// BenchmarkDecode measures Decode per frame for the common shapes of a
// SPAN feed.
func BenchmarkDecode(b *testing.B) {
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
	v6 := ip6("2001:db8::10", "2001:db8::20", layers.IPProtocolTCP)
	v4u := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolUDP)
	outerUDP := ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolUDP)
	data := gopacket.Payload(make([]byte, 1400))
	ack := func(n gopacket.NetworkLayer) *layers.TCP {
		t := &layers.TCP{SrcPort: 40000, DstPort: 443, ACK: true, Window: 500}
		_ = t.SetNetworkLayerForChecksum(n)
		return t
	}
	cases := []struct {
		name  string
		frame []byte
	}{
		{"tcp4-syn", ser(b, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4))},
		{"tcp4-data", ser(b, eth(layers.EthernetTypeIPv4), v4, ack(v4), data)},
		{"tcp6-data", ser(b, eth(layers.EthernetTypeIPv6), v6, ack(v6), data)},
		{"udp4-vlan", ser(b, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, v4u, udp(5353, 53, v4u), gopacket.Payload("query"))},
		{"vxlan-tcp4", ser(b, eth(layers.EthernetTypeIPv4), outerUDP, udp(51000, 4789, outerUDP), &layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4))},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder(DefaultDecoderConfig())
			var p Packet
			b.ReportAllocs()
			b.SetBytes(int64(len(c.frame)))
			for b.Loop() {
				if d.Decode(&p, LinkEthernet, c.frame, 1, len(c.frame)) != Decoded {
					b.Fatal("not decoded")
				}
			}
		})
	}
}
