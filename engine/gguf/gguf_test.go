package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// stories260K is the real GGUF file of the shared models, beside the checkout.
const stories260K = "../../../shared/models/stories260K/stories260K.gguf"

// builder writes GGUF files for the tests.
type builder struct {
	bytes.Buffer
}

func (b *builder) u32(v uint32) *builder { binary.Write(b, binary.LittleEndian, v); return b }
func (b *builder) u64(v uint64) *builder { binary.Write(b, binary.LittleEndian, v); return b }
func (b *builder) str(s string) *builder { b.u64(uint64(len(s))); b.WriteString(s); return b }

// header writes the magic, version and counts.
func (b *builder) header(version uint32, tensors, kvs uint64) *builder {
	b.WriteString(Magic)
	return b.u32(version).u64(tensors).u64(kvs)
}

// kv writes a key, a type and the raw value bytes.
func (b *builder) kv(key string, t ValueType, raw ...any) *builder {
	b.str(key).u32(uint32(t))
	for _, r := range raw {
		switch x := r.(type) {
		case string:
			b.str(x)
		default:
			binary.Write(b, binary.LittleEndian, x)
		}
	}
	return b
}

// tensor writes a tensor info.
func (b *builder) tensor(name string, dims []uint64, t TensorType, off uint64) *builder {
	b.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		b.u64(d)
	}
	return b.u32(uint32(t)).u64(off)
}

// pad pads to a multiple of a, then appends n zero bytes of tensor data.
func (b *builder) pad(a, n int) *builder {
	for b.Len()%a != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, n))
	return b
}

func parse(t *testing.T, data []byte) (*File, error) {
	t.Helper()
	return Parse(bytes.NewReader(data), int64(len(data)), "test.gguf")
}

// allTypes is a file with one key of every type (nested arrays included)
// and two tensors.
func allTypes() []byte {
	var b builder
	b.header(3, 2, 20)
	b.kv("u8", TypeUint8, uint8(200))
	b.kv("i8", TypeInt8, int8(-5))
	b.kv("u16", TypeUint16, uint16(60000))
	b.kv("i16", TypeInt16, int16(-30000))
	b.kv("u32", TypeUint32, uint32(4000000000))
	b.kv("i32", TypeInt32, int32(-2000000000))
	b.kv("f32", TypeFloat32, float32(1.5))
	b.kv("bool", TypeBool, uint8(1))
	b.kv("str", TypeString, "héllo")
	b.kv("u64", TypeUint64, uint64(1<<63))
	b.kv("i64", TypeInt64, int64(-1<<62))
	b.kv("f64", TypeFloat64, math.Pi)
	b.kv("strs", TypeArray, uint32(TypeString), uint64(3), "a", "", "ccc")
	b.kv("f32s", TypeArray, uint32(TypeFloat32), uint64(2), float32(0.5), float32(-2))
	b.kv("i32s", TypeArray, uint32(TypeInt32), uint64(3), int32(1), int32(-1), int32(7))
	b.kv("u32s", TypeArray, uint32(TypeUint32), uint64(1), uint32(9))
	b.kv("bools", TypeArray, uint32(TypeBool), uint64(2), uint8(0), uint8(1))
	b.kv("nested", TypeArray, uint32(TypeArray), uint64(2),
		uint32(TypeUint8), uint64(2), uint8(1), uint8(2),
		uint32(TypeString), uint64(1), "x")
	b.kv("empty", TypeArray, uint32(TypeInt64), uint64(0))
	b.kv(AlignmentKey, TypeUint32, uint32(64))
	b.tensor("a", []uint64{4, 2}, TensorF32, 0)
	b.tensor("b", []uint64{64}, TensorQ8_0, 64)
	b.pad(64, 64+68)
	return b.Bytes()
}

