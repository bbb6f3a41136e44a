package transforms

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/io/parquetio"
)

// TokenizeFailure is an error row of the tokenization job.
type TokenizeFailure struct {
	ID       string
	Error    string
	Stage    string
	File     string
	Row      int64
	Text     string
	TextNull bool
}

// DetokenizeFailure is an error row of the detokenization job.
type DetokenizeFailure struct {
	ID         string
	Error      string
	Stage      string
	File       string
	Row        int64
	Tokens     []int64
	TokensNull bool
}

// TokenizerConfig selects and configures the tokenizer of a DoFn.
type TokenizerConfig struct {
	Encoding         string
	AllowedSpecial   []string
	DisallowedAsText bool
}

// New returns the configured tokenizer.
func (c TokenizerConfig) New() (*tokenizer.BPE, error) {
	return tokenizer.New(c.Encoding, tokenizer.Options{AllowedSpecial: c.AllowedSpecial, DisallowedAsText: c.DisallowedAsText})
}

var (
	rowsIn     = beam.NewCounter("minerva", "rows")
	rowsOK     = beam.NewCounter("minerva", "rows_succeeded")
	rowsFailed = beam.NewCounter("minerva", "rows_failed")
	tokensOut  = beam.NewCounter("minerva", "tokens")
	batchSizes = beam.NewDistribution("minerva", "batch_size")
	batchMicro = beam.NewDistribution("minerva", "batch_latency_us")
)

// outcome is what one row became: exactly one of res or fail is set.
type outcome[R, F any] struct {
	res     *R
	fail    *F
	obs     batch.Observation
	retries int64 // attempts after the first (inference over HTTP)
	// batchSize and batchLatency are set on the first outcome of each
	// batch: the emitter records them in the Beam distributions on the
	// DoFn's goroutine (metrics may not be updated from the batches' own).
	batchSize, batchLatency int64
}

// emitter sends outcomes to a DoFn's outputs and counts them.
type emitter[R, F any] struct {
	ctx  context.Context
	res  func(R)
	fail func(F)
	obs  func(batch.Observation)
}

func (e emitter[R, F]) emit(outs []outcome[R, F]) {
	for _, o := range outs {
		if o.batchSize > 0 {
			batchSizes.Update(e.ctx, o.batchSize)
			batchMicro.Update(e.ctx, o.batchLatency)
		}
		if o.res != nil {
			rowsOK.Inc(e.ctx, 1)
			tokensOut.Inc(e.ctx, o.obs.Tokens)
			e.res(*o.res)
		} else {
			rowsFailed.Inc(e.ctx, 1)
			e.fail(*o.fail)
		}
		e.obs(o.obs)
	}
}

type (
	tokenizeOutcome   = outcome[parquetio.TokenResult, TokenizeFailure]
	detokenizeOutcome = outcome[parquetio.TextResult, DetokenizeFailure]
)

// TokenizeFn encodes TextRows into token ids. It buffers rows inside the
// bundle and encodes them BatchSize at a time with tokenizer.EncodeBatch on
// Threads goroutines (0: all cores), keeping up to two batches in flight so
// reading and writing overlap with encoding. Every row comes out exactly once:
// as a parquetio.TokenResult or as a TokenizeFailure, plus one
// batch.Observation for the statistics.
type TokenizeFn struct {
	Tokenizer TokenizerConfig
	BatchSize int
	Threads   int

	tok     *tokenizer.BPE
	batches *bundleBatcher[TextRow, tokenizeOutcome]
}

// Setup loads the tokenizer (its vocabulary is shared by the process).
func (f *TokenizeFn) Setup() error {
	tok, err := f.Tokenizer.New()
	if err != nil {
		return err
	}
	f.tok = tok
	if f.BatchSize <= 0 {
		f.BatchSize = batch.TokenizerLimits.Optimal
	}
	return nil
}

