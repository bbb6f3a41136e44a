package llama

import (
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/engine/batch"
)

// Request is one completion request.
type Request struct {
	// Prompt is the text to complete; it must not be empty. It is encoded
	// with the model's tokenizer, with BOS first.
	Prompt string
	// MaxTokens is the most tokens to generate; 0 takes the engine's
	// default. Generation also stops when the context is full.
	MaxTokens int
	// Temperature divides the logits before sampling; 0 is greedy decoding.
	// Valid values are 0.0–2.0.
	Temperature float64
	// TopP, in (0, 1], keeps the most likely tokens whose probability mass
	// reaches it (nucleus sampling); 0 means 1 (off).
	TopP float64
	// TopK, if positive, keeps only the TopK most likely tokens.
	TopK int
	// Seed seeds the request's own random stream: the same request with the
	// same seed gives the same completion, whatever runs beside it.
	Seed uint64
	// Stop lists strings that end the completion; the text ends before the
	// first one generated.
	Stop []string
	// Priority orders admission: higher first, first come first served
	// within a priority.
	Priority int
	// IgnoreEOS keeps generating past the model's stop tokens (BOS and EOS)
	// until max_tokens or the context ends it, as vLLM's ignore_eos; for
	// benchmarks.
	IgnoreEOS bool
}

// Finish reasons of a Completion.
const (
	FinishStop   = "stop"   // a stop token or stop string
	FinishLength = "length" // max_tokens reached or the context is full
)

// Completion is the result of one Request.
type Completion struct {
	// Text is the generated text (without the prompt, and without a stop
	// string or a character cut short by the token limit).
	Text string
	// Tokens are the generated token ids (without a stop token).
	Tokens []int32
	// PromptTokens counts the prompt's tokens, BOS included;
	// CompletionTokens the generated ones (len(Tokens)).
	PromptTokens, CompletionTokens int
	// FinishReason is FinishStop or FinishLength.
	FinishReason string
	// TTFT is the time from submission to the first generated token;
	// Duration the time from submission to the end.
	TTFT, Duration time.Duration
	// Seed is the seed the request ran with.
	Seed uint64
}

// EngineOptions configure an Engine.
type EngineOptions struct {
	// MaxInFlight is the most sequences decoded together (the continuous
	// batch); 0 means batch.InferenceLimits.Optimal (8). At most
	// batch.InferenceLimits.Max (100).
	MaxInFlight int
	// KVBudget is the most bytes of KV cache held at once; 0 means 512 MiB.
	// Each sequence reserves (prompt + max_tokens) positions when admitted;
	// a request that does not fit waits for others to finish.
	KVBudget int64
	// Threads is how many goroutines compute a step; 0 means GOMAXPROCS.
	// Small matrix products run on one thread whatever this is.
	Threads int
	// DefaultMaxTokens is used for requests with MaxTokens 0; 0 means 256.
	DefaultMaxTokens int
	// StepTokens caps the prompt tokens processed in one step, so a long
	// prompt does not stall the sequences decoding beside it; 0 means 512.
	StepTokens int
}

// Engine generates completions with a Model, keeping up to MaxInFlight
// sequences in flight (continuous batching): each step runs every active
// sequence's next token together, so each weight is read once per step
// for the whole batch; when a sequence finishes, the highest-priority
// waiting request takes its place at the next step. An Engine is safe for
// concurrent use; its methods may be called from many goroutines, whose
// requests then share the batch.
type Engine struct {
	m    *Model
	opts EngineOptions
	pool *pool
	run  runner

	mu      sync.Mutex
	queue   reqQueue
	kvUsed  int64
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	counter uint64

	maxActive int // the most sequences seen in one step, for tests
}

// NewEngine starts an engine over m. Close stops it.
func NewEngine(m *Model, opts EngineOptions) (*Engine, error) {
	e, err := newEngine(m, opts)
	if err != nil {
		return nil, err
	}
	go e.loop()
	return e, nil
}

