package tokenize

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/internal/xcheck"
	"github.com/minerva-batch/minerva/io/parquetio"
	"github.com/minerva-batch/minerva/pipelines/runners"
	"github.com/minerva-batch/minerva/transforms"
)

type strRow struct {
	ID   *string `parquet:"id,optional"`
	Text *string `parquet:"text,optional"`
}

type intRow struct {
	ID   int64  `parquet:"id"`
	Text string `parquet:"text"`
}

func ptr(s string) *string { return &s }

func writeRows[T any](t *testing.T, path string, rows []T) string {
	t.Helper()
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
	return path
}

// outputs reads every results and errors shard of dir.
func outputs(t *testing.T, dir string) ([]parquetio.TokenResult, []parquetio.TokenizeError) {
	t.Helper()
	var res []parquetio.TokenResult
	var errs []parquetio.TokenizeError
	shards, _ := filepath.Glob(filepath.Join(dir, "results-*.parquet"))
	for _, s := range shards {
		rows, err := parquetio.ReadAll[parquetio.TokenResult](s)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, rows...)
	}
	shards, _ = filepath.Glob(filepath.Join(dir, "errors-*.parquet"))
	for _, s := range shards {
		rows, err := parquetio.ReadAll[parquetio.TokenizeError](s)
		if err != nil {
			t.Fatal(err)
		}
		errs = append(errs, rows...)
	}
	sort.Slice(res, func(i, j int) bool { return res[i].ID < res[j].ID })
	sort.Slice(errs, func(i, j int) bool {
		return errs[i].File < errs[j].File || errs[i].File == errs[j].File && errs[i].Row < errs[j].Row
	})
	return res, errs
}

// TestTokenizeBadRows runs a file with every row-level problem and checks
// each error message, the token ids of the good rows, the statistics and the
// row accounting.
func TestTokenizeBadRows(t *testing.T) {
	dir := t.TempDir()
	in := writeRows(t, filepath.Join(dir, "in.parquet"), []strRow{
		{ptr("a"), ptr("hello world")},
		{ptr("b"), nil},
		{ptr("c"), ptr("bad \xff byte")},
		{ptr("a"), ptr("second a")},
		{ptr("d"), ptr("")},
		{ptr("e"), ptr("end <|endoftext|> here")},
		{nil, ptr("no id")},
		{ptr("f"), ptr("naïve café 🎉")},
		{ptr("a"), ptr("third a")},
	})
	out := filepath.Join(dir, "out")
	rep, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Encoding: "cl100k_base", Runner: runner(), BatchSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	res, errs := outputs(t, out)
	enc, _ := tokenizer.New("cl100k_base", tokenizer.Options{})
	wantRes := map[string]string{"a": "hello world", "d": "", "f": "naïve café 🎉"}
	if len(res) != len(wantRes) {
		t.Fatalf("results = %+v, want ids of %v", res, wantRes)
	}
	for _, r := range res {
		want := enc.EncodeOrdinary(wantRes[r.ID])
		if !slices.Equal(r.Tokens, want) || int(r.Count) != len(want) {
			t.Errorf("result %s: tokens %v count %d, want %v", r.ID, r.Tokens, r.Count, want)
		}
	}
	wantErr := []struct {
		row            int64
		id, stage, msg string
		text           *string
	}{
		{1, "b", "validate", `row 1 (id "b"): field "text" is null`, nil},
		{2, "c", "tokenize", `row 2 (id "c"): field "text": invalid UTF-8: invalid byte sequence ff`, ptr("bad \xff byte")},
		{3, "a", "validate", `row 3 (id "a"): field "id": duplicate id "a", first seen at`, ptr("second a")},
		{5, "e", "tokenize", `row 5 (id "e"): field "text": disallowed special token: the text contains "<|endoftext|>"`, ptr("end <|endoftext|> here")},
		{6, "", "validate", `row 6 (id null): field "id" is null`, ptr("no id")},
		{8, "a", "validate", `field "id": duplicate id "a", first seen at "` + in + `" row 0`, ptr("third a")},
	}
	if len(errs) != len(wantErr) {
		t.Fatalf("got %d error rows, want %d: %+v", len(errs), len(wantErr), errs)
	}
	for i, w := range wantErr {
		e := errs[i]
		if e.Row != w.row || e.ID != w.id || e.Stage != w.stage || !strings.Contains(e.Error, w.msg) || !strings.Contains(e.Error, in) || e.File != in {
			t.Errorf("error row %d = %+v\nwant row %d id %q stage %s message containing %q and the file name", i, e, w.row, w.id, w.stage, w.msg)
		}
		if (e.Text == nil) != (w.text == nil) || e.Text != nil && *e.Text != *w.text {
			t.Errorf("error row %d text = %v, want %v", i, e.Text, w.text)
		}
	}
	if rep.Rows != 9 || rep.Results != 3 || rep.Errors != 6 {
		t.Errorf("report rows %d results %d errors %d, want 9, 3, 6", rep.Rows, rep.Results, rep.Errors)
	}
	st := rep.Stats
	wantTokens := int64(len(enc.EncodeOrdinary("hello world")) + len(enc.EncodeOrdinary("naïve café 🎉")))
	if st.TotalItems != 9 || st.Succeeded != 3 || st.Failed != 6 || st.TotalTokens != wantTokens || st.WallTime <= 0 || st.SumItemTime <= 0 {
		t.Errorf("stats = %+v", st)
	}
	if rep.Counters["rows"] != 9 || rep.Counters["rows_succeeded"] != 3 || rep.Counters["rows_failed"] != 6 || rep.Counters["tokens"] != wantTokens {
		t.Errorf("counters = %v", rep.Counters)
	}
}

