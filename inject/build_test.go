package inject

import (
	"encoding/binary"
	"encoding/hex"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testInjector(t *testing.T, mut func(*Config)) *Injector {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.DryRunPcap = filepath.Join(t.TempDir(), "dry.pcap")
	cfg.SourceMAC = "02:00:00:00:00:99"
	if mut != nil {
		mut(&cfg)
	}
	in, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func baseTrigger(kind Kind) *Trigger {
	return &Trigger{Kind: kind, Name: "blocked.example", Time: 1,
		Client: netip.MustParseAddr("192.0.2.10"), Server: netip.MustParseAddr("192.0.2.20"), ClientPort: 40000, ServerPort: 80,
		ClientMAC: [6]byte{2, 0, 0, 0, 0, 0x0a}, ServerMAC: [6]byte{2, 0, 0, 0, 0, 0x14}, HasMAC: true,
		ClientNext: 1000, ServerNext: 0xfffffff0, ClientWindow: 502, ServerWindow: 509,
		ClientRcvWindow: 502 << 7, ServerRcvWindow: 509 << 7,
		ClientTTL: 64, ServerTTL: 61, ClientIPID: 7, ServerIPID: 0x1234}
}

// dnsQuery is a real-shaped query: id 0xbeef, RD, one question in mixed
// case (0x20 randomisation), with an EDNS OPT record.
func dnsQuery(qtype uint16) []byte {
	q := []byte{0xbe, 0xef, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1}
	q = append(q, 7, 'B', 'l', 'O', 'c', 'K', 'e', 'D', 7, 'e', 'X', 'a', 'm', 'p', 'l', 'e', 0)
	q = binary.BigEndian.AppendUint16(q, qtype)
	q = binary.BigEndian.AppendUint16(q, 1)
	return append(q, 0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0) // OPT
}

// TestPlanGolden pins the bytes of every kind of forged frame.
func TestPlanGolden(t *testing.T) {
	cases := []struct {
		name string
		mut  func(*Config)
		trig func() *Trigger
	}{
		{"http-redirect-v4", nil, func() *Trigger { return baseTrigger(KindHTTPWarning) }},
		{"http-page-vlan", func(c *Config) { c.HTTP.Mode = "page" }, func() *Trigger {
			t := baseTrigger(KindHTTPWarning)
			t.VLANs = []uint16{100, 200}
			return t
		}},
		{"tcp-rst-v6", nil, func() *Trigger {
			t := baseTrigger(KindTCPReset)
			t.Client, t.Server, t.ServerPort = netip.MustParseAddr("2001:db8::10"), netip.MustParseAddr("2001:db8::20"), 443
			return t
		}},
		{"dns-a", nil, func() *Trigger {
			t := baseTrigger(KindDNSAnswer)
			t.ServerPort, t.DNSQuery = 53, dnsQuery(1)
			return t
		}},
		{"next-hop", func(c *Config) { c.NextHopMAC = "02:00:00:00:00:fe" }, func() *Trigger { return baseTrigger(KindTCPReset) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := testInjector(t, c.mut)
			frames, err := in.Plan(c.trig())
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, f := range frames {
				b.WriteString(f.Flags + " " + hex.EncodeToString(f.Data) + "\n")
				checkChecksums(t, f.Data)
			}
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				os.WriteFile(path, []byte(b.String()), 0o644)
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./inject -run TestPlanGolden -update)", err)
			}
			if b.String() != string(want) {
				t.Errorf("frames differ from %s:\n got %s\nwant %s", path, b.String(), want)
			}
		})
	}
}