// newEngine builds an engine whose scheduler is not started yet.
func newEngine(m *Model, opts EngineOptions) (*Engine, error) {
	var err error
	if opts.MaxInFlight, err = batch.InferenceLimits.Resolve("inference batch", opts.MaxInFlight); err != nil {
		return nil, err
	}
	if opts.KVBudget < 0 || opts.Threads < 0 || opts.DefaultMaxTokens < 0 || opts.StepTokens < 0 {
		return nil, errors.New("llama: engine options must not be negative")
	}
	if opts.KVBudget == 0 {
		opts.KVBudget = 512 << 20
	}
	if opts.Threads == 0 {
		opts.Threads = runtime.GOMAXPROCS(0)
	}
	if opts.DefaultMaxTokens == 0 {
		opts.DefaultMaxTokens = 256
	}
	if opts.StepTokens == 0 {
		opts.StepTokens = 512
	}
	e := &Engine{m: m, opts: opts, pool: newPool(opts.Threads), wake: make(chan struct{}, 1), done: make(chan struct{})}
	e.run = runner{m: m, pool: e.pool}
	return e, nil
}

// Model returns the engine's model.
func (e *Engine) Model() *Model { return e.m }

// Close stops the engine: requests still queued or running end with an
// error. It does not close the model.
func (e *Engine) Close() {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.closed = true
	e.mu.Unlock()
	e.signal()
	<-e.done
	e.pool.close()
}

// ErrClosed is the error of requests the engine stopped before they finished.
var ErrClosed = errors.New("llama: engine closed")

// ErrTooLong is wrapped by the error of a request that can never run: its
// prompt does not fit the context, or its prompt and max_tokens need more KV
// cache than the engine's whole budget. Test for it with errors.Is.
var ErrTooLong = errors.New("request too long")

// InferBatch runs every item and returns their responses in input order.
// A bad request (empty prompt, parameter out of range, prompt longer than
// the context) gets its own error; the others are unaffected. Cancelling ctx
// ends the remaining items promptly with ctx's error.
func (e *Engine) InferBatch(ctx context.Context, items []batch.Item[Request]) []batch.Response[Completion] {
	out := make([]batch.Response[Completion], len(items))
	for r := range e.Stream(ctx, items) {
		out[r.index] = r.Response
	}
	return out
}

// Indexed is a response with the index of its item in the submitted slice.
type Indexed struct {
	batch.Response[Completion]
	index int
}

// Index is the position of the response's item in the slice given to Stream.
func (r Indexed) Index() int { return r.index }

// Stream submits every item and returns a channel that yields each response
// as soon as its completion finishes (so in completion order, not input
// order), and is closed after the last one.
func (e *Engine) Stream(ctx context.Context, items []batch.Item[Request]) <-chan Indexed {
	ch := make(chan Indexed, len(items))
	var wg sync.WaitGroup
	wg.Add(len(items))
	for i, it := range items {
		e.submit(ctx, i, it, func(r Indexed) { ch <- r; wg.Done() })
	}
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// Generate runs one request.
func (e *Engine) Generate(ctx context.Context, req Request) (Completion, error) {
	r := e.InferBatch(ctx, []batch.Item[Request]{{ID: "0", Data: req}})[0]
	return r.Data, r.Err
}

// sequence is one request inside the engine.
type sequence struct {
	ctx     context.Context
	index   int
	id      string
	req     Request
	deliver func(Indexed)
	start   time.Time
	order   uint64

	prompt    []int32
	maxTokens int
	positions int   // KV positions reserved
	kvBytes   int64 // their bytes
	kv        *kvCache
	sampler   *sampler
	done      int // prompt tokens processed
	next      int32
	gen       []int32
	text      []byte
	ttft      time.Duration
	maxStop   int
}

func (e *Engine) fail(s *sequence, err error) {
	s.deliver(Indexed{index: s.index, Response: batch.Response[Completion]{ID: s.id, Start: s.start, Duration: time.Since(s.start), Err: err}})
}

// submit validates a request, encodes its prompt and queues it.
func (e *Engine) submit(ctx context.Context, index int, it batch.Item[Request], deliver func(Indexed)) {
	s := &sequence{ctx: ctx, index: index, id: it.ID, req: it.Data, deliver: deliver, start: time.Now()}
	if err := e.prepare(s); err != nil {
		e.fail(s, err)
		return
	}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		e.fail(s, ErrClosed)
		return
	}
	e.counter++
	s.order = e.counter
	heap.Push(&e.queue, s)
	e.mu.Unlock()
	e.signal()
}

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// prepare checks a request and fills in its derived fields.
func (e *Engine) prepare(s *sequence) error {
	r, c := &s.req, e.m.Config
	switch {
	case r.Prompt == "":
		return errors.New("prompt is empty")
	case !(r.Temperature >= 0 && r.Temperature <= 2):
		return fmt.Errorf("temperature %v is out of range 0.0–2.0", r.Temperature)
	case !(r.TopP >= 0 && r.TopP <= 1):
		return fmt.Errorf("top_p %v is out of range (0, 1]", r.TopP)
	case r.TopK < 0:
		return fmt.Errorf("top_k %d is negative", r.TopK)
	case r.MaxTokens < 0:
		return fmt.Errorf("max_tokens %d is negative", r.MaxTokens)
	}
	for i, st := range r.Stop {
		if st == "" {
			return fmt.Errorf("stop string %d is empty", i)
		}
		s.maxStop = max(s.maxStop, len(st))
	}
	if err := s.ctx.Err(); err != nil {
		return err
	}
	ids, err := e.m.Tokenizer.Encode(r.Prompt)
	if err != nil {
		return fmt.Errorf("prompt: %w", err)
	}
	if len(ids) >= c.Context {
		return fmt.Errorf("%w: prompt of %d tokens (BOS included) does not fit the context of %d tokens with room for one more", ErrTooLong, len(ids), c.Context)
	}
	s.prompt = ids
	s.maxTokens = r.MaxTokens
	if s.maxTokens == 0 {
		s.maxTokens = e.opts.DefaultMaxTokens
	}
	// Positions that get a forward pass: the prompt and every generated
	// token but the last; a token may be generated at position Context.
	s.positions = min(len(ids)+s.maxTokens-1, c.Context)
	s.kvBytes = int64(s.positions) * c.KVBytesPerPosition()
	if s.kvBytes > e.opts.KVBudget {
		return fmt.Errorf("%w: request needs %d positions of KV cache (%.1f MB), more than the engine's whole budget of %.1f MB; lower max_tokens or raise the budget",
			ErrTooLong, s.positions, float64(s.kvBytes)/1e6, float64(e.opts.KVBudget)/1e6)
	}
	topP := r.TopP
	if topP == 0 {
		topP = 1
	}
	s.sampler = newSampler(r.Temperature, topP, r.TopK, r.Seed)
	return nil
}

