package app

import (
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// TestMalformedCaptures replays every capture of the shared corpus, then
// deterministic mutations of each, through the whole pipeline (every
// decoder, defragmentation, flow tables, reassembly, every parser, scan
// detection, the JSONL sink). Nothing may panic, a corrupt file ends its
// replay with an error (never a crash), and the accounting of
// checkAccounting holds for every replay: the counters say what was skipped
// and why. The mutations (seeded, so a failure names a reproducible case):
//
//	flip      ~1 % of the bytes of every frame's data flipped (the file stays readable)
//	headers   random bytes written over each frame's first 64 bytes (link, IP and
//	          transport headers: random lengths, versions, offsets, flags)
//	cut       every frame's captured length cut to a random shorter length
//	          (the record header rewritten: a short snap length)
//	reclen    one record header in the middle given a random length
//	truncate  the file cut at a random offset
//
// NUNCHI_TEST_MUTATIONS=N runs N seeds of each mutation (default 1).
// knownCrashers lists the cases that crash the sensor until their fix lands
// (docs/reliability.md): they are skipped, not forgotten.
func TestMalformedCaptures(t *testing.T) {
	runKnown := os.Getenv("NUNCHI_TEST_KNOWN_ISSUES") == "1"
	dir := testutil.CorpusDir(t)
	files, err := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no captures in %s: %v", dir, err)
	}
	seeds := 1
	if v := os.Getenv("NUNCHI_TEST_MUTATIONS"); v != "" {
		if seeds, err = strconv.Atoi(v); err != nil || seeds < 1 {
			t.Fatalf("NUNCHI_TEST_MUTATIONS=%q", v)
		}
	}
	// NUNCHI_TEST_MUTATION_KEEP=DIR keeps every mutated capture there and
	// logs each name before its replay (to find the file a crash came from).
	tmp, keep := t.TempDir(), os.Getenv("NUNCHI_TEST_MUTATION_KEEP")
	if keep != "" {
		tmp = keep
	}
	cfg := reliabilityConfig()
	var replays, readErrors, frames, dropped uint64
	for _, path := range files {
		orig, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		base := filepath.Base(path)
		recs, ok := captureRecords(orig)
		if !ok {
			t.Errorf("%s: cannot walk its records", base)
			continue
		}
		type mutation struct {
			name string
			data []byte
		}
		cases := []mutation{{"original", orig}}
		for s := range seeds {
			r := rand.New(rand.NewPCG(uint64(s), fnv(base)))
			cases = append(cases,
				mutation{"flip", mutateFlip(orig, recs, r)},
				mutation{"headers", mutateHeaders(orig, recs, r)},
				mutation{"cut", mutateCut(orig, recs, r)},
				mutation{"reclen", mutateRecLen(orig, recs, r)},
				mutation{"truncate", orig[:24+r.IntN(max(len(orig)-24, 1))]},
			)
		}
		for i, c := range cases {
			name := base + "/" + c.name
			if i > 0 {
				name += "#" + strconv.Itoa((i-1)/5)
			}
			p := filepath.Join(tmp, strings.ReplaceAll(name, "/", "_")+filepath.Ext(base))
			if err := os.WriteFile(p, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			if why, ok := knownCrashers[name]; ok && !runKnown {
				t.Logf("%s: skipped, known crasher: %s (NUNCHI_TEST_KNOWN_ISSUES=1 runs it)", name, why)
				continue
			}
			if keep != "" {
				t.Logf("replaying %s", p)
			}
			st, ctr, err := replayCounted(t, cfg, p)
			replays++
			if err != nil {
				if c.name == "original" || c.name == "flip" || c.name == "headers" || c.name == "cut" {
					t.Errorf("%s: %v (the file structure is intact)", name, err)
				}
				if !strings.Contains(err.Error(), "capture") || st.Capture.Errors == 0 {
					t.Errorf("%s: the error is not a counted capture read error: %v (read_errors %d)", name, err, st.Capture.Errors)
				}
				readErrors++
			}
			checkAccounting(t, name, st, ctr)
			frames += st.Decoder.Frames
			dropped += sum(st.Decoder.Dropped)
			if keep == "" {
				os.Remove(p)
			}
		}
	}
	t.Logf("%d captures, %d replays (%d ended by a counted read error), %d frames, %d dropped by the decoder with a reason",
		len(files), replays, readErrors, frames, dropped)
}

// knownCrashers are mutated captures that crash the sensor today, by case
// name, with the bug. A goroutine's panic cannot be recovered by the test, so
// each would stop the whole suite; remove the entry with the fix (and keep
// the case: it is the regression test).
// The three cut captures it held (ndpi__openvpn.pcap, ndpi__openvpn_nohmac_tcp.pcapng and
// ndpi__tor.pcap, cut#0: appState.StreamGap called the parser when detect() had asked for
// another probe of a mid-stream flow) are fixed and replayed again.
var knownCrashers = map[string]string{}

// record is one frame of a capture file: where its data starts, its
// captured length, and where that length is stored.
type record struct {
	data, capLen int
	lenField     int
	order        binary.ByteOrder
	pcapng       bool
}

// captureRecords walks a pcap or pcapng file's frames.
func captureRecords(b []byte) ([]record, bool) {
	if len(b) < 24 {
		return nil, false
	}
	var out []record
	switch binary.LittleEndian.Uint32(b) {
	case 0xA1B2C3D4, 0xA1B23C4D, 0xD4C3B2A1, 0x4D3CB2A1:
		var order binary.ByteOrder = binary.LittleEndian
		if m := binary.LittleEndian.Uint32(b); m == 0xD4C3B2A1 || m == 0x4D3CB2A1 {
			order = binary.BigEndian
		}
		for off := 24; off+16 <= len(b); {
			n := int(order.Uint32(b[off+8:]))
			if off+16+n > len(b) {
				break
			}
			out = append(out, record{data: off + 16, capLen: n, lenField: off + 8, order: order})
			off += 16 + n
		}
		return out, true
	case 0x0A0D0D0A:
		var order binary.ByteOrder = binary.LittleEndian
		for off := 0; off+12 <= len(b); {
			typ := binary.LittleEndian.Uint32(b[off:])
			if typ == 0x0A0D0D0A {
				if binary.LittleEndian.Uint32(b[off+8:]) == 0x1A2B3C4D {
					order = binary.LittleEndian
				} else {
					order = binary.BigEndian
				}
			} else {
				typ = order.Uint32(b[off:])
			}
			blen := int(order.Uint32(b[off+4:]))
			if blen < 12 || off+blen > len(b) {
				break
			}
			if typ == 6 && blen >= 32 {
				n := int(order.Uint32(b[off+20:]))
				if 28+n <= blen {
					out = append(out, record{data: off + 28, capLen: n, lenField: off + 20, order: order, pcapng: true})
				}
			}
			off += blen
		}
		return out, true
	}
	return nil, false
}

func mutateFlip(orig []byte, recs []record, r *rand.Rand) []byte {
	b := append([]byte(nil), orig...)
	for _, rc := range recs {
		for range max(rc.capLen/100, 1) {
			if rc.capLen > 0 {
				b[rc.data+r.IntN(rc.capLen)] ^= byte(1 << r.IntN(8))
			}
		}
	}
	return b
}

func mutateHeaders(orig []byte, recs []record, r *rand.Rand) []byte {
	b := append([]byte(nil), orig...)
	for _, rc := range recs {
		// A few random bytes in the first 64 (past the MACs, most of the time).
		for range 3 {
			if n := min(rc.capLen, 64); n > 0 {
				b[rc.data+r.IntN(n)] = byte(r.Uint32())
			}
		}
	}
	return b
}

// mutateCut cuts every frame's captured length to a random shorter
// length, as a short snap length does (captured < original length).
func mutateCut(orig []byte, recs []record, r *rand.Rand) []byte {
	if len(recs) > 0 && recs[0].pcapng {
		// pcapng: rebuild each Enhanced Packet Block with its data cut (and
		// without options); other blocks are copied as they are.
		var out []byte
		prev := 0
		for _, rc := range recs {
			blk := rc.data - 28
			out = append(out, orig[prev:blk]...)
			n := 0
			if rc.capLen > 0 {
				n = r.IntN(rc.capLen)
			}
			pad := (4 - n%4) % 4
			hdr := append([]byte(nil), orig[blk:rc.data]...)
			rc.order.PutUint32(hdr[4:], uint32(28+n+pad+4))
			rc.order.PutUint32(hdr[20:], uint32(n))
			out = append(out, hdr...)
			out = append(out, orig[rc.data:rc.data+n]...)
			out = append(out, make([]byte, pad)...)
			var trail [4]byte
			rc.order.PutUint32(trail[:], uint32(28+n+pad+4))
			out = append(out, trail[:]...)
			prev = blk + int(rc.order.Uint32(orig[blk+4:]))
		}
		return append(out, orig[prev:]...)
	}
	// Classic pcap: rebuild the records with their data cut.
	out := append([]byte(nil), orig[:24]...)
	for _, rc := range recs {
		hdr := append([]byte(nil), orig[rc.data-16:rc.data]...)
		n := 0
		if rc.capLen > 0 {
			n = r.IntN(rc.capLen)
		}
		rc.order.PutUint32(hdr[8:], uint32(n))
		out = append(out, hdr...)
		out = append(out, orig[rc.data:rc.data+n]...)
	}
	return out
}

func mutateRecLen(orig []byte, recs []record, r *rand.Rand) []byte {
	b := append([]byte(nil), orig...)
	if len(recs) == 0 {
		return b
	}
	rc := recs[len(recs)/2]
	rc.order.PutUint32(b[rc.lenField:], r.Uint32())
	return b
}

func fnv(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
