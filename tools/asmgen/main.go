// Command asmgen generates the AVX2/FMA (and AVX-512 F32) kernels of package
// github.com/minerva-batch/minerva/engine/tensor with avo. The generate
// directive of engine/tensor/dispatch_amd64.go runs it:
//
//	go run -C ../../tools/asmgen . -out ../../engine/tensor/avx2_amd64.s -stubs ../../engine/tensor/avx2_stubs_amd64.go -pkg tensor
//
// It lives in a module of its own so that avo is not a dependency of the
// engine.
//
// # Kernels
//
// Each matrix kernel multiplies a block of R weight rows by V input vectors
// and writes the R×V dot products. Every (row, vector) pair has its own YMM
// accumulator, whose 8 lanes take the elements c with c%8 = lane, and all
// kernels run the same sequence of operations on each pair, whatever R and
// V:
//
//   - F32, F16: acc = fma(w[c:c+8], x[c:c+8], acc) for each full chunk of 8
//     from c = 0 up, then the same with the tail chunk zero-padded;
//   - Q8_0 (over activations quantised to blocks of a float32 scale and 32
//     int8): per block, the exact int32 sums of the products of elements
//     4l..4l+3 in lane l, then acc = fma(float(lanes), d_w·d_x, acc);
//   - Q4_0: per block of 32, with q0..q3 its dequantised (integer)
//     chunks of 8 (for Q4_0: low nibbles of bytes 0-7, of bytes 8-15, high
//     nibbles of bytes 0-7, of bytes 8-15) and x0..x3 the matching chunks of
//     x: p = q0·x0; p = fma(q1, x1, p); p = fma(q2, x2, p);
//     p = fma(q3, x3, p); acc = fma(d, p, acc);
//
// and finally the horizontal sum ((a0+a4)+(a1+a5))+((a2+a6)+(a3+a7)). So a
// result does not depend on which block shape computed it: the caller may
// cover rows and vectors with any mix of kernels, and the results are
// batch invariant.
package main

import (
	"fmt"
	"math"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Block shapes (rows R × vectors V) generated for each type. The register
// budget is 16 YMM: F32 and F16 need R·V accumulators + R weights + 1 input
// (V = 1: R + 2); Q8_0 and Q4_0 need R·V + 6.
var (
	floatShapes = [][2]int{{3, 4}, {1, 4}, {4, 2}, {1, 2}, {8, 1}, {1, 1}}
	quantShapes = [][2]int{{2, 5}, {1, 5}, {2, 4}, {1, 4}, {4, 2}, {1, 2}, {4, 1}, {1, 1}}
)

// zShapes are the block shapes (rows R × vector pairs P) of the AVX-512 F32
// kernels: R·P accumulators + P inputs + 1 weight of the 32 ZMM registers.
var zShapes = [][2]int{{4, 6}, {1, 6}, {4, 5}, {1, 5}, {4, 4}, {1, 4}, {4, 3}, {1, 3}, {4, 2}, {1, 2}, {4, 1}, {1, 1}}

// q8iShapes are the block shapes of the Q8_0 kernels over quantised
// activations: R·V accumulators + V vectors and scales + 1 + ~6 temporaries.
var q8iShapes = [][2]int{{2, 2}, {1, 2}, {4, 1}, {1, 1}}

var maskTable, nibbleMask, eight, ones16 Mem

func main() {
	ConstraintExpr("amd64")

	// maskTable: 8 all-ones dwords then 8 zero ones; the 8 dwords from
	// index 8-t are the load mask of a tail of t elements.
	maskTable = GLOBL("tailmask", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		v := uint32(0)
		if i < 8 {
			v = 0xffffffff
		}
		DATA(4*i, U32(v))
	}
	nibbleMask = GLOBL("nibblemask", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(0x0f))
	}
	eight = GLOBL("eight", RODATA|NOPTR)
	for i := 0; i < 8; i++ {
		DATA(4*i, U32(8))
	}
	ones16 = GLOBL("ones16", RODATA|NOPTR)
	for i := 0; i < 16; i++ {
		DATA(2*i, U16(1))
	}

	for _, s := range floatShapes {
		genFloat(false, s[0], s[1], false)
	}
	for _, s := range floatShapes {
		genFloat(true, s[0], s[1], false)
	}
	genFloat(false, 1, 1, true)
	genFloat(true, 1, 1, true)
	// Q8_0 runs over quantised activations (genQ8i); Q4_0 dequantises.
	for _, s := range quantShapes {
		genQuant(true, s[0], s[1])
	}
	for _, sh := range q8iShapes {
		genQ8i(sh[0], sh[1], false)
	}
	genQ8i(1, 1, true)
	for _, s := range zShapes {
		genF32Z(s[0], s[1])
	}
	genMax()
	for k := 1; k <= 8; k++ {
		genWeightedSum(k)
	}
	genAxpy()
	genExp()
	genCPUID()
	Generate()
}

