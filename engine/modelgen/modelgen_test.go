package modelgen

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/gguf"
	"github.com/minerva-batch/minerva/engine/tensor"
	"github.com/minerva-batch/minerva/engine/tokenizer"
)

const (
	models     = "../../../shared/models/"
	tok512     = models + "stories260K/tok512.bin"
	ref260K    = models + "stories260K/stories260K.gguf"
	llama2Tok  = models + "llama2-tokenizer/tokenizer.model"
	llama2Bin  = models + "llama2-tokenizer/tokenizer.bin"
	smallSeed  = 42
	otherSeed  = 43
	smallVocab = 512
)

// small is a small model with grouped-query attention whose widths are
// multiples of 32, so that every type applies.
var small = Config{Dim: 64, HiddenDim: 96, Layers: 2, Heads: 4, KVHeads: 2, SeqLen: 32}

func need(t *testing.T, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("shared model file not available: %v", err)
		}
	}
}

// gen generates the small model and returns the two files' bytes.
func gen(t *testing.T, cfg Config, typ tensor.Type, seed uint64, output bool) (ggufData, bin []byte) {
	t.Helper()
	dir := t.TempDir()
	opt := Options{Type: typ, Seed: seed, GGUFPath: filepath.Join(dir, "m.gguf"), BinPath: filepath.Join(dir, "m.bin"),
		VocabPath: tok512, OutputWeight: output}
	if err := Generate(context.Background(), cfg, opt); err != nil {
		t.Fatal(err)
	}
	var err error
	if ggufData, err = os.ReadFile(opt.GGUFPath); err != nil {
		t.Fatal(err)
	}
	if bin, err = os.ReadFile(opt.BinPath); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*tmp")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	return ggufData, bin
}

