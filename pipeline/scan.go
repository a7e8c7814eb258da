package pipeline

import (
	"sync"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/scan"
)

// sharedScan is the one scan detector all shards feed. A scan's probes
// are separate flows, which hash to different shards: with a detector per
// shard each saw a slice of the scan, so a large one was reported once
// per shard and one just over a threshold by none. Only probe-shaped
// packets (TCP without ACK or RST, a UDP flow's first packet) and one
// "established" per TCP flow take the lock.
type sharedScan struct {
	mu sync.Mutex
	d  *scan.Detector
}

func newSharedScan(cfg scan.Config) *sharedScan {
	d, _ := scan.New(cfg) // validated with the config
	return &sharedScan{d: d}
}

// observe counts one probe and calls emit, under the lock, for each
// anomaly it completes (the detector reuses its result slice).
func (s *sharedScan) observe(p *capture.Packet, emit func(a *detect.Anomaly)) {
	s.mu.Lock()
	for _, a := range s.d.Observe(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Flags, p.Timestamp) {
		emit(a)
	}
	s.mu.Unlock()
}

func (s *sharedScan) established(dst capture.Addr, dport uint16, ts int64) {
	s.mu.Lock()
	s.d.Established(dst, dport, ts)
	s.mu.Unlock()
}

// Stats returns the detector's counters.
func (s *sharedScan) Stats() scan.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.d.Stats()
}
