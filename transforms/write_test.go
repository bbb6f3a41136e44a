package transforms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// runSinkBundle runs one bundle of a fresh sink DoFn over rows.
func runSinkBundle[E any](t *testing.T, fn interface {
	StartBundle()
	ProcessElement(E) error
	FinishBundle() error
	Teardown()
}, rows []E) {
	t.Helper()
	fn.StartBundle()
	for _, r := range rows {
		if err := fn.ProcessElement(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := fn.FinishBundle(); err != nil {
		t.Fatal(err)
	}
	fn.Teardown()
}

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
	return names
}

// TestSinkNamesAreDeterministic: a bundle written twice (a retry: the same
// rows in the same order) leaves one set of shards, named after its first
// row; another bundle gets other names.
func TestSinkNamesAreDeterministic(t *testing.T) {
	dir := t.TempDir()
	var res []parquetio.TokenResult
	var fails []TokenizeFailure
	for i := range 10 {
		res = append(res, parquetio.TokenResult{ID: fmt.Sprint("id", i), Tokens: []int32{int32(i)}, Count: 1})
		fails = append(fails, TokenizeFailure{ID: "dup", Error: "e", Stage: StageValidate, File: "in.parquet", Row: int64(100 + i)})
	}
	for range 2 {
		runSinkBundle[parquetio.TokenResult](t, &WriteTokenResultsFn{Dir: dir, ShardRows: 4}, res)
		runSinkBundle[TokenizeFailure](t, &WriteTokenizeErrorsFn{Dir: dir, ShardRows: 4}, fails)
	}
	first := listDir(t, dir)
	if len(first) != 6 {
		t.Fatalf("two runs of the same bundles left %v; want 3 results and 3 errors shards", first)
	}
	rk, ek := shardKey(idKey("id0")), shardKey(locKey("in.parquet", 100))
	for _, want := range []string{"results-" + rk + "-00001.parquet", "results-" + rk + "-00003.parquet", "errors-" + ek + "-00002.parquet"} {
		if !slices.Contains(first, want) {
			t.Errorf("shards %v lack %s", first, want)
		}
	}
	var n int
	for _, name := range first {
		if strings.HasPrefix(name, "results-") {
			rows, err := parquetio.ReadAll[parquetio.TokenResult](filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			n += len(rows)
		}
	}
	if n != 10 {
		t.Errorf("%d result rows, want 10", n)
	}
	// Errors sharing an id (duplicates) are still told apart by location.
	runSinkBundle[TokenizeFailure](t, &WriteTokenizeErrorsFn{Dir: dir, ShardRows: 4}, fails[5:])
	if got := listDir(t, dir); len(got) != 8 {
		t.Errorf("a second errors bundle: %v; want 2 more shards", got)
	}
}

// TestSkipDone: the done set skips results by id (unless the row failed
// before the work step) and error rows by location.
func TestSkipDone(t *testing.T) {
	d := &DoneSet{}
	d.AddID("b")
	d.AddID("a")
	d.AddError("f.parquet", 7)
	d.AddError("f.parquet", 3)
	path := filepath.Join(t.TempDir(), ".resume-1.json")
	if err := WriteDoneFile(path, d); err != nil {
		t.Fatal(err)
	}
	fn := &SkipDoneTextFn{Done: path}
	if err := fn.Setup(); err != nil {
		t.Fatal(err)
	}
	defer fn.Teardown()
	rows := []TextRow{
		{ID: "a", File: "f.parquet", Row: 0},                               // a result: done
		{ID: "a", File: "f.parquet", Row: 1, Err: "duplicate", Stage: "v"}, // a duplicate of it: not done
		{ID: "c", File: "f.parquet", Row: 3},                               // an error row: done
		{ID: "", File: "f.parquet", Row: 7, Err: "null id", Stage: "v"},    // a null id's error row: done
		{ID: "", File: "f.parquet", Row: 8, Err: "null id", Stage: "v"},    // not done
		{ID: "b", File: "g.parquet", Row: 3},                               // b's result: done
		{ID: "d", File: "g.parquet", Row: 7},                               // not done
	}
	var kept []int64
	for _, r := range rows {
		fn.ProcessElement(context.Background(), r, func(r TextRow) { kept = append(kept, r.Row) })
	}
	if want := []int64{1, 8, 7}; !slices.Equal(kept, want) {
		t.Errorf("kept rows %v, want %v", kept, want)
	}
}
