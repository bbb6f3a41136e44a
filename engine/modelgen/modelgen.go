// Package modelgen generates llama-architecture models with seeded random
// weights, for benchmarks and tests of the inference engine: the same model
// as a GGUF file (the layout of llama.cpp, with weight matrices in F32, F16,
// Q8_0 or Q4_0 and the vocabulary embedded) and as a llama2.c checkpoint
// (.bin, float32), so that llama2.c's run.c can run it as a reference.
//
// # Weights
//
// Every weight matrix is drawn from a normal distribution with standard
// deviation Config.Std (0.02 by default) and every RMSNorm weight is 1. The
// values are a function of the seed, the tensor's GGUF name and the shape
// alone: each run of rows (ChunkRows of them) has its own PCG stream,
// seeded by the seed and a hash of the name and the chunk index, so the
// files are the same bytes for the same seed whatever the number of
// goroutines, and the F32 and quantised models of one seed hold the same
// weights before quantisation. Values returns them.
//
// # The two files hold the same model
//
// Both files store the projection matrices as PyTorch/llama2.c do, row-major
// with one row per output (GGUF dims [cols, rows]), and neither permutes the
// rows of attn_q and attn_k: llama2.c's run.c and llama.cpp's "norm" RoPE
// both rotate adjacent pairs (x[2i], x[2i+1]), and llama.cpp's own
// llama2.c converter copies these weights unpermuted. (Only checkpoints from
// Hugging Face, whose RoPE rotates halves, get permuted by llama.cpp's
// convert_hf_to_gguf.py.) The FFN matrices map w1→ffn_gate, w2→ffn_down,
// w3→ffn_up. When the GGUF type is quantised, the .bin holds the
// dequantised weights, so the two files still describe one model.
//
// The .bin is llama2.c's legacy (version 0) checkpoint: seven int32 (dim,
// hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) and then
// float32 token_embedding_table, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2,
// w3, rms_final, freq_cis_real and freq_cis_imag (cos and sin of
// pos·θ^(-2i/head_size), as llama2.c's export.py writes them; run.c ignores
// them). The classifier is shared with the embedding (vocab_size is
// positive), as in the stories models.
package modelgen

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/minerva-batch/minerva/engine/gguf"
	"github.com/minerva-batch/minerva/engine/tensor"
	"github.com/minerva-batch/minerva/engine/tokenizer"
)

// Config is the shape of a llama model.
type Config struct {
	Dim       int // embedding width (llama.embedding_length)
	HiddenDim int // FFN width (llama.feed_forward_length)
	Layers    int // transformer blocks (llama.block_count)
	Heads     int // query heads (llama.attention.head_count)
	KVHeads   int // key/value heads (llama.attention.head_count_kv)
	VocabSize int // vocabulary size; 0 takes the size of the vocabulary file
	SeqLen    int // context length (llama.context_length; llama2.c's seq_len)

	// NormEps is the RMSNorm epsilon; 0 means 1e-5 (llama2.c's fixed value).
	NormEps float32
	// RopeTheta is the RoPE base; 0 means 10000 (llama2.c's fixed value).
	RopeTheta float32
	// Std is the standard deviation of the weight matrices; 0 means 0.02.
	Std float64
}

// presets are the shapes of Karpathy's TinyStories models.
var presets = map[string]Config{
	"stories260K": {Dim: 64, HiddenDim: 172, Layers: 5, Heads: 8, KVHeads: 4, VocabSize: 512, SeqLen: 512},
	"stories15M":  {Dim: 288, HiddenDim: 768, Layers: 6, Heads: 6, KVHeads: 6, VocabSize: 32000, SeqLen: 256},
	"stories42M":  {Dim: 512, HiddenDim: 1376, Layers: 8, Heads: 8, KVHeads: 8, VocabSize: 32000, SeqLen: 1024},
	"stories110M": {Dim: 768, HiddenDim: 2048, Layers: 12, Heads: 12, KVHeads: 12, VocabSize: 32000, SeqLen: 1024},
}

// Preset returns the shape of a named model: "stories15M", "stories42M",
// "stories110M" (the llama2.c TinyStories models, with the 32000-token Llama
// 2 vocabulary) or "stories260K" (512 tokens; its HiddenDim of 172 allows
// only F32 and F16).
func Preset(name string) (Config, error) {
	c, ok := presets[name]
	if !ok {
		return Config{}, fmt.Errorf("modelgen: no preset %q (have %s)", name, strings.Join(Presets(), ", "))
	}
	return c, nil
}

