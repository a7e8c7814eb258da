package capture

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"
)

// defragTruth is the byte an honest sender puts at offset i of datagram k.
func defragTruth(k byte, i int) byte { return byte(i*131+int(k)*17) ^ byte(i>>8) }

// FuzzDefrag feeds random fragment sequences to a small Defragmenter. Each
// 5-byte record is one fragment:
//
//	b0      bits 0-1 datagram (key ID), bit 2 context, bit 3 more fragments,
//	        bit 4 forged (bytes differ from the honest sender's),
//	        bits 5-7 packet time step, -4…+3 seconds (time may go back)
//	b1 b2   offset: b1×8, or (b1b2 & 0x1fff)×8 when b2's top bit is set
//	b3 b4   length: b3×8 + (b4 & 7), or b3×256 when b4's top bit is set
//
// Properties: no panic; the accounting equation and the internal invariants
// hold after every call; bytes held ≤ MaxBytes; datagrams held ≤
// MaxDatagrams; a reassembled datagram is ≤ 65535 bytes, and built only from
// bytes some fragment carried at that offset (honest ones when nothing was
// forged).
func FuzzDefrag(f *testing.F) {
	// Seeds: an in-order pair, a reverse pair, a conflicting overlap, a
	// ping of death, a memcap filler, packet time going back and forth.
	f.Add([]byte{0x08, 0, 0, 1, 0, 0x00, 1, 0, 0, 4})
	f.Add([]byte{0x00, 4, 0, 0, 3, 0x08, 0, 0, 4, 0})
	f.Add([]byte{0x08, 0, 0, 2, 0, 0x18, 1, 0, 2, 0, 0x00, 3, 0, 0, 5})
	f.Add([]byte{0x08, 0xff, 0xff, 4, 0})
	f.Add([]byte{0x09, 0, 0, 0xf0, 0x80, 0x0a, 0, 0, 0xf0, 0x80, 0x0b, 0, 0, 0x80, 0x80, 0x29, 0, 0, 1, 0})
	f.Add([]byte{0x08, 0, 0, 1, 0, 0xe8, 0, 0, 1, 0, 0x60, 0, 0, 1, 0, 0x00, 1, 0, 1, 0})

	cfg := DefragConfig{Timeout: 10 * time.Second, MaxDatagrams: 3, MaxFragments: 6, MaxBytes: 96 << 10}
	// The bytes every sender may put at each offset, built once: offset +
	// length reaches 2×64 KiB before Add rejects it.
	var honest, forgery [8][]byte
	for k := range honest {
		honest[k], forgery[k] = make([]byte, 2<<16), make([]byte, 2<<16)
		for i := range honest[k] {
			honest[k][i] = defragTruth(byte(k), i)
			forgery[k][i] = honest[k][i] ^ 0xff
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := NewDefragmenter(cfg)
		now := sec(0)
		latest := now
		forged := false
		for ; len(data) >= 5; data = data[5:] {
			b0 := data[0]
			truth := b0 & 7 // key ID and context: 8 datagrams
			key := v4Key(uint16(b0 & 3))
			if b0&4 != 0 {
				key.Context = 1
			}
			more := b0&8 != 0
			forge := b0&16 != 0
			forged = forged || forge
			now += int64(int8(b0)>>5) * int64(time.Second)
			latest = max(latest, now)

			off := int(data[1]) * 8
			if data[2]&0x80 != 0 {
				off = int(binary.BigEndian.Uint16(data[1:3])&0x1fff) * 8
			}
			n := int(data[3])*8 + int(data[4]&7)
			if data[4]&0x80 != 0 {
				n = int(data[3]) * 256
			}
			payload := honest[truth][off : off+n]
			if forge {
				payload = forgery[truth][off : off+n]
			}

			out, st := d.Add(now, key, off, more, payload[:n])
			checkDefrag(t, d)
			if _, b := d.InUse(); b > cfg.MaxBytes {
				t.Fatalf("InUse() = %d bytes > MaxBytes %d", b, cfg.MaxBytes)
			}
			switch st {
			case DefragComplete:
				if len(out) == 0 || len(out) > 65535 {
					t.Fatalf("Add() = %d bytes", len(out))
				}
				if !bytes.Equal(out, honest[truth][:len(out)]) {
					for i, c := range out {
						if h := honest[truth][i]; c != h && (!forged || c != forgery[truth][i]) {
							t.Fatalf("Add() byte %d = %#x, no fragment carried it (honest %#x)", i, c, h)
						}
					}
				}
				if !forged && d.LastOverlapConflict() {
					t.Fatalf("LastOverlapConflict() with honest fragments only")
				}
			case DefragHeld, DefragDropped:
				if out != nil {
					t.Fatalf("Add() = %d bytes with %v", len(out), st)
				}
			default:
				t.Fatalf("Add() status %v", st)
			}
		}
		if s := d.Stats(); !forged && s.OverlapConflicts != 0 {
			t.Fatalf("%d OverlapConflicts with honest fragments only", s.OverlapConflicts)
		}
		d.Expire(latest + int64(cfg.Timeout) + 1) // everything
		checkDefrag(t, d)
		if n, b := d.InUse(); n != 0 || b != 0 || d.Stats().Held != 0 {
			t.Fatalf("after Expire: InUse() = %d, %d; Held %d", n, b, d.Stats().Held)
		}
	})
}