const blockSig = "func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int)"

// pointers returns n registers holding base, base+stride, base+2·stride...
func pointers(base, stride Register, n int) []Register {
	p := []Register{base}
	for i := 1; i < n; i++ {
		r := GP64()
		MOVQ(p[i-1], r)
		ADDQ(stride, r)
		p = append(p, r)
	}
	return p
}

// zeroAccs returns R×V zeroed accumulators.
func zeroAccs(R, V int) [][]VecVirtual {
	acc := make([][]VecVirtual, R)
	for r := range acc {
		acc[r] = make([]VecVirtual, V)
		for v := range acc[r] {
			a := YMM()
			VXORPS(a, a, a)
			acc[r][v] = a
		}
	}
	return acc
}

// storeSums writes the horizontal sum of acc[r][v] to out + 4r + v·outs.
func storeSums(acc [][]VecVirtual) {
	o := Load(Param("out"), GP64())
	outs := Load(Param("outs"), GP64())
	for v := range acc[0] {
		if v > 0 {
			ADDQ(outs, o)
		}
		for r := range acc {
			VMOVSS(hsum(acc[r][v]), Mem{Base: o, Disp: 4 * r})
		}
	}
	VZEROUPPER()
	RET()
}

// hsum returns, in lane 0 of an XMM register, the sum of a's lanes
// ((a0+a4)+(a1+a5))+((a2+a6)+(a3+a7)).
func hsum(a VecVirtual) VecVirtual {
	t := XMM()
	VEXTRACTF128(U8(1), a, t)
	VADDPS(a.AsX(), t, t) // a0+a4, a1+a5, a2+a6, a3+a7
	VHADDPS(t, t, t)      // (a0+a4)+(a1+a5), (a2+a6)+(a3+a7), ...
	VHADDPS(t, t, t)      // their sum
	return t
}

// streamSig is the signature of the streaming kernels: a block kernel's,
// plus the number of consecutive rows to go through.
const streamSig = "func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int, rows int)"

// rowLoop is the row loop of a streaming kernel (see genFloat, genQ8i).
type rowLoop struct {
	name    string
	rows, o Register
}

// beginRows starts the loop over rows: the kernel's body for one row (a
// one-row, one-vector kernel) follows, then endRows.
func beginRows(name string) rowLoop {
	l := rowLoop{name: name, rows: Load(Param("rows"), GP64()), o: Load(Param("out"), GP64())}
	TESTQ(l.rows, l.rows)
	JLE(LabelRef(name + "_done"))
	Label(name + "_row")
	return l
}

// endRows stores the row's sum to out, moves w (at wp) to the next row and
// out to the next element, and loops.
func (l rowLoop) endRows(acc VecVirtual, wp, ws Register) {
	VMOVSS(hsum(acc), Mem{Base: l.o})
	ADDQ(ws, wp)
	ADDQ(U8(4), l.o)
	DECQ(l.rows)
	JNZ(LabelRef(l.name + "_row"))
	Label(l.name + "_done")
	VZEROUPPER()
	RET()
}

// prefetchAhead is how many bytes ahead of its loads the one-row kernels
// prefetch the weights (measured: +10–15% single-stream decode on a 61 MB
// model; 1–4 KiB all do about as well).
const prefetchAhead = 2048

