package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// TestBatchInvariance checks, for every implementation, that each output
// element is the same bits whatever the batch around its vector: the vector
// alone (n=1), at any position of a batch of any size among other vectors,
// and whatever row range a MatMulRows call covers.
func TestBatchInvariance(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ns := []int{1, 2, 3, 4, 5, 7, 8, 9, 11, 16, 17, 64}
	// 301×288 is large enough (≥ 64 KiB in F32, F16 and Q8_0) for a single
	// vector to stream through it row by row (streamBytes).
	shapes := []struct{ rows, cols int }{{37, 96}, {70, 288}, {9, 44}, {23, 7}, {301, 288}}
	for _, k := range impls {
		for _, typ := range types {
			for _, sh := range shapes {
				if sh.cols%typ.BlockSize() != 0 {
					continue
				}
				t.Run(fmt.Sprintf("%s/%v/%dx%d", k.name, typ, sh.rows, sh.cols), func(t *testing.T) {
					withImpl(t, k, func() { checkInvariance(t, rng, typ, sh.rows, sh.cols, ns) })
				})
			}
		}
	}
}

func checkInvariance(t *testing.T, rng *rand.Rand, typ Type, rows, cols int, ns []int) {
	m := newRandMatrix(t, rng, typ, rows, cols)
	const pool = 64
	xs := randVec(rng, pool*cols, 1)
	// alone[p*rows+r]: pool vector p multiplied alone.
	alone := make([]float32, pool*rows)
	for p := 0; p < pool; p++ {
		// An exact-length copy, so that nothing past the vector is there
		// to be read.
		x := append([]float32(nil), xs[p*cols:(p+1)*cols]...)
		m.MatMul(alone[p*rows:(p+1)*rows], x, 1)
	}
	for _, n := range ns {
		pick := make([]int, n)
		x := make([]float32, n*cols)
		for b := range pick {
			pick[b] = rng.IntN(pool)
			copy(x[b*cols:], xs[pick[b]*cols:(pick[b]+1)*cols])
		}
		out := make([]float32, n*rows)
		m.MatMul(out, x, n)
		compareBatch(t, fmt.Sprintf("n=%d", n), out, alone, pick, rows)

		// The same batch over random row ranges, in random order.
		split := make([]float32, n*rows)
		for i := range split {
			split[i] = float32(math.NaN())
		}
		cuts := []int{0, rows}
		for range 3 {
			cuts = append(cuts, rng.IntN(rows+1))
		}
		perm := rng.Perm(len(cuts))
		for _, i := range perm {
			c := cuts[i]
			next := rows
			for _, d := range cuts {
				if d > c && d < next {
					next = d
				}
			}
			m.MatMulRows(split, x, n, c, next)
		}
		compareBatch(t, fmt.Sprintf("n=%d split at %v", n, cuts), split, alone, pick, rows)
	}
}

func compareBatch(t *testing.T, what string, out, alone []float32, pick []int, rows int) {
	t.Helper()
	for b, p := range pick {
		for r := 0; r < rows; r++ {
			got, want := out[b*rows+r], alone[p*rows+r]
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%s: vector %d row %d = %v (%#08x), alone %v (%#08x)",
					what, b, r, got, math.Float32bits(got), want, math.Float32bits(want))
			}
		}
	}
}

// TestImplsAgree checks the vector kernels against the portable ones: they
// may differ only by fused multiply-add rounding.
func TestImplsAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, k := range impls[1:] {
		for _, typ := range types {
			m := newRandMatrix(t, rng, typ, 41, 320)
			const n = 9
			x := randVec(rng, n*m.Cols, 1)
			_, mag := refMatMul(m, x, n)
			got := make([]float32, n*m.Rows)
			want := make([]float32, n*m.Rows)
			withImpl(t, k, func() { m.MatMul(got, x, n) })
			withImpl(t, genericImpl, func() { m.MatMul(want, x, n) })
			tol := float64(m.Cols/8+5) * 0x1p-23
			for i := range got {
				if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol*mag[i] {
					t.Fatalf("%s/%v: out[%d] = %v, generic %v", k.name, typ, i, got[i], want[i])
				}
			}
		}
	}
}

func TestDotAxpy(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, k := range impls {
		for _, n := range []int{0, 1, 5, 8, 13, 16, 48, 64, 100} {
			a := randVec(rng, n+3, 1)
			b := randVec(rng, n, 1)
			var want, mag float64
			for i := range b {
				want += float64(a[i]) * float64(b[i])
				mag += math.Abs(float64(a[i]) * float64(b[i]))
			}
			var got float32
			withImpl(t, k, func() { got = Dot(a, b) })
			if d := math.Abs(float64(got) - want); d > float64(n/8+4)*0x1p-24*mag {
				t.Errorf("%s: Dot over %d = %v, want %v", k.name, n, got, want)
			}
			// Dot follows the matrix reduction order: a one-row F32
			// matrix gives the same bits.
			if n > 0 {
				m, err := NewMatrix(F32, 1, n, F32Bytes(a[:n]))
				if err != nil {
					t.Fatal(err)
				}
				var out [1]float32
				withImpl(t, k, func() { m.MatMul(out[:], b, 1) })
				if math.Float32bits(out[0]) != math.Float32bits(got) {
					t.Errorf("%s: Dot over %d = %v, one-row MatMul %v", k.name, n, got, out[0])
				}
			}

			y := randVec(rng, n, 1)
			y0 := append([]float32(nil), y...)
			s := float32(rng.NormFloat64())
			withImpl(t, k, func() { Axpy(y, s, a) })
			for i := range y {
				w := float64(y0[i]) + float64(s)*float64(a[i])
				if d := math.Abs(float64(y[i]) - w); d > 0x1p-23*(math.Abs(float64(y0[i]))+math.Abs(float64(s*a[i]))) {
					t.Errorf("%s: Axpy over %d: y[%d] = %v, want %v", k.name, n, i, y[i], w)
				}
			}
		}
	}
}

