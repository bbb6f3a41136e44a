package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
	"github.com/minerva-batch/minerva/io/blob"
)

// Backend kinds.
const (
	BackendLocal  = "local"  // the embedded Go engine
	BackendOpenAI = "openai" // an OpenAI-compatible HTTP server
)

// BackendConfig says which inference backend a job uses and how. It is a
// plain struct, so it travels with the DoFn to every worker.
type BackendConfig struct {
	// Kind is BackendLocal (default) or BackendOpenAI.
	Kind string
	// Model is the model file (local, a path or gs:// URL) or the model
	// name sent to the server (openai; empty: the first model the server
	// lists).
	Model string
	// Tokenizer optionally overrides the local model's vocabulary.
	Tokenizer string
	// Context, if positive, caps the local model's context length.
	Context int
	// Threads is the local engine's thread count (0: all cores).
	Threads int
	// MaxInFlight is how many sequences the local engine decodes together,
	// or how many HTTP requests may be in flight (0: 8; the inference job
	// sets it from its batch size).
	MaxInFlight int
	// KVBudgetMB bounds the local engine's KV cache (0: 512).
	KVBudgetMB int64
	// Endpoint is the server's base URL (openai).
	Endpoint string
	// APIKeyEnv names the environment variable holding the API key
	// (openai); the key itself never appears in a config or a log.
	APIKeyEnv string
	// TimeoutMS is the per-attempt HTTP timeout (0: the client's default).
	TimeoutMS int64
	// MaxAttempts bounds the HTTP attempts per request (0: the client's
	// default).
	MaxAttempts int
}

// Open starts the backend. For an HTTP backend it checks once that the
// endpoint answers and serves the model.
func (c BackendConfig) Open(ctx context.Context) (infer.Backend, error) {
	switch c.Kind {
	case "", BackendLocal:
		if c.Model == "" {
			return nil, fmt.Errorf("no model: give --model PATH (a GGUF file or a llama2.c checkpoint)")
		}
		// Weights are memory-mapped: a gs:// model is copied to the
		// machine's cache once, and mapped from there.
		model, err := blob.Localize(ctx, c.Model, "")
		if err != nil {
			return nil, err
		}
		tok, err := blob.Localize(ctx, c.Tokenizer, "")
		if err != nil {
			return nil, err
		}
		if c.Tokenizer == "" && blob.IsGCS(c.Model) && !strings.HasSuffix(c.Model, ".gguf") {
			// A llama2.c checkpoint's tokenizer.bin lies beside it.
			if tok, err = blob.Localize(ctx, blob.Join(c.Model[:strings.LastIndex(c.Model, "/")], "tokenizer.bin"), ""); err != nil {
				return nil, err
			}
		}
		l, err := infer.NewLocal(model, llama.Options{TokenizerPath: tok, Context: c.Context},
			llama.EngineOptions{MaxInFlight: c.MaxInFlight, Threads: c.Threads, KVBudget: c.KVBudgetMB << 20})
		if err != nil {
			return nil, err
		}
		l.Name = blob.Base(c.Model)
		return l, nil
	case BackendOpenAI:
		cl, err := openai.NewClient(openai.Options{
			Endpoint: c.Endpoint, Model: c.Model, APIKeyEnv: c.APIKeyEnv, Concurrency: c.MaxInFlight,
			Timeout: time.Duration(c.TimeoutMS) * time.Millisecond, MaxAttempts: c.MaxAttempts,
		})
		if err != nil {
			return nil, err
		}
		if err := cl.Check(ctx); err != nil {
			cl.Close()
			return nil, err
		}
		return cl, nil
	}
	return nil, fmt.Errorf("unknown backend %q: use %s or %s", c.Kind, BackendLocal, BackendOpenAI)
}

// shared holds the backends of this process, one per configuration, like
// Beam Python's Shared handle: every DoFn instance of a worker uses the same
// loaded model.
var shared = struct {
	sync.Mutex
	m map[string]*sharedBackend
}{m: map[string]*sharedBackend{}}

type sharedBackend struct {
	b    infer.Backend
	refs int
}

// AcquireBackend returns the process's backend for cfg, opening it on first
// use, and a release func; the backend is closed when the last user
// releases it.
func AcquireBackend(ctx context.Context, cfg BackendConfig) (infer.Backend, func(), error) {
	keyBytes, _ := json.Marshal(cfg)
	key := string(keyBytes)
	shared.Lock()
	defer shared.Unlock()
	s := shared.m[key]
	if s == nil {
		start := time.Now()
		b, err := cfg.Open(ctx)
		if err != nil {
			return nil, nil, err
		}
		slog.Info("backend opened", "kind", cfg.Kind, "model", b.Model(), "took", time.Since(start))
		s = &sharedBackend{b: b}
		shared.m[key] = s
	}
	s.refs++
	var once sync.Once
	return s.b, func() {
		once.Do(func() {
			shared.Lock()
			defer shared.Unlock()
			if s.refs--; s.refs == 0 {
				delete(shared.m, key)
				s.b.Close()
			}
		})
	}, nil
}
