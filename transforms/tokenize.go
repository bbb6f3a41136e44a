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

// pipelineBatches runs batches of In through work on background goroutines,
// keeping at most depth batches in flight, and hands finished batches back in
// submission order on the caller's goroutine (Beam emitters must only be
// called from the DoFn's own method calls).
type pipelineBatches[In, Out any] struct {
	depth   int
	work    func(context.Context, []In) []Out
	pending []chan []Out
}

func (p *pipelineBatches[In, Out]) submit(ctx context.Context, items []In, emit func([]Out)) {
	done := make(chan []Out, 1)
	p.pending = append(p.pending, done)
	go func() { done <- p.work(ctx, items) }()
	for len(p.pending) > p.depth {
		p.popWait(emit)
	}
	// Hand back whatever has already finished, without waiting.
	for len(p.pending) > 0 {
		select {
		case out := <-p.pending[0]:
			p.pending = p.pending[1:]
			emit(out)
		default:
			return
		}
	}
}

func (p *pipelineBatches[In, Out]) popWait(emit func([]Out)) {
	out := <-p.pending[0]
	p.pending = p.pending[1:]
	emit(out)
}

func (p *pipelineBatches[In, Out]) drain(emit func([]Out)) {
	for len(p.pending) > 0 {
		p.popWait(emit)
	}
}

// tokenizeOutcome is the result of one row: exactly one of res or fail is set.
type tokenizeOutcome struct {
	res  *parquetio.TokenResult
	fail *TokenizeFailure
	obs  batch.Observation
}

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

	tok   *tokenizer.BPE
	buf   []TextRow
	inFly *pipelineBatches[TextRow, tokenizeOutcome]
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

// StartBundle resets the buffer.
func (f *TokenizeFn) StartBundle(_ context.Context, _ func(parquetio.TokenResult), _ func(TokenizeFailure), _ func(batch.Observation)) {
	f.buf = f.buf[:0]
	f.inFly = &pipelineBatches[TextRow, tokenizeOutcome]{depth: 2, work: f.encode}
}

// ProcessElement buffers one row and flushes a full batch.
func (f *TokenizeFn) ProcessElement(ctx context.Context, row TextRow, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	rowsIn.Inc(ctx, 1)
	if row.Err != "" {
		f.emitOne(ctx, tokenizeOutcome{fail: &TokenizeFailure{ID: row.ID, Error: row.Err, Stage: row.Stage, File: row.File, Row: row.Row, Text: row.Text, TextNull: row.TextNull},
			obs: batch.Observation{StartUnixNano: time.Now().UnixNano(), Bytes: int64(len(row.Text))}}, res, fail, obs)
		return
	}
	f.buf = append(f.buf, row)
	if len(f.buf) >= f.BatchSize {
		f.flush(ctx, res, fail, obs)
	}
}

// FinishBundle flushes the last partial batch and waits for batches in flight.
func (f *TokenizeFn) FinishBundle(ctx context.Context, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	f.flush(ctx, res, fail, obs)
	f.inFly.drain(f.emitter(ctx, res, fail, obs))
}

func (f *TokenizeFn) flush(ctx context.Context, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	if len(f.buf) == 0 {
		return
	}
	items := f.buf
	f.buf = make([]TextRow, 0, f.BatchSize)
	f.inFly.submit(ctx, items, f.emitter(ctx, res, fail, obs))
}

func (f *TokenizeFn) emitter(ctx context.Context, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) func([]tokenizeOutcome) {
	return func(outs []tokenizeOutcome) {
		for _, o := range outs {
			f.emitOne(ctx, o, res, fail, obs)
		}
	}
}

func (f *TokenizeFn) emitOne(ctx context.Context, o tokenizeOutcome, res func(parquetio.TokenResult), fail func(TokenizeFailure), obs func(batch.Observation)) {
	if o.res != nil {
		rowsOK.Inc(ctx, 1)
		tokensOut.Inc(ctx, int64(o.res.Count))
		res(*o.res)
	} else {
		rowsFailed.Inc(ctx, 1)
		fail(*o.fail)
	}
	obs(o.obs)
}

// encode runs one batch; it is called on a background goroutine.
func (f *TokenizeFn) encode(ctx context.Context, rows []TextRow) []tokenizeOutcome {
	items := make([]batch.Item[string], len(rows))
	for i, r := range rows {
		items[i] = batch.Item[string]{ID: r.ID, Data: r.Text}
	}
	start := time.Now()
	resps := tokenizer.EncodeBatch(ctx, f.tok, items, threads(f.Threads))
	batchSizes.Update(ctx, int64(len(rows)))
	batchMicro.Update(ctx, time.Since(start).Microseconds())
	out := make([]tokenizeOutcome, len(rows))
	for i, r := range resps {
		row := rows[i]
		o := batch.Observation{OK: r.Err == nil, Tokens: int64(len(r.Data)), Bytes: int64(len(row.Text)), StartUnixNano: r.Start.UnixNano(), DurationNanos: int64(r.Duration)}
		if r.Start.IsZero() {
			o.StartUnixNano = start.UnixNano()
		}
		if r.Err != nil {
			o.Tokens = 0
			out[i] = tokenizeOutcome{fail: &TokenizeFailure{ID: row.ID, Error: fmt.Sprintf("%s: field %q: %v", rowRef(row.File, row.Row, row.ID, false), "text", r.Err),
				Stage: StageTokenize, File: row.File, Row: row.Row, Text: row.Text}, obs: o}
			continue
		}
		out[i] = tokenizeOutcome{res: &parquetio.TokenResult{ID: row.ID, Tokens: r.Data, Count: int32(len(r.Data)), DurationUS: r.Duration.Microseconds()}, obs: o}
	}
	return out
}

