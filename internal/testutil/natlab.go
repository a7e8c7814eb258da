package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// NATLab is testdata/netns/nat-lab.sh brought up for one test: client
// namespaces behind a router that NATs with nftables, servers (nginx,
// stund) on the outside segment, and a tap on each side of the router:
// OutIf sees the outside segment (the public address), InIf the inside one
// (the clients' addresses). Both are in the root namespace.
type NATLab struct {
	Dir          string
	ID           string
	Variant      string // port_restricted, restricted_cone, full_cone, symmetric_random, symmetric_fully_random
	OutIf        string // mirror of every frame on the outside bridge
	InIf         string // mirror of every frame on the inside bridge
	SwitchNS     string
	RouterNS     string
	SrvNS        string   // nginx and stund on 203.0.113.10 and .11
	WebNS        string   // nginx on 203.0.113.20
	ClientNS     []string // c1 first
	ClientIPs    []string // 192.0.2.11, .12, …
	ClientStacks []string // the emulated OS of each client: linux, windows, bsd, mac, router255
	RouterInIP   string   // 192.0.2.1
	PublicIP     string   // the router's outside address (198.51.100.1 unless NAT_LAB_PUBLIC)
	PublicPrefix string   // PublicIP/len
	ServerIPs    []string // 203.0.113.10 203.0.113.11 203.0.113.20
	STUNPrimary  string   // 203.0.113.10:3478
	STUNAlt      string   // 203.0.113.11:3479
	UPnP         bool     // miniupnpd runs on the router (NAT_LAB_UPNP=1)
	Env          map[string]string
	script       string
}

// StartNATLab builds the lab and tears it down when t ends; env holds
// VAR=value settings for nat-lab.sh up: NAT_LAB_VARIANT, NAT_LAB_CLIENTS,
// NAT_LAB_STACKS, NAT_LAB_PUBLIC, NAT_LAB_UPNP (see the script's header).
// It skips like RequireNetns where namespaces cannot be built.
func StartNATLab(t testing.TB, env ...string) *NATLab {
	t.Helper()
	dir, script, m := startLab(t, "nat-lab", env, "OUT_IF", "IN_IF", "CLIENT_NS", "PUBLIC_IP")
	l := &NATLab{Dir: dir, script: script}
	l.Env = m
	l.ID, l.Variant = m["LAB_ID"], m["VARIANT"]
	l.OutIf, l.InIf = m["OUT_IF"], m["IN_IF"]
	l.SwitchNS, l.RouterNS, l.SrvNS, l.WebNS = m["SW_NS"], m["ROUTER_NS"], m["SRV_NS"], m["WEB_NS"]
	l.ClientNS = strings.Fields(m["CLIENT_NS"])
	l.ClientIPs = strings.Fields(m["CLIENT_IPS"])
	l.ClientStacks = strings.Fields(m["CLIENT_STACKS"])
	l.RouterInIP, l.PublicIP, l.PublicPrefix = m["ROUTER_IN_IP"], m["PUBLIC_IP"], m["PUBLIC_PREFIX"]
	l.ServerIPs = strings.Fields(m["SERVER_IPS"])
	l.STUNPrimary, l.STUNAlt = m["STUN_PRIMARY"], m["STUN_ALT"]
	l.UPnP = m["UPNP"] == "1"
	return l
}

// Traffic runs the lab's real clients: curl (HTTP to 203.0.113.10 and .20,
// HTTPS to .10) from every client, the STUN client from client 1 and, with
// UPnP, upnpc and an inbound connection through the new forward.
func (l *NATLab) Traffic(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(l.script, "traffic", l.Dir).CombinedOutput(); err != nil {
		t.Fatalf("nat-lab traffic: %v\n%s", err, out)
	}
}

// STUN runs Debian's RFC 3489 stun client from client 1 against stund and
// returns what it printed (DIR/stun.out); STUNVerdict extracts the NAT type.
func (l *NATLab) STUN(t testing.TB) string {
	t.Helper()
	return l.STUNFrom(t, 1)
}

// STUNFrom is STUN from client i (1 is c1, 192.0.2.11).
func (l *NATLab) STUNFrom(t testing.TB, i int) string {
	t.Helper()
	if out, err := exec.Command(l.script, "stun", l.Dir, strconv.Itoa(i)).CombinedOutput(); err != nil {
		t.Fatalf("nat-lab stun: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(l.Dir, "stun.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// UPnPMap runs only the UPnP part of Traffic (needs NAT_LAB_UPNP=1 at
// start) and returns its transcript (DIR/upnp.out).
func (l *NATLab) UPnPMap(t testing.TB) string {
	t.Helper()
	if !l.UPnP {
		t.Fatal("nat-lab: UPnPMap needs NAT_LAB_UPNP=1")
	}
	if out, err := exec.Command(l.script, "upnp", l.Dir).CombinedOutput(); err != nil {
		t.Fatalf("nat-lab upnp: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(l.Dir, "upnp.out"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// STUNVerdict returns the NAT type line the stun client printed, without
// its "Primary: " prefix, e.g. "Independent Mapping, Port Dependent Filter,
// preserves ports, no hairpin"; "" when there is none.
func STUNVerdict(stunOut string) string {
	for _, line := range strings.Split(stunOut, "\n") {
		if v, ok := strings.CutPrefix(line, "Primary: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// InClient runs a shell command in client i (1 is c1, 192.0.2.11) and
// returns its combined output; a failing command is fatal.
func (l *NATLab) InClient(t testing.TB, i int, script string) string {
	t.Helper()
	if i < 1 || i > len(l.ClientNS) {
		t.Fatalf("nat-lab: no client %d (have %d)", i, len(l.ClientNS))
	}
	out, err := exec.Command("ip", "netns", "exec", l.ClientNS[i-1], "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("in client %d: %s: %v\n%s", i, script, err, out)
	}
	return string(out)
}

// InNS runs a shell command in one of the lab's namespaces (RouterNS,
// SrvNS, …) and returns its combined output; a failing command is fatal.
func (l *NATLab) InNS(t testing.TB, ns, script string) string {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v\n%s", ns, script, err, out)
	}
	return string(out)
}
