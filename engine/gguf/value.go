package gguf

import (
	"fmt"
	"strings"
)

// Value is one metadata value. Scalars hold the Go type of their GGUF type
// (uint8 … float64, bool, string); arrays hold a slice of their element's Go
// type ([]uint32, []string, …), and arrays of arrays hold []Value.
type Value struct {
	typ  ValueType
	elem ValueType // element type of an array
	v    any
}

// Type is the value's GGUF type.
func (v Value) Type() ValueType { return v.typ }

// ElemType is the element type of an array value; it is meaningless when
// Type is not TypeArray.
func (v Value) ElemType() ValueType { return v.elem }

// Len is the number of elements of an array value, and 0 for a scalar.
func (v Value) Len() int {
	switch a := v.v.(type) {
	case []uint8:
		return len(a)
	case []int8:
		return len(a)
	case []uint16:
		return len(a)
	case []int16:
		return len(a)
	case []uint32:
		return len(a)
	case []int32:
		return len(a)
	case []float32:
		return len(a)
	case []bool:
		return len(a)
	case []string:
		return len(a)
	case []uint64:
		return len(a)
	case []int64:
		return len(a)
	case []float64:
		return len(a)
	case []Value:
		return len(a)
	}
	return 0
}

// Interface returns the value as a Go value (see Value). The slice of an
// array is the Value's own: do not modify it.
func (v Value) Interface() any { return v.v }

// TypeName describes the value's type, with the element type of arrays,
// such as "uint32" or "array of string".
func (v Value) TypeName() string {
	if v.typ != TypeArray {
		return v.typ.String()
	}
	return "array of " + v.elem.String()
}

// String formats the value for people, shortening long arrays and strings.
func (v Value) String() string {
	const maxElems, maxString = 8, 64
	switch x := v.v.(type) {
	case string:
		return fmt.Sprintf("%q", shorten(x, maxString))
	case []string:
		parts := make([]string, 0, min(len(x), maxElems))
		for _, s := range x[:min(len(x), maxElems)] {
			parts = append(parts, fmt.Sprintf("%q", shorten(s, maxString)))
		}
		return arrayString(parts, len(x))
	case []Value:
		parts := make([]string, 0, min(len(x), maxElems))
		for _, e := range x[:min(len(x), maxElems)] {
			parts = append(parts, e.String())
		}
		return arrayString(parts, len(x))
	}
	switch x := v.v.(type) {
	case []uint8:
		return head(x, maxElems)
	case []int8:
		return head(x, maxElems)
	case []uint16:
		return head(x, maxElems)
	case []int16:
		return head(x, maxElems)
	case []uint32:
		return head(x, maxElems)
	case []int32:
		return head(x, maxElems)
	case []float32:
		return head(x, maxElems)
	case []bool:
		return head(x, maxElems)
	case []uint64:
		return head(x, maxElems)
	case []int64:
		return head(x, maxElems)
	case []float64:
		return head(x, maxElems)
	}
	return fmt.Sprint(v.v)
}

// head formats the first n elements of a.
func head[T any](a []T, n int) string {
	parts := make([]string, 0, min(len(a), n))
	for _, x := range a[:min(len(a), n)] {
		parts = append(parts, fmt.Sprint(x))
	}
	return arrayString(parts, len(a))
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func arrayString(parts []string, n int) string {
	s := "[" + strings.Join(parts, " ")
	if n > len(parts) {
		s += fmt.Sprintf(" … (%d elements)", n)
	}
	return s + "]"
}
