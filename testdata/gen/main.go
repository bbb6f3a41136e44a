// Command gen writes the demo inputs from their text sources:
// testdata/corpus.parquet (the corpus of `make run`) from
// testdata/corpus.jsonl (one {"id", "text"} object per line), and
// testdata/requests.parquet (the requests of `make run-infer`) from
// testdata/requests.ndjson (one request object per line: id, prompt and the
// optional max_tokens, temperature, top_p, top_k, seed, stop, priority).
//
//	go run ./testdata/gen
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"log"
	"os"

	"github.com/parquet-go/parquet-go"
)

type row struct {
	ID   string `parquet:"id"`
	Text string `parquet:"text"`
}

// request is a row of testdata/requests.parquet; absent fields are null.
type request struct {
	ID          string   `parquet:"id" json:"id"`
	Prompt      *string  `parquet:"prompt,optional" json:"prompt"`
	MaxTokens   *int64   `parquet:"max_tokens,optional" json:"max_tokens"`
	Temperature *float64 `parquet:"temperature,optional" json:"temperature"`
	TopP        *float64 `parquet:"top_p,optional" json:"top_p"`
	TopK        *int64   `parquet:"top_k,optional" json:"top_k"`
	Seed        *int64   `parquet:"seed,optional" json:"seed"`
	Stop        []string `parquet:"stop,list,optional" json:"stop"`
	Priority    *int64   `parquet:"priority,optional" json:"priority"`
}

func main() {
	convert[row]("testdata/corpus.jsonl", "testdata/corpus.parquet")
	convert[request]("testdata/requests.ndjson", "testdata/requests.parquet")
}

// convert reads one JSON object per line of in and writes them to out.
func convert[T any](in, out string) {
	f, err := os.Open(in)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	var rows []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r T
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			log.Fatalf("%s:%d: %v", in, line, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if err := parquet.WriteFile(out, rows); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d rows\n", out, len(rows))
}
