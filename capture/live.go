package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/config"
)

// LiveConfig is the `capture.live:` section: how live sources are opened.
// Interfaces, fanout mode and the BPF expression live in the parent
// section (they are DESIGN.md contract keys).
type LiveConfig struct {
	// Source picks the capture mechanism: afpacket (Linux TPACKET_V3 with
	// fanout, the default) or pcap (libpcap, for systems without
	// AF_PACKET; needs a build with -tags libpcap).
	Source string `yaml:"source"`
	// BlockSize is the size of one TPACKET_V3 ring block (a power of two,
	// a multiple of the page size). The ring of one socket is
	// BlockSize × Blocks bytes.
	BlockSize config.ByteSize `yaml:"block_size"`
	// Blocks is the number of ring blocks per socket.
	Blocks int `yaml:"blocks"`
	// FrameSize is the snap length per packet (the TPACKET frame size;
	// packets longer than this are truncated and counted as truncated).
	FrameSize int `yaml:"frame_size"`
	// BlockTimeout retires a partly filled block to the reader after this
	// long: on a quiet link it bounds the delay from the wire to the
	// shard, which an injection races against.
	BlockTimeout time.Duration `yaml:"block_timeout"`
	// PollTimeout is how long a read waits for the ring before the shard
	// processes the packets it has (it also bounds the extra delay).
	PollTimeout time.Duration `yaml:"poll_timeout"`
	// FanoutDefrag asks the kernel to reassemble IP fragments before the
	// fanout hash, so every fragment of a datagram reaches the same shard.
	FanoutDefrag bool `yaml:"fanout_defrag"`
	// FanoutGroup is the PACKET_FANOUT group id (per interface); 0 derives
	// one from the process id, so two sensors on one host do not mix.
	FanoutGroup int `yaml:"fanout_group"`
	// Promiscuous puts the interface in promiscuous mode while capturing.
	// It is a socket membership: the kernel restores the interface when
	// the last socket closes, even if the sensor is killed.
	Promiscuous bool `yaml:"promiscuous"`
	// SpanDedupWindow drops a packet identical to one seen within this
	// window on the same shard (a SPAN port mirroring both the ingress and
	// the egress copy). 0 turns it off.
	SpanDedupWindow time.Duration `yaml:"span_dedup_window"`
	// User, when set, is the user (name or uid) the sensor switches to
	// after its capture sockets are open.
	User string `yaml:"user"`
}

// DefaultLiveConfig returns the live-capture defaults: a 64 MiB ring per
// socket, 256 KiB snap length (jumbo frames and GRO-merged segments fit).
func DefaultLiveConfig() LiveConfig {
	return LiveConfig{
		Source:       "afpacket",
		BlockSize:    1 << 20,
		Blocks:       64,
		FrameSize:    1 << 16,
		BlockTimeout: 2 * time.Millisecond,
		PollTimeout:  time.Millisecond,
		FanoutDefrag: true,
		Promiscuous:  true,
	}
}

// Validate checks the section.
func (c LiveConfig) Validate() error {
	var errs []error
	switch c.Source {
	case "afpacket", "pcap":
	default:
		errs = append(errs, fmt.Errorf("source: %q is not one of afpacket, pcap", c.Source))
	}
	if c.BlockSize < 4096 || c.BlockSize&(c.BlockSize-1) != 0 {
		errs = append(errs, fmt.Errorf("block_size: %d is not a power of two >= 4096", c.BlockSize))
	}
	if c.Blocks < 1 {
		errs = append(errs, fmt.Errorf("blocks: must be >= 1, got %d", c.Blocks))
	}
	if c.FrameSize < 128 || c.FrameSize%16 != 0 || int64(c.FrameSize) > int64(c.BlockSize) {
		errs = append(errs, fmt.Errorf("frame_size: %d must be a multiple of 16 between 128 and block_size", c.FrameSize))
	}
	if c.BlockTimeout < time.Millisecond {
		errs = append(errs, errors.New("block_timeout: must be >= 1ms"))
	}
	if c.PollTimeout < time.Millisecond {
		errs = append(errs, errors.New("poll_timeout: must be >= 1ms"))
	}
	if c.FanoutGroup < 0 || c.FanoutGroup > 0xffff {
		errs = append(errs, fmt.Errorf("fanout_group: %d out of range 0..65535", c.FanoutGroup))
	}
	if c.SpanDedupWindow < 0 {
		errs = append(errs, errors.New("span_dedup_window: must be >= 0"))
	}
	return errors.Join(errs...)
}

// ErrTimeout is returned by LiveSource.ReadFrame when no packet arrived
// within the poll timeout; the caller lets time pass and reads again.
var ErrTimeout = errors.New("capture: poll timeout")

// LiveSource is one capture socket. A shard reads its sources from its
// own goroutine; Stats may be called from any goroutine.
type LiveSource interface {
	// ReadFrame fills fr with the next frame. fr.Data is valid until the
	// next ReadFrame. ErrTimeout means nothing arrived in time.
	ReadFrame(fr *Frame) error
	// Stats returns the kernel's counters for this socket, accumulated
	// since it was opened.
	Stats() SourceStats
	// Close releases the socket (and its promiscuous membership).
	Close() error
}

// SourceStats are one socket's counters. Packets counts what the kernel
// accepted for the socket (after the BPF filter), Drops those it then
// dropped because the ring was full, so Packets - Drops reached the
// sensor. Freezes counts TPACKET_V3 queue freezes (the ring ran full).
type SourceStats struct {
	Interface string `json:"interface"`
	Socket    int    `json:"socket"`
	Packets   uint64 `json:"packets"`
	Drops     uint64 `json:"drops"`
	Freezes   uint64 `json:"freezes"`
}

// LiveSpec says what to open: the interfaces, one socket per shard on
// each (a fanout group per interface), the fanout mode and the filter.
type LiveSpec struct {
	Interfaces []string
	Shards     int
	Fanout     string // hash | cpu | lb
	BPF        string // tcpdump expression
	Live       LiveConfig
}

// OpenLive opens the sources of spec: result[shard] holds that shard's
// socket on every interface, in spec order. On error every socket opened
// so far is closed and the error names the interface and the reason
// (missing interface, missing capability, bad filter).
func OpenLive(spec LiveSpec) ([][]LiveSource, error) {
	if len(spec.Interfaces) == 0 {
		return nil, errors.New("capture: no interface to capture from (capture.interfaces or -i)")
	}
	if spec.Shards < 1 {
		spec.Shards = 1
	}
	out := make([][]LiveSource, spec.Shards)
	closeAll := func() {
		for _, ss := range out {
			for _, s := range ss {
				s.Close()
			}
		}
	}
	for ifn, name := range spec.Interfaces {
		var (
			srcs []LiveSource
			err  error
		)
		switch spec.Live.Source {
		case "pcap":
			srcs, err = openPcapLive(name, spec)
		default:
			srcs, err = openAFPacket(name, ifn, spec)
		}
		if err != nil {
			closeAll()
			return nil, err
		}
		for i, s := range srcs {
			out[i] = append(out[i], s)
		}
	}
	return out, nil
}
