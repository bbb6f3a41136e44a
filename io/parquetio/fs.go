package parquetio

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/minerva-batch/minerva/io/blob"
)

// inputFile is an opened input: random access plus Close.
type inputFile interface {
	io.ReaderAt
	io.Closer
}

// openInput opens an input file for random access and returns its size. It is
// the single seam through which input bytes are read: local files and gs://
// objects alike, through package blob (ranged reads on GCS, so only the
// footer and the pages of the columns read are fetched). Errors satisfy
// errors.Is(err, fs.ErrNotExist) for missing files and blob.ErrIsDir for
// directories. Tests replace it to count reads.
var openInput = openBlob

func openBlob(path string) (inputFile, int64, error) {
	f, err := blob.Open(context.Background(), path)
	if err != nil {
		return nil, 0, err
	}
	return f, f.Size(), nil
}

// openError formats an error from openInput for the given input path.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("input %q: no such file", path)
	case errors.Is(err, blob.ErrIsDir):
		return fmt.Errorf("input %q: is a directory, want a Parquet file", path)
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("input %q: cannot open: %w", path, err)
}
