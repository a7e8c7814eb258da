package capture

import (
	"encoding/hex"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var (
	mac1 = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	mac2 = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

// ser serializes layers with lengths and checksums fixed.
func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func eth(t layers.EthernetType) *layers.Ethernet {
	return &layers.Ethernet{SrcMAC: mac1, DstMAC: mac2, EthernetType: t}
}

func ip4(src, dst string, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 77, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}
}

func ip6(src, dst string, nh layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 60, NextHeader: nh, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}
}

func tcpSyn(sp, dp uint16, netl gopacket.NetworkLayer) *layers.TCP {
	t := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), Seq: 1000, SYN: true, Window: 64240,
		Options: []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 9, 0, 0, 0, 0}},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}}
	_ = t.SetNetworkLayerForChecksum(netl)
	return t
}

func udp(sp, dp uint16, netl gopacket.NetworkLayer) *layers.UDP {
	u := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	_ = u.SetNetworkLayerForChecksum(netl)
	return u
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// summary is what the decode tests compare: the facts that matter, not the slices.
type summary struct {
	Result           Result
	Reason           string
	Src, Dst         string
	SrcPort, DstPort uint16
	Proto, IPVersion uint8
	VLANs            []uint16
	Tunnel           string
	TunnelOuter      string
	TunnelID         uint32
	Payload          string
	Flags            uint16
}

func summarize(d *Decoder, before DecodeStats, p *Packet, r Result) summary {
	s := summary{Result: r}
	after := d.Stats()
	for i := range after.Dropped {
		if after.Dropped[i] != before.Dropped[i] {
			s.Reason = DropReason(i).String()
		}
	}
	if r != Decoded {
		return s
	}
	s.Src, s.Dst = p.Src.String(), p.Dst.String()
	s.SrcPort, s.DstPort, s.Proto, s.IPVersion = p.SrcPort, p.DstPort, p.Proto, p.IPVersion
	if p.NumVLANs > 0 {
		s.VLANs = append([]uint16(nil), p.VLANs[:p.NumVLANs]...)
	}
	if p.Tunnel.Type != TunnelNone {
		s.Tunnel = p.Tunnel.Type.String()
		s.TunnelOuter = p.Tunnel.OuterSrc.String() + ">" + p.Tunnel.OuterDst.String()
		s.TunnelID = p.Tunnel.ID
	}
	s.Payload = string(p.Payload)
	s.Flags = p.Flags &^ FlagIPv4DF
	return s
}

func TestDecode(t *testing.T) {
	payload := gopacket.Payload("GET / HTTP/1.1\r\n")
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
	v4u := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolUDP)
	v6 := ip6("2001:db8::10", "2001:db8::20", layers.IPProtocolTCP)
	outer := ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolGRE)
	outerUDP := ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolUDP)
	tcpSum := summary{Src: "192.0.2.10", Dst: "198.51.100.20", SrcPort: 40000, DstPort: 80, Proto: 6, IPVersion: 4, Payload: string(payload)}
	with := func(s summary, f func(*summary)) summary { f(&s); return s }

	tests := []struct {
		name string
		link layers.LinkType
		data func(t testing.TB) []byte
		want summary
	}{
		{"ethernet ipv4 tcp", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4), payload)
		}, tcpSum},
		{"802.1Q", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.VLANs = []uint16{100} })},
		{"QinQ 88a8", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeQinQ), &layers.Dot1Q{VLANIdentifier: 10, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 20, Type: layers.EthernetTypeIPv4}, v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.VLANs = []uint16{10, 20} })},
		{"QinQ 9100", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(0x9100), &layers.Dot1Q{VLANIdentifier: 11, Type: layers.EthernetTypeDot1Q},
				&layers.Dot1Q{VLANIdentifier: 21, Type: layers.EthernetTypeIPv4}, v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.VLANs = []uint16{11, 21} })},
		{"MPLS two labels", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeMPLSUnicast), &layers.MPLS{Label: 16, TTL: 64},
				&layers.MPLS{Label: 17, StackBottom: true, TTL: 64}, v4, tcpSyn(40000, 80, v4), payload)
		}, tcpSum},
		{"PPPoE session", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypePPPoESession), &layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 7},
				&layers.PPP{PPPType: layers.PPPTypeIPv4}, v4, tcpSyn(40000, 80, v4), payload)
		}, tcpSum},
		{"GRE ipv4 in ipv4", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), outer, &layers.GRE{Protocol: layers.EthernetTypeIPv4, KeyPresent: true, Key: 5},
				v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.Tunnel, s.TunnelOuter, s.TunnelID = "gre", "203.0.113.1>203.0.113.2", 5 })},
		{"VXLAN", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), outerUDP, udp(51000, 4789, outerUDP), &layers.VXLAN{ValidIDFlag: true, VNI: 42},
				eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.Tunnel, s.TunnelOuter, s.TunnelID = "vxlan", "203.0.113.1>203.0.113.2", 42 })},
		{"VXLAN inner VLAN replaces outer", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 999, Type: layers.EthernetTypeIPv4},
				outerUDP, udp(51000, 4789, outerUDP), &layers.VXLAN{ValidIDFlag: true, VNI: 42},
				eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 5, Type: layers.EthernetTypeIPv4}, v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) {
			s.Tunnel, s.TunnelOuter, s.TunnelID, s.VLANs = "vxlan", "203.0.113.1>203.0.113.2", 42, []uint16{5}
		})},
		{"IPIP", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolIPv4), v4, tcpSyn(40000, 80, v4), payload)
		}, with(tcpSum, func(s *summary) { s.Tunnel, s.TunnelOuter = "ipip", "203.0.113.1>203.0.113.2" })},
		{"6in4", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolIPv6), v6, tcpSyn(40000, 80, v6), payload)
		}, summary{Src: "2001:db8::10", Dst: "2001:db8::20", SrcPort: 40000, DstPort: 80, Proto: 6, IPVersion: 6,
			Payload: string(payload), Tunnel: "6in4", TunnelOuter: "203.0.113.1>203.0.113.2"}},
		{"ipv6 extension headers", LinkEthernet, func(t testing.TB) []byte {
			ip := ip6("2001:db8::10", "2001:db8::20", layers.IPProtocolIPv6HopByHop)
			// hop-by-hop (8 bytes, PadN), destination options (8 bytes), then TCP
			hbh := mustHex(t, "3c00 0104 00000000")
			dst := mustHex(t, "0600 0104 00000000")
			tcpb := ser(t, tcpSyn(40000, 80, ip), payload)
			return ser(t, eth(layers.EthernetTypeIPv6), ip, gopacket.Payload(append(append(hbh, dst...), tcpb...)))
		}, summary{Src: "2001:db8::10", Dst: "2001:db8::20", SrcPort: 40000, DstPort: 80, Proto: 6, IPVersion: 6,
			Payload: string(payload)}},
		{"udp", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), v4u, udp(5353, 53, v4u), gopacket.Payload("dnsq"))
		}, summary{Src: "192.0.2.10", Dst: "198.51.100.20", SrcPort: 5353, DstPort: 53, Proto: 17, IPVersion: 4, Payload: "dnsq"}},
		{"udp on vxlan port but not vxlan stays udp", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeIPv4), v4u, udp(5353, 4789, v4u), gopacket.Payload("not a vxlan header at all"))
		}, summary{Src: "192.0.2.10", Dst: "198.51.100.20", SrcPort: 5353, DstPort: 4789, Proto: 17, IPVersion: 4, Payload: "not a vxlan header at all"}},
		{"icmp echo", LinkEthernet, func(t testing.TB) []byte {
			ip := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolICMPv4)
			return ser(t, eth(layers.EthernetTypeIPv4), ip, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 2}, gopacket.Payload("ping"))
		}, summary{Src: "192.0.2.10", Dst: "198.51.100.20", SrcPort: 8, DstPort: 0, Proto: 1, IPVersion: 4, Payload: "\x00\x01\x00\x02ping"}},
		{"raw link ipv6", LinkRaw, func(t testing.TB) []byte {
			return ser(t, v6, tcpSyn(40000, 80, v6), payload)
		}, summary{Src: "2001:db8::10", Dst: "2001:db8::20", SrcPort: 40000, DstPort: 80, Proto: 6, IPVersion: 6, Payload: string(payload)}},
		{"null link little-endian AF_INET", LinkNull, func(t testing.TB) []byte {
			return append(mustHex(t, "02000000"), ser(t, v4, tcpSyn(40000, 80, v4), payload)...)
		}, tcpSum},
		{"loop link big-endian AF_INET6 (24)", LinkLoop, func(t testing.TB) []byte {
			return append(mustHex(t, "00000018"), ser(t, v6, tcpSyn(40000, 80, v6), payload)...)
		}, summary{Src: "2001:db8::10", Dst: "2001:db8::20", SrcPort: 40000, DstPort: 80, Proto: 6, IPVersion: 6, Payload: string(payload)}},
		{"linux sll", LinkSLL, func(t testing.TB) []byte {
			return append(mustHex(t, "0000 0001 0006 020000000001 0000 0800"), ser(t, v4, tcpSyn(40000, 80, v4), payload)...)
		}, tcpSum},
		{"arp is not ip", LinkEthernet, func(t testing.TB) []byte {
			return ser(t, eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
				HwAddressSize: 6, ProtAddressSize: 4, Operation: 1, SourceHwAddress: mac1, SourceProtAddress: []byte{192, 0, 2, 1},
				DstHwAddress: mac2, DstProtAddress: []byte{192, 0, 2, 2}})
		}, summary{Result: NonIP, Reason: "non_ip"}},

		// Malformed input, as hex: each is counted under its reason, never a panic.
		{"truncated ethernet", LinkEthernet, func(t testing.TB) []byte { return mustHex(t, "0200000000020200 00000001") },
			summary{Result: Malformed, Reason: "malformed_link"}},
		{"truncated vlan tag", LinkEthernet, func(t testing.TB) []byte { return mustHex(t, "020000000002 020000000001 8100 00") },
			summary{Result: Malformed, Reason: "malformed_vlan"}},
		{"ipv4 ihl < 5", LinkRaw, func(t testing.TB) []byte {
			return mustHex(t, "44000028 00000000 4006 0000 c0000201 c6336414 00000000 00000000 00000000 00000000")
		}, summary{Result: Malformed, Reason: "malformed_ipv4"}},
		{"ipv4 truncated header", LinkRaw, func(t testing.TB) []byte { return mustHex(t, "45000028 0000") },
			summary{Result: Malformed, Reason: "malformed_ipv4"}},
		{"tcp data offset < 5", LinkRaw, func(t testing.TB) []byte {
			return mustHex(t, "45000028 00000000 4006 0000 c0000201 c6336414  9c400050 00000001 00000000 40020000 00000000")
		}, summary{Result: Malformed, Reason: "malformed_tcp"}},
		{"tcp header truncated", LinkRaw, func(t testing.TB) []byte {
			return mustHex(t, "45000028 00000000 4006 0000 c0000201 c6336414  9c400050 0000")
		}, summary{Result: Malformed, Reason: "malformed_tcp"}},
		{"udp length below 8", LinkRaw, func(t testing.TB) []byte {
			return mustHex(t, "4500001c 00000000 4011 0000 c0000201 c6336414  14e90035 0003 0000")
		}, summary{Result: Malformed, Reason: "malformed_udp"}},
		{"ipv6 truncated", LinkRaw, func(t testing.TB) []byte { return mustHex(t, "60000000 0014 0640 20010db8") },
			summary{Result: Malformed, Reason: "malformed_ipv6"}},
		{"ipv6 extension header longer than packet", LinkRaw, func(t testing.TB) []byte {
			return mustHex(t, "60000000 0008 3c40 20010db8000000000000000000000010 20010db8000000000000000000000020 06ff0000 00000000")
		}, summary{Result: Malformed, Reason: "malformed_ipv6_ext"}},
		{"mpls without bottom of stack", LinkEthernet, func(t testing.TB) []byte {
			return mustHex(t, "020000000002 020000000001 8847 00010040 00011040")
		}, summary{Result: Malformed, Reason: "malformed_mpls"}},
		{"gre truncated", LinkRaw, func(t testing.TB) []byte { return mustHex(t, "45000016 00000000 402f 0000 cb007101 cb007102 2000") },
			summary{Result: Malformed, Reason: "malformed_gre"}},
		{"unsupported link type", layers.LinkType(147), func(t testing.TB) []byte { return []byte{1, 2, 3} },
			summary{Result: Unsupported, Reason: "unsupported_link"}},
		{"nested ip-in-ip beyond the depth limit", LinkRaw, func(t testing.TB) []byte {
			var ls []gopacket.SerializableLayer
			for i := 0; i < maxLayers+2; i++ {
				ls = append(ls, ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolIPv4))
			}
			ls = append(ls, v4, tcpSyn(40000, 80, v4))
			return ser(t, ls...)
		}, summary{Result: Malformed, Reason: "too_deep"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(DefaultDecoderConfig())
			data := tt.data(t)
			var p Packet
			before := d.Stats()
			r := d.Decode(&p, tt.link, data, 1e18, len(data))
			got := summarize(d, before, &p, r)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode() (-want, +got):\n%s", diff)
			}
			checkAccounting(t, d)
		})
	}
}

