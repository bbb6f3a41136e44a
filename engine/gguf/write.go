package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
)

// This file writes GGUF version 3 files: ValueOf builds metadata values,
// Layout places the tensors, WriteHeader writes the header, and Writer (or
// Write, for data in memory) streams the tensor data after it.

// ValueOf returns the metadata value holding x, whose Go type gives the
// GGUF type: uint8, int8, uint16, int16, uint32, int32, float32, bool,
// string, uint64, int64 or float64 for scalars; a slice of one of these for
// an array ([]byte is an array of uint8); []Value for an array of arrays,
// every element of which must itself be an array; or a Value, returned as
// it is. Go's int and uint are refused: their GGUF width would be a guess.
// Slices are not copied.
func ValueOf(x any) (Value, error) {
	var t, elem ValueType
	switch v := x.(type) {
	case Value:
		return v, v.check(0)
	case uint8:
		t = TypeUint8
	case int8:
		t = TypeInt8
	case uint16:
		t = TypeUint16
	case int16:
		t = TypeInt16
	case uint32:
		t = TypeUint32
	case int32:
		t = TypeInt32
	case float32:
		t = TypeFloat32
	case bool:
		t = TypeBool
	case string:
		t = TypeString
	case uint64:
		t = TypeUint64
	case int64:
		t = TypeInt64
	case float64:
		t = TypeFloat64
	case []uint8:
		t, elem = TypeArray, TypeUint8
	case []int8:
		t, elem = TypeArray, TypeInt8
	case []uint16:
		t, elem = TypeArray, TypeUint16
	case []int16:
		t, elem = TypeArray, TypeInt16
	case []uint32:
		t, elem = TypeArray, TypeUint32
	case []int32:
		t, elem = TypeArray, TypeInt32
	case []float32:
		t, elem = TypeArray, TypeFloat32
	case []bool:
		t, elem = TypeArray, TypeBool
	case []string:
		t, elem = TypeArray, TypeString
	case []uint64:
		t, elem = TypeArray, TypeUint64
	case []int64:
		t, elem = TypeArray, TypeInt64
	case []float64:
		t, elem = TypeArray, TypeFloat64
	case []Value:
		t, elem = TypeArray, TypeArray
	default:
		return Value{}, fmt.Errorf("gguf: no GGUF metadata type for Go type %T", x)
	}
	v := Value{typ: t, elem: elem, v: x}
	if err := v.check(0); err != nil {
		return Value{}, err
	}
	return v, nil
}

// MustValueOf is ValueOf for values known to be valid; it panics on an
// error.
func MustValueOf(x any) Value {
	v, err := ValueOf(x)
	if err != nil {
		panic(err)
	}
	return v
}

// check reports whether v can be written: its Go value matches its type,
// its strings fit MaxStringLen, and arrays of arrays hold arrays, nested at
// most MaxArrayNesting deep. depth counts the enclosing arrays.
func (v Value) check(depth int) error {
	ok := false
	switch x := v.v.(type) {
	case uint8:
		ok = v.typ == TypeUint8
	case int8:
		ok = v.typ == TypeInt8
	case uint16:
		ok = v.typ == TypeUint16
	case int16:
		ok = v.typ == TypeInt16
	case uint32:
		ok = v.typ == TypeUint32
	case int32:
		ok = v.typ == TypeInt32
	case float32:
		ok = v.typ == TypeFloat32
	case bool:
		ok = v.typ == TypeBool
	case uint64:
		ok = v.typ == TypeUint64
	case int64:
		ok = v.typ == TypeInt64
	case float64:
		ok = v.typ == TypeFloat64
	case string:
		if len(x) > MaxStringLen {
			return fmt.Errorf("gguf: a string of %d bytes is longer than the limit of %d", len(x), MaxStringLen)
		}
		ok = v.typ == TypeString
	case []string:
		for _, s := range x {
			if len(s) > MaxStringLen {
				return fmt.Errorf("gguf: a string of %d bytes is longer than the limit of %d", len(s), MaxStringLen)
			}
		}
		ok = v.typ == TypeArray && v.elem == TypeString
	case []Value:
		if depth+1 >= MaxArrayNesting {
			return fmt.Errorf("gguf: arrays nested deeper than %d", MaxArrayNesting)
		}
		for i, e := range x {
			if e.typ != TypeArray {
				return fmt.Errorf("gguf: element %d of an array of arrays is %s, not an array", i, e.TypeName())
			}
			if err := e.check(depth + 1); err != nil {
				return err
			}
		}
		ok = v.typ == TypeArray && v.elem == TypeArray
	default:
		ok = v.typ == TypeArray && v.elem != TypeArray && v.elem != TypeString &&
			v.v != nil && sliceElem(v.v) == v.elem
	}
	if !ok {
		return fmt.Errorf("gguf: invalid metadata value of type %s holding %T (build values with ValueOf)", v.TypeName(), v.v)
	}
	return nil
}

