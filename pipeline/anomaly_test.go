package pipeline

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/reassembly"
)

// circumventionTypes are the anomaly families that say "this flow goes
// around a blocklist": a benign capture must raise none of them.
var circumventionTypes = map[string]bool{"vpn": true, "proxy": true, "tor": true}

// expectedCircumvention is what the corpus captures must raise: per
// capture, one "type/event client>server" per flow, and what the peer
// (nDPI, Arkime, tcpdump, Zeek) reports for it. Every other capture (and
// every other flow) must raise no vpn/proxy/tor anomaly. docs/anomalies.md
// carries the same table.
var expectedCircumvention = map[string][]struct{ flow, peer string }{
	"ndpi__openvpn.pcap": {
		{"vpn/openvpn 10.0.2.15:60201>69.197.143.179:443", "nDPI OpenVPN (server side only)"},
		{"vpn/openvpn 10.181.235.122:39772>10.251.71.30:1194", "nDPI OpenVPN (TCP, no HMAC)"},
		{"vpn/openvpn 127.0.0.1:36138>127.0.0.1:443", "nDPI OpenVPN (TCP)"},
		{"vpn/openvpn 192.168.1.77:60140>46.101.231.218:443", "nDPI OpenVPN (TCP, tls-auth)"},
		{"vpn/openvpn 192.168.12.156:37383>217.138.197.43:1234", "nDPI OpenVPN.NordVPN"},
		{"vpn/openvpn 192.168.12.156:41133>107.161.86.131:443", "nDPI OpenVPN"},
		{"vpn/openvpn 192.168.43.12:41507>139.59.151.137:13680", "nDPI OpenVPN"},
		{"vpn/openvpn 192.168.43.18:13680>139.59.151.137:13680", "nDPI OpenVPN"},
		{"vpn/openvpn 192.168.75.18:60201>166.161.181.18:443", "nDPI OpenVPN (client side only)"},
		{"vpn/openvpn 3.111.166.78:51146>85.134.13.165:1194", "nDPI OpenVPN"},
	},
	"ndpi__openvpn_nohmac_tcp.pcapng": {
		{"vpn/openvpn 10.181.235.122:39772>10.251.71.30:1194", "nDPI OpenVPN"},
	},
	"ndpi__wireguard.pcap": {
		{"vpn/wireguard 10.9.0.1:43462>10.9.0.2:51820", "nDPI WireGuard"},
		{"vpn/wireguard 192.168.0.14:36116>139.162.192.157:51820", "nDPI WireGuard (transport only)"},
	},
	"arkime__IKEv2.pcap": {
		// Two flows: the first IKE_SA_INIT waits 32 s for an answer (UDP
		// new-flow timeout 30 s), so its retry opens a second flow.
		{"vpn/ipsec 2003:51:6012::2:500>2003:51:6012::4:500", "Arkime isakmp"},
		{"vpn/ipsec 2003:51:6012::4:500>2003:51:6012::2:500", "Arkime isakmp"},
	},
	"tcpdump__isakmp4500.pcap": {
		{"vpn/ipsec 192.1.2.254:500>192.1.2.23:500", "tcpdump isakmp phase 1 I ident"},
		{"vpn/ipsec 192.1.2.254:4500>192.1.2.23:4500", "tcpdump NONESP-encap: isakmp"},
	},
	"zeek__socks.pcap": {
		{"proxy/socks 10.0.0.55:53994>60.190.189.214:8124", "Zeek socks.log v5 succeeded www.osnews.com:80"},
	},
	"arkime__https-connect.pcap": {
		{"proxy/http_connect 10.11.12.13:54723>10.9.8.7:8080", "Arkime http CONNECT (reported by the shard)"},
	},
	"ndpi__tor.pcap": {
		// nDPI names 3 of these Tor (from its relay address list), the
		// other 4 TLS; all 7 carry Tor's made-up SNI and certificate names.
		{"tor/tls 192.168.1.252:51110>91.143.93.242:443", "nDPI TLS (Tor SNI/cert)"},
		{"tor/tls 192.168.1.252:51111>46.59.52.31:443", "nDPI TLS.Tor"},
		{"tor/tls 192.168.1.252:51112>38.229.70.53:443", "nDPI TLS.Tor"},
		{"tor/tls 192.168.1.252:51174>212.83.155.250:443", "nDPI TLS (Tor SNI/cert)"},
		{"tor/tls 192.168.1.252:51175>91.143.93.242:443", "nDPI TLS.Tor"},
		{"tor/tls 192.168.1.252:51176>38.229.70.53:443", "nDPI TLS (Tor SNI/cert)"},
		{"tor/tls 192.168.1.252:51185>62.210.137.230:443", "nDPI TLS (Tor SNI/cert)"},
	},
}

