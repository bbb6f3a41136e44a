// Command benchinfer is `make bench-infer`: the batch inference job's
// throughput against the engine alone on the same requests, and adaptive
// against fixed batch sizes on mixed lengths, measured side by side in one
// run (rounds interleaved, best round kept).
//
// The model is the stories15M shape (dim 288, 6 layers, vocab 32000;
// seeded random F32 weights, generated once into a cache folder). The
// requests are prompts of 1 to 12 lines of ../shared/corpora's
// tinyshakespeare with max_tokens 16, 48, 96 or 160 (greedy), so request
// costs differ by an order of magnitude.
//
// Rows:
//   - engine alone N: every request submitted at once to a llama.Engine
//     decoding up to N sequences together (continuous batching);
//   - pipeline batch B: `run infer` on prism with batches of B (3 in
//     flight) on an engine of B sequences (the job's default), or of N
//     sequences where the row says "engine N";
//   - pipeline adaptive: batches sized by batch.Sizer, on an engine of 100
//     sequences (the job's default) or of N.
//
// Overhead is 1 − pipeline tok/s ÷ engine-alone tok/s at the same N.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	einfer "github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/modelgen"
	"github.com/minerva-batch/minerva/engine/tensor"
	"github.com/minerva-batch/minerva/pipelines/infer"
	"github.com/minerva-batch/minerva/transforms"
)

const (
	vocab  = "../shared/models/llama2-tokenizer/tokenizer.model"
	corpus = "../shared/corpora/english_tinyshakespeare.txt"
)

type request struct {
	ID        string `parquet:"id"`
	Prompt    string `parquet:"prompt"`
	MaxTokens int64  `parquet:"max_tokens"`
}

// run is one measured configuration.
type run struct {
	name          string
	engineAlone   bool
	batch, engine int
	adaptive      bool
}

func main() {
	log.SetFlags(0)
	cache := flag.String("models", filepath.Join(os.TempDir(), "minerva-bench-models"), "folder for the generated model (made once, reused)")
	shape := flag.String("shape", "stories15M", "model shape: "+strings.Join(modelgen.Presets(), ", "))
	n := flag.Int("requests", 160, "number of requests")
	rounds := flag.Int("rounds", 2, "rounds of every configuration, interleaved; the best is kept")
	runner := flag.String("runner", "prism", "Beam runner of the pipeline rows")
	flag.Parse()
	beam.Init()
	ctx := context.Background()

	model, _, err := modelgen.Cached(ctx, *cache, *shape, tensor.F32, vocab)
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "benchinfer")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	reqs, err := requests(*n)
	if err != nil {
		log.Fatal(err)
	}
	in := filepath.Join(dir, "requests.parquet")
	if err := parquet.WriteFile(in, reqs); err != nil {
		log.Fatal(err)
	}
	var maxTok int64
	for _, r := range reqs {
		maxTok += r.MaxTokens
	}
	fmt.Printf("model %s; %d requests, prompts of 1-12 lines, max_tokens 16/48/96/160 (%d in all), greedy; runner %s; %d rounds interleaved, best kept\n\n",
		filepath.Base(model), len(reqs), maxTok, *runner, *rounds)

	runs := []run{
		{name: "engine alone 8", engineAlone: true, engine: 8},
		{name: "pipeline batch 8 (default)", batch: 8},
		{name: "engine alone 32", engineAlone: true, engine: 32},
		{name: "pipeline batch 32", batch: 32},
		{name: "pipeline adaptive (default)", adaptive: true},
		{name: "pipeline batch 8, engine 64", batch: 8, engine: 64},
		{name: "pipeline adaptive, engine 64", adaptive: true, engine: 64},
	}
	best := make([]float64, len(runs))
	var trace []string
	for round := range *rounds {
		for i, r := range runs {
			var tps float64
			var sizes []string
			if r.engineAlone {
				tps, err = engineAlone(ctx, model, reqs, r.engine)
			} else {
				tps, sizes, err = pipeline(ctx, model, in, filepath.Join(dir, fmt.Sprint("out", i)), r, *runner)
			}
			if err != nil {
				log.Fatalf("%s: %v", r.name, err)
			}
			log.Printf("round %d: %-30s %7.1f completion tok/s", round+1, r.name, tps)
			if tps > best[i] {
				best[i] = tps
				if i == 4 {
					trace = sizes
				}
			}
		}
	}
	fmt.Printf("\n| run | completion tok/s (best of %d) | vs |\n|---|---|---|\n", *rounds)
	for i, r := range runs {
		vs := ""
		switch i {
		case 1:
			vs = fmt.Sprintf("overhead %+.1f%% vs engine alone 8", 100*(1-best[i]/best[0]))
		case 3:
			vs = fmt.Sprintf("overhead %+.1f%% vs engine alone 32", 100*(1-best[i]/best[2]))
		case 4:
			vs = fmt.Sprintf("%.2fx pipeline batch 8 (default)", best[i]/best[1])
		case 6:
			vs = fmt.Sprintf("%.2fx pipeline batch 8 on the same engine of 64", best[i]/best[5])
		}
		fmt.Printf("| %s | %.1f | %s |\n", r.name, best[i], vs)
	}
	fmt.Printf("\nbatches of the best default adaptive round, in completion order (items/cost tokens -> latency):\n  %s\n", strings.Join(trace, ", "))
}

