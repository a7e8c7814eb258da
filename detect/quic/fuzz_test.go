package quic

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

var fuzzCorpusFiles = []string{
	"zeek__quic__chromium-115.0.5790.110-api-cirrus-com.pcap",
	"ndpi__quic-29.pcap",
	"sv__quic-frag__input.pcap",
	"ndpi__quic_frags_ch_in_multiple_packets.pcapng",
	"ndpi__quic046.pcap",
	"ndpi__quic-27.pcap",
	"sv__quic-v2__input.pcap",
}

// corpusInitials returns the UDP payloads of the corpus captures that
// Detect accepts (none when the corpus is absent).
func corpusInitials(tb testing.TB) [][]byte {
	dir := filepath.Join(testutil.RepoRoot(tb), "..", "shared", "corpus")
	var out [][]byte
	for _, name := range fuzzCorpusFiles {
		r, err := capture.OpenFile(filepath.Join(dir, name))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			tb.Fatal(err)
		}
		dec := capture.NewDecoder(capture.DefaultDecoderConfig())
		var (
			fr  capture.Frame
			pkt capture.Packet
		)
		for r.ReadFrame(&fr) == nil {
			if dec.Decode(&pkt, fr.LinkType, fr.Data, fr.Timestamp, fr.WireLen) == capture.Decoded &&
				pkt.Proto == capture.ProtoUDP && Detect(pkt.Payload) {
				out = append(out, append([]byte(nil), pkt.Payload...))
			}
		}
		r.Close()
	}
	return out
}

func checkVerdict(t *testing.T, v detect.Verdict) {
	if v != detect.NeedMore && v != detect.Done && v != detect.NotMine {
		t.Fatalf("verdict %d", v)
	}
}

// FuzzDatagram feeds arbitrary datagrams: alone, twice, and after a valid
// Initial that cached keys and left a partial ClientHello. Property: no
// panic, at most one event per flow, valid verdicts.
func FuzzDatagram(f *testing.F) {
	for _, b := range corpusInitials(f) {
		f.Add(b)
	}
	f.Add(unhex(f, rfcV1Initial))
	f.Add(unhex(f, rfcV2Initial))
	hello := rfcHello(f)
	f.Add(sealInitial(f, &infoV1, Version1, testDCID, testSCID, 1, cryptoFrame(100, hello[100:]), 1200))
	f.Add(append(sealInitial(f, &infoV1, Version1, testDCID, testSCID, 1, cryptoFrame(100, hello[100:]), 0),
		sealInitial(f, &infoV1, Version1, testDCID, testSCID, 2, cryptoFrame(120, hello[120:]), 0)...))
	f.Add([]byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8, 'Q', '0', '4', '3', 1, 'C', 'H', 'L', 'O', 1, 0, 0, 0, 'S', 'N', 'I', 0, 3, 0, 0, 0, 'a', 'b', 'c'})
	first := sealInitial(f, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, hello[:100]), 1200)

	f.Fuzz(func(t *testing.T, b []byte) {
		Detect(b)
		events := 0
		emit := func(e *detect.Event) {
			events++
			if e.QUIC == nil || e.Type != detect.TypeQUIC {
				t.Fatalf("bad event %+v", e)
			}
		}
		p := NewParser(emit)
		checkVerdict(t, p.Datagram(detect.ToServer, b, 0))
		checkVerdict(t, p.Datagram(detect.ToServer, b, 1))
		p.Close(2)
		if events > 1 {
			t.Fatalf("%d events", events)
		}

		events = 0
		p.Reset(emit)
		checkVerdict(t, p.Datagram(detect.ToServer, first, 0))
		for range 3 {
			checkVerdict(t, p.Datagram(detect.ToServer, b, 1))
		}
		p.Close(2)
		if events > 1 {
			t.Fatalf("%d events after a valid first Initial", events)
		}
	})
}

// FuzzInitialPayload seals arbitrary frames into valid Initials (the
// payload half of the input after a 100-byte ClientHello start, then the
// whole input as a second packet), so that the frame walker, the CRYPTO
// reassembly and the ClientHello parser see fuzzed plaintext.
func FuzzInitialPayload(f *testing.F) {
	hello := rfcHello(f)
	f.Add(cryptoFrame(100, hello[100:]))
	f.Add(append([]byte{frameACKECN, 5, 0, 1, 0, 1, 0, 1, 2, 3, framePing}, cryptoFrame(100, hello[100:])...))
	f.Add(cryptoFrame(0, hello))
	f.Add([]byte{frameCrypto, 0x80, 0, 0x3f, 0xff, 0x10, 1, 2, 3})
	f.Fuzz(func(t *testing.T, frames []byte) {
		if len(frames) > 4000 {
			return
		}
		events := 0
		p := NewParser(func(*detect.Event) { events++ })
		checkVerdict(t, p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, hello[:100]), 1200), 0))
		checkVerdict(t, p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, 1, frames, 1200), 1))
		checkVerdict(t, p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, 2, frames, 0), 1))
		p.Close(3)
		if events != 1 {
			t.Fatalf("%d events, want 1 (the flow decrypted)", events)
		}
	})
}
