//go:build libpcap

package capture

import (
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/pcap"
	"golang.org/x/net/bpf"
)

// This file is the libpcap build (-tags libpcap, needs libpcap-dev and
// cgo): in-process BPF compilation and the `source: pcap` live source.

func init() {
	compileWithLibpcap = func(iface, expr string, snaplen int) ([]bpf.RawInstruction, error) {
		h, err := pcap.NewInactiveHandle(iface)
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w", iface, err)
		}
		defer h.CleanUp()
		h.SetSnapLen(snaplen)
		a, err := h.Activate()
		if err != nil {
			return nil, fmt.Errorf("capture: %s: %w", iface, err)
		}
		defer a.Close()
		ins, err := a.CompileBPFFilter(expr)
		if err != nil {
			return nil, fmt.Errorf("capture: bpf %q on %s: %w", expr, iface, err)
		}
		out := make([]bpf.RawInstruction, len(ins))
		for i, in := range ins {
			out[i] = bpf.RawInstruction{Op: in.Code, Jt: in.Jt, Jf: in.Jf, K: in.K}
		}
		return out, nil
	}
}

// LibpcapAvailable reports whether this build has the libpcap source.
const LibpcapAvailable = true

type pcapSource struct {
	h     *pcap.Handle
	iface string
	// the kernel's counters through libpcap are already cumulative
}

func openPcapLive(iface string, spec LiveSpec) ([]LiveSource, error) {
	in, err := pcap.NewInactiveHandle(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: %s: %w", iface, err)
	}
	defer in.CleanUp()
	in.SetSnapLen(spec.Live.FrameSize)
	in.SetPromisc(spec.Live.Promiscuous)
	in.SetTimeout(spec.Live.PollTimeout)
	in.SetImmediateMode(false)
	in.SetBufferSize(int(int64(spec.Live.BlockSize) * int64(spec.Live.Blocks)))
	h, err := in.Activate()
	if err != nil {
		return nil, fmt.Errorf("capture: %s: %w", iface, err)
	}
	if spec.BPF != "" {
		if err := h.SetBPFFilter(spec.BPF); err != nil {
			h.Close()
			return nil, fmt.Errorf("capture: bpf %q on %s: %w", spec.BPF, iface, err)
		}
	}
	return []LiveSource{&pcapSource{h: h, iface: iface}}, nil
}

func (s *pcapSource) ReadFrame(fr *Frame) error {
	data, ci, err := s.h.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, pcap.NextErrorTimeoutExpired) {
			return ErrTimeout
		}
		return fmt.Errorf("capture: %s: %w", s.iface, err)
	}
	fr.Data, fr.Timestamp, fr.WireLen = data, ci.Timestamp.UnixNano(), ci.Length
	fr.LinkType, fr.Interface = s.h.LinkType(), 0
	if fr.Timestamp == 0 {
		fr.Timestamp = time.Now().UnixNano()
	}
	return nil
}

func (s *pcapSource) Stats() SourceStats {
	st := SourceStats{Interface: s.iface}
	if ps, err := s.h.Stats(); err == nil {
		st.Packets = uint64(ps.PacketsReceived)
		st.Drops = uint64(ps.PacketsDropped)
	}
	return st
}

func (s *pcapSource) Close() error { s.h.Close(); return nil }
