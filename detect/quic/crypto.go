package quic

import "bytes"

// MaxCrypto bounds the CRYPTO stream bytes kept per flow: offsets at or
// beyond it are dropped (and counted), and a ClientHello longer than
// MaxCrypto-4 bytes is not parsed.
const MaxCrypto = 16 << 10

// cryptoBuf reassembles the client's Initial CRYPTO stream by offset, in
// any order, within MaxCrypto bytes. A bitmap records which bytes arrived;
// contig is the length of the complete prefix.
type cryptoBuf struct {
	data      *[MaxCrypto]byte // allocated on first use, kept across resets
	have      [MaxCrypto / 64]uint64
	contig    int
	added     int  // bytes stored for the first time
	conflicts int  // writes whose bytes differed from those held
	overflow  bool // some bytes fell beyond MaxCrypto
}

// write stores b at stream offset off. Bytes already held are kept (first
// wins, as with a server that has passed them to TLS already); a write
// whose bytes differ from those held counts one conflict. Every byte passed
// the AEAD, so a conflict comes from the client itself: a crafted
// retransmission, worth counting.
func (c *cryptoBuf) write(off uint64, b []byte) {
	if len(b) == 0 {
		return
	}
	if off >= MaxCrypto {
		c.overflow = true
		return
	}
	if uint64(len(b)) > MaxCrypto-off {
		b = b[:MaxCrypto-off]
		c.overflow = true
	}
	if c.data == nil {
		c.data = new([MaxCrypto]byte)
	}
	start := int(off)
	end := start + len(b)
	conflict := false
	for i := start; i < end; {
		w := &c.have[i/64]
		if i%64 == 0 && end-i >= 64 && (*w == 0 || *w == ^uint64(0)) {
			src := b[i-start : i-start+64]
			if *w == 0 {
				copy(c.data[i:i+64], src)
				*w = ^uint64(0)
				c.added += 64
			} else if !bytes.Equal(c.data[i:i+64], src) {
				conflict = true
			}
			i += 64
			continue
		}
		bit := uint64(1) << (i % 64)
		if *w&bit == 0 {
			c.data[i] = b[i-start]
			*w |= bit
			c.added++
		} else if c.data[i] != b[i-start] {
			conflict = true
		}
		i++
	}
	if conflict {
		c.conflicts++
	}
	for c.contig < MaxCrypto {
		w := c.have[c.contig/64]
		if c.contig%64 == 0 && w == ^uint64(0) {
			c.contig += 64
			continue
		}
		if w&(1<<(c.contig%64)) == 0 {
			break
		}
		c.contig++
	}
}

// prefix returns the complete prefix of the stream (valid until the next write).
func (c *cryptoBuf) prefix() []byte {
	if c.data == nil {
		return nil
	}
	return c.data[:c.contig]
}

// Frame types read in client Initial packets (RFC 9000 §19).
const (
	framePadding = 0x00
	framePing    = 0x01
	frameACK     = 0x02
	frameACKECN  = 0x03
	frameCrypto  = 0x06
)

// readFrames walks the frames of a decrypted Initial payload, storing
// CRYPTO data in c. It returns false when it met a frame it does not read
// (the rest of the packet is skipped) or a malformed one.
func readFrames(c *cryptoBuf, b []byte) bool {
	for len(b) > 0 {
		switch b[0] {
		case framePadding:
			i := 1
			for i < len(b) && b[i] == 0 {
				i++
			}
			b = b[i:]
		case framePing:
			b = b[1:]
		case frameACK, frameACKECN:
			ecn := b[0] == frameACKECN
			b = b[1:]
			// Largest Acknowledged, ACK Delay, ACK Range Count, First ACK Range.
			var count uint64
			for i := range 4 {
				v, n := varint(b)
				if n == 0 {
					return false
				}
				if i == 2 {
					count = v
				}
				b = b[n:]
			}
			if count > uint64(len(b)) { // each range takes ≥ 2 bytes
				return false
			}
			// Gap and ACK Range Length per range, then three ECN counts.
			fields := 2 * count
			if ecn {
				fields += 3
			}
			for ; fields > 0; fields-- {
				_, n := varint(b)
				if n == 0 {
					return false
				}
				b = b[n:]
			}
		case frameCrypto:
			off, n := varint(b[1:])
			if n == 0 {
				return false
			}
			b = b[1+n:]
			l, n := varint(b)
			if n == 0 || l > uint64(len(b)-n) {
				return false
			}
			b = b[n:]
			c.write(off, b[:l])
			b = b[l:]
		default:
			return false
		}
	}
	return true
}