func TestGGUFParseAllTypes(t *testing.T) {
	f, err := parse(t, allTypes())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, got, want any, err error) {
		t.Helper()
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, %v; want %v", name, got, err, want)
		}
	}
	u8, err := f.Uint8("u8")
	check("u8", u8, uint8(200), err)
	i8, err := f.Int8("i8")
	check("i8", i8, int8(-5), err)
	u16, err := f.Uint16("u16")
	check("u16", u16, uint16(60000), err)
	i16, err := f.Int16("i16")
	check("i16", i16, int16(-30000), err)
	u32, err := f.Uint32("u32")
	check("u32", u32, uint32(4000000000), err)
	i32, err := f.Int32("i32")
	check("i32", i32, int32(-2000000000), err)
	f32, err := f.Float32("f32")
	check("f32", f32, float32(1.5), err)
	bo, err := f.Bool("bool")
	check("bool", bo, true, err)
	s, err := f.String("str")
	check("str", s, "héllo", err)
	u64, err := f.Uint64("u64")
	check("u64", u64, uint64(1<<63), err)
	i64, err := f.Int64("i64")
	check("i64", i64, int64(-1<<62), err)
	f64, err := f.Float64("f64")
	check("f64", f64, math.Pi, err)
	strs, err := f.Strings("strs")
	check("strs", strs, []string{"a", "", "ccc"}, err)
	f32s, err := f.Float32s("f32s")
	check("f32s", f32s, []float32{0.5, -2}, err)
	i32s, err := f.Int32s("i32s")
	check("i32s", i32s, []int32{1, -1, 7}, err)
	u32s, err := f.Uint32s("u32s")
	check("u32s", u32s, []uint32{9}, err)
	bools, err := f.Bools("bools")
	check("bools", bools, []bool{false, true}, err)
	empty, err := f.Int64s("empty")
	check("empty", empty, []int64{}, err)
	nested, err := f.Arrays("nested")
	if err != nil || len(nested) != 2 || !reflect.DeepEqual(nested[0].Interface(), []uint8{1, 2}) ||
		!reflect.DeepEqual(nested[1].Interface(), []string{"x"}) || nested[1].TypeName() != "array of string" {
		t.Errorf("nested = %v, %v", nested, err)
	}
	n, err := f.Int("u32")
	check("Int(u32)", n, int64(4000000000), err)
	n, err = f.Int("i8")
	check("Int(i8)", n, int64(-5), err)
	if _, err := f.Int("u64"); err == nil {
		t.Error("Int(1<<63) did not fail")
	}
	if f.Alignment != 64 || f.DataOffset%64 != 0 || f.Version != 3 {
		t.Errorf("alignment %d, data offset %d, version %d", f.Alignment, f.DataOffset, f.Version)
	}
	if got := f.Keys(); len(got) != 20 || got[0] != "u8" || got[19] != AlignmentKey {
		t.Errorf("Keys() = %v", got)
	}
	a, ok := f.Tensor("a")
	if !ok || a.Size != 32 || a.Elements() != 8 || a.Type != TensorF32 || a.Offset != 0 {
		t.Errorf("tensor a = %+v", a)
	}
	bt, ok := f.Tensor("b")
	if !ok || bt.Size != 34*2 || bt.Type.String() != "Q8_0" || bt.Offset != 64 {
		t.Errorf("tensor b = %+v", bt)
	}
	if _, ok := f.Tensor("c"); ok {
		t.Error("found tensor c")
	}
}

func TestGGUFAccessorErrors(t *testing.T) {
	f, err := parse(t, allTypes())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		call func() error
		is   error
		msg  string
	}{
		{"missing", func() error { _, err := f.String("nope"); return err }, ErrKeyNotFound, `"nope"`},
		{"scalar type", func() error { _, err := f.String("u32"); return err }, ErrWrongType, `metadata key "u32" is uint32, want string`},
		{"width", func() error { _, err := f.Uint32("u64"); return err }, ErrWrongType, `"u64" is uint64, want uint32`},
		{"array elem", func() error { _, err := f.Strings("f32s"); return err }, ErrWrongType, `"f32s" is array of float32, want array of string`},
		{"scalar as array", func() error { _, err := f.Float32s("f32"); return err }, ErrWrongType, `"f32" is float32, want array of float32`},
		{"array as scalar", func() error { _, err := f.Int32("i32s"); return err }, ErrWrongType, `"i32s" is array of int32, want int32`},
		{"Int of string", func() error { _, err := f.Int("str"); return err }, ErrWrongType, `want an integer`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "test.gguf") {
				t.Errorf("got %v, want %v containing %q and the file name", err, tc.is, tc.msg)
			}
		})
	}
}

