package transforms

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"

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
//
// Shard names are deterministic: <prefix>-<key>-<seq>, where key is 16 hex
// digits of a SHA-256 hash of the bundle's first row (its "key", see
// idKey and locKey) and seq counts the bundle's shards from 00001. The work
// DoFns hand their outputs back in input order (bundleBatcher), so a
// retried bundle — the same elements in the same order — writes shards of
// the same names, which replace those of the failed attempt (a commit
// replaces a file of the same name) instead of adding to them. Two
// different bundles never share a name: a row goes to one bundle, and every
// key names one row: token and text results by their id (all these rows
// carry; ids are unique among results after the duplicate pre-pass),
// inference answers and every error row by their input file and row.
//
// A resumed run (--resume) gives its sinks the path of its done file as
// Resume, which is mixed into the keys: its shards never take the name of
// one the interrupted run committed, whatever rows its bundles start with.
//
// A failed attempt that committed shards (a shard commits as soon as it
// holds maxRows rows) and whose retry is split differently (a runner that
// re-splits the retried work) may leave shards the retry does not replace;
// a job's row accounting (results + errors = input rows) then fails and no
// _SUCCESS manifest is written.
type shardSink[T any] struct {
	dir, prefix string
	maxRows     int64
	salt        string
	key         string
	seq         int
	rows        int64
	open        func(dir, prefix, name string) (shardFile[T], error)
	w           shardFile[T]
}

// idKey is the key of a result row: its id.
func idKey(id string) string { return "id\x00" + id }

// locKey is the key of an error row: its input file and row (or line).
func locKey(file string, row int64) string {
	return "loc\x00" + file + "\x00" + strconv.FormatInt(row, 10)
}

// shardKey hashes a row key into the 16 hex digits of a shard name.
func shardKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:8])
}

// newShardSink returns a sink of Parquet shards.
func newShardSink[T any](dir, prefix string, maxRows int64, salt string) *shardSink[T] {
	return newShardSinkWith(dir, prefix, maxRows, salt, func(dir, prefix, name string) (shardFile[T], error) {
		return parquetio.NewShardWriter[T](dir, prefix, name, parquetio.ShardOptions{})
	})
}

// newShardSinkWith returns a sink whose shards are opened with open.
func newShardSinkWith[T any](dir, prefix string, maxRows int64, salt string, open func(dir, prefix, name string) (shardFile[T], error)) *shardSink[T] {
	if maxRows <= 0 {
		maxRows = DefaultShardRows
	}
	return &shardSink[T]{dir: dir, prefix: prefix, maxRows: maxRows, salt: salt, open: open}
}

// write writes one row; key is the row's key (idKey or locKey), which names
// the bundle's shards when it is the bundle's first row.
func (s *shardSink[T]) write(key string, row T) error {
	if s.key == "" {
		if s.salt != "" {
			key = s.salt + "\x00" + key
		}
		s.key = shardKey(key)
	}
	if s.w == nil {
		s.seq++
		w, err := s.open(s.dir, s.prefix, fmt.Sprintf("%s-%05d", s.key, s.seq))
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
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string
	sink   *shardSink[parquetio.TokenResult]
}

// StartBundle starts a new sink.
func (f *WriteTokenResultsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TokenResult](f.Dir, "results", f.ShardRows, f.Resume)
}

// ProcessElement writes one row.
func (f *WriteTokenResultsFn) ProcessElement(r parquetio.TokenResult) error {
	return f.sink.write(idKey(r.ID), r)
}

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
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string
	sink   *shardSink[parquetio.TextResult]
}

// StartBundle starts a new sink.
func (f *WriteTextResultsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TextResult](f.Dir, "results", f.ShardRows, f.Resume)
}

// ProcessElement writes one row.
func (f *WriteTextResultsFn) ProcessElement(r parquetio.TextResult) error {
	return f.sink.write(idKey(r.ID), r)
}

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
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string
	sink   *shardSink[parquetio.TokenizeError]
}

// StartBundle starts a new sink.
func (f *WriteTokenizeErrorsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.TokenizeError](f.Dir, "errors", f.ShardRows, f.Resume)
}

// ProcessElement writes one row.
func (f *WriteTokenizeErrorsFn) ProcessElement(e TokenizeFailure) error {
	row := parquetio.TokenizeError{ID: e.ID, Error: e.Error, Stage: e.Stage, File: e.File, Row: e.Row}
	if !e.TextNull {
		text := e.Text
		row.Text = &text
	}
	return f.sink.write(locKey(e.File, e.Row), row)
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
	// Resume is a resumed run's done file ("" otherwise); see shardSink.
	Resume string
	sink   *shardSink[parquetio.DetokenizeError]
}

// StartBundle starts a new sink.
func (f *WriteDetokenizeErrorsFn) StartBundle() {
	if f.sink != nil {
		f.sink.abort() // a failed bundle left a shard behind
	}
	f.sink = newShardSink[parquetio.DetokenizeError](f.Dir, "errors", f.ShardRows, f.Resume)
}

// ProcessElement writes one row.
func (f *WriteDetokenizeErrorsFn) ProcessElement(e DetokenizeFailure) error {
	row := parquetio.DetokenizeError{ID: e.ID, Error: e.Error, Stage: e.Stage, File: e.File, Row: e.Row, Tokens: e.Tokens}
	if e.TokensNull {
		row.Tokens = nil
	}
	return f.sink.write(locKey(e.File, e.Row), row)
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
