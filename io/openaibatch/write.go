package openaibatch

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/io/shardfile"
)

// The prefixes of a job's output shards.
const (
	ResultsPrefix = "results"
	ErrorsPrefix  = "errors"
)

// Result is a request that completed, to be written as a success line.
type Result struct {
	CustomID string
	// URL is the request's url: ChatCompletionsURL gives a
	// "chat.completion" body, CompletionsURL a "text_completion" one.
	URL string
	// Model is the body's "model"; "" means Completion.Model. A job that
	// echoes the requested model sets it to Line.Model.
	Model string
	// Created is the body's "created" (Unix seconds); 0 means the time of
	// the write.
	Created    int64
	Completion infer.Completion
}

// Failure is a row that did not complete, to be written as an error line.
type Failure struct {
	CustomID string
	IDNull   bool // the row has no custom id: "custom_id" is written as null
	// File and Line locate the row; they name the output line's "id" when
	// the row has no custom id.
	File string
	Line int64
	// Code is the error's "code", such as the stage that failed; Message
	// is its "message".
	Code, Message string
}

// OutputLine is one line of an OpenAI batch output file: a success line has
// a Response and a null Error, an error line a null Response and an Error.
type OutputLine struct {
	ID       string     `json:"id"`
	CustomID *string    `json:"custom_id"`
	Response *Response  `json:"response"`
	Error    *LineError `json:"error"`
}

// Response is the HTTP response of a success line.
type Response struct {
	StatusCode int    `json:"status_code"`
	RequestID  string `json:"request_id"`
	Body       Body   `json:"body"`
}

// Body is a "chat.completion" or "text_completion" object.
type Body struct {
	ID      string   `json:"id"`
	Object  string   `json:"object"`
	Created int64    `json:"created"`
	Model   string   `json:"model"`
	Choices []Choice `json:"choices"`
	Usage   Usage    `json:"usage"`
}

// Choice is a completion's choice: Message is set in chat completions and
// Text in text completions. Logprobs is always null. An empty FinishReason
// is written as null.
type Choice struct {
	Index        int          `json:"index"`
	Text         *string      `json:"text,omitempty"`
	Message      *ChatMessage `json:"message,omitempty"`
	Logprobs     *struct{}    `json:"logprobs"`
	FinishReason *string      `json:"finish_reason"`
}

// ChatMessage is a chat completion's message; Refusal is always null.
type ChatMessage struct {
	Role    string  `json:"role"`
	Content string  `json:"content"`
	Refusal *string `json:"refusal"`
}

// Usage counts a completion's tokens.
type Usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

// LineError is the error of an error line.
type LineError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// hexID is a deterministic 32-digit hex id for what (a custom id) in the
// namespace kind.
func hexID(kind, what string) string {
	h := sha256.Sum256([]byte(kind + "\x00" + what))
	return hex.EncodeToString(h[:16])
}

// ResultLine makes the success line of r. Its ids are deterministic: "id" is
// "batch_req_" and 32 hex digits of a hash of the custom id, "request_id"
// "req_" and another such hash, and the body's "id" "chatcmpl-" (or
// "cmpl-") and a third.
func ResultLine(r Result) (OutputLine, error) {
	var object, idPrefix string
	switch r.URL {
	case ChatCompletionsURL:
		object, idPrefix = "chat.completion", "chatcmpl-"
	case CompletionsURL:
		object, idPrefix = "text_completion", "cmpl-"
	default:
		return OutputLine{}, fmt.Errorf("openaibatch: result %q: url %q is not %q or %q", r.CustomID, r.URL, ChatCompletionsURL, CompletionsURL)
	}
	c := r.Completion
	choice := Choice{}
	if c.FinishReason != "" {
		choice.FinishReason = &c.FinishReason
	}
	if object == "chat.completion" {
		choice.Message = &ChatMessage{Role: "assistant", Content: c.Text}
	} else {
		choice.Text = &c.Text
	}
	created := r.Created
	if created == 0 {
		created = time.Now().Unix()
	}
	model := r.Model
	if model == "" {
		model = c.Model
	}
	id := r.CustomID
	return OutputLine{
		ID:       "batch_req_" + hexID("batch_req", id),
		CustomID: &id,
		Response: &Response{
			StatusCode: 200,
			RequestID:  "req_" + hexID("request", id),
			Body: Body{
				ID:      idPrefix + hexID("completion", id),
				Object:  object,
				Created: created,
				Model:   model,
				Choices: []Choice{choice},
				Usage: Usage{
					PromptTokens:     c.PromptTokens,
					CompletionTokens: c.CompletionTokens,
					TotalTokens:      c.PromptTokens + c.CompletionTokens,
				},
			},
		},
	}, nil
}

