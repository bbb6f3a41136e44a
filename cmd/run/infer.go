package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/minerva-batch/minerva/configs"
	"github.com/minerva-batch/minerva/engine/batch"
	einfer "github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/infer"
	"github.com/minerva-batch/minerva/transforms"
)

const inferSummary = `Runs batch inference over request rows: Parquet files (id, prompt and the optional
max_tokens, temperature, top_p, top_k, seed, stop, priority columns) or OpenAI Batch API
.jsonl files. Writes results-* (id, text, prompt_tokens, completion_tokens, finish_reason,
ttft_ms, duration_ms, model, seed), errors-* (id, error, stage, file, row and the input
fields) and stats.json to the output folder, and prints a summary. The model runs in-process
(--model PATH) or on an OpenAI-compatible server (--backend openai --endpoint URL).`

// runInfer is the "infer" subcommand.
func runInfer(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("infer", inferSummary, stderr)
	config := fs.String("config", "", "YAML job config (see configs/infer.yaml); flags given here override it")
	var inputs, stop listFlag
	fs.Var(&inputs, "input", "request `FILE|GLOB` (Parquet or OpenAI batch .jsonl); repeat the flag or separate with commas")
	output := fs.String("output", "", "output `DIR` for results-*, errors-*, stats.json and, when the job completes, _SUCCESS")
	format := fs.String("format", "", "input and output format, parquet or jsonl (default: from the inputs' extension)")
	backend := fs.String("backend", "local", "local (the embedded engine) or openai (an OpenAI-compatible server)")
	model := fs.String("model", "", "local: model `PATH` (GGUF or llama2.c checkpoint); openai: the model name (default: the server's first)")
	tok := fs.String("tokenizer", "", "local: tokenizer `PATH` to use instead of the model's own vocabulary")
	ctxLen := fs.Int("context", 0, "local: cap the context length below the model's own (0: the model's)")
	endpoint := fs.String("endpoint", "", "openai: the server's base `URL`, e.g. http://localhost:8000")
	apiKeyEnv := fs.String("api-key-env", "", "openai: the environment variable `NAME` holding the API key")
	timeoutMS := fs.Int64("timeout-ms", 0, "openai: per-attempt timeout in ms (0: 60000)")
	maxAttempts := fs.Int("max-attempts", 0, "openai: attempts per request, the first included (0: 4)")
	batchSize := fs.Int("batch-size", 8, "requests per batch, 1..100")
	adaptive := fs.Bool("adaptive", false, "size batches from measured latencies instead of --batch-size")
	targetMS := fs.Int64("target-latency-ms", 0, "adaptive: the most predicted latency of a batch in ms (0: 30000)")
	maxBatch := fs.Int("max-batch", 0, "adaptive: the most requests per batch (0: 100)")
	inFlight := fs.Int("in-flight", 0, "batches in flight at once (0: 3)")
	maxInFlight := fs.Int("max-in-flight", 0, "sequences the engine decodes together, or HTTP requests in flight, 1..100 (0: the batch size, or --max-batch when adaptive)")
	kvMB := fs.Int64("kv-budget-mb", 0, "local: KV-cache budget in MB (0: 512)")
	threads := fs.Int("threads", 0, "local: engine threads (0: all cores)")
	maxTokens := fs.Int("max-tokens", 256, "default max_tokens of rows without one")
	temperature := fs.Float64("temperature", 0, "default temperature of rows without one, 0.0–2.0 (0 is greedy)")
	topP := fs.Float64("top-p", 1, "default top_p of rows without one, (0, 1]")
	topK := fs.Int("top-k", 0, "default top_k of rows without one (0: off)")
	fs.Var(&stop, "stop", "default stop `STRING` of rows without one; repeat the flag for several")
	seed := fs.Uint64("seed", 0, "job seed: rows without a seed sample with one derived from it and their id")
	slaMS := fs.Int64("sla-p95-ms", 0, "p95 latency target in ms; stats.json and the summary then give the verdict")
	runner := fs.String("runner", "prism", runnerUsage)
	var rf runnerFlags
	rf.register(fs)
	overwrite := fs.Bool("overwrite", false, "replace the outputs of a previous run in the output folder")
	resume := fs.Bool("resume", false, resumeUsage)
	shardRows := fs.Int64("shard-rows", 100_000, "rows per output shard")
	idColumn := fs.String("id-column", "id", "name of the id column (string or integer)")
	promptColumn := fs.String("prompt-column", "prompt", "name of the prompt column")
	verbose := fs.Bool("verbose", false, "log the runner's progress")
	jsonOut := fs.Bool("json", false, "print the statistics as JSON instead of a summary")
	progress := fs.Bool("progress", true, "draw a progress line on stderr when it is a terminal")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := setFlags(fs)
	if set["adaptive"] && set["batch-size"] && *adaptive {
		return usageError{fmt.Errorf("--batch-size and --adaptive exclude each other")}
	}
	setupLogging(*verbose, stderr)

	cfg := infer.Config{BatchSize: 8, Defaults: einfer.Defaults{MaxTokens: 256, TopP: 1}}
	if *config != "" {
		y, err := configs.LoadInfer(*config)
		if err != nil {
			return err
		}
		cfg = inferConfig(y)
	}
	str := func(name string, dst *string, v string) {
		if set[name] {
			*dst = v
		}
	}
	num := func(name string, dst *int, v int) {
		if set[name] {
			*dst = v
		}
	}
	num64 := func(name string, dst *int64, v int64) {
		if set[name] {
			*dst = v
		}
	}
	b := &cfg.Backend
	if set["input"] {
		cfg.Inputs = inputs
	}
	str("output", &cfg.Output, *output)
	str("format", &cfg.Format, *format)
	str("backend", &b.Kind, *backend)
	str("model", &b.Model, *model)
	str("tokenizer", &b.Tokenizer, *tok)
	num("context", &b.Context, *ctxLen)
	str("endpoint", &b.Endpoint, *endpoint)
	str("api-key-env", &b.APIKeyEnv, *apiKeyEnv)
	num64("timeout-ms", &b.TimeoutMS, *timeoutMS)
	num("max-attempts", &b.MaxAttempts, *maxAttempts)
	num("max-in-flight", &b.MaxInFlight, *maxInFlight)
	num64("kv-budget-mb", &b.KVBudgetMB, *kvMB)
	num("threads", &b.Threads, *threads)
	num("batch-size", &cfg.BatchSize, *batchSize)
	if set["batch-size"] {
		cfg.Adaptive = false
	}
	if set["adaptive"] {
		cfg.Adaptive = *adaptive
	}
	if set["target-latency-ms"] {
		cfg.TargetLatency = time.Duration(*targetMS) * time.Millisecond
	}
	num("max-batch", &cfg.MaxBatch, *maxBatch)
	num("in-flight", &cfg.InFlight, *inFlight)
	num("max-tokens", &cfg.Defaults.MaxTokens, *maxTokens)
	if set["temperature"] {
		cfg.Defaults.Temperature = *temperature
	}
	if set["top-p"] {
		cfg.Defaults.TopP = *topP
	}
	num("top-k", &cfg.Defaults.TopK, *topK)
	if set["stop"] {
		cfg.Defaults.Stop = stop
	}
	if set["seed"] {
		cfg.Defaults.Seed = *seed
	}
	if set["sla-p95-ms"] {
		cfg.SLAP95 = time.Duration(*slaMS) * time.Millisecond
	}
	str("runner", &cfg.Runner, *runner)
	rf.apply(set, &cfg.RunnerOptions)
	if set["overwrite"] {
		cfg.Overwrite = *overwrite
	}
	if set["resume"] {
		cfg.Resume = *resume
	}
	if err := checkResume(cfg.Overwrite, cfg.Resume); err != nil {
		return err
	}
	num64("shard-rows", &cfg.ShardRows, *shardRows)
	str("id-column", &cfg.Columns.ID, *idColumn)
	str("prompt-column", &cfg.Columns.Prompt, *promptColumn)
	if *progress {
		if f, ok := stderr.(*os.File); ok && isTerminal(f) {
			stopProgress := startProgress(f, &cfg)
			defer stopProgress()
		}
	}
	rep, err := infer.Run(ctx, cfg)
	if err != nil {
		return err
	}
	if *jsonOut {
		data, err := json.Marshal(rep.Stats)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", data)
		return err
	}
	if _, err := fmt.Fprint(stdout, rep.Summary()); err != nil {
		return err
	}
	if rss := peakRSS(); rss > 0 {
		_, err := fmt.Fprintf(stdout, "peak RSS: %.1f MiB\n", float64(rss)/(1<<20))
		return err
	}
	return nil
}

