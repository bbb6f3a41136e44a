package infer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
)

const modelPath = "../../../shared/models/stories260K/stories260K.gguf"

func ptr[T any](v T) *T { return &v }

// valid is a request that passes Check.
func valid() infer.Request {
	return infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 16, TopP: 1}}
}

func TestCheck(t *testing.T) {
	chat := func(msgs ...infer.Message) infer.Request {
		r := valid()
		r.Prompt, r.Messages = "", msgs
		return r
	}
	with := func(f func(*infer.Request)) infer.Request {
		r := valid()
		f(&r)
		return r
	}
	tests := []struct {
		name    string
		r       infer.Request
		context int
		field   string // "" for a valid request
	}{
		{"valid", valid(), 512, ""},
		{"valid, unknown context", with(func(r *infer.Request) { r.MaxTokens = 1 << 20 }), 0, ""},
		{"valid, max_tokens = context", with(func(r *infer.Request) { r.MaxTokens = 512 }), 512, ""},
		{"valid, full range", with(func(r *infer.Request) { r.Temperature, r.TopP, r.TopK, r.Stop = 2, 0.01, 40, []string{"\n"} }), 512, ""},
		{"valid chat", chat(infer.Message{Role: "system", Content: "s"}, infer.Message{Role: "user", Content: "u"}, infer.Message{Role: "assistant", Content: "a"}, infer.Message{Role: "user", Content: "u2"}), 512, ""},
		{"chat ending with assistant", chat(infer.Message{Role: "user", Content: "u"}, infer.Message{Role: "assistant", Content: "a"}), 512, "messages"},
		{"chat with system second", chat(infer.Message{Role: "user", Content: "u"}, infer.Message{Role: "system", Content: "s"}), 512, "messages"},
		{"valid chat, empty content", chat(infer.Message{Role: "user"}), 512, ""},
		{"empty prompt", with(func(r *infer.Request) { r.Prompt = "" }), 512, "prompt"},
		{"empty messages", chat([]infer.Message{}...), 512, "messages"},
		{"max_tokens 0", with(func(r *infer.Request) { r.MaxTokens = 0 }), 512, "max_tokens"},
		{"max_tokens -1", with(func(r *infer.Request) { r.MaxTokens = -1 }), 0, "max_tokens"},
		{"max_tokens > context", with(func(r *infer.Request) { r.MaxTokens = 513 }), 512, "max_tokens"},
		{"temperature -0.1", with(func(r *infer.Request) { r.Temperature = -0.1 }), 512, "temperature"},
		{"temperature 2.5", with(func(r *infer.Request) { r.Temperature = 2.5 }), 512, "temperature"},
		{"temperature NaN", with(func(r *infer.Request) { r.Temperature = math.NaN() }), 512, "temperature"},
		{"temperature +Inf", with(func(r *infer.Request) { r.Temperature = math.Inf(1) }), 512, "temperature"},
		{"top_p 0", with(func(r *infer.Request) { r.TopP = 0 }), 512, "top_p"},
		{"top_p 1.5", with(func(r *infer.Request) { r.TopP = 1.5 }), 512, "top_p"},
		{"top_p NaN", with(func(r *infer.Request) { r.TopP = math.NaN() }), 512, "top_p"},
		{"top_k -1", with(func(r *infer.Request) { r.TopK = -1 }), 512, "top_k"},
		{"empty stop string", with(func(r *infer.Request) { r.Stop = []string{"end", ""} }), 512, "stop"},
		{"bad role", chat(infer.Message{Role: "user", Content: "u"}, infer.Message{Role: "tool", Content: "t"}), 512, "messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := infer.Check(tt.r, tt.context)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var fe *infer.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Check: %v (%T), want a *FieldError", err, err)
			}
			if fe.Field != tt.field || fe.Problem == "" {
				t.Errorf("field %q, problem %q; want field %q", fe.Field, fe.Problem, tt.field)
			}
			if !strings.HasPrefix(err.Error(), fmt.Sprintf("field %q: ", tt.field)) {
				t.Errorf("message %q", err)
			}
		})
	}
}

