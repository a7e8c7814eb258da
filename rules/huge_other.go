//go:build !linux

package rules

import "unsafe"

func adviseHuge(p unsafe.Pointer, size int) {}
