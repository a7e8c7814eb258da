//go:build !unix

package capture

import "os"

// mmapPcap is the memory-mapped pcap reader of unix systems; elsewhere
// every file goes through the buffered reader.
type mmapPcap struct{}

func openMmapPcap(*os.File, int64) *mmapPcap { return nil }

func (*mmapPcap) next() ([]byte, int64, int, error) { panic("unreachable") }

func (*mmapPcap) close() error { return nil }
