package xcheck

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestDir(t *testing.T) {
	dir, err := Dir()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(dir) {
		t.Errorf("Dir() = %q, want an absolute path", dir)
	}
	for _, f := range []string{"package.json", "package-lock.json", "tiktoken_encode.mjs", "duckdb_query.mjs"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
}

func TestTiktokenEncode(t *testing.T) {
	Require(t)
	docs := []string{"hello world", "a\x7fb", "<|endoftext|>", "", "line1\nline2\u2028<tag>&"}
	got, err := TiktokenEncode(testCtx(t), "cl100k_base", docs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(docs) {
		t.Fatalf("got %d results for %d docs", len(got), len(docs))
	}
	want := map[int][]uint32{
		0: {15339, 1917},
		1: {64, 221, 65},
		3: {},
	}
	for i, w := range want {
		if !reflect.DeepEqual(got[i], w) {
			t.Errorf("doc %q: got %v, want %v", docs[i], got[i], w)
		}
	}
	// Ordinary encoding: <|endoftext|> is plain text, never id 100257.
	for _, id := range got[2] {
		if id == 100257 {
			t.Errorf("encode_ordinary(%q) = %v contains the special token", docs[2], got[2])
		}
	}
	if len(got[2]) < 2 || len(got[4]) == 0 {
		t.Errorf("unexpected results %v, %v", got[2], got[4])
	}
}

func TestTiktokenEncodeSpecial(t *testing.T) {
	Require(t)
	got, err := TiktokenEncodeSpecial(testCtx(t), "cl100k_base", []string{"<|endoftext|>", "hello world"})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]uint32{{100257}, {15339, 1917}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestTiktokenEncodings(t *testing.T) {
	Require(t)
	for _, enc := range []string{"cl100k_base", "o200k_base", "p50k_base", "r50k_base"} {
		got, err := TiktokenEncode(testCtx(t), enc, []string{"hello world"})
		if err != nil {
			t.Errorf("%s: %v", enc, err)
			continue
		}
		if len(got) != 1 || len(got[0]) != 2 {
			t.Errorf("%s: got %v, want two tokens", enc, got)
		}
	}
}

func TestTiktokenErrors(t *testing.T) {
	Require(t)
	if _, err := TiktokenEncode(testCtx(t), "no_such_encoding", []string{"x"}); err == nil ||
		!strings.Contains(err.Error(), "no_such_encoding") {
		t.Errorf("unknown encoding: err = %v, want an error naming it", err)
	}
	if _, err := TiktokenEncode(testCtx(t), "cl100k_base", []string{"ok", "bad\xff"}); err == nil {
		t.Error("invalid UTF-8: want an error")
	}
}

func TestDuckDB(t *testing.T) {
	Require(t)
	got, err := DuckDB(testCtx(t), `SELECT 42::INTEGER AS x, [1,2]::INTEGER[] AS l, 'hi' AS s`)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []Column{{"x", "INTEGER"}, {"l", "INTEGER[]"}, {"s", "VARCHAR"}}
	if !reflect.DeepEqual(got.Columns, wantCols) {
		t.Errorf("columns = %v, want %v", got.Columns, wantCols)
	}
	wantRows := [][]any{{float64(42), []any{float64(1), float64(2)}, "hi"}}
	if !reflect.DeepEqual(got.Rows, wantRows) {
		t.Errorf("rows = %#v, want %#v", got.Rows, wantRows)
	}
}

func TestDuckDBBigIntAndParquet(t *testing.T) {
	Require(t)
	ctx := testCtx(t)
	p := filepath.Join(t.TempDir(), "t.parquet")
	q := `COPY (SELECT range AS id, 9007199254740993::BIGINT AS big FROM range(3)) TO '` + p + `' (FORMAT parquet)`
	if _, err := DuckDB(ctx, q); err != nil {
		t.Fatal(err)
	}
	got, err := DuckDB(ctx, `SELECT id, big FROM read_parquet('`+p+`') ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []Column{{"id", "BIGINT"}, {"big", "BIGINT"}}
	if !reflect.DeepEqual(got.Columns, wantCols) {
		t.Errorf("columns = %v, want %v", got.Columns, wantCols)
	}
	if len(got.Rows) != 3 || got.Rows[2][0] != float64(2) || got.Rows[0][1] != "9007199254740993" {
		t.Errorf("rows = %#v", got.Rows)
	}
}

func TestDuckDBError(t *testing.T) {
	Require(t)
	_, err := DuckDB(testCtx(t), `SELEC 1`)
	if err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("err = %v, want a DuckDB syntax error", err)
	}
}
