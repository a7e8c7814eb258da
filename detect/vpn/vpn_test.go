package vpn

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// collect returns an emit that keeps anomalies.
func collect(out *[]*detect.Anomaly) detect.Emit {
	return func(e *detect.Event) {
		if e.Type == detect.TypeAnomaly && e.Anomaly != nil {
			*out = append(*out, e.Anomaly)
		}
	}
}

func detail(a *detect.Anomaly, key string) string {
	for _, d := range a.Detail {
		if d.Key == key {
			if d.IsNum {
				return itoa(d.Num)
			}
			return d.Str
		}
	}
	return ""
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Real first packets (from the corpus captures ndpi__openvpn.pcap,
// ndpi__wireguard.pcap, tcpdump__isakmp4500.pcap).
const (
	ovpnClientReset = "3839fded2daa10a4370000000000"
	ovpnServerReset = "409421917de7267729010000000039fded2daa10a43700000000"
	ovpnAuthReset   = "38b02ccff1b5f0174fc091666e3b124bada39173317b939722d1fe63be0000000157a1c15f0000000000"
	ovpnTCPStart    = "000e38507a28a78275788d0000000000" + "001a409ad747beb24d8a1b0100000000507a28a78275788d00000000"
	ikeV1Main       = "9e89f2388f90bc1e0000000000000000011002000000000000000124"
)

// Benign first bytes that no probe of this package may claim.
var benign = map[string][]byte{
	"dns query": func() []byte {
		b, _ := hex.DecodeString("a62c01000001000000000000076578616d706c6503636f6d0000010001")
		return b
	}(),
	"tls hello":   {0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3, 1, 2, 3, 4, 5},
	"http":        []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	"quic v1":     append([]byte{0xc3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0x44, 0xd0}, make([]byte, 1200)...),
	"stun":        {0, 1, 0, 8, 0x21, 0x12, 0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 0, 3, 0, 4, 0, 0, 0, 0},
	"socks5":      {5, 1, 0},
	"ssh":         []byte("SSH-2.0-OpenSSH_9.2\r\n"),
	"zeros":       make([]byte, 64),
	"dtls hello":  append([]byte{0x16, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80, 1}, make([]byte, 128)...),
	"rtp":         append([]byte{0x80, 0x60, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4}, make([]byte, 160)...),
	"netbios":     unhexMust("8d1b0110000100000000000020434b4141414141414141414141414141414141414141414141414141414141410000200001"),
	"short":       {0x38},
	"wg bad size": append([]byte{1, 0, 0, 0}, make([]byte, 100)...),
	// From zeek__tunnels__Teredo.pcap: IPv6 in UDP on a non-Teredo port.
	"ipv6 in udp": unhexMust("6000000000003b152001000041379e508000f12ab9c8281520014860000020010000000000000068"),
	"ipv4 in udp": append([]byte{0x45, 0, 0, 40, 0, 1, 0, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}, make([]byte, 20)...),
}

func unhexMust(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestProbesRejectOtherProtocols(t *testing.T) {
	probes := map[string]func(int, []byte) bool{
		"openvpn-udp": DetectOpenVPNUDP, "openvpn-tcp": DetectOpenVPNTCP, "wireguard": DetectWireGuard,
		"ike": DetectIKE, "l2tp": DetectL2TP, "pptp": DetectPPTP, "esp": DetectESPUDP,
	}
	for name, b := range benign {
		for pn, probe := range probes {
			for dir := range 2 {
				if probe(dir, b) {
					t.Errorf("%s probe claims %s", pn, name)
				}
			}
		}
	}
}

func TestOpenVPNUDP(t *testing.T) {
	cases := []struct {
		name     string
		pkts     []string
		dirs     []int
		hmac     string
		evidence string
	}{
		{"plain, reply", []string{ovpnClientReset, ovpnServerReset}, []int{0, 1}, "none", "session_echo"},
		{"tls-auth, repeat", []string{ovpnAuthReset, "28b02ccff1b5f0174fc837497a6a8d694eb960b6ac0878e757d987f8300000000257a1c15f0100000000f77fc2efdbe23f57"}, []int{0, 0}, "tls-auth", "session_repeat"},
		{"server first", []string{ovpnServerReset, "209421917de726772900000000"}, []int{1, 1}, "none", "session_repeat"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []*detect.Anomaly
			p := NewOpenVPN(collect(&got), false)
			first := unhex(t, c.pkts[0])
			if !DetectOpenVPNUDP(c.dirs[0], first) {
				t.Fatal("probe misses the first packet")
			}
			var v detect.Verdict
			for i, h := range c.pkts {
				v = p.Datagram(c.dirs[i], unhex(t, h), int64(i))
			}
			if v != detect.Done || len(got) != 1 {
				t.Fatalf("verdict %v, %d events", v, len(got))
			}
			a := got[0]
			if a.Type != "vpn" || a.Event != "openvpn" || detail(a, "hmac") != c.hmac || detail(a, "evidence") != c.evidence || detail(a, "transport") != "udp" {
				t.Errorf("got %+v", a)
			}
		})
	}
	// A lone reset is not enough; garbage after it is not either.
	var got []*detect.Anomaly
	p := NewOpenVPN(collect(&got), false)
	p.Datagram(0, unhex(t, ovpnClientReset), 1)
	for i := range OpenVPNMaxPackets + 2 {
		p.Datagram(i&1, []byte{0x48, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2)
	}
	if len(got) != 0 {
		t.Errorf("reported without confirmation: %+v", got[0])
	}
}

func TestOpenVPNTCPAnySplit(t *testing.T) {
	all := unhex(t, ovpnTCPStart)
	client, server := all[:16], all[16:]
	if !DetectOpenVPNTCP(0, client) {
		t.Fatal("probe")
	}
	for cut := 0; cut <= len(client); cut++ {
		var got []*detect.Anomaly
		p := NewOpenVPN(collect(&got), true)
		p.Data(0, client[:cut], 1)
		p.Data(0, client[cut:], 1)
		for i := range server {
			if v := p.Data(1, server[i:i+1], 2); v != detect.NeedMore {
				break
			}
		}
		if len(got) != 1 || detail(got[0], "transport") != "tcp" || detail(got[0], "session_id") != "507a28a78275788d" {
			t.Fatalf("cut %d: %d events %+v", cut, len(got), got)
		}
	}
	// A record length out of range is not OpenVPN.
	p := NewOpenVPN(nil, true)
	if v := p.Data(0, []byte{0xff, 0xff, 0x38}, 0); v != detect.NotMine {
		t.Errorf("huge record: %v", v)
	}
}

func wgMsg(typ byte, size int, sender, receiver uint32, counter uint64) []byte {
	b := make([]byte, size)
	b[0] = typ
	switch typ {
	case wgInitiation:
		binary.LittleEndian.PutUint32(b[4:], sender)
	case wgResponse:
		binary.LittleEndian.PutUint32(b[4:], sender)
		binary.LittleEndian.PutUint32(b[8:], receiver)
	case wgCookieReply:
		binary.LittleEndian.PutUint32(b[4:], receiver)
	case wgTransport:
		binary.LittleEndian.PutUint32(b[4:], receiver)
		binary.LittleEndian.PutUint64(b[8:], counter)
	}
	return b
}

func TestWireGuard(t *testing.T) {
	run := func(msgs [][]byte, dirs []int) []*detect.Anomaly {
		var got []*detect.Anomaly
		p := NewWireGuard(collect(&got))
		for i, m := range msgs {
			if i == 0 && !DetectWireGuard(dirs[0], m) {
				t.Fatal("probe misses the first message")
			}
			if p.Datagram(dirs[i], m, int64(i)) != detect.NeedMore {
				break
			}
		}
		return got
	}
	hs := run([][]byte{wgMsg(1, 148, 7, 0, 0), wgMsg(2, 92, 9, 7, 0)}, []int{0, 1})
	if len(hs) != 1 || detail(hs[0], "evidence") != "handshake" {
		t.Errorf("handshake: %+v", hs)
	}
	tr := run([][]byte{wgMsg(4, 64, 0, 5, 10), wgMsg(4, 96, 0, 6, 3), wgMsg(4, 32, 0, 5, 11), wgMsg(4, 48, 0, 5, 13)}, []int{0, 1, 0, 0})
	if len(tr) != 1 || detail(tr[0], "evidence") != "transport" {
		t.Errorf("transport: %+v", tr)
	}
	// A response that names another index, transport messages to changing
	// indexes: not confirmed.
	no := run([][]byte{wgMsg(1, 148, 7, 0, 0), wgMsg(2, 92, 9, 8, 0), wgMsg(4, 32, 0, 1, 1), wgMsg(4, 32, 0, 2, 2), wgMsg(4, 32, 0, 3, 3)}, []int{0, 1, 0, 0, 0})
	if len(no) != 0 {
		t.Errorf("unconfirmed flow reported: %+v", no)
	}
	if DetectWireGuard(0, wgMsg(4, 40, 0, 1, 1)) || DetectWireGuard(0, wgMsg(2, 93, 1, 1, 0)) {
		t.Error("wrong sizes accepted")
	}
}

func TestIKE(t *testing.T) {
	// IKEv1 main mode from tcpdump's isakmp4500.pcap (header only, length fixed up).
	h := unhex(t, ikeV1Main)[:28]
	binary.BigEndian.PutUint32(h[24:], 28)
	h[16] = 0 // no payload
	for _, natT := range []bool{false, true} {
		b := h
		if natT {
			b = append([]byte{0, 0, 0, 0}, h...)
		}
		if !DetectIKE(0, b) {
			t.Fatalf("nat_t %v: not detected", natT)
		}
		var got []*detect.Anomaly
		p := NewIPsec(collect(&got))
		if v := p.Datagram(0, b, 1); v != detect.Done || len(got) != 1 {
			t.Fatalf("verdict %v, %d events", v, len(got))
		}
		a := got[0]
		want := map[string]string{"protocol": "ike", "version": "1", "exchange": "identity_protection", "initiator_spi": "9e89f2388f90bc1e"}
		if natT {
			want["nat_t"] = "1"
		} else {
			want["nat_t"] = "0"
		}
		for k, v := range want {
			if detail(a, k) != v {
				t.Errorf("nat_t %v: %s = %q, want %q", natT, k, detail(a, k), v)
			}
		}
	}
	// Wrong length field, unknown version, zero SPI.
	bad := append([]byte(nil), h...)
	binary.BigEndian.PutUint32(bad[24:], 29)
	if DetectIKE(0, bad) {
		t.Error("length mismatch accepted")
	}
	bad = append([]byte(nil), h...)
	bad[17] = 0x30
	if DetectIKE(0, bad) {
		t.Error("version 3 accepted")
	}
	bad = append(make([]byte, 8), h[8:]...)
	if DetectIKE(0, bad) {
		t.Error("zero SPI accepted")
	}
	// IKEv2 IKE_SA_INIT with a non-zero message ID is malformed.
	v2 := append([]byte(nil), h...)
	v2[17], v2[18], v2[16] = 0x20, 34, 33
	if !DetectIKE(0, v2) {
		t.Error("IKEv2 IKE_SA_INIT not detected")
	}
	v2[23] = 1
	if DetectIKE(0, v2) {
		t.Error("IKE_SA_INIT with message ID 1 accepted")
	}
}

func espPkt(spi, seq uint32, n int) []byte {
	b := make([]byte, n)
	binary.BigEndian.PutUint32(b, spi)
	binary.BigEndian.PutUint32(b[4:], seq)
	for i := 8; i < n; i++ {
		b[i] = byte(i * 7)
	}
	return b
}

func TestESPInUDP(t *testing.T) {
	var got []*detect.Anomaly
	p := NewIPsec(collect(&got))
	if !DetectESPUDP(0, espPkt(0x3d713155, 1, 152)) {
		t.Fatal("probe")
	}
	p.Datagram(0, espPkt(0x3d713155, 1, 152), 1)
	p.Datagram(1, espPkt(0xf918698d, 1, 152), 1)
	p.Datagram(0, []byte{0xff}, 1) // keepalive
	p.Datagram(0, espPkt(0x3d713155, 2, 152), 2)
	if v := p.Datagram(0, espPkt(0x3d713155, 3, 168), 3); v != detect.Done || len(got) != 1 {
		t.Fatalf("verdict %v, %d events", v, len(got))
	}
	if detail(got[0], "protocol") != "esp" || detail(got[0], "spi") != "3d713155" {
		t.Errorf("%+v", got[0])
	}
	// Changing SPIs are not one SA.
	got = nil
	p = NewIPsec(collect(&got))
	for i := range ESPMaxPackets + 1 {
		p.Datagram(0, espPkt(uint32(1000+i), uint32(i+1), 64), 1)
	}
	if len(got) != 0 {
		t.Errorf("reported: %+v", got)
	}
	if DetectESPUDP(0, espPkt(12, 1, 64)) || DetectESPUDP(0, espPkt(1000, 0, 64)) || DetectESPUDP(0, espPkt(1000, 1, 62)) {
		t.Error("reserved SPI, sequence 0 or unaligned length accepted")
	}
}

func l2tpSCCRQ(ver byte) []byte {
	b := []byte{0xc8, ver, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0x80, 8, 0, 0, 0, 0, 0, 1, // Message Type: SCCRQ
		0x80, 8, 0, 0, 0, 2, 1, 0, // Protocol Version 1.0
	}
	binary.BigEndian.PutUint16(b[2:], uint16(len(b)))
	return b
}

func TestL2TP(t *testing.T) {
	for _, ver := range []byte{2, 3} {
		b := l2tpSCCRQ(ver)
		if !DetectL2TP(0, b) {
			t.Fatalf("v%d: not detected", ver)
		}
		var got []*detect.Anomaly
		p := NewL2TP(collect(&got))
		if v := p.Datagram(0, b, 1); v != detect.Done || len(got) != 1 || detail(got[0], "message") != "SCCRQ" || detail(got[0], "version") != itoa(int64(ver)) {
			t.Fatalf("v%d: %v %+v", ver, v, got)
		}
	}
	zlb := []byte{0xc8, 2, 0, 12, 0, 1, 0, 0, 0, 1, 0, 1}
	if DetectL2TP(0, zlb) {
		t.Error("a ZLB alone claims the flow")
	}
	data := []byte{0x40, 2, 0, 12, 0, 1, 0, 1, 0xff, 0x03, 0xc0, 0x21}
	if DetectL2TP(0, data) {
		t.Error("a data message claims the flow")
	}
}

func pptpRequest() []byte {
	b := make([]byte, 156)
	binary.BigEndian.PutUint16(b, 156)
	binary.BigEndian.PutUint16(b[2:], 1)
	binary.BigEndian.PutUint32(b[4:], pptpMagic)
	binary.BigEndian.PutUint16(b[8:], 1)
	binary.BigEndian.PutUint16(b[12:], 0x0100)
	copy(b[28:], "gw.example")
	copy(b[92:], "Linux")
	return b
}

func TestPPTP(t *testing.T) {
	b := pptpRequest()
	if !DetectPPTP(0, b[:16]) {
		t.Fatal("probe")
	}
	for cut := 0; cut <= len(b); cut += 7 {
		var got []*detect.Anomaly
		p := NewPPTP(collect(&got))
		v := p.Data(0, b[:cut], 1)
		if cut < len(b) {
			v = p.Data(0, b[cut:], 2)
		}
		if v != detect.Done || len(got) != 1 {
			t.Fatalf("cut %d: %v, %d events", cut, v, len(got))
		}
		a := got[0]
		if detail(a, "message") != "start_control_connection_request" || detail(a, "hostname") != "gw.example" ||
			detail(a, "vendor") != "Linux" || detail(a, "protocol_version") != "256" {
			t.Errorf("cut %d: %+v", cut, a)
		}
	}
	bad := pptpRequest()
	bad[7] = 0
	if DetectPPTP(0, bad) {
		t.Error("wrong cookie accepted")
	}
}

// TestParsersAllocateLittle: a non-reporting packet costs no allocation.
func TestParsersAllocateLittle(t *testing.T) {
	ov := NewOpenVPN(nil, false)
	wg := NewWireGuard(nil)
	es := NewIPsec(nil)
	pkt := unhex(t, ovpnClientReset)
	wgp := wgMsg(4, 64, 0, 5, 10)
	esp := espPkt(0x1000, 1, 64)
	allocs := testing.AllocsPerRun(100, func() {
		ov.Reset(nil)
		ov.Datagram(0, pkt, 1)
		wg.Reset(nil)
		wg.Datagram(0, wgp, 1)
		es.Reset(nil)
		es.Datagram(0, esp, 1)
		DetectOpenVPNUDP(0, pkt)
		DetectWireGuard(0, wgp)
		DetectIKE(0, esp)
		DetectESPUDP(0, esp)
		DetectL2TP(0, esp)
		DetectPPTP(0, esp)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}
