package parquetio

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// The files in testdata were written by DuckDB 1.5.6 (node bindings) to check
// compatibility with another writer (OPTIONAL columns annotated with legacy
// converted types, v1 data pages, an unread DECIMAL column):
//
//	COPY (SELECT i AS id,
//	        CASE WHEN i % 7 = 0 THEN NULL WHEN i % 2 = 0 THEN 'shared ' || (i % 50)
//	             ELSE 'text ' || i || repeat('é', i % 5) END AS text,
//	        i * 0.5 AS extra
//	      FROM range(5000) t(i))
//	TO 'duckdb-request.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048);
//
//	COPY (SELECT 'd' || i AS id,
//	        CASE WHEN i % 5 = 0 THEN NULL
//	             ELSE list_transform(range(i % 4), x -> (x * 1000 + i)::INTEGER) END AS tokens
//	      FROM range(3000) t(i))
//	TO 'duckdb-tokens.parquet' (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 2048);

func TestDuckDBRequestFile(t *testing.T) {
	const path = "testdata/duckdb-request.parquet"
	info, err := Inspect(path, Columns{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (FileInfo{Path: path, NumRows: 5000, IDIsInt: true}); info != want {
		t.Fatalf("Inspect = %+v, want %+v", info, want)
	}
	if n := len(openParquet(t, path).RowGroups()); n < 2 {
		t.Fatalf("fixture has %d row groups, want several", n)
	}
	var n int64
	err = ReadRows(context.Background(), path, Columns{}, func(r Row) error {
		i := r.Index
		want := Row{File: path, Index: i, ID: fmt.Sprint(i)}
		switch {
		case i%7 == 0:
			want.TextNull = true
		case i%2 == 0:
			want.Text = fmt.Sprint("shared ", i%50)
		default:
			want.Text = fmt.Sprint("text ", i, strings.Repeat("é", int(i%5)))
		}
		if r != want {
			return fmt.Errorf("row %d = %+v, want %+v", i, r, want)
		}
		n++
		return nil
	})
	if err != nil || n != 5000 {
		t.Fatalf("read %d rows: %v", n, err)
	}
}

func TestDuckDBTokenFile(t *testing.T) {
	const path = "testdata/duckdb-tokens.parquet"
	info, err := InspectTokens(path, TokenColumns{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (FileInfo{Path: path, NumRows: 3000}); info != want {
		t.Fatalf("InspectTokens = %+v, want %+v", info, want)
	}
	var n int64
	err = ReadTokenRows(context.Background(), path, TokenColumns{}, func(r TokenRow) error {
		i := r.Index
		want := TokenRow{File: path, Index: i, ID: fmt.Sprint("d", i)}
		if i%5 == 0 {
			want.TokensNull = true
		} else {
			want.Tokens = []int64{}
			for x := range i % 4 {
				want.Tokens = append(want.Tokens, x*1000+i)
			}
		}
		if fmt.Sprintf("%#v", r) != fmt.Sprintf("%#v", want) {
			return fmt.Errorf("row %d = %#v, want %#v", i, r, want)
		}
		n++
		return nil
	})
	if err != nil || n != 3000 {
		t.Fatalf("read %d rows: %v", n, err)
	}
}
