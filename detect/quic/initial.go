package quic

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"errors"
)

// initialKeys protect the client's Initial packets of one connection.
type initialKeys struct {
	aead cipher.AEAD // AES-128-GCM
	hp   cipher.Block
	iv   [12]byte
	// Scratch for open: arrays passed to interface methods escape, so
	// they live here rather than on the stack (one owner, no sharing).
	nonce [12]byte
	mask  [aes.BlockSize]byte
}

var errLongID = errors.New("quic: connection ID or salt too long for Initial key derivation")

// hkdfLabel is the HkdfLabel structure of TLS 1.3 (RFC 8446 §7.1) for an
// output of n bytes and an empty context: the info of HKDF-Expand-Label.
func hkdfLabel(label string, n int) string {
	return string([]byte{byte(n >> 8), byte(n), byte(len("tls13 ") + len(label))}) + "tls13 " + label + "\x00"
}

// hmacSHA256 is HMAC-SHA-256 (RFC 2104) for keys and messages of the sizes
// Initial key derivation uses (key ≤ 64 bytes, message ≤ 64 bytes), built
// on sha256.Sum256 over stack buffers: no allocation, unlike crypto/hmac
// and crypto/hkdf (some fifty allocations per connection).
func hmacSHA256(key, msg []byte) [sha256.Size]byte {
	var inner [sha256.BlockSize + 64]byte
	var outer [sha256.BlockSize + sha256.Size]byte
	copy(inner[:], key)
	copy(outer[:], key)
	for i := 0; i < sha256.BlockSize; i++ {
		inner[i] ^= 0x36
		outer[i] ^= 0x5c
	}
	n := copy(inner[sha256.BlockSize:], msg)
	ih := sha256.Sum256(inner[:sha256.BlockSize+n])
	copy(outer[sha256.BlockSize:], ih[:])
	return sha256.Sum256(outer[:])
}

// expandLabel is HKDF-Expand-Label over SHA-256 for outputs of at most one
// hash (32 bytes): T(1) = HMAC(secret, info || 0x01). info is from
// hkdfLabel (built once per version, not per flow).
func expandLabel(secret []byte, info string) [sha256.Size]byte {
	var msg [64]byte
	n := copy(msg[:], info)
	msg[n] = 1
	return hmacSHA256(secret, msg[:n+1])
}

var infoClientIn = hkdfLabel("client in", 32)

// clientInitialSecrets derives the client's Initial key, IV and header
// protection key from the Destination Connection ID of the client's first
// Initial (RFC 9001 §5.2, RFC 9369 §3.3).
func clientInitialSecrets(vi *versionInfo, dcid []byte) (key, iv, hp []byte, err error) {
	if len(dcid) > 64 || len(vi.salt) > 64 {
		return nil, nil, nil, errLongID
	}
	initial := hmacSHA256(vi.salt, dcid) // HKDF-Extract(salt, DCID)
	client := expandLabel(initial[:], infoClientIn)
	k := expandLabel(client[:], vi.labels.key)
	v := expandLabel(client[:], vi.labels.iv)
	h := expandLabel(client[:], vi.labels.hp)
	return k[:16], v[:12], h[:16], nil
}

func newInitialKeys(vi *versionInfo, dcid []byte) (*initialKeys, error) {
	key, iv, hp, err := clientInitialSecrets(vi, dcid)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	hpb, err := aes.NewCipher(hp)
	if err != nil {
		return nil, err
	}
	k := &initialKeys{aead: aead, hp: hpb}
	copy(k.iv[:], iv)
	return k, nil
}

// longHeader is a parsed long header. Slices alias the datagram.
type longHeader struct {
	version  uint32
	ptype    int // v1 numbering (typeInitial…)
	dcid     []byte
	scid     []byte
	pnOffset int // offset of the (protected) packet number
	end      int // offset just past the packet (pnOffset + Length)
}