// sliceElem is the GGUF element type of a slice of fixed-size scalars, or
// an invalid type.
func sliceElem(x any) ValueType {
	switch x.(type) {
	case []uint8:
		return TypeUint8
	case []int8:
		return TypeInt8
	case []uint16:
		return TypeUint16
	case []int16:
		return TypeInt16
	case []uint32:
		return TypeUint32
	case []int32:
		return TypeInt32
	case []float32:
		return TypeFloat32
	case []bool:
		return TypeBool
	case []uint64:
		return TypeUint64
	case []int64:
		return TypeInt64
	case []float64:
		return TypeFloat64
	}
	return ValueType(math.MaxUint32)
}

// Layout checks the metadata and the tensor infos of a GGUF file to be
// written and places the tensors: each tensor's data starts at the next
// multiple of the alignment (general.alignment when kvs have it, which must
// then be a uint32 power of two, else DefaultAlignment) after the previous
// one's, in the order given. The Offset and Size of the given tensor infos
// are ignored and computed from Dims and Type.
//
// The result is the File that Parse will return for the written file
// (Name empty, Version 3): Size counts the padding after the last tensor,
// as llama.cpp writes it. The metadata and tensor slices are copied, but
// not the values' arrays or the dimensions.
func Layout(kvs []KV, tensors []TensorInfo) (*File, error) {
	f := &File{
		Version:   3,
		Alignment: DefaultAlignment,
		Metadata:  append([]KV(nil), kvs...),
		Tensors:   make([]TensorInfo, len(tensors)),
		kv:        make(map[string]int, len(kvs)),
		tensors:   make(map[string]int, len(tensors)),
	}
	for i, kv := range kvs {
		if kv.Key == "" {
			return nil, fmt.Errorf("gguf: metadata key/value %d has an empty key", i)
		}
		if len(kv.Key) > MaxStringLen {
			return nil, fmt.Errorf("gguf: metadata key %d is %d bytes, longer than the limit of %d", i, len(kv.Key), MaxStringLen)
		}
		if _, dup := f.kv[kv.Key]; dup {
			return nil, fmt.Errorf("gguf: metadata key %q appears twice", kv.Key)
		}
		if err := kv.Value.check(0); err != nil {
			return nil, fmt.Errorf("metadata key %q: %w", kv.Key, err)
		}
		f.kv[kv.Key] = i
	}
	if v, ok := f.Value(AlignmentKey); ok {
		a, isU32 := v.v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, fmt.Errorf("gguf: metadata key %q is %v (%s), want a uint32 power of two", AlignmentKey, v, v.TypeName())
		}
		f.Alignment = uint64(a)
	}
	for i, t := range tensors {
		if err := t.place(); err != nil {
			return nil, err
		}
		if _, dup := f.tensors[t.Name]; dup {
			return nil, fmt.Errorf("gguf: tensor name %q appears twice", t.Name)
		}
		f.tensors[t.Name] = i
		f.Tensors[i] = t
	}
	hdr, err := f.headerSize()
	if err != nil {
		return nil, err
	}
	data, ok := alignUp(uint64(hdr), f.Alignment)
	off := uint64(0)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		t.Offset = off
		var end uint64
		if ok {
			end, ok = add(off, t.Size)
		}
		if ok {
			off, ok = alignUp(end, f.Alignment)
		}
	}
	size, sizeOK := add(data, off)
	if !ok || !sizeOK || size > math.MaxInt64 {
		return nil, fmt.Errorf("gguf: the tensors need more than %d bytes", int64(math.MaxInt64))
	}
	f.DataOffset = int64(data)
	f.Size = int64(size)
	return f, nil
}