// loop is the scheduler: admit, step, sample, retire, until closed.
func (e *Engine) loop() {
	defer close(e.done)
	var active []*sequence
	for {
		e.mu.Lock()
		closed := e.closed
		// Requests cancelled while they wait leave the queue at once.
		var cancelled []*sequence
		waiting := e.queue[:0]
		for _, s := range e.queue {
			if s.ctx.Err() != nil {
				cancelled = append(cancelled, s)
			} else {
				waiting = append(waiting, s)
			}
		}
		if len(cancelled) > 0 {
			clear(e.queue[len(waiting):])
			e.queue = waiting
			heap.Init(&e.queue)
		}
		// Admit waiting requests by priority while slots and KV budget allow.
		for !closed && len(active) < e.opts.MaxInFlight && e.queue.Len() > 0 {
			s := e.queue[0]
			if e.kvUsed+s.kvBytes > e.opts.KVBudget {
				break // wait for a running sequence to free its cache
			}
			heap.Pop(&e.queue)
			e.kvUsed += s.kvBytes
			s.kv = newKVCache(e.m.Config, s.positions)
			active = append(active, s)
		}
		var dropped []*sequence
		if closed {
			dropped = append(dropped, e.queue...)
			e.queue = e.queue[:0]
		}
		e.mu.Unlock()
		for _, s := range cancelled {
			e.fail(s, s.ctx.Err())
		}
		if closed {
			for _, s := range append(active, dropped...) {
				e.fail(s, ErrClosed)
			}
			return
		}
		if len(active) == 0 {
			<-e.wake
			continue
		}
		e.maxActive = max(e.maxActive, len(active))
		active = e.step(active)
	}
}

