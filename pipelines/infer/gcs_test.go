package infer

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/blob/blobtest"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/tokenize"
)

// shardPaths lists the shards of dir (local or gs://) matching pattern.
func shardPaths(t *testing.T, dir, pattern string) []string {
	t.Helper()
	infos, err := blob.Glob(context.Background(), blob.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, i := range infos {
		out = append(out, i.Path)
	}
	return out
}

// upload copies local files to gs:// names.
func upload(t *testing.T, files map[string]string) {
	t.Helper()
	for gs, local := range files {
		data, err := os.ReadFile(local)
		if err != nil {
			t.Fatal(err)
		}
		if err := blob.WriteFile(context.Background(), gs, data); err != nil {
			t.Fatal(err)
		}
	}
}

// faultPlan fails, resets or slows every 6th request to the emulator,
// cycling through the faults, and fails or resets every 3rd upload.
func faultPlan() func(int64, *http.Request) blobtest.Fault {
	every := blobtest.Every(6, blobtest.Unavailable, blobtest.Reset, blobtest.TooMany, blobtest.Slow)
	var uploads atomic.Int64
	return func(n int64, r *http.Request) blobtest.Fault {
		if strings.HasPrefix(r.URL.Path, "/upload/") {
			if u := uploads.Add(1); u%3 == 0 {
				return []blobtest.Fault{blobtest.Unavailable, blobtest.Reset}[u/3%2]
			}
			return blobtest.None
		}
		return every(n, r)
	}
}

type tokRow struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
}

