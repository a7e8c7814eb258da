package rules

import (
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// threadCPU is the CPU time of the calling OS thread.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports "cpu-ns/op": the benchmark goroutine's thread CPU time
// per operation. On a machine shared with other work the wall time of a
// benchmark counts the time the scheduler gives to others; the thread's
// CPU time does not (cache interference remains).
type cpuMeter struct{ start time.Duration }

func startCPU() cpuMeter {
	runtime.LockOSThread()
	return cpuMeter{threadCPU()}
}

func (m cpuMeter) report(b *testing.B) {
	d := threadCPU() - m.start
	runtime.UnlockOSThread()
	if b.N > 0 && d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