func parse(t *testing.T, data []byte) *gguf.File {
	t.Helper()
	f, err := gguf.Parse(bytes.NewReader(data), int64(len(data)), "m.gguf")
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// matrix returns a GGUF tensor as a tensor.Matrix (a copy, so F32 data
// is aligned).
func matrix(t *testing.T, f *gguf.File, data []byte, name string) *tensor.Matrix {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("no tensor %q", name)
	}
	rows := 1
	if len(ti.Dims) == 2 {
		rows = int(ti.Dims[1])
	}
	b := make([]byte, ti.Size)
	copy(b, data[f.DataOffset+int64(ti.Offset):])
	m, err := tensor.NewMatrix(tensor.Type(ti.Type), rows, int(ti.Dims[0]), b)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func TestModelgenTypes(t *testing.T) {
	need(t, tok512)
	cfg := small
	cfg.VocabSize = smallVocab
	tests := []struct {
		typ    tensor.Type
		maxErr float64 // bound on |dequantised - drawn| relative to the row's max |value|
	}{
		{tensor.F32, 0},
		{tensor.F16, 1.0 / 1024},
		{tensor.Q8_0, 1.0 / 127},
		{tensor.Q4_0, 1.0 / 7},
	}
	for _, tt := range tests {
		t.Run(tt.typ.String(), func(t *testing.T) {
			data, bin := gen(t, cfg, tt.typ, smallSeed, false)
			f := parse(t, data)
			specs := cfg.Tensors()
			if len(f.Tensors) != len(specs) || len(specs) != 2+9*cfg.Layers {
				t.Fatalf("%d tensors, want %d", len(f.Tensors), len(specs))
			}
			for i, s := range specs {
				ti := f.Tensors[i]
				wantType := gguf.TensorType(tt.typ)
				if s.Norm {
					wantType = gguf.TensorF32
				}
				rb, _ := tensor.RowBytes(tensor.Type(wantType), s.Cols)
				if ti.Name != s.Name || !reflect.DeepEqual(ti.Dims, s.Dims()) || ti.Type != wantType || ti.Size != uint64(rb*s.Rows) {
					t.Errorf("tensor %d = %s %v %s %d bytes; want %s %v %s %d", i, ti.Name, ti.Dims, ti.Type, ti.Size, s.Name, s.Dims(), wantType, rb*s.Rows)
				}
			}
			if k, _ := f.Tensor("blk.1.attn_k.weight"); !reflect.DeepEqual(k.Dims, []uint64{64, 32}) {
				t.Errorf("attn_k dims %v, want [64 32] (kv_dim 32)", k.Dims)
			}
			if got, want := int64(len(bin)), BinSize(cfg); got != want {
				t.Errorf(".bin is %d bytes, want %d", got, want)
			}
			// Every matrix dequantises to the drawn values within the
			// type's error, and the .bin holds exactly the dequantised
			// values, at llama2.c's place.
			offs := (&generator{cfg: cfg.withDefaults(), specs: specs}).binOffsets()
			for i, s := range specs {
				want, err := Values(cfg, smallSeed, s.Name)
				if err != nil {
					t.Fatal(err)
				}
				m := matrix(t, f, data, s.Name)
				row := make([]float32, s.Cols)
				for r := range s.Rows {
					m.Row(r, row)
					w := want[r*s.Cols : (r+1)*s.Cols]
					var amax, worst float64
					for c := range w {
						amax = max(amax, math.Abs(float64(w[c])))
						worst = max(worst, math.Abs(float64(row[c]-w[c])))
					}
					if worst > tt.maxErr*amax {
						t.Fatalf("%s row %d: error %g > %g × max %g", s.Name, r, worst, tt.maxErr, amax)
					}
					b := bin[offs[i]+int64(4*r*s.Cols):]
					for c := range row {
						if got := math.Float32frombits(binary.LittleEndian.Uint32(b[4*c:])); got != row[c] {
							t.Fatalf("%s row %d col %d: .bin has %g, GGUF %g", s.Name, r, c, got, row[c])
						}
					}
				}
			}
		})
	}
}

func TestModelgenMetadata(t *testing.T) {
	need(t, tok512, ref260K)
	ref, err := gguf.Open(ref260K)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Preset("stories260K")
	if err != nil {
		t.Fatal(err)
	}
	data, bin := gen(t, cfg, tensor.F32, smallSeed, true)
	f := parse(t, data)
	// Every key of llama.cpp's stories260K.gguf, with its type, and the
	// same value except the context length (the converter wrote 2048) and
	// the name.
	for _, kv := range ref.Metadata {
		got, ok := f.Value(kv.Key)
		switch {
		case !ok:
			t.Errorf("key %q is missing", kv.Key)
		case got.TypeName() != kv.Value.TypeName():
			t.Errorf("key %q is %s, want %s", kv.Key, got.TypeName(), kv.Value.TypeName())
		case kv.Key == "llama.context_length" || kv.Key == "general.name":
		case !reflect.DeepEqual(got, kv.Value):
			t.Errorf("key %q = %v, want %v", kv.Key, got, kv.Value)
		}
	}
	if n, _ := f.Int("llama.context_length"); n != 512 {
		t.Errorf("context length %d, want 512", n)
	}
	// Same tensors, names, order, dims and types as the reference.
	if len(f.Tensors) != len(ref.Tensors) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ref.Tensors))
	}
	for i, rt := range ref.Tensors {
		if gt := f.Tensors[i]; gt.Name != rt.Name || !reflect.DeepEqual(gt.Dims, rt.Dims) || gt.Type != rt.Type || gt.Size != rt.Size {
			t.Errorf("tensor %d = %s %v %s; want %s %v %s", i, gt.Name, gt.Dims, gt.Type, rt.Name, rt.Dims, rt.Type)
		}
	}
	emb := matrix(t, f, data, "token_embd.weight")
	out := matrix(t, f, data, "output.weight")
	if !bytes.Equal(emb.Data, out.Data) {
		t.Error("output.weight differs from token_embd.weight")
	}
	// The vocabulary reads back with the tokenizer package, encoding as
	// the original does.
	voc, err := tokenizer.SentencePieceFromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := tokenizer.LoadLlama2C(tok512)
	for _, text := range []string{"Once upon a time", "Lily liked ünïcode 🙂"} {
		g, _ := voc.Encode(text)
		w, _ := want.Encode(text)
		if !reflect.DeepEqual(g, w) {
			t.Errorf("Encode(%q) = %v, want %v", text, g, w)
		}
	}
	// The .bin header and size; the stories260K .bin has the same size.
	hdr := make([]int32, 7)
	binary.Read(bytes.NewReader(bin), binary.LittleEndian, hdr)
	if !reflect.DeepEqual(hdr, []int32{64, 172, 5, 8, 4, 512, 512}) {
		t.Errorf(".bin header %v", hdr)
	}
	if st, err := os.Stat(models + "stories260K/stories260K.bin"); err == nil && st.Size() != int64(len(bin)) {
		t.Errorf(".bin is %d bytes; stories260K.bin is %d", len(bin), st.Size())
	}
	// freq_cis as export.py: cos and sin of pos·10000^(-2i/8).
	tail := bin[len(bin)-2*512*4*4:]
	at := func(i int) float64 { return float64(math.Float32frombits(binary.LittleEndian.Uint32(tail[4*i:]))) }
	pos, i := 7, 3
	angle := float64(pos) * math.Pow(10000, -2*float64(i)/8)
	if re, im := at(pos*4+i), at(512*4+pos*4+i); math.Abs(re-math.Cos(angle)) > 1e-6 || math.Abs(im-math.Sin(angle)) > 1e-6 {
		t.Errorf("freq_cis[%d][%d] = %g, %g; want %g, %g", pos, i, re, im, math.Cos(angle), math.Sin(angle))
	}
}