// genFloat generates the F32 (or F16) kernel of R rows × V vectors: count is
// the number of columns.
//
// With stream set (R = V = 1), it generates instead the streaming kernel
// (f32Stream, f16Stream): the one-row kernel's operations on each of rows
// consecutive rows, their sums written to consecutive floats of out.
func genFloat(half bool, R, V int, stream bool) {
	typ, scale := "f32", uint8(4)
	if half {
		typ, scale = "f16", 2
	}
	name := fmt.Sprintf("%sBlock%dx%d", typ, R, V)
	if stream {
		name = typ + "Stream"
		TEXT(name, NOSPLIT, streamSig)
		Pragma("noescape")
		Doc(fmt.Sprintf("%s writes to out + 4r the dot product of %s row r < rows (at w + r·ws) with the vector at x, count elements long, as %sBlock1x1 does.", name, typ, typ))
	} else {
		TEXT(name, NOSPLIT, blockSig)
		Pragma("noescape")
		Doc(fmt.Sprintf("%s writes to out + 4r + v·outs the dot product of %s row r < %d (at w + r·ws) with vector v < %d (at x + v·xs), both count elements long.", name, typ, R, V))
	}
	ws := Load(Param("ws"), GP64())
	wp := pointers(Load(Param("w"), GP64()), ws, R)
	xs := Load(Param("xs"), GP64())
	xp := pointers(Load(Param("x"), GP64()), xs, V)
	cols := Load(Param("count"), GP64())
	var rl rowLoop
	if stream {
		rl = beginRows(name)
	}
	acc := zeroAccs(R, V)

	wmem := func(r int, i Register) Mem { return Mem{Base: wp[r], Index: i, Scale: scale} }
	xmem := func(v int, i Register) Mem { return Mem{Base: xp[v], Index: i, Scale: 4} }
	loadW := func(r int, i Register, dst VecVirtual) {
		if half {
			VCVTPH2PS(wmem(r, i), dst)
		} else {
			VMOVUPS(wmem(r, i), dst)
		}
	}

	i := GP64()
	XORQ(i, i)
	n8 := GP64()
	MOVQ(cols, n8)
	ANDQ(I8(-8), n8)
	JZ(LabelRef(name + "_tail"))
	Label(name + "_loop")
	if R == 1 && V == 1 {
		// The one-row kernel streams matrices too large for the cache
		// (see streamBytes): fetch the row well ahead of use.
		PREFETCHT0(wmem(0, i).Offset(prefetchAhead))
	}
	if V == 1 {
		x := YMM()
		VMOVUPS(xmem(0, i), x)
		for r := 0; r < R; r++ {
			if half {
				w := YMM()
				loadW(r, i, w)
				VFMADD231PS(w, x, acc[r][0])
			} else {
				VFMADD231PS(wmem(r, i), x, acc[r][0])
			}
		}
	} else {
		w := make([]VecVirtual, R)
		for r := range w {
			w[r] = YMM()
			loadW(r, i, w[r])
		}
		for v := 0; v < V; v++ {
			x := YMM()
			VMOVUPS(xmem(v, i), x)
			for r := 0; r < R; r++ {
				VFMADD231PS(x, w[r], acc[r][v])
			}
		}
	}
	ADDQ(U8(8), i)
	CMPQ(i, n8)
	JL(LabelRef(name + "_loop"))

	// The tail chunk of t = cols%8 elements, loaded zero-padded.
	Label(name + "_tail")
	t := GP64()
	MOVQ(cols, t)
	ANDQ(U8(7), t)
	JZ(LabelRef(name + "_sum"))
	off := GP64()
	MOVQ(U32(8), off)
	SUBQ(t, off)
	tbl := GP64()
	LEAQ(maskTable, tbl)
	mask := YMM()
	VMOVDQU(Mem{Base: tbl, Index: off, Scale: 4}, mask)
	var buf Mem
	if half {
		buf = AllocLocal(16)
	}
	for r := 0; r < R; r++ {
		w := YMM()
		if half {
			// Copy the t halves to a zeroed buffer: a masked load has no
			// 16-bit granularity.
			z := XMM()
			VPXOR(z, z, z)
			VMOVDQU(z, buf)
			p := GP64()
			LEAQ(wmem(r, i), p)
			k := GP64()
			XORQ(k, k)
			h := GP32()
			Label(fmt.Sprintf("%s_copy%d", name, r))
			MOVWLZX(Mem{Base: p, Index: k, Scale: 2}, h)
			MOVW(h.As16(), buf.Idx(k, 2))
			INCQ(k)
			CMPQ(k, t)
			JL(LabelRef(fmt.Sprintf("%s_copy%d", name, r)))
			VCVTPH2PS(buf, w)
		} else {
			VMASKMOVPS(wmem(r, i), mask, w)
		}
		for v := 0; v < V; v++ {
			x := YMM()
			VMASKMOVPS(xmem(v, i), mask, x)
			VFMADD231PS(x, w, acc[r][v])
		}
	}

	Label(name + "_sum")
	if stream {
		rl.endRows(acc[0][0], wp[0], ws)
		return
	}
	storeSums(acc)
}

