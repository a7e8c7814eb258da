package spool

import (
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// FuzzOpen writes arbitrary bytes as what a crashed or damaged run left in
// a spool directory — two segment files (with or without their magic) and a
// read position (with a valid checksum, or raw bytes) — then opens the spool
// and drains it. Properties: Open succeeds (damage is cut and counted, never
// fatal); every record Read returns passed its checksum; reading never fails
// after Open; the records read are the records Open counted; the spool takes
// and returns a new record afterwards, also across a reopen.
func FuzzOpen(f *testing.F) {
	var seg []byte
	for i := range 5 {
		seg = appendRecord(seg, rec(i))
	}
	f.Add(seg, []byte(nil), true, uint64(1), uint64(8), false, []byte{})
	f.Add(seg[:len(seg)-7], appendRecord(nil, rec(9)), true, uint64(1), uint64(8+len(appendRecord(nil, rec(0)))), false, []byte{})
	f.Add(seg, seg, true, uint64(2), uint64(3), false, []byte{})
	f.Add(seg, seg, false, uint64(0), uint64(0), true, []byte("garbage-position"))
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0}, []byte{}, true, uint64(1), uint64(1<<63), false, []byte{})

	base := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, seg1, seg2 []byte, withMagic bool, posSeq, posOff uint64, rawPos bool, pos []byte) {
		n++
		dir := filepath.Join(base, strconv.Itoa(n))
		if err := os.Mkdir(dir, 0o750); err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		write := func(name string, b []byte) {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o640); err != nil {
				t.Fatal(err)
			}
		}
		hdr := []byte(nil)
		if withMagic {
			hdr = []byte(magic)
		}
		write(segName(1), append(append([]byte(nil), hdr...), seg1...))
		write(segName(2), append([]byte(magic), seg2...))
		if rawPos {
			write(posFile, pos)
		} else {
			var b [20]byte
			binary.LittleEndian.PutUint64(b[0:8], posSeq)
			binary.LittleEndian.PutUint64(b[8:16], posOff)
			binary.LittleEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
			write(posFile, b[:])
		}
		cfg := Config{Dir: dir, MaxBytes: 1 << 20, SegmentBytes: 4096, MaxRecordBytes: 1 << 16}
		s, err := Open(cfg)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer func() { s.Close() }()
		st := s.Stats()
		var read uint64
		for {
			b, err := s.Read(3, 200)
			if err != nil {
				t.Fatalf("read after a successful open (stats %+v): %v", st, err)
			}
			if len(b.Records) == 0 {
				break
			}
			read += uint64(len(b.Records))
			if err := s.Ack(b); err != nil {
				t.Fatal(err)
			}
			if read > st.Records {
				break
			}
		}
		if read != st.Records || st.Recovered != st.Records {
			t.Fatalf("read %d records, open counted %d (stats %+v)", read, st.Records, st)
		}
		if n, err := s.Append([][]byte{[]byte("after")}); n != 1 || err != nil {
			t.Fatalf("append after recovery: %d %v", n, err)
		}
		s.Close()
		s, err = Open(cfg)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		defer s.Close()
		b, err := s.Read(10, 1<<16)
		if err != nil || len(b.Records) != 1 || string(b.Records[0]) != "after" {
			t.Fatalf("after reopen: %q %v (stats %+v)", b.Records, err, s.Stats())
		}
	})
}

// appendRecord frames payload as Append writes it.
func appendRecord(dst, payload []byte) []byte {
	var h [recHdrLen]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[4:8], checksum(h[0:4], payload))
	return append(append(dst, h[:]...), payload...)
}
