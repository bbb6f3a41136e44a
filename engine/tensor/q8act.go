package tensor

import (
	"encoding/binary"
	"math"
	"sync"
)

// Q8_0 weights multiply activations quantised the same way (as llama.cpp's
// vec_dot_q8_0_q8_0 does): each block of 32 values of a vector becomes a
// float32 scale and 32 int8, so a block's products are exact integer sums
// and one scale multiplication. The quantisation depends on the vector
// alone, so the products stay batch invariant.

// qxBlock is the size of one quantised activation block: a float32 scale,
// then 32 int8.
const qxBlock = 4 + QK

var qxPool = sync.Pool{New: func() any { return new([]byte) }}

// quantizeActs quantises n vectors of cols values (cols a multiple of QK)
// into buf (grown as needed): vector b's blocks start at b·(cols/QK)·qxBlock.
func quantizeActs(buf []byte, x []float32, n, cols int) []byte {
	size := n * cols / QK * qxBlock
	if cap(buf) < size {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	for blk := 0; blk < n*cols/QK; blk++ {
		xs := x[blk*QK : blk*QK+QK]
		dst := buf[blk*qxBlock : blk*qxBlock+qxBlock]
		var amax float32
		for _, v := range xs {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint32(dst, math.Float32bits(d))
		for j, v := range xs {
			dst[4+j] = byte(int8(math.Round(float64(v * id))))
		}
	}
	return buf
}

// dotQ8Q8Generic is the portable product of a Q8_0 row with a quantised
// vector: per block, lane l (of 8) takes the exact integer sum of the
// products of elements 4l..4l+3, then acc[l] += (d_w·d_x)·lane.
func dotQ8Q8Generic(w []byte, qx []byte) float32 {
	var acc [8]float32
	for b := 0; b < len(qx)/qxBlock; b++ {
		blk := w[b*34 : b*34+34]
		xb := qx[b*qxBlock : b*qxBlock+qxBlock]
		s := f16At(blk) * math.Float32frombits(binary.LittleEndian.Uint32(xb))
		for l := 0; l < 8; l++ {
			var p int32
			for j := 4 * l; j < 4*l+4; j++ {
				p += int32(int8(blk[2+j])) * int32(int8(xb[4+j]))
			}
			acc[l] += s * float32(p)
		}
	}
	return hsum8(&acc)
}
