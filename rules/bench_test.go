package rules

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The scale benchmarks generate lists of random names (deterministic: a
// fixed PCG seed) into a temporary file once per process:
//
//	go test -run='^$' -bench=. -benchtime=1x ./rules        # quick
//	go test -run='^$' -bench='Load|Match' ./rules             # figures for doc.go

var benchTLDs = []string{"com", "net", "org", "ru", "de", "info", "example", "co.uk", "xyz", "io", "com.br", "jp"}

const benchAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func benchLabel(r *rand.Rand, lo, hi int, b []byte) []byte {
	n := lo + r.IntN(hi-lo+1)
	for range n {
		b = append(b, benchAlphabet[r.IntN(len(benchAlphabet))])
	}
	return b
}

// benchName appends a random name: label(6–14)[.label(3–8)].tld; suffix
// entries (10 %) get a leading dot.
func benchName(r *rand.Rand, b []byte) (name []byte, suffix bool) {
	suffix = r.IntN(10) == 0
	if suffix {
		b = append(b, '.')
	}
	if r.IntN(10) < 3 {
		b = benchLabel(r, 3, 8, b)
		b = append(b, '.')
	}
	b = benchLabel(r, 6, 14, b)
	b = append(b, '.')
	b = append(b, benchTLDs[r.IntN(len(benchTLDs))]...)
	return b, suffix
}

type benchData struct {
	path      string
	hits      []string // names that match (exact names, subdomains of suffix entries)
	misses    []string
	scattered []string // hits again, each its own heap string (see BenchmarkMatchName)
	bytes     int64
}

// pack returns qs as substrings of one string, in order: the bytes of the
// next query are next in memory, as a name parsed from a packet is in the
// packet buffer a parser just read.
func pack(qs []string) []string {
	all := strings.Join(qs, "")
	out := make([]string, len(qs))
	off := 0
	for i, q := range qs {
		out[i] = all[off : off+len(q)]
		off += len(q)
	}
	return out
}

var (
	benchMu    sync.Mutex
	benchFiles = map[int]*benchData{}
	benchSets  = map[int]*Set{}
	benchDir   string
)

func benchFile(b *testing.B, n int) *benchData {
	b.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	if d := benchFiles[n]; d != nil {
		return d
	}
	if benchDir == "" {
		dir, err := os.MkdirTemp("", "nunchi-rules-bench")
		if err != nil {
			b.Fatal(err)
		}
		benchDir = dir
	}
	d := &benchData{path: filepath.Join(benchDir, fmt.Sprintf("names-%d.txt", n))}
	f, err := os.Create(d.path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	var buf []byte
	every := max(n/(1<<16), 1)
	for i := range n {
		name, suffix := benchName(r, buf[:0])
		buf = name
		w.Write(name)
		w.WriteByte('\n')
		if i%every == 0 {
			if suffix {
				d.hits = append(d.hits, "www"+string(name))
			} else {
				d.hits = append(d.hits, string(name))
			}
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	fi, _ := f.Stat()
	d.bytes = fi.Size()
	f.Close()
	q := rand.New(rand.NewPCG(2, uint64(n)))
	for range len(d.hits) {
		name, _ := benchName(q, []byte("q"))
		d.misses = append(d.misses, string(name))
	}
	d.scattered = d.hits
	d.hits, d.misses = pack(d.hits), pack(d.misses)
	benchFiles[n] = d
	return d
}

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

// skipLarge skips the 10 M sets under -short (CI's -benchtime=1x pass
// still runs the 1 M ones).
func skipLarge(b *testing.B, n int) {
	if n > 1_000_000 && testing.Short() {
		b.Skip("10 M names: not under -short")
	}
}

var benchSizes = []struct {
	name string
	n    int
}{{"1M", 1_000_000}, {"10M", 10_000_000}}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// rss returns the resident set size of the process (Linux; 0 elsewhere),
// after returning freed memory to the OS.
func rss() uint64 {
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkLoad reports the wall time of LoadFiles on a generated list,
// and the Go heap the resulting Set holds (after GC).
func BenchmarkLoad(b *testing.B) {
	for _, sz := range benchSizes {
		b.Run(sz.name, func(b *testing.B) {
			skipLarge(b, sz.n)
			d := benchFile(b, sz.n)
			benchMu.Lock()
			delete(benchSets, sz.n) // measure a Set alone
			benchMu.Unlock()
			b.ReportAllocs()
			var s *Set
			var heap, res int64
			for b.Loop() {
				s = nil
				b.StopTimer()
				rssBefore := rss()
				before := heapInUse()
				b.StartTimer()
				var err error
				s, err = LoadFiles(d.path)
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				heap = int64(heapInUse()) - int64(before)
				res = int64(rss()) - int64(rssBefore)
				b.StartTimer()
			}
			st := s.Stats()
			b.ReportMetric(float64(heap)/(1<<20), "heap-MB")
			b.ReportMetric(float64(res)/(1<<20), "rss-MB")
			b.ReportMetric(float64(st.MemoryBytes)/(1<<20), "est-MB")
			b.ReportMetric(float64(st.Names), "names")
			b.ReportMetric(float64(d.bytes)/(1<<20), "file-MB")
			benchMu.Lock()
			benchSets[sz.n] = s
			benchMu.Unlock()
		})
	}
}

func benchSet(b *testing.B, n int) (*Set, *benchData) {
	d := benchFile(b, n)
	benchMu.Lock()
	s := benchSets[n]
	benchMu.Unlock()
	if s == nil {
		var err error
		if s, err = LoadFiles(d.path); err != nil {
			b.Fatal(err)
		}
		benchMu.Lock()
		benchSets[n] = s
		benchMu.Unlock()
	}
	return s, d
}

// BenchmarkMatchName looks up names that match (hit) and names that do not
// (miss), cycling through 64 Ki queries spread over the whole set so the
// table is hit at random, not from cache. The queries lie one after the
// other in one string (pack), as names parsed from packets are hot in the
// CPU cache when they are looked up; "hit-scattered" keeps each query in a
// heap string of its own (the benchmark's shape before 2026-11-21), so the
// query's own bytes are a cache miss too.
func BenchmarkMatchName(b *testing.B) {
	for _, sz := range benchSizes {
		for _, kind := range []string{"hit", "hit-scattered", "hit-hot", "miss"} {
			b.Run(sz.name+"/"+kind, func(b *testing.B) {
				skipLarge(b, sz.n)
				s, d := benchSet(b, sz.n)
				qs := d.hits
				switch kind {
				case "miss":
					qs = d.misses
				case "hit-scattered":
					qs = d.scattered
				case "hit-hot":
					// Blocked visits concentrate on few sites: 1 Ki
					// entries, hit over and over, stay in the caches.
					qs = d.hits[:1024]
				}
				b.ReportAllocs()
				i := 0
				cpu := startCPU()
				for b.Loop() {
					_, ok := s.MatchName(qs[i])
					if ok != (kind != "miss") {
						b.Fatalf("MatchName(%q) = %v", qs[i], ok)
					}
					if i++; i == len(qs) {
						i = 0
					}
				}
				cpu.report(b)
			})
		}
	}
}

// BenchmarkLookupName is BenchmarkMatchName for the decision alone
// (LookupName: the table slot and the filter word, no record, no RuleID).
func BenchmarkLookupName(b *testing.B) {
	for _, sz := range benchSizes {
		for _, kind := range []string{"hit", "hit-hot", "miss"} {
			b.Run(sz.name+"/"+kind, func(b *testing.B) {
				skipLarge(b, sz.n)
				s, d := benchSet(b, sz.n)
				qs := d.hits
				switch kind {
				case "miss":
					qs = d.misses
				case "hit-hot":
					qs = d.hits[:1024]
				}
				b.ReportAllocs()
				i := 0
				cpu := startCPU()
				for b.Loop() {
					_, ok := s.LookupName(qs[i])
					if ok != (kind != "miss") {
						b.Fatalf("LookupName(%q) = %v", qs[i], ok)
					}
					if i++; i == len(qs) {
						i = 0
					}
				}
				cpu.report(b)
			})
		}
	}
}

func BenchmarkMatchIP(b *testing.B) {
	s, _ := testSet(b)
	addrs := []netip.Addr{netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("2001:db8:bad::1"), netip.MustParseAddr("2001:db9::1")}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.MatchIP(addrs[i&3])
		i++
	}
}

func BenchmarkMatchURL(b *testing.B) {
	s, _ := testSet(b)
	b.ReportAllocs()
	for b.Loop() {
		s.MatchURL("news.example", "/forbidden/story")
	}
}