// TestCloudStorage runs the tokenize and infer jobs on gs:// inputs (a glob)
// and a gs:// output through an emulator that fails, resets and slows
// requests, and checks they give what the same jobs give on local files:
// every row once, as a result or an error.
func TestCloudStorage(t *testing.T) {
	ctx := context.Background()
	emu := blobtest.Start(t, "bkt")
	dir := t.TempDir()

	// Tokenize: two files, one row with a disallowed special token (an
	// error row).
	words := strings.Fields("the quick brown fox jumps over the lazy dog 東京 🎉")
	for f := range 2 {
		var rows []tokRow
		for i := range 120 {
			rows = append(rows, tokRow{int64(f*1000 + i), strings.Repeat(words[i%len(words)]+" ", i%5) + fmt.Sprint(i)})
		}
		if f == 1 {
			rows[7].Text = "a <|endoftext|> b"
		}
		local := writeRows(t, filepath.Join(dir, "tok", fmt.Sprintf("part-%d.parquet", f)), rows)
		upload(t, map[string]string{fmt.Sprintf("gs://bkt/in/tok/part-%d.parquet", f): local})
	}
	tokCfg := func(in, out string) tokenize.Config {
		return tokenize.Config{Inputs: []string{in}, Output: out, Encoding: "cl100k_base", Runner: runner(), ShardRows: 50}
	}
	localRep, err := tokenize.Run(ctx, tokCfg(filepath.Join(dir, "tok", "*.parquet"), filepath.Join(dir, "out-tok")))
	if err != nil {
		t.Fatal(err)
	}
	emu.Faults(faultPlan())
	gsOut := "gs://bkt/out/tok"
	rep, err := tokenize.Run(ctx, tokCfg("gs://bkt/in/tok/*.parquet", gsOut))
	if err != nil {
		t.Fatalf("tokenize on gs://: %v", err)
	}
	if rep.Counters["gcs_retries"] == 0 {
		t.Errorf("no GCS retries counted in the tokenize job's metrics %v", rep.Counters)
	}
	if rep.Rows != 240 || rep.Results != 239 || rep.Errors != 1 || rep.Results != localRep.Results {
		t.Errorf("gs:// tokenize: %d rows, %d results, %d errors; local %d results", rep.Rows, rep.Results, rep.Errors, localRep.Results)
	}
	want, wantErrs := tokenOutputs(t, filepath.Join(dir, "out-tok"))
	got, gotErrs := tokenOutputs(t, gsOut)
	if !slices.Equal(got, want) || len(got) != 239 {
		t.Errorf("gs:// token ids differ from the local run's (%d results, want %d)", len(got), len(want))
	}
	if len(gotErrs) != 1 || gotErrs[0] != strings.ReplaceAll(wantErrs[0], filepath.Join(dir, "tok"), "gs://bkt/in/tok") {
		t.Errorf("errors %q, want %q", gotErrs, wantErrs)
	}
	if st, err := blob.Stat(ctx, gsOut+"/stats.json"); err != nil || st.Size == 0 || rep.Stats.TotalItems != 240 {
		t.Errorf("stats.json %+v, %v; stats %+v", st, err, rep.Stats)
	}
	// The output holds a previous run now; --overwrite replaces it.
	if _, err := tokenize.Run(ctx, tokCfg("gs://bkt/in/tok/*.parquet", gsOut)); err == nil || !strings.Contains(err.Error(), `output "gs://bkt/out/tok" holds a previous run`) {
		t.Errorf("second run: %v, want a previous-run error", err)
	}
	cfg := tokCfg("gs://bkt/in/tok/part-0.parquet", gsOut)
	cfg.Overwrite = true
	if rep, err := tokenize.Run(ctx, cfg); err != nil || rep.Results != 120 {
		t.Errorf("overwrite: %v", err)
	} else if got, _ := tokenOutputs(t, gsOut); len(got) != 120 {
		t.Errorf("after overwrite %d results, want 120 (old shards removed)", len(got))
	}
	if _, err := tokenize.Run(ctx, tokCfg("gs://bkt/in/nope.parquet", "gs://bkt/out/x")); err == nil || !strings.Contains(err.Error(), `input "gs://bkt/in/nope.parquet": no such file`) {
		t.Errorf("missing input: %v", err)
	}
	tokFaults := emu.Injected()

	// Infer: a few rows and one without a prompt (an error row).
	reqs := []reqRow{
		{ID: ptr("a"), Prompt: ptr("Once upon a time"), MaxTokens: ptr[int64](12), Temperature: ptr(0.0)},
		{ID: ptr("b"), Prompt: ptr("The cat"), MaxTokens: ptr[int64](8), Temperature: ptr(0.8), Seed: ptr[int64](7)},
		{ID: ptr("c")},
		{ID: ptr("d"), Prompt: ptr("Lily"), MaxTokens: ptr[int64](10)},
	}
	local := writeRequests(t, filepath.Join(dir, "req.parquet"), reqs)
	emu.Faults(nil)
	upload(t, map[string]string{"gs://bkt/in/req/req.parquet": local})
	lrep, err := Run(ctx, config(local, filepath.Join(dir, "out-infer")))
	if err != nil {
		t.Fatal(err)
	}
	// The model too is read from gs:// (copied once to a local cache, then
	// memory-mapped).
	upload(t, map[string]string{"gs://bkt/models/stories260K.gguf": model})
	emu.Faults(faultPlan())
	gcfg := config("gs://bkt/in/req/*.parquet", "gs://bkt/out/infer")
	gcfg.Backend.Model = "gs://bkt/models/stories260K.gguf"
	grep, err := Run(ctx, gcfg)
	if err != nil {
		t.Fatalf("infer on gs://: %v", err)
	}
	if grep.Metrics.Counters["gcs_retries"] == 0 {
		t.Errorf("no GCS retries counted in the infer job's metrics %v", grep.Metrics.Counters)
	}
	if grep.Results != 3 || grep.Errors != 1 || lrep.Results != 3 {
		t.Errorf("gs:// infer: %d results, %d errors", grep.Results, grep.Errors)
	}
	lres, gres := readResults(t, filepath.Join(dir, "out-infer")), readResults(t, "gs://bkt/out/infer")
	for id, r := range lres {
		if gres[id].Text != r.Text || gres[id].Seed != r.Seed || gres[id].Model != "stories260K.gguf" {
			t.Errorf("id %s: gs:// %q, local %q", id, gres[id].Text, r.Text)
		}
	}
	if errs := readErrors(t, "gs://bkt/out/infer"); len(errs) != 1 || len(gres) != 3 {
		t.Errorf("gs:// infer: results %d, errors %v", len(gres), errs)
	}

	inj := emu.Injected()
	t.Logf("%d emulator requests; faults injected: tokenize %v, in all %v", len(emu.Requests()), tokFaults, inj)
	if inj[blobtest.Unavailable] == 0 || inj[blobtest.Reset] == 0 || inj[blobtest.TooMany] == 0 || inj[blobtest.Slow] == 0 {
		t.Errorf("faults injected %v, want some of each", inj)
	}
	if n := emu.Count(func(r blobtest.Request) bool {
		return r.Upload() && r.Fault != blobtest.None && r.Fault != blobtest.Slow
	}); n == 0 {
		t.Error("no upload failed: the test does not show uploads are retried")
	}
}

func writeRows[T any](t *testing.T, path string, rows []T) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	return path
}

// tokenOutputs returns the results ("id:tokens", sorted) and errors
// ("id file row error") of a tokenize output folder.
func tokenOutputs(t *testing.T, dir string) (res, errs []string) {
	t.Helper()
	for _, p := range shardPaths(t, dir, "results-*.parquet") {
		rows, err := parquetio.ReadAll[parquetio.TokenResult](p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			res = append(res, fmt.Sprint(r.ID, ":", r.Tokens))
		}
	}
	for _, p := range shardPaths(t, dir, "errors-*.parquet") {
		rows, err := parquetio.ReadAll[parquetio.TokenizeError](p)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			errs = append(errs, fmt.Sprint(r.ID, " ", r.File, " ", r.Row, " ", r.Error))
		}
	}
	sort.Strings(res)
	sort.Strings(errs)
	return res, errs
}