// Presets lists the preset names, sorted.
func Presets() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// HeadSize is Dim/Heads.
func (c Config) HeadSize() int { return c.Dim / c.Heads }

// KVDim is the width of the keys and values, KVHeads·HeadSize.
func (c Config) KVDim() int { return c.KVHeads * c.HeadSize() }

// Params is the number of weights (the classifier shared with the
// embedding).
func (c Config) Params() int64 {
	d, h, kv, l := int64(c.Dim), int64(c.HiddenDim), int64(c.KVDim()), int64(c.Layers)
	return int64(c.VocabSize)*d + l*(2*d+2*d*d+2*d*kv+3*d*h) + d
}

func (c Config) withDefaults() Config {
	if c.NormEps == 0 {
		c.NormEps = 1e-5
	}
	if c.RopeTheta == 0 {
		c.RopeTheta = 10000
	}
	if c.Std == 0 {
		c.Std = 0.02
	}
	return c
}

// Validate checks that c describes a model both files can hold. A
// VocabSize of 0 is accepted (Generate takes it from the vocabulary).
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"Dim", c.Dim}, {"HiddenDim", c.HiddenDim}, {"Layers", c.Layers}, {"Heads", c.Heads}, {"KVHeads", c.KVHeads}, {"SeqLen", c.SeqLen}} {
		if f.v <= 0 || f.v > math.MaxInt32 {
			return fmt.Errorf("modelgen: %s is %d, want 1 to %d", f.name, f.v, math.MaxInt32)
		}
	}
	switch {
	case c.VocabSize < 0 || c.VocabSize > math.MaxInt32:
		return fmt.Errorf("modelgen: VocabSize is %d", c.VocabSize)
	case c.Dim%c.Heads != 0:
		return fmt.Errorf("modelgen: Dim %d is not a multiple of Heads %d", c.Dim, c.Heads)
	case c.HeadSize()%2 != 0:
		return fmt.Errorf("modelgen: the head size %d is odd; RoPE rotates pairs", c.HeadSize())
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("modelgen: Heads %d is not a multiple of KVHeads %d", c.Heads, c.KVHeads)
	case c.NormEps < 0 || c.RopeTheta < 0 || c.Std < 0 || math.IsNaN(c.Std) || math.IsInf(c.Std, 0):
		return fmt.Errorf("modelgen: NormEps %g, RopeTheta %g and Std %g must not be negative", c.NormEps, c.RopeTheta, c.Std)
	}
	return nil
}

// TensorSpec is one tensor of the GGUF file.
type TensorSpec struct {
	// Name is the GGUF tensor name, such as "blk.0.attn_q.weight".
	Name string
	// Rows and Cols are the matrix shape (GGUF dims [Cols, Rows]); an
	// RMSNorm weight has one row of Dim.
	Rows, Cols int
	// Norm marks an RMSNorm weight: all ones, always F32.
	Norm bool
}

// Dims are the GGUF dimensions, fastest-varying first.
func (s TensorSpec) Dims() []uint64 {
	if s.Norm {
		return []uint64{uint64(s.Cols)}
	}
	return []uint64{uint64(s.Cols), uint64(s.Rows)}
}

// Tensors lists the tensors of the GGUF file in file order, the order of
// llama.cpp's stories260K.gguf: token_embd, output_norm, then per block
// attn_q, attn_k, attn_v, attn_output, attn_norm, ffn_gate, ffn_down,
// ffn_up, ffn_norm. (Options.OutputWeight adds output.weight after
// output_norm.)
func (c Config) Tensors() []TensorSpec {
	d, h, kv := c.Dim, c.HiddenDim, c.KVDim()
	specs := []TensorSpec{
		{Name: "token_embd.weight", Rows: c.VocabSize, Cols: d},
		{Name: "output_norm.weight", Rows: 1, Cols: d, Norm: true},
	}
	for l := range c.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		specs = append(specs,
			TensorSpec{Name: p + "attn_q.weight", Rows: d, Cols: d},
			TensorSpec{Name: p + "attn_k.weight", Rows: kv, Cols: d},
			TensorSpec{Name: p + "attn_v.weight", Rows: kv, Cols: d},
			TensorSpec{Name: p + "attn_output.weight", Rows: d, Cols: d},
			TensorSpec{Name: p + "attn_norm.weight", Rows: 1, Cols: d, Norm: true},
			TensorSpec{Name: p + "ffn_gate.weight", Rows: h, Cols: d},
			TensorSpec{Name: p + "ffn_down.weight", Rows: d, Cols: h},
			TensorSpec{Name: p + "ffn_up.weight", Rows: h, Cols: d},
			TensorSpec{Name: p + "ffn_norm.weight", Rows: 1, Cols: d, Norm: true},
		)
	}
	return specs
}

