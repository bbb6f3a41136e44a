//go:build amd64

package tensor

import (
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

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
	// Q8_0 runs over quantised activations (see q8act.go).
	Q8_0: {
		{2, 2, q8iBlock2x2, q8iBlock1x2},
		{4, 1, q8iBlock4x1, q8iBlock1x1},
	},
	Q4_0: {
		{2, 5, q4Block2x5, q4Block1x5},
		{2, 4, q4Block2x4, q4Block1x4},
		{4, 2, q4Block4x2, q4Block1x2},
		{4, 1, q4Block4x1, q4Block1x1},
	},
}

// streamKernels, per type, go through consecutive rows with one vector
// (see streamBytes).
var streamKernels = [...]func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int, rows int){
	F32:  f32Stream,
	F16:  f16Stream,
	Q8_0: q8iStream,
	Q4_0: nil,
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

// hasAVX512 reports whether the CPU (and the OS) also run the AVX-512
// kernels: AVX-512 F and VL.
func hasAVX512() bool { return hasAVX2() && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL }

func archImpls() []impl {
	if !hasAVX2() {
		return nil
	}
	avx2 := impl{name: "avx2", matmul: matmulRowsAVX2, dot: dotAVX2, axpy: axpyAVX2Slice, exp8: expAVX2, max8: maxAVX2Slice, wsum: weightedSumAVX2}
	if !hasAVX512() {
		return []impl{avx2}
	}
	avx512 := avx2
	avx512.name, avx512.matmul = "avx512", matmulRowsAVX512
	return []impl{avx2, avx512}
}

// zShape is an AVX-512 F32 kernel of 4 rows × some vector pairs, with its
// one-row variant.
type zShape struct{ k, k1 zKernel }

// zKernel is the signature of the AVX-512 kernels: a block kernel's, and
// the npf cache lines from pf to prefetch into L2 along the way.
type zKernel func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int, pf *byte, npf int)

// zPlan lists the AVX-512 shapes by their number of pairs: zPlan[p-1] has
// p pairs.
var zPlan = [...]zShape{
	{f32zBlock4x2, f32zBlock1x2},
	{f32zBlock4x4, f32zBlock1x4},
	{f32zBlock4x6, f32zBlock1x6},
	{f32zBlock4x8, f32zBlock1x8},
	{f32zBlock4x10, f32zBlock1x10},
	{f32zBlock4x12, f32zBlock1x12},
}

// zGroup returns the number of pairs of group i when np pairs are split
// into g groups as even as can be: 8 pairs in 2 groups are 4+4, not 6+2,
// whose narrow kernel loads 6 registers for 8 multiply-adds.
func zGroup(np, g, i int) int {
	if i < np%g {
		return np/g + 1
	}
	return np / g
}

var zPool = sync.Pool{New: func() any { return new([]float32) }}

// packPairs lays out vectors 0..2·np-1 of x (cols values each, a multiple
// of 8) for the AVX-512 kernels: chunk c of pair p, at (c·np + p)·16, holds
// elements 8c..8c+7 of vector 2p, then those of vector 2p+1.
func packPairs(buf, x []float32, np, cols int) []float32 {
	n := cols / 8 * np * 16
	if cap(buf) < n {
		buf = make([]float32, n)
	}
	buf = buf[:n]
	for p := range np {
		a, b := x[2*p*cols:(2*p+1)*cols], x[(2*p+1)*cols:(2*p+2)*cols]
		for c := 0; c < cols; c += 8 {
			o := (c/8*np + p) * 16
			// Array copies: two moves each, where copy calls memmove.
			*(*[8]float32)(buf[o : o+8]) = *(*[8]float32)(a[c : c+8])
			*(*[8]float32)(buf[o+8 : o+16]) = *(*[8]float32)(b[c : c+8])
		}
	}
	return buf
}

