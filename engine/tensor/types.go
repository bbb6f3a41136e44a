package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Type is a weight layout, numbered as ggml's enum ggml_type (and GGUF).
type Type uint32

// The weight layouts this package computes with.
const (
	F32  Type = 0 // IEEE float32, 4 bytes per element
	F16  Type = 1 // IEEE float16, 2 bytes per element
	Q4_0 Type = 2 // blocks of 32: float16 scale d, 16 bytes of 4-bit q; x = d*(q-8)
	Q8_0 Type = 8 // blocks of 32: float16 scale d, 32 int8 q; x = d*q
)

// QK is the number of elements in one block of Q4_0 and Q8_0.
const QK = 32

// String returns ggml's name of the type.
func (t Type) String() string {
	switch t {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case Q4_0:
		return "Q4_0"
	case Q8_0:
		return "Q8_0"
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// Supported reports whether the package computes with t.
func (t Type) Supported() bool {
	switch t {
	case F32, F16, Q4_0, Q8_0:
		return true
	}
	return false
}

// BlockSize is the number of elements in one block of t (1 for F32 and F16).
func (t Type) BlockSize() int {
	switch t {
	case Q4_0, Q8_0:
		return QK
	}
	return 1
}

// BlockBytes is the number of bytes of one block of t.
func (t Type) BlockBytes() int {
	switch t {
	case F32:
		return 4
	case F16:
		return 2
	case Q4_0:
		return 2 + QK/2
	case Q8_0:
		return 2 + QK
	}
	return 0
}

// RowBytes is the number of bytes of a row of cols elements of type t. It is
// an error for a type this package does not support, or for cols that is not
// a positive multiple of the type's block size.
func RowBytes(t Type, cols int) (int, error) {
	if !t.Supported() {
		return 0, fmt.Errorf("tensor type %v is not supported (want F32, F16, Q8_0 or Q4_0)", t)
	}
	if cols <= 0 || cols%t.BlockSize() != 0 {
		return 0, fmt.Errorf("row of %d elements is not a positive multiple of the %v block size %d", cols, t, t.BlockSize())
	}
	return cols / t.BlockSize() * t.BlockBytes(), nil
}

// F16ToF32 converts an IEEE 754 half-precision value to float32, exactly.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp == 0:
		if mant == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal half: normalise.
		e := uint32(127 - 15 + 1)
		for mant&0x400 == 0 {
			mant <<= 1
			e--
		}
		mant &= 0x3ff
		return math.Float32frombits(sign | e<<23 | mant<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// F32ToF16 converts a float32 to the nearest IEEE 754 half-precision value
// (round to nearest even), saturating to infinity.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		mant |= 0x800000
		shift := uint32(14 - e)
		half := mant >> shift
		rem := mant & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is the correct rounding
	}
	return sign | uint16(half)
}

func f16At(b []byte) float32 { return F16ToF32(binary.LittleEndian.Uint16(b)) }
