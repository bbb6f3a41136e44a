package llama

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
)

const (
	modelDir  = "../../../shared/models/stories260K"
	ggufPath  = modelDir + "/stories260K.gguf"
	binPath   = modelDir + "/stories260K.bin"
	tok512    = modelDir + "/tok512.bin"
	reference = "1 403 407 261 378 432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415 426 13 438 310"
)

// loadModels loads both forms of stories260K.
func loadModels(t testing.TB) map[string]*Model {
	t.Helper()
	out := map[string]*Model{}
	for name, o := range map[string]struct {
		path string
		opts Options
	}{"gguf": {ggufPath, Options{}}, "llama2c": {binPath, Options{TokenizerPath: tok512}}} {
		m, err := Load(o.path, o.opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		out[name] = m
	}
	return out
}

func newTestEngine(t testing.TB, m *Model, opts EngineOptions) *Engine {
	t.Helper()
	e, err := NewEngine(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func joinIDs(ids ...[]int32) string {
	var b strings.Builder
	for _, s := range ids {
		for _, id := range s {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			fmt.Fprint(&b, id)
		}
	}
	return b.String()
}

// TestReferenceGreedy checks both forms of stories260K against llama2.c's
// greedy output: 64 positions, the prompt's 5 ids (BOS included) and 60
// generated ids.
func TestReferenceGreedy(t *testing.T) {
	for name, m := range loadModels(t) {
		t.Run(name, func(t *testing.T) {
			e := newTestEngine(t, m, EngineOptions{})
			c, err := e.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 60})
			if err != nil {
				t.Fatal(err)
			}
			prompt, _ := m.Tokenizer.Encode("Once upon a time")
			if got := joinIDs(prompt, c.Tokens); got != reference {
				t.Fatalf("ids\n got %s\nwant %s", got, reference)
			}
			if c.PromptTokens != 5 || c.CompletionTokens != 60 || c.FinishReason != FinishLength {
				t.Errorf("counts %d/%d, finish %q; want 5/60, length", c.PromptTokens, c.CompletionTokens, c.FinishReason)
			}
			// The text is what llama2.c prints after the prompt.
			all, _ := m.Tokenizer.Decode(append(prompt, c.Tokens...))
			if want := "Once upon a time" + c.Text; all != want {
				t.Errorf("text %q\nwant %q", c.Text, all)
			}
			if !strings.HasPrefix(c.Text, ", there was a little girl named Lily.") {
				t.Errorf("text %q", c.Text)
			}
			if c.TTFT <= 0 || c.Duration < c.TTFT {
				t.Errorf("ttft %v, duration %v", c.TTFT, c.Duration)
			}
		})
	}
}

// TestFirstLogit checks the logits at BOS: the top token is 403 with
// logit 17.0235, as in llama2.c.
func TestFirstLogit(t *testing.T) {
	for name, m := range loadModels(t) {
		r := &runner{m: m, pool: newPool(1)}
		lg := r.forward([]token{{id: 1, pos: 0, kv: newKVCache(m.Config, 1), logits: true}})
		top := argmax(lg)
		if top != 403 || math.Abs(float64(lg[top])-17.0235) > 1e-3 {
			t.Errorf("%s: top token %d logit %v; want 403 with 17.0235", name, top, lg[top])
		}
	}
}

// TestForwardBatchInvariance runs a sequence's forward pass alone, token by
// token, and inside steps with other sequences and whole-prompt prefills,
// on 1 and 2 threads, and wants bit-identical logits.
func TestForwardBatchInvariance(t *testing.T) {
	m := loadModels(t)["gguf"]
	prompt := []int32{1, 403, 407, 261, 378, 432, 383, 286}
	other := []int32{1, 300, 301, 302, 303, 304, 305, 306, 307, 308}
	alone := func(threads int) [][]float32 {
		r := &runner{m: m, pool: newPool(threads)}
		kv := newKVCache(m.Config, len(prompt))
		var out [][]float32
		for p, id := range prompt {
			out = append(out, slices.Clone(r.forward([]token{{id: id, pos: p, kv: kv, logits: true}})))
		}
		return out
	}
	want := alone(1)
	for _, threads := range []int{1, 2} {
		if got := alone(threads); !bitsEqual(got, want) {
			t.Errorf("alone on %d threads differs", threads)
		}
		// Mixed steps: all prompt positions at once, beside another
		// sequence's prefill, asking logits at every position.
		r := &runner{m: m, pool: newPool(threads)}
		kv, kvo := newKVCache(m.Config, len(prompt)), newKVCache(m.Config, len(other))
		var toks []token
		for p, id := range other {
			toks = append(toks, token{id: id, pos: p, kv: kvo, logits: p%2 == 0})
		}
		for p, id := range prompt {
			toks = append(toks, token{id: id, pos: p, kv: kv, logits: true})
		}
		lg := r.forward(toks)
		v := m.Config.Vocab
		skip := (len(other) + 1) / 2
		var got [][]float32
		for p := range prompt {
			got = append(got, lg[(skip+p)*v:(skip+p+1)*v])
		}
		if !bitsEqual(got, want) {
			t.Errorf("batched prefill on %d threads differs from token-by-token", threads)
		}
	}
}

func bitsEqual(a, b [][]float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				return false
			}
		}
	}
	return true
}

