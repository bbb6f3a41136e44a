// Package infer is the batch inference job: request rows in (Parquet, or
// OpenAI Batch API JSONL files), completions out — results-*, errors-* and
// stats.json in an output folder — through the embedded engine or an
// OpenAI-compatible server, accounting for every input row exactly once.
package infer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/batch"
	einfer "github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/io/openaibatch"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/internal/job"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/transforms"
)

// Config is a batch inference job.
type Config struct {
	// Inputs are request files or globs: Parquet, or OpenAI batch .jsonl.
	Inputs []string
	// Output is the output folder.
	Output string
	// Format is "parquet" or "jsonl"; empty: from the inputs' extension
	// (.jsonl files are OpenAI batch files, anything else Parquet).
	Format string
	// Backend is the model or server that answers. Its MaxInFlight (the
	// sequences the engine decodes together, or the HTTP requests in
	// flight) defaults to BatchSize, or to MaxBatch when Adaptive.
	Backend transforms.BackendConfig
	// Defaults fill in what a row does not give, and Defaults.Seed is the job
	// seed rows without a seed derive theirs from.
	Defaults einfer.Defaults
	// BatchSize is the rows per batch (0: 8; 1..100) unless Adaptive.
	BatchSize int
	// Adaptive sizes batches from measured latencies (batch.Sizer).
	Adaptive bool
	// TargetLatency bounds adaptive batches' predicted latency (0: 30 s).
	TargetLatency time.Duration
	// MaxBatch bounds adaptive batches (0: 100).
	MaxBatch int
	// InFlight is how many batches run at once per worker (0: 3).
	InFlight int
	// Columns names the request columns of Parquet inputs.
	Columns parquetio.RequestColumns
	// ShardRows is the most rows per output shard (0: 100,000).
	ShardRows int64
	// Overwrite allows replacing a previous run in Output.
	Overwrite bool
	// Resume finishes an interrupted run in Output (see job.PrepareOutput):
	// its committed shards are kept and only the requests they do not hold
	// are run. On a completed run it does nothing. It excludes Overwrite.
	Resume bool
	// Runner is the Beam runner: "prism" (default, embedded), "direct",
	// "universal" (a Flink, Spark or prism job server) or "dataflow".
	Runner string
	// RunnerOptions configure the universal and Dataflow runners.
	RunnerOptions runners.Options
	// SLAP95, when positive, is a p95 latency target; stats.json then
	// carries the verdict.
	SLAP95 time.Duration
	// OnStart, if set, is called with the number of input rows once the
	// job-level checks have passed and the pipeline starts (for a progress
	// display; transforms.Progress counts the rows done).
	OnStart func(rows int64)
}

// Report is what a finished job tells its user.
type Report struct {
	Stats   batch.Stats
	Inputs  []string
	Format  string
	Model   string
	Rows    int64 // rows in the inputs
	Results int64 // rows written to results-*
	Errors  int64 // rows written to errors-*
	Output  string
	Runner  string
	Metrics job.Metrics
	Elapsed time.Duration
	// Skipped are the rows an interrupted run had written, which a resumed
	// run (Config.Resume) kept and did not run; Stats cover only the rows
	// run.
	Skipped int64
	// AlreadyComplete is set when Resume found a completed run: nothing
	// ran, and the report is its manifest's (Finished its time).
	AlreadyComplete bool
	Finished        time.Time
}

