package transforms

import (
	"time"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/io/openaibatch"
	"github.com/minerva-batch/minerva/io/parquetio"
)

// jsonlSink returns a sink of OpenAI batch output shards.
func jsonlSink(dir, prefix string, maxRows int64, salt string) *shardSink[openaibatch.OutputLine] {
	return newShardSinkWith(dir, prefix, maxRows, salt, func(dir, prefix, name string) (shardFile[openaibatch.OutputLine], error) {
		return openaibatch.NewShardWriter(dir, prefix, name)
	})
}

// WriteAnswersFn writes Answers as results-* shards in Dir: Parquet
// (parquetio.InferResult) or, with Format FormatJSONL, OpenAI batch output
// lines. Shards become visible only when complete, as with
// WriteTokenResultsFn.
type WriteAnswersFn struct {
	Dir       string
	ShardRows int64
	Format    string
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string

	pq *shardSink[parquetio.InferResult]
	js *shardSink[openaibatch.OutputLine]
}

// StartBundle starts a new sink.
func (f *WriteAnswersFn) StartBundle() {
	f.Teardown() // a failed bundle left a shard behind
	if f.Format == FormatJSONL {
		f.js = jsonlSink(f.Dir, "results", f.ShardRows, f.Resume)
	} else {
		f.pq = newShardSink[parquetio.InferResult](f.Dir, "results", f.ShardRows, f.Resume)
	}
}

// ProcessElement writes one answer.
func (f *WriteAnswersFn) ProcessElement(a Answer) error {
	if f.js != nil {
		line, err := openaibatch.ResultLine(openaibatch.Result{CustomID: a.ID, URL: a.URL, Model: a.Model, Created: time.Now().Unix(),
			Completion: infer.Completion{Model: a.Model, Retries: int(a.Retries), Completion: llama.Completion{
				Text: a.Text, PromptTokens: int(a.PromptTokens), CompletionTokens: int(a.CompletionTokens), FinishReason: a.FinishReason,
				TTFT: time.Duration(a.TTFTNanos), Duration: time.Duration(a.DurationNanos), Seed: uint64(a.Seed)}}})
		if err != nil {
			return err
		}
		return f.js.write(locKey(a.File, a.Row), line)
	}
	r := parquetio.InferResult{ID: a.ID, Text: a.Text, PromptTokens: int32(a.PromptTokens), CompletionTokens: int32(a.CompletionTokens),
		FinishReason: a.FinishReason, DurationMS: ms(a.DurationNanos), Model: a.Model, Seed: a.Seed}
	if a.TTFTNanos > 0 {
		t := ms(a.TTFTNanos)
		r.TTFTMS = &t
	}
	return f.pq.write(locKey(a.File, a.Row), r)
}

func ms(nanos int64) float64 { return float64(nanos) / 1e6 }

// FinishBundle commits the open shard.
func (f *WriteAnswersFn) FinishBundle() error {
	if f.js != nil {
		return f.js.commit()
	}
	return f.pq.commit()
}

// Teardown removes an uncommitted shard.
func (f *WriteAnswersFn) Teardown() {
	if f.js != nil {
		f.js.abort()
	}
	if f.pq != nil {
		f.pq.abort()
	}
}

// WriteInferFailuresFn writes InferFailures as errors-* shards in Dir:
// Parquet (parquetio.InferError, with the row's input fields) or OpenAI
// batch error lines.
type WriteInferFailuresFn struct {
	Dir       string
	ShardRows int64
	Format    string
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string

	pq *shardSink[parquetio.InferError]
	js *shardSink[openaibatch.OutputLine]
}

// StartBundle starts a new sink.
func (f *WriteInferFailuresFn) StartBundle() {
	f.Teardown()
	if f.Format == FormatJSONL {
		f.js = jsonlSink(f.Dir, "errors", f.ShardRows, f.Resume)
	} else {
		f.pq = newShardSink[parquetio.InferError](f.Dir, "errors", f.ShardRows, f.Resume)
	}
}

// ProcessElement writes one failure.
func (f *WriteInferFailuresFn) ProcessElement(e InferFailure) error {
	if f.js != nil {
		return f.js.write(locKey(e.File, e.Row), openaibatch.FailureLine(openaibatch.Failure{CustomID: e.ID, IDNull: e.IDNull, File: e.File, Line: e.Row, Code: e.Stage, Message: e.Error}))
	}
	row := parquetio.InferError{ID: e.ID, Error: e.Error, Stage: e.Stage, File: e.File, Row: e.Row}
	row.SetSpec(e.Spec)
	return f.pq.write(locKey(e.File, e.Row), row)
}

// FinishBundle commits the open shard.
func (f *WriteInferFailuresFn) FinishBundle() error {
	if f.js != nil {
		return f.js.commit()
	}
	return f.pq.commit()
}

// Teardown removes an uncommitted shard.
func (f *WriteInferFailuresFn) Teardown() {
	if f.js != nil {
		f.js.abort()
	}
	if f.pq != nil {
		f.pq.abort()
	}
}