func TestGGUFParseErrors(t *testing.T) {
	valid := func() *builder {
		var b builder
		b.header(3, 0, 1)
		return &b
	}
	tests := []struct {
		name string
		data func() []byte
		is   error
		msg  string
	}{
		{"empty", func() []byte { return nil }, ErrMalformed, "too short"},
		{"magic", func() []byte { return []byte("GGML\x03\x00\x00\x00") }, ErrMalformed, "not a GGUF file"},
		{"version 1", func() []byte { var b builder; return b.header(1, 0, 0).Bytes() }, ErrUnsupported, "version 1"},
		{"version 4", func() []byte { var b builder; return b.header(4, 0, 0).Bytes() }, ErrUnsupported, "version 4"},
		{"big endian", func() []byte { var b builder; return b.header(3<<24, 0, 0).Bytes() }, ErrUnsupported, "big-endian"},
		{"truncated header", func() []byte { var b builder; b.WriteString(Magic); return b.u32(3).u32(0).Bytes() }, ErrMalformed, "truncated"},
		{"huge kv count", func() []byte { var b builder; return b.header(3, 0, 1<<60).Bytes() }, ErrMalformed, "metadata key/values"},
		{"huge tensor count", func() []byte { var b builder; return b.header(3, 1<<62, 0).Bytes() }, ErrMalformed, "tensors"},
		{"key length", func() []byte { b := valid(); b.u64(1 << 40); return b.pad(1, 16).Bytes() }, ErrMalformed, "the key is 1099511627776 bytes long"},
		{"empty key", func() []byte { return valid().kv("", TypeUint8, uint8(1)).pad(1, 8).Bytes() }, ErrMalformed, "empty key"},
		{"duplicate key", func() []byte {
			var b builder
			return b.header(3, 0, 2).kv("k", TypeUint8, uint8(1)).kv("k", TypeUint8, uint8(1)).Bytes()
		}, ErrMalformed, `"k": the key appears twice`},
		{"value type", func() []byte { return valid().kv("k", ValueType(13), uint8(1)).Bytes() }, ErrMalformed, `metadata key "k": unknown value type 13`},
		{"bool", func() []byte { return valid().kv("k", TypeBool, uint8(2)).Bytes() }, ErrMalformed, "neither 0 nor 1"},
		{"string length", func() []byte { return valid().kv("k", TypeString, uint64(100)).Bytes() }, ErrMalformed, "100 bytes long"},
		{"array length", func() []byte {
			return valid().kv("k", TypeArray, uint32(TypeUint32), uint64(1<<40)).Bytes()
		}, ErrMalformed, "array of 1099511627776 uint32"},
		{"array elem type", func() []byte {
			return valid().kv("k", TypeArray, uint32(99), uint64(0)).Bytes()
		}, ErrMalformed, "unknown array element type 99"},
		{"truncated array", func() []byte {
			return valid().kv("k", TypeArray, uint32(TypeUint16), uint64(3), uint16(1), uint16(2)).Bytes()
		}, ErrMalformed, "array of 3 uint16"},
		{"deep nesting", func() []byte {
			b := valid()
			b.str("k").u32(uint32(TypeArray))
			for range MaxArrayNesting + 1 {
				b.u32(uint32(TypeArray)).u64(1)
			}
			return b.pad(1, 64).Bytes()
		}, ErrMalformed, "nested deeper"},
		{"alignment type", func() []byte { return valid().kv(AlignmentKey, TypeUint64, uint64(32)).Bytes() }, ErrMalformed, "is uint64, want uint32"},
		{"alignment value", func() []byte { return valid().kv(AlignmentKey, TypeUint32, uint32(48)).Bytes() }, ErrMalformed, "power of two"},
		{"tensor dims", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{1, 1, 1, 1, 1}, TensorF32, 0).pad(32, 4).Bytes()
		}, ErrMalformed, `tensor "t": 5 dimensions`},
		{"tensor type", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{4}, TensorType(4), 0).pad(32, 16).Bytes()
		}, ErrMalformed, "unknown ggml type 4"},
		{"tensor block", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{33}, TensorQ4_0, 0).pad(32, 64).Bytes()
		}, ErrMalformed, "not a multiple of the Q4_0 block size 32"},
		{"tensor overflow", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{1 << 32, 1 << 32}, TensorF32, 0).pad(32, 4).Bytes()
		}, ErrMalformed, "overflows"},
		{"tensor size overflow", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{1 << 62}, TensorF32, 0).pad(32, 4).Bytes()
		}, ErrMalformed, "data size overflows"},
		{"tensor past end", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{8}, TensorF32, 0).pad(32, 31).Bytes()
		}, ErrMalformed, `tensor "t": its 32 bytes of data at offset 0`},
		{"tensor offset past end", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{1}, TensorF32, 1<<40).pad(32, 4).Bytes()
		}, ErrMalformed, "run past the end"},
		{"tensor misaligned", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{1}, TensorF32, 4).pad(32, 8).Bytes()
		}, ErrMalformed, "not a multiple of the alignment 32"},
		{"tensor overlap", func() []byte {
			var b builder
			return b.header(3, 2, 0).tensor("a", []uint64{16}, TensorF32, 0).tensor("b", []uint64{1}, TensorF32, 32).pad(32, 64).Bytes()
		}, ErrMalformed, `"a" (bytes 0..64) and "b" (from 32) overlap`},
		{"tensor duplicate", func() []byte {
			var b builder
			return b.header(3, 2, 0).tensor("a", []uint64{1}, TensorF32, 0).tensor("a", []uint64{1}, TensorF32, 32).pad(32, 64).Bytes()
		}, ErrMalformed, `tensor name "a" appears twice`},
		{"tensor name", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor(strings.Repeat("n", 65), []uint64{1}, TensorF32, 0).pad(32, 4).Bytes()
		}, ErrMalformed, "limit of 64"},
		{"empty tensor name", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("", []uint64{1}, TensorF32, 0).pad(32, 4).Bytes()
		}, ErrMalformed, "empty tensor name"},
		{"data section past end", func() []byte {
			var b builder
			return b.header(3, 1, 0).tensor("t", []uint64{0}, TensorF32, 0).Bytes()
		}, ErrMalformed, "past the end of the file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parse(t, tc.data())
			if err == nil {
				t.Fatalf("parsed: %+v", f)
			}
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), "test.gguf") {
				t.Errorf("got %v\nwant %v containing %q and the file name", err, tc.is, tc.msg)
			}
		})
	}
}

