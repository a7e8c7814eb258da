package scan

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/detect"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
)

func v4(a, b, c, d byte) capture.Addr {
	var x capture.Addr
	x[10], x[11] = 0xff, 0xff
	x[12], x[13], x[14], x[15] = a, b, c, d
	return x
}

func nth(i uint32) capture.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], 0x0a000000+i)
	return v4(b[0], b[1], b[2], b[3])
}

func mustNew(t testing.TB, cfg Config) *Detector {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func num(a *detect.Anomaly, k string) int64 {
	for _, d := range a.Detail {
		if d.Key == k {
			return d.Num
		}
	}
	return -1
}

func str(a *detect.Anomaly, k string) string {
	for _, d := range a.Detail {
		if d.Key == k {
			return d.Str
		}
	}
	return ""
}

const ms = int64(time.Millisecond)

var attacker = v4(198, 51, 100, 7)

func TestHorizontalAndVertical(t *testing.T) {
	kinds := []struct {
		name  string
		proto uint8
		flags uint8
	}{
		{"syn", capture.ProtoTCP, syn}, {"fin", capture.ProtoTCP, fin}, {"null", capture.ProtoTCP, 0},
		{"xmas", capture.ProtoTCP, fin | psh | urg}, {"udp", capture.ProtoUDP, 0},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			d := mustNew(t, DefaultConfig())
			var got []*detect.Anomaly
			for i := range uint32(500) { // 500 hosts on port 22
				got = append(got, d.Observe(attacker, nth(i), 40000, 22, k.proto, k.flags, int64(i)*ms)...)
			}
			for p := range uint16(300) { // 300 ports on one host
				got = append(got, d.Observe(attacker, nth(9999), 40000, 1+p, k.proto, k.flags, 600*ms+int64(p)*ms)...)
			}
			var h, v int
			for _, a := range got {
				if a.Type != "port_scan" || str(a, "kind") != k.name || str(a, "src") != "198.51.100.7" {
					t.Errorf("%+v", a)
				}
				switch a.Event {
				case "horizontal":
					h++
					if num(a, "dst_port") != 22 || num(a, "hosts") < 18 || num(a, "hosts") > 23 {
						t.Errorf("horizontal: %+v", a.Detail)
					}
				case "vertical":
					v++
					if str(a, "dst") != "10.0.39.15" || num(a, "ports") < 22 || num(a, "ports") > 28 {
						t.Errorf("vertical: %+v", a.Detail)
					}
				}
			}
			if h != 1 || v != 1 {
				t.Errorf("%d horizontal, %d vertical reports, want 1 each", h, v)
			}
		})
	}
}

func TestWindows(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Window = 10 * time.Second
	d := mustNew(t, cfg)
	n := 0
	// A slow scan: one host every 100 ms for 35 s: one report per window.
	for i := range uint32(350) {
		n += len(d.Observe(attacker, nth(i), 40000, 445, capture.ProtoTCP, syn, int64(i)*100*ms))
	}
	if n != 4 {
		t.Errorf("%d reports over 35 s with 10 s windows, want 4", n)
	}
	// Slower than the threshold per window: nothing.
	d = mustNew(t, cfg)
	for i := range uint32(100) {
		if len(d.Observe(attacker, nth(i), 40000, 445, capture.ProtoTCP, syn, int64(i)*time.Second.Nanoseconds())) != 0 {
			t.Fatal("a scan slower than the window's threshold was reported")
		}
	}
}

func TestBenignTraffic(t *testing.T) {
	d := mustNew(t, DefaultConfig())
	client := v4(192, 168, 1, 10)
	ts := int64(0)
	// A browser: 15 sites, 6 connections each, on 443 and 80; DNS to one resolver from many ports.
	for s := range uint32(15) {
		for c := range uint16(6) {
			ts += ms
			for _, port := range []uint16{443, 80} {
				if a := d.Observe(client, nth(s), 50000+c+uint16(s)*10, port, capture.ProtoTCP, syn, ts); a != nil {
					t.Fatalf("browser reported: %+v", a[0])
				}
				d.Established(nth(s), port, ts)
			}
			if a := d.Observe(client, v4(192, 168, 1, 1), 30000+c+uint16(s)*10, 53, capture.ProtoUDP, 0, ts); a != nil {
				t.Fatalf("DNS reported: %+v", a[0])
			}
		}
	}
	// Established traffic, resets and SYN-ACKs are not probes.
	for i := range uint32(1000) {
		for _, f := range []uint8{ack, ack | psh, rst, rst | ack, syn | ack, fin | ack} {
			if d.Observe(client, nth(i), 50000, 443, capture.ProtoTCP, f, ts) != nil {
				t.Fatalf("flags %#x reported", f)
			}
		}
	}
}

func TestSYNFlood(t *testing.T) {
	victim := v4(203, 0, 113, 5)
	d := mustNew(t, DefaultConfig())
	var got []*detect.Anomaly
	for i := range uint32(5000) { // spoofed sources and ports
		got = append(got, d.Observe(nth(i*7), victim, uint16(1024+i), 80, capture.ProtoTCP, syn, int64(i)*ms/10)...)
	}
	floods := 0
	for _, a := range got {
		if a.Type == "syn_flood" {
			floods++
			if str(a, "dst") != "203.0.113.5" || num(a, "dst_port") != 80 || num(a, "half_open") < 450 || num(a, "sources") < 400 {
				t.Errorf("%+v", a.Detail)
			}
		}
	}
	if floods != 1 {
		t.Errorf("%d flood reports, want 1", floods)
	}
	// The same rate of completed handshakes (a busy server) is no flood.
	d = mustNew(t, DefaultConfig())
	for i := range uint32(5000) {
		ts := int64(i) * ms / 10
		for _, a := range d.Observe(nth(i*7), victim, uint16(1024+i), 80, capture.ProtoTCP, syn, ts) {
			if a.Type == "syn_flood" {
				t.Fatalf("busy server reported: %+v", a.Detail)
			}
		}
		d.Established(victim, 80, ts)
	}
}