// ChunkRows is the number of rows of a tensor drawn from one random stream:
// as many as make about 64K values.
func ChunkRows(cols int) int { return max(1, (1<<16)/cols) }

// streamSeed is the second PCG seed of a chunk of a tensor.
func streamSeed(name string, chunk int) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64() ^ uint64(chunk)*0x9e3779b97f4a7c15
}

// fill draws the values of rows [r0, r0+len(dst)/cols) of tensor s into
// dst; r0 is a multiple of ChunkRows(cols).
func fill(dst []float32, s TensorSpec, seed uint64, std float64, r0 int) {
	if s.Norm {
		for i := range dst {
			dst[i] = 1
		}
		return
	}
	name := s.Name
	if name == "output.weight" {
		name = "token_embd.weight"
	}
	cr := ChunkRows(s.Cols)
	for off := 0; off < len(dst); off += cr * s.Cols {
		rng := rand.New(rand.NewPCG(seed, streamSeed(name, (r0+off/s.Cols)/cr)))
		for i := off; i < min(len(dst), off+cr*s.Cols); i++ {
			dst[i] = float32(rng.NormFloat64() * std)
		}
	}
}

// Values returns the weights of the named GGUF tensor before quantisation,
// row-major: Rows×Cols values of its TensorSpec (output.weight, when
// written, has those of token_embd.weight).
func Values(cfg Config, seed uint64, name string) ([]float32, error) {
	cfg = cfg.withDefaults()
	for _, s := range cfg.Tensors() {
		if s.Name == name || name == "output.weight" && s.Name == "token_embd.weight" {
			s.Name = name
			out := make([]float32, s.Rows*s.Cols)
			fill(out, s, seed, cfg.Std, 0)
			return out, nil
		}
	}
	return nil, fmt.Errorf("modelgen: no tensor %q", name)
}

// Options say what Generate writes.
type Options struct {
	// Type is the GGUF type of the weight matrices and the token
	// embedding: tensor.F32, F16, Q8_0 or Q4_0 (whose blocks of 32 need
	// Dim and HiddenDim to be multiples of 32). RMSNorm weights stay F32.
	Type tensor.Type
	// Seed seeds the weights.
	Seed uint64
	// GGUFPath is where to write the GGUF file; "" writes none.
	GGUFPath string
	// BinPath is where to write the llama2.c checkpoint; "" writes none.
	BinPath string
	// VocabPath is the vocabulary to embed in the GGUF file's
	// tokenizer.ggml.* metadata: a SentencePiece tokenizer.model, a llama2.c
	// tokenizer .bin, or a .gguf. Required with GGUFPath, or when
	// Config.VocabSize is 0; its size must equal a non-zero VocabSize.
	VocabPath string
	// Name is general.name; "" means "modelgen".
	Name string
	// OutputWeight also writes output.weight, a copy of token_embd.weight,
	// as llama.cpp's stories260K.gguf has; without it the GGUF classifier
	// is tied to the embedding as in the .bin.
	OutputWeight bool
}