// checkChecksums decodes a frame with gopacket and recomputes its IP and
// transport checksums.
func checkChecksums(t *testing.T, frame []byte) {
	t.Helper()
	p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
	if el := p.ErrorLayer(); el != nil {
		t.Fatalf("frame does not decode: %v", el.Error())
	}
	var netL gopacket.NetworkLayer
	if ip4, ok := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok {
		got := ip4.Checksum
		ip4.Checksum = 0
		buf := gopacket.NewSerializeBuffer()
		cp := *ip4
		cp.SerializeTo(buf, gopacket.SerializeOptions{ComputeChecksums: true})
		if sum := binary.BigEndian.Uint16(buf.Bytes()[10:]); sum != got {
			t.Errorf("IPv4 checksum %04x, want %04x", got, sum)
		}
		netL = ip4
	} else {
		netL = p.NetworkLayer()
	}
	verify := func(l gopacket.SerializableLayer, got uint16, set func(gopacket.NetworkLayer) error, off int, payload []byte) {
		set(netL)
		buf := gopacket.NewSerializeBuffer()
		buf.PrependBytes(0)
		gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, l, gopacket.Payload(payload))
		if sum := binary.BigEndian.Uint16(buf.Bytes()[off:]); sum != got {
			t.Errorf("%T checksum %04x, want %04x", l, got, sum)
		}
	}
	if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok {
		verify(tcp, tcp.Checksum, tcp.SetNetworkLayerForChecksum, 16, tcp.Payload)
	}
	if udp, ok := p.Layer(layers.LayerTypeUDP).(*layers.UDP); ok {
		verify(udp, udp.Checksum, udp.SetNetworkLayerForChecksum, 6, udp.Payload)
	}
}

// TestSeqAck is the sequence arithmetic: the HTTP warning goes at the
// client's expected sequence number with the request acknowledged (across
// the 2^32 wrap), the server RST at the client's next sequence number;
// RSTs start exactly at the expected number and spread within the window.
func TestSeqAck(t *testing.T) {
	in := testInjector(t, nil)
	tests := []struct {
		name                   string
		clientNext, serverNext uint32
	}{
		{"plain", 1000, 5000},
		{"server wraps", 1000, 0xffffff00},
		{"client wraps", 0xfffffffe, 5000},
		{"zero", 0, 0},
	}
	for _, tc := range tests {
		tr := baseTrigger(KindHTTPWarning)
		tr.ClientNext, tr.ServerNext = tc.clientNext, tc.serverNext
		fs, err := in.Plan(tr)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) != 2 || !fs[0].ToClient || fs[0].Seq != tc.serverNext || fs[0].Ack != tc.clientNext || fs[0].Flags != "FPA" {
			t.Errorf("%s: warning frame %+v", tc.name, fs[0])
		}
		if fs[1].ToClient || fs[1].Seq != tc.clientNext || fs[1].Flags != "R" {
			t.Errorf("%s: server RST %+v", tc.name, fs[1])
		}
		tr.Kind = KindTCPReset
		fs, _ = in.Plan(tr)
		if len(fs) != 6 {
			t.Fatalf("%s: %d RSTs, want 6", tc.name, len(fs))
		}
		for k := 0; k < 3; k++ {
			toC, toS := fs[2*k], fs[2*k+1]
			wantC := tc.serverNext + uint32(k)*(tr.ClientRcvWindow/3)
			wantS := tc.clientNext + uint32(k)*(tr.ServerRcvWindow/3)
			if !toC.ToClient || toC.Seq != wantC || toS.ToClient || toS.Seq != wantS {
				t.Errorf("%s: RST pair %d: to client seq %d (want %d), to server seq %d (want %d)", tc.name, k, toC.Seq, wantC, toS.Seq, wantS)
			}
		}
	}
}

