package rules

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// adviseHuge asks the kernel to back b with transparent huge pages. A
// lookup in a 10 M-name table touches two random cache lines far apart
// (its slot, then its record); with 4 KiB pages each also misses the TLB,
// and the page walk costs as much as the miss itself. With 2 MiB pages the
// TLB covers gigabytes. Advice only: without THP (or with THP "never")
// nothing changes. The memory stays on the Go heap (records are referenced
// by the strings in Match), so the advice is on the heap's own pages.
func adviseHuge(p unsafe.Pointer, size int) {
	const page = 4096
	start := (uintptr(p) + page - 1) &^ (page - 1)
	end := (uintptr(p) + uintptr(size)) &^ (page - 1)
	if end <= start || end-start < 2<<20 {
		return // smaller than one huge page: nothing to gain
	}
	unix.Madvise(unsafe.Slice((*byte)(unsafe.Add(p, start-uintptr(p))), end-start), unix.MADV_HUGEPAGE)
}
