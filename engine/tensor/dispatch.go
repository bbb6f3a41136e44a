package tensor

import "os"

// impl is one implementation of the package's kernels.
type impl struct {
	name   string
	matmul func(m *Matrix, out, x []float32, n, r0, r1 int)
	dot    func(a, b []float32) float32
	axpy   func(y []float32, a float32, x []float32)
	exp8   func(dst, src []float32, shift, div float32) // len a multiple of 8; nil: scalar only
	wsum   func(out, att, values []float32)
	max8   func(x []float32) float32 // len a positive multiple of 8, NaNs ignored; nil: scalar only
}

// genericImpl is the portable implementation, the reference of the
// reduction order.
var genericImpl = impl{name: "generic", matmul: matmulRowsGeneric, dot: dotGeneric, axpy: axpyGeneric, wsum: weightedSumGeneric}

// impls lists the implementations this CPU can run, the portable one first
// and the fastest last.
var impls = append([]impl{genericImpl}, archImpls()...)

// active is the implementation the package runs: the fastest this CPU has,
// or the portable one when the environment sets MINERVA_NOASM=1.
var active = pickImpl(os.Getenv("MINERVA_NOASM") == "1")

func pickImpl(noasm bool) impl {
	if noasm {
		return genericImpl
	}
	return impls[len(impls)-1]
}

// Kernels names the implementation the package runs: "generic" for the
// portable Go kernels, "avx2" for the AVX2/FMA assembly ones, "avx512" for
// those plus AVX-512 products of two or more F32 vectors, which give the
// same bits as "avx2".
func Kernels() string { return active.name }
