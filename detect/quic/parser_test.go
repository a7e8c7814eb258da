package quic

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// rfcHello returns the ClientHello handshake message (header included) of
// RFC 9001 A.2: SNI example.com, ALPN "alpn" (241 bytes with its header).
func rfcHello(t testing.TB) []byte {
	f := unhex(t, rfcCryptoFrame)
	return f[4:] // type 0x06, offset 0x00, length 0x40f1
}

var (
	testDCID = []byte{1, 2, 3, 4, 5, 6, 7, 8, 9}
	testSCID = []byte{0xaa, 0xbb, 0xcc, 0xdd}
)

// permutations returns every order of 0..n-1.
func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

// split cuts b into n pieces of about equal size.
func split(b []byte, n int) [][]byte {
	var out [][]byte
	for i := range n {
		out = append(out, b[i*len(b)/n:(i+1)*len(b)/n])
	}
	return out
}

// TestSplitHelloEveryOrder spreads the ClientHello over 2 and 3 Initial
// packets (one datagram each, as a client does) and delivers them in every
// order: every order gives the same SNI.
func TestSplitHelloEveryOrder(t *testing.T) {
	hello := rfcHello(t)
	for _, vi := range []struct {
		info versionInfo
		num  uint32
	}{{infoV1, Version1}, {infoV2, Version2}, {lookupVersion(0xff00001d), 0xff00001d}, {lookupVersion(0xff00001b), 0xff00001b}} {
		for _, n := range []int{2, 3} {
			pieces := split(hello, n)
			var pkts [][]byte
			off := 0
			for i, piece := range pieces {
				pkts = append(pkts, sealInitial(t, &vi.info, vi.num, testDCID, testSCID, uint32(i), cryptoFrame(uint64(off), piece), 1200))
				off += len(piece)
			}
			total, ok := 0, 0
			for _, order := range permutations(n) {
				name := fmt.Sprintf("%s/%d/%v", vi.info.name, n, order)
				total++
				var events []*eventCopy
				p := NewParser(collect(&events))
				for i, idx := range order {
					v := p.Datagram(detect.ToServer, pkts[idx], int64(i))
					want := detect.NeedMore
					if i == len(order)-1 {
						want = detect.Done
					}
					if v != want {
						t.Errorf("%s: datagram %d: verdict %v, want %v", name, i, v, want)
					}
				}
				if len(events) == 1 && events[0].SNI == "example.com" && events[0].Version == vi.info.name &&
					len(events[0].ALPN) == 1 && events[0].ALPN[0] == "alpn" && events[0].TS == int64(n-1) {
					ok++
				} else {
					t.Errorf("%s: events %+v", name, events)
				}
			}
			if ok != total {
				t.Errorf("%s split in %d: %d/%d orders found the SNI", vi.info.name, n, ok, total)
			}
		}
	}
}

// TestManySmallInitials: a ClientHello cut into 24 Initials (more than
// MaxStale, within MaxInitials), in order and reversed.
func TestManySmallInitials(t *testing.T) {
	hello := rfcHello(t)
	pieces := split(hello, 24)
	var pkts [][]byte
	off := 0
	for i, piece := range pieces {
		pkts = append(pkts, sealInitial(t, &infoV1, Version1, testDCID, testSCID, uint32(i), cryptoFrame(uint64(off), piece), 1200))
		off += len(piece)
	}
	for _, reverse := range []bool{false, true} {
		var events []*eventCopy
		p := NewParser(collect(&events))
		for i := range pkts {
			j := i
			if reverse {
				j = len(pkts) - 1 - i
			}
			p.Datagram(detect.ToServer, pkts[j], 0)
		}
		if len(events) != 1 || events[0].SNI != "example.com" {
			t.Errorf("reverse=%v: events %+v", reverse, events)
		}
	}
}