// matmulRowsAVX512 multiplies F32 matrices by two or more vectors with the
// AVX-512 kernels, two vectors to a register, and leaves everything else
// (other types, one vector, the odd vector out, a column count that is not
// a multiple of 8) to the AVX2 kernels. Both compute every result with the
// same operations in the same order, so they give the same bits.
func matmulRowsAVX512(m *Matrix, out, x []float32, n, r0, r1 int) {
	if m.Type != F32 || n < 2 || m.Cols%8 != 0 {
		matmulRowsAVX2(m, out, x, n, r0, r1)
		return
	}
	np := n / 2
	bp := zPool.Get().(*[]float32)
	px := packPairs(*bp, x, np, m.Cols)
	defer func() { *bp = px; zPool.Put(bp) }()
	ws, xs, outs := m.rowBytes, np*64, 4*m.Rows
	tile := max(4, tileBytes/ws/4*4)
	groups := (np + len(zPlan) - 1) / len(zPlan)
	// While the vectors go through one tile, each kernel call fetches a
	// share of the same rows of the next tile into the L2 cache, up to two
	// lines per iteration of its loop, so that the next tile's first pass
	// does not wait on memory (measured: 65–70 GFLOP/s from memory against
	// 100–110 from the cache, 768×288 and 64 vectors; in decode of the stories15M
	// shape, over 4 alternating runs, +25% at batch 16 and within the noise
	// at 64 with bursts of prefetches per call, then +8% and +5% spread
	// over the loop; two lines per iteration, so that one group covers its
	// 4 rows, then +10% at batch 4 and +24% at batch 8 over 3 runs).
	share := ((4*ws+63)/64 + groups - 1) / groups
	for t0 := r0; t0 < r1; t0 += tile {
		t1 := min(r1, t0+tile)
		p := 0
		for g := range groups {
			size := zGroup(np, groups, g)
			s := zPlan[size-1]
			xb, ob := &px[p*16], out[2*p*m.Rows:]
			r := t0
			for ; t1-r >= 4; r += 4 {
				var pf *byte
				npf := 0
				if pr := r + (t1 - t0); pr < r1 { // the same rows of the next tile
					o := pr*ws + g*share*64
					if npf = min(share, (len(m.Data)-o)/64); npf > 0 {
						pf = &m.Data[o]
					}
				}
				s.k(&m.Data[r*ws], ws, xb, xs, &ob[r], outs, m.Cols, pf, npf)
			}
			for ; r < t1; r++ {
				s.k1(&m.Data[r*ws], ws, xb, xs, &ob[r], outs, m.Cols, nil, 0)
			}
			p += size
		}
	}
	if n%2 == 1 {
		matmulRowsAVX2(m, out[(n-1)*m.Rows:], x[(n-1)*m.Cols:], 1, r0, r1)
	}
}

func maxAVX2Slice(x []float32) float32 { return maxAVX2(&x[0], len(x)) }

// streamBytes is the matrix size from which a single vector (n = 1) is
// multiplied by an F32, F16 or Q8_0 matrix one row at a time, with
// software prefetch. Decoding one sequence reads every matrix once per
// token, from main memory unless the whole model fits in cache, and one
// sequential stream keeps the prefetchers ahead: interleaving 8 F32 rows
// measured 25–30% slower (6.1 against 8.6 GB/s on a 74 MB matrix), and Q8_0
// decode of the stories15M shape went from ~290 to ~370 tok/s when its
// 88–235 KB layer matrices streamed too. Smaller matrices (a model that
// fits in cache) run interleaved rows, which win there; Q4_0 rows, dearer
// in arithmetic than in memory, always do.
const streamBytes = 64 << 10

func matmulRowsAVX2(m *Matrix, out, x []float32, n, r0, r1 int) {
	plan := avx2Plans[m.Type]
	count := m.Cols / m.Type.BlockSize()
	ws, xs, outs := m.rowBytes, 4*m.Cols, 4*m.Rows
	xv := func(b int) *float32 { return &x[b*m.Cols] }
	if m.Type == Q8_0 {
		bp := qxPool.Get().(*[]byte)
		qx := quantizeActs(*bp, x, n, m.Cols)
		defer func() { *bp = qx; qxPool.Put(bp) }()
		xs = count * qxBlock
		xv = func(b int) *float32 { return (*float32)(unsafe.Pointer(&qx[b*xs])) }
	}
	if n == 1 && m.Rows*m.rowBytes >= streamBytes && m.Type != Q4_0 {
		// One row after another in one call: the one-row kernel's
		// operations, without a call per row.
		streamKernels[m.Type](&m.Data[r0*ws], ws, xv(0), xs, &out[r0], 4, count, r1-r0)
		return
	}
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
				xb := xv(b)
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

// wsumKernels[k-1] sums 8k columns.
var wsumKernels = [...]func(out, att, values *float32, n, stride int){
	weightedSum8, weightedSum16, weightedSum24, weightedSum32,
	weightedSum40, weightedSum48, weightedSum56, weightedSum64,
}

func weightedSumAVX2(out, att, values []float32) {
	hs := len(out)
	c := 0
	if len(att) > 0 {
		for hs-c >= 8 {
			k := min(8, (hs-c)/8)
			wsumKernels[k-1](&out[c], &att[0], &values[c], len(att), hs)
			c += 8 * k
		}
	}
	if c < hs {
		weightedSumFrom(out, att, values, c)
	}
}
