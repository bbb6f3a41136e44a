package infer

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// outputRows renders every row of an output folder's prefix-* shards
// (Parquet rows or JSONL lines) as a string, without the fields that vary
// between runs (durations, creation times).
func outputRows(t *testing.T, dir, prefix string) []string {
	t.Helper()
	var rows []string
	if files, _ := filepath.Glob(filepath.Join(dir, prefix+"-*.jsonl")); len(files) > 0 {
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
				if l != "" {
					var m map[string]any
					json.Unmarshal([]byte(l), &m)
					if r, ok := m["response"].(map[string]any); ok {
						delete(r["body"].(map[string]any), "created")
					}
					b, _ := json.Marshal(m)
					rows = append(rows, string(b))
				}
			}
		}
		return rows
	}
	if prefix == "results" {
		for id, r := range readResults(t, dir) {
			r.DurationMS, r.TTFTMS = 0, nil
			rows = append(rows, fmt.Sprintf("%s %+v", id, r))
		}
		return rows
	}
	for k, e := range readErrors(t, dir) {
		rows = append(rows, fmt.Sprintf("%s %s %s", k, e.Stage, e.Error))
	}
	return rows
}

// sortedRows counts the rendered rows of an output folder's shards.
func sortedRows(t *testing.T, dir, prefix string) map[string]int {
	m := map[string]int{}
	for _, r := range outputRows(t, dir, prefix) {
		m[r]++
	}
	return m
}

// TestResume interrupts a run by taking away some of its committed shards
// and its _SUCCESS (as a killed run leaves its folder, with an uncommitted
// temporary shard), and resumes it: the output is then the complete run's,
// every row once, with a new _SUCCESS. Parquet and OpenAI batch files.
func TestResume(t *testing.T) {
	dir := t.TempDir()
	var rows []reqRow
	for i := range 30 {
		r := reqRow{ID: ptr(fmt.Sprintf("q%02d", i)), Prompt: ptr(fmt.Sprintf("Once upon a time %d", i)), MaxTokens: ptr(int64(3))}
		switch i {
		case 4:
			r.ID = nil // null id
		case 9:
			r.ID = ptr("q02") // duplicate
		case 17:
			r.Prompt = nil
		case 22:
			r.Temperature = ptr(9.0)
		}
		rows = append(rows, r)
	}
	pq := writeRequests(t, filepath.Join(dir, "in.parquet"), rows)
	var lines []string
	for i := range 12 {
		switch i {
		case 3:
			lines = append(lines, "not JSON")
		case 5:
			lines = append(lines, `{"custom_id":"c01","method":"POST","url":"/v1/completions","body":{"prompt":"again","max_tokens":3}}`)
		default:
			lines = append(lines, fmt.Sprintf(`{"custom_id":"c%02d","method":"POST","url":"/v1/completions","body":{"prompt":"Once upon %d","max_tokens":3,"temperature":0}}`, i, i))
		}
	}
	jsonl := filepath.Join(dir, "in.jsonl")
	os.WriteFile(jsonl, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	for _, in := range []string{pq, jsonl} {
		t.Run(filepath.Ext(in), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			cfg := config(in, out)
			cfg.ShardRows = 2
			cfg.BatchSize = 2
			full, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			wantRes, wantErrs := sortedRows(t, out, "results"), sortedRows(t, out, "errors")
			if _, err := os.Stat(filepath.Join(out, "_SUCCESS")); err != nil {
				t.Fatal(err)
			}

			// Interrupt it: no _SUCCESS, every other shard gone, a
			// temporary file left.
			os.Remove(filepath.Join(out, "_SUCCESS"))
			shards, _ := filepath.Glob(filepath.Join(out, "*s-*.*"))
			var kept int
			for i, s := range shards {
				if i%2 == 0 {
					os.Remove(s)
				} else {
					kept++
				}
			}
			os.WriteFile(filepath.Join(out, ".results-x.parquet.123.tmp"), []byte("partial"), 0o644)
			if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "did not complete") {
				t.Fatalf("rerun without resume: %v", err)
			}

			cfg.Resume = true
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Skipped == 0 || rep.Skipped >= full.Rows || rep.Results != full.Results || rep.Errors != full.Errors {
				t.Errorf("resumed: %d skipped (%d shards kept), %d results, %d errors; the full run %d rows, %d results, %d errors",
					rep.Skipped, kept, rep.Results, rep.Errors, full.Rows, full.Results, full.Errors)
			}
			if got := sortedRows(t, out, "results"); !reflect.DeepEqual(got, wantRes) {
				t.Errorf("results after resume:\n%v\nwant\n%v", got, wantRes)
			}
			if got := sortedRows(t, out, "errors"); !reflect.DeepEqual(got, wantErrs) {
				t.Errorf("errors after resume:\n%v\nwant\n%v", got, wantErrs)
			}
			if left, _ := filepath.Glob(filepath.Join(out, ".*")); len(left) > 0 {
				t.Errorf("temporary files left: %v", left)
			}
			data, err := os.ReadFile(filepath.Join(out, "_SUCCESS"))
			if err != nil || !strings.Contains(string(data), `"resumed": true`) {
				t.Errorf("_SUCCESS: %v %s", err, data)
			}

			// Resuming the completed run does nothing.
			again, err := Run(context.Background(), cfg)
			if err != nil || !again.AlreadyComplete || !strings.Contains(again.Summary(), "nothing to do") {
				t.Errorf("resume of a completed run: %v %+v", err, again)
			}
			cfg.Overwrite = true
			if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "exclude each other") {
				t.Errorf("resume and overwrite: %v", err)
			}
		})
	}
}
