package pipeline

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// midstreamMsg is one data segment of a TCP flow without its handshake.
type midstreamMsg struct {
	fromClient bool
	data       []byte
}

// midstreamPcap writes a TCP flow (client 192.0.2.30:41000, server
// 198.51.100.40:80) picked up mid-stream: no SYN, the sequence numbers
// start anywhere, each data segment is acknowledged by the peer, and the
// flow ends with a FIN from each side.
func midstreamPcap(t *testing.T, path string, msgs []midstreamMsg) {
	t.Helper()
	c := newTCPPcap(t, net.IP{192, 0, 2, 30}, net.IP{198, 51, 100, 40}, 41000, 80)
	seq := [2]uint32{700000, 9000000} // [client, server]
	write := func(fromClient, fin bool, payload []byte) {
		me := 0
		if !fromClient {
			me = 1
		}
		c.segment(fromClient, seq[me], seq[1-me], false, fin, true, payload)
		seq[me] += uint32(len(payload))
		if fin {
			seq[me]++
		}
	}
	for _, m := range msgs {
		write(m.fromClient, false, m.data)
		write(!m.fromClient, false, nil) // the peer's ACK
	}
	write(true, true, nil)
	write(false, true, nil)
	write(true, false, nil)
	c.save(path)
}

// bodySegments returns n segments of 1,400 bytes that do not look like
// the start of any protocol (the middle of a response or upload body).
func bodySegments(fromClient bool, n int) []midstreamMsg {
	out := make([]midstreamMsg, n)
	for i := range out {
		b := make([]byte, 1400)
		for j := range b {
			b[j] = byte(0x80 + (i*31+j*7)%127)
		}
		out[i] = midstreamMsg{fromClient, b}
	}
	return out
}

// TestMidstreamHTTPAfterLongTail: a capture that starts in the middle of a
// keep-alive HTTP connection first sees the tail of a message, here many
// segments long (a large response or upload body), and only then the next
// request. Detection must not give up on the flow while that tail lasts:
// the request that follows is reported, with its response.
func TestMidstreamHTTPAfterLongTail(t *testing.T) {
	req := []byte("GET /next.js HTTP/1.1\r\nHost: midstream.example\r\nUser-Agent: t\r\n\r\n")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
	prevResp := []byte("HTTP/1.1 204 No Content\r\n\r\n")
	cases := map[string][]midstreamMsg{
		// the tail of a response body, 12 segments, then the next request
		"response tail": append(bodySegments(false, 12),
			midstreamMsg{true, req}, midstreamMsg{false, resp}),
		// the tail of a request body (an upload), its response (reported
		// without its request, the orphan below), the next request
		"upload tail": append(bodySegments(true, 12),
			midstreamMsg{false, prevResp}, midstreamMsg{true, req}, midstreamMsg{false, resp}),
		// a few bytes of a request body, then a long response, the next request
		"short tail then long response": append(append([]midstreamMsg{{true, []byte("a=1\r\n")}}, bodySegments(false, 12)...),
			midstreamMsg{true, req}, midstreamMsg{false, resp}),
	}
	for name, msgs := range cases {
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "midstream.pcap")
			midstreamPcap(t, path, msgs)
			evs, _, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
			if err != nil {
				t.Fatal(err)
			}
			var got, orphans []*detect.HTTP
			for _, e := range evs {
				switch {
				case e.Type != detect.TypeHTTP:
				case e.HTTP.Method == "":
					orphans = append(orphans, e.HTTP)
				default:
					got = append(got, e.HTTP)
				}
			}
			if name == "upload tail" {
				if len(orphans) != 1 || orphans[0].Status != 204 || orphans[0].URL != "" || orphans[0].Hostname != "" {
					t.Errorf("orphan responses %+v, want the 204 alone", orphans)
				}
			} else if len(orphans) != 0 {
				t.Errorf("orphan responses %+v, want none", orphans)
			}
			if len(got) != 1 {
				t.Fatalf("%d HTTP events, want 1 (the request after the tail)", len(got))
			}
			if h := got[0]; h.Hostname != "midstream.example" || h.URL != "/next.js" || h.Status != 200 {
				t.Errorf("event: host %q url %q status %d, want midstream.example /next.js 200", h.Hostname, h.URL, h.Status)
			}
		})
	}
}

// TestMidstreamAtAResponse: a capture that starts at a response (its
// request was sent before the capture began) reports that response as a
// transaction without a request, then the keep-alive request that follows.
func TestMidstreamAtAResponse(t *testing.T) {
	msgs := []midstreamMsg{
		{false, []byte("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")},
		{true, []byte("GET /after HTTP/1.1\r\nHost: after.example\r\n\r\n")},
		{false, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 2\r\n\r\nhi")},
	}
	path := filepath.Join(t.TempDir(), "at-response.pcap")
	midstreamPcap(t, path, msgs)
	evs, _, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Type == detect.TypeHTTP {
			h := e.HTTP
			got = append(got, fmt.Sprintf("%s %s %s %d %s", e.AppProto, h.Method, h.Hostname, h.Status, h.ContentType))
		}
	}
	want := []string{"http   304 ", "http GET after.example 200 text/html"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("http events %q, want %q", got, want)
	}
}

// TestMidstreamReprobeBounded: a mid-stream flow that never shows a known
// protocol is probed once per turn of the conversation, maxReprobes times
// at most: a method-like start after that is no longer looked at.
func TestMidstreamReprobeBounded(t *testing.T) {
	req := []byte("GET / HTTP/1.1\r\nHost: late.example\r\n\r\n")
	var msgs []midstreamMsg
	for i := 0; i < maxReprobes+2; i++ {
		msgs = append(msgs, bodySegments(i%2 == 0, 3)...)
	}
	msgs = append(msgs, midstreamMsg{true, req})
	path := filepath.Join(t.TempDir(), "midstream.pcap")
	midstreamPcap(t, path, msgs)
	evs, _, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Type == detect.TypeHTTP {
			t.Fatalf("HTTP event after %d unidentified turns: %+v", maxReprobes+2, e.HTTP)
		}
	}
}
