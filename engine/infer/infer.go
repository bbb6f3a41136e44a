// Package infer is the vocabulary of batch LLM inference, independent of
// where the model runs: a Request (a llama.Request, or a chat), the
// Completion a Backend returns, the row-level checks (Check) and the seed
// rule (RowSeed) that make a job's output independent of order, batching
// and runner.
//
// Two backends implement [Backend]: [Local] runs the embedded Go engine
// (package engine/llama) in-process, and package engine/openai's Client
// sends requests to an OpenAI-compatible HTTP server (vLLM, llama.cpp's
// server, Ollama, OpenAI).
package infer

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/llama"
)

// Message is one message of a chat request (OpenAI's chat format).
type Message struct {
	Role    string // "system", "user" or "assistant"
	Content string
}

// Request is one completion request. When Messages is set the request is a
// chat: an HTTP backend sends it to /v1/chat/completions as it is, and the
// local engine completes the prompt RenderChat makes of it; Prompt is then
// ignored.
type Request struct {
	llama.Request
	Messages []Message
}

// IsChat reports whether r is a chat request.
func (r Request) IsChat() bool { return r.Messages != nil }

// Completion is a backend's answer to one Request.
type Completion struct {
	llama.Completion
	// Model names the model that answered.
	Model string
	// Retries counts the attempts after the first (HTTP backends).
	Retries int
}

// Backend runs batches of requests. Implementations are safe for concurrent
// use: several batches may be in flight at once.
type Backend interface {
	// Infer runs items and returns one response per item, in input order.
	// An item that fails gets its own error; the others are unaffected. A
	// request that can never run (its prompt does not fit the context) has
	// an error wrapping llama.ErrTooLong.
	Infer(ctx context.Context, items []batch.Item[Request]) []batch.Response[Completion]
	// Model names the model, as written to the results.
	Model() string
	// Context is the model's context length in tokens, or 0 when the
	// backend does not know it.
	Context() int
	// Close releases the backend's resources.
	Close() error
}

// Spec is a request as a dataset row gives it, before the job's defaults:
// an optional field is nil when the row does not give it (its column is
// absent or its value null). Readers of every input format produce Specs.
type Spec struct {
	Prompt      *string
	Messages    []Message // a chat (OpenAI batch files); nil otherwise
	MaxTokens   *int64
	Temperature *float64
	TopP        *float64
	TopK        *int64
	Seed        *int64
	Stop        []string // nil: not given
	Priority    *int64
}

// Defaults are a job's values for the fields a row does not give.
type Defaults struct {
	MaxTokens   int     // 0 means 256
	Temperature float64 // 0 is greedy
	TopP        float64 // 0 means 1
	TopK        int
	Stop        []string
	// Seed is the job seed; a row without a seed samples with
	// RowSeed(Seed, id).
	Seed uint64
}

// Resolve fills in the fields s does not give from d and checks the result
// with Check (context as there). The seed of a row without one is
// RowSeed(d.Seed, id).
func (s Spec) Resolve(id string, d Defaults, context int) (Request, error) {
	var r Request
	if s.Prompt != nil {
		r.Prompt = *s.Prompt
	}
	r.Messages = s.Messages
	r.MaxTokens = cmp.Or(d.MaxTokens, 256)
	r.Temperature = d.Temperature
	r.TopP = cmp.Or(d.TopP, 1)
	r.TopK = d.TopK
	r.Stop = d.Stop
	r.Seed = RowSeed(d.Seed, id)
	if s.MaxTokens != nil {
		switch {
		case *s.MaxTokens <= 0:
			return r, &FieldError{Field: "max_tokens", Problem: fmt.Sprintf("%d is not positive", *s.MaxTokens)}
		case *s.MaxTokens > math.MaxInt32:
			return r, &FieldError{Field: "max_tokens", Problem: fmt.Sprintf("%d is too large", *s.MaxTokens)}
		}
		r.MaxTokens = int(*s.MaxTokens)
	}
	if s.Temperature != nil {
		r.Temperature = *s.Temperature
	}
	if s.TopP != nil {
		r.TopP = *s.TopP
	}
	if s.TopK != nil {
		switch {
		case *s.TopK < 0:
			return r, &FieldError{Field: "top_k", Problem: fmt.Sprintf("%d is negative", *s.TopK)}
		case *s.TopK > math.MaxInt32:
			return r, &FieldError{Field: "top_k", Problem: fmt.Sprintf("%d is too large", *s.TopK)}
		}
		r.TopK = int(*s.TopK)
	}
	if s.Seed != nil {
		if *s.Seed < 0 {
			return r, &FieldError{Field: "seed", Problem: fmt.Sprintf("%d is negative", *s.Seed)}
		}
		r.Seed = uint64(*s.Seed)
	}
	if s.Stop != nil {
		r.Stop = s.Stop
	}
	if s.Priority != nil {
		r.Priority = int(max(min(*s.Priority, math.MaxInt32), math.MinInt32))
	}
	return r, Check(r, context)
}