// place checks a tensor info to be written and computes its Size.
func (t *TensorInfo) place() error {
	switch {
	case t.Name == "":
		return errors.New("gguf: a tensor has an empty name")
	case len(t.Name) > MaxTensorName:
		return fmt.Errorf("gguf: tensor name %q is %d bytes, more than ggml's limit of %d", t.Name, len(t.Name), MaxTensorName)
	case len(t.Dims) > MaxDims:
		return fmt.Errorf("gguf: tensor %q has %d dimensions, more than ggml's %d", t.Name, len(t.Dims), MaxDims)
	case !t.Type.Known():
		return fmt.Errorf("gguf: tensor %q has unknown ggml type %d", t.Name, uint32(t.Type))
	}
	elems := uint64(1)
	for _, d := range t.Dims {
		hi, lo := bits.Mul64(elems, d)
		if hi != 0 || lo > math.MaxInt64 {
			return fmt.Errorf("gguf: tensor %q: dimensions %v: the element count overflows int64", t.Name, t.Dims)
		}
		elems = lo
	}
	row := uint64(1)
	if len(t.Dims) > 0 {
		row = t.Dims[0]
	}
	bs := t.Type.BlockSize()
	if row%bs != 0 {
		return fmt.Errorf("gguf: tensor %q: the first dimension %d is not a multiple of the %s block size %d", t.Name, row, t.Type, bs)
	}
	hi, size := bits.Mul64(elems/bs, t.Type.TypeSize())
	if hi != 0 || size > math.MaxInt64 {
		return fmt.Errorf("gguf: tensor %q: dimensions %v of %s: the data size overflows int64", t.Name, t.Dims, t.Type)
	}
	t.Size = size
	return nil
}

func add(a, b uint64) (uint64, bool) {
	s, carry := bits.Add64(a, b, 0)
	return s, carry == 0
}

func alignUp(n, a uint64) (uint64, bool) {
	s, ok := add(n, a-1)
	return s / a * a, ok
}

