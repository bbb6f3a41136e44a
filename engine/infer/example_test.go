package infer_test

import (
	"errors"
	"fmt"

	"github.com/minerva-batch/minerva/engine/infer"
)

// A row that gives only a prompt takes the job's defaults, and samples with
// a seed derived from the job seed and the row's id; fields the row gives
// override the defaults, and a bad one is reported as a *FieldError.
func ExampleSpec_Resolve() {
	d := infer.Defaults{MaxTokens: 64, Temperature: 0.8, Seed: 42}
	prompt := "Once upon a time"

	r, err := infer.Spec{Prompt: &prompt}.Resolve("row-1", d, 512)
	fmt.Println(r.MaxTokens, r.Temperature, r.TopP, r.Seed, err)
	fmt.Println(r.Seed == infer.RowSeed(42, "row-1"))

	maxTokens, seed := int64(16), int64(7)
	r, err = infer.Spec{Prompt: &prompt, MaxTokens: &maxTokens, Seed: &seed}.Resolve("row-2", d, 512)
	fmt.Println(r.MaxTokens, r.Seed, err)

	topP := 1.5
	_, err = infer.Spec{Prompt: &prompt, TopP: &topP}.Resolve("row-3", d, 512)
	var fe *infer.FieldError
	fmt.Println(errors.As(err, &fe), fe.Field, err)
	// Output:
	// 64 0.8 1 186213908868373976 <nil>
	// true
	// 16 7 <nil>
	// true top_p field "top_p": 1.5 is out of range (0, 1]
}

// RowSeed depends only on the job seed and the row's id, so a row samples
// the same tokens wherever and with whatever it runs.
func ExampleRowSeed() {
	fmt.Println(infer.RowSeed(42, "row-1"))
	fmt.Println(infer.RowSeed(42, "row-2"))
	fmt.Println(infer.RowSeed(43, "row-1") != infer.RowSeed(42, "row-1"))
	// Output:
	// 186213908868373976
	// 1376796949514889137
	// true
}