// TokenCounter is implemented by backends that can count a request's prompt
// tokens themselves (BOS included), for batch sizing by cost.
type TokenCounter interface {
	PromptTokens(r Request) int
}

// FieldError is a row-level problem with one field of a request.
type FieldError struct {
	Field   string // the field as named in the request's schema, e.g. "top_p"
	Problem string // what is wrong, e.g. "0 is out of range (0, 1]"
}

func (e *FieldError) Error() string { return fmt.Sprintf("field %q: %s", e.Field, e.Problem) }

// Check validates a request before it is sent to a backend; context is the
// model's context length (0: unknown, max_tokens then is only checked to be
// positive). TopP 0 and MaxTokens 0 are invalid here: a job fills in its
// defaults (top_p 1, max_tokens from the config) before it checks. The
// error, if any, is a *FieldError.
func Check(r Request, context int) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
	}
	switch {
	case r.IsChat() && len(r.Messages) == 0:
		return bad("messages", "is empty")
	case !r.IsChat() && r.Prompt == "":
		return bad("prompt", "is empty")
	case r.MaxTokens <= 0:
		return bad("max_tokens", "%d is not positive", r.MaxTokens)
	case context > 0 && r.MaxTokens > context:
		return bad("max_tokens", "%d is more than the model's context of %d tokens", r.MaxTokens, context)
	case !(r.Temperature >= 0 && r.Temperature <= 2):
		return bad("temperature", "%v is out of range 0.0–2.0", r.Temperature)
	case !(r.TopP > 0 && r.TopP <= 1):
		return bad("top_p", "%v is out of range (0, 1]", r.TopP)
	case r.TopK < 0:
		return bad("top_k", "%d is negative", r.TopK)
	}
	for i, s := range r.Stop {
		if s == "" {
			return bad("stop", "string %d is empty", i)
		}
	}
	if r.IsChat() {
		if _, err := RenderChat(r.Messages); err != nil {
			return err
		}
	}
	return nil
}

// RowSeed is the sampling seed of a row that gives none: a hash of the
// job's seed and the row's id. It depends on nothing else, so a row samples
// the same tokens whatever its position, batch, bundle or runner. The
// result is below 2^63, so it round-trips through Parquet INT64 and JSON.
func RowSeed(jobSeed uint64, id string) uint64 {
	h := sha256.New()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], jobSeed)
	h.Write(b[:])
	h.Write([]byte(id))
	return binary.LittleEndian.Uint64(h.Sum(nil)) & math.MaxInt64
}

