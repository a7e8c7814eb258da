package vpn

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// corpusSeeds returns the first payloads of the corpus's VPN captures
// (none when the corpus is absent).
func corpusSeeds(f *testing.F, proto uint8) [][]byte {
	dir := filepath.Join(testutil.RepoRoot(f), "..", "shared", "corpus")
	var out [][]byte
	for _, name := range []string{"ndpi__openvpn.pcap", "ndpi__openvpn_nohmac_tcp.pcapng", "ndpi__wireguard.pcap",
		"arkime__IKEv2.pcap", "tcpdump__isakmp4500.pcap"} {
		path := filepath.Join(dir, name)
		if _, err := os.Stat(path); err != nil {
			continue
		}
		n := 0
		for p := range testutil.Packets(f, path, proto) {
			if len(p.Payload) == 0 {
				continue
			}
			out = append(out, append([]byte(nil), p.Payload[:min(len(p.Payload), 512)]...))
			if n++; n >= 12 {
				break
			}
		}
	}
	return out
}

// FuzzDatagram feeds a flow of datagrams (the input cut at the lengths its
// first bytes choose) to every datagram parser whose probe accepts the
// first one: no panic, at most one event, every event a vpn anomaly.
func FuzzDatagram(f *testing.F) {
	for _, s := range corpusSeeds(f, capture.ProtoUDP) {
		f.Add(byte(len(s)), s)
	}
	f.Add(byte(28), l2tpSCCRQ(2))
	f.Add(byte(148), wgMsg(1, 148, 1, 0, 0))
	f.Fuzz(func(t *testing.T, cut byte, data []byte) {
		type dp interface {
			detect.DatagramParser
		}
		var n int
		emit := func(e *detect.Event) {
			n++
			if e.Type != detect.TypeAnomaly || e.Anomaly == nil || e.Anomaly.Type != "vpn" {
				t.Fatalf("bad event %+v", e)
			}
		}
		parsers := []struct {
			probe func(int, []byte) bool
			p     dp
		}{
			{DetectOpenVPNUDP, NewOpenVPN(emit, false)}, {DetectWireGuard, NewWireGuard(emit)},
			{DetectIKE, NewIPsec(emit)}, {DetectL2TP, NewL2TP(emit)}, {DetectESPUDP, NewIPsec(emit)},
		}
		for _, pr := range parsers {
			n = 0
			first := data[:min(len(data), max(int(cut), 1))]
			if !pr.probe(0, first) {
				continue
			}
			rest, dir := data, 0
			for len(rest) > 0 {
				k := min(len(rest), max(int(cut), 1))
				if pr.p.Datagram(dir, rest[:k], 1) != detect.NeedMore {
					break
				}
				rest, dir = rest[k:], dir^1
				if len(rest) > 0 {
					cut = rest[0] | 8
				}
			}
			pr.p.Close(2)
			if n > 1 {
				t.Fatalf("%d events", n)
			}
		}
	})
}

// FuzzStream feeds a byte stream, cut and alternated between directions,
// to the TCP parsers (OpenVPN, PPTP).
func FuzzStream(f *testing.F) {
	for _, s := range corpusSeeds(f, capture.ProtoTCP) {
		f.Add(uint64(len(s)), s)
	}
	f.Add(uint64(7), pptpRequest())
	f.Fuzz(func(t *testing.T, seed uint64, data []byte) {
		n := 0
		emit := func(e *detect.Event) {
			n++
			if e.Anomaly == nil || e.Anomaly.Type != "vpn" {
				t.Fatalf("bad event %+v", e)
			}
		}
		for _, p := range []detect.StreamParser{NewOpenVPN(emit, true), NewPPTP(emit)} {
			n = 0
			rng, rest := seed|1, data
			for len(rest) > 0 {
				rng ^= rng << 13
				rng ^= rng >> 7
				rng ^= rng << 17
				k := min(int(rng%200)+1, len(rest))
				if p.Data(int(rng>>40)&1, rest[:k], 1) != detect.NeedMore {
					break
				}
				rest = rest[k:]
			}
			p.Close(2)
			if n > 1 {
				t.Fatalf("%d events", n)
			}
		}
	})
}