// mixedRequests are greedy and sampled requests of several lengths.
func mixedRequests(n int) []batch.Item[Request] {
	prompts := []string{"Once upon a time", "Lily and Tom", "The dog", "One day, a little bird", "Tim had a red ball. He", "Mom said"}
	var items []batch.Item[Request]
	for i := range n {
		r := Request{Prompt: prompts[i%len(prompts)], MaxTokens: 10 + 7*(i%5), Seed: uint64(i)}
		switch i % 4 {
		case 1:
			r.Temperature = 0.8
		case 2:
			r.Temperature, r.TopP = 1.0, 0.9
		case 3:
			r.Temperature, r.TopK = 1.2, 20
		}
		if i%6 == 5 {
			r.Stop = []string{"."}
		}
		items = append(items, batch.Item[Request]{ID: fmt.Sprint("r", i), Data: r})
	}
	return items
}

// TestBatchInvariance: every request's completion is the same whether it
// runs alone or in batches of 8 or 64, on 1 or 2 threads.
func TestBatchInvariance(t *testing.T) {
	m := loadModels(t)["gguf"]
	items := mixedRequests(64)
	alone := make([]Completion, len(items))
	e1 := newTestEngine(t, m, EngineOptions{MaxInFlight: 1, Threads: 1})
	for i, it := range items {
		c, err := e1.Generate(context.Background(), it.Data)
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = c
	}
	for _, o := range []EngineOptions{{MaxInFlight: 8, Threads: 1}, {MaxInFlight: 8, Threads: 2}, {MaxInFlight: 64, Threads: 2}, {MaxInFlight: 64, Threads: 1, StepTokens: 3}} {
		e := newTestEngine(t, m, o)
		got := e.InferBatch(context.Background(), items)
		for i, r := range got {
			if r.Err != nil {
				t.Fatalf("%+v: %s: %v", o, r.ID, r.Err)
			}
			if r.ID != items[i].ID || !slices.Equal(r.Data.Tokens, alone[i].Tokens) || r.Data.Text != alone[i].Text || r.Data.FinishReason != alone[i].FinishReason {
				t.Errorf("%+v: %s: got %v %q (%s), alone %v %q (%s)", o, r.ID, r.Data.Tokens, r.Data.Text, r.Data.FinishReason, alone[i].Tokens, alone[i].Text, alone[i].FinishReason)
			}
		}
		if e.maxActive < 2 {
			t.Errorf("%+v: at most %d sequences ran together", o, e.maxActive)
		}
	}
	// Sampling depends on the seed.
	a, _ := e1.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 30, Temperature: 1, Seed: 1})
	b, _ := e1.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 30, Temperature: 1, Seed: 2})
	if slices.Equal(a.Tokens, b.Tokens) {
		t.Errorf("seeds 1 and 2 gave the same sample %v", a.Tokens)
	}
}

