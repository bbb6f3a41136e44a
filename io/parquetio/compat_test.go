package parquetio

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/infer"
	"github.com/minerva-batch/minerva/internal/xcheck"
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
//
//	COPY (SELECT i AS id,
//	        CASE WHEN i % 11 = 0 THEN NULL ELSE 'prompt ' || i || repeat('é', i % 3) END AS prompt,
//	        CASE WHEN i % 3 = 0 THEN NULL ELSE (i % 100 + 1)::INTEGER END AS max_tokens,
//	        CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 10) / 10 END AS temperature,
//	        CASE WHEN i % 5 = 0 THEN NULL ELSE 0.9::DOUBLE END AS top_p,
//	        CASE WHEN i % 6 = 0 THEN NULL ELSE (i % 40)::INTEGER END AS top_k,
//	        CASE WHEN i % 7 = 0 THEN NULL ELSE i * 7 END AS seed,
//	        CASE WHEN i % 8 = 0 THEN NULL WHEN i % 8 = 1 THEN []::VARCHAR[]
//	             WHEN i % 8 = 2 THEN ['a', NULL] ELSE list_transform(range(i % 3 + 1), x -> 's' || x || '-' || i) END AS stop,
//	        CASE WHEN i % 9 = 0 THEN NULL ELSE (i % 5 - 2)::INTEGER END AS priority
//	      FROM range(2200) t(i))
//	TO 'duckdb-infer-request.parquet' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 2048);
//
//	COPY (SELECT 'a' AS id, 'p' AS prompt, 0.7 AS temperature) TO 'duckdb-decimal.parquet' (FORMAT parquet);

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

