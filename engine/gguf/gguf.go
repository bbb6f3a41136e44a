// Package gguf reads the header of GGUF model files (versions 2 and 3, the
// format of llama.cpp): the metadata key/values and the tensor infos.
//
// Open reads only the header, never the tensor data: File.DataOffset and
// each TensorInfo's Offset and Size say where a tensor's bytes lie, so the
// caller can memory-map them. Every length and count in the file is checked
// against the bytes left in it before anything is allocated or read, so a
// corrupt or hostile file gives an error (wrapping ErrMalformed) and never a
// huge allocation, an out-of-range read or a panic.
package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"sort"
)

// Errors reported by the package; test for them with errors.Is.
var (
	// ErrMalformed reports a file that breaks the GGUF format.
	ErrMalformed = errors.New("malformed GGUF file")
	// ErrUnsupported reports a well-formed file this package cannot read:
	// GGUF version 1 or a newer version, or a big-endian file.
	ErrUnsupported = errors.New("unsupported GGUF file")
	// ErrKeyNotFound reports a metadata key the file does not have.
	ErrKeyNotFound = errors.New("metadata key not found")
	// ErrWrongType reports a metadata value whose type is not the one asked for.
	ErrWrongType = errors.New("metadata value has another type")
)

// Limits of the format that the reader enforces.
const (
	// Magic is the first four bytes of every GGUF file.
	Magic = "GGUF"
	// DefaultAlignment is the alignment of tensor data when the file has no
	// general.alignment key.
	DefaultAlignment = 32
	// AlignmentKey is the metadata key that sets the alignment.
	AlignmentKey = "general.alignment"
	// MaxStringLen is the longest metadata string (or key, or tensor name)
	// accepted, whatever the file size.
	MaxStringLen = 64 << 20
	// MaxDims is the most dimensions a tensor may have (GGML_MAX_DIMS).
	MaxDims = 4
	// MaxTensorName is the longest tensor name, in bytes, that ggml accepts.
	MaxTensorName = 64
	// MaxArrayNesting is the deepest nesting of arrays of arrays accepted.
	MaxArrayNesting = 16
)

// KV is one metadata key and its value.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor; its data is not read.
type TensorInfo struct {
	// Name is the tensor's name, such as "blk.0.attn_q.weight".
	Name string
	// Dims are the tensor's dimensions, fastest-varying first (ggml's ne).
	Dims []uint64
	// Type is the ggml type of the data.
	Type TensorType
	// Offset is the start of the data relative to File.DataOffset, as
	// stored in the file; it is a multiple of File.Alignment.
	Offset uint64
	// Size is the number of bytes of the data.
	Size uint64
}

// Elements is the number of elements of the tensor.
func (t TensorInfo) Elements() uint64 {
	n := uint64(1)
	for _, d := range t.Dims {
		n *= d // cannot overflow: checked when the file was read
	}
	return n
}

// File is the header of a GGUF file.
type File struct {
	// Name is the path the file was opened from (or the name given to Parse).
	Name string
	// Version is the GGUF version: 2 or 3.
	Version uint32
	// Size is the size of the file in bytes.
	Size int64
	// Alignment is the alignment of the tensor data (general.alignment, or
	// DefaultAlignment).
	Alignment uint64
	// DataOffset is where the tensor data section starts in the file.
	DataOffset int64
	// Metadata are the key/values in file order.
	Metadata []KV
	// Tensors are the tensor infos in file order.
	Tensors []TensorInfo

	kv      map[string]int
	tensors map[string]int
}

// Open reads the header of the GGUF file at path; see Parse.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("gguf: %s: not a regular file", path)
	}
	return Parse(f, st.Size(), path)
}