// Summary is a short human-readable account of the job.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "input:   %d %s file(s), %d requests\n", len(r.Inputs), r.Format, r.Rows)
	if r.AlreadyComplete {
		fmt.Fprintf(&b, "output:  %s (%d results, %d errors) is already complete (%s written %s); nothing to do\n",
			r.Output, r.Results, r.Errors, job.SuccessFile, r.Finished.Format(time.RFC3339))
		return b.String()
	}
	fmt.Fprintf(&b, "model:   %s\n", r.Model)
	fmt.Fprintf(&b, "output:  %s (%d results, %d errors) on runner %s in %s\n", r.Output, r.Results, r.Errors, r.Runner, r.Elapsed.Round(time.Millisecond))
	if r.Skipped > 0 {
		fmt.Fprintf(&b, "resumed: %d rows were done by the interrupted run and kept; the statistics cover the other %d\n", r.Skipped, r.Rows-r.Skipped)
	}
	b.WriteString(strings.TrimRight(r.Stats.Summary(), "\n"))
	b.WriteString("\n")
	c := r.Metrics.Counters
	fmt.Fprintf(&b, "metrics: requests %d, succeeded %d, failed %d, retried %d, prompt tokens %d, completion tokens %d\n",
		c["requests"], c["requests_succeeded"], c["requests_failed"], c["requests_retried"], c["prompt_tokens"], c["completion_tokens"])
	if n := c["gcs_retries"]; n > 0 {
		fmt.Fprintf(&b, "storage: %d Cloud Storage requests retried\n", n)
	}
	if d, ok := r.Metrics.Distributions["infer_batch_size"]; ok && d.Count > 0 {
		l := r.Metrics.Distributions["infer_batch_latency_ms"]
		fmt.Fprintf(&b, "batches: %d, size %d..%d (mean %.1f), latency %d..%d ms (mean %.0f)\n", d.Count, d.Min, d.Max, d.Mean(), l.Min, l.Max, l.Mean())
	}
	return b.String()
}