// headerSize is the number of bytes of the header before the padding.
func (f *File) headerSize() (int64, error) {
	var c countWriter
	bw := bufio.NewWriter(&c)
	if err := f.encodeHeader(bw); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	return c.n, nil
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// WriteHeader writes the header of f (magic, version, metadata, tensor
// infos with their stored offsets) and the zero padding up to DataOffset:
// everything but the tensor data. f is usually the result of Layout, but a
// File from Parse works too, and gives back the header of its file
// byte for byte. It is an error if the header does not end by DataOffset,
// or ends too early for DataOffset to be the next multiple of the
// alignment.
func (f *File) WriteHeader(w io.Writer) error {
	hdr, err := f.headerSize()
	if err != nil {
		return err
	}
	if data, _ := alignUp(uint64(hdr), f.Alignment); f.Alignment == 0 || data != uint64(f.DataOffset) {
		return fmt.Errorf("gguf: the header is %d bytes, so the data would start at %d with alignment %d, not at DataOffset %d",
			hdr, data, f.Alignment, f.DataOffset)
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := f.encodeHeader(bw); err != nil {
		return err
	}
	if _, err := bw.Write(make([]byte, f.DataOffset-hdr)); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("gguf: %w", err)
	}
	return nil
}

// encodeHeader writes the header without its padding. Write errors stick
// in bw and come out of its Flush.
func (f *File) encodeHeader(bw *bufio.Writer) error {
	version := f.Version
	if version != 2 {
		version = 3 // versions 2 and 3 differ only for big-endian files
	}
	e := encoder{bw: bw}
	bw.WriteString(Magic)
	e.u32(version)
	e.u64(uint64(len(f.Tensors)))
	e.u64(uint64(len(f.Metadata)))
	for _, kv := range f.Metadata {
		if err := kv.Value.check(0); err != nil {
			return fmt.Errorf("metadata key %q: %w", kv.Key, err)
		}
		e.str(kv.Key)
		e.u32(uint32(kv.Value.typ))
		e.value(kv.Value)
	}
	for _, t := range f.Tensors {
		if len(t.Dims) > MaxDims {
			return fmt.Errorf("gguf: tensor %q has %d dimensions, more than ggml's %d", t.Name, len(t.Dims), MaxDims)
		}
		e.str(t.Name)
		e.u32(uint32(len(t.Dims)))
		for _, d := range t.Dims {
			e.u64(d)
		}
		e.u32(uint32(t.Type))
		e.u64(t.Offset)
	}
	return nil
}

// encoder writes little-endian GGUF values.
type encoder struct {
	bw  *bufio.Writer
	buf [8]byte
}

func (e *encoder) u8(v uint8) { e.bw.WriteByte(v) }

func (e *encoder) u16(v uint16) {
	binary.LittleEndian.PutUint16(e.buf[:], v)
	e.bw.Write(e.buf[:2])
}

func (e *encoder) u32(v uint32) {
	binary.LittleEndian.PutUint32(e.buf[:], v)
	e.bw.Write(e.buf[:4])
}

func (e *encoder) u64(v uint64) {
	binary.LittleEndian.PutUint64(e.buf[:], v)
	e.bw.Write(e.buf[:8])
}

func (e *encoder) str(s string) {
	e.u64(uint64(len(s)))
	e.bw.WriteString(s)
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// value writes a checked value, without its type.
func (e *encoder) value(v Value) {
	switch x := v.v.(type) {
	case uint8:
		e.u8(x)
	case int8:
		e.u8(uint8(x))
	case uint16:
		e.u16(x)
	case int16:
		e.u16(uint16(x))
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case bool:
		e.u8(b2u(x))
	case string:
		e.str(x)
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	default:
		e.u32(uint32(v.elem))
		e.u64(uint64(v.Len()))
		e.array(v.v)
	}
}

// array writes the elements of an array value.
func (e *encoder) array(a any) {
	switch x := a.(type) {
	case []uint8:
		e.bw.Write(x)
	case []int8:
		for _, v := range x {
			e.u8(uint8(v))
		}
	case []uint16:
		for _, v := range x {
			e.u16(v)
		}
	case []int16:
		for _, v := range x {
			e.u16(uint16(v))
		}
	case []uint32:
		for _, v := range x {
			e.u32(v)
		}
	case []int32:
		for _, v := range x {
			e.u32(uint32(v))
		}
	case []float32:
		for _, v := range x {
			e.u32(math.Float32bits(v))
		}
	case []bool:
		for _, v := range x {
			e.u8(b2u(v))
		}
	case []string:
		for _, v := range x {
			e.str(v)
		}
	case []uint64:
		for _, v := range x {
			e.u64(v)
		}
	case []int64:
		for _, v := range x {
			e.u64(uint64(v))
		}
	case []float64:
		for _, v := range x {
			e.u64(math.Float64bits(v))
		}
	case []Value:
		for _, v := range x {
			e.value(v) // an array: element type, length, elements
		}
	}
}

// Writer writes a GGUF file sequentially: NewWriter writes the header,
// then Write takes the tensor data, tensor after tensor in the order of
// the layout, in pieces of any size (the padding between tensors is
// inserted), and Close checks that all of it came and writes the final
// padding. It does not close the underlying writer.
type Writer struct {
	w    io.Writer
	f    *File
	next int   // the tensor being written
	done int64 // its bytes written so far
	err  error
}

// NewWriter lays out a GGUF file (see Layout), writes its header to w and
// returns the Writer that takes its tensor data.
func NewWriter(w io.Writer, kvs []KV, tensors []TensorInfo) (*Writer, error) {
	f, err := Layout(kvs, tensors)
	if err != nil {
		return nil, err
	}
	if err := f.WriteHeader(w); err != nil {
		return nil, err
	}
	gw := &Writer{w: w, f: f}
	gw.skipEmpty()
	return gw, nil
}

// File returns the layout being written, the File that Parse will return.
// Do not modify it.
func (w *Writer) File() *File { return w.f }

// skipEmpty moves past tensors with no data.
func (w *Writer) skipEmpty() {
	for w.next < len(w.f.Tensors) && w.f.Tensors[w.next].Size == 0 {
		w.next++
	}
}

// pad writes the zero padding between data-section offsets from and to.
func (w *Writer) pad(from, to uint64) error {
	if to > from {
		if _, err := w.w.Write(make([]byte, to-from)); err != nil {
			return fmt.Errorf("gguf: %w", err)
		}
	}
	return nil
}

// Write writes the next len(p) bytes of tensor data. Writing more than the
// tensors hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if w.next >= len(w.f.Tensors) {
			w.err = fmt.Errorf("gguf: %d bytes of tensor data past the last tensor", len(p))
			return n, w.err
		}
		t := w.f.Tensors[w.next]
		k := min(int64(len(p)), int64(t.Size)-w.done)
		m, err := w.w.Write(p[:k])
		n += m
		w.done += int64(m)
		if err != nil {
			w.err = fmt.Errorf("gguf: tensor %q: %w", t.Name, err)
			return n, w.err
		}
		p = p[k:]
		if uint64(w.done) == t.Size {
			w.next++
			w.done = 0
			w.skipEmpty()
			if w.next < len(w.f.Tensors) {
				if err := w.pad(t.Offset+t.Size, w.f.Tensors[w.next].Offset); err != nil {
					w.err = err
					return n, err
				}
			}
		}
	}
	return n, nil
}

