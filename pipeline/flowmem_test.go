package pipeline

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"github.com/nunchi-sensor/nunchi/capture"
	"github.com/nunchi-sensor/nunchi/reassembly"
	"github.com/nunchi-sensor/nunchi/rules"
)

// Memory goals (issue 10): ≤ 512 B per tracked flow, 1 M concurrent flows
// in ≤ 600 MB RSS. BenchmarkFlowMemory builds NUNCHI_FLOWMEM_FLOWS (default
// 1,000,000) distinct live flows in one shard, from synthetic packets fed
// in batches as the reader would, all within a few seconds of packet time
// so none expires, and reports:
//
//	heapB/flow   live heap after GC, less the heap before, per flow
//	rssMB        the process's resident set with the flows live
//	                (after GC; includes the test binary's own ~10 MB)
//	peakRSS-MB   getrusage's maximum RSS of the process so far
//
// Cases:
//
//	flows/tcp-syn          flow table only, one SYN per flow
//	parsers/tcp-handshake  all parsers: SYN, SYN-ACK, ACK (app state and a
//	                       reassembly stream per flow, protocol not known yet)
//	parsers/tcp-http-partial  + the first bytes of an HTTP request (a parser
//	                       holding a partial header); a tenth of the flows,
//	                       as each costs ~7.5 KB today
//	parsers/udp-dns-query  all parsers and a rules set: one DNS query per
//	                       flow, the parser waiting for its answer
//
// It also logs unsafe.Sizeof of the per-flow structs. Run it alone, as its
// RSS figures are process-wide:
//
//	go test -run '^$' -bench BenchmarkFlowMemory -benchtime 1x ./pipeline/
//
// NUNCHI_FLOWMEM_HEAPPROFILE=/tmp/flowmem-%s.heap writes each case's live
// heap (with the flows held) for `go tool pprof -sample_index=inuse_space`;
// -memprofilerate 512 makes it precise.
func BenchmarkFlowMemory(b *testing.B) {
	n := 1_000_000
	if v := os.Getenv("NUNCHI_FLOWMEM_FLOWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("NUNCHI_FLOWMEM_FLOWS=%q", v)
		}
	}
	b.Logf("unsafe.Sizeof: reassembly.Flow %d B, reassembly.Key %d B, appState %d B, reassembly.Stream %d B, capture.Packet %d B",
		unsafe.Sizeof(reassembly.Flow{}), unsafe.Sizeof(reassembly.Key{}), unsafe.Sizeof(appState{}),
		unsafe.Sizeof(reassembly.Stream{}), unsafe.Sizeof(capture.Packet{}))

	dir := b.TempDir()
	rulesPath := filepath.Join(dir, "rules.txt")
	if err := os.WriteFile(rulesPath, []byte("blocked.example\n.casino.example\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	set, err := rules.LoadFiles(rulesPath)
	if err != nil {
		b.Fatal(err)
	}
	holder := rules.NewHolder(set)

	for _, c := range []struct {
		name      string
		protocols bool
		div       int // run with n/div flows (a per-flow figure, extrapolated)
		gen       func(i int, emit func(p *capture.Packet))
	}{
		{"flows/tcp-syn", false, 1, tcpFlow(false, false)},
		{"parsers/tcp-handshake", true, 1, tcpFlow(true, false)},
		// ~7.5 KB per flow today: 1 M of them would need 7.5 GB.
		{"parsers/tcp-http-partial", true, 10, tcpFlow(true, true)},
		{"parsers/udp-dns-query", true, 1, dnsFlow},
	} {
		n := max(n/c.div, 1)
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				cfg := Config{Sensor: "flowmem", Flow: reassembly.DefaultFlowConfig(), Streams: reassembly.DefaultStreamConfig()}
				if cfg.Flow.MaxFlows < n {
					cfg.Flow.MaxFlows = n
				}
				if c.protocols {
					cfg.Protocols = DefaultProtocols()
					cfg.Rules = holder
				}
				heap0, rss0 := settledMemory()
				pub := &countingPublisher{}
				s := newShard(0, cfg, cfg.Sensor, pub)
				bt := newBatch(256, 256*arenaPerPacket)
				for i := range n {
					c.gen(i, func(p *capture.Packet) {
						if !bt.add(p) {
							bt.now = p.Timestamp
							s.process(bt)
							bt.reset()
							bt.add(p)
						}
					})
				}
				s.process(bt)
				bt.reset()
				if got := s.table.Len(); got != n {
					b.Fatalf("flows live = %d, want %d (expired or evicted: %+v)", got, n, s.table.Stats())
				}
				heap1, rss1 := settledMemory()
				if path := os.Getenv("NUNCHI_FLOWMEM_HEAPPROFILE"); path != "" {
					writeHeapProfile(b, strings.ReplaceAll(path, "%s", strings.ReplaceAll(c.name, "/", "-")))
				}
				perFlow := float64(heap1-heap0) / float64(n)
				b.ReportMetric(perFlow, "heapB/flow")
				b.Logf("%d flows: %.0f B/flow (goal ≤ 512), %.0f MB RSS, 1 M flows ≈ %.0f MB (goal ≤ 600)",
					n, perFlow, float64(rss1)/(1<<20), float64(int64(rss1)-int64(rss0))/float64(n)*1e6/(1<<20)+float64(rss0)/(1<<20))
				b.ReportMetric(float64(rss1)/(1<<20), "rssMB")
				b.ReportMetric(float64(int64(rss1)-int64(rss0))/float64(n), "rssB/flow")
				var ru syscall.Rusage
				if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
					b.ReportMetric(float64(ru.Maxrss)/1024, "peakRSS-MB")
				}
				runtime.KeepAlive(s)
			}
		})
	}
}

