package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/io/parquetio"
)

type nullableRow struct {
	ID   string  `parquet:"id"`
	Text *string `parquet:"text,optional"`
}

// killInput writes n rows of text: a duplicate id every 10007 rows, a null
// text every 20011 and a disallowed special token every 30011 (error rows,
// so that errors shards are resumed too). It returns the rows and which of
// them are error rows.
func killInput(t *testing.T, path string, n int) ([]nullableRow, map[int64]bool) {
	t.Helper()
	words := strings.Fields("the quick brown fox jumps over a lazy dog while seven wizards quietly judge boxing matches under naïve café lights and 1234 numbers")
	rng := rand.New(rand.NewPCG(7, 11))
	rows := make([]nullableRow, n)
	bad := map[int64]bool{}
	for i := range rows {
		rows[i].ID = fmt.Sprintf("r%07d", i)
		var b strings.Builder
		for j := range 12 + rng.IntN(12) {
			if j > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
		}
		text := b.String()
		switch {
		case i > 0 && i%10007 == 0:
			rows[i].ID = rows[i-5].ID
			bad[int64(i)] = true
		case i%20011 == 7:
			bad[int64(i)] = true
			continue
		case i%30011 == 9:
			text += " <|endoftext|>"
			bad[int64(i)] = true
		}
		rows[i].Text = &text
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	return rows, bad
}

// TestKillAndResume runs "run tokenize" as a child process, kills it
// (SIGKILL) once it has committed a results shard, and finishes the job
// with --resume: the output then holds every row exactly once, as a clean
// run would.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a job of 300,000 rows twice")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.parquet"), filepath.Join(dir, "out")
	const n = 300_000
	rows, bad := killInput(t, in, n)
	args := []string{"tokenize", "--input", in, "--output", out, "--shard-rows", "5000", "--runner", runner()}

	child := exec.Command(os.Args[0], args...)
	child.Env = append(os.Environ(), "MINERVA_RUN_CLI=1")
	var childErr bytes.Buffer
	child.Stdout, child.Stderr = &childErr, &childErr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	deadline := time.After(60 * time.Second)
wait:
	for {
		select {
		case err := <-exited:
			t.Fatalf("the job ended (%v) before it committed a shard we could kill it after:\n%s", err, childErr.String())
		case <-deadline:
			child.Process.Kill()
			t.Fatal("no results shard after 60 s")
		case <-time.After(5 * time.Millisecond):
			if m, _ := filepath.Glob(filepath.Join(out, "results-*.parquet")); len(m) >= 3 {
				break wait
			}
		}
	}
	if err := child.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-exited
	if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err == nil {
		t.Fatal("the job completed before it was killed")
	}
	shards, _ := filepath.Glob(filepath.Join(out, "results-*.parquet"))
	t.Logf("killed with %d results shards committed", len(shards))

	// Without --resume the incomplete run is refused; --resume with
	// --overwrite is a usage error.
	if code, _, stderr := runCLI(args...); code != 1 || !strings.Contains(stderr, "did not complete") || !strings.Contains(stderr, "--resume") {
		t.Errorf("rerun without --resume: exit %d, %s", code, stderr)
	}
	if code, _, stderr := runCLI(append(args, "--resume", "--overwrite")...); code != 2 || !strings.Contains(stderr, "exclude each other") {
		t.Errorf("--resume --overwrite: exit %d, %s", code, stderr)
	}

	code, stdout, stderr := runCLI(append(args, "--resume")...)
	if code != 0 {
		t.Fatalf("--resume: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "resumed:") {
		t.Errorf("the summary does not say the run was resumed:\n%s", stdout)
	}
	var m struct {
		InputRows    int64 `json:"input_rows"`
		Results      int64 `json:"results"`
		Errors       int64 `json:"errors"`
		SkippedRows  int64 `json:"skipped_rows"`
		Resumed      bool  `json:"resumed"`
		ResultShards []struct {
			Name string `json:"name"`
		} `json:"result_shards"`
	}
	data, err := os.ReadFile(filepath.Join(out, "_SUCCESS"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.InputRows != n || m.Results+m.Errors != n || !m.Resumed || m.SkippedRows < 5000 || len(m.ResultShards) < len(shards) {
		t.Errorf("_SUCCESS: %s", data)
	}
	if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Every row exactly once: results by id, errors by row.
	seen := map[string]int{}
	got := map[string][]int32{}
	res, _ := filepath.Glob(filepath.Join(out, "results-*.parquet"))
	for _, f := range res {
		rs, err := parquetio.ReadAll[parquetio.TokenResult](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			seen[r.ID]++
			got[r.ID] = r.Tokens
		}
	}
	errRows := map[int64]int{}
	errs, _ := filepath.Glob(filepath.Join(out, "errors-*.parquet"))
	for _, f := range errs {
		es, err := parquetio.ReadAll[parquetio.TokenizeError](f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			errRows[e.Row]++
		}
	}
	if len(errRows) != len(bad) {
		t.Errorf("%d error rows, want %d", len(errRows), len(bad))
	}
	for r, c := range errRows {
		if c != 1 || !bad[r] {
			t.Errorf("row %d: %d error rows (an error row: %v)", r, c, bad[r])
		}
	}
	if len(seen) != n-len(bad) {
		t.Errorf("%d result ids, want %d", len(seen), n-len(bad))
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("id %s: %d results", id, c)
		}
	}
	// The token ids are a clean run's: tiktoken's.
	tok, err := tokenizer.New("cl100k_base", tokenizer.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 3; i < n; i += 997 {
		if bad[int64(i)] {
			continue
		}
		want, err := tok.Encode(*rows[i].Text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got[rows[i].ID], want) {
			t.Errorf("row %d: tokens %v, want %v", i, got[rows[i].ID], want)
		}
	}

	// --resume on the completed run does nothing and says so.
	before, _ := os.ReadFile(filepath.Join(out, "_SUCCESS"))
	code, stdout, stderr = runCLI(append(args, "--resume")...)
	if code != 0 || !strings.Contains(stdout, "already complete") {
		t.Errorf("--resume on a completed run: exit %d, %s%s", code, stdout, stderr)
	}
	if after, _ := os.ReadFile(filepath.Join(out, "_SUCCESS")); !bytes.Equal(before, after) {
		t.Error("--resume on a completed run rewrote _SUCCESS")
	}
	if code, _, stderr := runCLI(args...); code != 1 || !strings.Contains(stderr, "completed") {
		t.Errorf("rerun of a completed run: exit %d, %s", code, stderr)
	}
}
