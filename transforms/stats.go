package transforms

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/blob"
)

// StatsFn is a CombineFn folding per-row observations into batch.Stats. Its
// accumulator (batch.Accumulator: counts, sums, earliest start, latest end
// and a mergeable latency sketch) merges exactly, so the runner may lift the
// combine and merge partial accumulators in any order.
type StatsFn struct{}

// CreateAccumulator returns an empty accumulator.
func (StatsFn) CreateAccumulator() batch.Accumulator { return batch.Accumulator{} }

// AddInput adds one observation.
func (StatsFn) AddInput(a batch.Accumulator, o batch.Observation) batch.Accumulator {
	a.Add(o)
	return a
}

// MergeAccumulators merges two partial accumulators.
func (StatsFn) MergeAccumulators(a, b batch.Accumulator) batch.Accumulator {
	a.Merge(b)
	return a
}

// ExtractOutput returns the statistics.
func (StatsFn) ExtractOutput(a batch.Accumulator) batch.Stats { return a.Stats() }

// CombineStats folds a PCollection of batch.Observation into a single
// batch.Stats. (An empty input gives an empty output.)
func CombineStats(s beam.Scope, observations beam.PCollection) beam.PCollection {
	return beam.Combine(s.Scope("CombineStats"), StatsFn{}, observations)
}

// StatsFile is the name of the statistics report in an output folder.
const StatsFile = "stats.json"

// WriteStatsFn writes the Stats it receives to Dir/stats.json (which appears
// whole: see blob.Create).
type WriteStatsFn struct {
	Dir string
}

// ProcessElement writes the report.
func (f *WriteStatsFn) ProcessElement(st batch.Stats) error {
	return WriteStatsFile(f.Dir, st)
}

// WriteStatsFile writes st as dir/stats.json (a local or gs:// folder),
// atomically.
func WriteStatsFile(dir string, st batch.Stats) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if err := blob.WriteFile(context.Background(), blob.Join(dir, StatsFile), append(data, '\n')); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	return nil
}

// ReadStatsFile reads dir/stats.json.
func ReadStatsFile(dir string) (batch.Stats, error) {
	var st batch.Stats
	p := blob.Join(dir, StatsFile)
	data, err := blob.ReadFile(context.Background(), p)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("stats: %s: %w", p, err)
	}
	return st, nil
}

// WriteStats writes the single Stats element of col to dir/stats.json.
func WriteStats(s beam.Scope, dir string, col beam.PCollection) {
	beam.ParDo0(s.Scope("WriteStats"), &WriteStatsFn{Dir: dir}, col)
}
