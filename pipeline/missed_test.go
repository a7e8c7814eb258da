package pipeline

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestMissedBytesFromRealCapture removes the server's HTTP response
// segment from the real demo capture (as a lossy SPAN port would): the
// client acknowledges bytes the sensor never saw, and the flow event's
// missed_bytes must be exactly that segment's payload; the untouched
// capture reports 0 for every flow.
func TestMissedBytesFromRealCapture(t *testing.T) {
	src := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap")
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rd, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "lossy.pcap")
	of, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(of)
	if err := w.WriteFileHeader(65535, rd.LinkType()); err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for {
		data, ci, err := rd.ReadPacketData()
		if err != nil {
			break
		}
		pkt := gopacket.NewPacket(data, rd.LinkType(), gopacket.Default)
		if tcp, ok := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP); ok && dropped == 0 && tcp.SrcPort == 80 && len(tcp.Payload) > 0 {
			if ip, ok := pkt.Layer(layers.LayerTypeIPv4).(*layers.IPv4); ok && ip.SrcIP.String() == "192.0.2.20" {
				dropped = len(tcp.Payload)
				continue
			}
		}
		if err := w.WritePacket(ci, data); err != nil {
			t.Fatal(err)
		}
	}
	of.Close()
	if dropped == 0 {
		t.Fatal("demo.pcap has no IPv4 HTTP response segment to drop")
	}
	missed := func(path string) (total uint64, flows int) {
		evs, _, err := replayFile(t, path, Config{Protocols: DefaultProtocols()})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Type == detect.TypeFlow && e.Flow.MissedBytes > 0 {
				total += e.Flow.MissedBytes
				flows++
			}
		}
		return
	}
	if n, _ := missed(src); n != 0 {
		t.Errorf("intact capture: missed_bytes %d, want 0", n)
	}
	if n, flows := missed(out); n != uint64(dropped) || flows != 1 {
		t.Errorf("lossy capture: missed_bytes %d in %d flows, want %d in 1", n, flows, dropped)
	}
}
