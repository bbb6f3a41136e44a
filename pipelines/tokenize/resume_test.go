package tokenize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// TestDetokenizeResume interrupts a detokenization run by taking away some
// of its committed shards and its _SUCCESS, and resumes it: the output is
// then the complete run's, every row once. (cmd/run's kill test does the
// same to a real tokenize process.)
func TestDetokenizeResume(t *testing.T) {
	dir := t.TempDir()
	type idsRow struct {
		ID     *string  `parquet:"id,optional"`
		Tokens []*int64 `parquet:"tokens,list,optional"`
	}
	var rows []idsRow
	for i := range 40 {
		a, b := int64(31373+i), int64(995)
		r := idsRow{ID: ptr(fmt.Sprintf("d%02d", i)), Tokens: []*int64{&a, &b}}
		switch i {
		case 5:
			r.ID = nil // null id
		case 11:
			r.ID = ptr("d03") // duplicate
		case 17:
			oov := int64(90000)
			r.Tokens = []*int64{&oov}
		case 23:
			r.Tokens = nil
		}
		rows = append(rows, r)
	}
	in := writeRows(t, filepath.Join(dir, "in.parquet"), rows)
	out := filepath.Join(dir, "out")
	cfg := DetokenizeConfig{Inputs: []string{in}, Output: out, Encoding: "p50k_base", Runner: runner(), BatchSize: 3, ShardRows: 3}
	full, err := Detokenize(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	render := func() map[string]int {
		m := map[string]int{}
		for _, prefix := range []string{"results", "errors"} {
			files, _ := filepath.Glob(filepath.Join(out, prefix+"-*.parquet"))
			for _, f := range files {
				if prefix == "results" {
					rs, err := parquetio.ReadAll[parquetio.TextResult](f)
					if err != nil {
						t.Fatal(err)
					}
					for _, r := range rs {
						m[r.ID+" "+r.Text]++
					}
					continue
				}
				es, err := parquetio.ReadAll[parquetio.DetokenizeError](f)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					m[fmt.Sprint(e.ID, " ", e.Row, " ", e.Stage)]++
				}
			}
		}
		return m
	}
	want := render()
	if full.Errors != 4 || full.Results != 36 {
		t.Fatalf("full run: %d results, %d errors", full.Results, full.Errors)
	}
	os.Remove(filepath.Join(out, "_SUCCESS"))
	shards, _ := filepath.Glob(filepath.Join(out, "*s-*.parquet"))
	for i, s := range shards {
		if i%2 == 0 {
			os.Remove(s)
		}
	}
	cfg.Resume = true
	rep, err := Detokenize(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Skipped == 0 || rep.Skipped >= full.Rows || rep.Results != full.Results || rep.Errors != full.Errors {
		t.Errorf("resumed: %d skipped, %d results, %d errors; full run %d rows, %d results, %d errors", rep.Skipped, rep.Results, rep.Errors, full.Rows, full.Results, full.Errors)
	}
	if got := render(); !reflect.DeepEqual(got, want) {
		t.Errorf("after resume:\n%v\nwant\n%v", got, want)
	}
	if data, err := os.ReadFile(filepath.Join(out, "_SUCCESS")); err != nil || !strings.Contains(string(data), `"resumed": true`) {
		t.Errorf("_SUCCESS: %v %s", err, data)
	}
}
