package transforms

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// DefaultShardRows is the number of rows after which a sink starts a new shard.
const DefaultShardRows = 100_000

// shardFile is one output shard being written: a Parquet
// parquetio.ShardWriter or a JSONL openaibatch.ShardWriter.
type shardFile[T any] interface {
	Write(rows ...T) error
	Commit() (string, error)
	Abort() error
}

// shardSink writes the rows of a bundle to shards of at most maxRows rows,
// each under a temporary name until it is committed at the end of the
// bundle (or when it is full).
type shardSink[T any] struct {
	dir, prefix string
	maxRows     int64
	id          string
	seq         int
	rows        int64
	open        func(dir, prefix, name string) (shardFile[T], error)
	w           shardFile[T]
}

// newShardSink returns a sink of Parquet shards.
func newShardSink[T any](dir, prefix string, maxRows int64) *shardSink[T] {
	return newShardSinkWith(dir, prefix, maxRows, func(dir, prefix, name string) (shardFile[T], error) {
		return parquetio.NewShardWriter[T](dir, prefix, name, parquetio.ShardOptions{})
	})
}

// newShardSinkWith returns a sink whose shards are opened with open.
func newShardSinkWith[T any](dir, prefix string, maxRows int64, open func(dir, prefix, name string) (shardFile[T], error)) *shardSink[T] {
	if maxRows <= 0 {
		maxRows = DefaultShardRows
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &shardSink[T]{dir: dir, prefix: prefix, maxRows: maxRows, id: hex.EncodeToString(b[:]), open: open}
}

func (s *shardSink[T]) write(row T) error {
	if s.w == nil {
		s.seq++
		w, err := s.open(s.dir, s.prefix, fmt.Sprintf("%s-%05d", s.id, s.seq))
		if err != nil {
			return err
		}
		s.w, s.rows = w, 0
	}
	if err := s.w.Write(row); err != nil {
		return err
	}
	if s.rows++; s.rows >= s.maxRows {
		return s.commit()
	}
	return nil
}

func (s *shardSink[T]) commit() error {
	if s.w == nil {
		return nil
	}
	w := s.w
	s.w = nil
	_, err := w.Commit()
	return err
}

func (s *shardSink[T]) abort() {
	if s.w != nil {
		_ = s.w.Abort()
		s.w = nil
	}
}

// WriteTokenResultsFn writes parquetio.TokenResult rows as results-*.parquet
// shards in Dir. A shard becomes visible (is renamed from its temporary name)
// only when it is complete: when the bundle finishes or it holds ShardRows rows.
type WriteTokenResultsFn struct {
	Dir       string
	ShardRows int64
	sink      *shardSink[parquetio.TokenResult]
}

// StartBundle starts a new sink.
func (f *WriteTokenResultsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TokenResult](f.Dir, "results", f.ShardRows)
}

// ProcessElement writes one row.
func (f *WriteTokenResultsFn) ProcessElement(r parquetio.TokenResult) error { return f.sink.write(r) }

// FinishBundle commits the open shard.
func (f *WriteTokenResultsFn) FinishBundle() error { return f.sink.commit() }

// Teardown removes an uncommitted shard.
func (f *WriteTokenResultsFn) Teardown() {
	if f.sink != nil {
		f.sink.abort()
	}
}

// WriteTextResultsFn writes parquetio.TextResult rows, like WriteTokenResultsFn.
type WriteTextResultsFn struct {
	Dir       string
	ShardRows int64
	sink      *shardSink[parquetio.TextResult]
}

// StartBundle starts a new sink.
func (f *WriteTextResultsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TextResult](f.Dir, "results", f.ShardRows)
}

// ProcessElement writes one row.
func (f *WriteTextResultsFn) ProcessElement(r parquetio.TextResult) error { return f.sink.write(r) }

// FinishBundle commits the open shard.
func (f *WriteTextResultsFn) FinishBundle() error { return f.sink.commit() }

// Teardown removes an uncommitted shard.
func (f *WriteTextResultsFn) Teardown() {
	if f.sink != nil {
		f.sink.abort()
	}
}

// WriteTokenizeErrorsFn writes TokenizeFailures as errors-*.parquet shards.
type WriteTokenizeErrorsFn struct {
	Dir       string
	ShardRows int64
	sink      *shardSink[parquetio.TokenizeError]
}

// StartBundle starts a new sink.
func (f *WriteTokenizeErrorsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TokenizeError](f.Dir, "errors", f.ShardRows)
}

// ProcessElement writes one row.
func (f *WriteTokenizeErrorsFn) ProcessElement(e TokenizeFailure) error {
	row := parquetio.TokenizeError{ID: e.ID, Error: e.Error, Stage: e.Stage, File: e.File, Row: e.Row}
	if !e.TextNull {
		text := e.Text
		row.Text = &text
	}
	return f.sink.write(row)
}

// FinishBundle commits the open shard.
func (f *WriteTokenizeErrorsFn) FinishBundle() error { return f.sink.commit() }

// Teardown removes an uncommitted shard.
func (f *WriteTokenizeErrorsFn) Teardown() {
	if f.sink != nil {
		f.sink.abort()
	}
}

// WriteDetokenizeErrorsFn writes DetokenizeFailures as errors-*.parquet shards.
type WriteDetokenizeErrorsFn struct {
	Dir       string
	ShardRows int64
	sink      *shardSink[parquetio.DetokenizeError]
}

// StartBundle starts a new sink.
func (f *WriteDetokenizeErrorsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.DetokenizeError](f.Dir, "errors", f.ShardRows)
}

// ProcessElement writes one row.
func (f *WriteDetokenizeErrorsFn) ProcessElement(e DetokenizeFailure) error {
	row := parquetio.DetokenizeError{ID: e.ID, Error: e.Error, Stage: e.Stage, File: e.File, Row: e.Row, Tokens: e.Tokens}
	if e.TokensNull {
		row.Tokens = nil
	}
	return f.sink.write(row)
}

// FinishBundle commits the open shard.
func (f *WriteDetokenizeErrorsFn) FinishBundle() error { return f.sink.commit() }

// Teardown removes an uncommitted shard.
func (f *WriteDetokenizeErrorsFn) Teardown() {
	if f.sink != nil {
		f.sink.abort()
	}
}

// WriteShards writes a PCollection with one of the Write*Fn sinks.
func WriteShards(s beam.Scope, sink any, col beam.PCollection) {
	beam.ParDo0(s.Scope("WriteShards"), sink, col)
}