func TestSpecResolve(t *testing.T) {
	prompt := ptr("Once upon a time")
	tests := []struct {
		name    string
		spec    infer.Spec
		d       infer.Defaults
		context int
		want    infer.Request
		field   string // the field of the expected *FieldError
	}{
		{
			name: "defaults",
			spec: infer.Spec{Prompt: prompt},
			d:    infer.Defaults{Seed: 7},
			want: infer.Request{Request: llama.Request{Prompt: *prompt, MaxTokens: 256, TopP: 1, Seed: infer.RowSeed(7, "row")}},
		},
		{
			name: "job defaults",
			spec: infer.Spec{Prompt: prompt},
			d:    infer.Defaults{MaxTokens: 32, Temperature: 0.7, TopP: 0.9, TopK: 40, Stop: []string{"\n"}, Seed: 1},
			want: infer.Request{Request: llama.Request{Prompt: *prompt, MaxTokens: 32, Temperature: 0.7, TopP: 0.9, TopK: 40,
				Stop: []string{"\n"}, Seed: infer.RowSeed(1, "row")}},
		},
		{
			name: "row overrides",
			spec: infer.Spec{Prompt: prompt, MaxTokens: ptr[int64](8), Temperature: ptr(0.0), TopP: ptr(0.5), TopK: ptr[int64](0),
				Seed: ptr[int64](0), Stop: []string{}, Priority: ptr[int64](3)},
			d: infer.Defaults{MaxTokens: 32, Temperature: 0.7, TopP: 0.9, TopK: 40, Stop: []string{"\n"}, Seed: 1},
			want: infer.Request{Request: llama.Request{Prompt: *prompt, MaxTokens: 8, TopP: 0.5, Seed: 0,
				Stop: []string{}, Priority: 3}},
		},
		{
			name: "chat",
			spec: infer.Spec{Messages: []infer.Message{{Role: "user", Content: "Hi"}}, Seed: ptr[int64](5)},
			want: infer.Request{Request: llama.Request{MaxTokens: 256, TopP: 1, Seed: 5}, Messages: []infer.Message{{Role: "user", Content: "Hi"}}},
		},
		{
			name: "priority clamped",
			spec: infer.Spec{Prompt: prompt, Priority: ptr[int64](math.MinInt64)},
			want: infer.Request{Request: llama.Request{Prompt: *prompt, MaxTokens: 256, TopP: 1, Seed: infer.RowSeed(0, "row"), Priority: math.MinInt32}},
		},
		{name: "max_tokens 0", spec: infer.Spec{Prompt: prompt, MaxTokens: ptr[int64](0)}, field: "max_tokens"},
		{name: "max_tokens -5", spec: infer.Spec{Prompt: prompt, MaxTokens: ptr[int64](-5)}, field: "max_tokens"},
		{name: "max_tokens huge", spec: infer.Spec{Prompt: prompt, MaxTokens: ptr[int64](math.MaxInt64)}, field: "max_tokens"},
		{name: "max_tokens > context", spec: infer.Spec{Prompt: prompt, MaxTokens: ptr[int64](600)}, context: 512, field: "max_tokens"},
		{name: "default max_tokens > context", spec: infer.Spec{Prompt: prompt}, context: 100, field: "max_tokens"},
		{name: "negative seed", spec: infer.Spec{Prompt: prompt, Seed: ptr[int64](-1)}, field: "seed"},
		{name: "negative top_k", spec: infer.Spec{Prompt: prompt, TopK: ptr[int64](-1)}, field: "top_k"},
		{name: "huge top_k", spec: infer.Spec{Prompt: prompt, TopK: ptr[int64](math.MaxInt64)}, field: "top_k"},
		{name: "top_p 0 given", spec: infer.Spec{Prompt: prompt, TopP: ptr(0.0)}, field: "top_p"},
		{name: "temperature NaN", spec: infer.Spec{Prompt: prompt, Temperature: ptr(math.NaN())}, field: "temperature"},
		{name: "no prompt", spec: infer.Spec{}, field: "prompt"},
		{name: "empty messages", spec: infer.Spec{Messages: []infer.Message{}}, field: "messages"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.spec.Resolve("row", tt.d, tt.context)
			if tt.field != "" {
				var fe *infer.FieldError
				if !errors.As(err, &fe) || fe.Field != tt.field {
					t.Fatalf("Resolve: %v, want a *FieldError on %q", err, tt.field)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("Resolve\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestRowSeed(t *testing.T) {
	pinned := []struct {
		jobSeed uint64
		id      string
		want    uint64
	}{
		{0, "", 8794265229978523055},
		{0, "row-1", 663811394007021624},
		{42, "row-1", 186213908868373976},
		{42, "row-2", 1376796949514889137},
		{1<<63 + 5, "a", 8151517608213805557},
	}
	for _, p := range pinned {
		if got := infer.RowSeed(p.jobSeed, p.id); got != p.want {
			t.Errorf("RowSeed(%d, %q) = %d, want %d", p.jobSeed, p.id, got, p.want)
		}
	}
	seen := map[uint64]string{}
	for _, job := range []uint64{0, 1, 2, 42, math.MaxUint64} {
		for i := range 200 {
			id := fmt.Sprint("row-", i)
			s := infer.RowSeed(job, id)
			if s >= 1<<63 {
				t.Fatalf("RowSeed(%d, %q) = %d is not below 2^63", job, id, s)
			}
			key := fmt.Sprint(job, "/", id)
			if prev, dup := seen[s]; dup {
				t.Fatalf("RowSeed of %s and %s are both %d", prev, key, s)
			}
			seen[s] = key
			if s != infer.RowSeed(job, id) {
				t.Fatal("RowSeed is not deterministic")
			}
		}
	}
}

func TestRenderChat(t *testing.T) {
	sys := func(c string) infer.Message { return infer.Message{Role: "system", Content: c} }
	user := func(c string) infer.Message { return infer.Message{Role: "user", Content: c} }
	asst := func(c string) infer.Message { return infer.Message{Role: "assistant", Content: c} }
	tests := []struct {
		name string
		msgs []infer.Message
		want string // "" when an error is expected
	}{
		{"system and user", []infer.Message{sys("Be kind."), user("Tell a story.")},
			"[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nTell a story. [/INST]"},
		{"user only", []infer.Message{user("Tell a story.")}, "[INST] Tell a story. [/INST]"},
		{"empty system", []infer.Message{sys(""), user("Hi")}, "[INST] Hi [/INST]"},
		{"multi-turn", []infer.Message{user("Hi"), asst("Hello!"), user("Tell a story.")},
			"[INST] Hi [/INST] Hello! [INST] Tell a story. [/INST]"},
		{"multi-turn with system", []infer.Message{sys("S"), user("A"), asst("B"), user("C"), asst("D"), user("E")},
			"[INST] <<SYS>>\nS\n<</SYS>>\n\nA [/INST] B [INST] C [/INST] D [INST] E [/INST]"},
		{"no messages", nil, ""},
		{"system only", []infer.Message{sys("S")}, ""},
		{"system not first", []infer.Message{user("A"), sys("S")}, ""},
		{"system after a turn", []infer.Message{user("A"), asst("B"), sys("S"), user("C")}, ""},
		{"two users in a row", []infer.Message{user("A"), user("B")}, ""},
		{"assistant first", []infer.Message{asst("B"), user("A")}, ""},
		{"two assistants in a row", []infer.Message{user("A"), asst("B"), asst("C"), user("D")}, ""},
		{"ends with assistant", []infer.Message{user("A"), asst("B")}, ""},
		{"bad role", []infer.Message{user("A"), {Role: "tool", Content: "x"}}, ""},
		{"role case", []infer.Message{{Role: "User", Content: "A"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := infer.RenderChat(tt.msgs)
			if tt.want == "" {
				var fe *infer.FieldError
				if !errors.As(err, &fe) || fe.Field != "messages" {
					t.Fatalf("RenderChat = %q, %v; want a *FieldError on messages", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("RenderChat = %q, %v\nwant %q", got, err, tt.want)
			}
		})
	}
}

// The greedy reference of stories260K: llama2.c run.c's ids for "Once upon
// a time" (the prompt's 5 ids, BOS included, then 60 generated ids), as in
// engine/llama's TestReferenceGreedy, and the text they decode to.
const (
	referencePrompt = "1 403 407 261 378"
	referenceIDs    = "432 383 286 261 376 298 315 421 395 317 426 338 401 396 267 337 410 408 419 292 411 322 265 282 295 433 426 385 328 432 358 394 261 370 432 352 266 268 388 426 338 391 266 267 337 335 312 432 398 312 286 267 414 270 333 415 426 13 438 310"
	referenceText   = ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily"
)

func newLocal(t *testing.T) *infer.Local {
	t.Helper()
	l, err := infer.NewLocal(modelPath, llama.Options{}, llama.EngineOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

func joinIDs(ids []int32) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, " ")
}

func items(reqs ...infer.Request) []batch.Item[infer.Request] {
	out := make([]batch.Item[infer.Request], len(reqs))
	for i, r := range reqs {
		out[i] = batch.Item[infer.Request]{ID: fmt.Sprint("r", i), Data: r}
	}
	return out
}

func TestLocalReference(t *testing.T) {
	l := newLocal(t)
	if got := l.Model(); got != "stories260K.gguf" {
		t.Errorf("Model() = %q", got)
	}
	if l.Context() <= 0 {
		t.Errorf("Context() = %d", l.Context())
	}
	var _ infer.Backend = l
	req := infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 60, Temperature: 0, TopP: 1}}
	if err := infer.Check(req, l.Context()); err != nil {
		t.Fatal(err)
	}
	out := l.Infer(context.Background(), items(req))
	if len(out) != 1 || out[0].Err != nil {
		t.Fatalf("Infer: %+v", out)
	}
	r := out[0]
	if r.ID != "r0" || r.Data.Model != "stories260K.gguf" {
		t.Errorf("id %q, model %q", r.ID, r.Data.Model)
	}
	c := r.Data.Completion
	if got := joinIDs(c.Tokens); got != referenceIDs {
		t.Errorf("ids\n got %s\nwant %s", got, referenceIDs)
	}
	if c.Text != referenceText {
		t.Errorf("text %q\nwant %q", c.Text, referenceText)
	}
	if !strings.HasPrefix("Once upon a time"+c.Text, "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.") {
		t.Errorf("text %q does not start as PROVENANCE.md's reference", c.Text)
	}
	if c.PromptTokens != 5 || c.CompletionTokens != 60 || c.FinishReason != llama.FinishLength {
		t.Errorf("tokens %d+%d, finish %q; want 5+60, length", c.PromptTokens, c.CompletionTokens, c.FinishReason)
	}
	if ids, err := l.Engine().Model().Tokenizer.Encode("Once upon a time"); err != nil || joinIDs(ids) != referencePrompt {
		t.Errorf("prompt ids %v, %v; want %s", ids, err, referencePrompt)
	}
}

func TestLocalErrors(t *testing.T) {
	l := newLocal(t)
	long := strings.Repeat("Once upon a time, there was a little girl. ", l.Context()/4)
	good := infer.Request{Request: llama.Request{Prompt: "Lily and Tom", MaxTokens: 20, TopP: 1}}
	chat := infer.Request{Request: llama.Request{MaxTokens: 20, TopP: 1},
		Messages: []infer.Message{{Role: "system", Content: "You tell stories."}, {Role: "user", Content: "Tell me about a dog."}}}
	reqs := []infer.Request{
		good,
		{Request: llama.Request{Prompt: long, MaxTokens: 10}},                                               // too long for the context
		{Request: llama.Request{Prompt: "The dog", Temperature: 2.5}},                                       // bad temperature
		{Request: llama.Request{Prompt: "x"}, Messages: []infer.Message{{Role: "assistant", Content: "x"}}}, // bad chat
		chat,
		{Request: llama.Request{Prompt: "", MaxTokens: 5}}, // empty prompt
	}
	alone := func(r infer.Request) batch.Response[infer.Completion] {
		return l.Infer(context.Background(), items(r))[0]
	}
	out := l.Infer(context.Background(), items(reqs...))
	if len(out) != len(reqs) {
		t.Fatalf("%d responses for %d requests", len(out), len(reqs))
	}
	for i, r := range out {
		if want := fmt.Sprint("r", i); r.ID != want {
			t.Errorf("response %d has id %q, want %q", i, r.ID, want)
		}
	}
	if err := out[1].Err; !errors.Is(err, llama.ErrTooLong) {
		t.Errorf("long prompt: %v, want ErrTooLong", err)
	}
	if err := alone(reqs[1]).Err; !errors.Is(err, llama.ErrTooLong) {
		t.Errorf("long prompt alone: %v, want ErrTooLong", err)
	}
	if out[2].Err == nil || errors.Is(out[2].Err, llama.ErrTooLong) {
		t.Errorf("temperature 2.5: %v", out[2].Err)
	}
	var fe *infer.FieldError
	if !errors.As(out[3].Err, &fe) || fe.Field != "messages" {
		t.Errorf("bad chat: %v, want a *FieldError on messages", out[3].Err)
	}
	if out[5].Err == nil {
		t.Error("empty prompt: no error")
	}
	for _, i := range []int{0, 4} {
		r := out[i]
		if r.Err != nil {
			t.Fatalf("request %d: %v", i, r.Err)
		}
		if r.Data.CompletionTokens == 0 || r.Data.Text == "" || r.Data.Model != "stories260K.gguf" {
			t.Errorf("request %d: %+v", i, r.Data)
		}
		a := alone(reqs[i])
		if a.Err != nil || a.Data.Text != r.Data.Text || !slices.Equal(a.Data.Tokens, r.Data.Tokens) {
			t.Errorf("request %d differs beside bad requests: %q, alone %q (%v)", i, r.Data.Text, a.Data.Text, a.Err)
		}
	}
	// The chat ran on the prompt RenderChat makes of it.
	p, _ := infer.RenderChat(chat.Messages)
	plain := alone(infer.Request{Request: llama.Request{Prompt: p, MaxTokens: 20, TopP: 1}})
	if plain.Err != nil || plain.Data.Text != out[4].Data.Text || plain.Data.PromptTokens != out[4].Data.PromptTokens {
		t.Errorf("chat %q, its rendered prompt %q (%v)", out[4].Data.Text, plain.Data.Text, plain.Err)
	}
}

// TestLocalBatchInvariance runs 8 mixed, sampled requests alone and in one
// batch: each gets the same completion either way.
func TestLocalBatchInvariance(t *testing.T) {
	l := newLocal(t)
	req := func(prompt string, maxTokens int, seed uint64) infer.Request {
		return infer.Request{Request: llama.Request{Prompt: prompt, MaxTokens: maxTokens, Temperature: 0.8, TopP: 1, Seed: seed}}
	}
	reqs := []infer.Request{
		req("Once upon a time", 60, 1),
		req("Once upon a time", 60, 2),
		req("Lily and Tom", 40, 3),
		req("The dog", 80, 4),
		req("One day, a little bird", 30, 5),
		{Request: llama.Request{Prompt: "Tim had a red ball. He", MaxTokens: 50, Temperature: 0.8, TopP: 0.9, TopK: 20, Seed: 6}},
		{Request: llama.Request{Prompt: "Mom said", MaxTokens: 70, Temperature: 0.8, TopP: 1, Seed: 7, Stop: []string{"."}}},
		{Request: llama.Request{MaxTokens: 40, Temperature: 0.8, TopP: 1, Seed: 8},
			Messages: []infer.Message{{Role: "user", Content: "Tell me a story."}}},
	}
	together := l.Infer(context.Background(), items(reqs...))
	texts := map[string]bool{}
	for i, r := range reqs {
		a := l.Infer(context.Background(), items(r))[0]
		b := together[i]
		if a.Err != nil || b.Err != nil {
			t.Fatalf("request %d: %v, %v", i, a.Err, b.Err)
		}
		if a.Data.Text != b.Data.Text || !slices.Equal(a.Data.Tokens, b.Data.Tokens) || a.Data.FinishReason != b.Data.FinishReason ||
			a.Data.PromptTokens != b.Data.PromptTokens || a.Data.Seed != b.Data.Seed {
			t.Errorf("request %d: alone %q (%s), in a batch %q (%s)", i, a.Data.Text, a.Data.FinishReason, b.Data.Text, b.Data.FinishReason)
		}
		texts[b.Data.Text] = true
	}
	if len(texts) != len(reqs) {
		t.Errorf("%d distinct completions of %d requests", len(texts), len(reqs))
	}
	if strings.Contains(together[6].Data.Text, ".") {
		t.Errorf("stop string in %q", together[6].Data.Text)
	}
}