// Generate writes the model of shape cfg with the weights of opt.Seed to
// opt.GGUFPath and opt.BinPath. The files are written in place through
// temporary files beside them, renamed at the end, with all CPUs drawing
// weights in chunks: memory stays a few MiB whatever the model size.
func Generate(ctx context.Context, cfg Config, opt Options) error {
	if opt.GGUFPath == "" && opt.BinPath == "" {
		return errors.New("modelgen: neither GGUFPath nor BinPath is set")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if !opt.Type.Supported() {
		return fmt.Errorf("modelgen: tensor type %v is not one of F32, F16, Q8_0 and Q4_0", opt.Type)
	}
	for _, cols := range []int{cfg.Dim, cfg.HiddenDim} {
		if _, err := tensor.RowBytes(opt.Type, cols); err != nil {
			return fmt.Errorf("modelgen: %v", err)
		}
	}
	var vocab *tokenizer.SentencePiece
	if opt.VocabPath != "" {
		var err error
		if vocab, err = loadVocab(opt.VocabPath); err != nil {
			return err
		}
		switch {
		case cfg.VocabSize == 0:
			cfg.VocabSize = vocab.VocabSize()
		case cfg.VocabSize != vocab.VocabSize():
			return fmt.Errorf("modelgen: VocabSize is %d, but %s has %d tokens", cfg.VocabSize, opt.VocabPath, vocab.VocabSize())
		}
	} else if opt.GGUFPath != "" || cfg.VocabSize == 0 {
		return errors.New("modelgen: VocabPath is needed for a GGUF file or a VocabSize of 0")
	}
	g := &generator{cfg: cfg, opt: opt, specs: cfg.Tensors()}
	if opt.OutputWeight {
		out := g.specs[0]
		out.Name = "output.weight"
		g.specs = append(g.specs[:2], append([]TensorSpec{out}, g.specs[2:]...)...)
	}
	if err := g.open(vocab); err != nil {
		g.abort()
		return err
	}
	if err := g.run(ctx); err != nil {
		g.abort()
		return err
	}
	return g.commit()
}

// loadVocab loads the vocabulary file at path (tokenizer.LoadSentencePieceFile).
func loadVocab(path string) (*tokenizer.SentencePiece, error) {
	v, err := tokenizer.LoadSentencePieceFile(path)
	if err != nil {
		return nil, fmt.Errorf("modelgen: vocabulary: %w", err)
	}
	return v, nil
}

// VocabMetadata returns the tokenizer.ggml.* key/values of llama.cpp for
// vocab, in the order of stories260K.gguf: tokens (spaces spelled "▁";
// llama2.c's "\n<s>\n" and "\n</s>\n" spelled "<s>" and "</s>"), scores,
// token_type, model "llama", then the unknown, BOS, EOS, separator and
// padding ids (the last two none: uint32 max), as uint32. The general.*
// keys that llama.cpp puts between them are not included.
func VocabMetadata(vocab *tokenizer.SentencePiece) []gguf.KV {
	n := vocab.VocabSize()
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	unk := uint32(0)
	for i := range n {
		p, _ := vocab.Piece(int32(i))
		text := p.Text
		if p.Type == tokenizer.PieceControl || p.Type == tokenizer.PieceUnknown {
			text = strings.Trim(text, "\n")
		}
		tokens[i] = strings.ReplaceAll(text, " ", "▁")
		scores[i] = p.Score
		types[i] = int32(p.Type)
		if p.Type == tokenizer.PieceUnknown {
			unk = uint32(i)
		}
	}
	return []gguf.KV{
		{Key: "tokenizer.ggml.tokens", Value: gguf.MustValueOf(tokens)},
		{Key: "tokenizer.ggml.scores", Value: gguf.MustValueOf(scores)},
		{Key: "tokenizer.ggml.token_type", Value: gguf.MustValueOf(types)},
		{Key: "tokenizer.ggml.model", Value: gguf.MustValueOf("llama")},
		{Key: "tokenizer.ggml.unknown_token_id", Value: gguf.MustValueOf(unk)},
		{Key: "tokenizer.ggml.bos_token_id", Value: gguf.MustValueOf(uint32(vocab.BOS()))},
		{Key: "tokenizer.ggml.eos_token_id", Value: gguf.MustValueOf(uint32(vocab.EOS()))},
		{Key: "tokenizer.ggml.seperator_token_id", Value: gguf.MustValueOf(uint32(math.MaxUint32))},
		{Key: "tokenizer.ggml.padding_token_id", Value: gguf.MustValueOf(uint32(math.MaxUint32))},
	}
}

// fileType is llama.cpp's general.file_type (enum llama_ftype) of a model
// whose matrices are t.
func fileType(t tensor.Type) uint32 {
	switch t {
	case tensor.F16:
		return 1 // LLAMA_FTYPE_MOSTLY_F16
	case tensor.Q4_0:
		return 2 // LLAMA_FTYPE_MOSTLY_Q4_0
	case tensor.Q8_0:
		return 7 // LLAMA_FTYPE_MOSTLY_Q8_0
	}
	return 0 // LLAMA_FTYPE_ALL_F32
}

// Metadata returns the GGUF metadata of the model: the vocabulary's keys
// (VocabMetadata) with general.architecture and general.name among them
// where stories260K.gguf has them, the llama.* hyperparameters, then
// llama.rope.freq_base, general.file_type and, for quantised types,
// general.quantization_version 2.
func Metadata(cfg Config, typ tensor.Type, name string, vocab *tokenizer.SentencePiece) []gguf.KV {
	cfg = cfg.withDefaults()
	if name == "" {
		name = "modelgen"
	}
	u32 := func(n int) gguf.Value { return gguf.MustValueOf(uint32(n)) }
	voc := VocabMetadata(vocab)
	kvs := append([]gguf.KV{}, voc[:4]...)
	kvs = append(kvs,
		gguf.KV{Key: "general.architecture", Value: gguf.MustValueOf("llama")},
		gguf.KV{Key: "general.name", Value: gguf.MustValueOf(name)})
	kvs = append(kvs, voc[4:]...)
	kvs = append(kvs,
		gguf.KV{Key: "llama.context_length", Value: u32(cfg.SeqLen)},
		gguf.KV{Key: "llama.embedding_length", Value: u32(cfg.Dim)},
		gguf.KV{Key: "llama.feed_forward_length", Value: u32(cfg.HiddenDim)},
		gguf.KV{Key: "llama.attention.head_count", Value: u32(cfg.Heads)},
		gguf.KV{Key: "llama.attention.head_count_kv", Value: u32(cfg.KVHeads)},
		gguf.KV{Key: "llama.block_count", Value: u32(cfg.Layers)},
		gguf.KV{Key: "llama.rope.dimension_count", Value: u32(cfg.HeadSize())},
		gguf.KV{Key: "llama.attention.layer_norm_rms_epsilon", Value: gguf.MustValueOf(cfg.NormEps)},
		gguf.KV{Key: "llama.rope.freq_base", Value: gguf.MustValueOf(cfg.RopeTheta)},
		gguf.KV{Key: "general.file_type", Value: gguf.MustValueOf(fileType(typ))},
	)
	if typ == tensor.Q8_0 || typ == tensor.Q4_0 {
		kvs = append(kvs, gguf.KV{Key: "general.quantization_version", Value: gguf.MustValueOf(uint32(2))})
	}
	return kvs
}

// BinSize is the size in bytes of the llama2.c checkpoint of cfg.
func BinSize(cfg Config) int64 {
	return 28 + 4*(cfg.Params()+int64(cfg.SeqLen)*int64(cfg.HeadSize()))
}

// generator writes the two files.
type generator struct {
	cfg   Config
	opt   Options
	specs []TensorSpec

	gf, bf   *os.File // temporary files, nil when not written
	layout   *gguf.File
	ggufOffs []int64 // file offset of each spec's data in the GGUF file
	binOffs  []int64 // file offset of each spec's data in the .bin, -1 if absent
}

func (g *generator) open(vocab *tokenizer.SentencePiece) error {
	var err error
	if g.opt.GGUFPath != "" {
		infos := make([]gguf.TensorInfo, len(g.specs))
		for i, s := range g.specs {
			t := gguf.TensorType(g.opt.Type)
			if s.Norm {
				t = gguf.TensorF32
			}
			infos[i] = gguf.TensorInfo{Name: s.Name, Dims: s.Dims(), Type: t}
		}
		if g.layout, err = gguf.Layout(Metadata(g.cfg, g.opt.Type, g.opt.Name, vocab), infos); err != nil {
			return fmt.Errorf("modelgen: %w", err)
		}
		g.ggufOffs = make([]int64, len(g.specs))
		for i, t := range g.layout.Tensors {
			g.ggufOffs[i] = g.layout.DataOffset + int64(t.Offset)
		}
		if g.gf, err = create(g.opt.GGUFPath, g.layout.Size); err != nil {
			return err
		}
		w := &offsetWriter{f: g.gf}
		if err := g.layout.WriteHeader(w); err != nil {
			return fmt.Errorf("modelgen: %s: %w", g.opt.GGUFPath, err)
		}
	}
	if g.opt.BinPath != "" {
		g.binOffs = g.binOffsets()
		if g.bf, err = create(g.opt.BinPath, BinSize(g.cfg)); err != nil {
			return err
		}
		c := g.cfg
		hdr := make([]byte, 28)
		for i, v := range []int{c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.VocabSize, c.SeqLen} {
			binary.LittleEndian.PutUint32(hdr[4*i:], uint32(int32(v)))
		}
		if _, err := g.bf.WriteAt(hdr, 0); err != nil {
			return fmt.Errorf("modelgen: %w", err)
		}
	}
	return nil
}

// create makes a temporary file beside path, of size bytes.
func create(path string, size int64) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("modelgen: %w", err)
	}
	// CreateTemp makes the file 0600; a model is an ordinary file.
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("modelgen: %w", err)
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("modelgen: %w", err)
	}
	return f, nil
}