// inferConfig turns a YAML config into the job's.
func inferConfig(y *configs.Infer) infer.Config {
	c := infer.Config{
		Inputs: y.Input, Output: y.Output, Format: y.Format,
		Backend: transforms.BackendConfig{
			Kind: y.Backend, Model: y.Model, Tokenizer: y.Tokenizer, Context: y.Context, Threads: y.Threads, MaxInFlight: y.MaxInFlight,
			KVBudgetMB: y.KVBudgetMB, Endpoint: y.Endpoint, APIKeyEnv: y.APIKeyEnv, TimeoutMS: y.TimeoutMS, MaxAttempts: y.MaxAttempts,
		},
		Defaults: einfer.Defaults{MaxTokens: y.Defaults.MaxTokens, Temperature: y.Defaults.Temperature, TopP: y.Defaults.TopP,
			TopK: y.Defaults.TopK, Stop: y.Defaults.Stop, Seed: y.Seed},
		BatchSize: y.BatchSize, Adaptive: y.Adaptive, TargetLatency: time.Duration(y.TargetLatencyMS) * time.Millisecond,
		MaxBatch: y.MaxBatch, InFlight: y.InFlight, ShardRows: y.ShardRows, Overwrite: y.Overwrite, Resume: y.Resume, Runner: y.Runner, RunnerOptions: y.RunnerOptions,
		SLAP95: time.Duration(y.SLAP95MS) * time.Millisecond,
		Columns: parquetio.RequestColumns{ID: y.Columns.ID, Prompt: y.Columns.Prompt, MaxTokens: y.Columns.MaxTokens,
			Temperature: y.Columns.Temperature, TopP: y.Columns.TopP, TopK: y.Columns.TopK, Seed: y.Columns.Seed,
			Stop: y.Columns.Stop, Priority: y.Columns.Priority},
	}
	if c.BatchSize == 0 {
		c.BatchSize = batch.InferenceLimits.Optimal
	}
	return c
}