// TestTokenizeManyFiles checks integer ids, globs, several shards per file
// and that the output does not depend on the batch size or thread count.
func TestTokenizeManyFiles(t *testing.T) {
	dir := t.TempDir()
	words := strings.Fields("the quick brown fox jumps over the lazy dog 1234 naïve 東京 🎉")
	var want = map[string]string{}
	for f := 0; f < 3; f++ {
		var rows []intRow
		for i := 0; i < 250; i++ {
			id := int64(f*1000 + i)
			text := strings.Repeat(words[i%len(words)]+" ", i%7) + fmt.Sprint(i)
			rows = append(rows, intRow{id, text})
			want[fmt.Sprint(id)] = text
		}
		writeRows(t, filepath.Join(dir, fmt.Sprintf("part-%d.parquet", f)), rows)
	}
	enc, _ := tokenizer.New("o200k_base", tokenizer.Options{})
	var first []parquetio.TokenResult
	for _, tc := range []struct{ batch, threads int }{{1, 1}, {7, 2}, {1000, 0}} {
		out := filepath.Join(dir, fmt.Sprintf("out-%d-%d", tc.batch, tc.threads))
		rep, err := Run(context.Background(), Config{Inputs: []string{filepath.Join(dir, "part-*.parquet")}, Output: out, Encoding: "o200k_base",
			Runner: runner(), BatchSize: tc.batch, Threads: tc.threads, ShardRows: 100})
		if err != nil {
			t.Fatal(err)
		}
		res, errs := outputs(t, out)
		if len(errs) != 0 || len(res) != 750 || rep.Results != 750 {
			t.Fatalf("batch %d: %d results, %d errors (%+v)", tc.batch, len(res), len(errs), errs)
		}
		shards, _ := filepath.Glob(filepath.Join(out, "results-*.parquet"))
		if len(shards) < 8 {
			t.Errorf("batch %d: %d result shards for 750 rows at 100 rows per shard", tc.batch, len(shards))
		}
		for _, r := range res {
			if w := enc.EncodeOrdinary(want[r.ID]); !slices.Equal(r.Tokens, w) {
				t.Fatalf("id %s: %v, want %v", r.ID, r.Tokens, w)
			}
		}
		if first == nil {
			first = res
		}
		for i := range res {
			if res[i].ID != first[i].ID || !slices.Equal(res[i].Tokens, first[i].Tokens) {
				t.Fatalf("batch %d threads %d: row %s differs from the first run", tc.batch, tc.threads, res[i].ID)
			}
		}
		if hidden, _ := filepath.Glob(filepath.Join(out, ".*")); len(hidden) != 0 {
			t.Errorf("temporary files left behind: %v", hidden)
		}
	}
}

