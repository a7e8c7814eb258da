package quic

import (
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// BenchmarkInitial: one flow's first Initial end to end: Detect, key
// derivation, header protection, AES-128-GCM open, frames, ClientHello
// parse, JA4 and the event (Reset reuses the parser's buffers).
func BenchmarkInitial(b *testing.B) {
	cases := []struct {
		name string
		pkt  []byte
	}{{"rfc9001", unhex(b, rfcV1Initial)}, {"rfc9369-v2", unhex(b, rfcV2Initial)}}
	if init := corpusInitials(b); len(init) > 0 {
		cases = append(cases, struct {
			name string
			pkt  []byte
		}{"chrome115", init[0]})
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			events := 0
			emit := func(*detect.Event) { events++ }
			p := NewParser(emit)
			b.SetBytes(int64(len(c.pkt)))
			b.ReportAllocs()
			for b.Loop() {
				p.Reset(emit)
				if p.Datagram(detect.ToServer, c.pkt, 0) != detect.Done {
					b.Fatal("not done")
				}
			}
			if events == 0 {
				b.Fatal("no event")
			}
		})
	}
}

func BenchmarkDetect(b *testing.B) {
	pkt := unhex(b, rfcV1Initial)
	b.ReportAllocs()
	for b.Loop() {
		if !Detect(pkt) {
			b.Fatal("Detect = false")
		}
	}
}

// TestNoAllocs: Detect, a non-QUIC datagram and opening an Initial with
// keys already derived allocate nothing.
func TestNoAllocs(t *testing.T) {
	pkt := unhex(t, rfcV1Initial)
	h, _ := parseLongHeader(pkt, &infoV1)
	k, err := newInitialKeys(&infoV1, h.dcid)
	if err != nil {
		t.Fatal(err)
	}
	scratch := make([]byte, 0, len(pkt))
	if n := testing.AllocsPerRun(100, func() {
		if _, _, ok := open(k, pkt, &h, -1, scratch); !ok {
			t.Fatal("open failed")
		}
	}); n != 0 {
		t.Errorf("open: %v allocations, want 0", n)
	}
	dns := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1}
	p := NewParser(nil)
	if n := testing.AllocsPerRun(100, func() {
		Detect(pkt)
		p.Reset(nil)
		if p.Datagram(detect.ToServer, dns, 0) != detect.NotMine {
			t.Fatal("DNS taken for QUIC")
		}
	}); n != 0 {
		t.Errorf("%v allocations, want 0", n)
	}
}

// BenchmarkOpen: header protection removal and AES-128-GCM open of one
// 1200-byte Initial with keys already derived (a flow's later Initials).
func BenchmarkOpen(b *testing.B) {
	pkt := unhex(b, rfcV1Initial)
	h, _ := parseLongHeader(pkt, &infoV1)
	k, err := newInitialKeys(&infoV1, h.dcid)
	if err != nil {
		b.Fatal(err)
	}
	scratch := make([]byte, 0, len(pkt))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := open(k, pkt, &h, -1, scratch); !ok {
			b.Fatal("open failed")
		}
	}
}

// BenchmarkKeys: Initial key derivation (HKDF, AES and GCM setup).
func BenchmarkKeys(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := newInitialKeys(&infoV1, rfcDCID); err != nil {
			b.Fatal(err)
		}
	}
}