func TestGGUFVersion2AndNoTensors(t *testing.T) {
	var b builder
	b.header(2, 0, 1).kv("general.name", TypeString, "x")
	f, err := parse(t, b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if name, err := f.String("general.name"); err != nil || name != "x" || f.Version != 2 || f.Alignment != DefaultAlignment {
		t.Errorf("%q %v %+v", name, err, f)
	}
}

func TestGGUFStories260K(t *testing.T) {
	f, err := Open(stories260K)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.Tensors) != 48 || len(f.Metadata) != 19 || f.Alignment != 32 {
		t.Fatalf("version %d, %d tensors, %d keys, alignment %d", f.Version, len(f.Tensors), len(f.Metadata), f.Alignment)
	}
	str := func(key, want string) {
		t.Helper()
		if got, err := f.String(key); err != nil || got != want {
			t.Errorf("%s = %q, %v; want %q", key, got, err, want)
		}
	}
	u32 := func(key string, want uint32) {
		t.Helper()
		if got, err := f.Uint32(key); err != nil || got != want {
			t.Errorf("%s = %d, %v; want %d", key, got, err, want)
		}
	}
	str("general.architecture", "llama")
	str("tokenizer.ggml.model", "llama")
	u32("llama.embedding_length", 64)
	u32("llama.feed_forward_length", 172)
	u32("llama.block_count", 5)
	u32("llama.attention.head_count", 8)
	u32("llama.attention.head_count_kv", 4)
	u32("llama.context_length", 2048)
	u32("tokenizer.ggml.bos_token_id", 1)
	u32("tokenizer.ggml.eos_token_id", 2)
	if eps, err := f.Float32("llama.attention.layer_norm_rms_epsilon"); err != nil || eps != 1e-5 {
		t.Errorf("eps = %v, %v", eps, err)
	}
	toks, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil || len(toks) != 512 || toks[1] != "<s>" || toks[3] != "<0x00>" {
		t.Errorf("tokens: %d %v", len(toks), err)
	}
	scores, err := f.Float32s("tokenizer.ggml.scores")
	if err != nil || len(scores) != 512 || scores[511] != -252 {
		t.Errorf("scores: %d %v", len(scores), err)
	}
	types, err := f.Int32s("tokenizer.ggml.token_type")
	if err != nil || len(types) != 512 || types[0] != 2 || types[1] != 3 || types[3] != 6 || types[300] != 1 {
		t.Errorf("types: %d %v", len(types), err)
	}
	var total uint64
	for _, ti := range f.Tensors {
		if ti.Type != TensorF32 || ti.Size != 4*ti.Elements() {
			t.Errorf("tensor %+v", ti)
		}
		total += ti.Size
	}
	// 260,032 parameters plus output.weight, which the GGUF stores apart
	// from the token embedding it equals.
	if total != (260032+64*512)*4 {
		t.Errorf("%d parameters, want 292800", total/4)
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || !reflect.DeepEqual(emb.Dims, []uint64{64, 512}) || emb.Offset != 0 {
		t.Errorf("token_embd.weight = %+v", emb)
	}
	last := f.Tensors[len(f.Tensors)-1]
	if f.DataOffset%32 != 0 || uint64(f.DataOffset)+last.Offset+last.Size != uint64(f.Size) {
		t.Errorf("data offset %d, last tensor %+v, size %d", f.DataOffset, last, f.Size)
	}
	// The first embedding row read at DataOffset is finite float32 data.
	data, err := os.ReadFile(stories260K)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		x := math.Float32frombits(binary.LittleEndian.Uint32(data[f.DataOffset+int64(4*i):]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) || math.Abs(float64(x)) > 100 {
			t.Fatalf("embedding[0][%d] = %v", i, x)
		}
	}
}

func TestGGUFOpenErrors(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "missing.gguf")); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := Open(t.TempDir()); err == nil {
		t.Error("opened a directory")
	}
}

