package dns

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

func fuzzSeeds() [][]byte {
	return [][]byte{
		exampleQuery(),
		exampleAnswer(),
		newMsg(1, 0x8180, 1, 1, 0, 0).name("a.example").u16(TypeMX, 1).ptr(12).rrLen(TypeMX, 5, 4).raw(0, 10).ptr(12).b,
		newMsg(1, 0, 1, 0, 0, 0).ptr(14).ptr(12).u16(1, 1).b,
		newMsg(1, 0x8000, 0, 1, 0, 0).name("x").rr(TypeHTTPS, 5, []byte{0, 1, 0, 0, 1, 0, 3, 2, 'h', '2'}).b,
	}
}

// FuzzParseMessage: no panic, bounded output, and Detect never accepts a
// message whose first question does not decode.
func FuzzParseMessage(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if len(m.Answers) > MaxAnswers {
			t.Fatalf("%d answers", len(m.Answers))
		}
		for _, a := range m.Answers {
			if len(a.RData) > maxRData || len(a.RRName) > maxNameWire*4 {
				t.Fatalf("answer over its bounds: %d, %d", len(a.RData), len(a.RRName))
			}
		}
		if err == nil && m.HasQuestion && m.Question.Name == "" {
			t.Fatal("empty question name")
		}
		if Detect(b) {
			// The first question must decode.
			_, next, err := readName(b, 12, nil)
			if err != nil || next+4 > len(b) {
				t.Fatalf("Detect accepted a message whose first question fails: %v", err)
			}
		}
	})
}

// FuzzStream feeds the input as a TCP stream cut at the points the seed
// chooses, in both directions, and as datagrams.
func FuzzStream(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(uint64(i)+1, tcpFrame(s, s))
	}
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		n := 0
		emit := func(e *detect.Event) {
			n++
			if e.DNS == nil || (e.DNS.Type != "query" && e.DNS.Type != "answer") || !e.DNS.TCP {
				t.Fatalf("bad event %+v", e.DNS)
			}
		}
		p := NewParser(emit)
		rng := seed | 1
		for len(data) > 0 {
			rng ^= rng << 13
			rng ^= rng >> 7
			rng ^= rng << 17
			k := min(int(rng%300)+1, len(data))
			v := p.Data(int(rng>>40)&1, data[:k], 1)
			data = data[k:]
			if v != detect.NeedMore {
				break
			}
			if cap(p.tcp[0].buf) > 1<<17 || cap(p.tcp[1].buf) > 1<<17 {
				t.Fatalf("buffer %d/%d", cap(p.tcp[0].buf), cap(p.tcp[1].buf))
			}
		}
		p.Close(2)
		if n > MaxTCPMessages {
			t.Fatalf("%d events", n)
		}
	})
}