// TestKernelSelection checks that MINERVA_NOASM=1 selects the portable
// kernels, and that otherwise the fastest ones run.
func TestKernelSelection(t *testing.T) {
	if got := pickImpl(true).name; got != "generic" {
		t.Errorf("pickImpl(noasm) = %q, want generic", got)
	}
	want := impls[len(impls)-1].name
	if os.Getenv("MINERVA_NOASM") == "1" {
		want = "generic"
	}
	if got := Kernels(); got != want {
		t.Errorf("Kernels() = %q, want %q", got, want)
	}
	t.Logf("kernels: %s (available: %d)", Kernels(), len(impls))
}

// TestWideKernelsSameBits checks that implementations built to give the
// same bits do: the AVX-512 F32 products (two vectors to a register) against
// the AVX2 ones, on the engine's shapes and odd ones, with batches that
// leave a vector out of the pairs and rows out of the blocks of 4.
func TestWideKernelsSameBits(t *testing.T) {
	byName := map[string]impl{}
	for _, k := range impls {
		byName[k.name] = k
	}
	wide, ok := byName["avx512"]
	if !ok {
		t.Skipf("this CPU has no AVX-512 kernels (have %d implementations)", len(impls))
	}
	base := byName["avx2"]
	rng := rand.New(rand.NewPCG(9, 10))
	shapes := []struct{ rows, cols int }{{288, 288}, {769, 288}, {37, 768}, {13, 44}, {6, 8}, {5, 20}}
	for _, sh := range shapes {
		m := newRandMatrix(t, rng, F32, sh.rows, sh.cols)
		for _, n := range []int{1, 2, 3, 7, 10, 12, 13, 16, 25, 50, 64} {
			x := randVec(rng, n*sh.cols, 1)
			got := make([]float32, n*sh.rows)
			want := make([]float32, n*sh.rows)
			withImpl(t, wide, func() { m.MatMul(got, x, n) })
			withImpl(t, base, func() { m.MatMul(want, x, n) })
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%dx%d n=%d: out[%d] = %v (avx512), %v (avx2)", sh.rows, sh.cols, n, i, got[i], want[i])
				}
			}
		}
	}
}

// TestMax checks Max against a plain loop on every implementation, with the
// largest element at every position of vectors of many lengths.
func TestMax(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	for _, k := range impls {
		withImpl(t, k, func() {
			for n := 1; n <= 70; n++ {
				x := randVec(rng, n, 100)
				for top := 0; top < n; top++ {
					y := append([]float32(nil), x...)
					y[top] = 1000 + float32(top)
					if got := Max(y); got != y[top] {
						t.Fatalf("%s: Max of %d with %v at %d = %v", k.name, n, y[top], top, got)
					}
				}
				nan := float32(math.NaN())
				withNaN := append([]float32(nil), x...)
				withNaN[rng.IntN(n)] = nan
				want := float32(math.Inf(-1))
				for _, v := range withNaN {
					if v > want {
						want = v
					}
				}
				if got := Max(withNaN); got != want {
					t.Fatalf("%s: Max of %d with a NaN = %v, want %v", k.name, n, got, want)
				}
				allNaN := make([]float32, n)
				for i := range allNaN {
					allNaN[i] = nan
				}
				if got := Max(allNaN); !math.IsInf(float64(got), -1) {
					t.Fatalf("%s: Max of %d NaNs = %v, want -Inf", k.name, n, got)
				}
				neg := make([]float32, n)
				for i := range neg {
					neg[i] = -1 - float32(i)
				}
				if got := Max(neg); got != -1 {
					t.Fatalf("%s: Max of %d negatives = %v, want -1", k.name, n, got)
				}
			}
		})
	}
}

// TestWeightedSum checks WeightedSum against a plain loop (a multiply then
// an add per term, in order): the same bits on every implementation, for
// head sizes that fill the kernels' widths and leave tails.
func TestWeightedSum(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	for _, k := range impls {
		withImpl(t, k, func() {
			for _, hs := range []int{1, 7, 8, 9, 48, 64, 72, 100, 128, 130} {
				for _, n := range []int{0, 1, 2, 5, 33} {
					att := randVec(rng, n, 1)
					values := randVec(rng, n*hs+3, 1) // room past the rows: not read
					out := randVec(rng, hs, 1)
					WeightedSum(out, att, values[:n*hs])
					for j := range out {
						var want float32
						for p := range n {
							prod := att[p] * values[p*hs+j]
							want += prod
						}
						if math.Float32bits(out[j]) != math.Float32bits(want) {
							t.Fatalf("%s: hs=%d n=%d: out[%d] = %v, want %v", k.name, hs, n, j, out[j], want)
						}
					}
				}
			}
		})
	}
}