// TestJobLevelErrors checks that each job-level problem fails before any
// work with a message naming the file and the problem.
func TestJobLevelErrors(t *testing.T) {
	dir := t.TempDir()
	good := writeRows(t, filepath.Join(dir, "good.parquet"), []strRow{{ptr("a"), ptr("x")}})
	notParquet := filepath.Join(dir, "notes.parquet")
	os.WriteFile(notParquet, []byte("this is not parquet at all, just text"), 0o644)
	type other struct {
		ID   string `parquet:"id"`
		Body string `parquet:"body"`
	}
	noText := writeRows(t, filepath.Join(dir, "notext.parquet"), []other{{"a", "x"}})
	type intText struct {
		ID   string `parquet:"id"`
		Text int64  `parquet:"text"`
	}
	badType := writeRows(t, filepath.Join(dir, "inttext.parquet"), []intText{{"a", 1}})
	type noIDRow struct {
		Key  string `parquet:"key"`
		Text string `parquet:"text"`
	}
	noID := writeRows(t, filepath.Join(dir, "noid.parquet"), []noIDRow{{"a", "x"}})
	previous := filepath.Join(dir, "previous")
	os.MkdirAll(previous, 0o755)
	os.WriteFile(filepath.Join(previous, "stats.json"), []byte("{}"), 0o644)

	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"missing file", Config{Inputs: []string{filepath.Join(dir, "nope.parquet")}}, []string{"nope.parquet", "no such file"}},
		{"glob matches nothing", Config{Inputs: []string{filepath.Join(dir, "x-*.parquet")}}, []string{"x-*.parquet", "no files match"}},
		{"not parquet", Config{Inputs: []string{notParquet}}, []string{"notes.parquet", "not a Parquet file"}},
		{"missing text column", Config{Inputs: []string{noText}}, []string{"notext.parquet", `missing column "text"`, "body"}},
		{"missing id column", Config{Inputs: []string{noID}}, []string{"noid.parquet", `missing column "id"`, "key"}},
		{"second of two files bad", Config{Inputs: []string{good, noID}}, []string{"noid.parquet", `missing column "id"`}},
		{"a folder as input", Config{Inputs: []string{dir}}, []string{dir}},
		{"text of a non-text type", Config{Inputs: []string{badType}}, []string{"inttext.parquet", `column "text"`, "INT64"}},
		{"custom column missing", Config{Inputs: []string{good}, Columns: parquetio.Columns{Text: "content"}}, []string{"good.parquet", `missing column "content"`}},
		{"unknown encoding", Config{Inputs: []string{good}, Encoding: "cl200k"}, []string{`unknown encoding "cl200k"`, "cl100k_base"}},
		{"batch size too large", Config{Inputs: []string{good}, BatchSize: 1001}, []string{"tokenizer batch size 1001 is out of range", "1000"}},
		{"batch size negative", Config{Inputs: []string{good}, BatchSize: -1}, []string{"tokenizer batch size -1 is out of range"}},
		{"unknown runner", Config{Inputs: []string{good}, Runner: "flink"}, []string{`unknown runner "flink"`, "universal", "dataflow"}},
		{"universal without endpoint", Config{Inputs: []string{good}, Runner: "universal"}, []string{"runner universal needs --job-endpoint HOST:PORT"}},
		{"dataflow without settings", Config{Inputs: []string{good}, Runner: "dataflow", RunnerOptions: runners.Options{StagingLocation: "/tmp/staging"}},
			[]string{"needs --project", "needs --region", `staging location "/tmp/staging": must be a gs:// path`}},
		{"previous run", Config{Inputs: []string{good}, Output: previous}, []string{"previous", "holds a previous run", "--overwrite"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			if cfg.Output == "" {
				cfg.Output = filepath.Join(dir, "out-"+strings.ReplaceAll(tt.name, " ", "-"))
			}
			if cfg.Encoding == "" {
				cfg.Encoding = "cl100k_base"
			}
			if cfg.Runner == "" {
				cfg.Runner = runner()
			}
			_, err := Run(context.Background(), cfg)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tt.name != "previous run" {
				if m, _ := filepath.Glob(filepath.Join(cfg.Output, "*")); len(m) != 0 {
					t.Errorf("a failed job left files: %v", m)
				}
			}
		})
	}
	// With --overwrite the previous run is replaced.
	rep, err := Run(context.Background(), Config{Inputs: []string{good}, Output: previous, Encoding: "cl100k_base", Runner: runner(), Overwrite: true})
	if err != nil || rep.Results != 1 {
		t.Fatalf("overwrite: %v, %+v", err, rep)
	}
}

