package app

import (
	"bufio"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/pipeline"
)

// natEvent is the part of a nat event the NAT tests read.
type natEvent struct {
	PublicIP       string  `json:"public_ip"`
	HostsEstimate  int     `json:"hosts_estimate"`
	Confidence     float64 `json:"confidence"`
	NATType        string  `json:"nat_type"`
	Mapping        string  `json:"mapping"`
	Filtering      string  `json:"filtering"`
	TypeSource     string  `json:"type_source"`
	PortAllocation string  `json:"port_allocation"`
	CGNAT          bool    `json:"cgnat"`
	Evidence       struct {
		TTLs          []string `json:"ttls"`
		SYNSignatures int      `json:"syn_signatures"`
		PortRuns      int      `json:"port_runs"`
		PairedHosts   int      `json:"paired_hosts"`
		InsideHosts   []string `json:"inside_hosts"`
	} `json:"evidence"`
	UPnP *struct {
		Gateway  string `json:"gateway"`
		Mappings []struct {
			ExternalPort   int    `json:"external_port"`
			Protocol       string `json:"protocol"`
			InternalClient string `json:"internal_client"`
			InternalPort   int    `json:"internal_port"`
		} `json:"mappings"`
	} `json:"upnp"`
	Forwards []struct {
		Port     int `json:"port"`
		Accepted int `json:"accepted"`
	} `json:"port_forwards"`
}

// natRun captures the lab live on the given taps while traffic runs and
// returns the last nat event per address and the stun client's verdict.
func natRun(t *testing.T, lab *testutil.NATLab, ifaces []string, inside []string, traffic func()) (map[string]natEvent, string) {
	last, verdict, _ := natRunStats(t, lab, ifaces, inside, traffic)
	return last, verdict
}

func natRunStats(t *testing.T, lab *testutil.NATLab, ifaces []string, inside []string, traffic func()) (map[string]natEvent, string, pipeline.Stats) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "events.jsonl")
	cfg := liveTestConfig(t, ifaces[0], 2, out)
	cfg.Capture.Interfaces = ifaces
	cfg.NAT.InsideNetworks = nil
	for _, p := range inside {
		cfg.NAT.InsideNetworks = append(cfg.NAT.InsideNetworks, netip.MustParsePrefix(p))
	}
	if err := cfg.Check(); err != nil {
		t.Fatal(err)
	}
	run := startLive(t, cfg, LiveOptions{ShutdownGrace: 10 * time.Second})
	traffic()
	time.Sleep(300 * time.Millisecond) // the last frames through the mirror
	st := run.stop(t)

	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	last := map[string]natEvent{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e struct {
			Type string   `json:"event_type"`
			NAT  natEvent `json:"nat"`
		}
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("bad event %s: %v", sc.Text(), err)
		}
		if e.Type == "nat" {
			last[e.NAT.PublicIP] = e.NAT
		}
	}
	stun, _ := os.ReadFile(filepath.Join(lab.Dir, "stun.out"))
	return last, testutil.STUNVerdict(string(stun)), st
}

// stunNATType maps the RFC 3489 stun client's verdict to nunchi's name.
func stunNATType(v string) string {
	switch {
	case strings.HasPrefix(v, "Dependent Mapping"):
		return "symmetric"
	case strings.Contains(v, "Independent Mapping, Independent Filter"):
		return "full_cone"
	case strings.Contains(v, "Independent Mapping, Address Dependent Filter"):
		return "restricted_cone"
	case strings.Contains(v, "Independent Mapping, Port Dependent Filter"):
		return "port_restricted_cone"
	}
	return "unknown(" + v + ")"
}

// TestNATHostsEstimate: N clients with mixed emulated OS stacks behind a
// real nftables masquerade, seen only from the outside tap. The estimate
// is within ±1 of N and a single host is never reported.
func TestNATHostsEstimate(t *testing.T) {
	for _, c := range []struct {
		n      int
		stacks string
	}{
		{1, "linux"},
		{2, "linux,windows"},
		{4, "linux,windows,bsd,linux"},
		{8, "linux,windows,bsd,linux,router255,linux,mac,linux"},
	} {
		t.Run(strings.ReplaceAll(c.stacks, ",", "+"), func(t *testing.T) {
			lab := testutil.StartNATLab(t, "NAT_LAB_CLIENTS="+strconv.Itoa(c.n), "NAT_LAB_STACKS="+c.stacks)
			last, _ := natRun(t, lab, []string{lab.OutIf}, nil, func() { lab.Traffic(t) })
			for ip, e := range last {
				if ip != lab.PublicIP {
					t.Errorf("nat event for %s (not the gateway): %+v", ip, e)
				}
			}
			e, ok := last[lab.PublicIP]
			if c.n == 1 {
				// One host behind the NAT looks like one host: no estimate
				// may call it a NAT. (The STUN run can: its filtering shows
				// a NAT, which is a true statement about the gateway.)
				if ok && e.HostsEstimate != 1 {
					t.Fatalf("single host reported with %d hosts: %+v", e.HostsEstimate, e)
				}
				return
			}
			if !ok {
				t.Fatalf("no nat event for %s", lab.PublicIP)
			}
			if d := e.HostsEstimate - c.n; d < -1 || d > 1 {
				t.Errorf("estimate %d for %d hosts: %+v", e.HostsEstimate, c.n, e)
			}
			t.Logf("N=%d: estimate %d confidence %.2f ttls %v signatures %d port runs %d", c.n, e.HostsEstimate,
				e.Confidence, e.Evidence.TTLs, e.Evidence.SYNSignatures, e.Evidence.PortRuns)
		})
	}
}

