package capture

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/sys/unix"
)

// afSource is one TPACKET_V3 socket in a fanout group.
type afSource struct {
	tp       *afpacket.TPacket
	iface    string
	ifindex  int
	socket   int
	linkType layers.LinkType

	mu    sync.Mutex // Stats may run while the shard reads
	stats SourceStats
}

// openAFPacket opens spec.Shards sockets on iface, joined in one fanout
// group (when more than one), each with the BPF filter and promiscuous
// membership applied.
func openAFPacket(iface string, ifn int, spec LiveSpec) ([]LiveSource, error) {
	ni, err := net.InterfaceByName(iface)
	if err != nil {
		return nil, fmt.Errorf("capture: interface %q: %w", iface, err)
	}
	lt, err := linkTypeOf(iface)
	if err != nil {
		return nil, err
	}
	prog, err := CompileBPF(iface, spec.BPF, spec.Live.FrameSize)
	if err != nil {
		return nil, err
	}
	fanout, err := fanoutType(spec.Fanout, spec.Live.FanoutDefrag)
	if err != nil {
		return nil, err
	}
	group := uint16(spec.Live.FanoutGroup)
	if group == 0 {
		group = uint16(os.Getpid())
	}
	group += uint16(ifn) // one group per interface: the kernel ties a group to one device

	var out []LiveSource
	fail := func(err error) ([]LiveSource, error) {
		for _, s := range out {
			s.Close()
		}
		return nil, err
	}
	for i := 0; i < spec.Shards; i++ {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(iface),
			afpacket.TPacketVersion3,
			afpacket.OptFrameSize(spec.Live.FrameSize),
			afpacket.OptBlockSize(int(spec.Live.BlockSize)),
			afpacket.OptNumBlocks(spec.Live.Blocks),
			afpacket.OptBlockTimeout(spec.Live.BlockTimeout),
			afpacket.OptPollTimeout(spec.Live.PollTimeout),
			afpacket.OptAddVLANHeader(true), // the kernel strips tags the NIC offloads; put them back
			afpacket.SocketRaw,
		)
		if err != nil {
			return fail(socketError(iface, err))
		}
		s := &afSource{tp: tp, iface: iface, ifindex: ni.Index, socket: i, linkType: lt}
		s.stats = SourceStats{Interface: iface, Socket: i}
		out = append(out, s)
		if len(prog) > 0 {
			if err := tp.SetBPF(prog); err != nil {
				return fail(fmt.Errorf("capture: attach bpf on %s: %w", iface, err))
			}
		}
		if spec.Live.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fail(socketError(iface, fmt.Errorf("promiscuous mode: %w", err)))
			}
		}
		if spec.Shards > 1 {
			if err := tp.SetFanout(fanout, group); err != nil {
				return fail(fmt.Errorf("capture: fanout group %d on %s: %w", group, iface, err))
			}
		}
	}
	return out, nil
}

func fanoutType(mode string, defrag bool) (afpacket.FanoutType, error) {
	var t afpacket.FanoutType
	switch mode {
	case "", "hash":
		t = afpacket.FanoutHash
	case "cpu":
		t = afpacket.FanoutCPU
	case "lb":
		t = afpacket.FanoutLoadBalance
	default:
		return 0, fmt.Errorf("capture: fanout %q is not one of hash, cpu, lb", mode)
	}
	if defrag {
		// the flag sits in the upper byte of the type (PACKET_FANOUT_FLAG_DEFRAG = 0x8000)
		t |= afpacket.FanoutType(unix.PACKET_FANOUT_FLAG_DEFRAG)
	}
	return t, nil
}

// socketError explains the usual failures: no capability, no interface.
func socketError(iface string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("capture: %s: %w (live capture needs CAP_NET_RAW, and CAP_NET_ADMIN for promiscuous mode: run as root or setcap cap_net_raw,cap_net_admin+ep on the binary)", iface, err)
	}
	if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.ENXIO) {
		return fmt.Errorf("capture: interface %q does not exist: %w", iface, err)
	}
	return fmt.Errorf("capture: %s: %w", iface, err)
}

// linkTypeOf maps the interface's ARPHRD type to the link type of the
// frames an AF_PACKET SOCK_RAW socket delivers.
func linkTypeOf(iface string) (layers.LinkType, error) {
	b, err := os.ReadFile("/sys/class/net/" + iface + "/type")
	if err != nil {
		return 0, fmt.Errorf("capture: interface %q: %w", iface, err)
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("capture: interface %q: bad type %q", iface, b)
	}
	switch t {
	case unix.ARPHRD_ETHER, unix.ARPHRD_LOOPBACK:
		return LinkEthernet, nil
	case unix.ARPHRD_NONE, unix.ARPHRD_IPGRE, unix.ARPHRD_TUNNEL, unix.ARPHRD_TUNNEL6, unix.ARPHRD_SIT:
		return LinkRaw, nil
	}
	return 0, fmt.Errorf("capture: interface %q: link type (ARPHRD %d) not supported", iface, t)
}

func (s *afSource) ReadFrame(fr *Frame) error {
	for {
		data, ci, err := s.tp.ZeroCopyReadPacketData()
		if err != nil {
			if errors.Is(err, afpacket.ErrTimeout) {
				return ErrTimeout
			}
			return fmt.Errorf("capture: %s: %w", s.iface, err)
		}
		// A socket is created for every interface and bound to one after:
		// drop what slipped in from others before the bind.
		if ci.InterfaceIndex != s.ifindex && ci.InterfaceIndex != 0 {
			continue
		}
		fr.Data, fr.Timestamp, fr.WireLen, fr.LinkType, fr.Interface = data, ci.Timestamp.UnixNano(), ci.Length, s.linkType, 0
		if fr.Timestamp <= 0 {
			fr.Timestamp = time.Now().UnixNano()
		}
		return nil
	}
}

// Stats reads the kernel's counters. The kernel zeroes them on every
// read; afpacket.TPacket accumulates them, and so the totals here are
// since the socket was opened.
func (s *afSource) Stats() SourceStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp == nil {
		return s.stats
	}
	if _, v3, err := s.tp.SocketStats(); err == nil {
		s.stats.Packets, s.stats.Drops, s.stats.Freezes = uint64(v3.Packets()), uint64(v3.Drops()), uint64(v3.QueueFreezes())
	}
	return s.stats
}

func (s *afSource) Close() error {
	s.Stats() // keep the last counters
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tp != nil {
		s.tp.Close()
		s.tp = nil
	}
	return nil
}
