package parquetio

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"sort"

	"github.com/minerva-batch/minerva/io/blob"
)

// Expand expands paths and glob patterns, local or gs:// (path.Match syntax
// in the object name for gs://, filepath.Glob syntax locally), into a
// sorted, de-duplicated list of file paths (local ones cleaned with
// filepath.Clean).
//
// A pattern that matches nothing is an error naming the pattern
// (`input "x/*.parquet": no files match`); a plain path that does not exist
// is an error too (`input "x.parquet": no such file`). Directories (on GCS,
// prefixes of objects), whether named directly or matched by a glob, are an
// error. An empty patterns list yields an empty result and no error.
func Expand(patterns []string) ([]string, error) {
	ctx := context.Background()
	seen := make(map[string]bool)
	var out []string
	add := func(p string) {
		p = blob.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, pat := range patterns {
		if !blob.HasMeta(pat) {
			st, err := blob.Stat(ctx, pat)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("input %q: no such file", pat)
			case err != nil:
				return nil, fmt.Errorf("input %q: %w", pat, unwrapPathError(err))
			case st.IsDir:
				return nil, fmt.Errorf("input %q: is a directory, want a Parquet file (use a glob such as %q)",
					pat, blob.Join(pat, "*.parquet"))
			}
			add(pat)
			continue
		}
		matches, err := blob.Glob(ctx, pat)
		if err != nil {
			if errors.Is(err, path.ErrBadPattern) || errors.Is(err, filepath.ErrBadPattern) {
				return nil, fmt.Errorf("input %q: bad glob pattern: %w", pat, unwrapPathError(err))
			}
			return nil, fmt.Errorf("input %q: %w", pat, unwrapPathError(err))
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("input %q: no files match", pat)
		}
		for _, m := range matches {
			if m.IsDir {
				return nil, fmt.Errorf("input %q: matches directory %q, want only Parquet files", pat, m.Path)
			}
			add(m.Path)
		}
	}
	sort.Strings(out)
	return out, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
