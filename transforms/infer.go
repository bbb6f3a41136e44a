package transforms

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
)

// Stage of an error row whose request failed at the backend.
const StageInfer = "infer"

// RequestRow is a request on its way to the inference step. A row that
// already failed (a null id, a duplicate id, an unusable JSONL line)
// carries its error in Err and Stage and is passed through to the errors
// output.
type RequestRow struct {
	ID     string
	IDNull bool
	File   string
	// Row is the 0-based row of a Parquet file, or the 1-based line of a
	// JSONL file.
	Row int64
	// URL is the endpoint of an OpenAI batch line ("" for Parquet rows).
	URL   string
	Spec  infer.Spec
	Err   string
	Stage string
}

// Answer is a completed request, in a form independent of the output format.
type Answer struct {
	ID, URL, File                  string
	Row                            int64
	Text, FinishReason, Model      string
	PromptTokens, CompletionTokens int64
	// TTFTNanos is 0 when the backend could not measure it.
	TTFTNanos, DurationNanos int64
	Seed                     int64
	Retries                  int64
}

// InferFailure is a request that became an error row.
type InferFailure struct {
	ID     string
	IDNull bool
	Error  string
	Stage  string
	File   string
	Row    int64
	URL    string
	Spec   infer.Spec
}

var (
	requests          = beam.NewCounter("minerva", "requests")
	requestsOK        = beam.NewCounter("minerva", "requests_succeeded")
	requestsFailed    = beam.NewCounter("minerva", "requests_failed")
	requestsRetried   = beam.NewCounter("minerva", "requests_retried")
	promptTokens      = beam.NewCounter("minerva", "prompt_tokens")
	completionTokens  = beam.NewCounter("minerva", "completion_tokens")
	inferBatchSizes   = beam.NewDistribution("minerva", "infer_batch_size")
	inferBatchLatency = beam.NewDistribution("minerva", "infer_batch_latency_ms")
)

// Progress counts the rows and completion tokens the inference steps of
// this process have finished, for a progress display. Runners that execute
// in-process (prism, direct) update it live.
var Progress struct {
	Rows, CompletionTokens atomic.Int64
}

// rowRef names a request row in messages.
func (r RequestRow) ref() string {
	unit := "row"
	if strings.HasSuffix(strings.ToLower(r.File), ".jsonl") {
		unit = "line"
	}
	if r.IDNull {
		return fmt.Sprintf("input %q %s %d (id null)", r.File, unit, r.Row)
	}
	return fmt.Sprintf("input %q %s %d (id %q)", r.File, unit, r.Row, r.ID)
}

// InferFn runs requests through an inference backend. The backend is
// opened in Setup and shared by every instance of the process
// (AcquireBackend). Rows are resolved against the job's Defaults and checked
// (a bad row becomes an error row at stage validate), then batched inside
// the bundle — BatchSize rows a batch, or sized by a batch.Sizer when
// Adaptive — with InFlight batches running at once, so the backend's own
// batching (the engine's continuous batch, or the HTTP client's concurrent
// requests) always has work. Every row comes out exactly once: as an
// Answer or an InferFailure, plus one batch.Observation.
type InferFn struct {
	Backend  BackendConfig
	Defaults infer.Defaults
	// BatchSize is the rows per batch when not Adaptive (0: 8, at most 100).
	BatchSize int
	// Adaptive sizes batches with a batch.Sizer, fitting batch latency
	// against batch cost in tokens (prompt + max_tokens).
	Adaptive bool
	// TargetLatencyMS bounds an adaptive batch's predicted latency (0: 30 s).
	TargetLatencyMS int64
	// MaxBatch bounds adaptive batches (0: 100).
	MaxBatch int
	// InFlight is how many batches run at once (0: 3).
	InFlight int
	// Fields maps request field names (prompt, max_tokens, …) to the
	// input's column names, for error messages.
	Fields map[string]string

	backend infer.Backend
	release func()
	sizer   *batch.Sizer
	batches *bundleBatcher[pending, inferOutcome]
}