// StartBundle starts an empty batch.
func (f *TokenizeFn) StartBundle(_ context.Context, _ func(parquetio.TokenResult), _ func(TokenizeFailure), _ func(batch.Observation)) {
	f.batches = newBundleBatcher(fixedSize(f.BatchSize), nil, 2, f.encode)
}

// ProcessElement buffers one row and encodes a full batch.
func (f *TokenizeFn) ProcessElement(ctx context.Context, row TextRow, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	rowsIn.Inc(ctx, 1)
	e := emitter[parquetio.TokenResult, TokenizeFailure]{ctx, res, fail, obs}
	if row.Err != "" {
		f.batches.addReady(ctx, tokenizeOutcome{fail: &TokenizeFailure{ID: row.ID, Error: row.Err, Stage: row.Stage, File: row.File, Row: row.Row, Text: row.Text, TextNull: row.TextNull},
			obs: batch.Observation{StartUnixNano: time.Now().UnixNano(), Bytes: int64(len(row.Text))}}, e.emit)
		return
	}
	f.batches.add(ctx, row, e.emit)
}

// FinishBundle encodes the last partial batch and waits for batches in flight.
func (f *TokenizeFn) FinishBundle(ctx context.Context, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	f.batches.finish(ctx, emitter[parquetio.TokenResult, TokenizeFailure]{ctx, res, fail, obs}.emit)
}

// encode runs one batch; it is called on a background goroutine.
func (f *TokenizeFn) encode(ctx context.Context, rows []TextRow) []tokenizeOutcome {
	items := make([]batch.Item[string], len(rows))
	for i, r := range rows {
		items[i] = batch.Item[string]{ID: r.ID, Data: r.Text}
	}
	start := time.Now()
	resps := tokenizer.EncodeBatch(ctx, f.tok, items, threads(f.Threads))
	took := time.Since(start)
	out := make([]tokenizeOutcome, len(rows))
	for i, r := range resps {
		row := rows[i]
		o := observe(r.Start, start, r.Duration, r.Err == nil, int64(len(r.Data)), int64(len(row.Text)))
		if r.Err != nil {
			out[i] = tokenizeOutcome{fail: &TokenizeFailure{ID: row.ID, Error: fmt.Sprintf("%s: field %q: %v", rowRef(row.File, row.Row, row.ID, false), "text", r.Err),
				Stage: StageTokenize, File: row.File, Row: row.Row, Text: row.Text}, obs: o}
			continue
		}
		out[i] = tokenizeOutcome{res: &parquetio.TokenResult{ID: row.ID, Tokens: r.Data, Count: int32(len(r.Data)), DurationUS: r.Duration.Microseconds()}, obs: o}
	}
	out[0].batchSize, out[0].batchLatency = int64(len(rows)), took.Microseconds()
	return out
}

// observe is the statistics record of one processed row; a failed row counts
// no tokens or bytes of output.
func observe(start, batchStart time.Time, d time.Duration, ok bool, tokens, bytes int64) batch.Observation {
	if start.IsZero() {
		start = batchStart
	}
	o := batch.Observation{OK: ok, StartUnixNano: start.UnixNano(), DurationNanos: int64(d), Bytes: bytes}
	if ok {
		o.Tokens = tokens
	}
	return o
}

