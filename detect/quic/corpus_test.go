package quic

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

type endpoint struct {
	addr capture.Addr
	port uint16
}

type corpusFlow struct {
	client endpoint
	parser *Parser
	done   bool
}

// replayQUIC feeds the UDP payloads of a capture to one Parser per flow
// (the first packet's source is the client) and returns the events, in
// order. Flows whose first client datagram is not QUIC are dropped
// (NotMine). Close runs at the end for the others.
func replayQUIC(t testing.TB, path string) []*eventCopy {
	t.Helper()
	var (
		events []*eventCopy
		order  []*corpusFlow
	)
	flows := map[[2]endpoint]*corpusFlow{}
	for pkt := range testutil.Packets(t, path, capture.ProtoUDP) {
		src, dst := endpoint{pkt.Src, pkt.SrcPort}, endpoint{pkt.Dst, pkt.DstPort}
		key := [2]endpoint{src, dst}
		if string(src.addr[:]) > string(dst.addr[:]) || src.addr == dst.addr && src.port > dst.port {
			key = [2]endpoint{dst, src}
		}
		f := flows[key]
		if f == nil {
			f = &corpusFlow{client: src, parser: NewParser(collect(&events))}
			flows[key] = f
			order = append(order, f)
		}
		if f.done {
			continue
		}
		dir := detect.ToServer
		if src != f.client {
			dir = detect.ToClient
		}
		if v := f.parser.Datagram(dir, pkt.Payload, pkt.Timestamp); v != detect.NeedMore {
			f.done = true
		}
	}
	for _, f := range order {
		if !f.done {
			f.parser.Close(0)
		}
		if st := f.parser.Stats(); st.Datagrams > 0 {
			t.Logf("flow %v:%d: %+v", f.client.addr, f.client.port, st)
		}
	}
	return events
}

func TestCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	for _, tc := range []struct {
		file    string
		version string
		// snis: expected.json tshark.quic_sni (or peer_expect when tshark
		// has none), one per connection, sorted.
		snis []string
		ja4  string // peer_expect JA4 of every connection, when given
		// ja4Hashes: JA4 parts b and c only. nDPI's part a differs from
		// the FoxIO specification (ALPN "h3-29" gives "h9" there, nDPI
		// writes "h3"; nDPI writes "d" for a ClientHello without SNI).
		ja4Hashes string
		alpn      string // first ALPN of every connection, when checked
		ua        string
	}{
		{file: "zeek__quic__chromium-115.0.5790.110-api-cirrus-com.pcap", version: "1", snis: []string{"api.cirrus-ci.com"}, alpn: "h3"},
		// nDPI: q13d0512h3_d55e91d5c3b2_cd318bf3b157.
		{file: "ndpi__quic-29.pcap", version: "draft-29", snis: []string{"localhost"}, ja4: "q13d0512h9_d55e91d5c3b2_cd318bf3b157", ja4Hashes: "d55e91d5c3b2_cd318bf3b157", alpn: "h3-29"},
		// nDPI: q13d0309h3_55b375c5d22e_f68d9329452a.
		{file: "ndpi__quic-27.pcap", version: "draft-27", snis: []string{"play.google.com"}, ja4: "q13d0309h7_55b375c5d22e_f68d9329452a", ja4Hashes: "55b375c5d22e_f68d9329452a", alpn: "h3-27"},
		{file: "sv__quic-frag__input.pcap", version: "1", snis: []string{"token.services.mozilla.com"}, alpn: "h3"},
		{file: "sv__ja4-quic__input.pcap", version: "1", snis: []string{
			"1.bp.blogspot.com", "2.bp.blogspot.com", "4.bp.blogspot.com", "apis.google.com", "apis.google.com",
			"fonts.gstatic.com", "socpuppet.blogspot.com", "www.blogger.com", "www.blogger.com", "www.google.com", "www.gstatic.com",
		}, ja4: "q13d0310h3_55b375c5d22e_cd85d2d88918", alpn: "h3"},
		// No server_name in this ClientHello (nDPI: "Missing SNI TLS Extn").
		// nDPI: q00d0307h3_55b375c5d22e_af0a630e9e67.
		{file: "ndpi__quic_frags_ch_in_multiple_packets.pcapng", version: "1", snis: []string{""}, ja4: "q00i0307h4_55b375c5d22e_af0a630e9e67", ja4Hashes: "55b375c5d22e_af0a630e9e67", alpn: "h3-34"},
		{file: "ndpi__quic046.pcap", version: "Q046", snis: []string{"i.ytimg.com"}, ua: "Chrome/80.0.3987.132 Windows NT 6.3; Win64; x64"},
		// quic-go client to 127.0.0.1: no server_name; Suricata checks ALPN h3.
		{file: "sv__quic-v2__input.pcap", version: "2", snis: []string{""}, alpn: "h3"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			events := replayQUIC(t, filepath.Join(dir, tc.file))
			var snis []string
			for _, e := range events {
				snis = append(snis, e.SNI)
				if e.Version != tc.version {
					t.Errorf("%s: version %q, want %q", e.SNI, e.Version, tc.version)
				}
				if tc.ja4 != "" && e.JA4 != tc.ja4 {
					t.Errorf("%s: JA4 %q, want %q", e.SNI, e.JA4, tc.ja4)
				}
				if tc.alpn != "" && (len(e.ALPN) == 0 || e.ALPN[0] != tc.alpn) {
					t.Errorf("%s: ALPN %q, want first %q", e.SNI, e.ALPN, tc.alpn)
				}
				if tc.ja4Hashes != "" && !strings.HasSuffix(e.JA4, "_"+tc.ja4Hashes) {
					t.Errorf("%s: JA4 %q, want parts b_c %q", e.SNI, e.JA4, tc.ja4Hashes)
				}
				if e.UA != tc.ua {
					t.Errorf("%s: UA %q, want %q", e.SNI, e.UA, tc.ua)
				}
				t.Logf("event: %+v", *e)
			}
			slices.Sort(snis)
			if !slices.Equal(snis, tc.snis) {
				t.Errorf("SNIs %q, want %q", snis, tc.snis)
			}
		})
	}
}
