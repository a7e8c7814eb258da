package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)

func testFrames(t testing.TB, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		v4 := ip4("192.0.2.10", "198.51.100.20", layers.IPProtocolTCP)
		out = append(out, ser(t, eth(layers.EthernetTypeIPv4), v4, tcpSyn(uint16(40000+i), 80, v4)))
	}
	return out
}

func writePcap(t testing.TB, path string, nanos bool, lt layers.LinkType, frames [][]byte) {
	t.Helper()
	var buf bytes.Buffer
	var w *pcapgo.Writer
	if nanos {
		w = pcapgo.NewWriterNanos(&buf)
	} else {
		w = pcapgo.NewWriter(&buf)
	}
	if err := w.WriteFileHeader(65535, lt); err != nil {
		t.Fatal(err)
	}
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func readAll(t testing.TB, path string) ([]Frame, error) {
	t.Helper()
	r, err := OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	var out []Frame
	for {
		var f Frame
		err := r.ReadFrame(&f)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		f.Data = append([]byte(nil), f.Data...)
		out = append(out, f)
	}
}

func TestFileReader(t *testing.T) {
	dir := t.TempDir()
	frames := testFrames(t, 3)

	t.Run("pcap microseconds", func(t *testing.T) {
		p := filepath.Join(dir, "us.pcap")
		writePcap(t, p, false, layers.LinkTypeEthernet, frames)
		got, err := readAll(t, p)
		if err != nil || len(got) != 3 {
			t.Fatalf("got %d frames, err %v", len(got), err)
		}
		if got[1].Timestamp != t0.Add(time.Millisecond).Truncate(time.Microsecond).UnixNano() || got[1].LinkType != LinkEthernet {
			t.Errorf("frame 2: ts %d lt %d", got[1].Timestamp, got[1].LinkType)
		}
		if !bytes.Equal(got[2].Data, frames[2]) {
			t.Error("frame 3 data differs")
		}
	})
	t.Run("pcap nanoseconds", func(t *testing.T) {
		p := filepath.Join(dir, "ns.pcap")
		writePcap(t, p, true, layers.LinkTypeEthernet, frames)
		got, err := readAll(t, p)
		if err != nil || len(got) != 3 || got[0].Timestamp != t0.UnixNano() {
			t.Fatalf("got %d frames, err %v, ts %d want %d", len(got), err, got[0].Timestamp, t0.UnixNano())
		}
	})
	t.Run("pcap big-endian", func(t *testing.T) {
		var buf bytes.Buffer
		be := binary.BigEndian
		hdr := make([]byte, 24)
		be.PutUint32(hdr[0:], 0xa1b2c3d4)
		be.PutUint16(hdr[4:], 2)
		be.PutUint16(hdr[6:], 4)
		be.PutUint32(hdr[16:], 65535)
		be.PutUint32(hdr[20:], 1)
		buf.Write(hdr)
		for i, f := range frames {
			rec := make([]byte, 16)
			be.PutUint32(rec[0:], uint32(t0.Unix()))
			be.PutUint32(rec[4:], uint32(i))
			be.PutUint32(rec[8:], uint32(len(f)))
			be.PutUint32(rec[12:], uint32(len(f)))
			buf.Write(rec)
			buf.Write(f)
		}
		p := filepath.Join(dir, "be.pcap")
		os.WriteFile(p, buf.Bytes(), 0o644)
		got, err := readAll(t, p)
		if err != nil || len(got) != 3 || got[2].Timestamp != t0.Unix()*1e9+2000 {
			t.Fatalf("got %d frames, err %v", len(got), err)
		}
	})
	t.Run("pcapng two interfaces with different link types", func(t *testing.T) {
		var buf bytes.Buffer
		w, err := pcapgo.NewNgWriterInterface(&buf, pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}, pcapgo.DefaultNgWriterOptions)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := w.AddInterface(pcapgo.NgInterface{Name: "tun0", LinkType: layers.LinkTypeRaw, SnapLength: 65535})
		if err != nil {
			t.Fatal(err)
		}
		ipOnly := frames[1][14:]
		w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(frames[0]), Length: len(frames[0]), InterfaceIndex: 0}, frames[0])
		w.WritePacket(gopacket.CaptureInfo{Timestamp: t0, CaptureLength: len(ipOnly), Length: len(ipOnly), InterfaceIndex: raw}, ipOnly)
		w.Flush()
		p := filepath.Join(dir, "multi.pcapng")
		os.WriteFile(p, buf.Bytes(), 0o644)
		got, err := readAll(t, p)
		if err != nil || len(got) != 2 {
			t.Fatalf("got %d frames, err %v", len(got), err)
		}
		if got[0].LinkType != LinkEthernet || got[1].LinkType != layers.LinkTypeRaw || got[1].Interface != 1 {
			t.Errorf("link types %d/%d, interface %d", got[0].LinkType, got[1].LinkType, got[1].Interface)
		}
		d := NewDecoder(DefaultDecoderConfig())
		var pk Packet
		if d.Decode(&pk, got[1].LinkType, got[1].Data, got[1].Timestamp, len(got[1].Data)) != Decoded || pk.SrcPort != 40001 {
			t.Errorf("raw-IP frame from the second interface did not decode: %+v", pk)
		}
	})
	t.Run("truncated file names frame and offset", func(t *testing.T) {
		p := filepath.Join(dir, "trunc.pcap")
		writePcap(t, p, false, layers.LinkTypeEthernet, frames)
		full, _ := os.ReadFile(p)
		os.WriteFile(p, full[:len(full)-10], 0o644)
		got, err := readAll(t, p)
		if len(got) != 2 {
			t.Errorf("got %d frames before the error, want 2", len(got))
		}
		off := 24 + 2*(16+len(frames[0]))
		if err == nil || !strings.Contains(err.Error(), "frame 3 at byte offset "+strconv.Itoa(off)) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("err = %v, want frame 3 at byte offset %d, truncated", err, off)
		}
	})
	t.Run("corrupt record length", func(t *testing.T) {
		p := filepath.Join(dir, "corrupt.pcap")
		writePcap(t, p, false, layers.LinkTypeEthernet, frames)
		b, _ := os.ReadFile(p)
		rec := 24 + 16 + len(frames[0])
		binary.LittleEndian.PutUint32(b[rec+8:], 200<<20)
		binary.LittleEndian.PutUint32(b[rec+12:], 200<<20)
		os.WriteFile(p, b, 0o644)
		got, err := readAll(t, p)
		if len(got) != 1 || err == nil || !strings.Contains(err.Error(), "frame 2 at byte offset "+strconv.Itoa(rec)) {
			t.Errorf("got %d frames, err %v", len(got), err)
		}
	})
	t.Run("unknown link type", func(t *testing.T) {
		p := filepath.Join(dir, "user0.pcap")
		writePcap(t, p, false, layers.LinkType(147), frames)
		_, err := OpenFile(p)
		if !errors.Is(err, ErrUnsupportedLinkType) || !strings.Contains(err.Error(), "147") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("not a capture", func(t *testing.T) {
		p := filepath.Join(dir, "text.pcap")
		os.WriteFile(p, []byte("hello, this is not a pcap"), 0o644)
		if _, err := OpenFile(p); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("err = %v", err)
		}
		os.WriteFile(p, nil, 0o644)
		if _, err := OpenFile(p); !errors.Is(err, ErrUnknownFormat) {
			t.Errorf("empty file: err = %v", err)
		}
		if _, err := OpenFile(filepath.Join(dir, "missing.pcap")); err == nil {
			t.Error("missing file: no error")
		}
	})
}
