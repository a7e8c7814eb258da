package reassembly

import (
	"net/netip"
	"testing"
)

func BenchmarkAppendCommunityID(b *testing.B) {
	v4a, v4b := []byte{192, 168, 1, 52}, []byte{8, 8, 8, 8}
	v6a := netip.MustParseAddr("2001:470:e5bf:dead:4957:2174:e82c:4887").AsSlice()
	v6b := netip.MustParseAddr("2607:f8b0:400c:c03::1a").AsSlice()
	benches := []struct {
		name         string
		proto        uint8
		src, dst     []byte
		sport, dport uint16
	}{
		{"tcp4", 6, v4a, v4b, 54585, 443},
		{"udp4-swapped", 17, v4b, v4a, 53, 54585},
		{"tcp6", 6, v6a, v6b, 63943, 25},
		{"icmp4-echo", 1, v4a, v4b, 8, 0},
		{"icmp6-one-way", 58, v6a, v6b, 1, 4},
		{"port-less", 47, v4a, v4b, 0, 0},
	}
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			buf := make([]byte, 0, communityIDLen)
			b.ReportAllocs()
			for b.Loop() {
				buf = AppendCommunityID(buf[:0], 0, bb.proto, bb.src, bb.dst, bb.sport, bb.dport)
			}
		})
	}
}

// BenchmarkCommunityID measures the allocating string form used when reporting.
func BenchmarkCommunityID(b *testing.B) {
	src, dst := []byte{10, 0, 0, 1}, []byte{10, 0, 0, 2}
	var sink string
	b.ReportAllocs()
	for b.Loop() {
		sink = CommunityID(0, 6, src, dst, 40000, 80)
	}
	_ = sink
}
