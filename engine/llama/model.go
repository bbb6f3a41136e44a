package llama

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/minerva-batch/minerva/engine/gguf"
	"github.com/minerva-batch/minerva/engine/tensor"
	"github.com/minerva-batch/minerva/engine/tokenizer"
)

// Model is a loaded llama-architecture model: its hyper-parameters, its
// weights (memory-mapped from the file, never copied or expanded) and its
// tokenizer. A Model is immutable and safe for concurrent use; Close unmaps
// it once nothing uses it any more.
type Model struct {
	// Config holds the hyper-parameters.
	Config Config
	// Tokenizer is the model's own vocabulary.
	Tokenizer *tokenizer.SentencePiece
	// Path is the file the weights were loaded from; Format is "gguf" or
	// "llama2c".
	Path, Format string
	// WeightType names the layout of the largest weight matrices ("F32",
	// "Q8_0", …).
	WeightType string
	// WeightBytes is the number of bytes of weights mapped.
	WeightBytes int64
	// LoadTime is how long loading took.
	LoadTime time.Duration

	embed   *tensor.Matrix
	layers  []layer
	outNorm []float32
	cls     *tensor.Matrix
	unmap   func() error
}

// layer holds the weights of one transformer block. Matrices are stored
// as [out][in] rows.
type layer struct {
	attnNorm, ffnNorm []float32
	wq, wk, wv, wo    *tensor.Matrix
	w1, w2, w3        *tensor.Matrix // gate, down, up
}

// Options configure Load.
type Options struct {
	// TokenizerPath is a tokenizer file to use instead of the model's own
	// vocabulary: a llama2.c tokenizer.bin, a SentencePiece tokenizer.model
	// or a GGUF file. A llama2.c checkpoint has no vocabulary, so for it the
	// default is tokenizer.bin in the model's folder.
	TokenizerPath string
	// Context, if positive, caps the context length below the model's own.
	Context int
}

// Load loads a model file: GGUF (v2 or v3, architecture llama) or a llama2.c
// checkpoint, told apart by the file's magic. A truncated, corrupt or
// unsupported file is an error naming the file and what is wrong.
func Load(path string, opts Options) (*Model, error) {
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("llama: %s is a folder, not a model file", path)
	}
	var magic [4]byte
	if _, err := f.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("llama: %s: too short to be a model file (%d bytes)", path, st.Size())
	}
	data, unmap, err := mapFile(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	var m *Model
	if string(magic[:]) == gguf.Magic {
		m, err = loadGGUF(path, data, opts)
	} else {
		m, err = loadLlama2C(path, data, opts)
	}
	if err != nil {
		unmap()
		return nil, err
	}
	m.unmap = unmap
	if opts.Context > 0 && opts.Context < m.Config.Context {
		m.Config.Context = opts.Context
	}
	if m.Tokenizer.VocabSize() != m.Config.Vocab {
		unmap()
		return nil, fmt.Errorf("llama: %s: tokenizer %s has %d tokens, the model %d", path, m.Tokenizer.Name(), m.Tokenizer.VocabSize(), m.Config.Vocab)
	}
	m.LoadTime = time.Since(start)
	return m, nil
}

// Close releases the model's memory mapping. The model must not be used after.
func (m *Model) Close() error {
	if m.unmap == nil {
		return nil
	}
	err := m.unmap()
	m.unmap = nil
	return err
}

// String describes the model in one line.
func (m *Model) String() string {
	c := m.Config
	return fmt.Sprintf("%s (%s %s): dim %d, hidden %d, %d layers, %d heads (%d kv), vocab %d, context %d; %.1f MB of weights mapped, loaded in %v",
		filepath.Base(m.Path), m.Format, m.WeightType, c.Dim, c.HiddenDim, c.Layers, c.Heads, c.KVHeads, c.Vocab, c.Context,
		float64(m.WeightBytes)/1e6, m.LoadTime.Round(time.Microsecond))
}

// ---- GGUF ----

