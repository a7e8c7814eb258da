package http

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// tcpReplay replays a capture's TCP flows into parsers from mk, with the
// shared test-only reassembler.
func tcpReplay(t *testing.T, path string, mk func() detect.StreamParser) int {
	return testutil.TCPReplay(t, path, mk, func(p *capture.Packet) bool {
		return Detect(detect.ToServer, p.Payload) || (!strings.HasPrefix(string(p.Payload), "HTTP/") && p.DstPort < p.SrcPort)
	})
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
