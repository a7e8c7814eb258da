package testutil

import (
	"errors"
	"io"
	"iter"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
)

// Packets yields every packet of a capture file that decodes and carries
// IP protocol proto (0 = any), in file order. The packet is reused between
// iterations. A read error fails the test.
func Packets(t testing.TB, path string, proto uint8) iter.Seq[*capture.Packet] {
	return func(yield func(*capture.Packet) bool) {
		t.Helper()
		r, err := capture.OpenFile(path)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		dec := capture.NewDecoder(capture.DefaultDecoderConfig())
		var fr capture.Frame
		var p capture.Packet
		for {
			if err := r.ReadFrame(&fr); err != nil {
				if !errors.Is(err, io.EOF) {
					t.Fatal(err)
				}
				return
			}
			if dec.Decode(&p, fr.LinkType, fr.Data, fr.Timestamp, fr.WireLen) != capture.Decoded || (proto != 0 && p.Proto != proto) {
				continue
			}
			if !yield(&p) {
				return
			}
		}
	}
}
