package tensor

import (
	"math"
	"testing"
)

func TestExp(t *testing.T) {
	worst := 0.0
	for x := float32(-104); x < 88.7; x += 0.0013 {
		got, want := float64(Exp(x)), math.Exp(float64(x))
		if want < 1e-37 { // subnormal results: absolute error
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		rel := math.Abs(got-want) / want
		worst = max(worst, rel)
	}
	if worst > 2.5e-7 {
		t.Errorf("worst relative error %g", worst)
	}
	for _, c := range []struct{ x, want float32 }{
		{0, 1}, {float32(math.Inf(-1)), 0}, {float32(math.Inf(1)), float32(math.Inf(1))}, {-200, 0}, {100, float32(math.Inf(1))},
	} {
		if got := Exp(c.x); got != c.want {
			t.Errorf("Exp(%v) = %v, want %v", c.x, got, c.want)
		}
	}
	if !math.IsNaN(float64(Exp(float32(math.NaN())))) {
		t.Error("Exp(NaN) is not NaN")
	}
}

// TestExpShifted: the vector form gives Exp's bits, for shifted logits
// over the whole range, subnormal results and -Inf included.
func TestExpShifted(t *testing.T) {
	src := []float32{0, -1e-9, -0.5, -1, -10, -80, -87.3, -88.7, -90, -100, -103.2, -103.3, -104, -200, float32(math.Inf(-1))}
	for i := 0; i < 5000; i++ {
		src = append(src, -float32(i)*0.0213)
	}
	for _, div := range []float32{1, 0.7, 1.3, 2} {
		for _, shift := range []float32{0, 3.5, -2} {
			in := make([]float32, len(src))
			for i, v := range src {
				in[i] = v*div + shift // (in-shift)/div ≈ v ≤ 0
				if (in[i]-shift)/div > 0 {
					in[i] = shift
				}
			}
			got := make([]float32, len(in))
			ExpShifted(got, in, shift, div)
			for i := range in {
				want := Exp((in[i] - shift) / div)
				if math.Float32bits(got[i]) != math.Float32bits(want) {
					t.Fatalf("%s: Exp((%v-%v)/%v) = %v (%#x), vector %v (%#x)", Kernels(), in[i], shift, div, want, math.Float32bits(want), got[i], math.Float32bits(got[i]))
				}
			}
		}
	}
}
