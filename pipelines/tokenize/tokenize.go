// Package tokenize holds the bulk tokenization jobs: Tokenize reads Parquet
// text rows and writes their token ids; Detokenize reads token ids and writes
// their text. Both write results-*.parquet, errors-*.parquet and stats.json
// to an output folder, and account for every input row exactly once.
package tokenize

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/internal/job"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/transforms"
)

// Runners are the Beam runners a job can run on.
var Runners = runners.Names

// Config is a tokenization job.
type Config struct {
	// Inputs are Parquet files or globs.
	Inputs []string
	// Output is the output folder.
	Output string
	// Encoding is the tokenizer encoding, e.g. "cl100k_base".
	Encoding string
	// AllowedSpecial lists special tokens to encode as such ("all" for every one).
	AllowedSpecial []string
	// DisallowedAsText encodes disallowed special tokens as ordinary text
	// instead of failing the row.
	DisallowedAsText bool
	// BatchSize is the number of rows per tokenizer batch (0: the optimal 32).
	BatchSize int
	// Threads is the number of encoding goroutines per batch (0: all cores).
	Threads int
	// Columns names the id and text columns (default "id" and "text").
	Columns parquetio.Columns
	// ShardRows is the maximum number of rows per output shard (0: 100,000).
	ShardRows int64
	// Overwrite allows replacing the outputs of a previous run in Output.
	Overwrite bool
	// Resume finishes an interrupted run in Output (see job.PrepareOutput):
	// its committed shards are kept and only the rows they do not hold are
	// processed. On a completed run it does nothing. It excludes Overwrite.
	Resume bool
	// Runner is the Beam runner: "prism" (default, embedded), "direct",
	// "universal" (a Flink, Spark or prism job server) or "dataflow".
	Runner string
	// RunnerOptions configure the universal and Dataflow runners.
	RunnerOptions runners.Options
}

// Report is what a finished job tells its user.
type Report struct {
	Stats   batch.Stats
	Inputs  []string
	Rows    int64 // rows in the input files
	Results int64 // rows written to results-*.parquet
	Errors  int64 // rows written to errors-*.parquet
	Output  string
	Runner  string
	// Counters are the job's Beam counters (committed values).
	Counters map[string]int64
	Elapsed  time.Duration
	// Skipped are the rows an interrupted run had written, which a resumed
	// run (Config.Resume) kept and did not process; Stats cover only the
	// rows processed.
	Skipped int64
	// AlreadyComplete is set when Resume found a completed run: nothing
	// ran, and the report is its manifest's (Finished its time).
	AlreadyComplete bool
	Finished        time.Time
}

// Summary is a short human-readable account of the job.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "input:   %d file(s), %d rows\n", len(r.Inputs), r.Rows)
	if r.AlreadyComplete {
		fmt.Fprintf(&b, "output:  %s (%d results, %d errors) is already complete (%s written %s); nothing to do\n",
			r.Output, r.Results, r.Errors, job.SuccessFile, r.Finished.Format(time.RFC3339))
		return b.String()
	}
	fmt.Fprintf(&b, "output:  %s (%d results, %d errors) on runner %s in %s\n", r.Output, r.Results, r.Errors, r.Runner, r.Elapsed.Round(time.Millisecond))
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "resumed: %d rows were done by the interrupted run and kept; the statistics cover the other %d\n", r.Skipped, r.Rows-r.Skipped)
	}
	b.WriteString(strings.TrimRight(r.Stats.Summary(), "\n"))
	if n := r.Counters["gcs_retries"]; n > 0 {
		fmt.Fprintf(&b, "\nstorage: %d Cloud Storage requests retried", n)
	}
	b.WriteString("\n")
	return b.String()
}

// validate checks the configuration itself, before touching any file.
func (c *Config) validate() error {
	return validateJob(c.Inputs, c.Output, &c.BatchSize, c.Threads, &c.Runner, &c.RunnerOptions, c.Encoding,
		tokenizer.Options{AllowedSpecial: c.AllowedSpecial, DisallowedAsText: c.DisallowedAsText}, c.Overwrite, c.Resume)
}

// validateJob checks the settings both jobs share, filling in the default
// batch size and runner.
func validateJob(inputs []string, output string, batchSize *int, threads int, runnerName *string, runnerOpts *runners.Options, encoding string, opts tokenizer.Options, overwrite, resume bool) error {
	var errs []error
	if overwrite && resume {
		errs = append(errs, errors.New("--resume and --overwrite exclude each other: --resume finishes an interrupted run, --overwrite replaces it"))
	}
	if len(inputs) == 0 {
		errs = append(errs, errors.New("no input: give --input FILE|GLOB"))
	}
	if output == "" {
		errs = append(errs, errors.New("no output folder: give --output DIR"))
	}
	if *batchSize == 0 {
		*batchSize = batch.TokenizerLimits.Optimal
	}
	if err := batch.TokenizerLimits.Validate("tokenizer", *batchSize); err != nil {
		errs = append(errs, err)
	}
	if threads < 0 {
		errs = append(errs, fmt.Errorf("threads %d is negative; use 0 for all cores", threads))
	}
	if err := job.CheckRunner(runnerName, runnerOpts); err != nil {
		errs = append(errs, err)
	}
	if _, err := tokenizer.New(encoding, opts); err != nil {
		errs = append(errs, fmt.Errorf("encoding: %w", err))
	}
	return errors.Join(errs...)
}

// plan is what the job-level checks found.
type plan struct {
	job   string // "tokenize" or "detokenize"
	files []string
	rows  int64
	dups  []transforms.Duplicate
	prev  *job.Previous
	// done is the done file of a resumed run ("" otherwise) and skipped
	// the rows it lists.
	done    string
	skipped int64
}

