package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Quantize encodes src (a whole number of rows of cols elements) as type t,
// the way ggml's reference quantisers do, and returns the bytes.
func Quantize(t Type, src []float32, cols int) ([]byte, error) {
	rb, err := RowBytes(t, cols)
	if err != nil {
		return nil, err
	}
	if len(src)%cols != 0 {
		return nil, fmt.Errorf("%d values are not whole rows of %d", len(src), cols)
	}
	out := make([]byte, len(src)/cols*rb)
	switch t {
	case F32:
		copy(out, F32Bytes(src))
	case F16:
		for i, v := range src {
			binary.LittleEndian.PutUint16(out[2*i:], F32ToF16(v))
		}
	case Q8_0:
		for b := 0; b < len(src)/QK; b++ {
			quantQ8Block(out[b*34:b*34+34], src[b*QK:b*QK+QK])
		}
	case Q4_0:
		for b := 0; b < len(src)/QK; b++ {
			quantQ4Block(out[b*18:b*18+18], src[b*QK:b*QK+QK])
		}
	}
	return out, nil
}

// quantQ8Block is ggml's quantize_row_q8_0_ref for one block.
func quantQ8Block(dst []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, F32ToF16(d))
	for j, v := range x {
		dst[2+j] = byte(int8(math.Round(float64(v * id))))
	}
}

// quantQ4Block is ggml's quantize_row_q4_0_ref for one block.
func quantQ4Block(dst []byte, x []float32) {
	var amax, vmax float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, vmax = a, v
		}
	}
	d := vmax / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, F32ToF16(d))
	for j := 0; j < QK/2; j++ {
		q0 := min(15, int8(x[j]*id+8.5))
		q1 := min(15, int8(x[j+QK/2]*id+8.5))
		dst[2+j] = byte(q0) | byte(q1)<<4
	}
}
