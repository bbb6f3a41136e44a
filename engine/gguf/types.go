package gguf

import "fmt"

// ValueType is the type of a metadata value, as numbered by the GGUF
// specification.
type ValueType uint32

// The metadata value types of GGUF.
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{
	TypeUint8: "uint8", TypeInt8: "int8", TypeUint16: "uint16", TypeInt16: "int16",
	TypeUint32: "uint32", TypeInt32: "int32", TypeFloat32: "float32", TypeBool: "bool",
	TypeString: "string", TypeArray: "array", TypeUint64: "uint64", TypeInt64: "int64",
	TypeFloat64: "float64",
}

// String returns the type's name, such as "uint32".
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("ValueType(%d)", uint32(t))
}

// Valid reports whether t is one of the types defined by GGUF.
func (t ValueType) Valid() bool { return t <= TypeFloat64 }

// fixedSize is the encoded size of a scalar of type t, or 0 for strings and
// arrays, whose size depends on their contents.
func (t ValueType) fixedSize() uint64 {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// minSize is the fewest bytes a value of type t can take in a file: the
// bound used to check element counts against the bytes left.
func (t ValueType) minSize() uint64 {
	switch t {
	case TypeString:
		return 8 // the length
	case TypeArray:
		return 12 // element type and length
	}
	return t.fixedSize()
}

// TensorType is a ggml tensor data type (enum ggml_type).
type TensorType uint32

// The ggml tensor types. Numbers missing here were removed from ggml and
// are rejected.
const (
	TensorF32     TensorType = 0
	TensorF16     TensorType = 1
	TensorQ4_0    TensorType = 2
	TensorQ4_1    TensorType = 3
	TensorQ5_0    TensorType = 6
	TensorQ5_1    TensorType = 7
	TensorQ8_0    TensorType = 8
	TensorQ8_1    TensorType = 9
	TensorQ2_K    TensorType = 10
	TensorQ3_K    TensorType = 11
	TensorQ4_K    TensorType = 12
	TensorQ5_K    TensorType = 13
	TensorQ6_K    TensorType = 14
	TensorQ8_K    TensorType = 15
	TensorIQ2_XXS TensorType = 16
	TensorIQ2_XS  TensorType = 17
	TensorIQ3_XXS TensorType = 18
	TensorIQ1_S   TensorType = 19
	TensorIQ4_NL  TensorType = 20
	TensorIQ3_S   TensorType = 21
	TensorIQ2_S   TensorType = 22
	TensorIQ4_XS  TensorType = 23
	TensorI8      TensorType = 24
	TensorI16     TensorType = 25
	TensorI32     TensorType = 26
	TensorI64     TensorType = 27
	TensorF64     TensorType = 28
	TensorIQ1_M   TensorType = 29
	TensorBF16    TensorType = 30
	TensorTQ1_0   TensorType = 34
	TensorTQ2_0   TensorType = 35
	TensorMXFP4   TensorType = 39
	TensorNVFP4   TensorType = 40
	TensorQ1_0    TensorType = 41
)

// tensorTraits is a type's name, elements per block and bytes per block,
// as in ggml's type_traits table.
type tensorTraits struct {
	name      string
	blockSize uint64
	typeSize  uint64
}

var tensorTypes = map[TensorType]tensorTraits{
	TensorF32:     {"F32", 1, 4},
	TensorF16:     {"F16", 1, 2},
	TensorQ4_0:    {"Q4_0", 32, 18},
	TensorQ4_1:    {"Q4_1", 32, 20},
	TensorQ5_0:    {"Q5_0", 32, 22},
	TensorQ5_1:    {"Q5_1", 32, 24},
	TensorQ8_0:    {"Q8_0", 32, 34},
	TensorQ8_1:    {"Q8_1", 32, 36},
	TensorQ2_K:    {"Q2_K", 256, 84},
	TensorQ3_K:    {"Q3_K", 256, 110},
	TensorQ4_K:    {"Q4_K", 256, 144},
	TensorQ5_K:    {"Q5_K", 256, 176},
	TensorQ6_K:    {"Q6_K", 256, 210},
	TensorQ8_K:    {"Q8_K", 256, 292},
	TensorIQ2_XXS: {"IQ2_XXS", 256, 66},
	TensorIQ2_XS:  {"IQ2_XS", 256, 74},
	TensorIQ3_XXS: {"IQ3_XXS", 256, 98},
	TensorIQ1_S:   {"IQ1_S", 256, 50},
	TensorIQ4_NL:  {"IQ4_NL", 32, 18},
	TensorIQ3_S:   {"IQ3_S", 256, 110},
	TensorIQ2_S:   {"IQ2_S", 256, 82},
	TensorIQ4_XS:  {"IQ4_XS", 256, 136},
	TensorI8:      {"I8", 1, 1},
	TensorI16:     {"I16", 1, 2},
	TensorI32:     {"I32", 1, 4},
	TensorI64:     {"I64", 1, 8},
	TensorF64:     {"F64", 1, 8},
	TensorIQ1_M:   {"IQ1_M", 256, 56},
	TensorBF16:    {"BF16", 1, 2},
	TensorTQ1_0:   {"TQ1_0", 256, 54},
	TensorTQ2_0:   {"TQ2_0", 256, 66},
	TensorMXFP4:   {"MXFP4", 32, 17},
	TensorNVFP4:   {"NVFP4", 64, 36},
	TensorQ1_0:    {"Q1_0", 128, 18},
}

// String returns ggml's name of the type, such as "Q4_K".
func (t TensorType) String() string {
	if tr, ok := tensorTypes[t]; ok {
		return tr.name
	}
	return fmt.Sprintf("TensorType(%d)", uint32(t))
}

// Known reports whether t is a ggml type this package knows the layout of.
func (t TensorType) Known() bool {
	_, ok := tensorTypes[t]
	return ok
}

// BlockSize is the number of elements in one block of the type (1 for
// unquantized types), or 0 for an unknown type.
func (t TensorType) BlockSize() uint64 { return tensorTypes[t].blockSize }

// TypeSize is the number of bytes of one block of the type, or 0 for an
// unknown type.
func (t TensorType) TypeSize() uint64 { return tensorTypes[t].typeSize }
