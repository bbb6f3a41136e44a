// Package job holds what Minerva's Beam jobs share: the runner names, the
// output-folder check, running a pipeline and reading back its metrics, and
// completing an output folder (empty shards where no row went, row counts).
package job

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	//lint:ignore SA1019 the direct runner is one of the two runners the jobs are tested on
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct" // runner "direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"  // runner "prism"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/transforms"
)

// Runners are the Beam runners a job can run on.
var Runners = []string{"prism", "direct"}

// CheckRunner fills in the default runner (prism) and checks the name.
func CheckRunner(runner *string) error {
	if *runner == "" {
		*runner = "prism"
	}
	if !slices.Contains(Runners, *runner) {
		return fmt.Errorf("unknown runner %q: use one of %v", *runner, Runners)
	}
	return nil
}

// previousRun lists the files of an earlier run in dir.
func previousRun(dir string) ([]string, error) {
	var found []string
	for _, pat := range []string{"results-*", "errors-*", transforms.StatsFile, ".results-*", ".errors-*", "." + transforms.StatsFile + ".tmp"} {
		m, err := filepath.Glob(filepath.Join(dir, pat))
		if err != nil {
			return nil, err
		}
		found = append(found, m...)
	}
	sort.Strings(found)
	return found, nil
}

// PrepareOutput makes sure dir is a folder without the outputs of a previous
// run, removing them when overwrite is set and refusing to start otherwise.
func PrepareOutput(dir string, overwrite bool) error {
	if st, err := os.Stat(dir); err == nil && !st.IsDir() {
		return fmt.Errorf("output %q is a file, not a folder", dir)
	}
	old, err := previousRun(dir)
	if err != nil {
		return fmt.Errorf("output %q: %w", dir, err)
	}
	if len(old) > 0 && !overwrite {
		return fmt.Errorf("output %q holds a previous run (%d files such as %s); use --overwrite to replace it or choose another folder", dir, len(old), filepath.Base(old[0]))
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("output %q: removing the previous run: %w", dir, err)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output %q: %w", dir, err)
	}
	return nil
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

// Execute runs pipe on runner and reads back its metrics.
func Execute(ctx context.Context, pipe *beam.Pipeline, runner string) (Metrics, time.Duration, error) {
	start := time.Now()
	pr, err := beam.Run(ctx, runner, pipe)
	if err != nil {
		return Metrics{}, 0, fmt.Errorf("pipeline on runner %s: %w", runner, err)
	}
	m := Metrics{Counters: map[string]int64{}, Distributions: map[string]Distribution{}}
	if pr != nil {
		res := pr.Metrics().AllMetrics()
		for _, c := range res.Counters() {
			m.Counters[c.Key.Name] += c.Committed
		}
		for _, d := range res.Distributions() {
			v, old := d.Committed, m.Distributions[d.Key.Name]
			if old.Count > 0 {
				v.Min, v.Max = min(v.Min, old.Min), max(v.Max, old.Max)
			}
			m.Distributions[d.Key.Name] = Distribution{Count: old.Count + v.Count, Sum: old.Sum + v.Sum, Min: v.Min, Max: v.Max}
		}
	}
	elapsed := time.Since(start)
	slog.Info("job finished", "runner", runner, "elapsed", elapsed)
	return m, elapsed, nil
}

// EnsureStats writes zero statistics to dir/stats.json when the job wrote
// none (an empty input), and returns the statistics.
func EnsureStats(dir string) (batch.Stats, error) {
	if _, err := os.Stat(filepath.Join(dir, transforms.StatsFile)); errors.Is(err, os.ErrNotExist) {
		if err := transforms.WriteStatsFile(dir, batch.Stats{}); err != nil {
			return batch.Stats{}, err
		}
	}
	return transforms.ReadStatsFile(dir)
}

// Shards counts the rows of the prefix-* shards in dir (with count), or,
// when there are none, writes an empty one with write and returns 0.
func Shards(dir, prefix, ext string, count func(path string) (int64, error), write func() error) (int64, error) {
	shards, err := filepath.Glob(filepath.Join(dir, prefix+"-*"+ext))
	if err != nil {
		return 0, err
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

// CountRows returns the number of rows of a Parquet file from its footer.
func CountRows(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size())
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