// validate checks the configuration itself, before touching any file.
func (c *Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if len(c.Inputs) == 0 {
		bad("no input: give --input FILE|GLOB")
	}
	if c.Output == "" {
		bad("no output folder: give --output DIR")
	}
	if c.Overwrite && c.Resume {
		bad("--resume and --overwrite exclude each other: --resume finishes an interrupted run, --overwrite replaces it")
	}
	switch c.Format {
	case "", transforms.FormatParquet, transforms.FormatJSONL:
	default:
		bad("unknown format %q: use %s or %s", c.Format, transforms.FormatParquet, transforms.FormatJSONL)
	}
	if c.BatchSize == 0 {
		c.BatchSize = batch.InferenceLimits.Optimal
	}
	if err := batch.InferenceLimits.Validate("inference", c.BatchSize); err != nil {
		errs = append(errs, err)
	}
	if c.MaxBatch != 0 {
		if err := batch.InferenceLimits.Validate("adaptive inference", c.MaxBatch); err != nil {
			errs = append(errs, err)
		}
	}
	if c.TargetLatency < 0 || c.InFlight < 0 || c.ShardRows < 0 || c.SLAP95 < 0 {
		bad("target latency, batches in flight, shard rows and the SLA must not be negative")
	}
	d := c.Defaults
	switch {
	case d.MaxTokens < 0:
		bad("default max_tokens %d is negative", d.MaxTokens)
	case !(d.Temperature >= 0 && d.Temperature <= 2):
		bad("default temperature %v is out of range 0.0–2.0", d.Temperature)
	case d.TopP != 0 && !(d.TopP > 0 && d.TopP <= 1):
		bad("default top_p %v is out of range (0, 1]", d.TopP)
	case d.TopK < 0:
		bad("default top_k %d is negative", d.TopK)
	case d.Seed > math.MaxInt64:
		bad("seed %d is above 2^63-1", d.Seed)
	}
	for _, s := range d.Stop {
		if s == "" {
			bad("a default stop string is empty")
		}
	}
	b := c.Backend
	switch b.Kind {
	case "", transforms.BackendLocal:
		if b.Model == "" {
			bad("no model: give --model PATH (a GGUF file or a llama2.c checkpoint)")
		}
	case transforms.BackendOpenAI:
		if b.Endpoint == "" {
			bad("backend openai needs --endpoint URL")
		}
	default:
		bad("unknown backend %q: use %s or %s", b.Kind, transforms.BackendLocal, transforms.BackendOpenAI)
	}
	if b.MaxInFlight != 0 {
		if err := batch.InferenceLimits.Validate("max in flight", b.MaxInFlight); err != nil {
			errs = append(errs, err)
		}
	} else {
		// The backend runs a whole batch together: BatchSize sequences, or
		// as many as an adaptive batch may hold (the KV budget still
		// bounds the engine).
		c.Backend.MaxInFlight = c.BatchSize
		if c.Adaptive {
			c.Backend.MaxInFlight = cmp.Or(c.MaxBatch, batch.InferenceLimits.Max)
		}
	}
	if err := job.CheckRunner(&c.Runner, &c.RunnerOptions); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// fields maps request fields to the configured column names.
func (c *Config) fields() map[string]string {
	if c.Format == transforms.FormatJSONL {
		return nil
	}
	col := c.Columns
	m := map[string]string{"prompt": col.Prompt, "max_tokens": col.MaxTokens, "temperature": col.Temperature, "top_p": col.TopP,
		"top_k": col.TopK, "seed": col.Seed, "stop": col.Stop, "priority": col.Priority}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// formatOf says which format files are in: all .jsonl, or none.
func formatOf(files []string) (string, error) {
	jsonl := 0
	for _, f := range files {
		if strings.EqualFold(filepath.Ext(f), ".jsonl") {
			jsonl++
		}
	}
	switch jsonl {
	case 0:
		return transforms.FormatParquet, nil
	case len(files):
		return transforms.FormatJSONL, nil
	}
	return "", fmt.Errorf("the inputs mix .jsonl (OpenAI batch) files and Parquet files; run them as separate jobs")
}

// Run runs a batch inference job and returns its report. Job-level problems
// (configuration, the model or endpoint, the input files, the output
// folder) are returned before any work starts and before the output folder
// is touched; row-level problems become rows of errors-*.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	files, err := parquetio.Expand(cfg.Inputs)
	if err != nil {
		return nil, err
	}
	format, err := formatOf(files)
	if err != nil {
		return nil, err
	}
	if cfg.Format == "" {
		cfg.Format = format
	}
	var rows int64
	for _, f := range files {
		var n int64
		if cfg.Format == transforms.FormatJSONL {
			n, err = openaibatch.Inspect(f)
		} else {
			var info parquetio.FileInfo
			info, err = parquetio.InspectRequests(f, cfg.Columns)
			n = info.NumRows
		}
		if err != nil {
			return nil, err
		}
		rows += n
	}
	if cfg.Resume {
		// A completed run needs no backend: say so before loading one.
		if m, err := job.ReadManifest(cfg.Output); err == nil {
			return completeReport(cfg, m), nil
		}
	}
	// The backend is opened (the model loaded, the endpoint checked) once,
	// here; in-process runners share it with every DoFn instance.
	backend, release, err := transforms.AcquireBackend(ctx, cfg.Backend)
	if err != nil {
		return nil, err
	}
	defer release()
	prev, err := job.PrepareOutput(cfg.Output, cfg.Overwrite, cfg.Resume)
	if err != nil {
		return nil, err
	}
	if prev.Complete {
		return completeReport(cfg, prev.Manifest), nil
	}
	readIDs := func(ctx context.Context, file string, fn func(int64, string, bool) error) error {
		return parquetio.ReadIDs(ctx, file, cfg.Columns.ID, fn)
	}
	if cfg.Format == transforms.FormatJSONL {
		readIDs = openaibatch.ReadIDs
	}
	dups, err := transforms.FindDuplicatesWith(ctx, files, readIDs)
	if err != nil {
		return nil, err
	}
	var done string
	var skipped int64
	if prev.Resume {
		if done, skipped, err = job.WriteDoneFile(cfg.Output, cfg.Format == transforms.FormatJSONL); err != nil {
			return nil, err
		}
		slog.Info("resuming an interrupted run", "output", cfg.Output, "rows done", skipped, "rows left", rows-skipped)
	}

	pipe, s := beam.NewPipelineWithRoot()
	reqs := transforms.ReadRequests(s, beam.CreateList(s, files), &transforms.ReadRequestsFn{Format: cfg.Format, Columns: cfg.Columns, Duplicates: dups})
	if done != "" {
		reqs = transforms.SkipDone(s, reqs, done)
	}
	answers, failures, obs := transforms.Infer(s, reqs, &transforms.InferFn{
		Backend: cfg.Backend, Defaults: cfg.Defaults, BatchSize: cfg.BatchSize, Adaptive: cfg.Adaptive,
		TargetLatencyMS: cfg.TargetLatency.Milliseconds(), MaxBatch: cfg.MaxBatch, InFlight: cfg.InFlight, Fields: cfg.fields(),
	})
	transforms.WriteShards(s, &transforms.WriteAnswersFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Format: cfg.Format, Resume: done}, answers)
	transforms.WriteShards(s, &transforms.WriteInferFailuresFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Format: cfg.Format, Resume: done}, failures)
	transforms.WriteStats(s, cfg.Output, transforms.CombineStats(s, obs))

	slog.Info("starting job", "runner", cfg.Runner, "files", len(files), "rows", rows, "model", backend.Model(), "output", cfg.Output)
	if cfg.OnStart != nil {
		cfg.OnStart(rows - skipped)
	}
	m, elapsed, err := job.Execute(ctx, pipe, cfg.Runner, cfg.RunnerOptions)
	if err != nil {
		return nil, err
	}
	rep := &Report{Inputs: files, Format: cfg.Format, Model: backend.Model(), Rows: rows, Output: cfg.Output, Runner: cfg.Runner, Metrics: m, Elapsed: elapsed, Skipped: skipped}
	resShards, errShards, err := finish(cfg.Output, cfg.Format)
	if err != nil {
		return nil, err
	}
	rep.Results, rep.Errors = job.TotalRows(resShards), job.TotalRows(errShards)
	if rep.Stats, err = job.EnsureStats(cfg.Output); err != nil {
		return nil, err
	}
	if cfg.SLAP95 > 0 {
		rep.Stats.SLA = rep.Stats.CheckSLA(cfg.SLAP95)
		if err := transforms.WriteStatsFile(cfg.Output, rep.Stats); err != nil {
			return nil, err
		}
	}
	if err := job.CheckAccounting(rows, rep.Results, rep.Errors); err != nil {
		return rep, err
	}
	err = job.Complete(cfg.Output, &job.Manifest{Job: "infer", Inputs: files, Format: cfg.Format, InputRows: rows, Results: rep.Results, Errors: rep.Errors,
		ResultShards: resShards, ErrorShards: errShards, Resumed: prev.Resume, SkippedRows: skipped, Stats: rep.Stats}, done)
	return rep, err
}

// completeReport is the report of a completed run that Resume found.
func completeReport(cfg Config, m *job.Manifest) *Report {
	return &Report{Stats: m.Stats, Inputs: m.Inputs, Format: m.Format, Rows: m.InputRows, Results: m.Results, Errors: m.Errors,
		Output: cfg.Output, Runner: cfg.Runner, AlreadyComplete: true, Finished: m.Finished, Skipped: m.SkippedRows}
}

// finish writes an empty results or errors shard where no row went, and
// lists the shards with their rows.
func finish(dir, format string) (results, errs []job.ShardInfo, err error) {
	if format == transforms.FormatJSONL {
		shards := func(prefix string) ([]job.ShardInfo, error) {
			return job.Shards(dir, prefix, ".jsonl", openaibatch.CountLines, func() error {
				_, err := openaibatch.WriteEmpty(dir, prefix, "empty")
				return err
			})
		}
		if results, err = shards("results"); err != nil {
			return nil, nil, err
		}
		errs, err = shards("errors")
		return results, errs, err
	}
	if results, err = job.ParquetShards[parquetio.InferResult](dir, "results"); err != nil {
		return nil, nil, err
	}
	errs, err = job.ParquetShards[parquetio.InferError](dir, "errors")
	return results, errs, err
}
