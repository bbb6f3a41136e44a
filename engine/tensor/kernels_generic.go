package tensor

// The portable kernels. Each dot product accumulates in 8 lanes: element c
// goes to lane c%8 (for quantised types, block by block: the block's 32
// products are summed into 8 lane partials, then scaled by the block scale and
// added to the lane accumulators), and the lanes are summed in a fixed order
// at the end. The vector kernels keep exactly this order, so both paths are
// batch invariant; they may differ from each other only in fused
// multiply-add rounding.

func matmulRowsGeneric(m *Matrix, out, x []float32, n, r0, r1 int) {
	cols := m.Cols
	if m.Type == Q8_0 {
		bp := qxPool.Get().(*[]byte)
		qx := quantizeActs(*bp, x, n, cols)
		xs := cols / QK * qxBlock
		for r := r0; r < r1; r++ {
			w := m.row(r)
			for b := 0; b < n; b++ {
				out[b*m.Rows+r] = dotQ8Q8Generic(w, qx[b*xs:(b+1)*xs])
			}
		}
		*bp = qx
		qxPool.Put(bp)
		return
	}
	for r := r0; r < r1; r++ {
		w := m.row(r)
		for b := 0; b < n; b++ {
			xb := x[b*cols : (b+1)*cols]
			var s float32
			switch m.Type {
			case F32:
				s = dotF32Generic(bytesF32(w), xb)
			case F16:
				s = dotF16Generic(w, xb)
			case Q4_0:
				s = dotQ4Generic(w, xb)
			}
			out[b*m.Rows+r] = s
		}
	}
}

func hsum8(acc *[8]float32) float32 {
	return ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]))
}

func dotF32Generic(w, x []float32) float32 {
	var acc [8]float32
	n := len(x) &^ 7
	for c := 0; c < n; c += 8 {
		for l := 0; l < 8; l++ {
			acc[l] += w[c+l] * x[c+l]
		}
	}
	for c := n; c < len(x); c++ {
		acc[c&7] += w[c] * x[c]
	}
	return hsum8(&acc)
}

func dotF16Generic(w []byte, x []float32) float32 {
	var acc [8]float32
	for c := range x {
		acc[c&7] += f16At(w[2*c:]) * x[c]
	}
	return hsum8(&acc)
}

func dotQ4Generic(w []byte, x []float32) float32 {
	var acc [8]float32
	for b := 0; b < len(x)/QK; b++ {
		blk := w[b*18 : b*18+18]
		d := f16At(blk)
		xb := x[b*QK : b*QK+QK]
		var p [8]float32
		for j := 0; j < QK/2; j++ {
			q := blk[2+j]
			p[j&7] += float32(int(q&0x0f)-8) * xb[j]
		}
		for j := 0; j < QK/2; j++ {
			q := blk[2+j]
			p[(j+QK/2)&7] += float32(int(q>>4)-8) * xb[j+QK/2]
		}
		for l := 0; l < 8; l++ {
			acc[l] += d * p[l]
		}
	}
	return hsum8(&acc)
}

func dotGeneric(a, b []float32) float32 { return dotF32Generic(a[:len(b)], b) }

func axpyGeneric(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

// weightedSumGeneric is WeightedSum in Go: a multiply then an add per
// term, eight columns at a time in registers.
func weightedSumGeneric(out, att, values []float32) { weightedSumFrom(out, att, values, 0) }

// weightedSumFrom is weightedSumGeneric over columns c.. of out only.
func weightedSumFrom(out, att, values []float32, c int) {
	hs := len(out)
	for ; c+8 <= hs; c += 8 {
		// Eight columns at a time, in registers.
		var a0, a1, a2, a3, a4, a5, a6, a7 float32
		for p, a := range att {
			v := values[p*hs+c : p*hs+c+8 : p*hs+c+8]
			a0 += a * v[0]
			a1 += a * v[1]
			a2 += a * v[2]
			a3 += a * v[3]
			a4 += a * v[4]
			a5 += a * v[5]
			a6 += a * v[6]
			a7 += a * v[7]
		}
		out[c], out[c+1], out[c+2], out[c+3] = a0, a1, a2, a3
		out[c+4], out[c+5], out[c+6], out[c+7] = a4, a5, a6, a7
	}
	for ; c < hs; c++ {
		var a0 float32
		for p, a := range att {
			a0 += a * values[p*hs+c]
		}
		out[c] = a0
	}
}
