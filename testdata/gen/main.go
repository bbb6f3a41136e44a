// Command gen writes testdata/corpus.parquet, the demo corpus of `make run`,
// from testdata/corpus.jsonl (one {"id", "text"} object per line).
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

func main() {
	in, err := os.Open("testdata/corpus.jsonl")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	var rows []row
	sc := bufio.NewScanner(in)
	sc.Buffer(nil, 1<<20)
	for line := 1; sc.Scan(); line++ {
		var r row
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			log.Fatalf("testdata/corpus.jsonl:%d: %v", line, err)
		}
		rows = append(rows, r)
	}
	if err := sc.Err(); err != nil {
		log.Fatal(err)
	}
	if err := parquet.WriteFile("testdata/corpus.parquet", rows); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote testdata/corpus.parquet: %d rows\n", len(rows))
}