// genQuant generates the Q8_0 (or Q4_0) kernel of R rows × V vectors: count
// is the number of blocks of 32.
func genQuant(q4 bool, R, V int) {
	typ, bb := "q8", 34
	if q4 {
		typ, bb = "q4", 18
	}
	name := fmt.Sprintf("%sBlock%dx%d", typ, R, V)
	TEXT(name, NOSPLIT, blockSig)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s writes to out + 4r + v·outs the dot product of %s row r < %d (at w + r·ws) with vector v < %d (at x + v·xs), both count blocks of 32 long.", name, typ, R, V))
	ws := Load(Param("ws"), GP64())
	wp := pointers(Load(Param("w"), GP64()), ws, R)
	xs := Load(Param("xs"), GP64())
	xp := pointers(Load(Param("x"), GP64()), xs, V)
	nb := Load(Param("count"), GP64())
	acc := zeroAccs(R, V)

	wo, xo := GP64(), GP64()
	XORQ(wo, wo)
	XORQ(xo, xo)
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_sum"))
	Label(name + "_loop")
	if R == 1 && V == 1 {
		PREFETCHT0(Mem{Base: wp[0], Index: wo, Scale: 1}.Offset(prefetchAhead))
	}
	for r := 0; r < R; r++ {
		wm := Mem{Base: wp[r], Index: wo, Scale: 1}
		d := YMM()
		VPBROADCASTW(wm, d.AsX())
		VCVTPH2PS(d.AsX(), d)
		q := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
		if q4 {
			VPMOVZXBD(wm.Offset(2), q[2]) // bytes 0-7
			VPMOVZXBD(wm.Offset(10), q[3])
			VPAND(nibbleMask, q[2], q[0])
			VPSRLD(U8(4), q[2], q[2])
			VPAND(nibbleMask, q[3], q[1])
			VPSRLD(U8(4), q[3], q[3])
			for k := range q {
				VPSUBD(eight, q[k], q[k])
			}
		} else {
			for k := range q {
				VPMOVSXBD(wm.Offset(2+8*k), q[k])
			}
		}
		for k := range q {
			VCVTDQ2PS(q[k], q[k])
		}
		for v := 0; v < V; v++ {
			xm := Mem{Base: xp[v], Index: xo, Scale: 1}
			p := YMM()
			VMULPS(xm, q[0], p)
			for k := 1; k < 4; k++ {
				VFMADD231PS(xm.Offset(32*k), q[k], p)
			}
			VFMADD231PS(p, d, acc[r][v])
		}
	}
	ADDQ(U8(bb), wo)
	ADDQ(U32(128), xo)
	DECQ(nb)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_sum")
	storeSums(acc)
}

// genQ8i generates the Q8_0 kernel of R rows × V vectors over quantised
// activations (blocks of a float32 scale and 32 int8, qxBlock bytes, at
// x + v·xs): per block and pair, the 32 products are summed exactly in
// 8 int32 lanes (lane l: elements 4l..4l+3, by VPMADDUBSW of |w| with
// x·sign(w), then VPMADDWD with ones), and acc = fma(lanes, d_w·d_x, acc).
//
// With stream set (R = V = 1), it generates instead q8iStream, the one-row
// kernel's operations on each of rows consecutive rows.
func genQ8i(R, V int, stream bool) {
	name := fmt.Sprintf("q8iBlock%dx%d", R, V)
	if stream {
		name = "q8iStream"
		TEXT(name, NOSPLIT, streamSig)
		Pragma("noescape")
		Doc("q8iStream writes to out + 4r the dot product of Q8_0 row r < rows (at w + r·ws) with the quantised vector at x, count blocks long, as q8iBlock1x1 does.")
	} else {
		TEXT(name, NOSPLIT, blockSig)
		Pragma("noescape")
		Doc(fmt.Sprintf("%s writes to out + 4r + v·outs the dot product of Q8_0 row r < %d (at w + r·ws) with quantised vector v < %d (at x + v·xs), both count blocks long.", name, R, V))
	}
	ws := Load(Param("ws"), GP64())
	wp := pointers(Load(Param("w"), GP64()), ws, R)
	xs := Load(Param("xs"), GP64())
	xp := pointers(Load(Param("x"), GP64()), xs, V)
	count := Load(Param("count"), GP64())
	ones := YMM()
	VMOVDQU(ones16, ones)
	var rl rowLoop
	if stream {
		rl = beginRows(name)
	}
	nb := GP64()
	MOVQ(count, nb)
	acc := zeroAccs(R, V)

	wo, xo := GP64(), GP64()
	XORQ(wo, wo)
	XORQ(xo, xo)
	TESTQ(nb, nb)
	JZ(LabelRef(name + "_sum"))
	Label(name + "_loop")
	if R == 1 && V == 1 {
		PREFETCHT0(Mem{Base: wp[0], Index: wo, Scale: 1}.Offset(prefetchAhead))
	}
	xq := make([]VecVirtual, V)
	dx := make([]VecVirtual, V)
	for v := 0; v < V; v++ {
		xm := Mem{Base: xp[v], Index: xo, Scale: 1}
		xq[v], dx[v] = YMM(), YMM()
		VMOVDQU(xm.Offset(4), xq[v])
		VBROADCASTSS(xm, dx[v])
	}
	for r := 0; r < R; r++ {
		wm := Mem{Base: wp[r], Index: wo, Scale: 1}
		w, aw, dw := YMM(), YMM(), YMM()
		VMOVDQU(wm.Offset(2), w)
		VPSIGNB(w, w, aw) // |w|
		VPBROADCASTW(wm, dw.AsX())
		VCVTPH2PS(dw.AsX(), dw)
		for v := 0; v < V; v++ {
			p, sc := YMM(), YMM()
			VPSIGNB(w, xq[v], p) // x·sign(w)
			VPMADDUBSW(p, aw, p) // |w|·x·sign(w), pairs summed into int16
			VPMADDWD(ones, p, p) // quads summed into int32
			VCVTDQ2PS(p, p)
			VMULPS(dx[v], dw, sc) // d_w·d_x
			VFMADD231PS(p, sc, acc[r][v])
		}
	}
	ADDQ(U8(34), wo)
	ADDQ(U8(36), xo)
	DECQ(nb)
	JNZ(LabelRef(name + "_loop"))

	Label(name + "_sum")
	if stream {
		rl.endRows(acc[0][0], wp[0], ws)
		return
	}
	storeSums(acc)
}

