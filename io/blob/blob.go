// Package blob is the one way Minerva's readers and writers reach their
// files: local paths and Google Cloud Storage objects ("gs://bucket/name")
// behind the same small set of functions. The scheme is chosen by the path:
// a path starting with "gs://" is an object, anything else a local file.
//
//   - [Open] opens a file for random access ([File]: io.ReaderAt, Size,
//     Close). On GCS every ReadAt that misses a small cache of read-ahead
//     blocks is one ranged request (at least [ReadAhead] bytes), so Parquet
//     footers and pages are fetched on demand and never the whole object.
//   - [OpenReader] opens a file for one sequential read (one streamed
//     request on GCS).
//   - [Stat], [Glob] and [List] look files up; on GCS a "folder" is a name
//     prefix ending in "/", and Glob lists by the pattern's literal prefix and
//     matches the rest with path.Match ("**" is not supported).
//   - [Create] starts a file that appears, whole, only when [Writer.Commit]
//     succeeds. Locally the data goes to a hidden temporary file in the same
//     folder that Commit syncs and renames into place. On GCS no temporary
//     object is needed: an object written with a storage.Writer becomes
//     visible only when its Close succeeds, so Commit is that Close and
//     [Writer.Abort] cancels the upload's context, leaving nothing behind.
//     Either way a retried write of the same name replaces the earlier one.
//   - [Remove], [MkdirAll], [ReadFile], [WriteFile].
//
// One storage.Client serves the whole process; it is made on first use of a
// gs:// path with Application Default Credentials, or, when the
// STORAGE_EMULATOR_HOST environment variable names an emulator ("host:port"
// or a URL), without authentication against that emulator (the storage
// library does this itself). Every GCS operation, uploads included, is
// retried on 408, 429, 5xx and connection errors with exponential backoff
// (see [SetBackoff]): the jobs write each output object once per attempt,
// so repeating an upload is safe.
//
// Errors are *fs.PathError values naming the path; missing files satisfy
// errors.Is(err, fs.ErrNotExist) and folders opened as files errors.Is(err,
// ErrIsDir), on both schemes.
package blob

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"strings"
)

// Scheme is the prefix of Cloud Storage paths.
const Scheme = "gs://"

// ErrIsDir is the error (inside a *fs.PathError) for a folder opened as a
// file.
var ErrIsDir = errors.New("is a directory")

// IsGCS reports whether p names a Cloud Storage object or prefix.
func IsGCS(p string) bool { return strings.HasPrefix(p, Scheme) }

// File is a file opened for random access. ReadAt may be called from
// several goroutines at once.
type File interface {
	io.ReaderAt
	io.Closer
	// Size is the file's size when it was opened.
	Size() int64
}

// Info describes a file or folder.
type Info struct {
	// Path is the full path, as it would be passed to Open.
	Path  string
	Size  int64
	IsDir bool
}

// Name is the last element of Path.
func (i Info) Name() string { return Base(i.Path) }

// Writer is a file being written by [Create]. It is not safe for concurrent
// use.
type Writer interface {
	io.Writer
	// Commit makes the file visible under its name, whole, replacing any
	// earlier file of that name. On error nothing new is visible.
	Commit() error
	// Abort discards what was written. Abort after Commit or Abort does
	// nothing and returns nil.
	Abort() error
	// Path is the name the file gets on Commit.
	Path() string
}

// Open opens the file at p for random access.
func Open(ctx context.Context, p string) (File, error) {
	if IsGCS(p) {
		return gcsOpen(ctx, p)
	}
	return localOpen(p)
}

// OpenReader opens the file at p for one sequential read and returns its
// size too.
func OpenReader(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	if IsGCS(p) {
		return gcsOpenReader(ctx, p)
	}
	f, err := localOpen(p)
	if err != nil {
		return nil, 0, err
	}
	return f.(*localFile).File, f.Size(), nil
}

// Stat describes the file or folder at p. On GCS a name that is no object but
// the prefix of some ("name/...") is a folder, and a bucket is a folder.
func Stat(ctx context.Context, p string) (Info, error) {
	if IsGCS(p) {
		return gcsStat(ctx, p)
	}
	return localStat(p)
}

// Glob returns the files and folders matching pattern, sorted by path. A
// pattern without meta characters (see [HasMeta]) is returned as is if it
// exists. On GCS the bucket name cannot be a pattern.
func Glob(ctx context.Context, pattern string) ([]Info, error) {
	if IsGCS(pattern) {
		return gcsGlob(ctx, pattern)
	}
	return localGlob(pattern)
}

// List returns what the folder dir holds directly (files and sub-folders),
// sorted by path. Listing a folder that does not exist returns nothing
// (and no error) on GCS, where folders exist only through their objects,
// and an error satisfying fs.ErrNotExist locally.
func List(ctx context.Context, dir string) ([]Info, error) {
	if IsGCS(dir) {
		return gcsList(ctx, dir)
	}
	return localList(dir)
}

// Create starts the file p (see [Writer]). Locally its folder must exist.
func Create(ctx context.Context, p string) (Writer, error) {
	if IsGCS(p) {
		return gcsCreate(ctx, p)
	}
	return localCreate(p)
}

// Remove removes the file p.
func Remove(ctx context.Context, p string) error {
	if IsGCS(p) {
		return gcsRemove(ctx, p)
	}
	return localRemove(p)
}

// MkdirAll makes the folder dir and its parents. On GCS, where folders need
// not be made, it only checks that the bucket can be listed.
func MkdirAll(ctx context.Context, dir string) error {
	if IsGCS(dir) {
		return gcsMkdirAll(ctx, dir)
	}
	return localMkdirAll(dir)
}

// ReadFile reads the whole file p (meant for small files such as reports).
func ReadFile(ctx context.Context, p string) ([]byte, error) {
	r, _, err := OpenReader(ctx, p)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: p, Err: err}
	}
	return data, nil
}

// WriteFile writes data as the file p, which appears whole or not at all.
func WriteFile(ctx context.Context, p string, data []byte) error {
	w, err := Create(ctx, p)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Commit()
}

// Join joins a folder and names into a path: with "/" and without cleaning
// for GCS paths (object names are taken as written), with filepath.Join
// otherwise.
func Join(dir string, elem ...string) string {
	if !IsGCS(dir) {
		return filepath.Join(append([]string{dir}, elem...)...)
	}
	for _, e := range elem {
		if e == "" {
			continue
		}
		if !strings.HasSuffix(dir, "/") {
			dir += "/"
		}
		dir += strings.TrimPrefix(e, "/")
	}
	return dir
}

// Base returns the last element of p.
func Base(p string) string {
	if IsGCS(p) {
		_, name := splitGCS(p)
		return path.Base(strings.TrimSuffix(name, "/"))
	}
	return filepath.Base(p)
}

// Clean cleans a local path with filepath.Clean and returns a GCS path
// unchanged.
func Clean(p string) string {
	if IsGCS(p) {
		return p
	}
	return filepath.Clean(p)
}

// HasMeta reports whether p holds any of the glob meta characters "*?[",
// or, except on GCS and Windows, "\".
func HasMeta(p string) bool {
	if IsGCS(p) {
		return strings.ContainsAny(p, `*?[`)
	}
	return hasLocalMeta(p)
}

// Match reports whether name matches the shell pattern (path.Match syntax,
// the same on every platform and scheme).
func Match(pattern, name string) bool {
	ok, err := path.Match(pattern, name)
	return ok && err == nil
}
