//go:build amd64

package tensor

import "golang.org/x/sys/cpu"

//go:generate go run -C ../../tools/asmgen . -out ../../engine/tensor/avx2_amd64.s -stubs ../../engine/tensor/avx2_stubs_amd64.go -pkg tensor

// blockKernel is the signature of the generated block kernels: the dot
// products of the rows w + r·ws (r < R) with the vectors x + v·xs (v < V),
// count elements (F32, F16) or blocks of QK (Q8_0, Q4_0) long, written to
// out + 4r + v·outs (strides in bytes).
type blockKernel func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int)

// blockShape is a kernel of r rows × v vectors, with its one-row variant
// for the rows left over.
type blockShape struct {
	r, v  int
	k, k1 blockKernel
}

// avx2Plans holds, per type, the block shapes MatMul covers a batch with:
// as many vectors at a time as it can, from the first shape down.
var avx2Plans = [...][]blockShape{
	F32: {
		{3, 4, f32Block3x4, f32Block1x4},
		{4, 2, f32Block4x2, f32Block1x2},
		{8, 1, f32Block8x1, f32Block1x1},
	},
	F16: {
		{3, 4, f16Block3x4, f16Block1x4},
		{4, 2, f16Block4x2, f16Block1x2},
		{8, 1, f16Block8x1, f16Block1x1},
	},
	Q8_0: {
		{2, 5, q8Block2x5, q8Block1x5},
		{2, 4, q8Block2x4, q8Block1x4},
		{4, 2, q8Block4x2, q8Block1x2},
		{4, 1, q8Block4x1, q8Block1x1},
	},
	Q4_0: {
		{2, 5, q4Block2x5, q4Block1x5},
		{2, 4, q4Block2x4, q4Block1x4},
		{4, 2, q4Block4x2, q4Block1x2},
		{4, 1, q4Block4x1, q4Block1x1},
	},
}

// tileBytes is the size of the row tiles of a batched product: all the
// vectors go through one tile of weight rows, from the L2 cache, before the
// next.
const tileBytes = 64 << 10

// hasAVX2 reports whether the CPU (and the OS) run the AVX2 kernels: AVX2,
// FMA and F16C.
func hasAVX2() bool {
	const f16c = 1 << 29
	return cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpuid1ECX()&f16c != 0
}

func archImpls() []impl {
	if !hasAVX2() {
		return nil
	}
	return []impl{{name: "avx2", matmul: matmulRowsAVX2, dot: dotAVX2, axpy: axpyAVX2Slice, exp8: expAVX2}}
}

// streamBytes is the matrix size from which a single vector (n = 1) is
// multiplied by an F32 or F16 matrix one row at a time, with software
// prefetch: a matrix this large comes from main memory, and one sequential
// stream keeps the prefetchers ahead, where interleaving 8 rows measured
// 25–30% slower (6.1 against 8.6 GB/s on a 74 MB F32 matrix). Smaller
// matrices sit in cache, where interleaved rows win; quantised rows cost
// more arithmetic than memory, so they stay interleaved too.
const streamBytes = 256 << 10

func matmulRowsAVX2(m *Matrix, out, x []float32, n, r0, r1 int) {
	plan := avx2Plans[m.Type]
	if n == 1 && m.Rows*m.rowBytes >= streamBytes && (m.Type == F32 || m.Type == F16) {
		p := plan[len(plan)-1]
		plan = []blockShape{{1, 1, p.k1, p.k1}}
	}
	count := m.Cols / m.Type.BlockSize()
	ws, xs, outs := m.rowBytes, 4*m.Cols, 4*m.Rows
	tile := r1 - r0
	if n > 1 {
		r := plan[0].r
		tile = max(r, tileBytes/ws/r*r)
	}
	for t0 := r0; t0 < r1; t0 += tile {
		t1 := min(r1, t0+tile)
		b := 0
		for _, s := range plan {
			for ; n-b >= s.v; b += s.v {
				xb := &x[b*m.Cols]
				ob := out[b*m.Rows:]
				r := t0
				for ; t1-r >= s.r; r += s.r {
					s.k(&m.Data[r*ws], ws, xb, xs, &ob[r], outs, count)
				}
				for ; r < t1; r++ {
					s.k1(&m.Data[r*ws], ws, xb, xs, &ob[r], outs, count)
				}
			}
		}
	}
}

func dotAVX2(a, b []float32) float32 {
	if len(b) == 0 {
		return 0
	}
	a = a[:len(b)]
	var s float32
	f32Block1x1(&F32Bytes(a)[0], 0, &b[0], 0, &s, 0, len(b))
	return s
}

func axpyAVX2Slice(y []float32, a float32, x []float32) {
	if len(y) == 0 {
		return
	}
	x = x[:len(y)]
	axpyAVX2(&y[0], a, &x[0], len(y))
}

func expAVX2(dst, src []float32, shift, div float32) {
	expShiftedAVX2(&dst[0], &src[0], len(dst), shift, div)
}