// TestNATTypeFromSTUN: each NAT variant, classified from the STUN test seen
// on the outside tap, agrees with what the stun client itself concluded;
// port allocation follows the masquerade flavour.
func TestNATTypeFromSTUN(t *testing.T) {
	for _, c := range []struct {
		variant, want, ports string
	}{
		{"port_restricted", "port_restricted_cone", "preserving"},
		{"restricted_cone", "restricted_cone", "preserving"},
		{"full_cone", "full_cone", "preserving"},
		{"symmetric_random", "symmetric", "random"},
		{"symmetric_fully_random", "symmetric", "random"},
	} {
		t.Run(c.variant, func(t *testing.T) {
			lab := testutil.StartNATLab(t, "NAT_LAB_VARIANT="+c.variant, "NAT_LAB_CLIENTS=2", "NAT_LAB_STACKS=linux,windows")
			last, verdict := natRun(t, lab, []string{lab.OutIf}, nil, func() { lab.Traffic(t) })
			if got := stunNATType(verdict); got != c.want {
				t.Fatalf("the stun client says %q (%s), the lab was built as %s", verdict, got, c.want)
			}
			e, ok := last[lab.PublicIP]
			if !ok {
				t.Fatalf("no nat event for %s", lab.PublicIP)
			}
			if e.NATType != c.want || e.TypeSource != "stun" {
				t.Errorf("nat_type %s (mapping %s, filtering %s, from %s), want %s", e.NATType, e.Mapping, e.Filtering, e.TypeSource, c.want)
			}
			if e.PortAllocation != c.ports {
				t.Errorf("port_allocation %q, want %q", e.PortAllocation, c.ports)
			}
		})
	}
}

// TestNATInsideOutsidePairing: with a tap on each side, one host's flows
// are paired with their translations: the NAT is shown outright (even for
// a single host), with the inside address, how ports were allocated and
// the type from the STUN exchange seen inside.
func TestNATInsideOutsidePairing(t *testing.T) {
	for _, c := range []struct {
		variant, want, ports string
	}{
		{"port_restricted", "port_restricted_cone", "preserving"},
		{"symmetric_fully_random", "symmetric", "random"},
	} {
		t.Run(c.variant, func(t *testing.T) {
			lab := testutil.StartNATLab(t, "NAT_LAB_VARIANT="+c.variant, "NAT_LAB_CLIENTS=1")
			last, _ := natRun(t, lab, []string{lab.OutIf, lab.InIf}, []string{"192.0.2.0/24"}, func() { lab.Traffic(t) })
			e, ok := last[lab.PublicIP]
			if !ok {
				t.Fatalf("no nat event for %s: %+v", lab.PublicIP, last)
			}
			if e.Evidence.PairedHosts != 1 || len(e.Evidence.InsideHosts) != 1 || e.Evidence.InsideHosts[0] != lab.ClientIPs[0] {
				t.Errorf("paired %d %v, want [%s]", e.Evidence.PairedHosts, e.Evidence.InsideHosts, lab.ClientIPs[0])
			}
			if e.HostsEstimate != 1 {
				t.Errorf("hosts_estimate %d, want 1", e.HostsEstimate)
			}
			if e.NATType != c.want || e.PortAllocation != c.ports {
				t.Errorf("nat_type %s port_allocation %s, want %s %s (%+v)", e.NATType, e.PortAllocation, c.want, c.ports, e)
			}
			if _, bad := last[lab.ClientIPs[0]]; bad {
				t.Errorf("the inside host was reported as a NAT: %+v", last[lab.ClientIPs[0]])
			}
		})
	}
}

