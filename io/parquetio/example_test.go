package parquetio_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/minerva-batch/minerva/io/parquetio"
)

func Example() {
	dir, err := os.MkdirTemp("", "parquetio-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// Write a small request file with the same machinery used for outputs.
	type request struct {
		ID   int64   `parquet:"doc_id"`
		Text *string `parquet:"body,optional"`
	}
	hello := "hello world"
	w, err := parquetio.NewShardWriter[request](dir, "input", "0", parquetio.ShardOptions{})
	if err != nil {
		log.Fatal(err)
	}
	w.Write(request{ID: 1, Text: &hello}, request{ID: 2})
	if _, err := w.Commit(); err != nil {
		log.Fatal(err)
	}

	// Expand the inputs, validate them, then stream their rows.
	files, err := parquetio.Expand([]string{filepath.Join(dir, "*.parquet")})
	if err != nil {
		log.Fatal(err)
	}
	cols := parquetio.Columns{ID: "doc_id", Text: "body"}
	for _, path := range files {
		info, err := parquetio.Inspect(path, cols)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d rows, integer ids: %t\n", filepath.Base(info.Path), info.NumRows, info.IDIsInt)
		err = parquetio.ReadRows(context.Background(), path, cols, func(r parquetio.Row) error {
			fmt.Printf("row %d: id=%s text=%q null=%t\n", r.Index, r.ID, r.Text, r.TextNull)
			return nil
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	// Errors name the file and the problem.
	_, err = parquetio.Inspect(files[0], parquetio.Columns{})
	fmt.Println(err != nil)
	// Output:
	// input-0.parquet: 2 rows, integer ids: true
	// row 0: id=1 text="hello world" null=false
	// row 1: id=2 text="" null=true
	// true
}
