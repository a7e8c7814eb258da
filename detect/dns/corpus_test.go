package dns

import (
	"encoding/json"
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
		return p.DstPort == 53 || (p.SrcPort != 53 && p.DstPort < p.SrcPort)
	})
}

// udpReplay feeds every UDP flow of a capture file to a parser from mk.
func udpReplay(t *testing.T, path string, mk func() detect.DatagramParser) {
	t.Helper()
	type udpFlow struct {
		dp      detect.DatagramParser
		clientA bool
		notMine bool
	}
	flows := map[testutil.FlowKey]*udpFlow{}
	var order []*udpFlow
	var lastTS int64
	for p := range testutil.Packets(t, path, capture.ProtoUDP) {
		if p.Flags&capture.FlagFirstFragment != 0 {
			continue
		}
		lastTS = p.Timestamp
		k, fromB := testutil.KeyOf(p)
		f := flows[k]
		if f == nil {
			f = &udpFlow{dp: mk(), clientA: !fromB}
			flows[k] = f
			order = append(order, f)
		}
		if f.notMine {
			continue
		}
		dir := detect.ToServer
		if fromB == f.clientA {
			dir = detect.ToClient
		}
		if f.dp.Datagram(dir, p.Payload, p.Timestamp) == detect.NotMine {
			f.notMine = true
		}
	}
	for _, f := range order {
		f.dp.Close(lastTS)
	}
}

type corpusEntry struct {
	File   string `json:"file"`
	Tshark struct {
		DNSQueries   []string `json:"dns_queries"`
		DNSResponses []string `json:"dns_response_qnames"`
	} `json:"tshark"`
}

// TestCorpus replays the corpus captures for which tshark lists DNS names
// (UDP and TCP) and checks that every query name is emitted as a query and
// every response name as an answer.
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
		if len(e.Tshark.DNSQueries) == 0 && len(e.Tshark.DNSResponses) == 0 {
			continue
		}
		n++
		t.Run(e.File, func(t *testing.T) {
			if why, ok := corpusSkip[e.File]; ok {
				t.Skip(why)
			}
			var got []detect.DNS
			emit := func(ev *detect.Event) { got = append(got, *ev.DNS) }
			path := filepath.Join(dir, e.File)
			udpReplay(t, path, func() detect.DatagramParser { return NewParser(emit) })
			tcpReplay(t, path, func() detect.StreamParser { return NewParser(emit) })
			queries, answers := map[string]bool{}, map[string]bool{}
			for _, d := range got {
				if d.Type == "query" {
					queries[d.RRName] = true
				} else {
					answers[d.RRName] = true
				}
			}
			for _, q := range e.Tshark.DNSQueries {
				if !queries[strings.ToLower(q)] {
					t.Errorf("query %q not emitted", q)
				}
			}
			for _, q := range e.Tshark.DNSResponses {
				if !answers[strings.ToLower(q)] {
					t.Errorf("answer for %q not emitted", q)
				}
			}
			if testing.Verbose() {
				for _, d := range got {
					t.Logf("  %s id=%d %s %s %s tcp=%v answers=%d", d.Type, d.ID, d.RRName, d.RRType, d.RCode, d.TCP, len(d.Answers))
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no DNS captures in expected.json")
	}
}

// corpusSkip names captures whose names the parser cannot see, and why.
var corpusSkip = map[string]string{
	// Every DNS response in it is the first fragment of an IP datagram
	// whose other fragments were not captured, and the frame is cut by the
	// snap length: the decoder delivers such first fragments with ports
	// and an empty payload (capture.FlagFirstFragment), so no DNS byte
	// reaches the parser. tshark dissects the partial first fragment.
	"ndpi__badpackets.pcap": "DNS only in unreassembled, truncated first fragments (no payload delivered)",
}
