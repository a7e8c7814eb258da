//go:build linux

package rules

import (
	"syscall"
	"unsafe"
)

// allocSlots returns a zeroed slot table. Large tables are mapped outside
// the Go heap and advised to use transparent huge pages: lookups hit the
// table at random, and with 4 KiB pages nearly every probe of a table of
// 100 MB would also miss the TLB. release unmaps it (nil when the table is
// an ordinary Go slice).
func allocSlots(n int) (s []slot, release func()) {
	size := n * int(unsafe.Sizeof(slot{}))
	if size < hugeMin {
		return make([]slot, n), nil
	}
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		return make([]slot, n), nil
	}
	_ = syscall.Madvise(b, madvHugepage)
	return unsafe.Slice((*slot)(unsafe.Pointer(&b[0])), n), func() { _ = syscall.Munmap(b) }
}

const (
	hugeMin      = 8 << 20
	madvHugepage = 14 // MADV_HUGEPAGE
)
