package systemd

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nunchi-sensor/nunchi/internal/app"
	"github.com/nunchi-sensor/nunchi/rules"
)

// unit reads a unit file into section → key → values (a key may repeat).
func unit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]map[string][]string{}
	sec := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			sec = line[1 : len(line)-1]
			out[sec] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			out[sec][k] = append(out[sec][k], v)
		}
	}
	return out
}

// TestUnitHardening: the directives docs/deploy.md promises are there.
func TestUnitHardening(t *testing.T) {
	u := unit(t, "nunchi.service")
	svc := u["Service"]
	want := map[string]string{
		"AmbientCapabilities":     "CAP_NET_RAW CAP_NET_ADMIN",
		"CapabilityBoundingSet":   "CAP_NET_RAW CAP_NET_ADMIN",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"RestrictAddressFamilies": "AF_PACKET AF_INET AF_INET6 AF_UNIX AF_NETLINK",
		"ReadWritePaths":          "/var/lib/nunchi /var/log/nunchi",
		"User":                    "nunchi",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"SystemCallArchitectures": "native",
		"MemoryDenyWriteExecute":  "yes",
		"RestrictNamespaces":      "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectControlGroups":    "yes",
		"RestrictSUIDSGID":        "yes",
		"ExecStart":               "/usr/local/bin/nunchi live -c /etc/nunchi/nunchi.yaml",
		"ConfigurationDirectory":  "nunchi",
		"StateDirectory":          "nunchi",
		"LogsDirectory":           "nunchi",
		"SystemCallErrorNumber":   "EPERM",
		"KillSignal":              "SIGTERM",
		"Restart":                 "on-failure",
		"ProtectKernelModules":    "yes",
		"LockPersonality":         "yes",
		"PrivateDevices":          "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"ProtectKernelLogs":       "yes",
		"RestrictRealtime":        "yes",
		"ProtectProc":             "invisible",
		"RemoveIPC":               "yes",
		"PrivateMounts":           "yes",
		"ExecStartPre":            "/usr/local/bin/nunchi check -c /etc/nunchi/nunchi.yaml",
		"UMask":                   "0027",
		"TimeoutStopSec":          "45s",
		"Type":                    "exec",
		"Group":                   "nunchi",
		"LimitNOFILE":             "65536",
		"RestartSec":              "5s",
	}
	for k, v := range want {
		got := strings.Join(svc[k], " ")
		if got != v {
			t.Errorf("[Service] %s = %q, want %q", k, got, v)
		}
	}
	if got := strings.Join(svc["SystemCallFilter"], " | "); got != "@system-service | ~@privileged" {
		t.Errorf("SystemCallFilter = %q", got)
	}
	if u["Install"]["WantedBy"][0] != "multi-user.target" {
		t.Errorf("WantedBy = %v", u["Install"]["WantedBy"])
	}
}

// verifiable copies the unit next to a stand-in for the binary (verify
// checks that ExecStart's program exists).
func verifiable(t *testing.T) string {
	dir := t.TempDir()
	bin := filepath.Join(dir, "nunchi")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("nunchi.service")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "nunchi.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/nunchi", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUnitVerify runs systemd-analyze verify: any warning (an unknown or
// misspelt directive, a bad value) fails, not only errors.
func TestUnitVerify(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	path := verifiable(t)
	out, err := exec.Command(sa, "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// Exposure as systemd rates it (0 = locked down, 10 = exposed): at most
	// 2.5 for a service that must keep the host's network and two capabilities.
	out, err = exec.Command(sa, "security", "--offline=true", "--threshold=25", path).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security: exposure above 2.5 (%v)\n%s", err, out)
	}
}

func TestExampleConfigAndRules(t *testing.T) {
	cfg, err := app.LoadConfig("nunchi.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Metrics.Listen == "" || cfg.Capture.Live.User != "" {
		t.Errorf("metrics %q, live.user %q: the unit needs metrics on and no user switch", cfg.Metrics.Listen, cfg.Capture.Live.User)
	}
	for _, p := range []string{cfg.Sinks.JSONL.Path, cfg.Sinks.Kafka.SpoolDir} {
		if !strings.HasPrefix(p, "/var/log/nunchi/") && !strings.HasPrefix(p, "/var/lib/nunchi/") {
			t.Errorf("%s is outside the unit's ReadWritePaths", p)
		}
	}
	if _, err := rules.LoadFiles("rules.yaml"); err != nil {
		t.Error(err)
	}
	b, err := os.ReadFile("nunchi.sysusers")
	if err != nil || !strings.Contains(string(b), "\nu nunchi ") {
		t.Errorf("sysusers entry: %v %q", err, b)
	}
}

// TestNICUnit: the NIC preparation template verifies and does what
// docs/deploy.md says: offloads off, promiscuous, no ARP, a large ring,
// before the sensor.
func TestNICUnit(t *testing.T) {
	u := unit(t, "nunchi-nic@.service")
	all := strings.Join(u["Service"]["ExecStart"], "\n")
	for _, want := range []string{"promisc on", "arp off", "gro off lro off tso off gso off", "-G %I rx", "disable_ipv6=1"} {
		if !strings.Contains(all, want) {
			t.Errorf("ExecStart lacks %q", want)
		}
	}
	if u["Unit"]["Before"][0] != "nunchi.service" || u["Service"]["Type"][0] != "oneshot" {
		t.Errorf("Before %v Type %v", u["Unit"]["Before"], u["Service"]["Type"])
	}
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	for _, p := range []string{"/usr/sbin/ip", "/usr/sbin/ethtool", "/usr/sbin/sysctl"} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("%s not installed: verify would report it", p)
		}
	}
	dir := t.TempDir()
	b, _ := os.ReadFile("nunchi-nic@.service")
	if err := os.WriteFile(filepath.Join(dir, "nunchi-nic@.service"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", filepath.Join(dir, "nunchi-nic@eth1.service")).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
