package llama_test

import (
	"context"
	"fmt"
	"log"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/llama"
)

// Load a model, start an engine and complete prompts: one alone, then two
// in one batch (which decode together, each as it would alone).
func Example() {
	m, err := llama.Load("../../../shared/models/stories260K/stories260K.gguf", llama.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	e, err := llama.NewEngine(m, llama.EngineOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer e.Close()

	c, err := e.Generate(context.Background(), llama.Request{Prompt: "Once upon a time", MaxTokens: 16})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q (%d+%d tokens, %s)\n", c.Text, c.PromptTokens, c.CompletionTokens, c.FinishReason)

	out := e.InferBatch(context.Background(), []batch.Item[llama.Request]{
		{ID: "a", Data: llama.Request{Prompt: "Lily and Tom", MaxTokens: 12}},
		{ID: "b", Data: llama.Request{Prompt: "The dog", Temperature: 2.5}},
	})
	for _, r := range out {
		if r.Err != nil {
			fmt.Printf("%s: error: %v\n", r.ID, r.Err)
			continue
		}
		fmt.Printf("%s: %q\n", r.ID, r.Data.Text)
	}
	// Output:
	// ", there was a little girl named Lily. She loved to play" (5+16 tokens, length)
	// a: " were playing in the park. They li"
	// b: error: temperature 2.5 is out of range 0.0–2.0
}
