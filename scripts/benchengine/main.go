// Command benchengine is `make bench-engine`: the inference engine's
// throughput on stories260K (real weights) and on the stories15M and
// stories110M shapes (seeded random weights, generated once into a cache
// folder as GGUF F32/Q8_0/Q4_0 and llama2.c .bin), measured side by side
// with llama2.c's run.c (LLAMA2C_RUNC; see anchor.go) in the same run.
//
// It prints, per model: single-stream greedy decode on 1 and 2 threads
// (tok/s and GB/s of weights streamed), batched decode at 1/4/8/16/64
// sequences (aggregate tok/s and GFLOP/s), prefill tok/s and time to first
// token; run.c's tok/s on 1 thread and with OpenMP; top-1 agreement of
// Q8_0 and Q4_0 with F32 over 256 greedy steps; and peak RSS against the
// mapped weights.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/modelgen"
	"github.com/minerva-batch/minerva/engine/tensor"
)

const (
	shared    = "../shared/models/"
	llamaVoc  = shared + "llama2-tokenizer/tokenizer.model"
	llamaTok  = shared + "llama2-tokenizer/tokenizer.bin"
	prompt    = "Once upon a time"
	longStory = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high. Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
)

func main() {
	log.SetFlags(0)
	cache := flag.String("models", filepath.Join(os.TempDir(), "minerva-bench-models"), "folder for the generated models (made once, reused)")
	only := flag.String("only", "", "run only the models whose name contains this")
	steps := flag.Int("steps", 128, "tokens generated per sequence, in the single-stream and the batched runs (110M: a quarter)")
	batches := flag.String("batches", "1,4,8,16,64", "batch sizes of the batched decode runs")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to `FILE`")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	if err := os.MkdirAll(*cache, 0o755); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("# bench-engine %s, %d CPUs, GOMAXPROCS %d, kernels %s, load average at start %s\n\n",
		time.Now().Format(time.RFC3339), runtime.NumCPU(), runtime.GOMAXPROCS(0), tensor.Kernels(), loadAvg())

	type model struct {
		name, gguf, bin, tok string
		steps                int
	}
	var models []model
	models = append(models, model{"stories260K F32", shared + "stories260K/stories260K.gguf", shared + "stories260K/stories260K.bin", shared + "stories260K/tok512.bin", 4 * *steps})
	for _, shape := range []string{"stories15M", "stories110M"} {
		n := *steps
		if shape == "stories110M" {
			n = max(16, *steps/4)
		}
		for _, typ := range []tensor.Type{tensor.F32, tensor.Q8_0, tensor.Q4_0} {
			name := shape + " " + typ.String()
			if *only != "" && !strings.Contains(name, *only) {
				continue
			}
			g, b, err := ensureModel(ctx, *cache, shape, typ)
			if err != nil {
				log.Fatal(err)
			}
			models = append(models, model{name, g, b, llamaTok, n})
		}
	}

	var bs []int
	for _, f := range strings.Split(*batches, ",") {
		var n int
		fmt.Sscan(f, &n)
		if n > 0 {
			bs = append(bs, n)
		}
	}
	fmt.Println("| model | weights | run.c 1 thread | run.c OpenMP 2 | ours 1 thread | ours 2 threads | ratio 1t / 2t | GB/s 1t | prefill tok/s | TTFT |")
	fmt.Println("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	var batchRows []string
	f32Models := map[string]*llama.Model{}
	var mapped int64 // the most weight bytes mapped at once
	for _, md := range models {
		if *only != "" && !strings.Contains(md.name, *only) {
			continue
		}
		m, err := llama.Load(md.gguf, llama.Options{})
		if err != nil {
			log.Fatal(err)
		}
		held := m.WeightBytes
		if f := f32Models["stories110M"]; f != nil {
			held += f.WeightBytes
		}
		mapped = max(mapped, held)
		anchor1, anchor2 := "n/a", "n/a"
		var a1, a2 float64
		if strings.HasSuffix(md.name, "F32") {
			runs, err := anchorBench(ctx, md.bin, md.tok, min(md.steps, m.Config.Context), 3, 2, prompt)
			switch {
			case errors.Is(err, errAnchorUnavailable):
				anchor1 = "not set"
				if len(batchRows) == 0 {
					log.Printf("anchor: %v", err)
				}
			case err != nil:
				log.Fatal(err)
			default:
				a1, a2 = runs[0].TokPerSec, runs[1].TokPerSec
				anchor1, anchor2 = fmt.Sprintf("%.1f", a1), fmt.Sprintf("%.1f", a2)
			}
		}
		one := single(ctx, m, 1, md.steps)
		two := single(ctx, m, 2, md.steps)
		ratio := "—"
		if a1 > 0 {
			ratio = fmt.Sprintf("%.2f× / %.2f×", one/a1, two/a2)
		}
		pre, ttft := prefill(ctx, m)
		fmt.Printf("| %s | %.1f MB | %s | %s | %.1f | %.1f | %s | %.1f | %.0f | %v |\n", md.name, float64(m.WeightBytes)/1e6, anchor1, anchor2, one, two, ratio,
			one*float64(m.WeightBytes)/1e9, pre, ttft.Round(10*time.Microsecond))

		flops := 2 * float64(matmulParams(m.Config))
		row := fmt.Sprintf("| %s |", md.name)
		for _, b := range bs {
			tps := batched(ctx, m, b, md.steps)
			row += fmt.Sprintf(" %.0f (%.1f×, %.1f GFLOP/s) |", tps, tps/two, tps*flops/1e9)
		}
		batchRows = append(batchRows, row)
		if strings.HasSuffix(md.name, "F32") && strings.HasPrefix(md.name, "stories110M") {
			f32Models["stories110M"] = m
			continue
		}
		if strings.HasPrefix(md.name, "stories110M") && f32Models["stories110M"] != nil {
			agree, n := agreement(f32Models["stories110M"], m)
			batchRows = append(batchRows, fmt.Sprintf("| (%s: top-1 agreement with F32 over %d greedy steps: %.1f%%) |", md.name, n, agree))
		}
		m.Close()
	}
	fmt.Printf("\nBatched decode, aggregate tok/s on %d threads: every sequence generates as many tokens as a single-stream run, sampled at temperature 1, and the time runs from submission, prefill included (× our 2-thread single stream, which excludes its prefill; GFLOP/s of the matrix products):\n\n", runtime.GOMAXPROCS(0))
	head := "| model |"
	for _, b := range bs {
		head += fmt.Sprintf(" batch %d |", b)
	}
	fmt.Println(head)
	fmt.Println("|" + strings.Repeat(" --- |", len(bs)+1))
	for _, r := range batchRows {
		fmt.Println(r)
	}
	fmt.Printf("\nPeak RSS %.1f MB; at most %.1f MB of weights were mapped at once (KV caches are allocated per sequence and freed when it ends). Load average at the end %s.\n",
		float64(peakRSS())/1e6, float64(mapped)/1e6, loadAvg())
}

