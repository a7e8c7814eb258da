package app

import (
	"bufio"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/internal/testutil"
	"github.com/nunchi-sensor/nunchi/pipeline"
)

// Floods (docs/reliability.md): captures generated in t.TempDir() that try
// to make the sensor grow without bound, with testdata/demo.pcap's packets
// re-timed and merged into the middle of each, replayed through the whole
// pipeline with low memcaps. Each test asserts that the tables stay within
// their caps (peak counters), that what was pushed out is counted under a
// named reason, that the demo's HTTP, TLS and DNS events still appear, that
// the accounting equations hold (checkAccounting: events lost = 0), and that
// the peak Go heap stays under the memory the caps allow. The fast sizes run
// in `make test`; NUNCHI_TEST_FLOOD_FULL=1 runs the issue's sizes (5 M flows,
// 1 M addresses).

func floodFull() bool { return os.Getenv("NUNCHI_TEST_FLOOD_FULL") == "1" }

// floodConfig is reliabilityConfig with low memcaps.
func floodConfig() Config {
	cfg := reliabilityConfig()
	cfg.Flow.MaxFlows = 4096 // per shard
	cfg.Streams.MaxPagesPerConn = 16
	cfg.Streams.MaxPagesTotal = 1024 // per shard, ≈1900 B each
	cfg.Capture.Decode.Defrag.MaxDatagrams = 256
	cfg.Capture.Decode.Defrag.MaxBytes = 1 << 20
	cfg.NAT.MaxSources = 4096 // one tracker for all shards
	return cfg
}

// memcapBytes is the memory the caps of cfg allow, with the per-item costs
// measured by pipeline.BenchmarkFlowMemory and reassembly's page size:
// 8 KiB per flow (a flow, its application state and a parser holding a
// partial header), 2 KiB per reassembly page, the defragmenter's max_bytes
// plus its 64 KiB output buffer, the scan detector's tables, and 2 KiB per
// address the NAT tracker may hold.
func memcapBytes(cfg Config) uint64 {
	sh := uint64(cfg.Capture.Shards)
	return uint64(cfg.NAT.MaxSources)*2<<10 +
		sh*uint64(cfg.Flow.MaxFlows)*8<<10 +
		sh*uint64(cfg.Streams.MaxPagesTotal)*2<<10 +
		uint64(cfg.Capture.Decode.Defrag.MaxBytes) + 64<<10 +
		sh*3*uint64(cfg.Anomalies.Scan.MaxEntries)*512
}

// pcapWriter writes a little-endian microsecond pcap of Ethernet frames.
type pcapWriter struct {
	f   *os.File
	w   *bufio.Writer
	ts  int64 // packet time of the next frame (Unix ns)
	n   int
	hdr [16]byte
}

func newPcapWriter(t testing.TB, path string, start int64) *pcapWriter {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 262144)
	binary.LittleEndian.PutUint32(h[20:], 1) // Ethernet
	w.Write(h[:])
	return &pcapWriter{f: f, w: w, ts: start}
}

