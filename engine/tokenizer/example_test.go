package tokenizer_test

import (
	"context"
	"fmt"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/tokenizer"
)

func ExampleNew() {
	enc, err := tokenizer.New("cl100k_base", tokenizer.Options{})
	if err != nil {
		panic(err)
	}
	ids, _ := enc.Encode("hello world")
	text, _ := enc.Decode(ids)
	fmt.Println(ids, text)
	_, err = enc.Encode("<|endoftext|>")
	fmt.Println(err)
	// Output:
	// [15339 1917] hello world
	// disallowed special token: the text contains "<|endoftext|>" at byte 0; allow it with the allowed-special setting
}

func ExampleEncodeBatch() {
	enc, _ := tokenizer.New("o200k_base", tokenizer.Options{})
	items := []batch.Item[string]{{ID: "a", Data: "hello world"}, {ID: "b", Data: "bad \xff"}, {ID: "c", Data: ""}}
	res := batch.NewResult(tokenizer.EncodeBatch(context.Background(), enc, items, 0), 0)
	a, _ := res.Get("a")
	fmt.Println(a.Data, res.SuccessCount(), res.FailureCount())
	fmt.Println(res.Errors()["b"])
	// Output:
	// [24912 2375] 2 1
	// invalid UTF-8: invalid byte sequence ff at byte 4
}