func TestDuckDBInferRequestFile(t *testing.T) {
	const path = "testdata/duckdb-infer-request.parquet"
	info, err := InspectRequests(path, RequestColumns{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (FileInfo{Path: path, NumRows: 2200, IDIsInt: true}); info != want {
		t.Fatalf("InspectRequests = %+v, want %+v", info, want)
	}
	if n := len(openParquet(t, path).RowGroups()); n < 2 {
		t.Fatalf("fixture has %d row groups, want several", n)
	}
	var n int64
	err = ReadRequestRows(context.Background(), path, RequestColumns{}, func(r RequestRow) error {
		i := r.Index
		want := RequestRow{File: path, Index: i, ID: fmt.Sprint(i)}
		s := &want.Spec
		if i%11 != 0 {
			s.Prompt = ptr(fmt.Sprint("prompt ", i, strings.Repeat("é", int(i%3))))
		}
		if i%3 != 0 {
			s.MaxTokens = ptr(i%100 + 1)
		}
		if i%4 != 0 {
			s.Temperature = ptr(float64(i%10) / 10)
		}
		if i%5 != 0 {
			s.TopP = ptr(0.9)
		}
		if i%6 != 0 {
			s.TopK = ptr(i % 40)
		}
		if i%7 != 0 {
			s.Seed = ptr(i * 7)
		}
		switch {
		case i%8 == 0:
		case i%8 == 1:
			s.Stop = []string{}
		case i%8 == 2:
			s.Stop = []string{"a", ""} // the null element is kept as ""
		default:
			for x := range i%3 + 1 {
				s.Stop = append(s.Stop, fmt.Sprint("s", x, "-", i))
			}
		}
		if i%9 != 0 {
			s.Priority = ptr(i%5 - 2)
		}
		if got, w := rowString(r), rowString(want); got != w || (r.Spec.Stop == nil) != (s.Stop == nil) {
			return fmt.Errorf("row %d:\n got %s\nwant %s", i, got, w)
		}
		n++
		return nil
	})
	if err != nil || n != 2200 {
		t.Fatalf("read %d rows: %v", n, err)
	}
}

func TestDuckDBDecimalTemperature(t *testing.T) {
	const path = "testdata/duckdb-decimal.parquet"
	want := `input "testdata/duckdb-decimal.parquet": column "temperature" has type INT32 (DECIMAL(2,1)), want a float (FLOAT or DOUBLE) or an integer; cast the column to DOUBLE (DuckDB gives literals such as 0.7 the DECIMAL type)`
	if _, err := InspectRequests(path, RequestColumns{}); err == nil || err.Error() != want {
		t.Fatalf("InspectRequests error:\n got %v\nwant %s", err, want)
	}
}

// TestInferOutputInDuckDB reads InferResult and InferError shards with DuckDB
// and checks the types it sees.
func TestInferOutputInDuckDB(t *testing.T) {
	xcheck.Require(t)
	dir := t.TempDir()
	res, err := NewShardWriter[InferResult](dir, "results", "0", ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res.Write(InferResult{ID: "a", Text: "t", PromptTokens: 3, CompletionTokens: 4, FinishReason: "stop", TTFTMS: ptr(1.5), DurationMS: 9.25, Model: "m", Seed: 1 << 40},
		InferResult{ID: "b", FinishReason: "length"})
	if _, err := res.Commit(); err != nil {
		t.Fatal(err)
	}
	errs, err := NewShardWriter[InferError](dir, "errors", "0", ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	e := InferError{ID: "a", Error: "x", Stage: "validate", File: "f", Row: 2}
	e.SetSpec(infer.Spec{Prompt: ptr("p"), MaxTokens: ptr(int64(5)), Temperature: ptr(0.5), TopP: ptr(0.25), TopK: ptr(int64(6)), Seed: ptr(int64(7)), Stop: []string{"s", ""}, Priority: ptr(int64(-1))})
	errs.Write(e, InferError{ID: "b", Stop: []string{}})
	if _, err := errs.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := WriteEmpty[InferError](dir, "errors", "empty"); err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	tab, err := xcheck.DuckDB(ctx, fmt.Sprintf("SELECT * FROM '%s/results-0.parquet' ORDER BY id", dir))
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []xcheck.Column{{Name: "id", Type: "VARCHAR"}, {Name: "text", Type: "VARCHAR"}, {Name: "prompt_tokens", Type: "INTEGER"},
		{Name: "completion_tokens", Type: "INTEGER"}, {Name: "finish_reason", Type: "VARCHAR"}, {Name: "ttft_ms", Type: "DOUBLE"},
		{Name: "duration_ms", Type: "DOUBLE"}, {Name: "model", Type: "VARCHAR"}, {Name: "seed", Type: "BIGINT"}}
	if !slices.Equal(tab.Columns, wantCols) {
		t.Errorf("results columns = %v, want %v", tab.Columns, wantCols)
	}
	if got := fmt.Sprint(tab.Rows); got != "[[a t 3 4 stop 1.5 9.25 m 1.099511627776e+12] [b  0 0 length <nil> 0  0]]" {
		t.Errorf("results rows = %s", got)
	}

	wantCols = []xcheck.Column{{Name: "id", Type: "VARCHAR"}, {Name: "error", Type: "VARCHAR"}, {Name: "stage", Type: "VARCHAR"},
		{Name: "file", Type: "VARCHAR"}, {Name: "row", Type: "BIGINT"}, {Name: "prompt", Type: "VARCHAR"}, {Name: "max_tokens", Type: "BIGINT"},
		{Name: "temperature", Type: "DOUBLE"}, {Name: "top_p", Type: "DOUBLE"}, {Name: "top_k", Type: "BIGINT"}, {Name: "seed", Type: "BIGINT"},
		{Name: "stop", Type: "VARCHAR[]"}, {Name: "priority", Type: "BIGINT"}}
	for _, q := range []struct{ file, rows string }{
		{"errors-0.parquet", "[[a x validate f 2 p 5 0.5 0.25 6 7 [s ] -1] [b    0 <nil> <nil> <nil> <nil> <nil> <nil> [] <nil>]]"},
		{"errors-empty.parquet", "[]"},
	} {
		tab, err = xcheck.DuckDB(ctx, fmt.Sprintf("SELECT * FROM '%s' ORDER BY id", filepath.Join(dir, q.file)))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(tab.Columns, wantCols) {
			t.Errorf("%s columns = %v, want %v", q.file, tab.Columns, wantCols)
		}
		if got := fmt.Sprint(tab.Rows); got != q.rows {
			t.Errorf("%s rows = %s, want %s", q.file, got, q.rows)
		}
	}
}