func TestModelgenVocabFormats(t *testing.T) {
	need(t, llama2Tok, llama2Bin, tok512, ref260K)
	ref, err := gguf.Open(ref260K)
	if err != nil {
		t.Fatal(err)
	}
	// tok512.bin (llama2.c format) gives back the GGUF's own vocabulary.
	v, err := loadVocab(tok512)
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range VocabMetadata(v) {
		if want, _ := ref.Value(kv.Key); !reflect.DeepEqual(kv.Value, want) {
			t.Errorf("from tok512.bin: %s = %v, want %v", kv.Key, kv.Value, want)
		}
	}
	// The Llama 2 vocabulary from tokenizer.model and from tokenizer.bin.
	fromModel, err := loadVocab(llama2Tok)
	if err != nil {
		t.Fatal(err)
	}
	fromBin, err := loadVocab(llama2Bin)
	if err != nil {
		t.Fatal(err)
	}
	m, b := VocabMetadata(fromModel), VocabMetadata(fromBin)
	toks := m[0].Value.Interface().([]string)
	if len(toks) != 32000 || toks[1] != "<s>" || toks[2] != "</s>" || toks[13] != "<0x0A>" || toks[29871] != "▁" {
		t.Errorf("Llama 2 tokens: %d, %q %q %q %q", len(toks), toks[1], toks[2], toks[13], toks[29871])
	}
	for i := range m {
		if m[i].Key == "tokenizer.ggml.scores" {
			continue // tokenizer.bin stores the same scores; compared below
		}
		if !reflect.DeepEqual(m[i], b[i]) {
			t.Errorf("%s differs between tokenizer.model and tokenizer.bin", m[i].Key)
		}
	}
	ms, bs := m[1].Value.Interface().([]float32), b[1].Value.Interface().([]float32)
	if !reflect.DeepEqual(ms, bs) {
		t.Error("scores differ between tokenizer.model and tokenizer.bin")
	}
}

func TestModelgenDeterministic(t *testing.T) {
	need(t, tok512)
	cfg := small
	g1, b1 := gen(t, cfg, tensor.Q8_0, smallSeed, false)
	g2, b2 := gen(t, cfg, tensor.Q8_0, smallSeed, false)
	if !bytes.Equal(g1, g2) || !bytes.Equal(b1, b2) {
		t.Error("the same seed gave different files")
	}
	g3, b3 := gen(t, cfg, tensor.Q8_0, otherSeed, false)
	if bytes.Equal(g1, g3) || bytes.Equal(b1, b3) {
		t.Error("another seed gave the same files")
	}
	// The F32 model of the seed holds the drawn values exactly.
	_, bf := gen(t, cfg, tensor.F32, smallSeed, false)
	want, _ := Values(cfg.withVocab(smallVocab), smallSeed, "token_embd.weight")
	if !bytes.Equal(bf[28:28+4*len(want)], tensor.F32Bytes(want)) {
		t.Error("the F32 .bin does not start with the drawn embedding")
	}
}

func (c Config) withVocab(n int) Config { c.VocabSize = n; return c }