// TestNATUPnPAndCGNAT: a client asks the gateway's miniupnpd for a port
// forward (SSDP, SOAP AddPortMapping), a server then connects through it;
// the gateway's address is in the CGNAT range.
func TestNATUPnPAndCGNAT(t *testing.T) {
	lab := testutil.StartNATLab(t, "NAT_LAB_UPNP=1", "NAT_LAB_CLIENTS=2", "NAT_LAB_STACKS=linux,windows", "NAT_LAB_PUBLIC=100.64.0.1/10")
	last, _ := natRun(t, lab, []string{lab.OutIf, lab.InIf}, []string{"192.0.2.0/24"}, func() { lab.Traffic(t) })
	e, ok := last[lab.PublicIP]
	if !ok {
		t.Fatalf("no nat event for %s: %+v", lab.PublicIP, last)
	}
	if !e.CGNAT {
		t.Error("cgnat false for", lab.PublicIP)
	}
	if e.UPnP == nil || len(e.UPnP.Mappings) == 0 {
		t.Fatalf("no UPnP mapping: %+v", e)
	}
	m := e.UPnP.Mappings[0]
	if m.ExternalPort != 8080 || m.Protocol != "TCP" || m.InternalClient != lab.ClientIPs[0] || m.InternalPort != 8080 ||
		e.UPnP.Gateway != lab.RouterInIP+":5000" {
		t.Errorf("mapping %+v gateway %s", m, e.UPnP.Gateway)
	}
	found := false
	for _, f := range e.Forwards {
		found = found || (f.Port == 8080 && f.Accepted >= 1)
	}
	if !found {
		t.Errorf("inbound connection on 8080 not reported: %+v", e.Forwards)
	}
}

// TestNATNotForAPlainHost: a host with its own public address (the web
// server's namespace, outside any NAT) makes connections and runs the
// STUN test: it is never reported, though its STUN test looks like a
// full cone from outside (an open host looks the same).
func TestNATNotForAPlainHost(t *testing.T) {
	lab := testutil.StartNATLab(t, "NAT_LAB_CLIENTS=1")
	host := "203.0.113.20"
	last, _, st := natRunStats(t, lab, []string{lab.OutIf}, nil, func() {
		lab.InNS(t, lab.WebNS, "for i in 1 2 3 4 5 6; do curl -s -o /dev/null http://203.0.113.10/; done; "+
			"curl -sk -o /dev/null --resolve www.example.com:443:203.0.113.10 https://www.example.com/; "+
			"stun 203.0.113.10 -v >/dev/null 2>&1 || true")
	})
	if e, ok := last[host]; ok {
		t.Fatalf("a host without NAT was reported: %+v", e)
	}
	if st.NAT == nil || st.NAT.SYNs < 7 || st.NAT.STUN < 8 {
		t.Fatalf("the host's traffic was not seen: %+v", st.NAT)
	}
}

// TestNATFilteringFromInboundProbes: with a tap on each side, one client
// opens a UDP mapping to two servers; then a contacted server sends from
// another port and a stranger sends to the mapped port. Which of them the
// inside tap sees gives the filtering: all (full cone), the contacted
// address only (restricted cone), neither (port-restricted cone).
func TestNATFilteringFromInboundProbes(t *testing.T) {
	send := `python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("0.0.0.0",int(sys.argv[1]))); s.sendto(sys.argv[4].encode(),(sys.argv[2],int(sys.argv[3])))' `
	for _, c := range []struct {
		variant, want string
	}{
		{"full_cone", "endpoint_independent"},
		{"restricted_cone", "address_dependent"},
		{"port_restricted", "address_port_dependent"},
	} {
		t.Run(c.variant, func(t *testing.T) {
			lab := testutil.StartNATLab(t, "NAT_LAB_VARIANT="+c.variant, "NAT_LAB_CLIENTS=1")
			last, _ := natRun(t, lab, []string{lab.OutIf, lab.InIf}, []string{"192.0.2.0/24"}, func() {
				lab.InClient(t, 1, send+"40000 203.0.113.10 7000 hello-10; "+send+"40000 203.0.113.11 7000 hello-11")
				time.Sleep(100 * time.Millisecond)
				lab.InNS(t, lab.SrvNS, send+"7001 "+lab.PublicIP+" 40000 other-port")
				lab.InNS(t, lab.WebNS, send+"7002 "+lab.PublicIP+" 40000 stranger")
				time.Sleep(200 * time.Millisecond)
			})
			e, ok := last[lab.PublicIP]
			if !ok {
				t.Fatalf("no nat event for %s: %+v", lab.PublicIP, last)
			}
			if e.Filtering != c.want || e.Mapping != "endpoint_independent" || e.TypeSource != "paired" {
				t.Errorf("filtering %s mapping %s from %s, want %s / endpoint_independent / paired", e.Filtering, e.Mapping, e.TypeSource, c.want)
			}
		})
	}
}
