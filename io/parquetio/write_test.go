package parquetio

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// listDir returns the names in dir, sorted.
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// schemaBody returns the schema of a file without its message name line.
func schemaBody(t *testing.T, path string) string {
	t.Helper()
	s := openParquet(t, path).Schema().String()
	_, body, _ := strings.Cut(s, "\n")
	return body
}

func testOutputType[T any](t *testing.T, rows []T, wantSchema string, check func(got []T)) {
	t.Helper()
	dir := t.TempDir()
	w, err := NewShardWriter[T](dir, "out", "shard-0", ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rows...); err != nil {
		t.Fatal(err)
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaBody(t, path); got != wantSchema {
		t.Errorf("schema:\n%s\nwant:\n%s", got, wantSchema)
	}
	got, err := ReadAll[T](path)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got), len(rows))
	}
	check(got)

	// WriteEmpty yields the same schema and no rows.
	empty, err := WriteEmpty[T](dir, "empty", "0")
	if err != nil {
		t.Fatal(err)
	}
	if got := schemaBody(t, empty); got != wantSchema {
		t.Errorf("WriteEmpty schema:\n%s\nwant:\n%s", got, wantSchema)
	}
	if got, err := ReadAll[T](empty); err != nil || len(got) != 0 {
		t.Fatalf("WriteEmpty file: %d rows, err %v", len(got), err)
	}
}

func TestOutputSchemas(t *testing.T) {
	t.Run("TokenResult", func(t *testing.T) {
		rows := []TokenResult{
			{ID: "a", Tokens: []int32{1, 2, 3}, Count: 3, DurationUS: 17},
			{ID: "b", Tokens: []int32{}, Count: 0, DurationUS: 1},
			{ID: "c", Tokens: nil},
		}
		testOutputType(t, rows, `	required binary id (STRING);
	required group tokens (LIST) {
		repeated group list {
			required int32 element (INT(32,true));
		}
	}
	required int32 count (INT(32,true));
	required int64 duration_us (INT(64,true));
}`, func(got []TokenResult) {
			if !reflect.DeepEqual(got[0], rows[0]) {
				t.Errorf("row 0 = %+v, want %+v", got[0], rows[0])
			}
			for i := 1; i < 3; i++ {
				if got[i].ID != rows[i].ID || len(got[i].Tokens) != 0 {
					t.Errorf("row %d = %+v, want an empty token list", i, got[i])
				}
			}
		})
	})
	t.Run("TextResult", func(t *testing.T) {
		rows := []TextResult{{ID: "a", Text: "héllo", Count: 2, DurationUS: 5}, {ID: "b"}}
		testOutputType(t, rows, `	required binary id (STRING);
	required binary text (STRING);
	required int32 count (INT(32,true));
	required int64 duration_us (INT(64,true));
}`, func(got []TextResult) {
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("got %+v, want %+v", got, rows)
			}
		})
	})
	t.Run("TokenizeError", func(t *testing.T) {
		rows := []TokenizeError{
			{ID: "a", Error: "invalid UTF-8", Stage: "tokenize", File: "in.parquet", Row: 7, Text: ptr("bad\xff")},
			{ID: "b", Error: "null text", Stage: "validate", File: "in.parquet", Row: 8, Text: nil},
			{ID: "c", Error: "empty", Stage: "validate", File: "in.parquet", Row: 9, Text: ptr("")},
		}
		testOutputType(t, rows, `	required binary id (STRING);
	required binary error (STRING);
	required binary stage (STRING);
	required binary file (STRING);
	required int64 row (INT(64,true));
	optional binary text (STRING);
}`, func(got []TokenizeError) {
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("got %+v, want %+v", got, rows)
			}
			if got[1].Text != nil || got[2].Text == nil {
				t.Errorf("nil/empty text not preserved: %v %v", got[1].Text, got[2].Text)
			}
		})
	})
	t.Run("DetokenizeError", func(t *testing.T) {
		rows := []DetokenizeError{
			{ID: "a", Error: "unknown token 99999", Stage: "detokenize", File: "t.parquet", Row: 1, Tokens: []int64{5, 99999}},
			{ID: "b", Error: "null tokens", Stage: "validate", File: "t.parquet", Row: 2, Tokens: nil},
			{ID: "c", Error: "empty", Stage: "validate", File: "t.parquet", Row: 3, Tokens: []int64{}},
		}
		testOutputType(t, rows, `	required binary id (STRING);
	required binary error (STRING);
	required binary stage (STRING);
	required binary file (STRING);
	required int64 row (INT(64,true));
	optional group tokens (LIST) {
		repeated group list {
			required int64 element (INT(64,true));
		}
	}
}`, func(got []DetokenizeError) {
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("got %#v, want %#v", got, rows)
			}
		})
	})
}