// step runs one forward pass over the active sequences and returns those
// still running.
func (e *Engine) step(active []*sequence) []*sequence {
	var toks []token
	var sampled []*sequence
	budget := e.opts.StepTokens
	keep := active[:0]
	for _, s := range active {
		if err := s.ctx.Err(); err != nil {
			e.retire(s, "", err)
			continue
		}
		keep = append(keep, s)
		if s.done < len(s.prompt) {
			// Prefill, in chunks of at most budget tokens per step (but
			// always some progress).
			n := min(len(s.prompt)-s.done, max(budget, 1))
			budget -= n
			for j := s.done; j < s.done+n; j++ {
				toks = append(toks, token{id: s.prompt[j], pos: j, kv: s.kv, logits: j == len(s.prompt)-1})
			}
			s.done += n
			if s.done == len(s.prompt) {
				sampled = append(sampled, s)
			}
			continue
		}
		toks = append(toks, token{id: s.next, pos: len(s.prompt) + len(s.gen) - 1, kv: s.kv, logits: true})
		sampled = append(sampled, s)
	}
	active = keep
	if len(toks) == 0 {
		return active
	}
	logits := e.run.forward(toks)
	vocab := e.m.Config.Vocab
	// Each sequence samples with its own random stream, so the sequences
	// can sample on any thread in any order.
	ids := make([]int32, len(sampled))
	e.pool.parallel(len(sampled), int64(len(sampled))*int64(vocab)*8, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			ids[i] = sampled[i].sampler.sample(logits[i*vocab : (i+1)*vocab])
		}
	})
	for i, s := range sampled {
		if len(s.gen) == 0 {
			s.ttft = time.Since(s.start)
		}
		e.advance(s, ids[i])
	}
	keep = active[:0]
	for _, s := range active {
		if s.kv != nil {
			keep = append(keep, s)
		}
	}
	return keep
}

// advance appends a sampled token to s and retires s if it is finished.
func (e *Engine) advance(s *sequence, id int32) {
	tok := e.m.Tokenizer
	if (id == tok.EOS() || id == tok.BOS()) && !s.req.IgnoreEOS {
		e.retire(s, FinishStop, nil)
		return
	}
	s.gen = append(s.gen, id)
	s.next = id
	if len(s.req.Stop) > 0 {
		from := max(0, len(s.text)-s.maxStop+1)
		piece, _ := tok.DecodeBytes([]int32{id})
		s.text = append(s.text, piece...)
		for _, st := range s.req.Stop {
			if i := bytes.Index(s.text[from:], []byte(st)); i >= 0 {
				s.text = s.text[:from+i]
				e.retire(s, FinishStop, nil)
				return
			}
		}
	}
	// The token just generated sits at position len(prompt)+len(gen)-1; the
	// next step would run it there, which needs a reserved position.
	if len(s.gen) >= s.maxTokens || len(s.prompt)+len(s.gen)-1 >= s.positions {
		e.retire(s, FinishLength, nil)
	}
}

// retire ends s with a finish reason or an error and frees its cache.
func (e *Engine) retire(s *sequence, reason string, err error) {
	e.mu.Lock()
	e.kvUsed -= s.kvBytes
	e.mu.Unlock()
	s.kv = nil
	if err != nil {
		e.fail(s, err)
		return
	}
	text := s.text
	if len(s.req.Stop) == 0 {
		text, _ = e.m.Tokenizer.DecodeBytes(s.gen)
	}
	// A character cut short at the end (by the token limit) is dropped;
	// bytes that are not UTF-8 elsewhere (a model can emit any byte
	// tokens) become U+FFFD, so Text is always valid UTF-8.
	text = trimPartialRune(text)
	text = bytes.ToValidUTF8(text, []byte("\uFFFD"))
	d := time.Since(s.start)
	s.deliver(Indexed{index: s.index, Response: batch.Response[Completion]{
		ID: s.id, Start: s.start, Duration: d,
		Data: Completion{
			Text: string(text), Tokens: s.gen, PromptTokens: len(s.prompt), CompletionTokens: len(s.gen),
			FinishReason: reason, TTFT: s.ttft, Duration: d, Seed: s.req.Seed,
		},
	}})
}

// reqQueue is a priority queue of waiting sequences: higher priority first,
// then submission order.
type reqQueue []*sequence

func (q reqQueue) Len() int { return len(q) }
func (q reqQueue) Less(i, j int) bool {
	if q[i].req.Priority != q[j].req.Priority {
		return q[i].req.Priority > q[j].req.Priority
	}
	return q[i].order < q[j].order
}
func (q reqQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *reqQueue) Push(x any)   { *q = append(*q, x.(*sequence)) }
func (q *reqQueue) Pop() any {
	old := *q
	s := old[len(old)-1]
	*q = old[:len(old)-1]
	return s
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}