// vpnProtos are the app_proto names of the VPN entries of the table.
var vpnProtos = map[string]bool{"pptp": true, "openvpn": true, "wireguard": true, "ike": true, "l2tp": true, "esp": true}

func anomalyFlow(e *detect.Event) string {
	ep := func(ip fmt.Stringer, port uint16) string {
		s := ip.String()
		if strings.Contains(s, ":") {
			return s + ":" + fmt.Sprint(port) // as the table writes IPv6
		}
		return fmt.Sprintf("%s:%d", s, port)
	}
	return fmt.Sprintf("%s/%s %s>%s", e.Anomaly.Type, e.Anomaly.Event, ep(e.SrcIP, e.SrcPort), ep(e.DestIP, e.DestPort))
}

// TestCorpusCircumvention replays every corpus capture and the project's
// own captures through the full pipeline: every expected VPN/proxy/Tor
// flow is reported once, with the flow's context, and nothing else is.
func TestCorpusCircumvention(t *testing.T) {
	dir := testutil.CorpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	root := testutil.RepoRoot(t)
	own, _ := filepath.Glob(filepath.Join(root, "testdata", "pcap", "*.pcap*"))
	files = append(append(files, own...), filepath.Join(root, "testdata", "demo.pcap"))
	seen := map[string]bool{}
	var tp, fp, fn int
	for _, path := range files {
		name := filepath.Base(path)
		evs, _, _ := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
		got := map[string]int{}
		reported := map[uint64]bool{}
		for _, e := range evs {
			if e.Type == detect.TypeAnomaly && e.Anomaly != nil && circumventionTypes[e.Anomaly.Type] {
				reported[e.FlowID] = true
			}
		}
		for _, e := range evs {
			// A VPN probe that claimed a flow it then did not confirm leaves
			// a wrong app_proto behind.
			if e.Type == detect.TypeFlow && vpnProtos[e.AppProto] && !reported[e.FlowID] {
				t.Errorf("%s: flow %s:%d>%s:%d labelled %s without a report", name, e.SrcIP, e.SrcPort, e.DestIP, e.DestPort, e.AppProto)
			}
		}
		for _, e := range evs {
			if e.Type != detect.TypeAnomaly || e.Anomaly == nil || !circumventionTypes[e.Anomaly.Type] {
				continue
			}
			if e.FlowID == 0 || e.CommunityID == "" || !e.SrcIP.IsValid() {
				t.Errorf("%s: %s without its flow context", name, anomalyFlow(e))
			}
			got[anomalyFlow(e)]++
		}
		want := map[string]bool{}
		if strings.HasPrefix(path, dir) {
			if exp, ok := expectedCircumvention[name]; ok {
				seen[name] = true
				for _, x := range exp {
					want[x.flow] = true
				}
			}
		}
		for f := range want {
			switch got[f] {
			case 1:
				tp++
			case 0:
				fn++
				t.Errorf("%s: missed %s", name, f)
			default:
				t.Errorf("%s: %s reported %d times, want once", name, f, got[f])
			}
		}
		var extra []string
		for f := range got {
			if !want[f] {
				fp++
				extra = append(extra, f)
			}
		}
		sort.Strings(extra)
		for _, f := range extra {
			t.Errorf("%s: unexpected %s", name, f)
		}
	}
	for name := range expectedCircumvention {
		if !seen[name] {
			t.Errorf("expectation for %s, which is not in the corpus", name)
		}
	}
	t.Logf("circumvention flows: %d detected, %d missed, %d false (precision %.2f, recall %.2f) over %d captures",
		tp, fn, fp, float64(tp)/float64(max(tp+fp, 1)), float64(tp)/float64(max(tp+fn, 1)), len(files))
}
