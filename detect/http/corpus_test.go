package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// This file holds a test-only TCP reassembler: good enough to replay the
// corpus captures into a StreamParser (reordering, retransmissions, gaps at
// the end), not a model for the real one in package reassembly.

type flowKey struct {
	a, b         capture.Addr
	aport, bport uint16
}

func keyOf(p *capture.Packet) (flowKey, bool) {
	k := flowKey{p.Src, p.Dst, p.SrcPort, p.DstPort}
	if string(p.Src[:]) > string(p.Dst[:]) || (p.Src == p.Dst && p.SrcPort > p.DstPort) {
		return flowKey{p.Dst, p.Src, p.DstPort, p.SrcPort}, true
	}
	return k, false
}

type testSeg struct {
	off  int64
	data []byte
	ts   int64
}

type testDir struct {
	based   bool
	base    uint32 // sequence number of stream offset 0
	next    int64  // next offset to deliver
	pending []testSeg
}

type testFlow struct {
	clientIsA bool
	known     bool // the client side is decided
	dirs      [2]testDir
	sp        detect.StreamParser
	dead      bool
	sawData   bool
}

// tcpReplay feeds every TCP flow of a capture file to a parser from mk;
// it returns the number of TCP flows seen.
func tcpReplay(t *testing.T, path string, mk func() detect.StreamParser) int {
	t.Helper()
	r, err := capture.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dec := capture.NewDecoder(capture.DefaultDecoderConfig())
	flows := map[flowKey]*testFlow{}
	var order []*testFlow
	var fr capture.Frame
	var p capture.Packet
	var lastTS int64
	for {
		if err := r.ReadFrame(&fr); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if dec.Decode(&p, fr.LinkType, fr.Data, fr.Timestamp, fr.WireLen) != capture.Decoded || p.Proto != capture.ProtoTCP {
			continue
		}
		lastTS = p.Timestamp
		k, fromB := keyOf(&p)
		f := flows[k]
		syn := p.TCP.Flags&capture.TCPSyn != 0
		ack := p.TCP.Flags&capture.TCPAck != 0
		if f != nil && syn && !ack && f.sawData && f.dirs[f.clientDir(fromB)].base != p.TCP.Seq+1 {
			f.close(lastTS) // port reuse: a new connection
			f = nil
		}
		if f == nil {
			f = &testFlow{sp: mk()}
			flows[k] = f
			order = append(order, f)
		}
		if !f.known {
			switch {
			case syn && !ack:
				f.clientIsA, f.known = !fromB, true
			case syn && ack:
				f.clientIsA, f.known = fromB, true
			case len(p.Payload) > 0:
				isClient := Detect(detect.ToServer, p.Payload) || (!strings.HasPrefix(string(p.Payload), "HTTP/") && p.DstPort < p.SrcPort)
				f.clientIsA, f.known = isClient != fromB, true
			}
		}
		dir := detect.ToServer
		if fromB == f.clientIsA {
			dir = detect.ToClient
		}
		f.segment(dir, &p)
	}
	for _, f := range order {
		f.close(lastTS)
	}
	return len(order)
}

func (f *testFlow) clientDir(fromB bool) int {
	if fromB == f.clientIsA {
		return detect.ToClient
	}
	return detect.ToServer
}

func (f *testFlow) segment(dir int, p *capture.Packet) {
	d := &f.dirs[dir]
	seq := p.TCP.Seq
	if p.TCP.Flags&capture.TCPSyn != 0 {
		if !f.sawData {
			d.based, d.base, d.next = true, seq+1, 0
		}
		return
	}
	if len(p.Payload) == 0 || f.dead {
		return
	}
	if !d.based {
		d.based, d.base = true, seq
	}
	f.sawData = true
	off := int64(int32(seq - d.base))
	d.pending = append(d.pending, testSeg{off: off, data: append([]byte(nil), p.Payload...), ts: p.Timestamp})
	f.deliver(dir, false)
}

// deliver hands over in-order data; at the end (final) holes become gaps.
func (f *testFlow) deliver(dir int, final bool) {
	d := &f.dirs[dir]
	for len(d.pending) > 0 && !f.dead {
		sort.SliceStable(d.pending, func(i, j int) bool { return d.pending[i].off < d.pending[j].off })
		s := d.pending[0]
		if s.off > d.next {
			if !final {
				return
			}
			f.verdict(f.sp.Gap(dir, int(s.off-d.next), s.ts))
			d.next = s.off
			continue
		}
		d.pending = d.pending[1:]
		skip := d.next - s.off
		if skip >= int64(len(s.data)) {
			continue // retransmission
		}
		f.verdict(f.sp.Data(dir, s.data[skip:], s.ts))
		d.next = s.off + int64(len(s.data))
	}
}