// prepare runs every job-level check before any work: the configuration,
// the input files (exist, are Parquet, have the columns with usable types),
// the output folder (no previous run unless Overwrite or Resume) and the
// duplicate-id pre-pass. When resuming an interrupted run it writes the
// done file of the rows its shards hold.
func prepare(ctx context.Context, jobName string, inputs []string, idColumn string, output string, overwrite, resume bool, inspect func(string) (parquetio.FileInfo, error)) (*plan, error) {
	files, err := parquetio.Expand(inputs)
	if err != nil {
		return nil, err
	}
	p := &plan{job: jobName, files: files}
	for _, f := range files {
		info, err := inspect(f)
		if err != nil {
			return nil, err
		}
		p.rows += info.NumRows
	}
	if p.prev, err = job.PrepareOutput(output, overwrite, resume); err != nil {
		return nil, err
	}
	if p.prev.Complete {
		return p, nil
	}
	if p.dups, err = transforms.FindDuplicates(ctx, files, idColumn); err != nil {
		return nil, err
	}
	if p.prev.Resume {
		if p.done, p.skipped, err = job.WriteDoneFile(output, false); err != nil {
			return nil, err
		}
		slog.Info("resuming an interrupted run", "output", output, "rows done", p.skipped, "rows left", p.rows-p.skipped)
	}
	return p, nil
}

// completeReport is the report of a completed run that Resume found.
func completeReport(output string, m *job.Manifest) *Report {
	return &Report{Stats: m.Stats, Inputs: m.Inputs, Rows: m.InputRows, Results: m.Results, Errors: m.Errors, Output: output,
		AlreadyComplete: true, Finished: m.Finished, Skipped: m.SkippedRows}
}

// skipDone drops the rows a resumed run's interrupted run already wrote.
func skipDone(s beam.Scope, rows beam.PCollection, p *plan) beam.PCollection {
	if p.done == "" {
		return rows
	}
	return transforms.SkipDone(s, rows, p.done)
}

// Run runs a tokenization job and returns its report. A job-level problem
// (configuration, input files, output folder) is returned before any work
// starts; row-level problems become rows of errors-*.parquet. The output
// folder gets _SUCCESS last, when the job completes.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := prepare(ctx, "tokenize", cfg.Inputs, idColumn(cfg.Columns.ID), cfg.Output, cfg.Overwrite, cfg.Resume, func(f string) (parquetio.FileInfo, error) {
		return parquetio.Inspect(f, cfg.Columns)
	})
	if err != nil {
		return nil, err
	}
	if p.prev.Complete {
		return completeReport(cfg.Output, p.prev.Manifest), nil
	}
	pipe, s := beam.NewPipelineWithRoot()
	files := beam.CreateList(s, p.files)
	rows := skipDone(s, transforms.ReadText(s, files, cfg.Columns, p.dups), p)
	res, fails, obs := transforms.Tokenize(s, rows, &transforms.TokenizeFn{
		Tokenizer: transforms.TokenizerConfig{Encoding: cfg.Encoding, AllowedSpecial: cfg.AllowedSpecial, DisallowedAsText: cfg.DisallowedAsText},
		BatchSize: cfg.BatchSize, Threads: cfg.Threads,
	})
	transforms.WriteShards(s, &transforms.WriteTokenResultsFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Resume: p.done}, res)
	transforms.WriteShards(s, &transforms.WriteTokenizeErrorsFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Resume: p.done}, fails)
	transforms.WriteStats(s, cfg.Output, transforms.CombineStats(s, obs))
	return execute(ctx, pipe, cfg.Runner, cfg.RunnerOptions, cfg.Output, p, finish[parquetio.TokenResult, parquetio.TokenizeError])
}

func idColumn(name string) string {
	if name == "" {
		return "id"
	}
	return name
}

// execute runs the pipeline and completes the output folder: the empty
// shards, stats.json, the row accounting and, last, _SUCCESS.
func execute(ctx context.Context, pipe *beam.Pipeline, runnerName string, opts runners.Options, output string, p *plan, finishFn func(string) ([]job.ShardInfo, []job.ShardInfo, error)) (*Report, error) {
	slog.Info("starting job", "runner", runnerName, "files", len(p.files), "rows", p.rows, "output", output)
	m, elapsed, err := job.Execute(ctx, pipe, runnerName, opts)
	if err != nil {
		return nil, err
	}
	rep := &Report{Inputs: p.files, Rows: p.rows, Output: output, Runner: runnerName, Elapsed: elapsed, Counters: m.Counters, Skipped: p.skipped}
	resShards, errShards, err := finishFn(output)
	if err != nil {
		return nil, err
	}
	rep.Results, rep.Errors = job.TotalRows(resShards), job.TotalRows(errShards)
	if rep.Stats, err = job.EnsureStats(output); err != nil {
		return nil, err
	}
	if err := job.CheckAccounting(p.rows, rep.Results, rep.Errors); err != nil {
		return rep, err
	}
	err = job.Complete(output, &job.Manifest{Job: p.job, Inputs: p.files, InputRows: p.rows, Results: rep.Results, Errors: rep.Errors,
		ResultShards: resShards, ErrorShards: errShards, Resumed: p.prev.Resume, SkippedRows: p.skipped, Stats: rep.Stats}, p.done)
	return rep, err
}

// finish makes sure the output folder has a results and an errors file (an
// empty one when no row went that way) and lists the shards with their rows.
func finish[R, E any](dir string) (results, errs []job.ShardInfo, err error) {
	if results, err = job.ParquetShards[R](dir, "results"); err != nil {
		return nil, nil, err
	}
	if errs, err = job.ParquetShards[E](dir, "errors"); err != nil {
		return nil, nil, err
	}
	return results, errs, nil
}