// isTerminal reports whether f is a terminal (a character device).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress draws "rows done/total, completion tok/s, ETA" on w every
// half second once the job starts, until the returned func is called.
func startProgress(w io.Writer, cfg *infer.Config) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	cfg.OnStart = func(total int64) {
		start := time.Now()
		rows0, toks0 := transforms.Progress.Rows.Load(), transforms.Progress.CompletionTokens.Load()
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					fmt.Fprint(w, "\r\033[K")
					return
				case <-tick.C:
					fmt.Fprint(w, "\r\033[K"+progressLine(transforms.Progress.Rows.Load()-rows0, total, transforms.Progress.CompletionTokens.Load()-toks0, time.Since(start)))
				}
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// progressLine is one line of progress: rows done of total, completion
// tokens per second and the estimated time left.
func progressLine(rows, total, tokens int64, elapsed time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d/%d rows", rows, total)
	if total > 0 {
		fmt.Fprintf(&b, " (%.0f%%)", 100*float64(rows)/float64(total))
	}
	if s := elapsed.Seconds(); s > 0 {
		fmt.Fprintf(&b, ", %.0f tok/s", float64(tokens)/s)
	}
	if rows > 0 && rows < total {
		left := time.Duration(float64(elapsed) * float64(total-rows) / float64(rows))
		fmt.Fprintf(&b, ", ETA %s", left.Round(time.Second))
	}
	return b.String()
}