func TestShardWriterCommit(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardWriter[TokenResult](dir, "results", "00003", ShardOptions{RowGroupRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort() // no-op after Commit
	var want []TokenResult
	for i := range 25 {
		r := TokenResult{ID: fmt.Sprint(i), Tokens: []int32{int32(i)}, Count: 1}
		want = append(want, r)
		if err := w.Write(r); err != nil {
			t.Fatal(err)
		}
	}
	if w.Rows() != 25 {
		t.Errorf("Rows() = %d, want 25", w.Rows())
	}
	names := listDir(t, dir)
	if len(names) != 1 || !strings.HasPrefix(names[0], ".results-00003.parquet.") || !strings.HasSuffix(names[0], ".tmp") {
		t.Fatalf("before commit dir holds %q, want only a hidden temp file", names)
	}
	path, err := w.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "results-00003.parquet"); path != want {
		t.Errorf("Commit path = %q, want %q", path, want)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"results-00003.parquet"}) {
		t.Fatalf("after commit dir holds %q", got)
	}
	got, err := ReadAll[TokenResult](path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read back %+v", got)
	}
	if n := len(openParquet(t, path).RowGroups()); n != 3 {
		t.Errorf("%d row groups, want 3 (RowGroupRows 10, 25 rows)", n)
	}
	if cc := openParquet(t, path).Metadata().RowGroups[0].Columns[0].MetaData.Codec.String(); cc != "ZSTD" {
		t.Errorf("codec %s, want ZSTD", cc)
	}
	if err := w.Write(TokenResult{}); err == nil {
		t.Error("Write after Commit succeeded")
	}
	if _, err := w.Commit(); err == nil {
		t.Error("second Commit succeeded")
	}

	// Committing the same shard again (a retry) replaces it.
	w2, err := NewShardWriter[TokenResult](dir, "results", "00003", ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w2.Write(TokenResult{ID: "retry"})
	if _, err := w2.Commit(); err != nil {
		t.Fatal(err)
	}
	if got, _ := ReadAll[TokenResult](path); len(got) != 1 || got[0].ID != "retry" {
		t.Errorf("retry commit: got %+v", got)
	}
}

func TestShardWriterAbort(t *testing.T) {
	dir := t.TempDir()
	w, err := NewShardWriter[TextResult](dir, "results", "a", ShardOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(TextResult{ID: "x", Text: "y"})
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Fatalf("after abort dir holds %q", got)
	}
	if err := w.Abort(); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if _, err := w.Commit(); err == nil {
		t.Error("Commit after Abort succeeded")
	}
}

func TestNewShardWriterErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, dir, prefix, shard string
		opts                     ShardOptions
	}{
		{"empty prefix", dir, "", "a", ShardOptions{}},
		{"empty name", dir, "results", "", ShardOptions{}},
		{"slash in name", dir, "results", "a/b", ShardOptions{}},
		{"dotdot name", dir, "results", "..", ShardOptions{}},
		{"negative row groups", dir, "results", "a", ShardOptions{RowGroupRows: -1}},
		{"missing dir", filepath.Join(dir, "nope"), "results", "a", ShardOptions{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := NewShardWriter[TextResult](tc.dir, tc.prefix, tc.shard, tc.opts)
			if err == nil {
				w.Abort()
				t.Fatal("NewShardWriter succeeded")
			}
		})
	}
	if got := listDir(t, dir); len(got) != 0 {
		t.Fatalf("dir holds %q", got)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"b.parquet", "a.parquet", "c.txt", "sub/d.parquet"} {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, nil, 0o644)
	}
	j := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, filepath.Join(dir, n))
		}
		return out
	}
	cases := []struct {
		name     string
		patterns []string
		want     []string
		wantErr  string // with %s for dir
	}{
		{"glob", j("*.parquet"), j("a.parquet", "b.parquet"), ""},
		{"plain paths sorted", j("b.parquet", "c.txt"), j("b.parquet", "c.txt"), ""},
		{"dedupe glob and path", append(j("a.parquet", "*.parquet"), dir+"/./a.parquet"), j("a.parquet", "b.parquet"), ""},
		{"nested glob", j("*/*.parquet", "?.txt"), j("c.txt", "sub/d.parquet"), ""},
		{"none", nil, nil, ""},
		{"glob matches nothing", j("x/*.parquet"), nil, `input "%s/x/*.parquet": no files match`},
		{"missing file", j("x.parquet"), nil, `input "%s/x.parquet": no such file`},
		{"directory", j("sub"), nil, `input "%s/sub": is a directory, want a Parquet file (use a glob such as "%[1]s/sub/*.parquet")`},
		{"glob matches directory", j("s*"), nil, `input "%s/s*": matches directory "%[1]s/sub", want only Parquet files`},
		{"bad pattern", j("[.parquet"), nil, `input "%s/[.parquet": bad glob pattern: syntax error in pattern`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Expand(tc.patterns)
			if tc.wantErr != "" {
				want := fmt.Sprintf(tc.wantErr, dir)
				if err == nil || err.Error() != want {
					t.Fatalf("err = %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadAllErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.parquet")
	os.WriteFile(p, []byte("not parquet at all"), 0o644)
	if _, err := ReadAll[TextResult](p); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("err = %v, want an error naming the file", err)
	}
	if _, err := ReadAll[TextResult](filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
}
