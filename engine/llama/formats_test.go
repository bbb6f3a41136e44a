package llama

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minerva-batch/minerva/engine/modelgen"
	"github.com/minerva-batch/minerva/engine/tensor"
)

// TestQuantizedGGUF generates one small model (random weights, the
// stories260K vocabulary) as GGUF F32, F16, Q8_0 and Q4_0, and runs each:
// the quantised forms follow F32's greedy choices closely, F16 almost
// exactly, and the llama2.c form of the F32 weights gives F32's ids.
func TestQuantizedGGUF(t *testing.T) {
	dir := t.TempDir()
	cfg := modelgen.Config{Dim: 128, HiddenDim: 384, Layers: 2, Heads: 4, KVHeads: 2, VocabSize: 512, SeqLen: 128, Std: 0.1}
	models := map[tensor.Type]*Model{}
	for _, typ := range []tensor.Type{tensor.F32, tensor.F16, tensor.Q8_0, tensor.Q4_0} {
		opt := modelgen.Options{Type: typ, Seed: 7, VocabPath: tok512, GGUFPath: filepath.Join(dir, typ.String()+".gguf")}
		if typ == tensor.F32 {
			opt.BinPath = filepath.Join(dir, "model.bin")
		}
		if err := modelgen.Generate(context.Background(), cfg, opt); err != nil {
			t.Fatal(err)
		}
		m, err := Load(opt.GGUFPath, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if m.WeightType != typ.String() {
			t.Errorf("%v model reports weight type %s", typ, m.WeightType)
		}
		models[typ] = m
	}
	bin, err := Load(filepath.Join(dir, "model.bin"), Options{TokenizerPath: tok512})
	if err != nil {
		t.Fatal(err)
	}
	defer bin.Close()

	e := newTestEngine(t, models[tensor.F32], EngineOptions{})
	c, err := e.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 100, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := models[tensor.F32].Tokenizer.Encode("Once upon a time")
	ids := append(prompt, c.Tokens[:len(c.Tokens)-1]...)
	want, err := models[tensor.F32].NextTokens(ids, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := bin.NextTokens(ids, 1); !slices.Equal(got, want) {
		t.Errorf("the llama2.c form of the F32 weights gives other greedy ids")
	}
	// Chance is 1/512; Q4_0 is coarse on random weights.
	for typ, minAgree := range map[tensor.Type]float64{tensor.F16: 0.98, tensor.Q8_0: 0.9, tensor.Q4_0: 0.3} {
		got, err := models[typ].NextTokens(ids, 1)
		if err != nil {
			t.Fatal(err)
		}
		same := 0
		for i := range got {
			if got[i] == want[i] {
				same++
			}
		}
		agree := float64(same) / float64(len(got))
		t.Logf("%v: top-1 agreement with F32 %.3f over %d positions", typ, agree, len(got))
		if agree < minAgree {
			t.Errorf("%v: top-1 agreement with F32 %.3f, want at least %.2f", typ, agree, minAgree)
		}
	}
}

// TestUnsharedClassifier: a llama2.c checkpoint with its own classifier
// (negative vocab_size in the header, wcls after the weights) loads and,
// with wcls equal to the embedding, gives the shared model's logits.
func TestUnsharedClassifier(t *testing.T) {
	b, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := Load(binPath, Options{TokenizerPath: tok512})
	if err != nil {
		t.Fatal(err)
	}
	defer shared.Close()
	c := shared.Config
	u := slices.Clone(b)
	binary.LittleEndian.PutUint32(u[20:], uint32(int32(-c.Vocab)))
	u = append(u, b[llama2cHeader:llama2cHeader+4*c.Vocab*c.Dim]...) // wcls = the embedding
	p := filepath.Join(t.TempDir(), "unshared.bin")
	if err := os.WriteFile(p, u, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(p, Options{TokenizerPath: tok512})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.cls == m.embed {
		t.Fatal("the unshared classifier was not loaded")
	}
	ids := []int32{1, 403, 407, 261, 378}
	a, _ := shared.NextTokens(ids, 1)
	g, _ := m.NextTokens(ids, 1)
	if !slices.Equal(a, g) {
		t.Errorf("unshared classifier: %v, shared %v", g, a)
	}
	// Without wcls the file is too short for its header.
	if err := os.WriteFile(p, u[:len(b)], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p, Options{TokenizerPath: tok512}); err == nil {
		t.Error("an unshared checkpoint without wcls loaded")
	}
}
