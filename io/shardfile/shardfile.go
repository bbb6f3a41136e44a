// Package shardfile writes an output file so that readers of its folder never
// see it partly written, on local disk or Cloud Storage (through package
// blob). Locally the data goes to a hidden temporary file in the same folder,
// and [File.Commit] syncs it and atomically renames it into place. On GCS
// ("gs://bucket/dir") the data is uploaded straight to the final object name:
// an object written with a storage.Writer becomes visible only when the
// writer's Close succeeds, so Commit is that Close, [File.Abort] cancels the
// upload's context, and no temporary object is needed. Either way a commit
// replaces any earlier file of that name (so a retried write simply
// overwrites), and an abort leaves nothing behind.
//
// The file formats live elsewhere (parquetio, openaibatch); this package only
// handles the temporary file and its commit. Its errors name the final path
// but no package; callers add their own prefix by wrapping them.
package shardfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/minerva-batch/minerva/io/blob"
)

// ErrClosed is returned when a [File] is used after Commit or Abort.
var ErrClosed = errors.New("shard writer already committed or aborted")

// File is an output file that appears under its name only on [File.Commit].
//
// A File is not safe for concurrent use.
type File struct {
	w    blob.Writer
	done bool
}

// Create starts the file dir/<prefix>-<name><ext> (ext includes its dot,
// such as ".parquet"); dir may be a local folder or a gs:// one. Locally the
// data goes to a temporary file ".<prefix>-<name><ext>.<random>.tmp" in dir,
// with mode 0644, and dir must exist. prefix and name must be non-empty,
// must not be "." or ".." and must not contain path separators or NUL bytes.
func Create(dir, prefix, name, ext string) (*File, error) {
	if err := checkNamePart("prefix", prefix); err != nil {
		return nil, err
	}
	if err := checkNamePart("name", name); err != nil {
		return nil, err
	}
	final := blob.Join(dir, prefix+"-"+name+ext)
	w, err := blob.Create(context.Background(), final)
	if err != nil {
		return nil, fmt.Errorf("create shard %q: %w", final, unwrap(err))
	}
	return &File{w: w}, nil
}

func checkNamePart(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`+"\x00") {
		return fmt.Errorf("invalid shard %s %q", what, s)
	}
	return nil
}

// Writer returns the file's writer. It must not be used after Commit or
// Abort.
func (f *File) Writer() io.Writer { return f.w }

// Path returns the path the file will have once committed.
func (f *File) Path() string { return f.w.Path() }

// Closed reports whether Commit or Abort has been called.
func (f *File) Closed() bool { return f.done }

// Commit calls flush (if not nil) to write out what the caller buffers, such
// as a format's footer, then completes the file (locally: sync, close,
// rename into place and a best-effort sync of the folder; on GCS: finish the
// upload), returning the final path. On error nothing new is visible and the
// temporary file is removed. Commit after Commit or Abort returns
// [ErrClosed].
func (f *File) Commit(flush func() error) (string, error) {
	if f.done {
		return "", ErrClosed
	}
	f.done = true
	if flush != nil {
		if err := flush(); err != nil {
			f.w.Abort()
			return "", fmt.Errorf("commit shard %q: %w", f.Path(), err)
		}
	}
	if err := f.w.Commit(); err != nil {
		return "", fmt.Errorf("commit shard %q: %w", f.Path(), unwrap(err))
	}
	return f.Path(), nil
}

// Abort discards the file. Abort after Commit or Abort does nothing and
// returns nil, so it can be deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	if err := f.w.Abort(); err != nil {
		return fmt.Errorf("abort shard %q: %w", f.Path(), unwrap(err))
	}
	return nil
}

// unwrap drops a *fs.PathError around err: the messages name the path
// already.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