// RenderChat turns chat messages into a prompt in the Llama 2 chat format
// of llama2.c's run.c chat mode: a system message goes inside the first
// user turn's <<SYS>> block, each user turn is wrapped in [INST] … [/INST],
// and each assistant turn follows its user turn. The prompt is text, so
// where run.c feeds the ids EOS and BOS between earlier exchanges, the
// rendering has a space (the tokenizer does not map the text "</s><s>" to
// those ids); BOS is added once, by the tokenizer, as for any prompt.
func RenderChat(msgs []Message) (string, error) {
	var b strings.Builder
	system := ""
	inTurn := false
	for i, m := range msgs {
		switch m.Role {
		case "system":
			if i != 0 {
				return "", &FieldError{Field: "messages", Problem: fmt.Sprintf("message %d: a system message must come first", i)}
			}
			system = m.Content
		case "user":
			if inTurn {
				return "", &FieldError{Field: "messages", Problem: fmt.Sprintf("message %d: two user messages in a row", i)}
			}
			if b.Len() > 0 {
				b.WriteString(" ")
			}
			b.WriteString("[INST] ")
			if system != "" {
				b.WriteString("<<SYS>>\n" + system + "\n<</SYS>>\n\n")
				system = ""
			}
			b.WriteString(m.Content + " [/INST]")
			inTurn = true
		case "assistant":
			if !inTurn {
				return "", &FieldError{Field: "messages", Problem: fmt.Sprintf("message %d: an assistant message must follow a user message", i)}
			}
			b.WriteString(" " + m.Content)
			inTurn = false
		default:
			return "", &FieldError{Field: "messages", Problem: fmt.Sprintf("message %d has role %q; want system, user or assistant", i, m.Role)}
		}
	}
	if !inTurn {
		return "", &FieldError{Field: "messages", Problem: "the last message must be a user message"}
	}
	return b.String(), nil
}

// Local is the embedded backend: a llama.Engine over a loaded model,
// continuously batching the requests of every Infer call in flight.
type Local struct {
	// Name, when set, is what Model reports instead of the model file's
	// base name (e.g. the name of the remote file it was copied from).
	Name string

	m   *llama.Model
	eng *llama.Engine
}

// NewLocal loads the model at path and starts an engine over it.
func NewLocal(path string, mopts llama.Options, eopts llama.EngineOptions) (*Local, error) {
	m, err := llama.Load(path, mopts)
	if err != nil {
		return nil, err
	}
	eng, err := llama.NewEngine(m, eopts)
	if err != nil {
		m.Close()
		return nil, err
	}
	return &Local{m: m, eng: eng}, nil
}

// Engine returns the underlying engine.
func (l *Local) Engine() *llama.Engine { return l.eng }

// Model is Name, or the model file's base name.
func (l *Local) Model() string { return cmp.Or(l.Name, modelName(l.m.Path)) }

// Context is the model's context length.
func (l *Local) Context() int { return l.m.Config.Context }

// Infer runs items on the engine; chats are rendered with RenderChat.
func (l *Local) Infer(ctx context.Context, items []batch.Item[Request]) []batch.Response[Completion] {
	out := make([]batch.Response[Completion], len(items))
	reqs := make([]batch.Item[llama.Request], 0, len(items))
	index := make([]int, 0, len(items))
	for i, it := range items {
		r := it.Data.Request
		if it.Data.IsChat() {
			p, err := RenderChat(it.Data.Messages)
			if err != nil {
				out[i] = batch.Response[Completion]{ID: it.ID, Err: err}
				continue
			}
			r.Prompt = p
		}
		reqs = append(reqs, batch.Item[llama.Request]{ID: it.ID, Data: r})
		index = append(index, i)
	}
	name := l.Model()
	for j, r := range l.eng.InferBatch(ctx, reqs) {
		out[index[j]] = batch.Response[Completion]{ID: r.ID, Start: r.Start, Duration: r.Duration, Err: r.Err,
			Data: Completion{Completion: r.Data, Model: name}}
	}
	return out
}

// PromptTokens counts the tokens of r's prompt (or rendered chat) with the
// model's tokenizer, BOS included; a prompt the tokenizer rejects counts its
// bytes.
func (l *Local) PromptTokens(r Request) int {
	p := r.Prompt
	if r.IsChat() {
		p, _ = RenderChat(r.Messages)
	}
	ids, err := l.m.Tokenizer.Encode(p)
	if err != nil {
		return len(p)
	}
	return len(ids)
}

// Close stops the engine and unmaps the model.
func (l *Local) Close() error {
	l.eng.Close()
	return l.m.Close()
}

func modelName(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[i+1:]
	}
	return path
}
