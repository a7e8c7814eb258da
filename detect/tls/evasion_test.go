package tls

import (
	"math/rand/v2"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// result is what the evasion tests compare.
type result struct {
	sni, ja4, ja3 string
	n             int
}

func run(t testing.TB, pieces [][]byte) result {
	t.Helper()
	var r result
	p := NewParser(func(e *detect.Event) {
		r.n++
		r.sni, r.ja4, r.ja3 = e.TLS.SNI, e.TLS.JA4, e.TLS.JA3.Hash
	})
	for _, b := range pieces {
		if v := p.Data(detect.ToServer, b, 1); v != detect.NeedMore {
			t.Fatalf("Data = %v before the end", v)
		}
	}
	p.Close(2)
	return r
}

// syntheticHello is a ~2 KB ClientHello, as a post-quantum key share
// makes them: the JA4 spec example plus a 1200-byte key_share.
func syntheticHello() []byte {
	s := specHello()
	s.exts[3] = ext{0x0033, vec16(append(be16(0x11ec), vec16(make([]byte, 1216))...))}
	s.exts = append(s.exts, ext{0x0015, make([]byte, 500)})
	return handshake(hsClientHello, s.body())
}

// corpusHello returns the client's handshake bytes (records removed) of
// the post-quantum Chrome capture: a 1.7 KB ClientHello in two segments.
func corpusHello(t *testing.T) []byte {
	conns := readTCPConns(t, corpusPath(t, "zeek__tls__chrome-1250-tls-x25519-kyber.pcap"))
	var stream []byte
	for _, ch := range conns[0].chunks {
		if ch.dir == detect.ToServer {
			stream = append(stream, ch.data...)
		}
	}
	var hs []byte
	for len(stream) >= 5 && stream[0] == ctHandshake {
		n := int(stream[3])<<8 | int(stream[4])
		hs = append(hs, stream[5:5+n]...)
		stream = stream[5+n:]
	}
	n := int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3])
	return hs[:4+n]
}

func TestEvasion(t *testing.T) {
	t.Run("synthetic", func(t *testing.T) { testEvasion(t, syntheticHello()) })
	t.Run("corpus", func(t *testing.T) { testEvasion(t, corpusHello(t)) })
}

func testEvasion(t *testing.T, hs []byte) {
	stream := records(ctHandshake, hs, maxRecordLen-2048)
	want := run(t, [][]byte{stream})
	if want.n != 1 || want.ja4 == "" {
		t.Fatalf("whole stream: %+v", want)
	}
	t.Logf("%d-byte hello: sni=%q ja4=%s", len(hs), want.sni, want.ja4)
	check := func(name string, pieces [][]byte) {
		t.Helper()
		if got := run(t, pieces); got != want {
			t.Fatalf("%s: got %+v, want %+v", name, got, want)
		}
	}
	// Two Data calls, split at every offset.
	for i := 1; i < len(stream); i++ {
		check("split", [][]byte{stream[:i], stream[i:]})
	}
	// One byte per call.
	var ones [][]byte
	for i := range stream {
		ones = append(ones, stream[i:i+1])
	}
	check("1-byte pieces", ones)
	// Record fragmentation: records of 1..len(hs) bytes, each stream fed
	// whole and in random pieces.
	rng := rand.New(rand.NewPCG(1, 2))
	for size := 1; size <= len(hs); size++ {
		rs := records(ctHandshake, hs, size)
		check("records", [][]byte{rs})
		var pieces [][]byte
		for b := rs; len(b) > 0; {
			n := min(len(b), 1+rng.IntN(64))
			pieces = append(pieces, b[:n])
			b = b[n:]
		}
		check("records in pieces", pieces)
	}
}
