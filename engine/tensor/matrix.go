package tensor

import (
	"fmt"
	"math"
	"unsafe"
)

// Matrix is a row-major weight matrix: Rows rows of Cols elements of Type,
// each row stored in RowBytes(Type, Cols) bytes of Data. Data is not copied;
// it may be a slice of a memory-mapped file.
type Matrix struct {
	Type       Type
	Rows, Cols int
	Data       []byte

	rowBytes int
}

// NewMatrix checks that data holds exactly rows×cols elements of type t and
// returns the matrix over it.
func NewMatrix(t Type, rows, cols int, data []byte) (*Matrix, error) {
	rb, err := RowBytes(t, cols)
	if err != nil {
		return nil, err
	}
	if rows <= 0 {
		return nil, fmt.Errorf("matrix of %d rows", rows)
	}
	if want := rb * rows; len(data) != want {
		return nil, fmt.Errorf("%v matrix %d×%d needs %d bytes, have %d", t, rows, cols, want, len(data))
	}
	if t == F32 && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%4 != 0 {
		return nil, fmt.Errorf("F32 matrix data is not 4-byte aligned")
	}
	return &Matrix{Type: t, Rows: rows, Cols: cols, Data: data, rowBytes: rb}, nil
}

// RowBytes is the number of bytes of one row.
func (m *Matrix) RowBytes() int { return m.rowBytes }

// row returns the bytes of row r.
func (m *Matrix) row(r int) []byte { return m.Data[r*m.rowBytes : (r+1)*m.rowBytes] }

// Row dequantises row r into dst[:m.Cols].
func (m *Matrix) Row(r int, dst []float32) {
	dst = dst[:m.Cols]
	src := m.row(r)
	switch m.Type {
	case F32:
		copy(dst, bytesF32(src))
	case F16:
		for i := range dst {
			dst[i] = f16At(src[2*i:])
		}
	case Q8_0:
		for b := 0; b < m.Cols/QK; b++ {
			blk := src[b*34 : b*34+34]
			d := f16At(blk)
			for j := 0; j < QK; j++ {
				dst[b*QK+j] = d * float32(int8(blk[2+j]))
			}
		}
	case Q4_0:
		for b := 0; b < m.Cols/QK; b++ {
			blk := src[b*18 : b*18+18]
			d := f16At(blk)
			for j := 0; j < QK/2; j++ {
				q := blk[2+j]
				dst[b*QK+j] = d * float32(int(q&0x0f)-8)
				dst[b*QK+j+QK/2] = d * float32(int(q>>4)-8)
			}
		}
	}
}

// MatMul computes out[b*Rows+r] = Σ_c W[r][c]·x[b*Cols+c] for the n input
// vectors x[b*Cols:(b+1)*Cols], b < n. out needs n*Rows elements.
func (m *Matrix) MatMul(out, x []float32, n int) { m.MatMulRows(out, x, n, 0, m.Rows) }

// MatMulRows is MatMul restricted to rows [r0, r1): it writes only
// out[b*Rows+r] for r0 ≤ r < r1. Calls over disjoint row ranges may run
// concurrently; the results are the same bits as one MatMul.
func (m *Matrix) MatMulRows(out, x []float32, n, r0, r1 int) {
	if n <= 0 || r0 >= r1 {
		return
	}
	_ = out[(n-1)*m.Rows+r1-1]
	_ = x[n*m.Cols-1]
	active.matmul(m, out, x, n, r0, r1)
}

// bytesF32 views b as float32s (b must be 4-byte aligned).
func bytesF32(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}

// F32Bytes views f as bytes, for building an F32 Matrix from a []float32.
func F32Bytes(f []float32) []byte {
	if len(f) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(f))), len(f)*4)
}

// Dot returns Σ a[i]·b[i] over i < len(b) (a needs at least len(b)
// elements), accumulated in the package's 8-lane order: element i goes to
// lane i%8, and the lanes are summed as ((l0+l4)+(l1+l5))+((l2+l6)+(l3+l7)).
func Dot(a, b []float32) float32 { return active.dot(a, b) }

// Axpy adds a·x[i] to y[i] for i < len(y) (x needs at least len(y)
// elements).
func Axpy(y []float32, a float32, x []float32) { active.axpy(y, a, x) }

// Max returns the largest element of x that is not NaN, or -Inf if there is
// none. It is exact, so every implementation gives the same value.
func Max(x []float32) float32 {
	m, i := float32(math.Inf(-1)), 0
	if n := len(x) &^ 7; active.max8 != nil && n > 0 {
		m, i = active.max8(x[:n]), n
	}
	for _, v := range x[i:] {
		if v > m {
			m = v
		}
	}
	return m
}

// WeightedSum sets out[j] = Σ_p att[p]·values[p·len(out)+j]: the attention's
// sum of len(att) value rows of len(out) elements, weighted. Each out[j] is
// summed over p in order, each term multiplied then added (not fused), so
// every implementation gives the same bits.
func WeightedSum(out, att, values []float32) {
	if len(att) > 0 && len(out) > 0 {
		_ = values[len(att)*len(out)-1]
	}
	active.wsum(out, att, values)
}