func (f *testFlow) verdict(v detect.Verdict) {
	if v != detect.NeedMore {
		f.dead = true
	}
}

func (f *testFlow) close(ts int64) {
	if f.sp == nil {
		return
	}
	f.deliver(detect.ToServer, true)
	f.deliver(detect.ToClient, true)
	f.sp.Close(ts)
	f.sp = nil
}

type corpusHTTP struct {
	Method string  `json:"method"`
	Host   *string `json:"host"`
	URI    string  `json:"uri"`
}

type corpusEntry struct {
	File   string `json:"file"`
	Tshark struct {
		HTTPRequests []corpusHTTP `json:"http_requests"`
	} `json:"tshark"`
}

// corpusSocks names captures whose HTTP runs inside SOCKS5.
var corpusSocks = map[string]bool{"zeek__socks.pcap": true}

// TestCorpus replays every corpus capture for which tshark lists HTTP
// requests and checks that each (method, host, uri) is emitted.
func TestCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Pcaps []corpusEntry `json:"pcaps"`
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range exp.Pcaps {
		if len(e.Tshark.HTTPRequests) == 0 {
			continue
		}
		n++
		t.Run(e.File, func(t *testing.T) {
			var got []detect.HTTP
			tcpReplay(t, filepath.Join(dir, e.File), func() detect.StreamParser {
				p := NewParser(func(ev *detect.Event) { got = append(got, *ev.HTTP) })
				if corpusSocks[e.File] {
					return &socksSkip{next: p}
				}
				return p
			})
			seen := map[string]bool{}
			for _, h := range got {
				host := h.Hostname
				if h.Port != 0 {
					host = fmt.Sprintf("%s:%d", host, h.Port)
				}
				seen[h.Method+" "+host+" "+h.URL] = true
				seen[h.Method+" "+h.Hostname+" "+h.URL] = true
			}
			for _, want := range e.Tshark.HTTPRequests {
				host := ""
				if want.Host != nil {
					host = strings.ToLower(*want.Host)
				} else if want.Method == "CONNECT" {
					host = strings.ToLower(want.URI)
				}
				key := want.Method + " " + host + " " + want.URI
				if !seen[key] {
					t.Errorf("missing %q; got %d events:", key, len(got))
					for _, h := range got {
						t.Logf("  %s %s:%d %.80s status %d", h.Method, h.Hostname, h.Port, h.URL, h.Status)
					}
				}
			}
			if len(got) != len(e.Tshark.HTTPRequests) {
				t.Errorf("%d events, tshark lists %d requests", len(got), len(e.Tshark.HTTPRequests))
			}
			if testing.Verbose() {
				for _, h := range got {
					t.Logf("  %s %s:%d %.60s status %d len %d ct %q proxied %v", h.Method, h.Hostname, h.Port, h.URL, h.Status, h.Length, h.ContentType, h.Proxied)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no HTTP captures in expected.json")
	}
}

// socksSkip stands for the SOCKS5 layer that, in the sensor, hands the
// tunnelled stream over (the HTTP parser itself says NotMine to a SOCKS
// handshake): it drops the greeting, request and reply (RFC 1928) of each
// direction and forwards the rest.
type socksSkip struct {
	next   detect.StreamParser
	buf    [2][]byte
	passed [2]bool
}

// socksLen returns the handshake length at the start of b (client side:
// greeting + request; server side: method choice + reply), or 0 when more
// bytes are needed.
func socksLen(dir int, b []byte) int {
	n := 2
	if dir == detect.ToServer {
		if len(b) < 2 {
			return 0
		}
		n = 2 + int(b[1])
	}
	if len(b) < n+5 {
		return 0
	}
	r := b[n:]
	switch r[3] {
	case 1:
		n += 4 + 4 + 2
	case 4:
		n += 4 + 16 + 2
	case 3:
		n += 4 + 1 + int(r[4]) + 2
	}
	if len(b) < n {
		return 0
	}
	return n
}

func (s *socksSkip) Data(dir int, data []byte, ts int64) detect.Verdict {
	if s.passed[dir] {
		return s.next.Data(dir, data, ts)
	}
	s.buf[dir] = append(s.buf[dir], data...)
	if len(s.buf[dir]) > 0 && s.buf[dir][0] != 5 {
		return detect.NotMine
	}
	n := socksLen(dir, s.buf[dir])
	if n == 0 {
		return detect.NeedMore
	}
	s.passed[dir] = true
	if rest := s.buf[dir][n:]; len(rest) > 0 {
		return s.next.Data(dir, rest, ts)
	}
	return detect.NeedMore
}

func (s *socksSkip) Gap(dir int, n int, ts int64) detect.Verdict { return s.next.Gap(dir, n, ts) }
func (s *socksSkip) Close(ts int64)                              { s.next.Close(ts) }