// offsetWriter writes sequentially with WriteAt.
type offsetWriter struct {
	f   *os.File
	off int64
}

func (w *offsetWriter) Write(p []byte) (int, error) {
	n, err := w.f.WriteAt(p, w.off)
	w.off += int64(n)
	return n, err
}

// binOffsets places each spec in the llama2.c checkpoint.
func (g *generator) binOffsets() []int64 {
	c := g.cfg
	d, h, kv, l, v := int64(c.Dim), int64(c.HiddenDim), int64(c.KVDim()), int64(c.Layers), int64(c.VocabSize)
	// Start (in floats) of each llama2.c array, all layers together.
	emb := int64(0)
	rmsAtt := emb + v*d
	wq := rmsAtt + l*d
	wk := wq + l*d*d
	wv := wk + l*d*kv
	wo := wv + l*d*kv
	rmsFFN := wo + l*d*d
	w1 := rmsFFN + l*d
	w2 := w1 + l*h*d
	w3 := w2 + l*d*h
	rmsFinal := w3 + l*h*d
	offs := make([]int64, len(g.specs))
	for i, s := range g.specs {
		var layer int64
		var base, per int64
		kind := s.Name
		if strings.HasPrefix(kind, "blk.") {
			rest := kind[len("blk."):]
			dot := strings.IndexByte(rest, '.')
			n, _ := strconv.Atoi(rest[:dot])
			layer = int64(n)
			kind = rest[dot+1:]
		}
		switch kind {
		case "token_embd.weight":
			base = emb
		case "output_norm.weight":
			base = rmsFinal
		case "output.weight":
			offs[i] = -1
			continue
		case "attn_norm.weight":
			base, per = rmsAtt, d
		case "attn_q.weight":
			base, per = wq, d*d
		case "attn_k.weight":
			base, per = wk, d*kv
		case "attn_v.weight":
			base, per = wv, d*kv
		case "attn_output.weight":
			base, per = wo, d*d
		case "ffn_norm.weight":
			base, per = rmsFFN, d
		case "ffn_gate.weight":
			base, per = w1, h*d
		case "ffn_down.weight":
			base, per = w2, d*h
		case "ffn_up.weight":
			base, per = w3, h*d
		}
		offs[i] = 28 + 4*(base+layer*per)
	}
	return offs
}

