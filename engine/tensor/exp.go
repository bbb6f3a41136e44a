package tensor

import "math"

// Exp is e**x in float32, with Cephes' expf polynomial: within 2 ulp of
// the exact value, several times faster than math.Exp, and the same bits
// on every machine (Go rounds each float32 operation of it separately on
// amd64; the vector form in ExpShifted runs the same operations).
func Exp(x float32) float32 {
	const (
		maxLog = 88.72283905206835
		minLog = -103.278929903431851103
		log2e  = 1.44269504088896341
		c1     = 0.693359375
		c2     = -2.12194440e-4
	)
	switch {
	case x != x:
		return x
	case x > maxLog:
		return float32(math.Inf(1))
	case x < minLog:
		return 0
	}
	// n = floor(x·log2(e) + 0.5), without a float64 round trip.
	f := log2e*x + 0.5
	n := int32(f)
	if float32(n) > f {
		n--
	}
	z := float32(n)
	x = x - z*c1
	x = x - z*c2
	z = x * x
	p := float32(1.9875691500e-4)
	p = p*x + 1.3981999507e-3
	p = p*x + 8.3334519073e-3
	p = p*x + 4.1665795894e-2
	p = p*x + 1.6666665459e-1
	p = p*x + 5.0000001201e-1
	y := p*z + x + 1
	// y·2ⁿ, through two steps when 2ⁿ alone is not a normal float32.
	if n < -125 {
		return y * math.Float32frombits(uint32(n+100+127)<<23) * 0x1p-100
	}
	if n > 127 {
		return y * 2 * math.Float32frombits(uint32(n-1+127)<<23)
	}
	return y * math.Float32frombits(uint32(n+127)<<23)
}

// ExpShifted sets dst[i] = Exp((src[i]-shift)/div) for every i, with the
// vector kernels where the CPU has them (the same bits as Exp). Every
// (src[i]-shift)/div must be at most 0 (a softmax's shifted logits).
func ExpShifted(dst, src []float32, shift, div float32) {
	src = src[:len(dst)]
	n := 0
	if active.exp8 != nil {
		n = len(dst) &^ 7
		if n > 0 {
			active.exp8(dst[:n], src[:n], shift, div)
		}
	}
	for i := n; i < len(dst); i++ {
		dst[i] = Exp((src[i] - shift) / div)
	}
}
