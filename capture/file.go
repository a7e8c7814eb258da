package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// ErrUnknownFormat: the file is neither pcap nor pcapng (gzip of either is fine).
var ErrUnknownFormat = errors.New("not a pcap or pcapng file")

// ErrUnsupportedLinkType: the capture's link type is not one the decoder reads.
var ErrUnsupportedLinkType = errors.New("unsupported link type")

// Frame is one captured frame. Data is owned by the reader and valid until
// the next ReadFrame call.
type Frame struct {
	Data      []byte
	Timestamp int64 // Unix ns
	WireLen   int
	LinkType  layers.LinkType
	Interface int
}

// FileReader reads frames from a pcap or pcapng file (optionally gzipped),
// any link type the decoder supports, including pcapng files whose
// interfaces have different link types. Not safe for concurrent use.
type FileReader struct {
	path    string
	f       *os.File
	counter countingReader
	size    int64
	pcap    *pcapgo.Reader
	mm      *mmapPcap // classic pcap mapped into memory (unix); nil: pcap or ng reads
	ng      *pcapgo.NgReader
	ngLinks []layers.LinkType // per pcapng interface, filled as interfaces appear
	frames  uint64
	offset  int64 // pcap: file offset of the next record header
	link    layers.LinkType
}

// OpenFile opens a capture file and reads its header. Errors name the file.
func OpenFile(path string) (*FileReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("capture: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %w", err)
	}
	r := &FileReader{path: path, f: f, size: st.Size()}
	if r.mm = openMmapPcap(f, r.size); r.mm != nil {
		r.link = layers.LinkType(r.mm.order.Uint32(r.mm.mm[20:24]))
		r.offset = 24
		if !SupportedLinkType(r.link) {
			r.Close()
			return nil, fmt.Errorf("capture: %s: link type %d (%s): %w", path, r.link, r.link, ErrUnsupportedLinkType)
		}
		return r, nil
	}
	r.counter.r = f
	br := bufio.NewReaderSize(&r.counter, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		f.Close()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("capture: %s: empty or truncated file header: %w", path, ErrUnknownFormat)
		}
		return nil, fmt.Errorf("capture: %s: %w", path, err)
	}
	switch {
	case binary.BigEndian.Uint32(magic) == 0x0A0D0D0A:
		r.ng, err = pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
	case magic[0] == 0x1f && magic[1] == 0x8b:
		// gzip: pcapgo sniffs the inner format for pcap; try pcapng on failure.
		r.pcap, err = pcapgo.NewReader(br)
	default:
		switch binary.LittleEndian.Uint32(magic) {
		case 0xA1B2C3D4, 0xA1B23C4D, 0xD4C3B2A1, 0x4D3CB2A1:
			r.pcap, err = pcapgo.NewReader(br)
			r.offset = 24
		default:
			f.Close()
			return nil, fmt.Errorf("capture: %s: magic %x: %w", path, magic, ErrUnknownFormat)
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("capture: %s: reading file header: %w", path, err)
	}
	if r.pcap != nil {
		r.link = r.pcap.LinkType()
		if !SupportedLinkType(r.link) {
			f.Close()
			return nil, fmt.Errorf("capture: %s: link type %d (%s): %w", path, r.link, r.link, ErrUnsupportedLinkType)
		}
	} else {
		r.link = r.ng.LinkType()
	}
	return r, nil
}

// Path returns the file name.
func (r *FileReader) Path() string { return r.path }

// Size returns the file size in bytes (for progress).
func (r *FileReader) Size() int64 { return r.size }

// Position returns how many bytes of the file have been consumed (read
// ahead included), for progress displays.
func (r *FileReader) Position() int64 { return r.counter.n }

// Frames returns how many frames were read so far.
func (r *FileReader) Frames() uint64 { return r.frames }

// ReadFrame reads the next frame into fr. At the end of the file it returns
// io.EOF. A truncated or corrupt file gives an error naming the file, the
// frame number and the byte offset; frames read before it stay valid.
func (r *FileReader) ReadFrame(fr *Frame) error {
	var (
		data []byte
		ci   gopacket.CaptureInfo
		err  error
	)
	if r.mm != nil {
		data, ts, wireLen, err := r.mm.next()
		if err != nil {
			if err == io.EOF {
				return io.EOF
			}
			return r.wrapErr(err)
		}
		r.frames++
		r.offset = int64(r.mm.pos)
		r.counter.n = r.offset
		fr.Data, fr.LinkType, fr.Timestamp, fr.Interface = data, r.link, ts, 0
		fr.WireLen = max(wireLen, len(data))
		return nil
	}
	if r.pcap != nil {
		data, ci, err = r.pcap.ZeroCopyReadPacketData()
		fr.LinkType = r.link
	} else {
		data, ci, err = r.ng.ZeroCopyReadPacketData()
		if err == nil {
			fr.LinkType, err = r.ngLink(ci.InterfaceIndex)
		}
	}
	if err != nil {
		if err == io.EOF {
			return io.EOF
		}
		return r.wrapErr(err)
	}
	r.frames++
	if r.pcap != nil {
		r.offset += 16 + int64(ci.CaptureLength)
	}
	fr.Data = data
	fr.Timestamp = ci.Timestamp.UnixNano()
	fr.WireLen = max(ci.Length, len(data))
	fr.Interface = ci.InterfaceIndex
	return nil
}

func (r *FileReader) ngLink(i int) (layers.LinkType, error) {
	if i < len(r.ngLinks) && r.ngLinks[i] != 0xffff {
		return r.ngLinks[i], nil
	}
	intf, err := r.ng.Interface(i)
	if err != nil {
		return 0, err
	}
	for len(r.ngLinks) <= i {
		r.ngLinks = append(r.ngLinks, 0xffff)
	}
	if !SupportedLinkType(intf.LinkType) {
		return 0, fmt.Errorf("interface %d: link type %d (%s): %w", i, intf.LinkType, intf.LinkType, ErrUnsupportedLinkType)
	}
	r.ngLinks[i] = intf.LinkType
	return intf.LinkType, nil
}

func (r *FileReader) wrapErr(err error) error {
	if errors.Is(err, ErrUnsupportedLinkType) {
		return fmt.Errorf("capture: %s: frame %d: %w", r.path, r.frames+1, err)
	}
	if err == io.ErrUnexpectedEOF {
		err = errors.New("file truncated in the middle of a record")
	}
	if r.pcap != nil || r.mm != nil {
		return fmt.Errorf("capture: %s: frame %d at byte offset %d: %w", r.path, r.frames+1, r.offset, err)
	}
	return fmt.Errorf("capture: %s: after frame %d, near byte offset %d: %w", r.path, r.frames, r.counter.n, err)
}

// Close closes the file (and unmaps it).
func (r *FileReader) Close() error {
	if r.mm != nil {
		r.mm.close()
	}
	return r.f.Close()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
