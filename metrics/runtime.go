package metrics

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// processStart is used when /proc cannot say when the process started.
var processStart = time.Now()

// Version is the sensor's version for nunchi_build_info (set by main, or
// taken from the build info).
var Version = ""

// WriteRuntime adds process and Go runtime basics to b, under the names
// Prometheus' own client libraries use, so stock dashboards read them.
func WriteRuntime(b *Builder) {
	v := Version
	goVer := runtime.Version()
	if bi, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = bi.Main.Version
	}
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	b.GaugeUint("nunchi_build_info", "Always 1; the labels say which build runs.", 1, "version", v, "goversion", goVer)

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.GaugeUint("go_goroutines", "Goroutines that currently exist.", uint64(runtime.NumGoroutine()))
	threads, _ := runtime.ThreadCreateProfile(nil)
	b.GaugeUint("go_threads", "OS threads created by the Go runtime.", uint64(threads))
	b.GaugeUint("go_info", "Always 1; the label is the Go version.", 1, "version", goVer)
	b.GaugeUint("go_memstats_alloc_bytes", "Bytes of allocated heap objects.", ms.Alloc)
	b.Counter("go_memstats_alloc_bytes_total", "Bytes allocated for heap objects, cumulative.", ms.TotalAlloc)
	b.GaugeUint("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", ms.HeapInuse)
	b.GaugeUint("go_memstats_heap_objects", "Allocated heap objects.", ms.HeapObjects)
	b.GaugeUint("go_memstats_sys_bytes", "Bytes of memory obtained from the OS by the Go runtime.", ms.Sys)
	b.GaugeUint("go_memstats_next_gc_bytes", "Heap size at which the next garbage collection will start.", ms.NextGC)
	b.Counter("go_gc_cycles_total", "Completed garbage collection cycles.", uint64(ms.NumGC))
	b.CounterFloat("go_gc_pause_seconds_total", "Time the world was stopped for garbage collection, cumulative.", float64(ms.PauseTotalNs)/1e9)

	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		cpu := float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
		b.CounterFloat("process_cpu_seconds_total", "User and system CPU time spent, in seconds.", cpu)
	}
	if rss, vsz, ok := statm(); ok {
		b.GaugeUint("process_resident_memory_bytes", "Resident memory size in bytes.", rss)
		b.GaugeUint("process_virtual_memory_bytes", "Virtual memory size in bytes.", vsz)
	}
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		b.GaugeUint("process_open_fds", "Open file descriptors.", uint64(len(ents)))
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err == nil {
		b.GaugeUint("process_max_fds", "Limit on open file descriptors.", rl.Cur)
	}
	b.Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch, in seconds.", startTime())
}

// statm reads resident and virtual size from /proc/self/statm (pages).
func statm() (rss, vsz uint64, ok bool) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, 0, false
	}
	v, err1 := strconv.ParseUint(f[0], 10, 64)
	r, err2 := strconv.ParseUint(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	page := uint64(os.Getpagesize())
	return r * page, v * page, true
}

// startTime is the process start from /proc/self/stat (clock ticks since
// boot, USER_HZ = 100 on Linux) and the boot time from /proc/stat.
func startTime() float64 {
	fallback := float64(processStart.UnixNano()) / 1e9
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return fallback
	}
	// The command name may hold spaces and parentheses: fields start after the last ')'.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return fallback
	}
	f := strings.Fields(string(stat[i+1:]))
	// f[0] is field 3 (state); starttime is field 22.
	if len(f) < 20 {
		return fallback
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return fallback
	}
	ps, err := os.ReadFile("/proc/stat")
	if err != nil {
		return fallback
	}
	for _, line := range strings.Split(string(ps), "\n") {
		if rest, ok := strings.CutPrefix(line, "btime "); ok {
			bt, err := strconv.ParseUint(strings.TrimSpace(rest), 10, 64)
			if err != nil {
				return fallback
			}
			return float64(bt) + float64(ticks)/100
		}
	}
	return fallback
}