// TestMillionTargets: a scan of 1 M addresses (and 1 M address/port
// pairs) leaves the detector's memory where New put it.
func TestMillionTargets(t *testing.T) {
	d := mustNew(t, DefaultConfig())
	before := d.Stats().Bytes
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	reports := 0
	for i := range uint32(1_000_000) { // masscan-style: one port, 1 M hosts
		for _, a := range d.Observe(attacker, nth(i), 40000, 443, capture.ProtoTCP, syn, int64(i)*1000) {
			if a.Event != "horizontal" {
				t.Fatalf("%s/%s %+v", a.Type, a.Event, a.Detail)
			}
			reports++
		}
	}
	if reports != 1 {
		t.Errorf("%d reports, want 1 (one window)", reports)
	}
	for i := range uint32(1_000_000) { // and 1 M random host/port pairs from many sources
		x := mix(uint64(i))
		d.Observe(nth(uint32(x>>40)), nth(uint32(x)), 40000, uint16(x>>16), capture.ProtoTCP, syn, int64(2_000_000+i)*1000)
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	st := d.Stats()
	if st.Bytes != before {
		t.Errorf("tables grew: %d → %d bytes", before, st.Bytes)
	}
	grew := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	if grew > 1<<20 {
		t.Errorf("heap grew by %d bytes over 1 M targets", grew)
	}
	if st.Probes[kindSYN] != 2_000_000 {
		t.Errorf("probes %d", st.Probes[kindSYN])
	}
	t.Logf("1 M targets: tables %d bytes (%d entries each), heap %+d bytes, %d reports, evicted %v",
		st.Bytes, st.Entries, grew, reports, st.Evicted)
}

func TestObserveDoesNotAllocate(t *testing.T) {
	d := mustNew(t, DefaultConfig())
	i := uint32(0)
	allocs := testing.AllocsPerRun(1000, func() {
		i++
		d.Observe(v4(10, 1, byte(i>>8), byte(i)), nth(i%7), 40000, 443, capture.ProtoTCP, syn, int64(i))
		d.Observe(attacker, nth(i), 40000, 443, capture.ProtoTCP, ack, int64(i))
	})
	if allocs != 0 {
		t.Errorf("%v allocations per non-reporting Observe", allocs)
	}
}

func TestConfig(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := DefaultConfig()
	bad.Window, bad.VerticalPorts, bad.SynFloodRatio, bad.MaxEntries = 0, 1, 2, 1
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, k := range []string{"window", "vertical_ports", "syn_flood_ratio", "max_entries"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %s", err, k)
		}
	}
	if _, err := New(bad); err == nil {
		t.Error("New accepted a bad config")
	}
}

func TestHLL(t *testing.T) {
	// Small counts (the thresholds) are near exact; large ones unbiased
	// over seeds, each within 4 standard errors (9.2 %).
	for _, n := range []int{1, 10, 25, 100, 1000, 100000} {
		mean := 0.0
		for s := range 20 {
			var h hll
			h.reset()
			for i := range n {
				h.add(mix(uint64(i) + uint64(s)<<40))
			}
			e := h.estimate()
			r := float64(e) / float64(n)
			mean += r / 20
			if r > 1.37 || r < 0.63 || n <= 25 && (e < n-4 || e > n+4) {
				t.Errorf("n=%d seed %d: estimate %d", n, s, e)
			}
		}
		if mean > 1.05 || mean < 0.95 {
			t.Errorf("n=%d: mean ratio %.3f", n, mean)
		}
	}
}

// TestCorpus: nmap's SYN scan in ndpi__synscan.pcap is one vertical scan;
// the other captures (HTTP, TLS, DNS, QUIC, VPNs…) raise no scan or flood.
func TestCorpus(t *testing.T) {
	dir := testutil.CorpusDir(t)
	files, _ := filepath.Glob(filepath.Join(dir, "*.pcap*"))
	if demo := filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"); fileExists(demo) {
		files = append(files, demo)
	}
	for _, f := range files {
		name := filepath.Base(f)
		d := mustNew(t, DefaultConfig())
		var got []*detect.Anomaly
		for p := range testutil.Packets(t, f, 0) {
			if p.Flags&capture.FlagFirstFragment != 0 && p.Proto == capture.ProtoUDP && len(p.Payload) == 0 {
				continue
			}
			for _, a := range d.Observe(p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, p.TCP.Flags, p.Timestamp) {
				got = append(got, a)
			}
		}
		if name == "ndpi__synscan.pcap" {
			if len(got) != 1 || got[0].Event != "vertical" || str(got[0], "src") != "172.16.0.8" || str(got[0], "dst") != "64.13.134.52" || str(got[0], "kind") != "syn" {
				t.Errorf("%s: %d reports %+v", name, len(got), got)
			}
			continue
		}
		for _, a := range got {
			t.Errorf("%s: %s/%s %+v", name, a.Type, a.Event, a.Detail)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