// threads resolves a configured thread count: 0 means all cores.
func threads(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// DetokenizeFn decodes TokenRows into text, batching like TokenizeFn. Ids
// outside the vocabulary, and ids whose bytes are not valid UTF-8, are error
// rows.
type DetokenizeFn struct {
	Tokenizer TokenizerConfig
	BatchSize int
	Threads   int

	tok     *tokenizer.BPE
	batches *bundleBatcher[TokenRow, detokenizeOutcome]
}

// Setup loads the tokenizer.
func (f *DetokenizeFn) Setup() error {
	tok, err := f.Tokenizer.New()
	if err != nil {
		return err
	}
	f.tok = tok
	if f.BatchSize <= 0 {
		f.BatchSize = batch.TokenizerLimits.Optimal
	}
	return nil
}

// StartBundle starts an empty batch.
func (f *DetokenizeFn) StartBundle(_ context.Context, _ func(parquetio.TextResult), _ func(DetokenizeFailure), _ func(batch.Observation)) {
	f.batches = newBundleBatcher(fixedSize(f.BatchSize), nil, 2, f.decode)
}

// ProcessElement buffers one row and decodes a full batch.
func (f *DetokenizeFn) ProcessElement(ctx context.Context, row TokenRow, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	rowsIn.Inc(ctx, 1)
	e := emitter[parquetio.TextResult, DetokenizeFailure]{ctx, res, fail, obs}
	if row.Err != "" {
		f.batches.addReady(ctx, detokenizeOutcome{fail: &DetokenizeFailure{ID: row.ID, Error: row.Err, Stage: row.Stage, File: row.File, Row: row.Row, Tokens: row.Tokens, TokensNull: row.TokensNull},
			obs: batch.Observation{StartUnixNano: time.Now().UnixNano()}}, e.emit)
		return
	}
	f.batches.add(ctx, row, e.emit)
}

// FinishBundle decodes the last partial batch and waits for batches in flight.
func (f *DetokenizeFn) FinishBundle(ctx context.Context, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	f.batches.finish(ctx, emitter[parquetio.TextResult, DetokenizeFailure]{ctx, res, fail, obs}.emit)
}

// decode runs one batch; it is called on a background goroutine.
func (f *DetokenizeFn) decode(ctx context.Context, rows []TokenRow) []detokenizeOutcome {
	items := make([]batch.Item[[]int32], len(rows))
	pre := make([]error, len(rows))
	for i, r := range rows {
		ids := make([]int32, len(r.Tokens))
		for j, t := range r.Tokens {
			if t < math.MinInt32 || t > math.MaxInt32 {
				pre[i] = fmt.Errorf("%w: id %d at position %d is not in %s (vocabulary size %d)", tokenizer.ErrUnknownToken, t, j, f.tok.Name(), f.tok.VocabSize())
				break
			}
			ids[j] = int32(t)
		}
		items[i] = batch.Item[[]int32]{ID: r.ID, Data: ids}
	}
	start := time.Now()
	resps := tokenizer.DecodeBatch(ctx, f.tok, items, threads(f.Threads))
	took := time.Since(start)
	out := make([]detokenizeOutcome, len(rows))
	for i, r := range resps {
		row := rows[i]
		err := r.Err
		if pre[i] != nil {
			err = pre[i]
		}
		o := observe(r.Start, start, r.Duration, err == nil, int64(len(row.Tokens)), int64(len(r.Data)))
		if err != nil {
			o.Bytes = 0
			out[i] = detokenizeOutcome{fail: &DetokenizeFailure{ID: row.ID, Error: fmt.Sprintf("%s: field %q: %v", rowRef(row.File, row.Row, row.ID, false), "tokens", err),
				Stage: StageDecode, File: row.File, Row: row.Row, Tokens: row.Tokens}, obs: o}
			continue
		}
		out[i] = detokenizeOutcome{res: &parquetio.TextResult{ID: row.ID, Text: r.Data, Count: int32(len(row.Tokens)), DurationUS: r.Duration.Microseconds()}, obs: o}
	}
	out[0].batchSize, out[0].batchLatency = int64(len(rows)), took.Microseconds()
	return out
}

// Tokenize applies TokenizeFn and returns the results, failures and
// observations.
func Tokenize(s beam.Scope, rows beam.PCollection, fn *TokenizeFn) (results, failures, observations beam.PCollection) {
	s = s.Scope("Tokenize")
	return beam.ParDo3(s, fn, rows)
}

// Detokenize applies DetokenizeFn and returns the results, failures and
// observations.
func Detokenize(s beam.Scope, rows beam.PCollection, fn *DetokenizeFn) (results, failures, observations beam.PCollection) {
	s = s.Scope("Detokenize")
	return beam.ParDo3(s, fn, rows)
}