func TestFinishReasons(t *testing.T) {
	m, err := Load(ggufPath, Options{Context: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := newTestEngine(t, m, EngineOptions{})
	ctx := context.Background()
	// The context is full: positions 0..15 run, the 16th token comes out
	// of position 15.
	c, err := e.Generate(ctx, Request{Prompt: "Once upon a time", MaxTokens: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c.FinishReason != FinishLength || c.PromptTokens+c.CompletionTokens != 17 {
		t.Errorf("context full: %d+%d tokens, %q", c.PromptTokens, c.CompletionTokens, c.FinishReason)
	}
	if got := joinIDs([]int32{1, 403, 407, 261, 378}, c.Tokens); !strings.HasPrefix(reference, got) {
		t.Errorf("ids %s are not a prefix of the reference", got)
	}
	// A stop string ends the text before it.
	c, err = e.Generate(ctx, Request{Prompt: "Once upon a time", MaxTokens: 10, Stop: []string{"little"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.FinishReason != FinishStop || c.Text != ", there was a " {
		t.Errorf("stop string: %q, %q", c.Text, c.FinishReason)
	}
	// max_tokens.
	c, _ = e.Generate(ctx, Request{Prompt: "Once upon a time", MaxTokens: 3})
	if c.FinishReason != FinishLength || c.CompletionTokens != 3 {
		t.Errorf("max_tokens 3: %d tokens, %q", c.CompletionTokens, c.FinishReason)
	}
}

// TestStopToken: the model ends a story with BOS; generation stops there.
func TestStopToken(t *testing.T) {
	m := loadModels(t)["gguf"]
	e := newTestEngine(t, m, EngineOptions{})
	c, err := e.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if c.FinishReason != FinishStop || c.CompletionTokens >= 1000 || slices.Contains(c.Tokens, 1) {
		t.Errorf("finish %q after %d tokens", c.FinishReason, c.CompletionTokens)
	}
	// IgnoreEOS runs on to max_tokens, through the stop token.
	c2, err := e.Generate(context.Background(), Request{Prompt: "Once upon a time", MaxTokens: c.CompletionTokens + 20, IgnoreEOS: true})
	if err != nil {
		t.Fatal(err)
	}
	if c2.FinishReason != FinishLength || c2.CompletionTokens != c.CompletionTokens+20 || !slices.Equal(c2.Tokens[:len(c.Tokens)], c.Tokens) || c2.Tokens[len(c.Tokens)] != 1 {
		t.Errorf("ignore_eos: finish %q after %d tokens", c2.FinishReason, c2.CompletionTokens)
	}
}

func TestBadRequests(t *testing.T) {
	m, err := Load(ggufPath, Options{Context: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	e := newTestEngine(t, m, EngineOptions{})
	good := Request{Prompt: "Once upon a time", MaxTokens: 5}
	cases := []struct {
		req  Request
		want string
	}{
		{Request{}, "prompt is empty"},
		{Request{Prompt: "a", Temperature: 2.5}, "temperature 2.5 is out of range 0.0–2.0"},
		{Request{Prompt: "a", Temperature: -0.1}, "temperature -0.1 is out of range"},
		{Request{Prompt: "a", Temperature: math.NaN()}, "temperature NaN"},
		{Request{Prompt: "a", TopP: 1.5}, "top_p 1.5 is out of range"},
		{Request{Prompt: "a", TopK: -1}, "top_k -1 is negative"},
		{Request{Prompt: "a", MaxTokens: -1}, "max_tokens -1 is negative"},
		{Request{Prompt: "a", Stop: []string{""}}, "stop string 0 is empty"},
		{Request{Prompt: "a\xffb"}, "invalid UTF-8"},
		{Request{Prompt: strings.Repeat("Once upon a time ", 20)}, "does not fit the context of 32 tokens"},
	}
	items := []batch.Item[Request]{{ID: "good0", Data: good}}
	for i, c := range cases {
		items = append(items, batch.Item[Request]{ID: fmt.Sprint("bad", i), Data: c.req})
	}
	items = append(items, batch.Item[Request]{ID: "good1", Data: good})
	got := e.InferBatch(context.Background(), items)
	for i, c := range cases {
		r := got[i+1]
		if r.Err == nil || !strings.Contains(r.Err.Error(), c.want) {
			t.Errorf("%s: error %v; want it to say %q", r.ID, r.Err, c.want)
		}
		if tooLong := strings.Contains(c.want, "does not fit"); r.Err != nil && errors.Is(r.Err, ErrTooLong) != tooLong {
			t.Errorf("%s: errors.Is(%v, ErrTooLong) = %v, want %v", r.ID, r.Err, !tooLong, tooLong)
		}
	}
	for _, r := range []batch.Response[Completion]{got[0], got[len(got)-1]} {
		if r.Err != nil || r.Data.CompletionTokens != 5 {
			t.Errorf("%s: %v, %d tokens", r.ID, r.Err, r.Data.CompletionTokens)
		}
	}
}

// TestPriorityAndBudget: with one slot, waiting requests are admitted by
// priority, first come first served within one; with a KV budget for two
// sequences, no more than two run at once and none is dropped.
func TestPriorityAndBudget(t *testing.T) {
	m := loadModels(t)["gguf"]
	e, err := newEngine(m, EngineOptions{MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	prios := []int{0, 5, 1, 5, -2, 1}
	var items []batch.Item[Request]
	for i, p := range prios {
		items = append(items, batch.Item[Request]{ID: fmt.Sprint(i), Data: Request{Prompt: "The dog", MaxTokens: 4, Priority: p}})
	}
	ch := e.Stream(context.Background(), items) // queued before the scheduler starts
	go e.loop()
	defer e.Close()
	var order []string
	for r := range ch {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		order = append(order, r.ID)
	}
	if got, want := strings.Join(order, " "), "1 3 2 5 0 4"; got != want {
		t.Errorf("completion order %s; want %s", got, want)
	}

	per := int64(4+20-1) * m.Config.KVBytesPerPosition() // "The dog" is 4 tokens with BOS
	e2 := newTestEngine(t, m, EngineOptions{MaxInFlight: 8, KVBudget: 2 * per})
	var many []batch.Item[Request]
	for i := range 6 {
		many = append(many, batch.Item[Request]{ID: fmt.Sprint(i), Data: Request{Prompt: "The dog", MaxTokens: 20}})
	}
	many = append(many, batch.Item[Request]{ID: "huge", Data: Request{Prompt: "The dog", MaxTokens: 500}})
	res := e2.InferBatch(context.Background(), many)
	for _, r := range res[:6] {
		if r.Err != nil {
			t.Errorf("%s: %v", r.ID, r.Err)
		}
	}
	if err := res[6].Err; err == nil || !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "more than the engine's whole budget") {
		t.Errorf("huge request: %v", err)
	}
	if e2.maxActive != 2 {
		t.Errorf("%d sequences ran at once under a budget for 2", e2.maxActive)
	}
}

func TestCancel(t *testing.T) {
	m := loadModels(t)["gguf"]
	e := newTestEngine(t, m, EngineOptions{MaxInFlight: 2})
	ctx, cancel := context.WithCancel(context.Background())
	var items []batch.Item[Request]
	for i := range 20 {
		items = append(items, batch.Item[Request]{ID: fmt.Sprint(i), Data: Request{Prompt: "Once upon a time", MaxTokens: 1000, Temperature: 1, Seed: uint64(i)}})
	}
	ch := e.Stream(ctx, items)
	other := make(chan Completion)
	go func() {
		c, _ := e.Generate(context.Background(), Request{Prompt: "The dog", MaxTokens: 30})
		other <- c
	}()
	time.Sleep(5 * time.Millisecond)
	cancel()
	n := 0
	for r := range ch {
		if r.Err != nil && !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%s: %v", r.ID, r.Err)
		}
		if r.Err != nil {
			n++
		}
	}
	if n == 0 {
		t.Error("no request was cancelled")
	}
	if c := <-other; c.CompletionTokens != 30 {
		t.Errorf("the other caller's request got %d tokens", c.CompletionTokens)
	}
}

func TestBadModelFiles(t *testing.T) {
	dir := t.TempDir()
	gg, err := os.ReadFile(ggufPath)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		path string
		opts Options
		want string
	}{
		{filepath.Join(dir, "missing.gguf"), Options{}, "no such file"},
		{dir, Options{}, "is a folder"},
		{write("empty.bin", nil), Options{}, "too short"},
		{write("trunc.gguf", gg[:len(gg)/2]), Options{}, "run past the end of the file"},
		{write("header.gguf", gg[:100]), Options{}, "malformed GGUF file"},
		{write("trunc.bin", bin[:len(bin)/2]), Options{TokenizerPath: tok512}, "is truncated or not a checkpoint"},
		{write("garbage.bin", []byte("this is not a model file at all, just text")), Options{TokenizerPath: tok512}, "not a GGUF file and not a llama2.c checkpoint"},
		{write("notok.bin", bin), Options{}, "no tokenizer.bin beside it"},
	}
	for _, c := range cases {
		_, err := Load(c.path, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.path)) {
			t.Errorf("%s: %v; want it to name the file and say %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// FuzzLoad feeds corrupt model files to Load: an error, never a panic.
func FuzzLoad(f *testing.F) {
	gg, err := os.ReadFile(ggufPath)
	if err != nil {
		f.Fatal(err)
	}
	bin, err := os.ReadFile(binPath)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(gg[:4096])
	f.Add(bin[:4096])
	f.Add(gg)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "model")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(p, Options{TokenizerPath: tok512})
		if err == nil {
			e, err := NewEngine(m, EngineOptions{})
			if err == nil {
				e.Generate(context.Background(), Request{Prompt: "Once", MaxTokens: 2})
				e.Close()
			}
			m.Close()
		}
	})
}

func TestNextTokens(t *testing.T) {
	m := loadModels(t)["gguf"]
	var ids []int32
	for _, f := range strings.Fields(reference) {
		var id int32
		fmt.Sscan(f, &id)
		ids = append(ids, id)
	}
	got, err := m.NextTokens(ids[:len(ids)-1], 2)
	if err != nil {
		t.Fatal(err)
	}
	// Greedy after each prefix from the prompt's last token on is the
	// reference's next id.
	if !slices.Equal(got[4:], ids[5:]) {
		t.Errorf("next tokens %v\nwant %v", got[4:], ids[5:])
	}
	if _, err := m.NextTokens([]int32{1, 9999}, 1); err == nil {
		t.Error("id outside the vocabulary: no error")
	}
}

func TestTrimPartialRune(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""}, {"abc", "abc"}, {"ab\xe2\x82", "ab"}, {"ab\xe2\x82\xac", "ab\xe2\x82\xac"},
		{"a\xf0\x9f\x98", "a"}, {"a\xff", "a\xff"}, {"\x82", "\x82"},
	} {
		if got := string(trimPartialRune([]byte(c.in))); got != c.want {
			t.Errorf("trimPartialRune(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
