package parquetio

import (
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/io/shardfile"
)

// TokenResult is one tokenized row. Schema:
//
//	required binary id (STRING);
//	required group tokens (LIST) {
//		repeated group list {
//			required int32 element (INT(32,true));
//		}
//	}
//	required int32 count (INT(32,true));
//	required int64 duration_us (INT(64,true));
//
// A nil Tokens slice is written as an empty list.
type TokenResult struct {
	ID         string  `parquet:"id"`
	Tokens     []int32 `parquet:"tokens,list"`
	Count      int32   `parquet:"count"`
	DurationUS int64   `parquet:"duration_us"`
}

// TextResult is one detokenized row. Schema:
//
//	required binary id (STRING);
//	required binary text (STRING);
//	required int32 count (INT(32,true));
//	required int64 duration_us (INT(64,true));
type TextResult struct {
	ID         string `parquet:"id"`
	Text       string `parquet:"text"`
	Count      int32  `parquet:"count"`
	DurationUS int64  `parquet:"duration_us"`
}

// TokenizeError records a row that could not be tokenized. Text is the input
// text when it is worth keeping (nil is written as null). Schema:
//
//	required binary id (STRING);
//	required binary error (STRING);
//	required binary stage (STRING);
//	required binary file (STRING);
//	required int64 row (INT(64,true));
//	optional binary text (STRING);
type TokenizeError struct {
	ID    string  `parquet:"id"`
	Error string  `parquet:"error"`
	Stage string  `parquet:"stage"`
	File  string  `parquet:"file"`
	Row   int64   `parquet:"row"`
	Text  *string `parquet:"text,optional"`
}

// DetokenizeError records a row that could not be detokenized. Tokens is the
// input token list (nil is written as null, an empty slice as an empty list).
// Schema:
//
//	required binary id (STRING);
//	required binary error (STRING);
//	required binary stage (STRING);
//	required binary file (STRING);
//	required int64 row (INT(64,true));
//	optional group tokens (LIST) {
//		repeated group list {
//			required int64 element (INT(64,true));
//		}
//	}
type DetokenizeError struct {
	ID     string  `parquet:"id"`
	Error  string  `parquet:"error"`
	Stage  string  `parquet:"stage"`
	File   string  `parquet:"file"`
	Row    int64   `parquet:"row"`
	Tokens []int64 `parquet:"tokens,list,optional"`
}

// InferResult is one completed inference request. TTFTMS is the time to the
// first token in milliseconds (nil, written as null, when the backend could
// not measure it); DurationMS is the request's total time. Seed is the seed
// the request ran with. Schema:
//
//	required binary id (STRING);
//	required binary text (STRING);
//	required int32 prompt_tokens (INT(32,true));
//	required int32 completion_tokens (INT(32,true));
//	required binary finish_reason (STRING);
//	optional double ttft_ms;
//	required double duration_ms;
//	required binary model (STRING);
//	required int64 seed (INT(64,true));
type InferResult struct {
	ID               string   `parquet:"id"`
	Text             string   `parquet:"text"`
	PromptTokens     int32    `parquet:"prompt_tokens"`
	CompletionTokens int32    `parquet:"completion_tokens"`
	FinishReason     string   `parquet:"finish_reason"`
	TTFTMS           *float64 `parquet:"ttft_ms,optional"`
	DurationMS       float64  `parquet:"duration_ms"`
	Model            string   `parquet:"model"`
	Seed             int64    `parquet:"seed"`
}

// InferError records an inference request that failed, with the request's
// input fields as the row gave them (nil is written as null; a nil Stop is a
// null list, an empty one an empty list; see [InferError.SetSpec]). The
// schema is fixed, whatever the input's columns. Schema:
//
//	required binary id (STRING);
//	required binary error (STRING);
//	required binary stage (STRING);
//	required binary file (STRING);
//	required int64 row (INT(64,true));
//	optional binary prompt (STRING);
//	optional int64 max_tokens (INT(64,true));
//	optional double temperature;
//	optional double top_p;
//	optional int64 top_k (INT(64,true));
//	optional int64 seed (INT(64,true));
//	optional group stop (LIST) {
//		repeated group list {
//			required binary element (STRING);
//		}
//	}
//	optional int64 priority (INT(64,true));
type InferError struct {
	ID          string   `parquet:"id"`
	Error       string   `parquet:"error"`
	Stage       string   `parquet:"stage"`
	File        string   `parquet:"file"`
	Row         int64    `parquet:"row"`
	Prompt      *string  `parquet:"prompt,optional"`
	MaxTokens   *int64   `parquet:"max_tokens,optional"`
	Temperature *float64 `parquet:"temperature,optional"`
	TopP        *float64 `parquet:"top_p,optional"`
	TopK        *int64   `parquet:"top_k,optional"`
	Seed        *int64   `parquet:"seed,optional"`
	Stop        []string `parquet:"stop,list,optional"`
	Priority    *int64   `parquet:"priority,optional"`
}