// checkAccounting asserts frames = decoded + sum(dropped).
func checkAccounting(t testing.TB, d *Decoder) {
	t.Helper()
	st := d.Stats()
	sum := st.Decoded
	for _, n := range st.Dropped {
		sum += n
	}
	if sum != st.Frames {
		t.Errorf("accounting: frames %d != decoded %d + dropped %d", st.Frames, st.Decoded, sum-st.Decoded)
	}
}

func TestDecodeTCPOptions(t *testing.T) {
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
	data := ser(t, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4))
	d := NewDecoder(DefaultDecoderConfig())
	var p Packet
	if r := d.Decode(&p, LinkEthernet, data, 0, len(data)); r != Decoded {
		t.Fatalf("Decode = %v", r)
	}
	want := TCPInfo{Seq: 1000, Window: 64240, Flags: TCPSyn, HeaderLen: 40, MSS: 1460, WScale: 7, HasWScale: true,
		SACKPerm: true, HasTS: true, TSVal: 9, Options: [8]uint8{2, 4, 8, 1, 3}}
	// gopacket pads options to a 4-byte boundary with an end-of-options byte.
	if diff := cmp.Diff(want, p.TCP, cmp.Comparer(func(a, b [8]uint8) bool {
		return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4]
	})); diff != "" {
		t.Errorf("TCP (-want, +got):\n%s", diff)
	}
	if p.TTL != 64 || p.IPID != 77 || p.IPLen != 60 {
		t.Errorf("TTL/IPID/IPLen = %d/%d/%d, want 64/77/60", p.TTL, p.IPID, p.IPLen)
	}
}

