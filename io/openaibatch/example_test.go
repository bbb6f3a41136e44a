package openaibatch_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/minerva-batch/minerva/io/openaibatch"
)

func ExampleReadRequests() {
	dir, err := os.MkdirTemp("", "openaibatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "batch.jsonl")
	err = os.WriteFile(path, []byte(`{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 16}}
{"custom_id": "r2", "method": "POST", "url": "/v1/completions", "body": {"model": "gpt-3.5-turbo-instruct", "prompt": "Once upon a time", "stop": ["\n"]}}

{"custom_id": "r3", "method": "POST", "url": "/v1/completions", "body": {"prompt": "Hi", "temperature": "hot"}}
`), 0o644)
	if err != nil {
		log.Fatal(err)
	}

	rows, err := openaibatch.Inspect(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("rows:", rows)
	err = openaibatch.ReadRequests(context.Background(), path, func(l openaibatch.Line) error {
		switch {
		case l.Err != "":
			fmt.Printf("line %d %s: error: %s\n", l.Line, l.CustomID, l.Err)
		case l.Spec.Messages != nil:
			fmt.Printf("line %d %s: chat for %s, %d message(s), max_tokens %d\n", l.Line, l.CustomID, l.Model, len(l.Spec.Messages), *l.Spec.MaxTokens)
		default:
			fmt.Printf("line %d %s: completion for %s of %q, stop %q\n", l.Line, l.CustomID, l.Model, *l.Spec.Prompt, l.Spec.Stop)
		}
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// rows: 3
	// line 1 r1: chat for gpt-4o-mini, 1 message(s), max_tokens 16
	// line 2 r2: completion for gpt-3.5-turbo-instruct of "Once upon a time", stop ["\n"]
	// line 4 r3: error: field "body.temperature": want a number, got a string
}

func ExampleShardWriter() {
	dir, err := os.MkdirTemp("", "openaibatch-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	w, err := openaibatch.NewShardWriter(dir, openaibatch.ErrorsPrefix, "00000")
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // does nothing once committed
	if err := w.WriteFailure(openaibatch.Failure{CustomID: "r3", Code: "read", Message: `field "body.temperature": want a number, got a string`}); err != nil {
		log.Fatal(err)
	}
	path, err := w.Commit()
	if err != nil {
		log.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(filepath.Base(path))
	fmt.Print(string(data))
	// Output:
	// errors-00000.jsonl
	// {"id":"batch_req_e29382efde0dda8eef513c754ecf702a","custom_id":"r3","response":null,"error":{"code":"read","message":"field \"body.temperature\": want a number, got a string"}}
}
