package blob

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

type localFile struct {
	*os.File
	size int64
}

func (f *localFile) Size() int64 { return f.size }

func localOpen(p string) (File, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: p, Err: ErrIsDir}
	}
	return &localFile{File: f, size: st.Size()}, nil
}

func localStat(p string) (Info, error) {
	st, err := os.Stat(p)
	if err != nil {
		return Info{}, err
	}
	return Info{Path: p, Size: st.Size(), IsDir: st.IsDir()}, nil
}

func localGlob(pattern string) ([]Info, error) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: err}
	}
	out := make([]Info, 0, len(matches))
	for _, m := range matches {
		info, err := localStat(m)
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed since the glob
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

func localList(dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(entries))
	for _, e := range entries {
		info := Info{Path: filepath.Join(dir, e.Name()), IsDir: e.IsDir()}
		if fi, err := e.Info(); err == nil {
			info.Size = fi.Size()
		}
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

func localRemove(p string) error { return os.Remove(p) }

func localMkdirAll(dir string) error { return os.MkdirAll(dir, 0o755) }

func hasLocalMeta(p string) bool {
	magic := `*?[`
	if runtime.GOOS != "windows" {
		magic = `*?[\`
	}
	return strings.ContainsAny(p, magic)
}

// localWriter writes a hidden temporary file beside the final one and renames
// it into place on Commit.
type localWriter struct {
	final string
	f     *os.File
	done  bool
}

func localCreate(p string) (Writer, error) {
	dir, base := filepath.Split(p)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return nil, &fs.PathError{Op: "create", Path: p, Err: unwrap(err)}
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, &fs.PathError{Op: "create", Path: p, Err: unwrap(err)}
	}
	return &localWriter{final: p, f: f}, nil
}

func (w *localWriter) Path() string { return w.final }

func (w *localWriter) Write(b []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.final, Err: fs.ErrClosed}
	}
	n, err := w.f.Write(b)
	if err != nil {
		err = &fs.PathError{Op: "write", Path: w.final, Err: unwrap(err)}
	}
	return n, err
}

func (w *localWriter) Commit() error {
	if w.done {
		return &fs.PathError{Op: "commit", Path: w.final, Err: fs.ErrClosed}
	}
	w.done = true
	tmp := w.f.Name()
	fail := func(err error) error {
		os.Remove(tmp)
		return &fs.PathError{Op: "commit", Path: w.final, Err: unwrap(err)}
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fail(err)
	}
	if err := w.f.Close(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, w.final); err != nil {
		return fail(err)
	}
	// Make the rename durable (best effort: not supported everywhere).
	if d, err := os.Open(filepath.Dir(w.final)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	cerr := w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &fs.PathError{Op: "abort", Path: w.final, Err: unwrap(err)}
	}
	if cerr != nil {
		return &fs.PathError{Op: "abort", Path: w.final, Err: unwrap(cerr)}
	}
	return nil
}

// unwrap returns the error inside a *fs.PathError, so that errors name the
// final path rather than a temporary one.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