// TestEmptyAndAllErrors checks that an input with no rows, or with only bad
// rows, still gives valid results and errors files and a stats.json.
func TestEmptyAndAllErrors(t *testing.T) {
	dir := t.TempDir()
	empty := writeRows(t, filepath.Join(dir, "empty.parquet"), []strRow{})
	bad := writeRows(t, filepath.Join(dir, "bad.parquet"), []strRow{{ptr("a"), nil}, {ptr("b"), ptr("\xc3")}})
	for _, tc := range []struct {
		in            string
		results, errs int64
	}{{empty, 0, 0}, {bad, 0, 2}} {
		out := filepath.Join(dir, "out-"+filepath.Base(tc.in))
		rep, err := Run(context.Background(), Config{Inputs: []string{tc.in}, Output: out, Encoding: "r50k_base", Runner: runner()})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Results != tc.results || rep.Errors != tc.errs || rep.Stats.TotalItems != tc.results+tc.errs {
			t.Errorf("%s: %+v", tc.in, rep)
		}
		for _, pat := range []string{"results-*.parquet", "errors-*.parquet", "stats.json"} {
			if m, _ := filepath.Glob(filepath.Join(out, pat)); len(m) == 0 {
				t.Errorf("%s: no %s", tc.in, pat)
			}
		}
		if _, err := transforms.ReadStatsFile(out); err != nil {
			t.Error(err)
		}
	}
}

