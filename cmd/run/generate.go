package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/minerva-batch/minerva/engine/llama"
)

// runGenerate completes one prompt with a model and prints the completion.
func runGenerate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	const summary = "Completes one prompt with a llama-architecture model (GGUF, or a llama2.c checkpoint\nwith its tokenizer.bin) and prints the completion; with --ids, prints the token ids\ninstead: BOS, the prompt's ids, then the generated ids. Timings go to stderr."
	fs := newFlagSet("generate", summary, stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: run generate --model PATH --prompt TEXT [flags]\n\n%s\n\nFlags:\n", summary)
		fs.PrintDefaults()
	}
	model := fs.String("model", "", "model `PATH`: a GGUF file or a llama2.c checkpoint (.bin)")
	tok := fs.String("tokenizer", "", "tokenizer `PATH` (llama2.c tokenizer.bin, tokenizer.model or GGUF); default: the model's own vocabulary, or tokenizer.bin beside a llama2.c checkpoint")
	prompt := fs.String("prompt", "", "the prompt `TEXT`")
	maxTokens := fs.Int("max-tokens", 256, "the most tokens to generate (the prompt not counted)")
	temperature := fs.Float64("temperature", 1.0, "sampling temperature, 0.0–2.0; 0 is greedy decoding")
	topP := fs.Float64("top-p", 1.0, "nucleus sampling: keep the most likely tokens up to this probability mass, (0, 1]")
	topK := fs.Int("top-k", 0, "keep only the K most likely tokens (0: all)")
	seed := fs.Uint64("seed", 0, "random seed of the sampler (the same seed gives the same completion)")
	var stop listFlag
	fs.Var(&stop, "stop", "`STRING` that ends the completion; repeat the flag for several")
	threads := fs.Int("threads", 0, "goroutines for the forward pass (0: all cores; small matrix products use one)")
	ctxLen := fs.Int("context", 0, "cap the context length below the model's own (0: the model's)")
	ids := fs.Bool("ids", false, "print the token ids instead of the text")
	verbose := fs.Bool("verbose", false, "print the model's description to stderr")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *model == "":
		return usageError{fmt.Errorf("--model is required")}
	case *prompt == "":
		return usageError{fmt.Errorf("--prompt is required")}
	case *maxTokens <= 0:
		return usageError{fmt.Errorf("--max-tokens %d; want at least 1", *maxTokens)}
	}
	m, err := llama.Load(*model, llama.Options{TokenizerPath: *tok, Context: *ctxLen})
	if err != nil {
		return err
	}
	defer m.Close()
	if *verbose {
		fmt.Fprintln(stderr, m)
	}
	e, err := llama.NewEngine(m, llama.EngineOptions{MaxInFlight: 1, Threads: *threads})
	if err != nil {
		return err
	}
	defer e.Close()
	c, err := e.Generate(ctx, llama.Request{
		Prompt: *prompt, MaxTokens: *maxTokens, Temperature: *temperature, TopP: *topP, TopK: *topK, Seed: *seed, Stop: stop,
	})
	if err != nil {
		return err
	}
	if *ids {
		p, err := m.Tokenizer.Encode(*prompt)
		if err != nil {
			return err
		}
		var b strings.Builder
		for i, id := range append(p, c.Tokens...) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Itoa(int(id)))
		}
		fmt.Fprintln(stdout, b.String())
	} else {
		fmt.Fprintln(stdout, c.Text)
	}
	decode := c.Duration - c.TTFT
	rate := 0.0
	if c.CompletionTokens > 1 && decode > 0 {
		rate = float64(c.CompletionTokens-1) / decode.Seconds()
	}
	fmt.Fprintf(stderr, "%d prompt + %d generated tokens (finish: %s); time to first token %v, %.0f tok/s after it, %v in all\n",
		c.PromptTokens, c.CompletionTokens, c.FinishReason, c.TTFT.Round(1000), rate, c.Duration.Round(1000))
	return nil
}