// Close checks that all the tensor data was written and writes the
// padding after the last tensor.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	if w.next < len(w.f.Tensors) {
		t := w.f.Tensors[w.next]
		w.err = fmt.Errorf("gguf: closed with %d of the %d bytes of tensor %q written (tensor %d of %d)", w.done, t.Size, t.Name, w.next+1, len(w.f.Tensors))
		return w.err
	}
	var end uint64
	if n := len(w.f.Tensors); n > 0 {
		end = w.f.Tensors[n-1].Offset + w.f.Tensors[n-1].Size
	}
	w.err = w.pad(end, uint64(w.f.Size-w.f.DataOffset))
	if w.err == nil {
		w.err = errors.New("gguf: Writer is closed")
		return nil
	}
	return w.err
}

// Tensor is a tensor to write with Write: its name, dimensions (fastest
// varying first, as in TensorInfo) and type, and its data, which must be
// exactly the size that they give.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	Data []byte
}

// Write writes a whole GGUF file to w: the metadata kvs and the tensors,
// laid out as Layout does.
func Write(w io.Writer, kvs []KV, tensors []Tensor) error {
	infos := make([]TensorInfo, len(tensors))
	for i, t := range tensors {
		infos[i] = TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type}
	}
	f, err := Layout(kvs, infos)
	if err != nil {
		return err
	}
	for i, t := range tensors {
		if uint64(len(t.Data)) != f.Tensors[i].Size {
			return fmt.Errorf("gguf: tensor %q: %d bytes of data, want %d for %s %v", t.Name, len(t.Data), f.Tensors[i].Size, t.Type, t.Dims)
		}
	}
	if err := f.WriteHeader(w); err != nil {
		return err
	}
	gw := &Writer{w: w, f: f}
	gw.skipEmpty()
	for _, t := range tensors {
		if _, err := gw.Write(t.Data); err != nil {
			return err
		}
	}
	return gw.Close()
}