// pending is a resolved request waiting for its batch.
type pending struct {
	row  RequestRow
	req  infer.Request
	cost int64
}

type inferOutcome = outcome[Answer, InferFailure]

// Setup opens (or shares) the backend and the batch sizer.
func (f *InferFn) Setup(ctx context.Context) error {
	b, release, err := AcquireBackend(ctx, f.Backend)
	if err != nil {
		return err
	}
	f.backend, f.release = b, release
	if f.BatchSize <= 0 {
		f.BatchSize = batch.InferenceLimits.Optimal
	}
	if f.InFlight <= 0 {
		f.InFlight = 3
	}
	if f.Adaptive {
		f.sizer, err = batch.NewSizer(batch.SizerOptions{
			MaxItems: f.MaxBatch, TargetLatency: time.Duration(f.TargetLatencyMS) * time.Millisecond,
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// Teardown releases the backend.
func (f *InferFn) Teardown() {
	if f.release != nil {
		f.release()
		f.release = nil
	}
}

// StartBundle starts an empty batch.
func (f *InferFn) StartBundle(_ context.Context, _ func(Answer), _ func(InferFailure), _ func(batch.Observation)) {
	limit := fixedSize(f.BatchSize)
	if f.sizer != nil {
		limit = f.sizer.Next
	}
	f.batches = newBundleBatcher(limit, func(p pending) int64 { return p.cost }, f.InFlight, f.run)
}

// ProcessElement resolves and checks one row and adds it to the batch.
func (f *InferFn) ProcessElement(ctx context.Context, row RequestRow, ans func(Answer), fail func(InferFailure), obs func(batch.Observation)) {
	requests.Inc(ctx, 1)
	e := inferEmitter{ctx, ans, fail, obs}
	if row.Err != "" {
		f.batches.addReady(ctx, f.failure(row, row.Stage, row.Err, time.Now(), 0), e.emit)
		return
	}
	req, err := row.Spec.Resolve(row.ID, f.Defaults, f.backend.Context())
	if err != nil {
		f.batches.addReady(ctx, f.failure(row, StageValidate, f.message(row, err), time.Now(), 0), e.emit)
		return
	}
	p := pending{row: row, req: req}
	if f.sizer != nil {
		// Only adaptive sizing uses the cost (counting a prompt's tokens
		// encodes it, which the engine does again).
		p.cost = f.cost(req)
	}
	f.batches.add(ctx, p, e.emit)
}

// FinishBundle runs the last partial batch and waits for batches in flight.
func (f *InferFn) FinishBundle(ctx context.Context, ans func(Answer), fail func(InferFailure), obs func(batch.Observation)) {
	f.batches.finish(ctx, inferEmitter{ctx, ans, fail, obs}.emit)
}

// cost is a request's batch cost in tokens: its prompt's tokens (counted by
// the backend when it can, else estimated at 4 bytes a token) plus
// max_tokens.
func (f *InferFn) cost(r infer.Request) int64 {
	n := 0
	if c, ok := f.backend.(infer.TokenCounter); ok {
		n = c.PromptTokens(r)
	} else {
		n = len(r.Prompt)/4 + 1
		for _, m := range r.Messages {
			n += len(m.Content)/4 + 1
		}
	}
	return int64(n + r.MaxTokens)
}

// message words a row's error: where the row is, and the field, named as
// the input's column.
func (f *InferFn) message(row RequestRow, err error) string {
	var fe *infer.FieldError
	if errors.As(err, &fe) {
		field := fe.Field
		if name := f.Fields[field]; name != "" {
			field = name
		}
		return fmt.Sprintf("%s: field %q: %s", row.ref(), field, fe.Problem)
	}
	return fmt.Sprintf("%s: %v", row.ref(), err)
}

func (f *InferFn) failure(row RequestRow, stage, msg string, start time.Time, d time.Duration) inferOutcome {
	return inferOutcome{
		fail: &InferFailure{ID: row.ID, IDNull: row.IDNull, Error: msg, Stage: stage, File: row.File, Row: row.Row, URL: row.URL, Spec: row.Spec},
		obs:  batch.Observation{StartUnixNano: start.UnixNano(), DurationNanos: int64(d)},
	}
}

// run sends one batch to the backend; it runs on a background goroutine.
func (f *InferFn) run(ctx context.Context, ps []pending) []inferOutcome {
	items := make([]batch.Item[infer.Request], len(ps))
	var cost int64
	for i, p := range ps {
		items[i] = batch.Item[infer.Request]{ID: p.row.ID, Data: p.req}
		cost += p.cost
	}
	start := time.Now()
	resps := f.backend.Infer(ctx, items)
	took := time.Since(start)
	if f.sizer != nil {
		f.sizer.Record(len(ps), cost, took)
	}
	slog.Debug("inference batch", "items", len(ps), "cost", cost, "latency", took)
	out := make([]inferOutcome, len(ps))
	for i, r := range resps {
		p := ps[i]
		rs := r.Start
		if rs.IsZero() {
			rs = start
		}
		if r.Err != nil {
			stage := StageInfer
			if errors.Is(r.Err, llama.ErrTooLong) {
				stage = StageTokenize
			}
			out[i] = f.failure(p.row, stage, f.message(p.row, r.Err), rs, r.Duration)
			out[i].retries = int64(r.Data.Retries)
			continue
		}
		c := r.Data
		out[i] = inferOutcome{
			res: &Answer{ID: p.row.ID, URL: p.row.URL, File: p.row.File, Row: p.row.Row, Text: c.Text, FinishReason: c.FinishReason, Model: c.Model,
				PromptTokens: int64(c.PromptTokens), CompletionTokens: int64(c.CompletionTokens),
				TTFTNanos: int64(c.TTFT), DurationNanos: int64(r.Duration), Seed: int64(c.Seed), Retries: int64(c.Retries)},
			obs: batch.Observation{OK: true, StartUnixNano: rs.UnixNano(), DurationNanos: int64(r.Duration),
				Tokens: int64(c.PromptTokens + c.CompletionTokens), Bytes: int64(len(p.req.Prompt)),
				PromptTokens: int64(c.PromptTokens), CompletionTokens: int64(c.CompletionTokens), TTFTNanos: int64(c.TTFT)},
			retries: int64(c.Retries),
		}
	}
	out[0].batchSize, out[0].batchLatency = int64(len(ps)), took.Milliseconds()
	return out
}

// inferEmitter sends outcomes to InferFn's outputs and counts them.
type inferEmitter struct {
	ctx  context.Context
	ans  func(Answer)
	fail func(InferFailure)
	obs  func(batch.Observation)
}

func (e inferEmitter) emit(outs []inferOutcome) {
	for _, o := range outs {
		if o.batchSize > 0 {
			inferBatchSizes.Update(e.ctx, o.batchSize)
			inferBatchLatency.Update(e.ctx, o.batchLatency)
		}
		if o.retries > 0 {
			requestsRetried.Inc(e.ctx, o.retries)
		}
		if o.res != nil {
			requestsOK.Inc(e.ctx, 1)
			promptTokens.Inc(e.ctx, o.res.PromptTokens)
			completionTokens.Inc(e.ctx, o.res.CompletionTokens)
			Progress.CompletionTokens.Add(o.res.CompletionTokens)
			e.ans(*o.res)
		} else {
			requestsFailed.Inc(e.ctx, 1)
			e.fail(*o.fail)
		}
		Progress.Rows.Add(1)
		e.obs(o.obs)
	}
}

// Infer applies InferFn and returns the answers, failures and observations.
func Infer(s beam.Scope, rows beam.PCollection, fn *InferFn) (answers, failures, observations beam.PCollection) {
	s = s.Scope("Infer")
	return beam.ParDo3(s, fn, rows)
}
