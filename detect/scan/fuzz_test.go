package scan

import (
	"testing"
	"time"

	"github.com/nunchi-sensor/nunchi/capture"
)

// FuzzObserve feeds the detector random packet sequences on small tables
// (the header fields a shard passes, not bytes on the wire: the detector's
// input is what an attacker controls in a scan). Each 6-byte record is one
// packet:
//
//	b0      bits 0-2 source host, bits 3-5 protocol/flags choice, bit 6 IPv6,
//	        bit 7 "established" (calls Established for the destination)
//	b1      destination host
//	b2 b3   destination port
//	b4      source port (low byte)
//	b5      packet time step: b5 × 50 ms, or −b5 s when its top bit is set
//
// Properties: no panic; every anomaly names its type and event and is
// port_scan or syn_flood; the counters add up (Observed = packets given);
// memory is fixed at New and table occupancy never exceeds MaxEntries.
func FuzzObserve(f *testing.F) {
	syn := func(src, dst, ph, pl byte) []byte { return []byte{src, dst, ph, pl, 1, 1} }
	var horiz, vert, flood []byte
	for i := 0; i < 40; i++ {
		horiz = append(horiz, syn(0x01, byte(i), 0, 22)...)
		vert = append(vert, syn(0x02, 9, 0, byte(i))...)
		flood = append(flood, syn(byte(i&7), 200, 1, 187)...)
	}
	f.Add(horiz)
	f.Add(vert)
	f.Add(flood)
	f.Add([]byte{0x81, 2, 0, 80, 1, 0x85, 0x0a, 2, 0, 80, 1, 0})

	cfg := Config{Window: 2 * time.Second, HorizontalHosts: 4, VerticalPorts: 4, SynFloodHalfOpen: 8,
		SynFloodRatio: 0.5, MaxEntries: 16, Seed: 1}
	flags := [8]struct{ proto, flags uint8 }{
		{capture.ProtoTCP, capture.TCPSyn}, {capture.ProtoTCP, capture.TCPSyn | capture.TCPAck},
		{capture.ProtoTCP, capture.TCPAck}, {capture.ProtoTCP, capture.TCPFin | capture.TCPPsh | capture.TCPUrg},
		{capture.ProtoTCP, 0}, {capture.ProtoUDP, 0}, {capture.ProtoICMP, 0}, {capture.ProtoSCTP, 0},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		bytesAtNew := d.Stats().Bytes
		ts := int64(1_700_000_000) * 1e9
		var n uint64
		for ; len(data) >= 6; data = data[6:] {
			b0 := data[0]
			var src, dst capture.Addr
			if b0&0x40 != 0 {
				src[0], src[15] = 0x20, b0&7
				dst[0], dst[15] = 0x20, data[1]
			} else {
				src = capture.AddrFrom4([]byte{10, 0, 0, b0 & 7})
				dst = capture.AddrFrom4([]byte{192, 0, 2, data[1]})
			}
			if s := data[5]; s&0x80 != 0 {
				ts -= int64(s&0x7f) * 1e9
			} else {
				ts += int64(s) * 50e6
			}
			fl := flags[(b0>>3)&7]
			dport := uint16(data[2])<<8 | uint16(data[3])
			if b0&0x80 != 0 {
				d.Established(dst, dport, ts)
			}
			n++
			for _, a := range d.Observe(src, dst, 40000+uint16(data[4]), dport, fl.proto, fl.flags, ts) {
				if a == nil || a.Event == "" || (a.Type != "port_scan" && a.Type != "syn_flood") {
					t.Fatalf("anomaly %+v", a)
				}
			}
		}
		st := d.Stats()
		if st.Observed != n {
			t.Fatalf("observed %d, gave %d", st.Observed, n)
		}
		if st.Bytes != bytesAtNew {
			t.Fatalf("tables grew: %d bytes, %d at New", st.Bytes, bytesAtNew)
		}
		if st.Entries < cfg.MaxEntries || st.Entries > 2*cfg.MaxEntries {
			t.Fatalf("entries %d for max_entries %d", st.Entries, cfg.MaxEntries)
		}
	})
}
