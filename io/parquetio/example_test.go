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

func ExampleReadRequestRows() {
	dir, err := os.MkdirTemp("", "parquetio-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	// A request file with two of the optional columns; the others are
	// left to the job's defaults.
	type request struct {
		ID          string   `parquet:"id"`
		Prompt      string   `parquet:"prompt"`
		Temperature *float64 `parquet:"temperature,optional"`
		Stop        []string `parquet:"stop,list,optional"`
	}
	hot := 1.2
	w, err := parquetio.NewShardWriter[request](dir, "requests", "0", parquetio.ShardOptions{})
	if err != nil {
		log.Fatal(err)
	}
	w.Write(request{ID: "a", Prompt: "Once upon a time", Temperature: &hot, Stop: []string{"\n"}}, request{ID: "b", Prompt: "Hello"})
	path, err := w.Commit()
	if err != nil {
		log.Fatal(err)
	}

	if _, err := parquetio.InspectRequests(path, parquetio.RequestColumns{}); err != nil {
		log.Fatal(err)
	}
	err = parquetio.ReadRequestRows(context.Background(), path, parquetio.RequestColumns{}, func(r parquetio.RequestRow) error {
		fmt.Printf("%s: prompt %q", r.ID, *r.Spec.Prompt)
		if r.Spec.Temperature != nil {
			fmt.Printf(", temperature %g", *r.Spec.Temperature)
		}
		if r.Spec.Stop != nil {
			fmt.Printf(", stop %q", r.Spec.Stop)
		}
		fmt.Println()
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// a: prompt "Once upon a time", temperature 1.2, stop ["\n"]
	// b: prompt "Hello"
}
