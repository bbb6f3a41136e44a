package llama

import "unsafe"

// f32s views little-endian float32 bytes (4-byte aligned) as []float32.
func f32s(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}
