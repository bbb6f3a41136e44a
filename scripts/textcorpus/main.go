// Command textcorpus turns text files into a Parquet corpus (id, text) for
// the tokenization job: each file is cut into documents of at most
// --doc-bytes bytes, at the last newline in the window when there is one,
// otherwise at a UTF-8 character boundary. Used by scripts/bench-cli.sh.
//
//	go run ./scripts/textcorpus --output corpus.parquet --doc-bytes 4096 FILE...
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
)

type row struct {
	ID   string `parquet:"id"`
	Text string `parquet:"text"`
}

func main() {
	out := flag.String("output", "corpus.parquet", "Parquet file to write")
	docBytes := flag.Int("doc-bytes", 4096, "maximum document size in bytes")
	repeat := flag.Int("repeat", 1, "write the documents this many times (with distinct ids), for larger corpora")
	flag.Parse()
	if flag.NArg() == 0 || *docBytes < 4 || *repeat < 1 {
		log.Fatal("usage: textcorpus --output FILE [--doc-bytes N] [--repeat K] TEXTFILE...")
	}
	f, err := os.Create(*out)
	if err != nil {
		log.Fatal(err)
	}
	w := parquet.NewGenericWriter[row](f, parquet.MaxRowsPerRowGroup(8192))
	var n, bytes int
	for r := 0; r < *repeat; r++ {
		for _, path := range flag.Args() {
			data, err := os.ReadFile(path)
			if err != nil {
				log.Fatal(err)
			}
			text := string(data)
			for i := 0; len(text) > 0; i++ {
				k := min(*docBytes, len(text))
				if k < len(text) {
					if nl := strings.LastIndexByte(text[:k], '\n'); nl > 0 {
						k = nl + 1
					} else {
						for k > 1 && !utf8.RuneStart(text[k]) {
							k--
						}
					}
				}
				if _, err := w.Write([]row{{ID: fmt.Sprintf("%s-%d-%d", filepath.Base(path), r, i), Text: text[:k]}}); err != nil {
					log.Fatal(err)
				}
				n++
				bytes += k
				text = text[k:]
			}
		}
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}
	if err := f.Close(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("wrote %s: %d documents, %d bytes of text\n", *out, n, bytes)
}