// Parse reads the header of a GGUF file of size bytes from r; name names
// the file in errors. It checks that every tensor's data lies, aligned and
// without overlapping another's, inside the size bytes, but reads none of it.
func Parse(r io.ReaderAt, size int64, name string) (*File, error) {
	if size < 0 {
		return nil, fmt.Errorf("gguf: %s: negative size %d", name, size)
	}
	rd := &reader{
		br:   bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 64<<10),
		size: size,
		name: name,
	}
	f := &File{Name: name, Size: size, Alignment: DefaultAlignment}
	if err := f.readHeader(rd); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) readHeader(r *reader) error {
	if r.size < 4 {
		return r.errorf("the file is %d bytes, too short for the magic %q", r.size, Magic)
	}
	magic, err := r.bytes(4)
	if err != nil {
		return err
	}
	if string(magic) != Magic {
		return r.errorf("the magic is %q, want %q: not a GGUF file", magic, Magic)
	}
	if f.Version, err = r.u32("the version"); err != nil {
		return err
	}
	switch {
	case f.Version == 2 || f.Version == 3:
	case bits.ReverseBytes32(f.Version) == 2 || bits.ReverseBytes32(f.Version) == 3:
		return fmt.Errorf("gguf: %s: %w: big-endian GGUF version %d; only little-endian files are read", r.name, ErrUnsupported, bits.ReverseBytes32(f.Version))
	default:
		return fmt.Errorf("gguf: %s: %w: version %d; versions 2 and 3 are read", r.name, ErrUnsupported, f.Version)
	}
	nTensors, err := r.u64("the tensor count")
	if err != nil {
		return err
	}
	nKV, err := r.u64("the metadata key/value count")
	if err != nil {
		return err
	}
	// A key/value takes at least 14 bytes (key length 8, one key byte, type
	// 4, a one-byte value); a tensor info at least 25 (name length 8, one
	// name byte, dimension count 4, type 4, offset 8).
	if nKV > r.left()/14 {
		return r.errorf("the header claims %d metadata key/values, but %d bytes are left (each takes at least 14)", nKV, r.left())
	}
	f.Metadata = make([]KV, 0, nKV)
	f.kv = make(map[string]int, nKV)
	for i := range nKV {
		r.ctx = fmt.Sprintf("metadata key/value %d", i)
		key, err := r.str("the key")
		if err != nil {
			return err
		}
		if key == "" {
			return r.errorf("empty key")
		}
		r.ctx = fmt.Sprintf("metadata key %q", key)
		if _, dup := f.kv[key]; dup {
			return r.errorf("the key appears twice")
		}
		t, err := r.u32("the value type")
		if err != nil {
			return err
		}
		v, err := r.value(ValueType(t), 0)
		if err != nil {
			return err
		}
		f.kv[key] = len(f.Metadata)
		f.Metadata = append(f.Metadata, KV{key, v})
	}
	r.ctx = ""
	if v, ok := f.Value(AlignmentKey); ok {
		a, isU32 := v.v.(uint32)
		if !isU32 {
			return r.errorf("metadata key %q is %s, want uint32", AlignmentKey, v.TypeName())
		}
		if a == 0 || a&(a-1) != 0 {
			return r.errorf("metadata key %q is %d, want a power of two", AlignmentKey, a)
		}
		f.Alignment = uint64(a)
	}
	if nTensors > r.left()/25 {
		return r.errorf("the header claims %d tensors, but %d bytes are left (each tensor info takes at least 25)", nTensors, r.left())
	}
	f.Tensors = make([]TensorInfo, 0, nTensors)
	f.tensors = make(map[string]int, nTensors)
	for i := range nTensors {
		r.ctx = fmt.Sprintf("tensor info %d", i)
		t, err := r.tensorInfo()
		if err != nil {
			return err
		}
		if _, dup := f.tensors[t.Name]; dup {
			return r.errorf("tensor name %q appears twice", t.Name)
		}
		f.tensors[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	r.ctx = ""
	// The data section starts at the next multiple of the alignment.
	data := (uint64(r.pos) + f.Alignment - 1) / f.Alignment * f.Alignment
	f.DataOffset = int64(min(data, math.MaxInt64))
	return f.checkTensorData(r)
}

// checkTensorData checks that every tensor's data is aligned and lies in
// the file, and that no two overlap.
func (f *File) checkTensorData(r *reader) error {
	if len(f.Tensors) == 0 {
		return nil
	}
	if f.DataOffset > f.Size {
		return r.errorf("the tensor data section would start at byte %d, past the end of the file", f.DataOffset)
	}
	room := uint64(f.Size - f.DataOffset)
	order := make([]int, len(f.Tensors))
	for i, t := range f.Tensors {
		order[i] = i
		if t.Offset%f.Alignment != 0 {
			return r.errorf("tensor %q: data offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		if t.Offset > room || t.Size > room-t.Offset {
			return r.errorf("tensor %q: its %d bytes of data at offset %d (file byte %d) run past the end of the file (%d bytes of data section)",
				t.Name, t.Size, t.Offset, uint64(f.DataOffset)+min(t.Offset, room), room)
		}
	}
	sort.Slice(order, func(a, b int) bool { return f.Tensors[order[a]].Offset < f.Tensors[order[b]].Offset })
	for k := 1; k < len(order); k++ {
		a, b := f.Tensors[order[k-1]], f.Tensors[order[k]]
		if a.Offset+a.Size > b.Offset {
			return r.errorf("the data of tensors %q (bytes %d..%d) and %q (from %d) overlap", a.Name, a.Offset, a.Offset+a.Size, b.Name, b.Offset)
		}
	}
	return nil
}

// Value returns the value of key.
func (f *File) Value(key string) (Value, bool) {
	i, ok := f.kv[key]
	if !ok {
		return Value{}, false
	}
	return f.Metadata[i].Value, true
}

// Has reports whether the file has the metadata key.
func (f *File) Has(key string) bool {
	_, ok := f.kv[key]
	return ok
}

// Keys returns the metadata keys in file order.
func (f *File) Keys() []string {
	out := make([]string, len(f.Metadata))
	for i, kv := range f.Metadata {
		out[i] = kv.Key
	}
	return out
}

// Tensor returns the info of the named tensor.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	i, ok := f.tensors[name]
	if !ok {
		return TensorInfo{}, false
	}
	return f.Tensors[i], true
}

// reader reads the header sequentially, keeping the position and the
// context (which key or tensor) for errors.
type reader struct {
	br      *bufio.Reader
	pos     int64
	size    int64
	name    string
	ctx     string
	scratch [8]byte
}

func (r *reader) errorf(format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if r.ctx != "" {
		msg = r.ctx + ": " + msg
	}
	return fmt.Errorf("gguf: %s: %w: %s (at byte %d of %d)", r.name, ErrMalformed, msg, r.pos, r.size)
}

func (r *reader) left() uint64 { return uint64(r.size - r.pos) }

// need checks that n more bytes are in the file.
func (r *reader) need(n uint64, what string) error {
	if n > r.left() {
		return r.errorf("%s needs %d bytes, but the file ends after %d: truncated", what, n, r.left())
	}
	return nil
}

// bytes reads n ≤ 8 bytes into the scratch buffer.
func (r *reader) bytes(n int) ([]byte, error) {
	b := r.scratch[:n]
	if err := r.fill(b); err != nil {
		return nil, err
	}
	return b, nil
}

// fill reads len(b) bytes, which need has allowed.
func (r *reader) fill(b []byte) error {
	if err := r.need(uint64(len(b)), "a value"); err != nil {
		return err
	}
	n, err := io.ReadFull(r.br, b)
	r.pos += int64(n)
	if err != nil {
		return r.errorf("reading: %v", err)
	}
	return nil
}

func (r *reader) u32(what string) (uint32, error) {
	if err := r.need(4, what); err != nil {
		return 0, err
	}
	b, err := r.bytes(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (r *reader) u64(what string) (uint64, error) {
	if err := r.need(8, what); err != nil {
		return 0, err
	}
	b, err := r.bytes(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// str reads a GGUF string: a uint64 length, then the bytes.
func (r *reader) str(what string) (string, error) {
	n, err := r.u64(what + "'s length")
	if err != nil {
		return "", err
	}
	if n > r.left() {
		return "", r.errorf("%s is %d bytes long, but the file ends after %d", what, n, r.left())
	}
	if n > MaxStringLen {
		return "", r.errorf("%s is %d bytes long, more than the limit of %d", what, n, MaxStringLen)
	}
	b := make([]byte, n)
	if err := r.fill(b); err != nil {
		return "", err
	}
	return string(b), nil
}

// value reads a value of type t; depth counts the enclosing arrays.
func (r *reader) value(t ValueType, depth int) (Value, error) {
	if !t.Valid() {
		return Value{}, r.errorf("unknown value type %d", uint32(t))
	}
	if t == TypeArray {
		return r.array(depth + 1)
	}
	if t == TypeString {
		s, err := r.str("the string")
		return Value{typ: t, v: s}, err
	}
	b, err := r.bytes(int(t.fixedSize()))
	if err != nil {
		return Value{}, err
	}
	v, err := r.scalar(t, b)
	return Value{typ: t, v: v}, err
}

// scalar decodes a fixed-size scalar of type t from b.
func (r *reader) scalar(t ValueType, b []byte) (any, error) {
	switch t {
	case TypeUint8:
		return b[0], nil
	case TypeInt8:
		return int8(b[0]), nil
	case TypeBool:
		if b[0] > 1 {
			return nil, r.errorf("bool value %d is neither 0 nor 1", b[0])
		}
		return b[0] == 1, nil
	case TypeUint16:
		return binary.LittleEndian.Uint16(b), nil
	case TypeInt16:
		return int16(binary.LittleEndian.Uint16(b)), nil
	case TypeUint32:
		return binary.LittleEndian.Uint32(b), nil
	case TypeInt32:
		return int32(binary.LittleEndian.Uint32(b)), nil
	case TypeFloat32:
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), nil
	case TypeUint64:
		return binary.LittleEndian.Uint64(b), nil
	case TypeInt64:
		return int64(binary.LittleEndian.Uint64(b)), nil
	case TypeFloat64:
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), nil
	}
	return nil, r.errorf("value type %s is not a scalar", t)
}

// array reads an array value: element type, count, elements.
func (r *reader) array(depth int) (Value, error) {
	if depth > MaxArrayNesting {
		return Value{}, r.errorf("arrays nested deeper than %d", MaxArrayNesting)
	}
	et, err := r.u32("the array element type")
	if err != nil {
		return Value{}, err
	}
	elem := ValueType(et)
	if !elem.Valid() {
		return Value{}, r.errorf("unknown array element type %d", et)
	}
	n, err := r.u64("the array length")
	if err != nil {
		return Value{}, err
	}
	if m := elem.minSize(); n > r.left()/m {
		return Value{}, r.errorf("an array of %d %s elements needs at least %d bytes per element, but %d bytes are left", n, elem, m, r.left())
	}
	v := Value{typ: TypeArray, elem: elem}
	switch elem {
	case TypeUint8:
		v.v, err = readFixed(r, n, 1, func(b []byte) uint8 { return b[0] })
	case TypeInt8:
		v.v, err = readFixed(r, n, 1, func(b []byte) int8 { return int8(b[0]) })
	case TypeBool:
		var raw []uint8
		raw, err = readFixed(r, n, 1, func(b []byte) uint8 { return b[0] })
		if err == nil {
			bs := make([]bool, len(raw))
			for i, x := range raw {
				if x > 1 {
					return Value{}, r.errorf("bool element %d is %d, neither 0 nor 1", i, x)
				}
				bs[i] = x == 1
			}
			v.v = bs
		}
	case TypeUint16:
		v.v, err = readFixed(r, n, 2, binary.LittleEndian.Uint16)
	case TypeInt16:
		v.v, err = readFixed(r, n, 2, func(b []byte) int16 { return int16(binary.LittleEndian.Uint16(b)) })
	case TypeUint32:
		v.v, err = readFixed(r, n, 4, binary.LittleEndian.Uint32)
	case TypeInt32:
		v.v, err = readFixed(r, n, 4, func(b []byte) int32 { return int32(binary.LittleEndian.Uint32(b)) })
	case TypeFloat32:
		v.v, err = readFixed(r, n, 4, func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) })
	case TypeUint64:
		v.v, err = readFixed(r, n, 8, binary.LittleEndian.Uint64)
	case TypeInt64:
		v.v, err = readFixed(r, n, 8, func(b []byte) int64 { return int64(binary.LittleEndian.Uint64(b)) })
	case TypeFloat64:
		v.v, err = readFixed(r, n, 8, func(b []byte) float64 { return math.Float64frombits(binary.LittleEndian.Uint64(b)) })
	case TypeString:
		out := make([]string, 0, min(n, 1<<16))
		for i := uint64(0); i < n; i++ {
			s, err := r.str(fmt.Sprintf("string element %d", i))
			if err != nil {
				return Value{}, err
			}
			out = append(out, s)
		}
		v.v = out
	case TypeArray:
		out := make([]Value, 0, min(n, 1<<12))
		for i := uint64(0); i < n; i++ {
			e, err := r.array(depth + 1)
			if err != nil {
				return Value{}, err
			}
			out = append(out, e)
		}
		v.v = out
	}
	if err != nil {
		return Value{}, err
	}
	return v, nil
}

// readFixed reads n elements of size bytes each, in chunks, so that memory
// grows only as the file's bytes are actually read.
func readFixed[T any](r *reader, n uint64, size int, decode func([]byte) T) ([]T, error) {
	const chunk = 64 << 10
	out := make([]T, 0, min(n, chunk))
	buf := make([]byte, min(n*uint64(size), chunk*uint64(size)))
	for n > 0 {
		k := min(n, chunk)
		b := buf[:k*uint64(size)]
		if err := r.fill(b); err != nil {
			return nil, err
		}
		for i := 0; i < len(b); i += size {
			out = append(out, decode(b[i:i+size]))
		}
		n -= k
	}
	return out, nil
}

// tensorInfo reads one tensor info and computes its data size.
func (r *reader) tensorInfo() (TensorInfo, error) {
	var t TensorInfo
	name, err := r.str("the tensor name")
	if err != nil {
		return t, err
	}
	if name == "" {
		return t, r.errorf("empty tensor name")
	}
	if len(name) > MaxTensorName {
		return t, r.errorf("the tensor name %q is %d bytes, more than ggml's limit of %d", name[:MaxTensorName]+"…", len(name), MaxTensorName)
	}
	t.Name = name
	r.ctx = fmt.Sprintf("tensor %q", name)
	nd, err := r.u32("the dimension count")
	if err != nil {
		return t, err
	}
	if nd > MaxDims {
		return t, r.errorf("%d dimensions, more than ggml's %d", nd, MaxDims)
	}
	t.Dims = make([]uint64, nd)
	elems := uint64(1)
	for i := range t.Dims {
		if t.Dims[i], err = r.u64("a dimension"); err != nil {
			return t, err
		}
		hi, lo := bits.Mul64(elems, t.Dims[i])
		if hi != 0 || lo > math.MaxInt64 {
			return t, r.errorf("dimensions %v: the element count overflows int64", t.Dims[:i+1])
		}
		elems = lo
	}
	typ, err := r.u32("the tensor type")
	if err != nil {
		return t, err
	}
	t.Type = TensorType(typ)
	if !t.Type.Known() {
		return t, r.errorf("unknown ggml type %d", typ)
	}
	if t.Offset, err = r.u64("the data offset"); err != nil {
		return t, err
	}
	bs := t.Type.BlockSize()
	row := uint64(1)
	if nd > 0 {
		row = t.Dims[0]
	}
	if row%bs != 0 {
		return t, r.errorf("the first dimension %d is not a multiple of the %s block size %d", row, t.Type, bs)
	}
	// elems/bs blocks; elems is a multiple of bs whenever row is (or is 0).
	hi, size := bits.Mul64(elems/bs, t.Type.TypeSize())
	if hi != 0 || size > math.MaxInt64 {
		return t, r.errorf("dimensions %v of %s: the data size overflows int64", t.Dims, t.Type)
	}
	t.Size = size
	return t, nil
}
