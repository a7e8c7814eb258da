package pipeline

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// TestReplayFileTruncatedWhileRead: the replay reads capture files through
// a memory mapping; a file cut short by someone else mid-replay must end
// that replay with an error, not crash the process (SIGBUS).
func TestReplayFileTruncatedWhileRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriter(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	frame := make([]byte, 1000)
	start := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	const n = 40000 // 40 MB over 20 s of packet time
	for i := 0; i < n; i++ {
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * 500 * time.Microsecond), CaptureLength: len(frame), Length: len(frame)}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	f.Close()

	cfg := Config{Shards: 1, Speed: 1, Decode: capture.DefaultDecoderConfig(), Flow: reassembly.DefaultFlowConfig()}
	r := NewReplay(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), &countingPublisher{}, nil)
	done := make(chan error, 1)
	go func() { done <- r.Run(context.Background(), []string{path}) }()
	time.Sleep(300 * time.Millisecond)
	if err := os.Truncate(path, 4096); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "changed while it was read") {
			t.Fatalf("replay of a truncated file: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("replay did not end")
	}
}
