package tls

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// seedFiles are the corpus captures whose connections seed the fuzzers.
var seedFiles = []string{
	"sv__ja4-tls__input.pcap",
	"zeek__tls__tls1.2.pcap",
	"zeek__tls__tls13_wolfssl.pcap",
	"arkime__tls13.pcap",
	"zeek__tls__chrome-1250-tls-x25519-kyber.pcap",
	"ndpi__tls_ech.pcapng",
	"ndpi__tls_with_huge_ch.pcapng",
	"sv__tls-duplicate-hello__input.pcap",
}

// seedStreams returns (client, server) byte streams of the corpus TLS
// connections, or none when the corpus is absent (fuzzing then starts from
// the synthetic seeds and testdata/fuzz only).
func seedStreams(f *testing.F) [][2][]byte {
	dir := filepath.Join(testutil.RepoRoot(f), "..", "shared", "corpus")
	var out [][2][]byte
	for _, name := range seedFiles {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		for _, c := range readTCPConns(f, path) {
			var s [2][]byte
			for _, ch := range c.chunks {
				if len(s[ch.dir]) < 8<<10 {
					s[ch.dir] = append(s[ch.dir], ch.data...)
				}
			}
			out = append(out, s)
		}
	}
	return out
}

// helloBody returns the body of the first handshake message in a client
// stream, if it is whole in the first record.
func helloBody(stream []byte) []byte {
	if len(stream) < 9 || stream[0] != ctHandshake {
		return nil
	}
	rec := int(stream[3])<<8 | int(stream[4])
	n := int(stream[6])<<16 | int(stream[7])<<8 | int(stream[8])
	if 5+rec > len(stream) || 4+n > rec {
		return nil
	}
	return stream[9 : 9+n]
}

func FuzzParseClientHello(f *testing.F) {
	f.Add(specHello().body())
	f.Add(syntheticHello()[4:])
	for _, s := range seedStreams(f) {
		if b := helloBody(s[0]); b != nil {
			f.Add(b)
		}
	}
	var reused ClientHello
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseClientHello(body)
		if err != nil {
			if reused.Parse(body) == nil {
				t.Fatal("Parse accepts what ParseClientHello refuses")
			}
			return
		}
		ja4 := c.JA4('t')
		parts := strings.Split(ja4, "_")
		if len(ja4) != 36 || len(parts) != 3 || len(parts[0]) != 10 {
			t.Fatalf("JA4 %q malformed", ja4)
		}
		if c.SNI != "" && !c.HasSNI {
			t.Fatal("SNI without server_name")
		}
		j := c.JA3()
		if strings.Count(j.String, ",") != 4 || len(j.Hash) != 32 {
			t.Fatalf("JA3 %+v", j)
		}
		// A reused ClientHello (slices kept from the previous input)
		// gives the same result.
		if err := reused.Parse(body); err != nil {
			t.Fatalf("reused Parse: %v", err)
		}
		if reused.JA4('t') != ja4 || reused.JA3String() != j.String || reused.SNI != c.SNI {
			t.Fatal("reused ClientHello differs")
		}
		if _, err := ParseServerHello(body); err != nil {
			return // exercised for panics only
		}
	})
}

// runParser feeds client then server, each cut into pieces by rng (nil:
// whole), then closes, and returns the events and the verdicts.
func runParser(client, server []byte, rng *rand.Rand) ([]*detect.Event, []detect.Verdict) {
	var evs []*detect.Event
	var vs []detect.Verdict
	p := NewParser(func(e *detect.Event) { evs = append(evs, e) })
	for dir, s := range [2][]byte{client, server} {
		v := detect.NeedMore
		for len(s) > 0 && v == detect.NeedMore {
			n := len(s)
			if rng != nil {
				n = min(n, 1+rng.IntN(1+rng.IntN(600)))
			}
			v = p.Data(dir, s[:n], 1)
			s = s[n:]
		}
		vs = append(vs, v)
		if v == detect.Done || v == detect.NotMine {
			break
		}
	}
	p.Close(1)
	if len(vs) == 1 {
		vs = append(vs, vs[0])
	}
	return evs, vs
}

func FuzzParser(f *testing.F) {
	f.Add(clientStream(), []byte{}, uint64(1))
	f.Add(records(ctHandshake, syntheticHello(), 7), []byte{22, 3, 3, 0, 1, 2}, uint64(2))
	for i, s := range seedStreams(f) {
		f.Add(s[0], s[1], uint64(i))
	}
	f.Fuzz(func(t *testing.T, client, server []byte, seed uint64) {
		want, wantV := runParser(client, server, nil)
		got, gotV := runParser(client, server, rand.New(rand.NewPCG(seed, 7)))
		// One tls event at most, and one tls_multiple_sni anomaly beside it.
		kinds := map[string]int{}
		for _, e := range want {
			kinds[e.Type]++
		}
		if kinds[detect.TypeTLS] > 1 || kinds[detect.TypeAnomaly] > kinds[detect.TypeTLS] || len(want) > kinds[detect.TypeTLS]+kinds[detect.TypeAnomaly] {
			t.Fatalf("events %v", kinds)
		}
		// The verdict may come earlier or later in pieces, but it must be
		// the same kind, and the event identical.
		if !reflect.DeepEqual(want, got) || wantV[len(wantV)-1] != gotV[len(gotV)-1] {
			t.Fatalf("chunking changed the result:\nwhole  %v %+v\npieces %v %+v", wantV, tlsOf(want), gotV, tlsOf(got))
		}
	})
}

func tlsOf(evs []*detect.Event) []detect.TLS {
	var out []detect.TLS
	for _, e := range evs {
		if e.TLS != nil {
			out = append(out, *e.TLS)
		}
	}
	return out
}
