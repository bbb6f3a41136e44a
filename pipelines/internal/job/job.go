// Package job holds what Minerva's Beam jobs share: the runner names, the
// output-folder check, running a pipeline and reading back its metrics, and
// completing an output folder (empty shards where no row went, row counts).
package job

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/transforms"
)

// previousRun lists the files of an earlier run in dir (a local or gs://
// folder): its shards, stats.json, _SUCCESS, and the temporary files
// (".results-*", a resumed run's ".resume-*" done file, …) a local run left.
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
		for _, pat := range []string{"results-*", "errors-*", transforms.StatsFile, SuccessFile, ".results-*", ".errors-*",
			"." + transforms.StatsFile + "*", "." + SuccessFile + "*", ".resume-*"} {
			if blob.Match(pat, e.Name()) {
				found = append(found, e.Path)
				break
			}
		}
	}
	sort.Strings(found)
	return found, nil
}

// Previous is what PrepareOutput found of an earlier run in the output
// folder when asked to resume.
type Previous struct {
	// Complete is set when the folder holds a completed run (with its
	// _SUCCESS manifest, in Manifest): there is nothing to do.
	Complete bool
	Manifest *Manifest
	// Resume is set when the folder holds an interrupted run (no
	// _SUCCESS) whose committed shards were kept: the job is to run on the
	// rows they do not hold (see DoneRows).
	Resume bool
}

// PrepareOutput makes sure dir (a local or gs:// folder) is ready for a
// job. A folder holding a previous run (its shards, stats.json, _SUCCESS
// or temporary files) is refused unless overwrite is set, when the previous
// run is removed, or resume is set:
//
//   - resume on a completed run (_SUCCESS present) leaves the folder as it
//     is and returns Previous.Complete with its manifest;
//   - resume on an interrupted run (no _SUCCESS) keeps its committed
//     shards and stats.json, removes its temporary files (uncommitted
//     shards, an earlier resume's done file) and its empty shards (which a
//     job writes last, only when no row went that way), and returns
//     Previous.Resume.
//
// overwrite and resume exclude each other.
func PrepareOutput(dir string, overwrite, resume bool) (*Previous, error) {
	ctx := context.Background()
	if overwrite && resume {
		return nil, errors.New("--resume and --overwrite exclude each other: --resume finishes an interrupted run, --overwrite replaces it")
	}
	if st, err := blob.Stat(ctx, dir); err == nil && !st.IsDir {
		return nil, fmt.Errorf("output %q is a file, not a folder", dir)
	}
	old, err := previousRun(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	complete := slices.ContainsFunc(old, func(p string) bool { return blob.Base(p) == SuccessFile })
	prev := &Previous{}
	switch {
	case len(old) == 0 || overwrite:
	case resume && complete:
		m, err := ReadManifest(dir)
		if err != nil {
			return nil, err
		}
		return &Previous{Complete: true, Manifest: m}, nil
	case resume:
		prev.Resume = true
		var drop []string
		for _, f := range old {
			if name := blob.Base(f); strings.HasPrefix(name, ".") || strings.Contains(name, "-"+emptyShard+".") {
				drop = append(drop, f)
			}
		}
		old = drop
	case complete:
		return nil, fmt.Errorf("output %q holds a previous run, completed (it has %s); use --overwrite to replace it or choose another folder", dir, SuccessFile)
	default:
		return nil, fmt.Errorf("output %q holds a previous run that did not complete (no %s: it was interrupted or failed; %d files such as %s); use --resume to finish it, --overwrite to replace it, or choose another folder",
			dir, SuccessFile, len(old), blob.Base(old[0]))
	}
	for _, f := range old {
		if err := blob.Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("output %q: removing the previous run: %w", dir, err)
		}
	}
	if err := blob.MkdirAll(ctx, dir); err != nil {
		return nil, fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	return prev, nil
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

// emptyShard is the name part of the empty shard a job writes when no row
// went to an output.
const emptyShard = "empty"

// ShardInfo is one output shard in a _SUCCESS manifest.
type ShardInfo struct {
	Name string `json:"name"`
	Rows int64  `json:"rows"`
}

// Shards lists the prefix-* shards in dir with their rows (counted with
// count), or, when there are none, writes an empty one with write (as
// <prefix>-empty<ext>) and lists it.
func Shards(dir, prefix, ext string, count func(path string) (int64, error), write func() error) ([]ShardInfo, error) {
	shards, err := shardPaths(dir, prefix, ext)
	if err != nil {
		return nil, err
	}
	if len(shards) == 0 {
		return []ShardInfo{{Name: prefix + "-" + emptyShard + ext}}, write()
	}
	infos := make([]ShardInfo, len(shards))
	for i, s := range shards {
		rows, err := count(s)
		if err != nil {
			return nil, err
		}
		infos[i] = ShardInfo{Name: blob.Base(s), Rows: rows}
	}
	return infos, nil
}

// shardPaths lists the committed prefix-*ext shards of dir.
func shardPaths(dir, prefix, ext string) ([]string, error) {
	entries, err := blob.List(context.Background(), dir)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", dir, unwrapPath(err))
	}
	var shards []string
	for _, e := range entries {
		if !e.IsDir && blob.Match(prefix+"-*"+ext, e.Name()) {
			shards = append(shards, e.Path)
		}
	}
	return shards, nil
}

// TotalRows sums the rows of shards.
func TotalRows(shards []ShardInfo) int64 {
	var n int64
	for _, s := range shards {
		n += s.Rows
	}
	return n
}

// ParquetShards is Shards for Parquet shards of rows of type T.
func ParquetShards[T any](dir, prefix string) ([]ShardInfo, error) {
	return Shards(dir, prefix, ".parquet", CountRows, func() error {
		_, err := parquetio.WriteEmpty[T](dir, prefix, emptyShard)
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