// SetSpec copies the input fields of s (as a [RequestRow] gives them) into
// e; the pointers are shared, not copied. Chat messages have no column and
// are not recorded.
func (e *InferError) SetSpec(s infer.Spec) {
	e.Prompt = s.Prompt
	e.MaxTokens = s.MaxTokens
	e.Temperature = s.Temperature
	e.TopP = s.TopP
	e.TopK = s.TopK
	e.Seed = s.Seed
	e.Stop = s.Stop
	e.Priority = s.Priority
}

// DefaultRowGroupRows is the default maximum number of rows per row group
// written by a [ShardWriter].
const DefaultRowGroupRows = 64 << 10

// ShardOptions configures a [ShardWriter].
type ShardOptions struct {
	// RowGroupRows is the maximum number of rows per row group; zero means
	// DefaultRowGroupRows. Rows are buffered in memory up to this count.
	RowGroupRows int
}

// ShardWriter writes rows of type T to one output shard. Rows go to a hidden
// temporary file in the output directory (".<prefix>-<name>.parquet.<random>.tmp");
// [ShardWriter.Commit] completes the file and atomically renames it to
// "<dir>/<prefix>-<name>.parquet", replacing any previous shard of that name
// (so a retried bundle simply overwrites). [ShardWriter.Abort] discards it.
// Files are zstd-compressed; rows are flushed as row groups of at most
// RowGroupRows rows so memory stays bounded.
//
// A ShardWriter is not safe for concurrent use.
type ShardWriter[T any] struct {
	f    *shardfile.File
	w    *parquet.GenericWriter[T]
	rows int64
}

// NewShardWriter starts a shard that will be committed as
// dir/<prefix>-<name>.parquet. dir must exist; prefix and name must be
// non-empty and must not contain path separators.
func NewShardWriter[T any](dir, prefix, name string, opts ShardOptions) (*ShardWriter[T], error) {
	if opts.RowGroupRows < 0 {
		return nil, fmt.Errorf("parquetio: RowGroupRows is %d, want >= 0", opts.RowGroupRows)
	}
	rgRows := opts.RowGroupRows
	if rgRows == 0 {
		rgRows = DefaultRowGroupRows
	}
	f, err := shardfile.Create(dir, prefix, name, ".parquet")
	if err != nil {
		return nil, fmt.Errorf("parquetio: %w", err)
	}
	w := parquet.NewGenericWriter[T](f.Writer(),
		parquet.Compression(&parquet.Zstd),
		parquet.MaxRowsPerRowGroup(int64(rgRows)),
	)
	return &ShardWriter[T]{f: f, w: w}, nil
}

// Write appends rows to the shard.
func (w *ShardWriter[T]) Write(rows ...T) error {
	if w.f.Closed() {
		return fmt.Errorf("parquetio: %w", shardfile.ErrClosed)
	}
	n, err := w.w.Write(rows)
	w.rows += int64(n)
	if err != nil {
		return fmt.Errorf("parquetio: write shard %q: %w", w.f.Path(), err)
	}
	return nil
}

// Rows returns the number of rows written so far.
func (w *ShardWriter[T]) Rows() int64 { return w.rows }

// Path returns the path the shard will have once committed.
func (w *ShardWriter[T]) Path() string { return w.f.Path() }

// Commit flushes the remaining rows, writes the footer, syncs the file and
// renames it into place, returning the final path. On error the temporary
// file is removed. The writer cannot be used afterwards.
func (w *ShardWriter[T]) Commit() (path string, err error) {
	path, err = w.f.Commit(w.w.Close)
	if err != nil {
		return "", fmt.Errorf("parquetio: %w", err)
	}
	return path, nil
}

// Abort discards the shard: it closes and removes the temporary file. Abort
// after Commit or Abort does nothing and returns nil, so it can be deferred.
func (w *ShardWriter[T]) Abort() error {
	if err := w.f.Abort(); err != nil {
		return fmt.Errorf("parquetio: %w", err)
	}
	return nil
}

// WriteEmpty writes a valid zero-row Parquet file with T's schema at
// dir/<prefix>-<name>.parquet (via a temporary file and rename) and returns
// its path. It is used so that an output folder always holds at least one
// results and one errors file.
func WriteEmpty[T any](dir, prefix, name string) (string, error) {
	w, err := NewShardWriter[T](dir, prefix, name, ShardOptions{})
	if err != nil {
		return "", err
	}
	return w.Commit()
}

// ReadAll reads a whole Parquet file into memory as rows of T. It is meant
// for small, trusted files (tests and tools): unlike the streaming readers it
// does not guard against corrupt size fields.
func ReadAll[T any](path string) (rows []T, err error) {
	defer func() {
		if r := recover(); r != nil {
			rows, err = nil, corruptError(path, r)
		}
	}()
	f, size, err := openInput(path)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", path, unwrapPathError(err))
	}
	defer f.Close()
	rows, err = parquet.Read[T](f, size)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", path, err)
	}
	return rows, nil
}
