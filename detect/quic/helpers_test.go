package quic

import (
	"encoding/binary"
	"fmt"
	"sync"
	"testing"

	"github.com/nunchi-sensor/nunchi/detect"
)

// eventCopy is what tests check of an emitted quic event.
type eventCopy struct {
	TS int64
	detect.QUIC
}

func collect(dst *[]*eventCopy) detect.Emit {
	return func(e *detect.Event) {
		if e.Type != detect.TypeQUIC || e.QUIC == nil {
			panic("unexpected event " + e.Type)
		}
		*dst = append(*dst, &eventCopy{TS: e.Timestamp, QUIC: *e.QUIC})
	}
}

func appendVarint(b []byte, v uint64) []byte {
	switch {
	case v < 1<<6:
		return append(b, byte(v))
	case v < 1<<14:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
	case v < 1<<30:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x80000000)
	}
	return binary.BigEndian.AppendUint64(b, v|0xc0<<56)
}

// cryptoFrame returns a CRYPTO frame carrying data at offset off.
func cryptoFrame(off uint64, data []byte) []byte {
	b := appendVarint([]byte{frameCrypto}, off)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

// sealInitial builds a protected client Initial packet (test-only sealer):
// version vi/ver, connection IDs, packet number pn (4-byte encoding) and
// payload frames, padded with PADDING frames to at least size bytes.
func sealInitial(t testing.TB, vi *versionInfo, ver uint32, dcid, scid []byte, pn uint32, frames []byte, size int) []byte {
	t.Helper()
	return seal(t, vi, ver, dcid, dcid, scid, pn, frames, size)
}

// seal is sealInitial with keys derived from keyDCID (which a Retry or a
// server-chosen connection ID makes differ from the header's dcid).
func seal(t testing.TB, vi *versionInfo, ver uint32, keyDCID, dcid, scid []byte, pn uint32, frames []byte, size int) []byte {
	t.Helper()
	k := sealKeys(t, vi, ver, keyDCID)
	const pnLen = 4
	typ := byte(typeInitial)
	if vi.v2Types {
		typ = 1
	}
	hdr := []byte{0xc0 | typ<<4 | (pnLen - 1)}
	hdr = binary.BigEndian.AppendUint32(hdr, ver)
	hdr = append(hdr, byte(len(dcid)))
	hdr = append(hdr, dcid...)
	hdr = append(hdr, byte(len(scid)))
	hdr = append(hdr, scid...)
	hdr = append(hdr, 0) // no token
	// Length is a 2-byte varint; pad the payload so that the packet reaches size.
	fixed := len(hdr) + 2 + pnLen + 16
	payload := append([]byte(nil), frames...)
	for fixed+len(payload) < size || len(payload) < 4 {
		payload = append(payload, framePadding)
	}
	hdr = appendVarint2(hdr, uint64(pnLen+len(payload)+16))
	pnOffset := len(hdr)
	hdr = binary.BigEndian.AppendUint32(hdr, pn)
	nonce := k.iv
	for i := range 8 {
		nonce[4+i] ^= byte(uint64(pn) >> (56 - 8*i))
	}
	pkt := k.aead.Seal(append([]byte(nil), hdr...), nonce[:], payload, hdr)
	var mask [16]byte
	k.hp.Encrypt(mask[:], pkt[pnOffset+4:pnOffset+20])
	pkt[0] ^= mask[0] & 0x0f
	for i := range pnLen {
		pkt[pnOffset+i] ^= mask[1+i]
	}
	return pkt
}

var (
	sealMu    sync.Mutex
	sealCache = map[string]*initialKeys{}
)

// sealKeys caches keys per version and DCID (the fuzz targets seal three
// packets per input).
func sealKeys(t testing.TB, vi *versionInfo, ver uint32, dcid []byte) *initialKeys {
	t.Helper()
	sealMu.Lock()
	defer sealMu.Unlock()
	id := fmt.Sprintf("%08x/%x", ver, dcid)
	if k := sealCache[id]; k != nil {
		return k
	}
	k, err := newInitialKeys(vi, dcid)
	if err != nil {
		t.Fatal(err)
	}
	sealCache[id] = k
	return k
}

func appendVarint2(b []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000)
}
