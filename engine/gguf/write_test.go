package gguf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
)

// everyValue is one metadata value of every type, nested arrays included.
func everyValue(t *testing.T) []KV {
	t.Helper()
	raw := []struct {
		key string
		x   any
	}{
		{"u8", uint8(200)},
		{"i8", int8(-5)},
		{"u16", uint16(60000)},
		{"i16", int16(-30000)},
		{"u32", uint32(4000000000)},
		{"i32", int32(-2000000000)},
		{"f32", float32(1.5)},
		{"bool", true},
		{"str", "héllo"},
		{"empty.str", ""},
		{"u64", uint64(1 << 63)},
		{"i64", int64(-1 << 62)},
		{"f64", math.Pi},
		{"u8s", []uint8{1, 2, 255}},
		{"i8s", []int8{-128, 0, 127}},
		{"u16s", []uint16{1, 65535}},
		{"i16s", []int16{-32768, 32767}},
		{"u32s", []uint32{9}},
		{"i32s", []int32{1, -1, 7}},
		{"f32s", []float32{0.5, -2, float32(math.Inf(1))}},
		{"bools", []bool{false, true}},
		{"strs", []string{"a", "", "ccc", "▁x"}},
		{"u64s", []uint64{0, math.MaxUint64}},
		{"i64s", []int64{math.MinInt64, 3}},
		{"f64s", []float64{-0.25, 1e300}},
		{"empty.i64s", []int64{}},
		{"nested", []Value{MustValueOf([]uint8{1, 2}), MustValueOf([]string{"x"}),
			MustValueOf([]Value{MustValueOf([]float32{3})})}},
		{AlignmentKey, uint32(64)},
	}
	kvs := make([]KV, len(raw))
	for i, r := range raw {
		v, err := ValueOf(r.x)
		if err != nil {
			t.Fatalf("ValueOf(%T): %v", r.x, err)
		}
		kvs[i] = KV{r.key, v}
	}
	return kvs
}