// job is a run of rows of one tensor.
type job struct {
	spec   int
	r0, r1 int
}

func (g *generator) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
			cancel()
		}
		mu.Unlock()
	}
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var w worker
			for j := range jobs {
				if err := g.do(&w, j); err != nil {
					fail(err)
				}
			}
		}()
	}
	// The freq_cis tables, while the workers start.
	if g.bf != nil {
		if err := g.writeFreqCis(); err != nil {
			fail(err)
		}
	}
feed:
	for i, s := range g.specs {
		// Several chunks per job keep the writes large.
		step := ChunkRows(s.Cols) * max(1, (1<<20)/(ChunkRows(s.Cols)*s.Cols))
		for r0 := 0; r0 < s.Rows; r0 += step {
			select {
			case jobs <- job{i, r0, min(s.Rows, r0+step)}:
			case <-ctx.Done():
				break feed
			}
		}
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// worker holds one goroutine's buffers.
type worker struct {
	vals, deq []float32
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// do draws, encodes and writes one job.
func (g *generator) do(w *worker, j job) error {
	s := g.specs[j.spec]
	n := (j.r1 - j.r0) * s.Cols
	w.vals = grow(w.vals, n)
	fill(w.vals, s, g.opt.Seed, g.cfg.Std, j.r0)
	f32 := tensor.F32Bytes(w.vals)
	binData := f32
	if g.gf != nil {
		typ := g.opt.Type
		if s.Norm {
			typ = tensor.F32
		}
		enc, err := tensor.Quantize(typ, w.vals, s.Cols)
		if err != nil {
			return fmt.Errorf("modelgen: %s: %w", s.Name, err)
		}
		rb, _ := tensor.RowBytes(typ, s.Cols)
		if _, err := g.gf.WriteAt(enc, g.ggufOffs[j.spec]+int64(j.r0*rb)); err != nil {
			return fmt.Errorf("modelgen: %w", err)
		}
		if typ != tensor.F32 && g.bf != nil && g.binOffs[j.spec] >= 0 {
			// The .bin gets the weights the GGUF file holds.
			m, err := tensor.NewMatrix(typ, j.r1-j.r0, s.Cols, enc)
			if err != nil {
				return fmt.Errorf("modelgen: %s: %w", s.Name, err)
			}
			w.deq = grow(w.deq, n)
			for r := range m.Rows {
				m.Row(r, w.deq[r*s.Cols:])
			}
			binData = tensor.F32Bytes(w.deq)
		}
	}
	if g.bf != nil && g.binOffs[j.spec] >= 0 {
		if _, err := g.bf.WriteAt(binData, g.binOffs[j.spec]+int64(j.r0*s.Cols*4)); err != nil {
			return fmt.Errorf("modelgen: %w", err)
		}
	}
	return nil
}

// writeFreqCis writes llama2.c's freq_cis_real and freq_cis_imag.
func (g *generator) writeFreqCis() error {
	c := g.cfg
	hs := c.HeadSize()
	half := hs / 2
	re := make([]float32, c.SeqLen*half)
	im := make([]float32, c.SeqLen*half)
	for i := range half {
		// As export.py: 1/θ^(2i/head_size) in float32, times pos.
		freq := float32(1 / math.Pow(float64(c.RopeTheta), float64(2*i)/float64(hs)))
		for pos := range c.SeqLen {
			a := float64(float32(pos) * freq)
			re[pos*half+i] = float32(math.Cos(a))
			im[pos*half+i] = float32(math.Sin(a))
		}
	}
	off := 28 + 4*c.Params() // right after rms_final
	if _, err := g.bf.WriteAt(tensor.F32Bytes(re), off); err != nil {
		return fmt.Errorf("modelgen: %w", err)
	}
	if _, err := g.bf.WriteAt(tensor.F32Bytes(im), off+int64(len(re))*4); err != nil {
		return fmt.Errorf("modelgen: %w", err)
	}
	return nil
}

// commit closes the temporary files and renames them into place.
func (g *generator) commit() error {
	for _, p := range []struct {
		f    *os.File
		path string
	}{{g.gf, g.opt.GGUFPath}, {g.bf, g.opt.BinPath}} {
		if p.f == nil {
			continue
		}
		if err := p.f.Close(); err != nil {
			g.abort()
			return fmt.Errorf("modelgen: %w", err)
		}
		if err := os.Rename(p.f.Name(), p.path); err != nil {
			g.abort()
			return fmt.Errorf("modelgen: %w", err)
		}
	}
	return nil
}

// abort removes the temporary files.
func (g *generator) abort() {
	for _, f := range []*os.File{g.gf, g.bf} {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}
}

// Cached returns the GGUF file of preset shape with weights of type typ
// (seed 1, vocabulary vocab) in dir, generating it first unless it is
// there; with tensor.F32 it also writes the llama2.c checkpoint
// <shape>.bin beside it. bin is that checkpoint's path.
func Cached(ctx context.Context, dir, shape string, typ tensor.Type, vocab string) (gguf, bin string, err error) {
	gguf = filepath.Join(dir, fmt.Sprintf("%s-%s.gguf", shape, typ))
	bin = filepath.Join(dir, shape+".bin")
	if _, err := os.Stat(gguf); err == nil {
		return gguf, bin, nil
	}
	cfg, err := Preset(shape)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("modelgen: %w", err)
	}
	opt := Options{Type: typ, Seed: 1, GGUFPath: gguf, VocabPath: vocab, Name: shape}
	if typ == tensor.F32 {
		opt.BinPath = bin
	}
	start := time.Now()
	if err := Generate(ctx, cfg, opt); err != nil {
		return "", "", err
	}
	slog.Info("generated a model", "path", gguf, "took", time.Since(start).Round(time.Millisecond))
	return gguf, bin, nil
}