// genF32Z generates the AVX-512 F32 kernel of R rows × P vector pairs. It
// runs the AVX2 kernels' sequence of operations on each (row, vector), two
// vectors to a ZMM register: the weights' chunk of 8 is broadcast to both
// halves, and the input is packed so that pair p's chunk c holds vector
// 2p's elements 8c..8c+7 then vector 2p+1's (see packPairs). Each half of
// an accumulator is then an AVX2 accumulator, lane for lane, and is summed
// in the same order: the results are the AVX2 kernels' bits.
//
// x is the packed input of the block's first pair, xs the bytes from one
// chunk to the next (pairs × 64), and count the number of columns, a
// positive multiple of 8. out + 4r + v·outs receives vector v < 2P.
func genF32Z(R, P int) {
	name := fmt.Sprintf("f32zBlock%dx%d", R, 2*P)
	TEXT(name, NOSPLIT, "func(w *byte, ws int, x *float32, xs int, out *float32, outs int, count int, pf *byte, npf int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s writes to out + 4r + v·outs the dot product of f32 row r < %d (at w + r·ws) with vector v < %d, packed in pairs at x (chunk stride xs bytes), count elements long (a multiple of 8). AVX-512. Along the way it prefetches npf cache lines into L2 from pf on, up to two per iteration.", name, R, 2*P))
	ws := Load(Param("ws"), GP64())
	wp := pointers(Load(Param("w"), GP64()), ws, R)
	xs := Load(Param("xs"), GP64())
	xp := Load(Param("x"), GP64())
	cols := Load(Param("count"), GP64())
	acc := make([][]VecVirtual, R)
	for r := range acc {
		acc[r] = make([]VecVirtual, P)
		for p := range acc[r] {
			a := ZMM()
			VPXORD(a, a, a)
			acc[r][p] = a
		}
	}
	pf := Load(Param("pf"), GP64())
	npf := Load(Param("npf"), GP64())
	i := GP64()
	XORQ(i, i)
	Label(name + "_loop")
	// Up to two lines of the next tile per iteration (a call with one
	// group of vectors fetches its 4 rows of 4·count bytes in count/8
	// iterations), spread over the loop rather than in a burst that would
	// wait on the line fill buffers.
	for k := 0; k < 2; k++ {
		TESTQ(npf, npf)
		JLE(LabelRef(fmt.Sprintf("%s_nopf%d", name, k)))
		PREFETCHT1(Mem{Base: pf})
		ADDQ(U8(64), pf)
		DECQ(npf)
		Label(fmt.Sprintf("%s_nopf%d", name, k))
	}
	x := make([]VecVirtual, P)
	for p := range x {
		x[p] = ZMM()
		VMOVUPS(Mem{Base: xp, Disp: 64 * p}, x[p])
	}
	for r := 0; r < R; r++ {
		w := ZMM()
		VBROADCASTF64X4(Mem{Base: wp[r], Index: i, Scale: 4}, w)
		for p := 0; p < P; p++ {
			VFMADD231PS(x[p], w, acc[r][p])
		}
	}
	ADDQ(xs, xp)
	ADDQ(U8(8), i)
	CMPQ(i, cols)
	JL(LabelRef(name + "_loop"))

	o := Load(Param("out"), GP64())
	outs := Load(Param("outs"), GP64())
	for p := 0; p < P; p++ {
		for half := 0; half < 2; half++ {
			if p > 0 || half > 0 {
				ADDQ(outs, o)
			}
			for r := 0; r < R; r++ {
				a := acc[r][p]
				// The AVX2 kernels' sum, in EVEX instructions (the
				// accumulators may be Z16-Z31, which VEX cannot name):
				// lanes 0-3 plus lanes 4-7 of the half, then pairs, then
				// the two pair sums. x+y and y+x are the same bits.
				var lo Op = a.AsX()
				if half == 1 {
					l := XMM()
					VEXTRACTF32X4(U8(2), a, l)
					lo = l
				}
				t := XMM()
				VEXTRACTF32X4(U8(1+2*half), a, t)
				VADDPS(lo, t, t) // a0+a4, a1+a5, a2+a6, a3+a7
				u := XMM()
				VPERMILPS(U8(0xb1), t, u)
				VADDPS(u, t, t) // (a0+a4)+(a1+a5), ., (a2+a6)+(a3+a7), .
				VPERMILPS(U8(0x4e), t, u)
				VADDPS(u, t, t) // their sum
				VMOVSS(t, Mem{Base: o, Disp: 4 * r})
			}
		}
	}
	VZEROUPPER()
	RET()
}