// TestCoalescedAndShuffledFrames: one datagram holding three coalesced
// Initials, each with CRYPTO frames in reverse order, overlapping
// retransmitted ranges, ACK (with ECN), PING and PADDING frames.
func TestCoalescedAndShuffledFrames(t *testing.T) {
	hello := rfcHello(t)
	pieces := split(hello, 6)
	offs := make([]uint64, 7)
	for i, p := range pieces {
		offs[i+1] = offs[i] + uint64(len(p))
	}
	ack := []byte{frameACKECN, 5, 0, 1, 0, 1, 0, 1, 2, 3} // largest 5, delay 0, 1 range, first 0, gap 1, len 0, ECN 1 2 3
	var dgram []byte
	for i := 2; i >= 0; i-- {
		var frames []byte
		frames = append(frames, framePing)
		frames = append(frames, cryptoFrame(offs[2*i+1], pieces[2*i+1])...)
		frames = append(frames, ack...)
		frames = append(frames, cryptoFrame(offs[2*i], pieces[2*i])...)
		if i > 0 { // retransmission overlapping the previous packet's range
			frames = append(frames, cryptoFrame(offs[2*i-1], hello[offs[2*i-1]:offs[2*i]+3])...)
		}
		frames = append(frames, 0, 0, 0)
		dgram = append(dgram, sealInitial(t, &infoV1, Version1, testDCID, testSCID, uint32(i), frames, 0)...)
	}
	dgram = append(dgram, make([]byte, 100)...) // datagram padding after the packets
	var events []*eventCopy
	p := NewParser(collect(&events))
	if v := p.Datagram(detect.ToServer, dgram, 1); v != detect.Done {
		t.Fatalf("verdict %v, stats %+v", v, p.Stats())
	}
	if len(events) != 1 || events[0].SNI != "example.com" {
		t.Fatalf("events %+v", events)
	}
	if st := p.Stats(); st.Initials != 3 || st.Decrypted != 3 || st.UnknownFrames != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestKeyChanges: later Initials with the server's connection ID (keys
// stay those of the first DCID), after a Retry (keys from the new DCID),
// and after compatible version negotiation to v2 (keys from the first DCID).
func TestKeyChanges(t *testing.T) {
	hello := rfcHello(t)
	a, b := hello[:100], hello[100:]
	first := func(t *testing.T) []byte {
		return sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, a), 1200)
	}
	serverCID := []byte{9, 9, 9, 9, 9, 9, 9, 9}
	// rest is sent to dcid, sealed with keys derived from keyDCID.
	rest := func(vi *versionInfo, ver uint32, dcid, keyDCID []byte) []byte {
		return seal(t, vi, ver, keyDCID, dcid, testSCID, 1, cryptoFrame(100, b), 1200)
	}
	for _, tc := range []struct {
		name   string
		second []byte
	}{
		{"server CID", rest(&infoV1, Version1, serverCID, testDCID)},
		{"retry", rest(&infoV1, Version1, serverCID, serverCID)},
		{"v1 to v2", rest(&infoV2, Version2, serverCID, testDCID)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var events []*eventCopy
			p := NewParser(collect(&events))
			if v := p.Datagram(detect.ToServer, first(t), 0); v != detect.NeedMore {
				t.Fatalf("first: %v", v)
			}
			if v := p.Datagram(detect.ToServer, tc.second, 1); v != detect.Done {
				t.Fatalf("second: %v, stats %+v", v, p.Stats())
			}
			if len(events) != 1 || events[0].SNI != "example.com" {
				t.Fatalf("events %+v", events)
			}
		})
	}
}

func TestGiveUp(t *testing.T) {
	hello := rfcHello(t)
	t.Run("retransmissions", func(t *testing.T) {
		var events []*eventCopy
		p := NewParser(collect(&events))
		// Only the tail of the hello, never its start: the first packet
		// brings new bytes, the next MaxStale bring none.
		pkt := sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(100, hello[100:]), 1200)
		for i := range MaxStale + 1 {
			want := detect.NeedMore
			if i == MaxStale {
				want = detect.Done
			}
			if v := p.Datagram(detect.ToServer, pkt, 0); v != want {
				t.Fatalf("datagram %d: verdict %v, want %v", i, v, want)
			}
		}
		if len(events) != 1 || events[0].SNI != "" || events[0].Version != "1" {
			t.Fatalf("events %+v", events)
		}
	})
	t.Run("MaxInitials", func(t *testing.T) {
		var events []*eventCopy
		p := NewParser(collect(&events))
		// Every packet brings new bytes, but offset 0 never comes.
		var v detect.Verdict
		for i := range MaxInitials {
			if v != detect.NeedMore {
				t.Fatalf("datagram %d: verdict %v", i, v)
			}
			v = p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, uint32(i), cryptoFrame(uint64(1+i), hello[1+i:2+i]), 1200), 0)
		}
		if v != detect.Done || len(events) != 1 || events[0].SNI != "" {
			t.Fatalf("verdict %v events %+v", v, events)
		}
	})
	t.Run("close reports version only", func(t *testing.T) {
		var events []*eventCopy
		p := NewParser(collect(&events))
		p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, hello[:100]), 1200), 0)
		p.Close(5)
		if len(events) != 1 || events[0].SNI != "" || events[0].TS != 5 {
			t.Fatalf("events %+v", events)
		}
		p.Close(6)
		if len(events) != 1 {
			t.Fatal("second Close emitted again")
		}
	})
	t.Run("hello too large", func(t *testing.T) {
		var events []*eventCopy
		p := NewParser(collect(&events))
		big := []byte{1, 0, 0x50, 0}
		v := p.Datagram(detect.ToServer, sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, big), 1200), 0)
		if v != detect.Done || len(events) != 1 || events[0].SNI != "" || p.Stats().CryptoOverflow == 0 {
			t.Fatalf("verdict %v events %+v stats %+v", v, events, p.Stats())
		}
	})
	t.Run("not QUIC", func(t *testing.T) {
		p := NewParser(nil)
		if v := p.Datagram(detect.ToServer, []byte("GET / HTTP/1.1\r\n\r\n"), 0); v != detect.NotMine {
			t.Fatalf("verdict %v", v)
		}
	})
	t.Run("server first is ignored", func(t *testing.T) {
		var events []*eventCopy
		p := NewParser(collect(&events))
		pkt := sealInitial(t, &infoV1, Version1, testDCID, testSCID, 0, cryptoFrame(0, hello), 1200)
		if v := p.Datagram(detect.ToClient, pkt, 0); v != detect.NeedMore || len(events) != 0 {
			t.Fatalf("verdict %v", v)
		}
		if v := p.Datagram(detect.ToServer, pkt, 0); v != detect.Done || len(events) != 1 {
			t.Fatalf("verdict %v", v)
		}
		// Reset reuses the parser for a new flow.
		p.Reset(collect(&events))
		if v := p.Datagram(detect.ToServer, pkt, 0); v != detect.Done || len(events) != 2 {
			t.Fatalf("after Reset: verdict %v", v)
		}
	})
}

