package testutil

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RequireNetns skips t unless it can build network namespaces (root and
// iproute2); with NUNCHI_TEST_REQUIRE_NETNS=1 (CI) it fails instead.
func RequireNetns(t testing.TB) {
	t.Helper()
	why := ""
	if os.Geteuid() != 0 {
		why = "needs root for network namespaces and AF_PACKET"
	} else if _, err := exec.LookPath("ip"); err != nil {
		why = "needs iproute2 (ip)"
	}
	if why == "" {
		return
	}
	if os.Getenv("NUNCHI_TEST_REQUIRE_NETNS") == "1" {
		t.Fatalf("live capture test %s (NUNCHI_TEST_REQUIRE_NETNS=1)", why)
	}
	t.Skip(why)
}

// SpanLab is testdata/netns/span-lab.sh brought up for one test: client
// and server namespaces on a bridge whose traffic is mirrored to
// SensorIf in the root namespace.
type SpanLab struct {
	Dir      string
	SensorIf string
	CliNS    string
	SrvNS    string
	InjectIf string // a second port on the bridge, for forged packets
	Sensor2  string // with NUNCHI_LAB_SPLIT_MIRROR=1: the server direction's sensor interface
	script   string
}

// StartSpanLab builds the lab and tears it down when t ends; env holds
// extra VAR=value settings for span-lab.sh up (NUNCHI_LAB_DOUBLE_MIRROR=1).
func StartSpanLab(t testing.TB, env ...string) *SpanLab {
	t.Helper()
	dir, script, labEnv := startLab(t, "span-lab", env, "SENSOR_IF")
	l := &SpanLab{Dir: dir, script: script}
	l.SensorIf, l.CliNS, l.SrvNS, l.InjectIf = labEnv["SENSOR_IF"], labEnv["CLI_NS"], labEnv["SRV_NS"], labEnv["INJECT_IF"]
	l.Sensor2 = labEnv["SENSOR2_IF"]
	return l
}

// startLab runs testdata/netns/<name>.sh up in a new directory, with env
// (VAR=value) added to the environment, registers its down with t, and
// returns the directory, the script and the lab.env it wrote (with the
// required keys set). It skips
// like RequireNetns where namespaces cannot be built.
func startLab(t testing.TB, name string, env []string, required ...string) (dir, script string, labEnv map[string]string) {
	t.Helper()
	RequireNetns(t)
	dir, err := os.MkdirTemp("", "nunchi-"+name+"-") // not t.TempDir: nginx's user must reach it
	if err != nil {
		t.Fatal(err)
	}
	script = filepath.Join(RepoRoot(t), "testdata", "netns", name+".sh")
	t.Cleanup(func() {
		if out, err := exec.Command(script, "down", dir).CombinedOutput(); err != nil {
			t.Logf("%s down: %v\n%s", name, err, out)
		}
		os.RemoveAll(dir)
	})
	up := exec.Command(script, "up", dir)
	up.Env = append(os.Environ(), env...)
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("%s up: %v\n%s", name, err, out)
	}
	labEnv, err = readLabEnv(filepath.Join(dir, "lab.env"), required...)
	if err != nil {
		t.Fatal(err)
	}
	return dir, script, labEnv
}

// Traffic runs the lab's real clients (dig, curl, openssl).
func (l *SpanLab) Traffic(t testing.TB) {
	t.Helper()
	if out, err := exec.Command(l.script, "traffic", l.Dir).CombinedOutput(); err != nil {
		t.Fatalf("span-lab traffic: %v\n%s", err, out)
	}
}

// InClient runs a shell command in the client namespace.
func (l *SpanLab) InClient(t testing.TB, script string) {
	t.Helper()
	if out, err := exec.Command("ip", "netns", "exec", l.CliNS, "sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("in client: %s: %v\n%s", script, err, out)
	}
}

// ClientOutput runs a command in the client namespace and returns its
// stdout, stderr and error (a failing command is not fatal).
func (l *SpanLab) ClientOutput(args ...string) (stdout, stderr string, err error) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", l.CliNS}, args...)...)
	var o, e strings.Builder
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// readLabEnv reads a lab script's lab.env: KEY=value lines, lists in
// double quotes; each of required must be set.
func readLabEnv(path string, required ...string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		m[k] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	for _, k := range required {
		if m[k] == "" {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return m, nil
}
