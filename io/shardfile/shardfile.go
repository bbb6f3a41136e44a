// Package shardfile writes an output file so that readers of its folder never
// see it partly written: the data goes to a hidden temporary file in the same
// folder, and [File.Commit] syncs it and atomically renames it into place,
// replacing any earlier file of that name (so a retried write simply
// overwrites). [File.Abort] discards it instead.
//
// The file formats live elsewhere (parquetio, openaibatch); this package only
// handles the temporary file and its commit. Its errors name the final path
// but no package; callers add their own prefix by wrapping them.
package shardfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ErrClosed is returned when a [File] is used after Commit or Abort.
var ErrClosed = errors.New("shard writer already committed or aborted")

// File is an output file written under a hidden temporary name in its folder
// and renamed into place by [File.Commit].
//
// A File is not safe for concurrent use.
type File struct {
	final string
	tmp   string
	f     *os.File
	done  bool
}

// Create starts the file dir/<prefix>-<name><ext> (ext includes its dot,
// such as ".parquet"). The data goes to a temporary file
// ".<prefix>-<name><ext>.<random>.tmp" in dir, with mode 0644. dir must
// exist; prefix and name must be non-empty, must not be "." or ".." and must
// not contain path separators or NUL bytes.
func Create(dir, prefix, name, ext string) (*File, error) {
	if err := checkNamePart("prefix", prefix); err != nil {
		return nil, err
	}
	if err := checkNamePart("name", name); err != nil {
		return nil, err
	}
	base := prefix + "-" + name + ext
	final := filepath.Join(dir, base)
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("create shard %q: %w", final, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create shard %q: %w", final, err)
	}
	return &File{final: final, tmp: f.Name(), f: f}, nil
}

func checkNamePart(what, s string) error {
	if s == "" || s == "." || s == ".." || strings.ContainsAny(s, `/\`+"\x00") {
		return fmt.Errorf("invalid shard %s %q", what, s)
	}
	return nil
}

// Writer returns the writer of the temporary file. It must not be used after
// Commit or Abort.
func (f *File) Writer() io.Writer { return f.f }

// Path returns the path the file will have once committed.
func (f *File) Path() string { return f.final }

// Closed reports whether Commit or Abort has been called.
func (f *File) Closed() bool { return f.done }

// Commit calls flush (if not nil) to write out what the caller buffers, such
// as a format's footer, then syncs and closes the temporary file, renames it
// to [File.Path] and syncs the folder (best effort), returning the final
// path. On error the temporary file is removed. Commit after Commit or Abort
// returns [ErrClosed].
func (f *File) Commit(flush func() error) (string, error) {
	if f.done {
		return "", ErrClosed
	}
	f.done = true
	fail := func(err error) (string, error) {
		os.Remove(f.tmp)
		return "", fmt.Errorf("commit shard %q: %w", f.final, err)
	}
	if flush != nil {
		if err := flush(); err != nil {
			f.f.Close()
			return fail(err)
		}
	}
	if err := f.f.Sync(); err != nil {
		f.f.Close()
		return fail(err)
	}
	if err := f.f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(f.tmp, f.final); err != nil {
		return fail(err)
	}
	syncDir(filepath.Dir(f.final))
	return f.final, nil
}

// Abort discards the file: it closes and removes the temporary file. Abort
// after Commit or Abort does nothing and returns nil, so it can be deferred.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	cerr := f.f.Close()
	if err := os.Remove(f.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("abort shard %q: %w", f.final, err)
	}
	if cerr != nil {
		return fmt.Errorf("abort shard %q: %w", f.final, cerr)
	}
	return nil
}

// syncDir makes a rename durable; failures are ignored (best effort, and not
// supported on every platform).
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