// chlo builds a gQUIC CHLO message with the given tags (in order).
func chlo(tags ...string) []byte {
	b := []byte("CHLO")
	b = binary.LittleEndian.AppendUint16(b, uint16(len(tags)/2))
	b = append(b, 0, 0)
	var values []byte
	for i := 0; i < len(tags); i += 2 {
		tag := []byte(tags[i] + "\x00\x00\x00\x00")[:4]
		values = append(values, tags[i+1]...)
		b = append(b, tag...)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(values)))
	}
	return append(b, values...)
}

func TestGQUIC(t *testing.T) {
	msg := chlo("PAD", "\x00\x00\x00", "SNI", "www.example.org", "UAID", "test-agent/1", "VER", "Q043")
	t.Run("Q043", func(t *testing.T) {
		// Public flags: version, 8-byte CID, 1-byte packet number.
		pkt := []byte{0x09, 1, 2, 3, 4, 5, 6, 7, 8, 'Q', '0', '4', '3', 1}
		pkt = append(pkt, make([]byte, 12)...)    // message hash
		pkt = append(pkt, 0xa0, 0x01, 0x04, 0x00) // STREAM frame, stream 1
		pkt = append(pkt, msg...)
		if !Detect(pkt) {
			t.Fatal("Detect = false")
		}
		var events []*eventCopy
		p := NewParser(collect(&events))
		if v := p.Datagram(detect.ToServer, pkt, 0); v != detect.Done {
			t.Fatalf("verdict %v", v)
		}
		if len(events) != 1 || events[0].Version != "Q043" || events[0].SNI != "www.example.org" || events[0].UA != "test-agent/1" {
			t.Fatalf("events %+v", events)
		}
	})
	t.Run("Q050", func(t *testing.T) {
		// Q050's gQUIC CRYPTO frame (type 0x08, offset, length) holding the CHLO.
		frames := append([]byte{0x08, 0x00}, appendVarint(nil, uint64(len(msg)))...)
		frames = append(frames, msg...)
		pkt := sealInitial(t, &infoQ50, VersionQ050, testDCID, testSCID, 1, frames, 1200)
		if !Detect(pkt) {
			t.Fatal("Detect = false")
		}
		var events []*eventCopy
		p := NewParser(collect(&events))
		if v := p.Datagram(detect.ToServer, pkt, 0); v != detect.Done {
			t.Fatalf("verdict %v stats %+v", v, p.Stats())
		}
		if len(events) != 1 || events[0].Version != "Q050" || events[0].SNI != "www.example.org" || events[0].UA != "test-agent/1" {
			t.Fatalf("events %+v", events)
		}
	})
}

func TestDetect(t *testing.T) {
	v1 := unhex(t, rfcV1Initial)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"rfc v1", v1, true},
		{"rfc v2", unhex(t, rfcV2Initial), true},
		{"empty", nil, false},
		{"short header", []byte{0x40, 1, 2, 3, 4, 5, 6, 7}, false},
		{"no fixed bit", append([]byte{0x80}, v1[1:]...), false},
		{"unknown version", append([]byte{0xc0, 0x0a, 0x1a, 0x2a, 0x3a}, v1[5:]...), false},
		{"handshake type", append([]byte{0xe0}, v1[1:]...), false},
		{"truncated", v1[:600], false},
		{"dcid too short", []byte{0xc0, 0, 0, 0, 1, 4, 1, 2, 3, 4, 0, 0, 1, 0}, false},
		{"dcid too long", append([]byte{0xc0, 0, 0, 0, 1, 21}, make([]byte, 40)...), false},
	} {
		if got := Detect(tc.b); got != tc.want {
			t.Errorf("%s: Detect = %v, want %v", tc.name, got, tc.want)
		}
	}
}
