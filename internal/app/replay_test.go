package app

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/pipeline"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestProgressLine(t *testing.T) {
	var p pipeline.Progress
	p.TotalSize.Store(1000)
	p.FilePos.Store(250)
	p.Frames.Store(12345)
	p.Bytes.Store(2_500_000)
	var out syncBuffer
	stop := startProgress(&out, &p)
	time.Sleep(600 * time.Millisecond) // one redraw at least
	stop()
	s := out.String()
	for _, want := range []string{"\r12345 packets", "2.5 MB", "pkts/s", "25%", "ETA"} {
		if !strings.Contains(s, want) {
			t.Errorf("progress output %q lacks %q", s, want)
		}
	}
	if !strings.HasSuffix(s, "\n") {
		t.Error("the final line does not end the status line")
	}
}