// varint decodes a QUIC variable-length integer (RFC 9000 §16); n == 0
// when b is too short.
func varint(b []byte) (v uint64, n int) {
	if len(b) == 0 {
		return 0, 0
	}
	l := 1 << (b[0] >> 6)
	if len(b) < l {
		return 0, 0
	}
	v = uint64(b[0] & 0x3f)
	for i := 1; i < l; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, l
}

// parseLongHeader reads an IETF-style long header (v1, v2, drafts, Q050)
// from the start of b. ok is false when b is not a complete, plausible
// long-header packet. For Retry packets end is len(b).
func parseLongHeader(b []byte, vi *versionInfo) (h longHeader, ok bool) {
	if len(b) < 7 || b[0]&0x80 == 0 {
		return h, false
	}
	h.version = binary.BigEndian.Uint32(b[1:5])
	h.ptype = vi.packetType(b[0])
	off := 5
	dl := int(b[off])
	off++
	if dl > 20 || len(b) < off+dl+1 {
		return h, false
	}
	h.dcid = b[off : off+dl]
	off += dl
	sl := int(b[off])
	off++
	if sl > 20 || len(b) < off+sl {
		return h, false
	}
	h.scid = b[off : off+sl]
	off += sl
	switch h.ptype {
	case typeRetry:
		h.pnOffset, h.end = off, len(b)
		return h, true
	case typeInitial:
		tl, n := varint(b[off:])
		if n == 0 || tl > uint64(len(b)-off-n) {
			return h, false
		}
		off += n + int(tl)
	}
	length, n := varint(b[off:])
	if n == 0 || length > uint64(len(b)-off-n) || length < 1 {
		return h, false
	}
	off += n
	h.pnOffset = off
	h.end = off + int(length)
	return h, true
}

// decodePacketNumber reconstructs a full packet number from its truncated
// form (RFC 9000 §17.1, Appendix A.3).
func decodePacketNumber(largest int64, truncated uint64, bits uint) int64 {
	expected := largest + 1
	win := int64(1) << bits
	hwin := win / 2
	mask := win - 1
	candidate := expected&^mask | int64(truncated)
	switch {
	case candidate <= expected-hwin && candidate < 1<<62-win:
		return candidate + win
	case candidate > expected+hwin && candidate >= win:
		return candidate - win
	}
	return candidate
}

// open removes header protection and decrypts the packet pkt (whose header
// h was parsed) with k. The unprotected header and the plaintext are built
// in scratch (cap ≥ h.end); pkt is not modified. largest is the largest
// packet number decrypted so far (-1 for none). It uses k's scratch: not
// safe for concurrent use of one k.
func open(k *initialKeys, pkt []byte, h *longHeader, largest int64, scratch []byte) (plain []byte, pn int64, ok bool) {
	const sampleLen = 16
	if h.pnOffset+4+sampleLen > h.end || cap(scratch) < h.end {
		return nil, 0, false
	}
	mask := &k.mask
	k.hp.Encrypt(mask[:], pkt[h.pnOffset+4:h.pnOffset+4+sampleLen])
	first := pkt[0] ^ mask[0]&0x0f
	pnLen := int(first&3) + 1
	hdrLen := h.pnOffset + pnLen
	hdr := scratch[:hdrLen]
	copy(hdr, pkt[:hdrLen])
	hdr[0] = first
	var truncated uint64
	for i := range pnLen {
		hdr[h.pnOffset+i] ^= mask[1+i]
		truncated = truncated<<8 | uint64(hdr[h.pnOffset+i])
	}
	pn = decodePacketNumber(largest, truncated, uint(pnLen*8))
	nonce := &k.nonce
	*nonce = k.iv
	for i := range 8 {
		nonce[4+i] ^= byte(uint64(pn) >> (56 - 8*i))
	}
	plain, err := k.aead.Open(scratch[hdrLen:hdrLen], nonce[:], pkt[hdrLen:h.end], hdr)
	if err != nil {
		return nil, 0, false
	}
	return plain, pn, true
}