// writeHeapProfile writes the live heap (inuse_space: what the flows hold)
// to path.
func writeHeapProfile(b *testing.B, path string) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// settledMemory collects garbage, returns freed memory to the OS and
// reports the live heap and the process's resident set, in bytes.
func settledMemory() (heap, rss uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, residentBytes()
}

// residentBytes reads the current RSS from /proc/self/statm (0 where there
// is no procfs).
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

// flowAddrs gives flow i a distinct client (10.x.y.z, port) and one of 256
// servers; packet time advances 1 µs per flow (1 M flows: 1 s, far below
// every timeout).
func flowAddrs(i int) (cli, srv capture.Addr, cport uint16, ts int64) {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], 0x0a000000|uint32(i>>4))
	cli = capture.AddrFrom4(c[:])
	srv = capture.AddrFrom4([]byte{192, 0, 2, byte(i)})
	return cli, srv, 40000 + uint16(i&15), 1_767_225_600e9 + int64(i)*1000
}

var httpPartial = []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: flowmem\r\n")

// tcpFlow returns a generator of one TCP flow: a SYN, or (handshake) SYN,
// SYN-ACK, ACK, and (data) the first part of an HTTP request header.
func tcpFlow(handshake, data bool) func(i int, emit func(p *capture.Packet)) {
	return func(i int, emit func(p *capture.Packet)) {
		cli, srv, cport, ts := flowAddrs(i)
		sport := uint16(443)
		if data {
			sport = 80
		}
		pkt := func(fromClient bool, flags uint8, seq, ack uint32, payload []byte) {
			p := capture.Packet{Timestamp: ts, IPVersion: 4, Proto: capture.ProtoTCP, TTL: 64, WirePkts: 1,
				TCP: capture.TCPInfo{Seq: seq, Ack: ack, Flags: flags, HeaderLen: 20, Window: 65535}, Payload: payload,
				PayloadLen: uint32(len(payload))}
			p.IPLen = 40 + uint32(len(payload))
			p.WireBytes, p.WireLen, p.CapLen = p.IPLen, p.IPLen+14, p.IPLen+14
			if fromClient {
				p.Src, p.Dst, p.SrcPort, p.DstPort = cli, srv, cport, sport
			} else {
				p.Src, p.Dst, p.SrcPort, p.DstPort = srv, cli, sport, cport
			}
			emit(&p)
		}
		pkt(true, capture.TCPSyn, 1000, 0, nil)
		if !handshake {
			return
		}
		pkt(false, capture.TCPSyn|capture.TCPAck, 5000, 1001, nil)
		pkt(true, capture.TCPAck, 1001, 5001, nil)
		if data {
			pkt(true, capture.TCPAck|capture.TCPPsh, 1001, 5001, httpPartial)
		}
	}
}

// dnsFlow emits one DNS query (type A) for a name distinct per flow.
func dnsFlow(i int, emit func(p *capture.Packet)) {
	cli, srv, cport, ts := flowAddrs(i)
	q := make([]byte, 0, 64)
	q = binary.BigEndian.AppendUint16(q, uint16(i))
	q = append(q, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0) // RD; 1 question
	for _, label := range []string{fmt.Sprintf("h%d", i), "example", "com"} {
		q = append(q, byte(len(label)))
		q = append(q, label...)
	}
	q = append(q, 0, 0, 1, 0, 1) // root; type A, class IN
	p := capture.Packet{Timestamp: ts, IPVersion: 4, Proto: capture.ProtoUDP, TTL: 64, WirePkts: 1,
		Src: cli, Dst: srv, SrcPort: cport + 10000, DstPort: 53, Payload: q, PayloadLen: uint32(len(q))}
	p.IPLen = 28 + uint32(len(q))
	p.WireBytes, p.WireLen, p.CapLen = p.IPLen, p.IPLen+14, p.IPLen+14
	emit(&p)
}