func TestModelgenValues(t *testing.T) {
	cfg := small.withVocab(100)
	v, err := Values(cfg, 1, "blk.1.ffn_down.weight")
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != 64*96 {
		t.Fatalf("%d values, want %d", len(v), 64*96)
	}
	var sum, sq float64
	for _, x := range v {
		sum += float64(x)
		sq += float64(x) * float64(x)
	}
	mean, std := sum/float64(len(v)), math.Sqrt(sq/float64(len(v)))
	if math.Abs(mean) > 0.002 || math.Abs(std-0.02) > 0.002 {
		t.Errorf("mean %g, std %g; want about 0 and 0.02", mean, std)
	}
	norm, _ := Values(cfg, 1, "blk.0.attn_norm.weight")
	for _, x := range norm {
		if x != 1 {
			t.Fatalf("norm weight %g, want 1", x)
		}
	}
	if _, err := Values(cfg, 1, "nope"); err == nil {
		t.Error("Values of an unknown tensor")
	}
	emb, _ := Values(cfg, 1, "token_embd.weight")
	out, _ := Values(cfg, 1, "output.weight")
	if !reflect.DeepEqual(emb, out) {
		t.Error("output.weight values differ from token_embd.weight")
	}
}

func TestModelgenPresets(t *testing.T) {
	tests := []struct {
		name   string
		params int64
		bin    int64
	}{
		// llama2.c's stories15M.bin is 60,816,028 bytes.
		{"stories15M", 15191712, 60816028},
		{"stories110M", 109529856, 438381596},
		{"stories260K", 260032, 1056540},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Preset(tt.name)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Params() != tt.params || BinSize(c) != tt.bin {
				t.Errorf("params %d, .bin %d bytes; want %d, %d", c.Params(), BinSize(c), tt.params, tt.bin)
			}
		})
	}
	if _, err := Preset("stories1B"); err == nil || !strings.Contains(err.Error(), "stories15M") {
		t.Errorf("Preset(stories1B): %v", err)
	}
}

func TestModelgenErrors(t *testing.T) {
	need(t, tok512)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.gguf")
	tests := []struct {
		name string
		cfg  Config
		opt  Options
		want string
	}{
		{"no output", small, Options{VocabPath: tok512}, "neither"},
		{"zero dim", Config{HiddenDim: 1, Layers: 1, Heads: 1, KVHeads: 1, SeqLen: 1}, Options{GGUFPath: out, VocabPath: tok512}, "Dim is 0"},
		{"heads", Config{Dim: 64, HiddenDim: 64, Layers: 1, Heads: 3, KVHeads: 1, SeqLen: 1}, Options{GGUFPath: out, VocabPath: tok512}, "multiple of Heads"},
		{"kv heads", Config{Dim: 64, HiddenDim: 64, Layers: 1, Heads: 4, KVHeads: 3, SeqLen: 1}, Options{GGUFPath: out, VocabPath: tok512}, "multiple of KVHeads"},
		{"odd head", Config{Dim: 12, HiddenDim: 64, Layers: 1, Heads: 4, KVHeads: 4, SeqLen: 1}, Options{GGUFPath: out, VocabPath: tok512}, "odd"},
		{"q4 of 172", Config{Dim: 64, HiddenDim: 172, Layers: 1, Heads: 4, KVHeads: 4, SeqLen: 1}, Options{Type: tensor.Q4_0, GGUFPath: out, VocabPath: tok512}, "block size"},
		{"type", small, Options{Type: 3, GGUFPath: out, VocabPath: tok512}, "not one of"},
		{"vocab size", small.withVocab(100), Options{GGUFPath: out, VocabPath: tok512}, "512 tokens"},
		{"no vocab", small.withVocab(512), Options{GGUFPath: out}, "VocabPath is needed"},
		{"bad vocab", small, Options{GGUFPath: out, VocabPath: filepath.Join(dir, "none.bin")}, "vocabulary"},
		{"bad dir", small, Options{GGUFPath: filepath.Join(dir, "no", "m.gguf"), VocabPath: tok512}, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Generate(context.Background(), tt.cfg, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Generate: %v; want an error containing %q", err, tt.want)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Generate(ctx, small, Options{GGUFPath: out, BinPath: filepath.Join(dir, "m.bin"), VocabPath: tok512})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Generate with a cancelled context: %v", err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left after errors: %v", left)
	}
}

// TestModelgenBinOnly writes only the .bin, with no vocabulary.
func TestModelgenBinOnly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "m.bin")
	cfg := small.withVocab(64)
	if err := Generate(context.Background(), cfg, Options{BinPath: bin, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(bin); err != nil || st.Size() != BinSize(cfg) {
		t.Errorf("stat: %v, %v; want %d bytes", st, err, BinSize(cfg))
	}
}
