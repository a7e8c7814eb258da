package app

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperLive runs a live capture as a subprocess (see
// TestLivePrivileges); it does nothing otherwise.
func TestHelperLive(t *testing.T) {
	spec := os.Getenv("NUNCHI_TEST_LIVE_HELPER")
	if spec == "" {
		t.Skip("live capture subprocess only")
	}
	f := strings.Split(spec, ",")
	cfg := DefaultConfig()
	cfg.Capture.Interfaces, cfg.Capture.Live.User, cfg.Sinks.JSONL.Path = []string{f[0]}, f[1], f[2]
	cfg.Capture.Shards = 1
	if err := cfg.Check(); err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	st, err := Live(ctx, cfg, LiveOptions{OnStarted: func() { fmt.Println("started") }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Printf("frames %d\n", st.Capture.Frames)
}

// helperBinary copies this test binary where an unprivileged user can run it.
func helperBinary(t *testing.T) string {
	dir, err := os.MkdirTemp("", "nunchi-helper-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	src, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "app.test")
	if err := os.WriteFile(bin, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return bin
}

// TestLivePrivileges: without CAP_NET_RAW the sensor refuses with a
// one-line reason that names the capability; with capture.live.user it
// opens its sockets as root, then runs as that user (every uid of the
// process) and still captures and writes events.
func TestLivePrivileges(t *testing.T) {
	sensorIf, ns, genIf := vethToNetns(t)
	bin := helperBinary(t)
	outDir, err := os.MkdirTemp("", "nunchi-out-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(outDir)
	out := filepath.Join(outDir, "live.jsonl")

	t.Run("no capability", func(t *testing.T) {
		cmd := exec.Command(bin, "-test.run=^TestHelperLive$")
		cmd.Env = append(os.Environ(), "NUNCHI_TEST_LIVE_HELPER="+sensorIf+",,"+out)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "CAP_NET_RAW") {
			t.Errorf("unprivileged start: err %v, output:\n%s", err, b)
		}
	})

	t.Run("drop to nobody", func(t *testing.T) {
		cmd := exec.Command(bin, "-test.run=^TestHelperLive$", "-test.v")
		cmd.Env = append(os.Environ(), "NUNCHI_TEST_LIVE_HELPER="+sensorIf+",nobody,"+out)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		lines := make(chan string, 64)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		var output []string
		wait := func(prefix string) string {
			deadline := time.After(30 * time.Second)
			for {
				select {
				case l, ok := <-lines:
					if !ok {
						t.Fatalf("helper ended before %q:\n%s", prefix, strings.Join(output, "\n"))
					}
					output = append(output, l)
					if strings.HasPrefix(l, prefix) {
						return l
					}
				case <-deadline:
					t.Fatalf("no %q from the helper:\n%s", prefix, strings.Join(output, "\n"))
				}
			}
		}
		wait("started")
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "Uid:") || strings.HasPrefix(l, "Gid:") {
				if f := strings.Fields(l); f[1] != "65534" || f[2] != "65534" || f[3] != "65534" || f[4] != "65534" {
					t.Errorf("after the drop: %s", l)
				}
			}
			if strings.HasPrefix(l, "CapEff:") && strings.Fields(l)[1] != "0000000000000000" {
				t.Errorf("capabilities kept: %s", l)
			}
		}
		sent := flood(t, ns, genIf, 1000, 20000)
		time.Sleep(300 * time.Millisecond)
		cmd.Process.Signal(syscall.SIGTERM)
		got := wait("frames ")
		cmd.Wait()
		var frames int
		fmt.Sscanf(got, "frames %d", &frames)
		if frames < sent {
			t.Errorf("captured %d frames after the drop, sent %d", frames, sent)
		}
		data, err := os.ReadFile(out)
		if err != nil || !strings.Contains(string(data), `"pkts_toserver":`) {
			t.Errorf("no flow events written after the drop (%v):\n%.500s", err, data)
		}
	})
}