func loadGGUF(path string, data []byte, opts Options) (*Model, error) {
	f, err := gguf.Parse(bytes.NewReader(data), int64(len(data)), path)
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("llama: %s: %s", path, fmt.Sprintf(format, args...))
	}
	arch, err := f.String("general.architecture")
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	if arch != "llama" {
		return nil, fail("general.architecture is %q; only \"llama\" models are supported", arch)
	}
	geti := func(key string, def int64) (int, error) {
		if !f.Has(key) && def >= 0 {
			return int(def), nil
		}
		v, err := f.Int(key)
		if err != nil {
			return 0, fmt.Errorf("llama: %w", err)
		}
		if v <= 0 || v > 1<<30 {
			return 0, fail("%s is %d; want a positive size", key, v)
		}
		return int(v), nil
	}
	getf := func(key string, def float32) (float32, error) {
		if !f.Has(key) {
			return def, nil
		}
		v, err := f.Float32(key)
		if err != nil {
			return 0, fmt.Errorf("llama: %w", err)
		}
		return v, nil
	}
	var c Config
	if c.Dim, err = geti("llama.embedding_length", -1); err != nil {
		return nil, err
	}
	if c.HiddenDim, err = geti("llama.feed_forward_length", -1); err != nil {
		return nil, err
	}
	if c.Layers, err = geti("llama.block_count", -1); err != nil {
		return nil, err
	}
	if c.Heads, err = geti("llama.attention.head_count", -1); err != nil {
		return nil, err
	}
	if c.KVHeads, err = geti("llama.attention.head_count_kv", int64(c.Heads)); err != nil {
		return nil, err
	}
	if c.Context, err = geti("llama.context_length", -1); err != nil {
		return nil, err
	}
	if c.Heads > 0 && c.Dim%c.Heads == 0 {
		if c.RopeDim, err = geti("llama.rope.dimension_count", int64(c.Dim/c.Heads)); err != nil {
			return nil, err
		}
	}
	if c.NormEps, err = getf("llama.attention.layer_norm_rms_epsilon", 1e-5); err != nil {
		return nil, err
	}
	if c.RopeTheta, err = getf("llama.rope.freq_base", 10000); err != nil {
		return nil, err
	}
	if f.Has("llama.rope.scaling.type") {
		if s, _ := f.String("llama.rope.scaling.type"); s != "" && s != "none" {
			return nil, fail("rope scaling %q is not supported", s)
		}
	}

	var tok *tokenizer.SentencePiece
	if opts.TokenizerPath != "" {
		tok, err = tokenizer.LoadSentencePieceFile(opts.TokenizerPath)
	} else {
		tok, err = tokenizer.SentencePieceFromGGUF(f)
	}
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	embInfo, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fail("tensor token_embd.weight is missing")
	}
	if len(embInfo.Dims) == 2 {
		c.Vocab = int(min(embInfo.Dims[1], 1<<31))
	}
	if err := c.Validate(); err != nil {
		return nil, fail("%v", err)
	}
	m := &Model{Config: c, Tokenizer: tok, Path: path, Format: "gguf"}
	matrix := func(name string, rows, cols int) (*tensor.Matrix, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fail("tensor %s is missing", name)
		}
		if len(t.Dims) != 2 || t.Dims[0] != uint64(cols) || t.Dims[1] != uint64(rows) {
			return nil, fail("tensor %s has dims %v; want [%d %d]", name, t.Dims, cols, rows)
		}
		typ := tensor.Type(t.Type)
		if !typ.Supported() {
			return nil, fail("tensor %s is %v; supported types are F32, F16, Q8_0 and Q4_0", name, t.Type)
		}
		b, err := tensorBytes(f, t, data)
		if err != nil {
			return nil, fail("tensor %s: %v", name, err)
		}
		mat, err := tensor.NewMatrix(typ, rows, cols, b)
		if err != nil {
			return nil, fail("tensor %s: %v", name, err)
		}
		m.WeightBytes += int64(len(b))
		return mat, nil
	}
	vector := func(name string, n int) ([]float32, error) {
		t, ok := f.Tensor(name)
		if !ok {
			return nil, fail("tensor %s is missing", name)
		}
		if len(t.Dims) != 1 || t.Dims[0] != uint64(n) {
			return nil, fail("tensor %s has dims %v; want [%d]", name, t.Dims, n)
		}
		typ := tensor.Type(t.Type)
		if typ != tensor.F32 && typ != tensor.F16 {
			return nil, fail("tensor %s is %v; want F32 or F16", name, t.Type)
		}
		b, err := tensorBytes(f, t, data)
		if err != nil {
			return nil, fail("tensor %s: %v", name, err)
		}
		mat, err := tensor.NewMatrix(typ, 1, n, b)
		if err != nil {
			return nil, fail("tensor %s: %v", name, err)
		}
		m.WeightBytes += int64(len(b))
		v := make([]float32, n)
		mat.Row(0, v)
		return v, nil
	}
	dim, kv, hid := c.Dim, c.KVDim(), c.HiddenDim
	if m.embed, err = matrix("token_embd.weight", c.Vocab, dim); err != nil {
		return nil, err
	}
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		for _, w := range []struct {
			dst        **tensor.Matrix
			name       string
			rows, cols int
		}{
			{&l.wq, "attn_q.weight", dim, dim}, {&l.wk, "attn_k.weight", kv, dim}, {&l.wv, "attn_v.weight", kv, dim},
			{&l.wo, "attn_output.weight", dim, dim}, {&l.w1, "ffn_gate.weight", hid, dim},
			{&l.w2, "ffn_down.weight", dim, hid}, {&l.w3, "ffn_up.weight", hid, dim},
		} {
			if *w.dst, err = matrix(p+w.name, w.rows, w.cols); err != nil {
				return nil, err
			}
		}
		if l.attnNorm, err = vector(p+"attn_norm.weight", dim); err != nil {
			return nil, err
		}
		if l.ffnNorm, err = vector(p+"ffn_norm.weight", dim); err != nil {
			return nil, err
		}
	}
	if m.outNorm, err = vector("output_norm.weight", dim); err != nil {
		return nil, err
	}
	if _, ok := f.Tensor("output.weight"); ok {
		if m.cls, err = matrix("output.weight", c.Vocab, dim); err != nil {
			return nil, err
		}
	} else {
		m.cls = m.embed // the classifier shares the token embedding
	}
	m.WeightType = m.layers[0].w1.Type.String()
	return m, nil
}

