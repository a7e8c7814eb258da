//go:build unix

package capture

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// mmapPcap reads a classic pcap file mapped into memory: records are
// parsed in place, with no read syscalls and no copy through a buffer
// (the kernel maps the page cache; a replay of a file read before costs
// no I/O at all). Frames alias the mapping, which lives until Close.
type mmapPcap struct {
	mm        []byte
	pos       int
	order     binary.ByteOrder
	nsFactor  uint32
	snaplen   uint32
	maxCapLen int
	released  int // bytes before this offset were given back (MADV_DONTNEED)
}

// releaseEvery: consumed pages are dropped from the mapping every this
// many bytes, so the process's resident set stays small (the pages stay
// in the page cache; frames handed out are valid only until the next
// read, so nothing behind the reader is still in use).
const releaseEvery = 32 << 20

// openMmapPcap maps f when it is an uncompressed pcap file; nil when it is
// not (pcapng, gzip, an empty or unmappable file): the buffered reader
// takes over.
func openMmapPcap(f *os.File, size int64) *mmapPcap {
	if size < 24 || size != int64(int(size)) {
		return nil
	}
	var hdr [24]byte
	if _, err := f.ReadAt(hdr[:], 0); err != nil {
		return nil
	}
	m := &mmapPcap{pos: 24}
	switch binary.LittleEndian.Uint32(hdr[:4]) {
	case 0xA1B2C3D4:
		m.order, m.nsFactor = binary.LittleEndian, 1000
	case 0xA1B23C4D:
		m.order, m.nsFactor = binary.LittleEndian, 1
	case 0xD4C3B2A1:
		m.order, m.nsFactor = binary.BigEndian, 1000
	case 0x4D3CB2A1:
		m.order, m.nsFactor = binary.BigEndian, 1
	default:
		return nil
	}
	if m.order.Uint16(hdr[4:6]) != 2 || m.order.Uint16(hdr[6:8]) != 4 {
		return nil // the buffered reader reports the version error
	}
	m.snaplen = m.order.Uint32(hdr[16:20])
	// Writers that do not truncate to the snap length they declare exist;
	// read records up to 256 KiB (as pcapgo, tcpdump and Wireshark do).
	m.maxCapLen = max(int(m.snaplen), 262144)
	// MAP_PRIVATE with write access: copy-on-write, so a decoder that ever
	// wrote into a frame would change its own copy, never fault or the file.
	mm, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE)
	if err != nil {
		return nil
	}
	_ = syscall.Madvise(mm, syscall.MADV_SEQUENTIAL)
	m.mm = mm
	return m
}

// next returns the next record; io.EOF at the clean end of the file.
func (m *mmapPcap) next() (data []byte, ts int64, wireLen int, err error) {
	rest := len(m.mm) - m.pos
	if rest == 0 {
		return nil, 0, 0, io.EOF
	}
	if rest < 16 {
		return nil, 0, 0, io.ErrUnexpectedEOF
	}
	h := m.mm[m.pos : m.pos+16]
	sec := int64(m.order.Uint32(h[0:4]))
	frac := int64(m.order.Uint32(h[4:8]) * m.nsFactor) // as pcapgo: 32-bit product
	capLen := int(m.order.Uint32(h[8:12]))
	origLen := int(m.order.Uint32(h[12:16]))
	if capLen > m.maxCapLen {
		return nil, 0, 0, fmt.Errorf("capture length exceeds snap length: %d > %d", capLen, m.snaplen)
	}
	if capLen > origLen {
		return nil, 0, 0, fmt.Errorf("capture length exceeds original packet length: %d > %d", capLen, origLen)
	}
	if rest-16 < capLen {
		return nil, 0, 0, io.ErrUnexpectedEOF
	}
	start := m.pos + 16
	if start-m.released >= 2*releaseEvery {
		end := (start - releaseEvery) &^ (os.Getpagesize() - 1)
		_ = syscall.Madvise(m.mm[m.released:end], syscall.MADV_DONTNEED)
		m.released = end
	}
	m.pos = start + capLen
	return m.mm[start:m.pos:m.pos], time.Unix(sec, frac).UnixNano(), origLen, nil
}

func (m *mmapPcap) close() error {
	if m.mm == nil {
		return nil
	}
	err := syscall.Munmap(m.mm)
	m.mm = nil
	return err
}