// ensureModel generates shape's GGUF of type typ (and the F32 llama2.c .bin,
// with the F32 GGUF) into dir unless they are there.
func ensureModel(ctx context.Context, dir, shape string, typ tensor.Type) (gguf, bin string, err error) {
	return modelgen.Cached(ctx, dir, shape, typ, llamaVoc)
}

// single is single-stream greedy decode: generated tokens per second after
// the first.
func single(ctx context.Context, m *llama.Model, threads, steps int) float64 {
	e, err := llama.NewEngine(m, llama.EngineOptions{MaxInFlight: 1, Threads: threads})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	best := 0.0
	for range 2 {
		c, err := e.Generate(ctx, llama.Request{Prompt: prompt, MaxTokens: min(steps, m.Config.Context-8), IgnoreEOS: true})
		if err != nil {
			log.Fatal(err)
		}
		best = max(best, float64(c.CompletionTokens-1)/(c.Duration-c.TTFT).Seconds())
	}
	return best
}

// batched is aggregate throughput with n sequences in flight, each
// generating steps tokens at temperature 1, timed from submission (prefill
// included).
func batched(ctx context.Context, m *llama.Model, n, steps int) float64 {
	e, err := llama.NewEngine(m, llama.EngineOptions{MaxInFlight: n})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	items := make([]batch.Item[llama.Request], n)
	for i := range items {
		items[i] = batch.Item[llama.Request]{ID: fmt.Sprint(i), Data: llama.Request{Prompt: prompt, MaxTokens: steps, Temperature: 1, Seed: uint64(i), IgnoreEOS: true}}
	}
	start := time.Now()
	tokens := 0
	for _, r := range e.InferBatch(ctx, items) {
		if r.Err != nil {
			log.Fatal(r.Err)
		}
		tokens += r.Data.CompletionTokens
	}
	return float64(tokens) / time.Since(start).Seconds()
}

// prefill runs a long prompt for one token: prompt tokens per second of
// time to first token, and the time to first token of the short prompt.
func prefill(ctx context.Context, m *llama.Model) (float64, time.Duration) {
	e, err := llama.NewEngine(m, llama.EngineOptions{MaxInFlight: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	text := longStory
	ids, _ := m.Tokenizer.Encode(text)
	for len(ids) > m.Config.Context/2 { // stories260K's 512-token vocabulary spells it long
		text = text[:len(text)/2]
		ids, _ = m.Tokenizer.Encode(text)
	}
	c, err := e.Generate(ctx, llama.Request{Prompt: text, MaxTokens: 1})
	if err != nil {
		log.Fatal(err)
	}
	s, err := e.Generate(ctx, llama.Request{Prompt: prompt, MaxTokens: 1})
	if err != nil {
		log.Fatal(err)
	}
	return float64(c.PromptTokens) / c.TTFT.Seconds(), s.TTFT
}

// agreement is the share of positions where q's greedy token equals f32's,
// over f32's own greedy continuation of 256 tokens.
func agreement(f32, q *llama.Model) (float64, int) {
	e, err := llama.NewEngine(f32, llama.EngineOptions{MaxInFlight: 1})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()
	c, err := e.Generate(context.Background(), llama.Request{Prompt: prompt, MaxTokens: 256, IgnoreEOS: true})
	if err != nil {
		log.Fatal(err)
	}
	p, _ := f32.Tokenizer.Encode(prompt)
	ids := append(p, c.Tokens...)
	ids = ids[:len(ids)-1]
	want, err := f32.NextTokens(ids, 0)
	if err != nil {
		log.Fatal(err)
	}
	got, err := q.NextTokens(ids, 0)
	if err != nil {
		log.Fatal(err)
	}
	same, n := 0, 0
	for i := len(p) - 1; i < len(ids); i++ {
		n++
		if got[i] == want[i] {
			same++
		}
	}
	return 100 * float64(same) / float64(n), n
}

// matmulParams is the number of weights one token multiplies by.
func matmulParams(c llama.Config) int64 {
	d, kv, h := int64(c.Dim), int64(c.KVDim()), int64(c.HiddenDim)
	return int64(c.Layers)*(2*d*d+2*d*kv+3*d*h) + int64(c.Vocab)*d
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// peakRSS is the process's peak resident set (VmHWM), in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			var kb int64
			fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "VmHWM:"), "kB")), &kb)
			return kb * 1024
		}
	}
	return 0
}
