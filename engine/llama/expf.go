package llama

import "math"

// expf is e**x in float32, with Cephes' expf polynomial: within 2 ulp of
// the exact value, about four times faster than math.Exp, and the same bits
// on every machine (no FMA contraction changes it: Go rounds each float32
// operation unless it is written as math.FMA).
func expf(x float32) float32 {
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
	z := float32(math.Floor(float64(log2e*x + 0.5)))
	x = x - z*c1
	x = x - z*c2
	n := int32(z)
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
