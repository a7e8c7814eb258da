package pipeline

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/detect/scan"
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
		{"vpn/ipsec 2003:51:6012::2:0>2003:51:6012::4:0", "Arkime esp (raw ESP, reported by the shard)"},
	},
	"arkime__ah-esp.pcap": {
		{"vpn/ipsec 10.0.0.1:0>10.0.0.2:0", "Arkime ah/esp (raw, reported by the shard)"},
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

// realToolsLab runs real clients and servers in two network namespaces
// joined by a veth pair and captures the server side with tcpdump: OpenVPN
// 2.6 in TLS mode over UDP, TCP and UDP with tls-auth (null device, no
// tunnel interface needed); a SOCKS proxy (ssh -D in the server namespace)
// used by curl with SOCKS5, SOCKS5 with remote names and SOCKS4a; a plain
// HTTP request; an L2TP tunnel set up by xl2tpd (LAC → LNS); the control
// connection of the pptp client (pptp-linux) to a listener on 1723; IKEv2
// between two strongSwan charons with UDP encapsulation forced (IKE_SA_INIT
// on 500, IKE_AUTH on 4500 behind the non-ESP marker; this kernel cannot
// install the ESP SAs, so no ESP follows); nmap SYN/FIN/NULL/XMAS/UDP scans of one host, a SYN scan of
// 60 routed addresses on port 80; an hping3 SYN flood from random sources.
// Documentation addresses only; nothing leaves the namespaces.
const realToolsLab = `#!/usr/bin/env bash
# Real tools in two namespaces; the server side's interface is captured.
set -euo pipefail
D=$1
S=nsrv$$ C=ncli$$
cleanup() {
	[[ -n ${TD:-} ]] && kill "$TD" 2>/dev/null || true
	ip netns pids "$S" 2>/dev/null | xargs -r kill 2>/dev/null || true
	ip netns pids "$C" 2>/dev/null | xargs -r kill 2>/dev/null || true
	sleep 0.3
	ip netns del "$S" 2>/dev/null || true
	ip netns del "$C" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$S"; ip netns add "$C"
ip link add "c$$" type veth peer name "s$$"
ip link set "c$$" netns "$C"; ip link set "s$$" netns "$S"
ip -n "$C" addr add 192.0.2.10/24 dev "c$$"; ip -n "$S" addr add 192.0.2.20/24 dev "s$$"
for n in "$C" "$S"; do ip -n "$n" link set lo up; done
ip -n "$C" link set "c$$" up; ip -n "$S" link set "s$$" up
ip -n "$C" route add 198.18.0.0/24 via 192.0.2.20
ip netns exec "$S" tcpdump -q -i "s$$" -U -s 0 -w "$D/cap.pcap" 2>"$D/tcpdump.log" &
TD=$!
sleep 1.5

# OpenVPN (TLS mode, null device): UDP plain, TCP plain, UDP tls-auth.
cd "$D"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=lab-ca 2>/dev/null
for n in server client; do
	openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=$n 2>/dev/null
	openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out $n.crt -days 2 2>/dev/null
done
openvpn --genkey secret ta.key
ovpn() { # ns role proto port extra...
	local ns=$1 role=$2 proto=$3 port=$4; shift 5
	local args=(--dev null --ca ca.crt --verb 1 --data-ciphers AES-256-GCM --connect-timeout 5)
	if [[ $role == server ]]; then
		args+=(--tls-server --dh none --cert server.crt --key server.key --lport "$port")
		[[ $proto == tcp ]] && args+=(--proto tcp-server) || args+=(--proto udp)
	else
		args+=(--tls-client --cert client.crt --key client.key --remote 192.0.2.20 "$port" --nobind)
		[[ $proto == tcp ]] && args+=(--proto tcp-client) || args+=(--proto udp)
	fi
	ip netns exec "$ns" timeout 6 openvpn "${args[@]}" "$@" >>"$D/openvpn.log" 2>&1 || true
}
pair() { # server args | client args, run together
	local p1 p2
	ovpn "$S" server "${@:1:3}" "${SX[@]}" & p1=$!
	sleep 0.5
	ovpn "$C" client "${@:1:3}" "${CX[@]}" & p2=$!
	wait "$p1" "$p2"
}
SX=() CX=(); pair udp 1194 x; pair tcp 8443 x
SX=(--tls-auth ta.key 0) CX=(--tls-auth ta.key 1); pair udp 5000 x

# SOCKS 5: ssh -D in the server namespace, curl through it from the client.
ssh-keygen -q -t ed25519 -N '' -f hostkey; ssh-keygen -q -t ed25519 -N '' -f userkey
cat >sshd_config <<EOC
Port 22
HostKey $D/hostkey
AuthorizedKeysFile $D/userkey.pub
PermitRootLogin yes
StrictModes no
PidFile $D/sshd.pid
EOC
mkdir -p /run/sshd
ip netns exec "$S" /usr/sbin/sshd -f "$D/sshd_config"
ip netns exec "$S" python3 -m http.server 8080 --bind 192.0.2.20 --directory "$D" >/dev/null 2>&1 &
sleep 0.5
ip netns exec "$S" ssh -i userkey -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o BatchMode=yes \
	-N -f -D 0.0.0.0:1080 root@127.0.0.1
sleep 0.5
ip netns exec "$C" curl -s -o /dev/null --socks5-hostname 192.0.2.20:1080 http://192.0.2.20:8080/ca.crt
ip netns exec "$C" curl -s -o /dev/null --socks5 192.0.2.20:1080 http://192.0.2.20:8080/ca.crt
ip netns exec "$C" curl -s -o /dev/null --socks4a 192.0.2.20:1080 http://192.0.2.20:8080/ca.crt || true
ip netns exec "$C" curl -s -o /dev/null http://192.0.2.20:8080/ca.crt

# L2TP: xl2tpd LNS in the server namespace, LAC in the client's; the tunnel (control connection) is set up.
cat >"$D/lns.conf" <<EOC
[global]
listen-addr = 192.0.2.20
port = 1701
[lns default]
ip range = 10.99.0.10-10.99.0.20
local ip = 10.99.0.1
require authentication = no
ppp debug = no
EOC
cat >"$D/lac.conf" <<EOC
[global]
port = 1701
[lac lab]
lns = 192.0.2.20
require authentication = no
autodial = yes
EOC
ip netns exec "$S" xl2tpd -D -c "$D/lns.conf" -p "$D/lns.pid" -C "$D/lns.ctl" >"$D/lns.log" 2>&1 &
sleep 0.5
ip netns exec "$C" xl2tpd -D -c "$D/lac.conf" -p "$D/lac.pid" -C "$D/lac.ctl" >"$D/lac.log" 2>&1 &
sleep 3
# PPTP: the pptp client's control connection to a listener on 1723.
ip netns exec "$S" python3 -c '
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("192.0.2.20",1723)); s.listen(1)
c,_=s.accept(); c.settimeout(3)
try: c.recv(4096)
except Exception: pass
time.sleep(0.5); c.close()' &
for i in $(seq 100); do ip netns exec "$S" ss -Hltn 'sport = :1723' | grep -q . && break; sleep 0.1; done # listening (python starts slowly under load)
ip netns exec "$C" timeout 8 pptp 192.0.2.20 --nolaunchpppd --loglevel 0 >"$D/pptp.log" 2>&1 </dev/null || true
# IPsec: strongSwan IKEv2 with a pre-shared key, UDP encapsulation forced (NAT-T on 4500, ESP in UDP).
swan() { # name local remote
	cat >"$D/$1.swanctl.conf" <<EOC
connections { lab { version = 2
	local_addrs = $2
	remote_addrs = $3
	encap = yes
	proposals = aes128-sha256-modp2048
	local { auth = psk
		id = $2 }
	remote { auth = psk
		id = $3 }
	children { c { local_ts = $2/32
		remote_ts = $3/32
		esp_proposals = aes128-sha256 } } } }
secrets { ike-1 { id-1 = 192.0.2.10
	id-2 = 192.0.2.20
	secret = nunchi-lab-secret } }
EOC
	cat >"$D/$1.strongswan.conf" <<EOC
charon { port = 500
	port_nat_t = 4500
	load = random nonce aes sha1 sha2 hmac kdf gmp kernel-netlink socket-default vici
	filelog { lab { path = $D/$1.charon.file
		default = 1 } } }
swanctl { load = random nonce aes sha1 sha2 hmac gmp vici pem pkcs1 pubkey x509 }
EOC
}
swan srv 192.0.2.20 192.0.2.10; swan cli 192.0.2.10 192.0.2.20
runswan() { # ns name initiate
	ip netns exec "$1" unshare -m bash -c "mount -t tmpfs tmpfs /run && mkdir -p /run/strongswan &&
		STRONGSWAN_CONF=$D/$2.strongswan.conf /usr/lib/ipsec/charon >$D/$2.charon.log 2>&1 &
		for i in \$(seq 150); do { [ -S /run/charon.vici ] || [ -S /run/strongswan/charon.vici ]; } && break; sleep 0.1; done; # charon up (slow under load)
		STRONGSWAN_CONF=$D/$2.strongswan.conf swanctl --load-all --file $D/$2.swanctl.conf >$D/$2.load.log 2>&1;
		if [ $3 = yes ]; then for i in \$(seq 150); do [ -s $D/srv.load.log ] && break; sleep 0.1; done; sleep 0.5; STRONGSWAN_CONF=$D/$2.strongswan.conf swanctl --initiate --child c >$D/$2.init.log 2>&1; fi; sleep 4"
}
runswan "$S" srv no & P1=$!
runswan "$C" cli yes & P2=$!
wait "$P1" "$P2" || true
# Scans (nmap) and a SYN flood (hping3, spoofed sources).
N="nmap -n -Pn -T5 --max-retries 0"
ip netns exec "$C" $N -sS -p 1-300 192.0.2.20 >/dev/null
ip netns exec "$C" $N -sF -p 1-100 192.0.2.20 >/dev/null
ip netns exec "$C" $N -sN -p 1-100 192.0.2.20 >/dev/null
ip netns exec "$C" $N -sX -p 1-100 192.0.2.20 >/dev/null
ip netns exec "$C" $N -sU -p 1-60 192.0.2.20 >/dev/null
ip netns exec "$C" $N -sS -p 80 198.18.0.1-60 >/dev/null
ip netns exec "$C" hping3 -q -S -p 80 -i u200 -c 2000 --rand-source 192.0.2.20 >/dev/null 2>&1 || true
sleep 1
kill "$TD"; wait "$TD" 2>/dev/null || true
TD=
`

// TestRealToolsCircumvention builds realToolsLab and checks that every
// VPN session, proxy use, scan and flood the tools made is reported, and
// nothing else (the plain HTTP request raises no proxy anomaly).
func TestRealToolsCircumvention(t *testing.T) {
	if testing.Short() {
		t.Skip("builds namespaces and runs real tools (~30 s)")
	}
	testutil.RequireNetns(t)
	var missing []string
	for _, tool := range []string{"nmap", "openvpn", "hping3", "sshd", "ssh", "curl", "tcpdump", "openssl", "python3", "ssh-keygen", "xl2tpd", "pptp", "swanctl", "/usr/lib/ipsec/charon"} {
		if _, err := exec.LookPath(tool); err != nil && !fileExistsAt("/usr/sbin/"+tool) && !fileExistsAt(tool) {
			missing = append(missing, tool)
		}
	}
	if len(missing) > 0 {
		if os.Getenv("NUNCHI_TEST_REQUIRE_NETNS") == "1" {
			t.Fatalf("missing tools %v (apt-get install nmap openvpn hping3 openssh-server openssh-client curl tcpdump xl2tpd pptp-linux strongswan-charon strongswan-swanctl)", missing)
		}
		t.Skipf("missing tools %v", missing)
	}
	dir, err := os.MkdirTemp("", "nunchi-vpnlab-") // not t.TempDir: tcpdump drops privileges
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "lab.sh")
	if err := os.WriteFile(script, []byte(realToolsLab), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("timeout", "180", "bash", script, dir).CombinedOutput(); err != nil {
		t.Fatalf("lab: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "cap.pcap")

	evs, _, err := replayFile(t, path, Config{Protocols: DefaultProtocols(), Streams: reassembly.DefaultStreamConfig()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, e := range evs {
		if e.Type != detect.TypeAnomaly || !circumventionTypes[e.Anomaly.Type] {
			continue
		}
		k := e.Anomaly.Type + "/" + e.Anomaly.Event
		for _, d := range e.Anomaly.Detail {
			switch d.Key {
			case "transport", "hmac", "version", "status", "message", "hostname", "vendor", "exchange", "nat_t":
				v := d.Str
				if d.IsNum {
					v = fmt.Sprint(d.Num)
				}
				k += " " + d.Key + "=" + v
			}
		}
		k += fmt.Sprintf(" :%d", e.DestPort)
		got[k]++
	}
	want := map[string]int{
		"vpn/openvpn transport=udp hmac=none :1194":                                              1,
		"vpn/openvpn transport=tcp hmac=none :8443":                                              1,
		"vpn/openvpn transport=udp hmac=tls-auth :5000":                                          1,
		"proxy/socks version=5 status=granted :1080":                                             2,
		"proxy/socks version=4a status=granted :1080":                                            1,
		"vpn/l2tp version=2 message=SCCRQ :1701":                                                 1,
		"vpn/ipsec version=2 exchange=ike_sa_init nat_t=0 :500":                                  1,
		"vpn/ipsec version=2 exchange=ike_auth nat_t=1 :4500":                                    1,
		"vpn/pptp message=start_control_connection_request hostname=local vendor=cananian :1723": 1,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: %d reports, want %d", k, got[k], n)
		}
	}
	for k, n := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected %s (%d)", k, n)
		}
	}

	d, err := scan.New(scan.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	scans := map[string]int{}
	for p := range testutil.Packets(t, path, 0) {
		for _, a := range d.Observe(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Flags, p.Timestamp) {
			k := a.Type + "/" + a.Event
			for _, x := range a.Detail {
				if x.Key == "kind" || x.Key == "dst" {
					k += " " + x.Str
				}
			}
			scans[k]++
		}
	}
	wantScans := map[string]int{
		"port_scan/vertical 192.0.2.20 syn": 1, "port_scan/vertical 192.0.2.20 fin": 1,
		"port_scan/vertical 192.0.2.20 null": 1, "port_scan/vertical 192.0.2.20 xmas": 1,
		"port_scan/vertical 192.0.2.20 udp": 1, "port_scan/horizontal syn": 1,
		"syn_flood/half_open 192.0.2.20 syn": 1,
	}
	for k, n := range wantScans {
		if scans[k] != n {
			t.Errorf("%s: %d reports, want %d", k, scans[k], n)
		}
	}
	for k, n := range scans {
		if _, ok := wantScans[k]; !ok {
			t.Errorf("unexpected %s (%d)", k, n)
		}
	}
}

func fileExistsAt(p string) bool { _, err := os.Stat(p); return err == nil }