// genMax generates the largest of n float32s (n a positive multiple of 8),
// ignoring NaNs. VMAXPS returns its second source where either is NaN, so
// the data go first and the running maxima, which start at -Inf and so are
// never NaN, second.
func genMax() {
	TEXT("maxAVX2", NOSPLIT, "func(x *float32, n int) float32")
	Pragma("noescape")
	Doc("maxAVX2 returns the largest of x[0..n-1] that is not NaN (-Inf if none), n a positive multiple of 8.")
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	inf := GP32()
	MOVL(U32(0xff800000), inf)
	m0 := XMM()
	MOVD(inf, m0)
	m := []VecVirtual{YMM(), YMM(), YMM(), YMM()}
	VBROADCASTSS(m0, m[0])
	for _, r := range m[1:] {
		VMOVAPS(m[0], r)
	}
	maxInto := func(src Mem, acc VecVirtual) {
		t := YMM()
		VMOVUPS(src, t)
		VMAXPS(acc, t, acc) // t > acc ? t : acc, and acc where t is NaN
	}
	i := GP64()
	XORQ(i, i)
	// Four chunks at a time while i+32 ≤ n, then one at a time.
	lim := GP64()
	MOVQ(n, lim)
	SUBQ(U8(32), lim)
	Label("max_loop")
	CMPQ(i, lim)
	JG(LabelRef("max_tail"))
	for k, r := range m {
		maxInto(Mem{Base: x, Index: i, Scale: 4, Disp: 32 * k}, r)
	}
	ADDQ(U8(32), i)
	JMP(LabelRef("max_loop"))
	Label("max_tail")
	CMPQ(i, n)
	JGE(LabelRef("max_sum"))
	maxInto(Mem{Base: x, Index: i, Scale: 4}, m[0])
	ADDQ(U8(8), i)
	JMP(LabelRef("max_tail"))
	Label("max_sum")
	VMAXPS(m[1], m[0], m[0])
	VMAXPS(m[3], m[2], m[2])
	VMAXPS(m[2], m[0], m[0])
	t := XMM()
	VEXTRACTF128(U8(1), m[0], t)
	VMAXPS(m[0].AsX(), t, t)
	u := XMM()
	VPERMILPS(U8(0x4e), t, u)
	VMAXPS(u, t, t)
	VPERMILPS(U8(0xb1), t, u)
	VMAXPS(u, t, t)
	Store(t, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// genWeightedSum generates out[j] = Σ_p att[p]·values[p·stride + j] for the
// 8k columns j < 8k, summed over p in order with a multiply then an add
// (not fused): the float32 operations of the portable Go loop, eight
// columns to a register, so the two give the same bits.
func genWeightedSum(k int) {
	name := fmt.Sprintf("weightedSum%d", 8*k)
	TEXT(name, NOSPLIT, "func(out *float32, att *float32, values *float32, n int, stride int)")
	Pragma("noescape")
	Doc(fmt.Sprintf("%s sets out[j] = Σ_{p<n} att[p]·values[p·stride+j] for j < %d, multiplying then adding in order of p (stride in elements).", name, 8*k))
	out := Load(Param("out"), GP64())
	att := Load(Param("att"), GP64())
	v := Load(Param("values"), GP64())
	n := Load(Param("n"), GP64())
	stride := Load(Param("stride"), GP64())
	SHLQ(U8(2), stride)
	acc := make([]VecVirtual, k)
	for j := range acc {
		acc[j] = YMM()
		VXORPS(acc[j], acc[j], acc[j])
	}
	TESTQ(n, n)
	JZ(LabelRef(name + "_store"))
	Label(name + "_loop")
	a := YMM()
	VBROADCASTSS(Mem{Base: att}, a)
	for j := range acc {
		t := YMM()
		VMULPS(Mem{Base: v, Disp: 32 * j}, a, t)
		VADDPS(t, acc[j], acc[j])
	}
	ADDQ(U8(4), att)
	ADDQ(stride, v)
	DECQ(n)
	JNZ(LabelRef(name + "_loop"))
	Label(name + "_store")
	for j := range acc {
		VMOVUPS(acc[j], Mem{Base: out, Disp: 32 * j})
	}
	VZEROUPPER()
	RET()
}

// genAxpy generates y[i] = fma(a, x[i], y[i]) for i < n.
func genAxpy() {
	TEXT("axpyAVX2", NOSPLIT, "func(y *float32, a float32, x *float32, n int)")
	Pragma("noescape")
	Doc("axpyAVX2 sets y[i] = fma(a, x[i], y[i]) for i < n.")
	y := Load(Param("y"), GP64())
	x := Load(Param("x"), GP64())
	n := Load(Param("n"), GP64())
	as := Load(Param("a"), XMM())
	a := YMM()
	VBROADCASTSS(as, a)
	i := GP64()
	XORQ(i, i)
	n8 := GP64()
	MOVQ(n, n8)
	ANDQ(I8(-8), n8)
	JZ(LabelRef("axpy_tail"))
	Label("axpy_loop")
	v := YMM()
	VMOVUPS(Mem{Base: y, Index: i, Scale: 4}, v)
	VFMADD231PS(Mem{Base: x, Index: i, Scale: 4}, a, v)
	VMOVUPS(v, Mem{Base: y, Index: i, Scale: 4})
	ADDQ(U8(8), i)
	CMPQ(i, n8)
	JL(LabelRef("axpy_loop"))
	Label("axpy_tail")
	t := GP64()
	MOVQ(n, t)
	ANDQ(U8(7), t)
	JZ(LabelRef("axpy_done"))
	off := GP64()
	MOVQ(U32(8), off)
	SUBQ(t, off)
	tbl := GP64()
	LEAQ(maskTable, tbl)
	mask := YMM()
	VMOVDQU(Mem{Base: tbl, Index: off, Scale: 4}, mask)
	xv, yv := YMM(), YMM()
	VMASKMOVPS(Mem{Base: x, Index: i, Scale: 4}, mask, xv)
	VMASKMOVPS(Mem{Base: y, Index: i, Scale: 4}, mask, yv)
	VFMADD231PS(xv, a, yv)
	VMASKMOVPS(yv, mask, Mem{Base: y, Index: i, Scale: 4})
	Label("axpy_done")
	VZEROUPPER()
	RET()
}

// expConsts are the constants of genExp, each replicated 8 times; the
// float32 ones as Go rounds the constants of package tensor's Exp.
var expConsts = []struct {
	name string
	f    float32
	i    int32
	isF  bool
}{
	{"log2e", 1.44269504088896341, 0, true}, {"half", 0.5, 0, true},
	{"c1", 0.693359375, 0, true}, {"c2", -2.12194440e-4, 0, true},
	{"p0", 1.9875691500e-4, 0, true}, {"p1", 1.3981999507e-3, 0, true}, {"p2", 8.3334519073e-3, 0, true},
	{"p3", 4.1665795894e-2, 0, true}, {"p4", 1.6666665459e-1, 0, true}, {"p5", 5.0000001201e-1, 0, true},
	{"one", 1, 0, true}, {"minlog", -103.278929903431851103, 0, true}, {"m100", 0x1p-100, 0, true},
	{"i127", 0, 127, false}, {"i227", 0, 227, false}, {"im125", 0, -125, false},
}

// genExp generates dst[i] = Exp((src[i]-shift)/div) for i < n (a multiple
// of 8), for arguments at most 0, with exactly the float32 operations of
// package tensor's scalar Exp (no FMA), so the two give the same bits.
func genExp() {
	tbl := GLOBL("expconst", RODATA|NOPTR)
	for k, c := range expConsts {
		for j := 0; j < 8; j++ {
			if c.isF {
				// As bits: the assembler's float DATA goes through a
				// decimal spelling that can lose the last bit.
				DATA(32*k+4*j, U32(math.Float32bits(c.f)))
			} else {
				DATA(32*k+4*j, U32(uint32(c.i)))
			}
		}
	}
	cst := func(name string) Mem {
		for k, c := range expConsts {
			if c.name == name {
				return tbl.Offset(32 * k)
			}
		}
		panic(name)
	}
	TEXT("expShiftedAVX2", NOSPLIT, "func(dst, src *float32, n int, shift, div float32)")
	Pragma("noescape")
	Doc("expShiftedAVX2 sets dst[i] = Exp((src[i]-shift)/div) for i < n, n a multiple of 8, (src[i]-shift)/div ≤ 0.")
	dst := Load(Param("dst"), GP64())
	src := Load(Param("src"), GP64())
	n := Load(Param("n"), GP64())
	shiftX := Load(Param("shift"), XMM())
	divX := Load(Param("div"), XMM())
	shift, div := YMM(), YMM()
	VBROADCASTSS(shiftX, shift)
	VBROADCASTSS(divX, div)
	i := GP64()
	XORQ(i, i)
	TESTQ(n, n)
	JZ(LabelRef("exp_done"))
	Label("exp_loop")
	x := YMM()
	VMOVUPS(Mem{Base: src, Index: i, Scale: 4}, x)
	VSUBPS(shift, x, x) // src - shift
	VDIVPS(div, x, x)   // (src - shift) / div
	x0 := YMM()
	VMOVAPS(x, x0)
	f := YMM()
	VMULPS(cst("log2e"), x, f)
	VADDPS(cst("half"), f, f)
	nn := YMM()
	VCVTTPS2DQ(f, nn)
	nf := YMM()
	VCVTDQ2PS(nn, nf)
	m := YMM()
	VCMPPS(U8(14), f, nf, m) // nf > f: truncation went up, so floor is one less
	VPADDD(m, nn, nn)
	z := YMM()
	VCVTDQ2PS(nn, z)
	t := YMM()
	VMULPS(cst("c1"), z, t)
	VSUBPS(t, x, x)
	VMULPS(cst("c2"), z, t)
	VSUBPS(t, x, x)
	z2 := YMM()
	VMULPS(x, x, z2)
	p := YMM()
	VMOVUPS(cst("p0"), p)
	for _, c := range []string{"p1", "p2", "p3", "p4", "p5"} {
		VMULPS(x, p, p)
		VADDPS(cst(c), p, p)
	}
	y := YMM()
	VMULPS(z2, p, y)
	VADDPS(x, y, y)
	VADDPS(cst("one"), y, y)
	// y·2ⁿ; for n < -125 as (y·2ⁿ⁺¹⁰⁰)·2⁻¹⁰⁰.
	e := YMM()
	VPADDD(cst("i127"), nn, e)
	VPSLLD(U8(23), e, e)
	r := YMM()
	VMULPS(e, y, r)
	VPADDD(cst("i227"), nn, e)
	VPSLLD(U8(23), e, e)
	r2 := YMM()
	VMULPS(e, y, r2)
	VMULPS(cst("m100"), r2, r2)
	small := YMM()
	VMOVDQU(cst("im125"), small)
	VPCMPGTD(nn, small, small) // -125 > n
	VBLENDVPS(small, r2, r, r)
	// Below the smallest logarithm: 0.
	u := YMM()
	VCMPPS(U8(1), cst("minlog"), x0, u) // x0 < minlog
	VANDNPS(r, u, r)
	VMOVUPS(r, Mem{Base: dst, Index: i, Scale: 4})
	ADDQ(U8(8), i)
	CMPQ(i, n)
	JL(LabelRef("exp_loop"))
	Label("exp_done")
	VZEROUPPER()
	RET()
}

// genCPUID generates cpuid1ECX, for the F16C bit that golang.org/x/sys/cpu
// does not report.
func genCPUID() {
	TEXT("cpuid1ECX", NOSPLIT, "func() uint32")
	Doc("cpuid1ECX returns ECX of CPUID leaf 1.")
	MOVL(U32(1), EAX)
	XORL(ECX, ECX)
	CPUID()
	Store(ECX, ReturnIndex(0))
	RET()
}
