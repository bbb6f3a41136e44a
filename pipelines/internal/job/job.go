// Package job holds what Minerva's Beam jobs share: the runner names, the
// output-folder check, running a pipeline and reading back its metrics, and
// completing an output folder (empty shards where no row went, row counts).
package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/transforms"
)

// previousRun lists the files of an earlier run in dir (a local or gs://
// folder): its shards, stats.json, and temporary files a local run left.
func previousRun(ctx context.Context, dir string) ([]string, error) {
	entries, err := blob.List(ctx, dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range entries {
		for _, pat := range []string{"results-*", "errors-*", transforms.StatsFile, ".results-*", ".errors-*", "." + transforms.StatsFile + "*"} {
			if blob.Match(pat, e.Name()) {
				found = append(found, e.Path)
				break
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

// PrepareOutput makes sure dir (a local or gs:// folder) is a folder without
// the outputs of a previous run, removing them when overwrite is set and
// refusing to start otherwise.
func PrepareOutput(dir string, overwrite bool) error {
	ctx := context.Background()
	if st, err := blob.Stat(ctx, dir); err == nil && !st.IsDir {
		return fmt.Errorf("output %q is a file, not a folder", dir)
	}
	old, err := previousRun(ctx, dir)
	if err != nil {
		return fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	if len(old) > 0 && !overwrite {
		return fmt.Errorf("output %q holds a previous run (%d files such as %s); use --overwrite to replace it or choose another folder", dir, len(old), blob.Base(old[0]))
	}
	for _, f := range old {
		if err := blob.Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output %q: removing the previous run: %w", dir, err)
		}
	}
	if err := blob.MkdirAll(ctx, dir); err != nil {
		return fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	return nil
}

// unwrapPath drops a *fs.PathError around err when the message names the
// path already.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Metrics are a finished pipeline's metrics (committed values).
type Metrics struct {
	Counters      map[string]int64
	Distributions map[string]Distribution
}

// Distribution is a Beam distribution metric.
type Distribution struct {
	Count, Sum, Min, Max int64
}

// Mean is Sum / Count (0 when empty).
func (d Distribution) Mean() float64 {
	if d.Count == 0 {
		return 0
	}
	return float64(d.Sum) / float64(d.Count)
}

// EnsureStats writes zero statistics to dir/stats.json when the job wrote
// none (an empty input), and returns the statistics.
func EnsureStats(dir string) (batch.Stats, error) {
	if _, err := blob.Stat(context.Background(), blob.Join(dir, transforms.StatsFile)); errors.Is(err, fs.ErrNotExist) {
		if err := transforms.WriteStatsFile(dir, batch.Stats{}); err != nil {
			return batch.Stats{}, err
		}
	}
	return transforms.ReadStatsFile(dir)
}

// Shards counts the rows of the prefix-* shards in dir (with count), or,
// when there are none, writes an empty one with write and returns 0.
func Shards(dir, prefix, ext string, count func(path string) (int64, error), write func() error) (int64, error) {
	entries, err := blob.List(context.Background(), dir)
	if err != nil {
		return 0, fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	var shards []string
	for _, e := range entries {
		if !e.IsDir && blob.Match(prefix+"-*"+ext, e.Name()) {
			shards = append(shards, e.Path)
		}
	}
	if len(shards) == 0 {
		return 0, write()
	}
	var n int64
	for _, s := range shards {
		rows, err := count(s)
		if err != nil {
			return 0, err
		}
		n += rows
	}
	return n, nil
}

// ParquetShards is Shards for Parquet shards of rows of type T.
func ParquetShards[T any](dir, prefix string) (int64, error) {
	return Shards(dir, prefix, ".parquet", CountRows, func() error {
		_, err := parquetio.WriteEmpty[T](dir, prefix, "empty")
		return err
	})
}

// CountRows returns the number of rows of a Parquet file (local or gs://)
// from its footer, which is all it reads.
func CountRows(path string) (int64, error) {
	f, err := blob.Open(context.Background(), path)
	if err != nil {
		return 0, fmt.Errorf("output %q: %w", path, unwrapPath(err))
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, f.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("output %q: %w", path, err)
	}
	return pf.NumRows(), nil
}

// CheckAccounting returns an error unless results + errors = input rows.
func CheckAccounting(rows, results, errs int64) error {
	if got := results + errs; got != rows {
		return fmt.Errorf("row accounting: %d input rows but %d results + %d errors = %d output rows", rows, results, errs, got)
	}
	return nil
}