// requests builds n requests of mixed lengths from the corpus.
func requests(n int) ([]request, error) {
	f, err := os.Open(corpus)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	out := make([]request, n)
	for i := range out {
		k := 1 + (i*7)%12
		at := (i * 37) % (len(lines) - k)
		out[i] = request{ID: fmt.Sprintf("r%04d", i), Prompt: strings.Join(lines[at:at+k], "\n"), MaxTokens: []int64{16, 48, 96, 160}[(i*5)%4]}
	}
	return out, nil
}

// engineAlone submits every request at once to an engine of n sequences.
func engineAlone(ctx context.Context, model string, reqs []request, n int) (float64, error) {
	start := time.Now()
	l, err := einfer.NewLocal(model, llama.Options{}, llama.EngineOptions{MaxInFlight: n})
	if err != nil {
		return 0, err
	}
	defer l.Close()
	items := make([]batch.Item[einfer.Request], len(reqs))
	d := einfer.Defaults{}
	for i, r := range reqs {
		req, err := einfer.Spec{Prompt: &r.Prompt, MaxTokens: &r.MaxTokens}.Resolve(r.ID, d, l.Context())
		if err != nil {
			return 0, err
		}
		items[i] = batch.Item[einfer.Request]{ID: r.ID, Data: req}
	}
	var tokens int
	for _, r := range l.Infer(ctx, items) {
		if r.Err != nil {
			return 0, fmt.Errorf("%s: %w", r.ID, r.Err)
		}
		tokens += r.Data.CompletionTokens
	}
	return float64(tokens) / time.Since(start).Seconds(), nil
}

// pipeline runs the job and returns its completion tok/s (whole job, model
// load included) and the adaptive batches it ran.
func pipeline(ctx context.Context, model, in, out string, r run, runner string) (float64, []string, error) {
	var mu sync.Mutex
	var sizes []string
	prev := slog.Default()
	slog.SetDefault(slog.New(batchLog{record: func(items, cost int64, took time.Duration) {
		mu.Lock()
		sizes = append(sizes, fmt.Sprintf("%d/%d->%.1fs", items, cost, took.Seconds()))
		mu.Unlock()
	}}))
	defer slog.SetDefault(prev)
	start := time.Now()
	rep, err := infer.Run(ctx, infer.Config{
		Inputs: []string{in}, Output: out, Overwrite: true, Runner: runner,
		Backend:   transforms.BackendConfig{Model: model, MaxInFlight: r.engine},
		BatchSize: max(r.batch, 1), Adaptive: r.adaptive,
	})
	if err != nil {
		return 0, nil, err
	}
	if rep.Errors > 0 {
		return 0, nil, fmt.Errorf("%d error rows", rep.Errors)
	}
	return float64(rep.Stats.CompletionTokens) / time.Since(start).Seconds(), sizes, nil
}

// batchLog is a slog.Handler that passes the "inference batch" records of
// InferFn to record and drops the rest.
type batchLog struct {
	record func(items, cost int64, took time.Duration)
}

func (batchLog) Enabled(context.Context, slog.Level) bool { return true }
func (h batchLog) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "inference batch" {
		return nil
	}
	var items, cost int64
	var took time.Duration
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "items":
			items = a.Value.Int64()
		case "cost":
			cost = a.Value.Int64()
		case "latency":
			took = a.Value.Duration()
		}
		return true
	})
	h.record(items, cost, took)
	return nil
}
func (h batchLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h batchLog) WithGroup(string) slog.Handler      { return h }
