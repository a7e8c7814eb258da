package scan

import (
	"math"
	"math/bits"
)

// hllRegisters is the sketch size (precision 7).
const (
	hllBits      = 7
	hllRegisters = 1 << hllBits
)

// hll is a HyperLogLog sketch that keeps its estimate's inputs up to date
// as registers change, so Estimate is O(1).
type hll struct {
	reg   [hllRegisters]uint8
	zeros uint16  // registers still 0
	sum   float64 // Σ 2^-reg
}

func (h *hll) reset() {
	*h = hll{zeros: hllRegisters, sum: hllRegisters}
}

// add inserts a 64-bit hash; it reports whether a register grew (the
// estimate may have changed).
func (h *hll) add(x uint64) bool {
	i := x & (hllRegisters - 1)
	rank := uint8(bits.LeadingZeros64(x>>hllBits) - hllBits + 1)
	old := h.reg[i]
	if rank <= old {
		return false
	}
	h.reg[i] = rank
	if old == 0 {
		h.zeros--
	}
	h.sum += math.Ldexp(1, -int(rank)) - math.Ldexp(1, -int(old))
	return true
}

// estimate returns the distinct count (Flajolet et al. with the linear
// counting correction for small cardinalities).
func (h *hll) estimate() int {
	const m = float64(hllRegisters)
	alpha := 0.7213 / (1 + 1.079/m)
	e := alpha * m * m / h.sum
	if e <= 2.5*m && h.zeros > 0 {
		e = m * math.Log(m/float64(h.zeros))
	}
	return int(e + 0.5)
}