func TestGGUFValueString(t *testing.T) {
	f, err := Open(stories260K)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.Value("tokenizer.ggml.tokens")
	if s := v.String(); !strings.HasPrefix(s, `["<unk>" "<s>"`) || !strings.Contains(s, "(512 elements)") {
		t.Errorf("tokens: %s", s)
	}
	v, _ = f.Value("tokenizer.ggml.scores")
	if s := v.String(); !strings.HasPrefix(s, "[0 0 0") || !strings.Contains(s, "(512 elements)") {
		t.Errorf("scores: %s", s)
	}
	v, _ = f.Value("llama.block_count")
	if s := v.String(); s != "5" || v.TypeName() != "uint32" || v.Len() != 0 {
		t.Errorf("block_count: %s %s", s, v.TypeName())
	}
}

// FuzzOpen parses mutations of the real file and of the all-types file: it
// must never panic, and an accepted file must be self-consistent.
func FuzzOpen(f *testing.F) {
	real, err := os.ReadFile(stories260K)
	if err != nil {
		f.Fatal(err)
	}
	// The header and the vocabulary are what matter; keep seeds small.
	f.Add(real[:15000])
	f.Add(allTypes())
	for _, n := range []int{0, 3, 4, 8, 16, 24, 100, 5000, 14152, 14160} {
		f.Add(real[:n])
	}
	for _, at := range []int{4, 8, 16, 24, 40, 48, 3000, 8000, 14000} {
		flipped := bytes.Clone(real[:15000])
		flipped[at] ^= 0x80
		f.Add(flipped)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(bytes.NewReader(data), int64(len(data)), "fuzz.gguf")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.gguf") {
				t.Fatalf("error does not name the file: %v", err)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
				t.Fatalf("error wraps neither ErrMalformed nor ErrUnsupported: %v", err)
			}
			return
		}
		for _, ti := range file.Tensors {
			end := uint64(file.DataOffset) + ti.Offset + ti.Size
			if end > uint64(len(data)) || ti.Offset%file.Alignment != 0 {
				t.Fatalf("accepted tensor %+v outside the file (data offset %d, size %d)", ti, file.DataOffset, len(data))
			}
		}
		for _, kv := range file.Metadata {
			_ = kv.Value.String()
		}
	})
}
