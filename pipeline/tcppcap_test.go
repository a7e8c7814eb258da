package pipeline

import (
	"bytes"
	"net"
	"os"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// tcpPcap writes one IPv4 TCP conversation between a client and a server
// into a pcap, a segment per call, 1 ms apart.
type tcpPcap struct {
	t            *testing.T
	buf          bytes.Buffer
	w            *pcapgo.Writer
	cli, srv     net.IP
	cport, sport layers.TCPPort
	ts           time.Time
}

func newTCPPcap(t *testing.T, cli, srv net.IP, cport, sport layers.TCPPort) *tcpPcap {
	t.Helper()
	c := &tcpPcap{t: t, cli: cli, srv: srv, cport: cport, sport: sport, ts: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	c.w = pcapgo.NewWriter(&c.buf)
	if err := c.w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	return c
}

// segment writes one segment (ACK set when ackf).
func (c *tcpPcap) segment(fromClient bool, seq, ack uint32, syn, fin, ackf bool, payload []byte) {
	c.t.Helper()
	src, dst, sp, dp := c.cli, c.srv, c.cport, c.sport
	if !fromClient {
		src, dst, sp, dp = c.srv, c.cli, c.sport, c.cport
	}
	ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
	tcp := &layers.TCP{SrcPort: sp, DstPort: dp, Seq: seq, Ack: ack, SYN: syn, FIN: fin, ACK: ackf, PSH: len(payload) > 0, Window: 65535}
	_ = tcp.SetNetworkLayerForChecksum(ip)
	sb := gopacket.NewSerializeBuffer()
	err := gopacket.SerializeLayers(sb, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		&layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload(payload))
	if err != nil {
		c.t.Fatal(err)
	}
	c.ts = c.ts.Add(time.Millisecond)
	if err := c.w.WritePacket(gopacket.CaptureInfo{Timestamp: c.ts, CaptureLength: len(sb.Bytes()), Length: len(sb.Bytes())}, sb.Bytes()); err != nil {
		c.t.Fatal(err)
	}
}

// save writes the pcap to path.
func (c *tcpPcap) save(path string) {
	c.t.Helper()
	if err := os.WriteFile(path, c.buf.Bytes(), 0o644); err != nil {
		c.t.Fatal(err)
	}
}