// TestDetokenizeRoundTrip decodes a tokenization job's output back to the
// original text, and turns ids outside the vocabulary into error rows.
func TestDetokenizeRoundTrip(t *testing.T) {
	dir := t.TempDir()
	texts := map[string]string{"a": "hello world", "b": "naïve café 東京 🎉", "c": "", "d": "  x\n\n"}
	var rows []strRow
	for id, text := range texts {
		rows = append(rows, strRow{ptr(id), ptr(text)})
	}
	in := writeRows(t, filepath.Join(dir, "in.parquet"), rows)
	tok := filepath.Join(dir, "tok")
	if _, err := Run(context.Background(), Config{Inputs: []string{in}, Output: tok, Encoding: "p50k_base", Runner: runner()}); err != nil {
		t.Fatal(err)
	}
	type idsRow struct {
		ID     string   `parquet:"id"`
		Tokens []*int64 `parquet:"tokens,list"`
	}
	ids := func(v ...int64) []*int64 {
		out := make([]*int64, len(v))
		for i := range v {
			out[i] = &v[i]
		}
		return out
	}
	enc, _ := tokenizer.New("p50k_base", tokenizer.Options{})
	emoji := enc.EncodeOrdinary("🎉")
	extra := writeRows(t, filepath.Join(dir, "extra.parquet"), []idsRow{
		{"oov", ids(31373, 60000)},
		{"huge", ids(1 << 40)},
		{"split", ids(int64(emoji[0]))},
		{"nullid", append(ids(31373), nil)},
	})
	text := filepath.Join(dir, "text")
	rep, err := Detokenize(context.Background(), DetokenizeConfig{Inputs: []string{filepath.Join(tok, "results-*.parquet"), extra}, Output: text, Encoding: "p50k_base", Runner: runner()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Results != 4 || rep.Errors != 4 {
		t.Errorf("results %d errors %d, want 4 and 4", rep.Results, rep.Errors)
	}
	shards, _ := filepath.Glob(filepath.Join(text, "results-*.parquet"))
	got := map[string]string{}
	for _, s := range shards {
		rows, err := parquetio.ReadAll[parquetio.TextResult](s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			got[r.ID] = r.Text
		}
	}
	for id, want := range texts {
		if got[id] != want {
			t.Errorf("id %s: %q, want %q", id, got[id], want)
		}
	}
	shards, _ = filepath.Glob(filepath.Join(text, "errors-*.parquet"))
	msgs := map[string]string{}
	for _, s := range shards {
		rows, err := parquetio.ReadAll[parquetio.DetokenizeError](s)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			msgs[r.ID] = r.Error
		}
	}
	for id, want := range map[string]string{"oov": "id 60000 at position 1 is not in p50k_base", "huge": "id 1099511627776 at position 0", "split": "not valid UTF-8", "nullid": "the list holds a null token id"} {
		if !strings.Contains(msgs[id], want) || !strings.Contains(msgs[id], `field "tokens"`) {
			t.Errorf("error for %s = %q, want it to contain %q", id, msgs[id], want)
		}
	}
}

// TestOutputOpensInDuckDB reads the output with DuckDB and checks the types.
func TestOutputOpensInDuckDB(t *testing.T) {
	xcheck.Require(t)
	dir := t.TempDir()
	in := writeRows(t, filepath.Join(dir, "in.parquet"), []strRow{{ptr("a"), ptr("hello world")}, {ptr("b"), nil}, {ptr("c"), ptr("")}})
	out := filepath.Join(dir, "out")
	if _, err := Run(context.Background(), Config{Inputs: []string{in}, Output: out, Encoding: "cl100k_base", Runner: runner()}); err != nil {
		t.Fatal(err)
	}
	tab, err := xcheck.DuckDB(context.Background(), fmt.Sprintf("SELECT * FROM '%s/results-*.parquet' ORDER BY id", out))
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []xcheck.Column{{Name: "id", Type: "VARCHAR"}, {Name: "tokens", Type: "INTEGER[]"}, {Name: "count", Type: "INTEGER"}, {Name: "duration_us", Type: "BIGINT"}}
	if !slices.Equal(tab.Columns, wantCols) {
		t.Errorf("results columns = %v, want %v", tab.Columns, wantCols)
	}
	if len(tab.Rows) != 2 || tab.Rows[0][0] != "a" || fmt.Sprint(tab.Rows[0][1]) != "[15339 1917]" || fmt.Sprint(tab.Rows[1][1]) != "[]" {
		t.Errorf("results rows = %v", tab.Rows)
	}
	tab, err = xcheck.DuckDB(context.Background(), fmt.Sprintf("SELECT * FROM '%s/errors-*.parquet'", out))
	if err != nil {
		t.Fatal(err)
	}
	wantCols = []xcheck.Column{{Name: "id", Type: "VARCHAR"}, {Name: "error", Type: "VARCHAR"}, {Name: "stage", Type: "VARCHAR"}, {Name: "file", Type: "VARCHAR"}, {Name: "row", Type: "BIGINT"}, {Name: "text", Type: "VARCHAR"}}
	if !slices.Equal(tab.Columns, wantCols) || len(tab.Rows) != 1 || tab.Rows[0][0] != "b" || tab.Rows[0][5] != nil {
		t.Errorf("errors = %v %v", tab.Columns, tab.Rows)
	}
}
