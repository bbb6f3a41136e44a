package openaibatch

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/minerva-batch/minerva/io/blob"
)

// MaxLineBytes is the longest line, without its line ending, that the readers
// accept; a longer line is a row error, not a job error.
const MaxLineBytes = 64 << 20

// maxLine is MaxLineBytes; tests lower it.
var maxLine = MaxLineBytes

// batchRows is how many rows are read between context checks.
const batchRows = 1024

// readBufferSize is the size of the buffered reader over an input file.
const readBufferSize = 256 << 10

// keepTooLong is how many bytes of a too-long line are kept, so that the
// first-line check can see how it starts.
const keepTooLong = 1 << 10

// openFile opens an input file, local or gs://, for one sequential read,
// with errors that name it.
func openFile(path string) (io.ReadCloser, error) {
	f, _, err := blob.OpenReader(context.Background(), path)
	switch {
	case errors.Is(err, blob.ErrIsDir):
		return nil, fmt.Errorf("input %q: is a directory, want an OpenAI batch file (.jsonl)", path)
	case err != nil:
		return nil, openError(path, err)
	}
	return f, nil
}

func openError(path string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("input %q: no such file", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("input %q: cannot open: %w", path, err)
}

// lineReader splits a stream into lines ending in "\n" or "\r\n" (or at the
// end of the stream), numbering them from 1.
type lineReader struct {
	r        *bufio.Reader
	buf      []byte
	n        int64 // number of the last line returned
	nonBlank bool
	tooLong  bool
}

func newLineReader(r io.Reader) *lineReader {
	br := bufio.NewReaderSize(r, readBufferSize)
	// A UTF-8 byte order mark (as Windows editors write) is not part of the
	// first line.
	if b, err := br.Peek(3); err == nil && string(b) == "\xef\xbb\xbf" {
		br.Discard(3)
	}
	return &lineReader{r: br}
}

// next returns the next line, without its line ending. blank reports a line
// of JSON whitespace only; tooLong a line of more than maxLine bytes, of which
// line then holds only the first few. At the end of the stream next returns
// io.EOF; other errors are the reader's.
func (lr *lineReader) next() (line []byte, blank, tooLong bool, err error) {
	lr.buf = lr.buf[:0]
	lr.nonBlank, lr.tooLong = false, false
	size := 0 // the line's length so far, ending included
	for {
		chunk, err := lr.r.ReadSlice('\n')
		if len(chunk) > 0 {
			size += len(chunk)
			if !lr.nonBlank && !isBlank(chunk) {
				lr.nonBlank = true
			}
			if !lr.tooLong && size > maxLine+2 { // +2: room for "\r\n"
				lr.tooLong = true
				lr.buf = lr.buf[:min(len(lr.buf), keepTooLong)]
			}
			if !lr.tooLong {
				lr.buf = append(lr.buf, chunk...)
			} else if len(lr.buf) < keepTooLong {
				lr.buf = append(lr.buf, chunk[:min(len(chunk), keepTooLong-len(lr.buf))]...)
			}
		}
		switch {
		case err == nil:
			return lr.finish()
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if size == 0 {
				return nil, false, false, io.EOF
			}
			return lr.finish()
		default:
			return nil, false, false, err
		}
	}
}

func (lr *lineReader) finish() (line []byte, blank, tooLong bool, err error) {
	lr.n++
	b := bytes.TrimSuffix(lr.buf, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if !lr.tooLong && len(b) > maxLine {
		lr.tooLong = true
		b = b[:min(len(b), keepTooLong)]
	}
	return b, !lr.nonBlank, lr.tooLong, nil
}

// isBlank reports whether b holds JSON whitespace only.
func isBlank(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n':
		default:
			return false
		}
	}
	return true
}

// scan opens path and calls fn with each non-blank line. The first non-blank
// line must be a JSON object (one too long to check must start like one), or
// the file is not an OpenAI batch file. ctx is checked every batchRows rows.
// An error from fn is returned unchanged; other errors name the file.
func scan(ctx context.Context, path string, fn func(n int64, line []byte, tooLong bool) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("input %q: %w", path, err)
	}
	f, err := openFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lr := newLineReader(f)
	var rows int64
	for {
		line, blank, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("input %q: cannot read: %w", path, err)
		}
		if blank {
			continue
		}
		if rows == 0 {
			if err := checkFirst(line, tooLong); err != nil {
				return fmt.Errorf("input %q: not an OpenAI batch file (JSON Lines of request objects): line %d %w", path, lr.n, err)
			}
		} else if rows%batchRows == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("input %q: %w", path, err)
			}
		}
		rows++
		if err := fn(lr.n, line, tooLong); err != nil {
			return err
		}
	}
}

// checkFirst checks that the first row of a file is a JSON object. The error
// reads after "line N".
func checkFirst(line []byte, tooLong bool) error {
	t := bytes.TrimLeft(line, " \t\r\n")
	if len(t) > 0 && t[0] == '{' && (tooLong || json.Valid(t)) {
		return nil
	}
	head := t[:min(len(t), 24)]
	if len(t) > 0 && t[0] == '{' {
		var v any
		err := json.Unmarshal(t, &v)
		return fmt.Errorf("is not valid JSON: %v", err)
	}
	if !tooLong && json.Valid(t) {
		return fmt.Errorf("is %s, not a JSON object", kindOf(t))
	}
	return fmt.Errorf("is not a JSON object (it starts %q)", head)
}

// Inspect checks that path opens and is an OpenAI batch file (its first
// non-blank line is a JSON object) and counts its rows: its non-blank lines,
// one for each call ReadRequests would make. A file without rows is valid.
func Inspect(path string) (rows int64, err error) {
	err = scan(context.Background(), path, func(int64, []byte, bool) error {
		rows++
		return nil
	})
	if err != nil {
		return 0, err
	}
	return rows, nil
}

// CountLines counts the non-blank lines of a JSON Lines file, such as an
// output shard, for a job's row accounting. Unlike [Inspect] it does not look
// at what the lines hold.
func CountLines(path string) (int64, error) {
	f, err := openFile(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	lr := newLineReader(f)
	var n int64
	for {
		_, blank, _, err := lr.next()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return 0, fmt.Errorf("input %q: cannot read: %w", path, err)
		}
		if !blank {
			n++
		}
	}
}
