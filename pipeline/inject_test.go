package pipeline

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/inject"
	"github.com/nunchi-sensor/nunchi/rules"
)

// seg is one TCP segment of a synthetic connection 192.0.2.10:40000 ↔
// 192.0.2.20:80, by relative sequence numbers.
type seg struct {
	fromClient bool
	flags      string // S, SA, A, PA, FA
	seq, ack   uint32 // relative to the ISNs
	data       string
}

func writeTCPConn(t *testing.T, path string, cISN, sISN uint32, segs []seg) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriter(f)
	w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	cMAC, sMAC := []byte{2, 0, 0, 0, 0, 0x0a}, []byte{2, 0, 0, 0, 0, 0x14}
	ts := time.Unix(1_700_000_000, 0)
	for i, s := range segs {
		eth := &layers.Ethernet{SrcMAC: cMAC, DstMAC: sMAC, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: []byte{192, 0, 2, 10}, DstIP: []byte{192, 0, 2, 20}, Id: uint16(i)}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 80, Window: 500, Seq: cISN + s.seq, Ack: sISN + s.ack}
		if !s.fromClient {
			eth.SrcMAC, eth.DstMAC = sMAC, cMAC
			ip.SrcIP, ip.DstIP = ip.DstIP, ip.SrcIP
			tcp.SrcPort, tcp.DstPort = 80, 40000
			tcp.Seq, tcp.Ack = sISN+s.seq, cISN+s.ack
		}
		for _, c := range s.flags {
			switch c {
			case 'S':
				tcp.SYN = true
			case 'A':
				tcp.ACK = true
			case 'P':
				tcp.PSH = true
			case 'F':
				tcp.FIN = true
			}
		}
		if !tcp.ACK {
			tcp.Ack = 0
		}
		tcp.SetNetworkLayerForChecksum(ip)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(s.data)); err != nil {
			t.Fatal(err)
		}
		ts = ts.Add(time.Millisecond)
		w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(buf.Bytes()), Length: len(buf.Bytes())}, buf.Bytes())
	}
}

// TestInjectSeqAck runs synthetic connections through a shard with a
// dry-run injector and checks the forged warning's sequence numbers: it
// must sit exactly where the client expects the server's next byte, and
// acknowledge the whole request — across the 2^32 wrap, for a request
// split over segments, and for the second of two pipelined requests.
func TestInjectSeqAck(t *testing.T) {
	blocked := "GET / HTTP/1.1\r\nHost: blocked.example\r\n\r\n"
	ok := "GET / HTTP/1.1\r\nHost: fine.example\r\n\r\n"
	resp := "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"
	hs := []seg{{true, "S", 0, 0, ""}, {false, "SA", 0, 1, ""}, {true, "A", 1, 1, ""}}
	n := func(s string) uint32 { return uint32(len(s)) }
	tests := []struct {
		name       string
		cISN, sISN uint32
		segs       []seg
		wantSeq    uint32 // relative to the server ISN
		wantAck    uint32 // relative to the client ISN
	}{
		{"one segment", 1000, 5000, []seg{{true, "PA", 1, 1, blocked}}, 1, 1 + n(blocked)},
		{"wraparound", 0xffffffe0, 0xfffffffa, []seg{{true, "PA", 1, 1, blocked}}, 1, 1 + n(blocked)},
		{"split request", 77, 99, []seg{{true, "PA", 1, 1, blocked[:10]}, {false, "A", 1, 11, ""}, {true, "PA", 11, 1, blocked[10:]}}, 1, 1 + n(blocked)},
		{"pipelined, second blocked", 5, 6, []seg{
			{true, "PA", 1, 1, ok}, {false, "PA", 1, 1 + n(ok), resp}, {true, "PA", 1 + n(ok), 1 + n(resp), blocked},
		}, 1 + n(resp), 1 + n(ok) + n(blocked)},
	}
	dir := t.TempDir()
	rf := filepath.Join(dir, "rules.yaml")
	os.WriteFile(rf, []byte("lists:\n  - id: l\n    action: inject\n    domains: [blocked.example]\n"), 0o644)
	set, err := rules.LoadFiles(rf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pcapPath, dry := filepath.Join(t.TempDir(), "c.pcap"), filepath.Join(t.TempDir(), "dry.pcap")
			writeTCPConn(t, pcapPath, tc.cISN, tc.sISN, append(append([]seg{}, hs...), tc.segs...))
			icfg := inject.DefaultConfig()
			icfg.Enabled, icfg.DryRunPcap = true, dry
			inj, err := inject.New(icfg)
			if err != nil {
				t.Fatal(err)
			}
			evs, _, err := replayFile(t, pcapPath, Config{Protocols: DefaultProtocols(), Rules: rules.NewHolder(set), Inject: inj})
			inj.Close()
			if err != nil {
				t.Fatal(err)
			}
			var ev *detect.Event
			for _, e := range evs {
				if e.Type == detect.TypeInject {
					ev = e
				}
			}
			if ev == nil {
				t.Fatal("no inject event")
			}
			if ev.Inject.Seq != tc.sISN+tc.wantSeq || ev.Inject.Ack != tc.cISN+tc.wantAck {
				t.Errorf("warning seq/ack = %d/%d, want %d/%d", ev.Inject.Seq, ev.Inject.Ack, tc.sISN+tc.wantSeq, tc.cISN+tc.wantAck)
			}
			// The server-bound RST carries the client's next sequence number.
			f, _ := os.Open(dry)
			defer f.Close()
			rd, err := pcapgo.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			var rst *layers.TCP
			for {
				data, _, err := rd.ReadPacketData()
				if err != nil {
					break
				}
				p := gopacket.NewPacket(data, layers.LayerTypeEthernet, gopacket.Default)
				if tcp, ok := p.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && tcp.RST {
					rst = tcp
				}
			}
			if rst == nil || rst.Seq != tc.cISN+tc.wantAck || rst.DstPort != 80 {
				t.Errorf("server RST %+v, want seq %d", rst, tc.cISN+tc.wantAck)
			}
		})
	}
}