// fragments4 splits a UDP datagram into IPv4 fragments of size bytes.
func fragments4(t testing.TB, id uint16, payload []byte, size int) [][]byte {
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolUDP)
	dgram := ser(t, udp(5353, 53, v4), gopacket.Payload(payload))
	var out [][]byte
	for off := 0; off < len(dgram); off += size {
		end := min(off+size, len(dgram))
		ip := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolUDP)
		ip.Id, ip.FragOffset = id, uint16(off/8)
		if end < len(dgram) {
			ip.Flags = layers.IPv4MoreFragments
		}
		out = append(out, ser(t, eth(layers.EthernetTypeIPv4), ip, gopacket.Payload(dgram[off:end])))
	}
	return out
}

func TestDecodeFragments(t *testing.T) {
	body := []byte(strings.Repeat("0123456789abcdef", 20)) // 320 bytes + 8 UDP header
	frags := fragments4(t, 99, body, 112)
	if len(frags) != 3 {
		t.Fatalf("got %d fragments", len(frags))
	}
	t.Run("in order", func(t *testing.T) {
		d := NewDecoder(DefaultDecoderConfig())
		var p Packet
		// First fragment: delivered with ports, no payload.
		if r := d.Decode(&p, LinkEthernet, frags[0], 1, len(frags[0])); r != Decoded || p.Flags&FlagFirstFragment == 0 || p.DstPort != 53 || len(p.Payload) != 0 {
			t.Fatalf("first fragment: r=%v flags=%x port=%d payload=%d", r, p.Flags, p.DstPort, len(p.Payload))
		}
		if r := d.Decode(&p, LinkEthernet, frags[1], 2, len(frags[1])); r != FragmentHeld {
			t.Fatalf("middle fragment: r=%v", r)
		}
		r := d.Decode(&p, LinkEthernet, frags[2], 3, len(frags[2]))
		if r != Decoded || p.Flags&(FlagReassembled|FlagFragTail) != FlagReassembled|FlagFragTail {
			t.Fatalf("last fragment: r=%v flags=%x", r, p.Flags)
		}
		if string(p.Payload) != string(body) || p.SrcPort != 5353 || p.IPLen != 20+8+320 {
			t.Errorf("reassembled payload %d bytes, ports %d→%d, iplen %d", len(p.Payload), p.SrcPort, p.DstPort, p.IPLen)
		}
		checkAccounting(t, d)
	})
	t.Run("first fragment last", func(t *testing.T) {
		d := NewDecoder(DefaultDecoderConfig())
		var p Packet
		for i, f := range [][]byte{frags[2], frags[1]} {
			if r := d.Decode(&p, LinkEthernet, f, int64(i), len(f)); r != FragmentHeld {
				t.Fatalf("fragment %d: r=%v", i, r)
			}
		}
		r := d.Decode(&p, LinkEthernet, frags[0], 5, len(frags[0]))
		if r != Decoded || p.Flags&FlagReassembled == 0 || p.Flags&FlagFragTail != 0 || string(p.Payload) != string(body) {
			t.Fatalf("r=%v flags=%x payload=%d", r, p.Flags, len(p.Payload))
		}
	})
	t.Run("snap length cut a fragment", func(t *testing.T) {
		d := NewDecoder(DefaultDecoderConfig())
		var p Packet
		cut := frags[1][:40]
		if r := d.Decode(&p, LinkEthernet, cut, 1, len(frags[1])); r != Malformed || d.Stats().Dropped[ReasonFragmentTruncated] != 1 {
			t.Fatalf("r=%v stats=%v", r, d.Stats().Dropped)
		}
		cut0 := frags[0][:60]
		if r := d.Decode(&p, LinkEthernet, cut0, 2, len(frags[0])); r != Decoded || p.Flags&FlagFirstFragment == 0 {
			t.Fatalf("first: r=%v flags=%x", r, p.Flags)
		}
		checkAccounting(t, d)
	})
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
	outerUDP := ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolUDP)
	v6 := ip6("2001:db8::10", "2001:db8::20", layers.IPProtocolTCP)
	frames := map[string][]byte{
		"tcp4":  ser(t, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4), gopacket.Payload("hello")),
		"tcp6":  ser(t, eth(layers.EthernetTypeIPv6), v6, tcpSyn(40000, 80, v6), gopacket.Payload("hello")),
		"vlan":  ser(t, eth(layers.EthernetTypeDot1Q), &layers.Dot1Q{VLANIdentifier: 100, Type: layers.EthernetTypeIPv4}, v4, tcpSyn(40000, 80, v4)),
		"vxlan": ser(t, eth(layers.EthernetTypeIPv4), outerUDP, udp(51000, 4789, outerUDP), &layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4)),
	}
	for name, f := range frames {
		t.Run(name, func(t *testing.T) {
			d := NewDecoder(DefaultDecoderConfig())
			var p Packet
			d.Decode(&p, LinkEthernet, f, 0, len(f)) // warm up option slices
			if n := testing.AllocsPerRun(100, func() { d.Decode(&p, LinkEthernet, f, 0, len(f)) }); n != 0 {
				t.Errorf("Decode allocates %v times per packet", n)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
	outerUDP := ip4("203.0.113.1", "203.0.113.2", layers.IPProtocolUDP)
	f.Add(uint8(0), ser(f, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4), gopacket.Payload("x")))
	f.Add(uint8(0), ser(f, eth(layers.EthernetTypeIPv4), outerUDP, udp(51000, 4789, outerUDP), &layers.VXLAN{ValidIDFlag: true, VNI: 42}, eth(layers.EthernetTypeIPv4), v4, tcpSyn(40000, 80, v4)))
	f.Add(uint8(1), ser(f, v4, tcpSyn(40000, 80, v4)))
	for _, fr := range fragments4(f, 1, []byte(strings.Repeat("z", 100)), 48) {
		f.Add(uint8(0), fr)
	}
	links := []layers.LinkType{LinkEthernet, LinkRaw, LinkNull, LinkLoop, LinkSLL, LinkSLL2}
	f.Fuzz(func(t *testing.T, lt uint8, data []byte) {
		d := NewDecoder(DefaultDecoderConfig())
		var p Packet
		for i := 0; i < 2; i++ { // twice: fragments may complete with themselves
			if d.Decode(&p, links[int(lt)%len(links)], data, int64(i), len(data)) == Decoded {
				if int(p.PayloadLen) < len(p.Payload) {
					t.Fatalf("PayloadLen %d < len(Payload) %d", p.PayloadLen, len(p.Payload))
				}
			}
		}
		checkAccounting(t, d)
	})
}
