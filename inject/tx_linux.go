package inject

import (
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
	"golang.org/x/sys/unix"
)

// rawSender writes frames to an interface through an AF_PACKET socket
// (protocol 0: it receives nothing). sendto on one socket is safe from
// several goroutines.
type rawSender struct {
	fd   int
	addr unix.SockaddrLinklayer
}

func newRawSender(ifi *net.Interface) (*rawSender, error) {
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("inject: TX socket on %s: %w (needs CAP_NET_RAW)", ifi.Name, err)
	}
	return &rawSender{fd: fd, addr: unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}}, nil
}

func (s *rawSender) Send(frame []byte, _ time.Time) error {
	for tries := 0; ; tries++ {
		err := unix.Sendto(s.fd, frame, 0, &s.addr)
		if err == unix.ENOBUFS && tries < 3 {
			continue
		}
		return err
	}
}

func (s *rawSender) Close() error { return unix.Close(s.fd) }

// pcapSender is dry-run mode: frames go to a pcap file, with the time
// they would have been sent.
type pcapSender struct {
	mu sync.Mutex
	f  *os.File
	w  *pcapgo.Writer
}

func newPcapSender(path string) (*pcapSender, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("inject: dry_run_pcap: %w", err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, fmt.Errorf("inject: dry_run_pcap: %w", err)
	}
	return &pcapSender{f: f, w: w}, nil
}

func (s *pcapSender) Send(frame []byte, ts time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame)
}

func (s *pcapSender) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}
