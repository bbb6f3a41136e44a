package tokenizer_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"

	"github.com/minerva-batch/minerva/engine/tokenizer"
)

// GPT-2's original encoder.json and vocab.bpe sit in the shared folder
// beside the repository.
func ExampleLoadGPT2() {
	dir := "../../../shared/models/gpt2-tokenizer/"
	enc, err := tokenizer.LoadGPT2(dir+"encoder.json", dir+"vocab.bpe", tokenizer.Options{AllowedSpecial: []string{"<|endoftext|>"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := enc.Encode("Hello world<|endoftext|>")
	text, _ := enc.Decode(ids[:2])
	fmt.Println(ids, text, enc.VocabSize())
	// Output: [15496 995 50256] Hello world 50257
}

// A tokenizer.json written by WriteHFTokenizerJSON loads back with
// LoadHFTokenizerJSON and encodes like the encoding it came from.
func ExampleLoadHFTokenizerJSON() {
	cl100k, _ := tokenizer.New("cl100k_base", tokenizer.Options{})
	var buf bytes.Buffer
	if err := cl100k.WriteHFTokenizerJSON(&buf); err != nil {
		fmt.Println(err)
		return
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "tokenizer.json")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	tok, err := tokenizer.LoadHFTokenizerJSON(path, tokenizer.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, _ := tok.Encode("hello world")
	fmt.Println(ids)
	_, err = tok.Encode("<|endoftext|>")
	fmt.Println(err)
	// Output:
	// [15339 1917]
	// disallowed special token: the text contains "<|endoftext|>" at byte 0; allow it with the allowed-special setting
}
