// Command run is Minerva Batch's command line: it runs the bulk tokenization
// jobs and the batch inference job on Apache Beam, and generates text with
// the inference engine.
//
//	run tokenize   --input FILE|GLOB --output DIR --encoding NAME [flags]
//	run detokenize --input FILE|GLOB --output DIR --encoding NAME [flags]
//	run infer      --input FILE|GLOB --output DIR --model PATH [flags]
//	run generate   --model PATH --prompt TEXT [flags]
//	run encodings
//
// Run "run COMMAND --help" for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/configs"
	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/pipelines/tokenize"
)

func main() {
	if workerMode(os.Args[1:]) {
		// Beam starts this binary as its SDK worker (on Dataflow, or in a
		// DOCKER or PROCESS environment) with its own flags (--worker=true
		// --id=… --control_endpoint=…): parse them so that beam.Init runs
		// the worker harness, which exits the process when done.
		flag.Parse()
	}
	beam.Init()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: run COMMAND [flags]

Commands:
  tokenize     tokenize the text rows of Parquet files into token ids
  detokenize   decode token ids of Parquet files back into text
  infer        run batch inference over Parquet (or OpenAI batch JSONL) request rows
  generate     complete a prompt with a llama-architecture model (GGUF or llama2.c)
  encodings    list the tokenizer encodings

Run "run COMMAND --help" for a command's flags.
`

// workerMode reports whether the arguments are a Beam worker's rather than a
// command's.
func workerMode(args []string) bool {
	if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
		return false
	}
	for _, a := range args {
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if name == "worker" {
			return true
		}
	}
	return false
}

// run is the whole command line; it returns the process exit code
// (0 success, 1 job failed, 2 usage error).
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "tokenize":
		err = runTokenize(ctx, args[1:], stdout, stderr)
	case "detokenize":
		err = runDetokenize(ctx, args[1:], stdout, stderr)
	case "infer":
		err = runInfer(ctx, args[1:], stdout, stderr)
	case "generate":
		err = runGenerate(ctx, args[1:], stdout, stderr)
	case "encodings":
		fmt.Fprintln(stdout, strings.Join(tokenizer.Encodings(), "\n"))
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "run: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "run %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "run %s: %v\n", args[0], err)
		return 1
	}
}

type usageError struct{ error }

const resumeUsage = "finish an interrupted run in the output folder (no _SUCCESS): keep its committed shards and process only the rows they do not hold; on a completed run, do nothing"

// checkResume refuses --resume with --overwrite (from flags or the config).
func checkResume(overwrite, resume bool) error {
	if overwrite && resume {
		return usageError{fmt.Errorf("--resume and --overwrite exclude each other: --resume finishes an interrupted run, --overwrite replaces it")}
	}
	return nil
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// common holds the flags both jobs share.
type common struct {
	config    string
	inputs    listFlag
	output    string
	encoding  string
	batchSize int
	threads   int
	runner    string
	overwrite bool
	resume    bool
	shardRows int64
	idColumn  string
	verbose   bool
	jsonOut   bool
	cpuProf   string
	runners   runnerFlags
}

func (c *common) register(fs *flag.FlagSet, configExample string) {
	fs.StringVar(&c.config, "config", "", "YAML job config (see "+configExample+"); flags given here override it")
	fs.Var(&c.inputs, "input", "Parquet `FILE|GLOB` to read; repeat the flag or separate with commas")
	fs.StringVar(&c.output, "output", "", "output `DIR` for results-*.parquet, errors-*.parquet, stats.json and, when the job completes, _SUCCESS")
	fs.StringVar(&c.encoding, "encoding", "cl100k_base", "tokenizer `NAME`: "+strings.Join(tokenizer.Encodings(), ", ")+" (or gpt2)")
	fs.IntVar(&c.batchSize, "batch-size", 32, "rows per tokenizer batch, 1..1000")
	fs.IntVar(&c.threads, "threads", 0, "goroutines per batch (0: all cores)")
	fs.StringVar(&c.runner, "runner", "prism", runnerUsage)
	c.runners.register(fs)
	fs.BoolVar(&c.overwrite, "overwrite", false, "replace the outputs of a previous run in the output folder")
	fs.BoolVar(&c.resume, "resume", false, resumeUsage)
	fs.Int64Var(&c.shardRows, "shard-rows", 100_000, "rows per output shard")
	fs.StringVar(&c.idColumn, "id-column", "id", "name of the id column (string or integer)")
	fs.BoolVar(&c.verbose, "verbose", false, "log the runner's progress")
	fs.BoolVar(&c.jsonOut, "json", false, "print the statistics as JSON instead of a summary")
	fs.StringVar(&c.cpuProf, "cpuprofile", "", "write a CPU profile of the job to `FILE` (for go tool pprof)")
}

// setFlags returns the names of the flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected arguments %q", fs.Args())}
	}
	return nil
}

func setupLogging(verbose bool, stderr io.Writer) {
	level := slog.LevelWarn
	if verbose {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})))
}

func newFlagSet(name, summary string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: run %s --input FILE|GLOB --output DIR [flags]\n\n%s\n\nFlags:\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// startProfile starts CPU profiling when asked; the returned func stops it.
func startProfile(path string) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func runTokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokenize", "Tokenizes the text column of Parquet rows into token ids identical to OpenAI's tiktoken.\nWrites results-*.parquet (id, tokens, count, duration_us), errors-*.parquet (id, error,\nstage, file, row, text) and stats.json to the output folder, and prints a summary.", stderr)
	var c common
	c.register(fs, "configs/tokenize.yaml")
	textColumn := fs.String("text-column", "text", "name of the text column")
	var allowed listFlag
	fs.Var(&allowed, "allowed-special", "special `TOKENS` to encode as special ids (comma-separated, or \"all\"); by default text containing one is an error row")
	asText := fs.Bool("disallowed-special-as-text", false, "encode special tokens that are not allowed as ordinary text instead of failing the row")
	if err := parse(fs, args); err != nil {
		return err
	}
	setupLogging(c.verbose, stderr)
	cfg := tokenize.Config{Encoding: "cl100k_base", BatchSize: 32, Runner: "prism"}
	if c.config != "" {
		y, err := configs.LoadTokenize(c.config)
		if err != nil {
			return err
		}
		cfg = tokenize.Config{
			Inputs: y.Input, Output: y.Output, Encoding: y.Encoding, BatchSize: y.BatchSize, Threads: y.Threads,
			Runner: y.Runner, Overwrite: y.Overwrite, Resume: y.Resume, ShardRows: y.ShardRows, AllowedSpecial: y.AllowedSpecial,
			DisallowedAsText: y.DisallowedSpecialAsText, RunnerOptions: y.RunnerOptions,
		}
		cfg.Columns.ID, cfg.Columns.Text = y.Columns.ID, y.Columns.Text
	}
	set := setFlags(fs)
	applyCommon(set, &c, &cfg.Inputs, &cfg.Output, &cfg.Encoding, &cfg.BatchSize, &cfg.Threads, &cfg.Runner, &cfg.Overwrite, &cfg.Resume, &cfg.ShardRows, &cfg.Columns.ID)
	c.runners.apply(set, &cfg.RunnerOptions)
	if err := checkResume(cfg.Overwrite, cfg.Resume); err != nil {
		return err
	}
	if set["text-column"] {
		cfg.Columns.Text = *textColumn
	}
	if set["allowed-special"] {
		cfg.AllowedSpecial = allowed
	}
	if set["disallowed-special-as-text"] {
		cfg.DisallowedAsText = *asText
	}
	stopProfile, err := startProfile(c.cpuProf)
	if err != nil {
		return err
	}
	rep, err := tokenize.Run(ctx, cfg)
	stopProfile()
	if err != nil {
		return err
	}
	return printReport(stdout, rep, c.jsonOut)
}

func runDetokenize(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("detokenize", "Decodes the token ids of Parquet rows (such as a tokenize job's results) back into text.\nWrites results-*.parquet (id, text, count, duration_us), errors-*.parquet (id, error,\nstage, file, row, tokens) and stats.json to the output folder, and prints a summary.", stderr)
	var c common
	c.register(fs, "configs/detokenize.yaml")
	tokensColumn := fs.String("tokens-column", "tokens", "name of the token ids column (a list of integers)")
	if err := parse(fs, args); err != nil {
		return err
	}
	setupLogging(c.verbose, stderr)
	cfg := tokenize.DetokenizeConfig{Encoding: "cl100k_base", BatchSize: 32, Runner: "prism"}
	if c.config != "" {
		y, err := configs.LoadDetokenize(c.config)
		if err != nil {
			return err
		}
		cfg = tokenize.DetokenizeConfig{
			Inputs: y.Input, Output: y.Output, Encoding: y.Encoding, BatchSize: y.BatchSize, Threads: y.Threads,
			Runner: y.Runner, Overwrite: y.Overwrite, Resume: y.Resume, ShardRows: y.ShardRows, RunnerOptions: y.RunnerOptions,
		}
		cfg.Columns.ID, cfg.Columns.Tokens = y.Columns.ID, y.Columns.Tokens
	}
	set := setFlags(fs)
	applyCommon(set, &c, &cfg.Inputs, &cfg.Output, &cfg.Encoding, &cfg.BatchSize, &cfg.Threads, &cfg.Runner, &cfg.Overwrite, &cfg.Resume, &cfg.ShardRows, &cfg.Columns.ID)
	c.runners.apply(set, &cfg.RunnerOptions)
	if err := checkResume(cfg.Overwrite, cfg.Resume); err != nil {
		return err
	}
	if set["tokens-column"] {
		cfg.Columns.Tokens = *tokensColumn
	}
	stopProfile, err := startProfile(c.cpuProf)
	if err != nil {
		return err
	}
	rep, err := tokenize.Detokenize(ctx, cfg)
	stopProfile()
	if err != nil {
		return err
	}
	return printReport(stdout, rep, c.jsonOut)
}

// applyCommon copies the flags given on the command line over the config.
func applyCommon(set map[string]bool, c *common, inputs *[]string, output, encoding *string, batchSize, threads *int, runner *string, overwrite, resume *bool, shardRows *int64, idColumn *string) {
	if set["input"] {
		*inputs = c.inputs
	}
	if set["output"] {
		*output = c.output
	}
	if set["encoding"] || *encoding == "" {
		*encoding = c.encoding
	}
	if set["batch-size"] {
		*batchSize = c.batchSize
	}
	if set["threads"] {
		*threads = c.threads
	}
	if set["runner"] {
		*runner = c.runner
	}
	if set["overwrite"] {
		*overwrite = c.overwrite
	}
	if set["resume"] {
		*resume = c.resume
	}
	if set["shard-rows"] {
		*shardRows = c.shardRows
	}
	if set["id-column"] {
		*idColumn = c.idColumn
	}
}

func printReport(w io.Writer, rep *tokenize.Report, asJSON bool) error {
	if asJSON {
		data, err := rep.Stats.MarshalJSON()
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	}
	if _, err := fmt.Fprint(w, rep.Summary()); err != nil {
		return err
	}
	if rss := peakRSS(); rss > 0 {
		_, err := fmt.Fprintf(w, "peak RSS:   %.1f MiB\n", float64(rss)/(1<<20))
		return err
	}
	return nil
}
