package parquetio

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// Expand expands local paths and glob patterns (filepath.Glob syntax) into a
// sorted, de-duplicated list of file paths (cleaned with filepath.Clean).
//
// A pattern that matches nothing is an error naming the pattern
// (`input "x/*.parquet": no files match`); a plain path that does not exist
// is an error too (`input "x.parquet": no such file`). Directories, whether
// named directly or matched by a glob, are an error. An empty patterns list
// yields an empty result and no error.
func Expand(patterns []string) ([]string, error) {
	seen := make(map[string]bool)
	var out []string
	add := func(p string) {
		p = filepath.Clean(p)
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, pat := range patterns {
		if !hasGlobMeta(pat) {
			st, err := os.Stat(pat)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil, fmt.Errorf("input %q: no such file", pat)
			case err != nil:
				return nil, fmt.Errorf("input %q: %w", pat, unwrapPathError(err))
			case st.IsDir():
				return nil, fmt.Errorf("input %q: is a directory, want a Parquet file (use a glob such as %q)",
					pat, filepath.Join(pat, "*.parquet"))
			}
			add(pat)
			continue
		}
		matches, err := filepath.Glob(pat)
		if err != nil {
			return nil, fmt.Errorf("input %q: bad glob pattern: %w", pat, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("input %q: no files match", pat)
		}
		for _, m := range matches {
			st, err := os.Stat(m)
			if err != nil {
				return nil, fmt.Errorf("input %q: %q: %w", pat, m, unwrapPathError(err))
			}
			if st.IsDir() {
				return nil, fmt.Errorf("input %q: matches directory %q, want only Parquet files", pat, m)
			}
			add(m)
		}
	}
	sort.Strings(out)
	return out, nil
}

// hasGlobMeta reports whether path contains any of the magic characters
// recognized by filepath.Match.
func hasGlobMeta(path string) bool {
	magic := `*?[`
	if runtime.GOOS != "windows" {
		magic = `*?[\`
	}
	return strings.ContainsAny(path, magic)
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