// tensorBytes returns the bytes of t inside the mapped file, checking they
// lie within it.
func tensorBytes(f *gguf.File, t gguf.TensorInfo, data []byte) ([]byte, error) {
	start := uint64(f.DataOffset) + t.Offset
	end := start + t.Size
	if t.Offset > uint64(len(data)) || start < t.Offset || end < start || end > uint64(len(data)) {
		return nil, fmt.Errorf("data at offset %d, %d bytes, lies outside the file (%d bytes): the file is truncated", start, t.Size, len(data))
	}
	return data[start:end:end], nil
}

// ---- llama2.c ----

// llama2cHeader is the 7 int32 header of a llama2.c checkpoint.
const llama2cHeader = 7 * 4

// errNotModel says a file is neither GGUF nor a llama2.c checkpoint.
var errNotModel = errors.New("not a GGUF file and not a llama2.c checkpoint")

func loadLlama2C(path string, data []byte, opts Options) (*Model, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("llama: %s: %s", path, fmt.Sprintf(format, args...))
	}
	if len(data) < llama2cHeader {
		return nil, fail("%v: %d bytes, shorter than a llama2.c header (%d bytes)", errNotModel, len(data), llama2cHeader)
	}
	var h [7]int32
	for i := range h {
		h[i] = int32(binary.LittleEndian.Uint32(data[4*i:]))
	}
	shared := h[5] > 0
	vocab := h[5]
	if vocab < 0 {
		vocab = -vocab
	}
	c := Config{Dim: int(h[0]), HiddenDim: int(h[1]), Layers: int(h[2]), Heads: int(h[3]), KVHeads: int(h[4]),
		Vocab: int(vocab), Context: int(h[6]), NormEps: 1e-5, RopeTheta: 10000}
	if c.Heads > 0 && c.Dim%c.Heads == 0 {
		c.RopeDim = c.Dim / c.Heads
	}
	if err := c.Validate(); err != nil {
		return nil, fail("%v: header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len) = %v: %v", errNotModel, h, err)
	}
	dim, kv, hid, L := int64(c.Dim), int64(c.KVDim()), int64(c.HiddenDim), int64(c.Layers)
	hs := int64(c.HeadSize())
	sizes := []int64{
		int64(c.Vocab) * dim,                 // token embedding
		L * dim, L * dim * dim, L * dim * kv, // rms_att, wq, wk
		L * dim * kv, L * dim * dim, L * dim, // wv, wo, rms_ffn
		L * hid * dim, L * dim * hid, L * hid * dim, // w1, w2, w3
		dim,                                                  // rms_final
		int64(c.Context) * hs / 2, int64(c.Context) * hs / 2, // freq_cis (unused)
	}
	if !shared {
		sizes = append(sizes, int64(c.Vocab)*dim)
	}
	want := int64(llama2cHeader)
	for _, s := range sizes {
		if s > int64(len(data)) { // also keeps the sum from overflowing
			want = int64(len(data)) + 1
			break
		}
		want += 4 * s
	}
	if int64(len(data)) < want {
		return nil, fail("llama2.c checkpoint with header %v needs %d bytes, the file has %d: it is truncated or not a checkpoint", h, want, len(data))
	}
	off := int64(llama2cHeader)
	next := func(n int64) []byte {
		b := data[off : off+4*n : off+4*n]
		off += 4 * n
		return b
	}
	mat := func(rows, cols int64) *tensor.Matrix {
		m, err := tensor.NewMatrix(tensor.F32, int(rows), int(cols), next(rows*cols))
		if err != nil {
			panic(err) // sizes were checked above
		}
		return m
	}
	vec := func(n int64) []float32 {
		v := make([]float32, n)
		copy(v, f32s(next(n)))
		return v
	}
	m := &Model{Config: c, Path: path, Format: "llama2c", WeightType: "F32", WeightBytes: want - llama2cHeader}
	m.embed = mat(int64(c.Vocab), dim)
	m.layers = make([]layer, c.Layers)
	for i := range m.layers {
		m.layers[i].attnNorm = vec(dim)
	}
	for i := range m.layers {
		m.layers[i].wq = mat(dim, dim)
	}
	for i := range m.layers {
		m.layers[i].wk = mat(kv, dim)
	}
	for i := range m.layers {
		m.layers[i].wv = mat(kv, dim)
	}
	for i := range m.layers {
		m.layers[i].wo = mat(dim, dim)
	}
	for i := range m.layers {
		m.layers[i].ffnNorm = vec(dim)
	}
	for i := range m.layers {
		m.layers[i].w1 = mat(hid, dim)
	}
	for i := range m.layers {
		m.layers[i].w2 = mat(dim, hid)
	}
	for i := range m.layers {
		m.layers[i].w3 = mat(hid, dim)
	}
	m.outNorm = vec(dim)
	next(int64(c.Context) * hs) // freq_cis_real and freq_cis_imag
	if shared {
		m.cls = m.embed
	} else {
		m.cls = mat(int64(c.Vocab), dim)
	}

	tokPath := opts.TokenizerPath
	if tokPath == "" {
		tokPath = filepath.Join(filepath.Dir(path), "tokenizer.bin")
		if _, err := os.Stat(tokPath); err != nil {
			return nil, fail("a llama2.c checkpoint has no vocabulary and there is no tokenizer.bin beside it; give the tokenizer file (--tokenizer)")
		}
	}
	var err error
	if filepath.Ext(tokPath) == ".bin" {
		m.Tokenizer, err = tokenizer.LoadLlama2CWithSize(tokPath, c.Vocab)
	} else {
		m.Tokenizer, err = tokenizer.LoadSentencePieceFile(tokPath)
	}
	if err != nil {
		return nil, fmt.Errorf("llama: %w", err)
	}
	return m, nil
}