func TestGGUFWriteRoundTrip(t *testing.T) {
	kvs := everyValue(t)
	tensors := []Tensor{
		{Name: "a", Dims: []uint64{4, 2}, Type: TensorF32, Data: bytes.Repeat([]byte{1}, 32)},
		{Name: "empty", Dims: []uint64{0, 3}, Type: TensorF32},
		{Name: "b", Dims: []uint64{64}, Type: TensorQ8_0, Data: bytes.Repeat([]byte{2}, 68)},
		{Name: "scalar", Dims: nil, Type: TensorF16, Data: []byte{3, 4}},
		{Name: "c", Dims: []uint64{32, 1, 1, 2}, Type: TensorQ4_0, Data: bytes.Repeat([]byte{5}, 36)},
	}
	var buf bytes.Buffer
	if err := Write(&buf, kvs, tensors); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	f, err := parse(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || f.Alignment != 64 || f.DataOffset%64 != 0 || f.Size%64 != 0 {
		t.Errorf("version %d, alignment %d, data offset %d, size %d", f.Version, f.Alignment, f.DataOffset, f.Size)
	}
	if !reflect.DeepEqual(f.Metadata, kvs) {
		for i := range kvs {
			if i < len(f.Metadata) && !reflect.DeepEqual(f.Metadata[i], kvs[i]) {
				t.Errorf("key/value %d: got %s = %v (%s), want %s = %v (%s)", i,
					f.Metadata[i].Key, f.Metadata[i].Value, f.Metadata[i].Value.TypeName(),
					kvs[i].Key, kvs[i].Value, kvs[i].Value.TypeName())
			}
		}
		t.Fatalf("metadata differ (%d key/values read, %d written)", len(f.Metadata), len(kvs))
	}
	layout, err := Layout(kvs, []TensorInfo{
		{Name: "a", Dims: []uint64{4, 2}, Type: TensorF32},
		{Name: "empty", Dims: []uint64{0, 3}, Type: TensorF32},
		{Name: "b", Dims: []uint64{64}, Type: TensorQ8_0},
		{Name: "scalar", Type: TensorF16},
		{Name: "c", Dims: []uint64{32, 1, 1, 2}, Type: TensorQ4_0},
	})
	if err != nil {
		t.Fatal(err)
	}
	if layout.DataOffset != f.DataOffset || layout.Size != int64(len(data)) {
		t.Errorf("Layout: data offset %d, size %d; the file has %d, %d", layout.DataOffset, layout.Size, f.DataOffset, len(data))
	}
	for i, want := range tensors {
		got := f.Tensors[i]
		if got.Name != want.Name || got.Type != want.Type || len(got.Dims) != len(want.Dims) ||
			got.Offset != layout.Tensors[i].Offset || got.Size != layout.Tensors[i].Size {
			t.Errorf("tensor %d = %+v; want %+v (layout %+v)", i, got, want, layout.Tensors[i])
		}
		start := f.DataOffset + int64(got.Offset)
		if b := data[start : start+int64(got.Size)]; !bytes.Equal(b, want.Data) {
			t.Errorf("tensor %q data = %v, want %v", want.Name, b, want.Data)
		}
	}
}

// TestGGUFWriteStories260K re-writes the header of the real model: Layout
// gives the same offsets, and header plus copied data are the file byte
// for byte.
func TestGGUFWriteStories260K(t *testing.T) {
	orig, err := os.ReadFile(stories260K)
	if err != nil {
		t.Skipf("model not available: %v", err)
	}
	f, err := parse(t, orig)
	if err != nil {
		t.Fatal(err)
	}
	layout, err := Layout(f.Metadata, f.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	if layout.DataOffset != f.DataOffset || layout.Size != f.Size || !reflect.DeepEqual(layout.Tensors, f.Tensors) {
		t.Fatalf("layout: data offset %d, size %d; file: %d, %d", layout.DataOffset, layout.Size, f.DataOffset, f.Size)
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, f.Metadata, f.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	// Stream the data in odd-sized pieces across tensor boundaries.
	var tensorData []byte
	for _, ti := range f.Tensors {
		start := f.DataOffset + int64(ti.Offset)
		tensorData = append(tensorData, orig[start:start+int64(ti.Size)]...)
	}
	for len(tensorData) > 0 {
		n := min(len(tensorData), 1000)
		if _, err := w.Write(tensorData[:n]); err != nil {
			t.Fatal(err)
		}
		tensorData = tensorData[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), orig) {
		t.Fatalf("re-written file differs: %d bytes, want %d", buf.Len(), len(orig))
	}
	// The header alone, from the parsed File.
	var hdr bytes.Buffer
	if err := f.WriteHeader(&hdr); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hdr.Bytes(), orig[:f.DataOffset]) {
		t.Error("WriteHeader of the parsed file differs from its header")
	}
}

func TestGGUFWriteErrors(t *testing.T) {
	f32 := func(name string, dims ...uint64) TensorInfo {
		return TensorInfo{Name: name, Dims: dims, Type: TensorF32}
	}
	kv := func(k string, x any) KV { return KV{k, MustValueOf(x)} }
	tests := []struct {
		name    string
		kvs     []KV
		tensors []TensorInfo
		want    string
	}{
		{"empty key", []KV{kv("", uint32(1))}, nil, "empty key"},
		{"duplicate key", []KV{kv("a", uint32(1)), kv("a", "x")}, nil, "appears twice"},
		{"zero value", []KV{{"a", Value{}}}, nil, "invalid metadata value"},
		{"alignment type", []KV{kv(AlignmentKey, uint64(32))}, nil, "power of two"},
		{"alignment value", []KV{kv(AlignmentKey, uint32(48))}, nil, "power of two"},
		{"empty name", nil, []TensorInfo{f32("")}, "empty name"},
		{"long name", nil, []TensorInfo{f32(strings.Repeat("x", MaxTensorName+1))}, "limit"},
		{"duplicate tensor", nil, []TensorInfo{f32("t", 1), f32("t", 2)}, "appears twice"},
		{"too many dims", nil, []TensorInfo{f32("t", 1, 1, 1, 1, 1)}, "dimensions"},
		{"unknown type", nil, []TensorInfo{{Name: "t", Dims: []uint64{1}, Type: 4}}, "unknown ggml type"},
		{"block size", nil, []TensorInfo{{Name: "t", Dims: []uint64{33}, Type: TensorQ8_0}}, "block size"},
		{"overflow", nil, []TensorInfo{f32("t", 1<<40, 1<<40)}, "overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Layout(tt.kvs, tt.tensors)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Layout: %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestGGUFValueOfErrors(t *testing.T) {
	tests := []struct {
		name string
		x    any
	}{
		{"int", 1},
		{"uint", uint(1)},
		{"map", map[string]int{}},
		{"nil", nil},
		{"array of scalars in []Value", []Value{MustValueOf(uint8(1))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if v, err := ValueOf(tt.x); err == nil {
				t.Errorf("ValueOf(%#v) = %v, want an error", tt.x, v)
			}
		})
	}
	deep := MustValueOf([]uint8{1})
	var err error
	for range MaxArrayNesting {
		if deep, err = ValueOf([]Value{deep}); err != nil {
			break
		}
	}
	if err == nil {
		t.Errorf("arrays nested %d deep were accepted", MaxArrayNesting+1)
	}
}

func TestGGUFWriterMisuse(t *testing.T) {
	infos := []TensorInfo{{Name: "a", Dims: []uint64{2}, Type: TensorF32}}
	tests := []struct {
		name  string
		write []byte
		want  string
	}{
		{"short", make([]byte, 4), "of the 8 bytes"},
		{"long", make([]byte, 9), "past the last tensor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := NewWriter(io.Discard, nil, infos)
			if err != nil {
				t.Fatal(err)
			}
			_, err = w.Write(tt.write)
			if err == nil {
				err = w.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if err := Write(io.Discard, nil, []Tensor{{Name: "a", Dims: []uint64{2}, Type: TensorF32, Data: make([]byte, 7)}}); err == nil {
		t.Error("Write accepted 7 bytes for an F32 tensor of 2 elements")
	}
	var failing failWriter
	if err := Write(&failing, nil, nil); !errors.Is(err, errFail) {
		t.Errorf("Write to a failing writer: %v", err)
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

func ExampleWrite() {
	kvs := []KV{
		{"general.architecture", MustValueOf("llama")},
		{"llama.block_count", MustValueOf(uint32(1))},
		{"tokenizer.ggml.tokens", MustValueOf([]string{"<unk>", "<s>", "</s>"})},
	}
	weights := make([]byte, 4*2*4) // 4×2 float32 zeros
	var buf bytes.Buffer
	err := Write(&buf, kvs, []Tensor{{Name: "w", Dims: []uint64{4, 2}, Type: TensorF32, Data: weights}})
	if err != nil {
		panic(err)
	}
	f, err := Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "example.gguf")
	if err != nil {
		panic(err)
	}
	n, _ := f.Int("llama.block_count")
	w, _ := f.Tensor("w")
	fmt.Println(f.Keys(), n, w.Dims, w.Type, w.Size, f.DataOffset%32)
	// Output: [general.architecture llama.block_count tokenizer.ggml.tokens] 1 [4 2] F32 32 0
}
