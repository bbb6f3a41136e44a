package gguf

import (
	"fmt"
	"math"
)

// lookup returns the value of key, or an error wrapping ErrKeyNotFound.
func (f *File) lookup(key string) (Value, error) {
	v, ok := f.Value(key)
	if !ok {
		return Value{}, fmt.Errorf("gguf: %s: %w: %q", f.Name, ErrKeyNotFound, key)
	}
	return v, nil
}

func (f *File) wrongType(key string, v Value, want string) error {
	return fmt.Errorf("gguf: %s: %w: metadata key %q is %s, want %s", f.Name, ErrWrongType, key, v.TypeName(), want)
}

// scalar returns the value of key, which must be a T (of GGUF type want).
func scalar[T any](f *File, key string, want ValueType) (T, error) {
	var zero T
	v, err := f.lookup(key)
	if err != nil {
		return zero, err
	}
	x, ok := v.v.(T)
	if !ok || v.typ != want {
		return zero, f.wrongType(key, v, want.String())
	}
	return x, nil
}

// array returns the value of key, which must be an array of T (elements of
// GGUF type want). The slice is shared with the File: do not modify it.
func array[T any](f *File, key string, want ValueType) ([]T, error) {
	v, err := f.lookup(key)
	if err != nil {
		return nil, err
	}
	x, ok := v.v.([]T)
	if !ok || v.typ != TypeArray || v.elem != want {
		return nil, f.wrongType(key, v, "array of "+want.String())
	}
	return x, nil
}

// Uint8 returns the value of key, which must be a uint8.
func (f *File) Uint8(key string) (uint8, error) { return scalar[uint8](f, key, TypeUint8) }

// Int8 returns the value of key, which must be an int8.
func (f *File) Int8(key string) (int8, error) { return scalar[int8](f, key, TypeInt8) }

// Uint16 returns the value of key, which must be a uint16.
func (f *File) Uint16(key string) (uint16, error) { return scalar[uint16](f, key, TypeUint16) }

// Int16 returns the value of key, which must be an int16.
func (f *File) Int16(key string) (int16, error) { return scalar[int16](f, key, TypeInt16) }

// Uint32 returns the value of key, which must be a uint32.
func (f *File) Uint32(key string) (uint32, error) { return scalar[uint32](f, key, TypeUint32) }

// Int32 returns the value of key, which must be an int32.
func (f *File) Int32(key string) (int32, error) { return scalar[int32](f, key, TypeInt32) }

// Uint64 returns the value of key, which must be a uint64.
func (f *File) Uint64(key string) (uint64, error) { return scalar[uint64](f, key, TypeUint64) }

// Int64 returns the value of key, which must be an int64.
func (f *File) Int64(key string) (int64, error) { return scalar[int64](f, key, TypeInt64) }

// Float32 returns the value of key, which must be a float32.
func (f *File) Float32(key string) (float32, error) { return scalar[float32](f, key, TypeFloat32) }

// Float64 returns the value of key, which must be a float64.
func (f *File) Float64(key string) (float64, error) { return scalar[float64](f, key, TypeFloat64) }

// Bool returns the value of key, which must be a bool.
func (f *File) Bool(key string) (bool, error) { return scalar[bool](f, key, TypeBool) }

// String returns the value of key, which must be a string.
func (f *File) String(key string) (string, error) { return scalar[string](f, key, TypeString) }

// Int returns the value of key, which may be of any integer type whose
// value fits an int64 (writers differ on the width of counts and ids).
func (f *File) Int(key string) (int64, error) {
	v, err := f.lookup(key)
	if err != nil {
		return 0, err
	}
	switch x := v.v.(type) {
	case uint8:
		return int64(x), nil
	case int8:
		return int64(x), nil
	case uint16:
		return int64(x), nil
	case int16:
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case int64:
		return x, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("gguf: %s: metadata key %q: %d overflows int64", f.Name, key, x)
		}
		return int64(x), nil
	}
	return 0, f.wrongType(key, v, "an integer")
}

// Strings returns the value of key, which must be an array of strings. The
// slice is shared with the File: do not modify it.
func (f *File) Strings(key string) ([]string, error) { return array[string](f, key, TypeString) }

// Float32s returns the value of key, which must be an array of float32.
// The slice is shared with the File: do not modify it.
func (f *File) Float32s(key string) ([]float32, error) { return array[float32](f, key, TypeFloat32) }

// Float64s returns the value of key, which must be an array of float64.
// The slice is shared with the File: do not modify it.
func (f *File) Float64s(key string) ([]float64, error) { return array[float64](f, key, TypeFloat64) }

// Int32s returns the value of key, which must be an array of int32. The
// slice is shared with the File: do not modify it.
func (f *File) Int32s(key string) ([]int32, error) { return array[int32](f, key, TypeInt32) }

// Uint32s returns the value of key, which must be an array of uint32. The
// slice is shared with the File: do not modify it.
func (f *File) Uint32s(key string) ([]uint32, error) { return array[uint32](f, key, TypeUint32) }

// Int64s returns the value of key, which must be an array of int64. The
// slice is shared with the File: do not modify it.
func (f *File) Int64s(key string) ([]int64, error) { return array[int64](f, key, TypeInt64) }

// Uint64s returns the value of key, which must be an array of uint64. The
// slice is shared with the File: do not modify it.
func (f *File) Uint64s(key string) ([]uint64, error) { return array[uint64](f, key, TypeUint64) }

// Uint8s returns the value of key, which must be an array of uint8. The
// slice is shared with the File: do not modify it.
func (f *File) Uint8s(key string) ([]uint8, error) { return array[uint8](f, key, TypeUint8) }

// Bools returns the value of key, which must be an array of bool. The slice
// is shared with the File: do not modify it.
func (f *File) Bools(key string) ([]bool, error) { return array[bool](f, key, TypeBool) }

// Arrays returns the value of key, which must be an array of arrays. The
// slice is shared with the File: do not modify it.
func (f *File) Arrays(key string) ([]Value, error) { return array[Value](f, key, TypeArray) }
