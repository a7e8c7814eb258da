package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// recorder is a test protocol that takes every TCP stream and keeps its
// bytes per direction, to check what reassembly delivers.
type recorder struct {
	streams map[*recordParser]bool
}

type recordParser struct {
	data [2][]byte
	gaps [2]int
	done bool
}

func (r *recordParser) Data(dir int, b []byte, _ int64) detect.Verdict {
	r.data[dir] = append(r.data[dir], b...)
	return detect.NeedMore
}
func (r *recordParser) Gap(dir, n int, _ int64) detect.Verdict {
	r.gaps[dir] += n
	return detect.NeedMore
}
func (r *recordParser) Close(int64) { r.done = true }

func (rec *recorder) protocols() []protocol {
	return []protocol{{
		name:        "rec",
		probeStream: func(int, []byte) bool { return true },
		newStream: func(detect.Emit) detect.StreamParser {
			p := &recordParser{}
			rec.streams[p] = true
			return p
		},
	}}
}

func replayRecorded(t *testing.T, path string) (*recorder, Stats) {
	t.Helper()
	rec := &recorder{streams: map[*recordParser]bool{}}
	_, st, err := replayFile(t, path, Config{Protocols: rec.protocols(), Streams: reassembly.DefaultStreamConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return rec, st
}

func TestStreamReassemblyPipelinedHTTP(t *testing.T) {
	dir := testutil.CorpusDir(t)
	rec, st := replayRecorded(t, filepath.Join(dir, "zeek__http__pipelined-requests.pcap"))
	if len(rec.streams) != 1 {
		t.Fatalf("%d streams, want 1", len(rec.streams))
	}
	for p := range rec.streams {
		req := string(p.data[detect.ToServer])
		if n := strings.Count(req, "GET /"); n < 3 {
			t.Errorf("client stream holds %d requests:\n%.400s", n, req)
		}
		if !strings.HasPrefix(string(p.data[detect.ToClient]), "HTTP/1.1 200") {
			t.Errorf("server stream starts %.40q", p.data[detect.ToClient])
		}
		if !p.done {
			t.Error("parser not closed")
		}
		if int(st.Streams.Bytes) != len(p.data[0])+len(p.data[1]) {
			t.Errorf("stats bytes %d, delivered %d", st.Streams.Bytes, len(p.data[0])+len(p.data[1]))
		}
	}
}

func TestStreamReassemblyOverlapConflict(t *testing.T) {
	dir := testutil.CorpusDir(t)
	_, st := replayRecorded(t, filepath.Join(dir, "sv__eve-overlap-payload-04-partial-overlap__tcp-overlap2.pcap"))
	if st.Streams.OverlapConflicts == 0 {
		t.Errorf("no overlap conflict counted: %+v", st.Streams)
	}
	_, st = replayRecorded(t, filepath.Join(dir, "zeek__http__pipelined-requests.pcap"))
	if st.Streams.OverlapConflicts != 0 {
		t.Errorf("conflict counted on a clean capture: %+v", st.Streams)
	}
}

func TestStreamReassemblyRetransmissions(t *testing.T) {
	dir := testutil.CorpusDir(t)
	rec, st := replayRecorded(t, filepath.Join(dir, "arkime__wireshark-retrans.pcap"))
	if len(rec.streams) != 1 || st.Streams.OverlapConflicts != 0 {
		t.Fatalf("%d streams, stats %+v", len(rec.streams), st.Streams)
	}
	for p := range rec.streams {
		if len(p.data[0]) == 0 || len(p.data[1]) == 0 {
			t.Errorf("delivered %d/%d bytes", len(p.data[0]), len(p.data[1]))
		}
	}
}
