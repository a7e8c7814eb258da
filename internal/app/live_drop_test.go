package app

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

// vethToNetns makes a veth pair: the sensor's end in the root namespace,
// the generator's end in a new namespace. Both are removed when t ends.
func vethToNetns(t *testing.T) (sensorIf, genNS, genIf string) {
	t.Helper()
	testutil.RequireNetns(t)
	id := fmt.Sprintf("%04x", rand.IntN(1<<16))
	sensorIf, genNS, genIf = "nldrop"+id, "nl-gen-"+id, "nlgen"+id
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out)
		}
	}
	run("ip", "netns", "add", genNS)
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", sensorIf).Run()
		exec.Command("ip", "netns", "del", genNS).Run()
	})
	run("ip", "link", "add", sensorIf, "type", "veth", "peer", "name", genIf)
	run("ip", "link", "set", genIf, "netns", genNS)
	run("sysctl", "-qw", "net.ipv6.conf."+sensorIf+".disable_ipv6=1")
	run("ip", "netns", "exec", genNS, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
	run("ip", "link", "set", sensorIf, "up")
	run("ip", "netns", "exec", genNS, "ip", "link", "set", genIf, "up")
	return
}

// flood runs this test binary as a packet generator inside ns (see
// TestHelperFlood): count UDP packets to port 9 at rate packets/s (0 =
// as fast as possible), over 64 source ports. It returns how many the
// kernel accepted.
func flood(t *testing.T, ns, iface string, count, rate int) int {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperFlood$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("NUNCHI_TEST_FLOOD=%s,%d,%d", iface, count, rate))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("flood: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(line, "sent "); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err == nil {
				return n
			}
		}
	}
	t.Fatalf("flood: no count in output:\n%s", out)
	return 0
}

// TestHelperFlood is the packet generator of the live tests, run as a
// subprocess in the generator's namespace; it does nothing otherwise.
func TestHelperFlood(t *testing.T) {
	spec := os.Getenv("NUNCHI_TEST_FLOOD")
	if spec == "" {
		t.Skip("packet generator subprocess only")
	}
	f := strings.Split(spec, ",")
	iface := f[0]
	count, _ := strconv.Atoi(f[1])
	rate, _ := strconv.Atoi(f[2])
	ni, err := net.InterfaceByName(iface)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: send only
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	addr := &unix.SockaddrLinklayer{Ifindex: ni.Index, Halen: 6}
	frame := udpFrame(0)
	sent := 0
	start := time.Now()
	for sent < count {
		if rate > 0 {
			due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			if d := time.Until(due); d > 50*time.Microsecond {
				time.Sleep(d)
			}
		}
		binary.BigEndian.PutUint16(frame[34:], uint16(40000+sent%64)) // UDP source port: spread over shards
		if err := unix.Sendto(fd, frame, 0, addr); err != nil {
			if err == unix.ENOBUFS || err == unix.EAGAIN {
				time.Sleep(10 * time.Microsecond)
				continue
			}
			t.Fatal(err)
		}
		sent++
	}
	fmt.Printf("sent %d\n", sent)
}

// udpFrame is Ethernet/IPv4/UDP 192.0.2.1 → 192.0.2.2:9 with 18 bytes of
// payload (a 60-byte frame, the smallest Ethernet carries).
func udpFrame(sport uint16) []byte {
	b := make([]byte, 60)
	copy(b[0:6], []byte{0x02, 0, 0, 0, 0, 0x02})
	copy(b[6:12], []byte{0x02, 0, 0, 0, 0, 0x01})
	binary.BigEndian.PutUint16(b[12:], 0x0800)
	ip := b[14:34]
	ip[0], ip[8], ip[9] = 0x45, 64, 17
	binary.BigEndian.PutUint16(ip[2:], 46)
	copy(ip[12:], []byte{192, 0, 2, 1})
	copy(ip[16:], []byte{192, 0, 2, 2})
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	sum = (sum >> 16) + sum&0xffff
	sum += sum >> 16
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(b[34:], sport)
	binary.BigEndian.PutUint16(b[36:], 9)
	binary.BigEndian.PutUint16(b[38:], 26)
	return b
}

func ifaceCounter(t *testing.T, iface, name string) uint64 {
	b, err := os.ReadFile(filepath.Join("/sys/class/net", iface, "statistics", name))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	return v
}