func (p *pcapWriter) frame(data []byte, wireLen int) {
	binary.LittleEndian.PutUint32(p.hdr[0:], uint32(p.ts/1e9))
	binary.LittleEndian.PutUint32(p.hdr[4:], uint32(p.ts%1e9/1e3))
	binary.LittleEndian.PutUint32(p.hdr[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(p.hdr[12:], uint32(wireLen))
	p.w.Write(p.hdr[:])
	p.w.Write(data)
	p.n++
}

func (p *pcapWriter) close(t testing.TB) {
	t.Helper()
	if err := p.w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := p.f.Close(); err != nil {
		t.Fatal(err)
	}
}

// demoMerger hands out testdata/demo.pcap's frames, re-timed to the flood's
// clock, one every `every` flood packets from packet `from` on.
type demoMerger struct {
	frames     [][]byte
	wire       []int
	from, next int
	every      int
}

func newDemoMerger(t testing.TB, from, every int) *demoMerger {
	t.Helper()
	r, err := capture.OpenFile(filepath.Join(testutil.RepoRoot(t), "testdata", "demo.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m := &demoMerger{from: from, every: every}
	var fr capture.Frame
	for {
		if err := r.ReadFrame(&fr); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		m.frames = append(m.frames, append([]byte(nil), fr.Data...))
		m.wire = append(m.wire, fr.WireLen)
	}
	return m
}

// after is called after flood packet i: it writes the demo frame due then.
func (m *demoMerger) after(w *pcapWriter, i int) {
	if i < m.from || (i-m.from)%m.every != 0 || m.next >= len(m.frames) {
		return
	}
	w.frame(m.frames[m.next], m.wire[m.next])
	m.next++
}

// rest writes the demo frames not written yet (a short flood).
func (m *demoMerger) rest(w *pcapWriter) {
	for ; m.next < len(m.frames); m.next++ {
		w.ts += int64(time.Millisecond)
		w.frame(m.frames[m.next], m.wire[m.next])
	}
}

// Frame builders: Ethernet + IPv4 + TCP/UDP, checksums of the IP header only.

func ipv4Frame(b []byte, src, dst [4]byte, proto uint8, id uint16, fragOff uint16, more bool, l4 []byte) []byte {
	b = b[:0]
	b = append(b, 0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00)
	ip := len(b)
	total := 20 + len(l4)
	ff := fragOff / 8
	if more {
		ff |= 0x2000
	}
	b = append(b, 0x45, 0, byte(total>>8), byte(total), byte(id>>8), byte(id), byte(ff>>8), byte(ff), 64, proto, 0, 0)
	b = append(b, src[:]...)
	b = append(b, dst[:]...)
	var sum uint32
	for i := ip; i < ip+20; i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(b[ip+10:], ^uint16(sum))
	return append(b, l4...)
}

func tcpSeg(b []byte, sport, dport uint16, seq, ack uint32, flags uint8, payload []byte) []byte {
	b = b[:0]
	b = binary.BigEndian.AppendUint16(b, sport)
	b = binary.BigEndian.AppendUint16(b, dport)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = binary.BigEndian.AppendUint32(b, ack)
	b = append(b, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
	return append(b, payload...)
}

// floodResult is what each flood reports and asserts on.
type floodResult struct {
	st        pipeline.Stats
	ctr       *eventCounter
	heapBase  uint64
	heapPeak  uint64
	memcap    uint64
	packets   int
	fileBytes int64
	took      time.Duration
}

// runFlood replays path with cfg and checks what every flood must keep.
func runFlood(t *testing.T, cfg Config, path string, packets int) floodResult {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	hs := startHeapSampler()
	start := time.Now()
	st, ctr, err := replayCounted(t, cfg, path)
	took := time.Since(start)
	base, peak := hs.finish()
	if err != nil {
		t.Fatal(err)
	}
	r := floodResult{st: st, ctr: ctr, heapBase: base, heapPeak: peak, memcap: memcapBytes(cfg), packets: packets,
		fileBytes: fi.Size(), took: took}
	checkAccounting(t, filepath.Base(path), st, ctr)
	// The demo's traffic is still understood in the middle of the flood.
	for typ, want := range map[string]uint64{"http": 2, "tls": 3, "dns": 6} {
		if got := ctr.count(typ); got < want {
			t.Errorf("%s events: %d, want the demo's %d", typ, got, want)
		}
	}
	if max := uint64(cfg.Capture.Shards) * uint64(cfg.Flow.MaxFlows); st.Flows.Peak > max {
		t.Errorf("flows peak %d > %d shards × max_flows %d", st.Flows.Peak, cfg.Capture.Shards, cfg.Flow.MaxFlows)
	}
	if grow := peak - min(base, peak); grow > r.memcap+64<<20 {
		if why, ok := memcapKnownIssues[t.Name()]; ok && os.Getenv("NUNCHI_TEST_KNOWN_ISSUES") != "1" {
			t.Logf("KNOWN ISSUE (NUNCHI_TEST_KNOWN_ISSUES=1 fails on it): live heap grew by %d MiB, the caps allow %d MiB (+64 MiB slack): %s",
				grow>>20, r.memcap>>20, why)
		} else {
			t.Errorf("live heap grew by %d MiB, the caps allow %d MiB (+64 MiB slack)", grow>>20, r.memcap>>20)
		}
	}
	t.Logf("%d packets (%d MB), %v: live heap %d → peak %d MiB (memcap budget %d MiB); flows created %d peak %d ended %v emergency %d; "+
		"streams %d gaps %d; defrag fragments %d held %d dropped %v; decoder dropped %v; events %v",
		packets+82, fi.Size()>>20, took.Round(time.Millisecond), base>>20, peak>>20, r.memcap>>20, st.Flows.Created, st.Flows.Peak, st.Flows.Ended,
		st.Flows.EmergencyEntered, st.Streams.Streams, st.Streams.Gaps, st.Defrag.FragmentsIn, st.Defrag.Held, st.Defrag.Dropped,
		st.Decoder.Dropped, st.Events)
	return r
}

// memcapKnownIssues are the floods whose memory is not bounded by the
// caps today, with the reason (docs/reliability.md). Their heap figure is
// logged; NUNCHI_TEST_KNOWN_ISSUES=1 turns it into a failure. Empty since
// reassembly state is created only for connections that carry data and the
// NAT tracker keeps one-SYN sources in a fixed probation table (the SYN
// flood and the scan held ~1 KB of gopacket state per flow before).
var memcapKnownIssues = map[string]string{}

const floodStart = int64(1_795_261_200) * 1e9

// TestFloodSYN: a SYN flood of distinct flows (fast 200 k, full 5 M), each
// a new 5-tuple, to one server. The flow tables hold at most max_flows per
// shard; the rest are ended early under the named reason "forced" (evicted
// by the memcap, emergency mode entered); the scan detector reports the
// flood.
func TestFloodSYN(t *testing.T) {
	n := 200_000
	if floodFull() {
		n = 5_000_000
	}
	cfg := floodConfig()
	path := filepath.Join(t.TempDir(), "synflood.pcap")
	w := newPcapWriter(t, path, floodStart)
	demo := newDemoMerger(t, n/2, 200)
	var fb, tb []byte
	dst := [4]byte{192, 0, 2, 80}
	for i := range n {
		src := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		tb = tcpSeg(tb, uint16(1024+i%60000), 80, uint32(i)*7919, 0, 0x02, nil)
		fb = ipv4Frame(fb, src, dst, 6, uint16(i), 0, false, tb)
		w.frame(fb, len(fb))
		w.ts += int64(10 * time.Microsecond)
		demo.after(w, i)
	}
	demo.rest(w)
	w.close(t)
	r := runFlood(t, cfg, path, n)
	st := r.st
	if st.Flows.Created < uint64(n) {
		t.Errorf("flows created %d < %d SYNs", st.Flows.Created, n)
	}
	if st.Flows.Ended["forced"] == 0 || st.Flows.EmergencyEntered == 0 {
		t.Errorf("no eviction counted: ended %v, emergency %d", st.Flows.Ended, st.Flows.EmergencyEntered)
	}
	if st.Events["anomaly"] == 0 {
		t.Error("no syn_flood anomaly")
	}
	// One SYN per spoofed source: the NAT tracker keeps first SYNs in its
	// fixed probation table and tracks an address from its second SYN.
	if st.NAT != nil && st.NAT.Sources > cfg.NAT.MaxSources {
		t.Errorf("NAT tracker: %d sources past max_sources %d", st.NAT.Sources, cfg.NAT.MaxSources)
	}
}

// TestFloodReassemblyBomb: many connections each send out-of-order
// segments with a hole before every one of them, so that everything must
// be buffered and nothing can be delivered. Reassembly buffers at most
// max_pages_total per shard; the rest is pushed through as counted gaps.
func TestFloodReassemblyBomb(t *testing.T) {
	conns, segs := 2000, 40
	if floodFull() {
		conns = 20000
	}
	cfg := floodConfig()
	path := filepath.Join(t.TempDir(), "reassembly-bomb.pcap")
	w := newPcapWriter(t, path, floodStart)
	n := conns * (3 + segs)
	demo := newDemoMerger(t, n/2, 100)
	payload := make([]byte, 200)
	for i := range payload {
		payload[i] = 'A' + byte(i%26)
	}
	var fb, tb []byte
	srv := [4]byte{192, 0, 2, 81}
	i := 0
	emit := func(src, dst [4]byte, sport, dport uint16, seq, ack uint32, flags uint8, p []byte) {
		tb = tcpSeg(tb, sport, dport, seq, ack, flags, p)
		fb = ipv4Frame(fb, src, dst, 6, uint16(i), 0, false, tb)
		w.frame(fb, len(fb))
		w.ts += int64(20 * time.Microsecond)
		demo.after(w, i)
		i++
	}
	// Connections open in groups of 100, whose segments then interleave.
	const group = 100
	for g := 0; g < conns; g += group {
		for c := g; c < min(g+group, conns); c++ {
			cli := [4]byte{10, 1, byte(c >> 8), byte(c)}
			sport := uint16(20000 + c)
			emit(cli, srv, sport, 80, 1000, 0, 0x02, nil)
			emit(srv, cli, 80, sport, 5000, 1001, 0x12, nil)
			emit(cli, srv, sport, 80, 1001, 5001, 0x10, nil)
		}
		for s := range segs {
			for c := g; c < min(g+group, conns); c++ {
				cli := [4]byte{10, 1, byte(c >> 8), byte(c)}
				// Segment s sits after a hole of one segment: 1001+(2s+1)×200.
				emit(cli, srv, uint16(20000+c), 80, 1001+uint32(2*s+1)*200, 5001, 0x18, payload)
			}
		}
	}
	demo.rest(w)
	w.close(t)
	r := runFlood(t, cfg, path, n)
	if r.st.Streams.Gaps == 0 || r.st.Streams.GapBytes == 0 {
		t.Errorf("no gap counted: streams %+v", r.st.Streams)
	}
}

// TestFloodFragments: many incomplete fragment trains (a first fragment
// and a middle one, never the last), each a new datagram. The
// defragmenter holds at most max_datagrams and max_bytes; the rest is
// dropped under named reasons (evicted, memcap, timeout), and every
// fragment is accounted for.
func TestFloodFragments(t *testing.T) {
	n := 100_000
	if floodFull() {
		n = 1_000_000
	}
	cfg := floodConfig()
	path := filepath.Join(t.TempDir(), "fragments.pcap")
	w := newPcapWriter(t, path, floodStart)
	demo := newDemoMerger(t, n/2, 200)
	udp := make([]byte, 1008)
	binary.BigEndian.PutUint16(udp[0:], 5353)
	binary.BigEndian.PutUint16(udp[2:], 53)
	binary.BigEndian.PutUint16(udp[4:], 3000)
	var fb []byte
	dst := [4]byte{192, 0, 2, 82}
	for i := range n {
		train := i / 2
		src := [4]byte{10, 2, byte(train >> 16), byte(train >> 8)}
		off := uint16(0)
		if i%2 == 1 {
			off = 1008 // the middle fragment; the last (offset 2016) never comes
		}
		fb = ipv4Frame(fb, src, dst, 17, uint16(train), off, true, udp)
		w.frame(fb, len(fb))
		w.ts += int64(10 * time.Microsecond)
		demo.after(w, i)
	}
	demo.rest(w)
	w.close(t)
	r := runFlood(t, cfg, path, n)
	df := r.st.Defrag
	if df.FragmentsIn != uint64(n) {
		t.Errorf("defrag fragments %d, sent %d", df.FragmentsIn, n)
	}
	if df.Reassembled != 0 {
		t.Errorf("reassembled %d datagrams that never completed", df.Reassembled)
	}
	if df.Dropped["evicted"]+df.Dropped["memcap"] == 0 {
		t.Errorf("no eviction counted: %v", df.Dropped)
	}
	// At the end, what is held fits the caps: max_datagrams trains of two.
	if df.Held > uint64(2*cfg.Capture.Decode.Defrag.MaxDatagrams) {
		t.Errorf("held %d fragments, max_datagrams %d", df.Held, cfg.Capture.Decode.Defrag.MaxDatagrams)
	}
}

// TestFloodScan: one source probes port 443 on many addresses (fast
// 100 k, full 1 M), each SYN answered by a RST from half of them. The flow
// tables stay within their caps and the scan is reported.
func TestFloodScan(t *testing.T) {
	n := 100_000
	if floodFull() {
		n = 1_000_000
	}
	cfg := floodConfig()
	path := filepath.Join(t.TempDir(), "scan.pcap")
	w := newPcapWriter(t, path, floodStart)
	demo := newDemoMerger(t, n/2, 200)
	var fb, tb []byte
	scanner := [4]byte{198, 51, 100, 7}
	pkts := 0
	for i := range n {
		dst := [4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}
		tb = tcpSeg(tb, 40000, 443, 77, 0, 0x02, nil)
		fb = ipv4Frame(fb, scanner, dst, 6, uint16(i), 0, false, tb)
		w.frame(fb, len(fb))
		w.ts += int64(10 * time.Microsecond)
		pkts++
		if i%2 == 0 {
			tb = tcpSeg(tb, 443, 40000, 0, 78, 0x14, nil)
			fb = ipv4Frame(fb, dst, scanner, 6, uint16(i), 0, false, tb)
			w.frame(fb, len(fb))
			w.ts += int64(10 * time.Microsecond)
			pkts++
		}
		demo.after(w, i)
	}
	demo.rest(w)
	w.close(t)
	r := runFlood(t, cfg, path, pkts)
	if r.st.Flows.Ended["forced"] == 0 {
		t.Errorf("no eviction counted: %v", r.st.Flows.Ended)
	}
	if r.st.Events["anomaly"] == 0 {
		t.Error("no port_scan anomaly")
	}
}