func TestDNSAnswer(t *testing.T) {
	in := testInjector(t, func(c *Config) { c.DNS.AnswerIPv6 = "" })
	ans, err := in.dnsAnswer(dnsQuery(1))
	if err != nil {
		t.Fatal(err)
	}
	p := gopacket.NewPacket(ans, layers.LayerTypeDNS, gopacket.Default)
	d, ok := p.Layer(layers.LayerTypeDNS).(*layers.DNS)
	if !ok {
		t.Fatalf("answer does not decode: %v", p.ErrorLayer())
	}
	if d.ID != 0xbeef || !d.QR || !d.RD || !d.RA || d.ResponseCode != 0 || len(d.Questions) != 1 || len(d.Answers) != 1 {
		t.Fatalf("header/sections: %+v", d)
	}
	if string(d.Questions[0].Name) != "BlOcKeD.eXample" {
		t.Errorf("question name %q: the case must be copied (0x20)", d.Questions[0].Name)
	}
	if a := d.Answers[0]; a.IP.String() != "192.0.2.80" || a.TTL != 60 || a.Type != layers.DNSTypeA || string(a.Name) != "BlOcKeD.eXample" {
		t.Errorf("answer %+v", a)
	}
	for _, q := range [][]byte{dnsQuery(28), dnsQuery(65)} { // AAAA not configured here, HTTPS never
		if _, err := in.dnsAnswer(q); err != errNoAnswer {
			t.Errorf("qtype %d: %v, want errNoAnswer", binary.BigEndian.Uint16(q[len(q)-15:]), err)
		}
	}
	for _, bad := range [][]byte{nil, dnsQuery(1)[:20], append([]byte{0, 1, 0x81}, dnsQuery(1)[3:]...)} {
		if _, err := in.dnsAnswer(bad); err == nil {
			t.Errorf("malformed query %x answered", bad)
		}
	}
}

func TestGuardrails(t *testing.T) {
	in := testInjector(t, func(c *Config) {
		c.NeverInjectNetworks = []string{"192.0.2.16/28"}
		c.MaxPerSecond, c.PerClientPerSecond = 1000, 2
	})
	tr := baseTrigger(KindTCPReset)
	if r := in.Offer(tr); r.Sent || r.Suppressed != SuppressNetwork {
		t.Errorf("server in a never-inject network: %+v", r)
	}
	tr.Server = netip.MustParseAddr("198.51.100.1")
	for i := 0; i < 2; i++ {
		if r := in.Offer(tr); !r.Sent || !r.DryRun {
			t.Fatalf("offer %d: %+v", i, r)
		}
	}
	if r := in.Offer(tr); r.Suppressed != SuppressClientRate {
		t.Errorf("third in a second for one client: %+v", r)
	}
	tr.Client = netip.MustParseAddr("198.51.100.2")
	if r := in.Offer(tr); !r.Sent {
		t.Errorf("another client: %+v", r)
	}
	st := in.Stats()
	if st.Offered != 5 || st.Sent != 3 || st.Suppressed[SuppressNetwork] != 1 || st.Suppressed[SuppressClientRate] != 1 || st.Packets != 18 {
		t.Errorf("stats %+v", st)
	}
	g := testInjector(t, func(c *Config) { c.MaxPerSecond, c.PerClientPerSecond = 2, 0 })
	tr2 := baseTrigger(KindDNSAnswer)
	tr2.DNSQuery = dnsQuery(1)
	sent := 0
	for i := 0; i < 5; i++ {
		if g.Offer(tr2).Sent {
			sent++
		}
	}
	if sent != 2 {
		t.Errorf("global limit 2/s let %d through", sent)
	}
}

// TestDryRunPcap: the dry-run file is a pcap of exactly the frames sent,
// and the injector recognises its own frames when they come back.
func TestDryRunPcap(t *testing.T) {
	in := testInjector(t, nil)
	tr := baseTrigger(KindHTTPWarning)
	r := in.Offer(tr)
	if !r.Sent {
		t.Fatal(r)
	}
	in.Close()
	f, err := os.Open(in.cfg.DryRunPcap)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := newTestReader(f)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range r.Frames {
		data, _, err := rd.ReadPacketData()
		if err != nil || string(data) != string(want.Data) {
			t.Fatalf("frame %d in the pcap differs (%v)", i, err)
		}
	}
	if _, _, err := rd.ReadPacketData(); err == nil {
		t.Error("extra frames in the dry-run pcap")
	}
}

// TestChecksumCheckerFails proves checkChecksums can fail: a frame with
// one payload byte changed after serialization must be reported.
func TestChecksumCheckerFails(t *testing.T) {
	in := testInjector(t, nil)
	fs, err := in.Plan(baseTrigger(KindHTTPWarning))
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), fs[0].Data...)
	bad[len(bad)-1] ^= 0xff
	ft := &testing.T{}
	done := make(chan struct{})
	go func() { defer close(done); checkChecksums(ft, bad) }()
	<-done
	if !ft.Failed() {
		t.Error("a corrupted frame passed the checksum check")
	}
}
