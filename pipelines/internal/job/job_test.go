package job

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
)

// TestMain accepts the -runner flag the Beam-linked test packages are run
// with (make test runs them again with -runner=direct).
func TestMain(m *testing.M) { ptest.Main(m) }

// TestPrepareOutput: a previous run is refused, saying whether it
// completed; --resume keeps an interrupted run's shards and removes its
// temporary and empty files, and reports a completed run.
func TestPrepareOutput(t *testing.T) {
	dir := t.TempDir()
	write := func(names ...string) {
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if prev, err := PrepareOutput(dir, false, true); err != nil || prev.Resume || prev.Complete {
		t.Fatalf("empty folder: %+v, %v", prev, err)
	}
	write("results-a-00001.parquet", "errors-empty.parquet", ".results-b-00001.parquet.1.tmp", ".resume-1.json", "notes.txt")
	if _, err := PrepareOutput(dir, false, false); err == nil || !strings.Contains(err.Error(), "did not complete") || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("incomplete run: %v", err)
	}
	if _, err := PrepareOutput(dir, true, true); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Errorf("overwrite and resume: %v", err)
	}
	prev, err := PrepareOutput(dir, false, true)
	if err != nil || !prev.Resume {
		t.Fatalf("resume: %+v, %v", prev, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	hidden, _ := filepath.Glob(filepath.Join(dir, ".*"))
	if len(left) != 2 || len(hidden) != 0 {
		t.Errorf("after resume: %v %v; want the committed shard and notes.txt", left, hidden)
	}
	if err := Complete(dir, &Manifest{Job: "tokenize", InputRows: 1, Results: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareOutput(dir, false, false); err == nil || !strings.Contains(err.Error(), "completed") || strings.Contains(err.Error(), "--resume") {
		t.Errorf("completed run: %v", err)
	}
	prev, err = PrepareOutput(dir, false, true)
	if err != nil || !prev.Complete || prev.Manifest.Job != "tokenize" || prev.Manifest.Finished.IsZero() {
		t.Errorf("resume of a completed run: %+v, %v", prev, err)
	}
	if _, err := PrepareOutput(dir, true, false); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Errorf("after overwrite: %v", left)
	}
}

func TestInputLocation(t *testing.T) {
	for _, tc := range []struct {
		msg  string
		file string
		row  int64
		ok   bool
	}{
		{`input "a.parquet" row 12 (id "x"): field "prompt" is null`, "a.parquet", 12, true},
		{`input "dir/b \"q\".jsonl" line 3 (id null): not JSON`, `dir/b "q".jsonl`, 3, true},
		{`input "c.jsonl" line 7`, "c.jsonl", 7, true},
		{`something else`, "", 0, false},
		{`input "c.jsonl" page 7`, "", 0, false},
	} {
		file, row, ok := inputLocation(tc.msg)
		if ok != tc.ok || (ok && (file != tc.file || row != tc.row)) {
			t.Errorf("inputLocation(%q) = %q, %d, %v", tc.msg, file, row, ok)
		}
	}
}