// FailureLine makes the error line of f. Its "id" is "batch_req_" and 32 hex
// digits of a hash of the custom id or, for a row without one, of the base
// name of its file and its line number.
func FailureLine(f Failure) OutputLine {
	l := OutputLine{Error: &LineError{Code: f.Code, Message: f.Message}}
	if f.IDNull {
		l.ID = "batch_req_" + hexID("batch_req_null", filepath.Base(f.File)+":"+strconv.FormatInt(f.Line, 10))
	} else {
		id := f.CustomID
		l.CustomID = &id
		l.ID = "batch_req_" + hexID("batch_req", id)
	}
	return l
}

// ShardWriter writes the lines of one output shard. Lines go to a hidden
// temporary file in the output folder (".<prefix>-<name>.jsonl.<random>.tmp");
// [ShardWriter.Commit] syncs it and atomically renames it to
// "<dir>/<prefix>-<name>.jsonl", replacing any previous shard of that name
// (so a retried bundle simply overwrites). [ShardWriter.Abort] discards it.
// Readers of the folder thus never see a partial shard.
//
// A ShardWriter is not safe for concurrent use.
type ShardWriter struct {
	f     *shardfile.File
	bw    *bufio.Writer
	enc   *json.Encoder
	lines int64
}

// NewShardWriter starts a shard that will be committed as
// dir/<prefix>-<name>.jsonl. dir must exist; prefix and name must be
// non-empty and must not contain path separators.
func NewShardWriter(dir, prefix, name string) (*ShardWriter, error) {
	f, err := shardfile.Create(dir, prefix, name, ".jsonl")
	if err != nil {
		return nil, fmt.Errorf("openaibatch: %w", err)
	}
	bw := bufio.NewWriterSize(f.Writer(), 256<<10)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &ShardWriter{f: f, bw: bw, enc: enc}, nil
}

// Write appends lines to the shard, one JSON object per line.
func (w *ShardWriter) Write(lines ...OutputLine) error {
	if w.f.Closed() {
		return fmt.Errorf("openaibatch: %w", shardfile.ErrClosed)
	}
	for _, l := range lines {
		if err := w.enc.Encode(l); err != nil {
			return fmt.Errorf("openaibatch: write shard %q: %w", w.f.Path(), err)
		}
		w.lines++
	}
	return nil
}

// WriteResult appends the success line of r (see [ResultLine]).
func (w *ShardWriter) WriteResult(r Result) error {
	l, err := ResultLine(r)
	if err != nil {
		return err
	}
	return w.Write(l)
}

// WriteFailure appends the error line of f (see [FailureLine]).
func (w *ShardWriter) WriteFailure(f Failure) error {
	return w.Write(FailureLine(f))
}

// Lines returns the number of lines written so far.
func (w *ShardWriter) Lines() int64 { return w.lines }

// Path returns the path the shard will have once committed.
func (w *ShardWriter) Path() string { return w.f.Path() }

// Commit flushes the remaining lines, syncs the file, renames it into place
// and syncs the folder, returning the final path. On error the temporary
// file is removed. The writer cannot be used afterwards.
func (w *ShardWriter) Commit() (path string, err error) {
	path, err = w.f.Commit(w.bw.Flush)
	if err != nil {
		return "", fmt.Errorf("openaibatch: %w", err)
	}
	return path, nil
}

// Abort discards the shard: it closes and removes the temporary file. Abort
// after Commit or Abort does nothing and returns nil, so it can be deferred.
func (w *ShardWriter) Abort() error {
	if err := w.f.Abort(); err != nil {
		return fmt.Errorf("openaibatch: %w", err)
	}
	return nil
}

// WriteEmpty writes an empty shard at dir/<prefix>-<name>.jsonl (via a
// temporary file and rename) and returns its path, so that an output folder
// always holds at least one results and one errors file.
func WriteEmpty(dir, prefix, name string) (string, error) {
	w, err := NewShardWriter(dir, prefix, name)
	if err != nil {
		return "", err
	}
	return w.Commit()
}
