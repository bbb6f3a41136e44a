package tensor

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the weight shapes of the llama models the engine runs:
// the 15M model (dim 288, hidden 768, vocabulary 32000) and the 110M one
// (dim 768, hidden 2048).
var benchShapes = []struct{ rows, cols int }{
	{288, 288}, {768, 288}, {288, 768}, {32000, 288},
	{768, 768}, {2048, 768}, {768, 2048},
}

// BenchmarkMatMul reports the weight bytes streamed per second (MB/s) and
// the arithmetic rate (GFLOP/s, 2 per multiply-add) of MatMul for each
// implementation, the portable one ("generic") as the anchor.
func BenchmarkMatMul(b *testing.B) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, typ := range types {
		for _, sh := range benchShapes {
			m := newRandMatrix(b, rng, typ, sh.rows, sh.cols)
			for _, n := range []int{1, 4, 16, 64} {
				x := randVec(rng, n*sh.cols, 1)
				out := make([]float32, n*sh.rows)
				for _, k := range impls {
					name := fmt.Sprintf("%v/%dx%d/n=%d/%s", typ, sh.rows, sh.cols, n, k.name)
					b.Run(name, func(b *testing.B) {
						withImpl(b, k, func() {
							b.SetBytes(int64(len(m.Data)))
							for b.Loop() {
								m.MatMul(out, x, n)
							}
							flops := 2 * float64(sh.rows) * float64(sh.cols) * float64(n) * float64(b.N)
							b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
						})
					})
				}
			}
		}
	}
}

// BenchmarkDot is the attention score product over the head sizes of the
// models.
func BenchmarkDot(b *testing.B) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, n := range []int{8, 48, 64} {
		a, v := randVec(rng, n, 1), randVec(rng, n, 1)
		for _, k := range impls {
			b.Run(fmt.Sprintf("%d/%s", n, k.name), func(b *testing.B) {
				withImpl(b, k, func() {
					var s float32
					for b.Loop() {
						s += Dot(a, v)
					}
					_ = s
				})
			})
		}
	}
}

// BenchmarkAxpy is the attention value accumulation over the head sizes of
// the models.
func BenchmarkAxpy(b *testing.B) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{8, 48, 64} {
		y, x := randVec(rng, n, 1), randVec(rng, n, 1)
		for _, k := range impls {
			b.Run(fmt.Sprintf("%d/%s", n, k.name), func(b *testing.B) {
				withImpl(b, k, func() {
					for b.Loop() {
						Axpy(y, 1e-3, x)
					}
				})
			})
		}
	}
}

// BenchmarkWeightedSum is the attention's weighted sum of values at the
// head sizes of stories15M (48) and stories110M (64) over 128 positions.
func BenchmarkWeightedSum(b *testing.B) {
	rng := rand.New(rand.NewPCG(17, 18))
	for _, hs := range []int{48, 64} {
		const n = 128
		att, values, out := randVec(rng, n, 1), randVec(rng, n*hs, 1), make([]float32, hs)
		for _, k := range impls {
			b.Run(fmt.Sprintf("hs=%d/n=%d/%s", hs, n, k.name), func(b *testing.B) {
				withImpl(b, k, func() {
					for b.Loop() {
						WeightedSum(out, att, values)
					}
				})
			})
		}
	}
}
