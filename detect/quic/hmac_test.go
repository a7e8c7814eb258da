package quic

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"math/rand/v2"
	"testing"
)

// TestHMACMatchesStdlib: the allocation-free HMAC and HKDF-Expand-Label agree
// with crypto/hmac and crypto/hkdf for every key and message size they take.
func TestHMACMatchesStdlib(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for kl := 0; kl <= 64; kl++ {
		for ml := 0; ml <= 64; ml += 3 {
			key, msg := make([]byte, kl), make([]byte, ml)
			for i := range key {
				key[i] = byte(r.Uint32())
			}
			for i := range msg {
				msg[i] = byte(r.Uint32())
			}
			m := hmac.New(sha256.New, key)
			m.Write(msg)
			if got, want := hmacSHA256(key, msg), m.Sum(nil); string(got[:]) != string(want) {
				t.Fatalf("key %d msg %d: %x, want %x", kl, ml, got, want)
			}
		}
	}
	secret := make([]byte, 32)
	for _, n := range []int{12, 16, 32} {
		info := hkdfLabel("quic key", n)
		want, err := hkdf.Expand(sha256.New, secret, info, n)
		if err != nil {
			t.Fatal(err)
		}
		if got := expandLabel(secret, info); string(got[:n]) != string(want) {
			t.Errorf("expandLabel(%d): %x, want %x", n, got[:n], want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { _ = expandLabel(secret, infoClientIn) }); n != 0 {
		t.Errorf("expandLabel allocates %v times", n)
	}
}