// threads resolves a configured thread count: 0 means all cores.
func threads(n int) int {
	if n > 0 {
		return n
	}
	return runtime.GOMAXPROCS(0)
}

// detokenizeOutcome is the result of one row: exactly one of res or fail is set.
type detokenizeOutcome struct {
	res  *parquetio.TextResult
	fail *DetokenizeFailure
	obs  batch.Observation
}

// DetokenizeFn decodes TokenRows into text, batching like TokenizeFn. Ids
// outside the vocabulary, and ids whose bytes are not valid UTF-8, are error
// rows.
type DetokenizeFn struct {
	Tokenizer TokenizerConfig
	BatchSize int
	Threads   int

	tok   *tokenizer.BPE
	buf   []TokenRow
	inFly *pipelineBatches[TokenRow, detokenizeOutcome]
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

// StartBundle resets the buffer.
func (f *DetokenizeFn) StartBundle(_ context.Context, _ func(parquetio.TextResult), _ func(DetokenizeFailure), _ func(batch.Observation)) {
	f.buf = f.buf[:0]
	f.inFly = &pipelineBatches[TokenRow, detokenizeOutcome]{depth: 2, work: f.decode}
}

// ProcessElement buffers one row and flushes a full batch.
func (f *DetokenizeFn) ProcessElement(ctx context.Context, row TokenRow, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	rowsIn.Inc(ctx, 1)
	if row.Err != "" {
		f.emitOne(ctx, detokenizeOutcome{fail: &DetokenizeFailure{ID: row.ID, Error: row.Err, Stage: row.Stage, File: row.File, Row: row.Row, Tokens: row.Tokens, TokensNull: row.TokensNull},
			obs: batch.Observation{StartUnixNano: time.Now().UnixNano()}}, res, fail, obs)
		return
	}
	f.buf = append(f.buf, row)
	if len(f.buf) >= f.BatchSize {
		f.flush(ctx, res, fail, obs)
	}
}

// FinishBundle flushes the last partial batch and waits for batches in flight.
func (f *DetokenizeFn) FinishBundle(ctx context.Context, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	f.flush(ctx, res, fail, obs)
	f.inFly.drain(f.emitter(ctx, res, fail, obs))
}

func (f *DetokenizeFn) flush(ctx context.Context, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	if len(f.buf) == 0 {
		return
	}
	items := f.buf
	f.buf = make([]TokenRow, 0, f.BatchSize)
	f.inFly.submit(ctx, items, f.emitter(ctx, res, fail, obs))
}

func (f *DetokenizeFn) emitter(ctx context.Context, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) func([]detokenizeOutcome) {
	return func(outs []detokenizeOutcome) {
		for _, o := range outs {
			f.emitOne(ctx, o, res, fail, obs)
		}
	}
}

func (f *DetokenizeFn) emitOne(ctx context.Context, o detokenizeOutcome, res func(parquetio.TextResult), fail func(DetokenizeFailure), obs func(batch.Observation)) {
	if o.res != nil {
		rowsOK.Inc(ctx, 1)
		tokensOut.Inc(ctx, int64(o.res.Count))
		res(*o.res)
	} else {
		rowsFailed.Inc(ctx, 1)
		fail(*o.fail)
	}
	obs(o.obs)
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
	batchSizes.Update(ctx, int64(len(rows)))
	batchMicro.Update(ctx, time.Since(start).Microseconds())
	out := make([]detokenizeOutcome, len(rows))
	for i, r := range resps {
		row := rows[i]
		err := r.Err
		if pre[i] != nil {
			err = pre[i]
		}
		o := batch.Observation{OK: err == nil, Tokens: int64(len(row.Tokens)), Bytes: int64(len(r.Data)), StartUnixNano: r.Start.UnixNano(), DurationNanos: int64(r.Duration)}
		if r.Start.IsZero() {
			o.StartUnixNano = start.UnixNano()
		}
		if err != nil {
			o.Tokens, o.Bytes = 0, 0
			out[i] = detokenizeOutcome{fail: &DetokenizeFailure{ID: row.ID, Error: fmt.Sprintf("%s: field %q: %v", rowRef(row.File, row.Row, row.ID, false), "tokens", err),
				Stage: StageDecode, File: row.File, Row: row.Row, Tokens: row.Tokens}, obs: o}
			continue
		}
		out[i] = detokenizeOutcome{res: &parquetio.TextResult{ID: row.ID, Text: r.Data, Count: int32(len(row.Tokens)), DurationUS: r.Duration.Microseconds()}, obs: o}
	}
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
