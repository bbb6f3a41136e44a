package tokenize

import (
	"context"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/transforms"
)

// DetokenizeConfig is a detokenization job: token ids in, text out.
type DetokenizeConfig struct {
	// Inputs are Parquet files or globs with an id column and a list of
	// integer token ids (such as a tokenization job's results-*.parquet).
	Inputs []string
	// Output is the output folder.
	Output string
	// Encoding is the tokenizer encoding, e.g. "cl100k_base".
	Encoding string
	// BatchSize is the number of rows per batch (0: the optimal 32).
	BatchSize int
	// Threads is the number of decoding goroutines per batch (0: all cores).
	Threads int
	// Columns names the id and tokens columns (default "id" and "tokens").
	Columns parquetio.TokenColumns
	// ShardRows is the maximum number of rows per output shard (0: 100,000).
	ShardRows int64
	// Overwrite allows replacing the outputs of a previous run in Output.
	Overwrite bool
	// Resume finishes an interrupted run in Output, as Config.Resume.
	Resume bool
	// Runner is the Beam runner: "prism" (default, embedded), "direct",
	// "universal" (a Flink, Spark or prism job server) or "dataflow".
	Runner string
	// RunnerOptions configure the universal and Dataflow runners.
	RunnerOptions runners.Options
}

func (c *DetokenizeConfig) validate() error {
	return validateJob(c.Inputs, c.Output, &c.BatchSize, c.Threads, &c.Runner, &c.RunnerOptions, c.Encoding, tokenizer.Options{}, c.Overwrite, c.Resume)
}

// Detokenize runs a detokenization job and returns its report, with the same
// guarantees as Run.
func Detokenize(ctx context.Context, cfg DetokenizeConfig) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	p, err := prepare(ctx, "detokenize", cfg.Inputs, idColumn(cfg.Columns.ID), cfg.Output, cfg.Overwrite, cfg.Resume, func(f string) (parquetio.FileInfo, error) {
		return parquetio.InspectTokens(f, cfg.Columns)
	})
	if err != nil {
		return nil, err
	}
	if p.prev.Complete {
		return completeReport(cfg.Output, p.prev.Manifest), nil
	}
	pipe, s := beam.NewPipelineWithRoot()
	files := beam.CreateList(s, p.files)
	rows := skipDone(s, transforms.ReadTokens(s, files, cfg.Columns, p.dups), p)
	res, fails, obs := transforms.Detokenize(s, rows, &transforms.DetokenizeFn{
		Tokenizer: transforms.TokenizerConfig{Encoding: cfg.Encoding},
		BatchSize: cfg.BatchSize, Threads: cfg.Threads,
	})
	transforms.WriteShards(s, &transforms.WriteTextResultsFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Resume: p.done}, res)
	transforms.WriteShards(s, &transforms.WriteDetokenizeErrorsFn{Dir: cfg.Output, ShardRows: cfg.ShardRows, Resume: p.done}, fails)
	transforms.WriteStats(s, cfg.Output, transforms.CombineStats(s, obs))
	return execute(ctx, pipe, cfg.Runner, cfg.RunnerOptions, cfg.Output, p, finish[parquetio.TextResult, parquetio.DetokenizeError])
}
