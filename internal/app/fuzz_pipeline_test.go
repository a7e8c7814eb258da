package app

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// FuzzPipeline replays arbitrary Ethernet frames through the whole
// pipeline, one shard: decoders, defragmentation, the flow table, TCP
// reassembly, every parser, scan and NAT detection, rules-free matching,
// the JSONL sink — the glue between the parsers that their own targets do
// not reach. The input is a list of frames, each
//
//	b0      packet time step: b0 × 10 ms (b0 = 255: 40 s, past flush_after and UDP timeouts)
//	b1 b2   frame length (big-endian), then the frame's bytes
//
// Properties: no panic; the replay ends without error; the accounting of
// checkAccounting holds. Seeds: testdata/demo.pcap, and the corpus's
// smaller captures when ../shared/corpus is there, as frame lists.
func FuzzPipeline(f *testing.F) {
	root := testutil.RepoRoot(f)
	seeds := []string{filepath.Join(root, "testdata", "demo.pcap")}
	for _, name := range []string{"ndpi__tor.pcap", "ndpi__openvpn_nohmac_tcp.pcapng", "zeek__socks.pcap",
		"ndpi__dns_fragmented.pcap", "sv__quic-v2__input.pcap", "zeek__http__pipelined-requests.pcap"} {
		seeds = append(seeds, filepath.Join(root, "..", "shared", "corpus", name))
	}
	for _, p := range seeds {
		if b := framesOf(p); len(b) > 0 {
			f.Add(b)
		}
	}
	cfg := reliabilityConfig()
	cfg.Capture.Shards = 1
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		n++
		path := filepath.Join(dir, "in"+strconv.Itoa(n%4)+".pcap")
		w := newPcapWriter(t, path, floodStart)
		frames := 0
		for len(data) >= 3 {
			step, l := data[0], int(binary.BigEndian.Uint16(data[1:3]))
			data = data[3:]
			l = min(l, len(data))
			if step == 255 {
				w.ts += 40e9
			} else {
				w.ts += int64(step) * 10e6
			}
			w.frame(data[:l], l)
			data = data[l:]
			frames++
		}
		w.close(t)
		st, ctr, err := replayCounted(t, cfg, path)
		if err != nil {
			t.Fatalf("replay of %d frames: %v", frames, err)
		}
		checkAccounting(t, "fuzz", st, ctr)
	})
}

// framesOf encodes the Ethernet frames of a capture as FuzzPipeline input
// (nil when the file is missing or not Ethernet).
func framesOf(path string) []byte {
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	r, err := capture.OpenFile(path)
	if err != nil {
		return nil
	}
	defer r.Close()
	var out []byte
	var fr capture.Frame
	var last int64
	for len(out) < 256<<10 {
		if err := r.ReadFrame(&fr); err != nil {
			if !errors.Is(err, io.EOF) {
				return nil
			}
			break
		}
		if fr.LinkType != 1 { // Ethernet only
			return nil
		}
		step := byte(0)
		if last != 0 {
			step = byte(min(max((fr.Timestamp-last)/10e6, 0), 254))
		}
		last = fr.Timestamp
		out = append(out, step, byte(len(fr.Data)>>8), byte(len(fr.Data)))
		out = append(out, fr.Data...)
	}
	return out
}
