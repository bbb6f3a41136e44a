package openai_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/engine/llama"
	"github.com/minerva-batch/minerva/engine/openai"
)

// Serve the embedded engine as an OpenAI-compatible server, then use it
// through a Client as any other backend: a completion and a chat, greedy.
func ExampleNewHandler() {
	local, err := infer.NewLocal("../../../shared/models/stories260K/stories260K.gguf", llama.Options{}, llama.EngineOptions{})
	if err != nil {
		log.Fatal(err)
	}
	defer local.Close()
	srv := httptest.NewServer(openai.NewHandler(local))
	defer srv.Close()

	client, err := openai.NewClient(openai.Options{Endpoint: srv.URL + "/v1"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	if err := client.Check(context.Background()); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("model %s, context %d\n", client.Model(), client.Context())

	out := client.Infer(context.Background(), []batch.Item[infer.Request]{
		{ID: "story", Data: infer.Request{Request: llama.Request{Prompt: "Once upon a time", MaxTokens: 16}}},
		{ID: "chat", Data: infer.Request{Messages: []infer.Message{{Role: "user", Content: "Hi"}}, Request: llama.Request{MaxTokens: 8}}},
		{ID: "hot", Data: infer.Request{Request: llama.Request{Prompt: "The dog", MaxTokens: 8, Temperature: 2.5}}},
	})
	for _, r := range out {
		if r.Err != nil {
			fmt.Printf("%s: error: %v\n", r.ID, r.Err)
			continue
		}
		fmt.Printf("%s: %q (%d+%d tokens, %s)\n", r.ID, r.Data.Text, r.Data.PromptTokens, r.Data.CompletionTokens, r.Data.FinishReason)
	}
	// Output:
	// model stories260K.gguf, context 2048
	// story: ", there was a little girl named Lily. She loved to play" (5+16 tokens, length)
	// chat: ". All the other" (18+8 tokens, length)
	// hot: error: 400 Bad Request: field "temperature": 2.5 is out of range 0.0–2.0
}
