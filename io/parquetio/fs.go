package parquetio

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// inputFile is an opened input: random access plus Close.
type inputFile interface {
	io.ReaderAt
	io.Closer
}

// errIsDir is returned by openInput when the path names a directory.
var errIsDir = errors.New("is a directory")

// openInput opens an input file for random access and returns its size. It is
// the single seam through which input bytes are read, so that another storage
// backend (e.g. GCS) can be substituted later. Implementations should return
// errors that satisfy errors.Is(err, fs.ErrNotExist) for missing files and
// errIsDir for directories.
var openInput = openLocal

func openLocal(path string) (inputFile, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if st.IsDir() {
		f.Close()
		return nil, 0, errIsDir
	}
	return f, st.Size(), nil
}

// openError formats an error from openInput for the given input path.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("input %q: no such file", path)
	case errors.Is(err, errIsDir):
		return fmt.Errorf("input %q: is a directory, want a Parquet file", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("input %q: cannot open: %w", path, err)
}