// TestLiveDropAccounting floods the sensor interface faster than a
// deliberately slowed pipeline with a small ring can read: the kernel must
// drop, and the drops it reports must be exactly the packets sent that the
// pipeline did not process.
func TestLiveDropAccounting(t *testing.T) {
	sensorIf, ns, genIf := vethToNetns(t)
	for _, shards := range []int{1, 2} {
		t.Run(fmt.Sprintf("shards=%d", shards), func(t *testing.T) {
			cfg := liveTestConfig(t, sensorIf, shards, filepath.Join(t.TempDir(), "live.jsonl"))
			cfg.Capture.BPF = "udp port 9"
			cfg.Capture.Live.BlockSize = 1 << 16
			cfg.Capture.Live.Blocks = 2
			cfg.Capture.Live.FrameSize = 2048
			if err := cfg.Check(); err != nil {
				t.Fatal(err)
			}
			rxDropped := ifaceCounter(t, sensorIf, "rx_dropped")
			run := startLive(t, cfg, LiveOptions{SlowBatch: 2 * time.Millisecond})
			const count = 100_000
			sent := flood(t, ns, genIf, count, 0)
			time.Sleep(time.Second)
			st := run.stop(t)
			if d := ifaceCounter(t, sensorIf, "rx_dropped") - rxDropped; d != 0 {
				t.Fatalf("the veth itself dropped %d packets before capture: the test's premise fails", d)
			}
			t.Logf("sent %d, kernel packets %d, kernel drops %d, processed %d, freezes %d",
				sent, st.Capture.KernelPackets, st.Capture.KernelDrops, st.Capture.Frames, st.Capture.KernelFreezes)
			if uint64(sent) != st.Capture.KernelPackets {
				t.Errorf("kernel packets %d != sent %d", st.Capture.KernelPackets, sent)
			}
			if st.Capture.KernelDrops == 0 {
				t.Errorf("no kernel drops: the flood did not outrun the slowed pipeline")
			}
			if st.Capture.Frames+st.Capture.KernelDrops != uint64(sent) {
				t.Errorf("processed %d + kernel drops %d = %d, want sent %d",
					st.Capture.Frames, st.Capture.KernelDrops, st.Capture.Frames+st.Capture.KernelDrops, sent)
			}
			if st.Flows.Packets != st.Capture.Frames {
				t.Errorf("flow packets %d != frames read %d", st.Flows.Packets, st.Capture.Frames)
			}
		})
	}
}

// TestLiveZeroDropRate measures the highest packet rate the sensor
// captures with zero kernel drops (veth, generator in another namespace,
// default ring, all parsers), for 1 and 2 shards. It is a measurement, not
// a check: run it with NUNCHI_TEST_LIVE_BENCH=1 and read the log.
func TestLiveZeroDropRate(t *testing.T) {
	if os.Getenv("NUNCHI_TEST_LIVE_BENCH") != "1" {
		t.Skip("measurement; set NUNCHI_TEST_LIVE_BENCH=1")
	}
	sensorIf, ns, genIf := vethToNetns(t)
	for _, shards := range []int{1, 2} {
		cfg := liveTestConfig(t, sensorIf, shards, "/dev/null")
		cfg.Capture.BPF = ""
		lo, hi := 0, 0
		rate := 100_000
		for step := 0; step < 8; step++ {
			run := startLive(t, cfg, LiveOptions{})
			start := time.Now()
			sent := flood(t, ns, genIf, rate*2, rate)
			achieved := float64(sent) / time.Since(start).Seconds()
			time.Sleep(500 * time.Millisecond)
			st := run.stop(t)
			t.Logf("shards=%d target %d pkts/s: generator %.0f pkts/s, drops %d of %d", shards, rate, achieved, st.Capture.KernelDrops, st.Capture.KernelPackets)
			if st.Capture.KernelDrops == 0 && achieved > float64(lo) {
				lo = int(achieved)
				if achieved < float64(rate)*0.9 {
					t.Logf("shards=%d: generator-limited at %.0f pkts/s", shards, achieved)
					break
				}
			} else if st.Capture.KernelDrops > 0 {
				hi = rate
			}
			if hi == 0 {
				rate *= 2
			} else {
				rate = (lo + hi) / 2
			}
			if hi > 0 && hi-lo < hi/20 {
				break
			}
		}
		t.Logf("shards=%d: highest zero-drop rate %d pkts/s (first dropping rate %d)", shards, lo, hi)
	}
}

// TestLiveInterfaceDownUp: the capture interface goes down and comes back
// during a live capture; capture resumes on its own and every packet sent
// while it was up is read.
func TestLiveInterfaceDownUp(t *testing.T) {
	sensorIf, ns, genIf := vethToNetns(t)
	cfg := liveTestConfig(t, sensorIf, 2, filepath.Join(t.TempDir(), "live.jsonl"))
	cfg.Capture.BPF = "udp port 9"
	run := startLive(t, cfg, LiveOptions{})
	sent := flood(t, ns, genIf, 1000, 20000)
	ipLink := func(state string) {
		if out, err := exec.Command("ip", "link", "set", sensorIf, state).CombinedOutput(); err != nil {
			t.Fatalf("ip link set %s: %v\n%s", state, err, out)
		}
	}
	ipLink("down")
	time.Sleep(300 * time.Millisecond)
	ipLink("up")
	time.Sleep(300 * time.Millisecond)
	sent += flood(t, ns, genIf, 1000, 20000)
	time.Sleep(300 * time.Millisecond)
	st := run.stop(t)
	t.Logf("sent %d, frames %d, kernel packets %d, read errors %d", sent, st.Capture.Frames, st.Capture.KernelPackets, st.Capture.Errors)
	if st.Capture.Frames != uint64(sent) || st.Capture.KernelDrops != 0 {
		t.Errorf("frames %d (kernel drops %d), want all %d sent", st.Capture.Frames, st.Capture.KernelDrops, sent)
	}
}
