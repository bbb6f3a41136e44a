package transforms

import (
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/engine/tokenizer"
	"github.com/minerva-batch/minerva/io/parquetio"
)

// TestMain runs the pipeline tests on the runner named by -runner (prism by
// default; `make test` runs them again with -runner=direct).
func TestMain(m *testing.M) { ptest.Main(m) }

func textRows(n int) []TextRow {
	rows := make([]TextRow, n)
	for i := range rows {
		rows[i] = TextRow{ID: fmt.Sprintf("r%03d", i), Text: fmt.Sprintf("row number %d says hello", i), File: "f.parquet", Row: int64(i)}
	}
	return rows
}

func resultID(r parquetio.TokenResult) string { return r.ID }

func failureID(f TokenizeFailure) string { return f.ID }

func observationOK(o batch.Observation) bool { return o.OK }

func init() {
	beam.RegisterFunction(resultID)
	beam.RegisterFunction(failureID)
	beam.RegisterFunction(observationOK)
}

// TestTokenizeFnBatches checks that TokenizeFn emits every row once, on the
// right output, in batches no larger than BatchSize (the last partial batch
// flushed in FinishBundle).
func TestTokenizeFnBatches(t *testing.T) {
	rows := textRows(10)
	rows[4].Text = "bad \xff"
	rows[7].Err, rows[7].Stage = "field \"text\" is null", StageValidate
	p, s := beam.NewPipelineWithRoot()
	col := beam.CreateList(s, rows)
	res, fails, obs := Tokenize(s, col, &TokenizeFn{Tokenizer: TokenizerConfig{Encoding: "cl100k_base"}, BatchSize: 3})
	var wantIDs []any
	for i := range rows {
		if i != 4 && i != 7 {
			wantIDs = append(wantIDs, rows[i].ID)
		}
	}
	passert.Equals(s, beam.ParDo(s, resultID, res), wantIDs...)
	passert.Equals(s, beam.ParDo(s, failureID, fails), "r004", "r007")
	passert.Count(s, obs, "observations", 10)
	passert.Equals(s, beam.ParDo(s, observationOK, obs), true, true, true, true, true, true, true, true, false, false)
	pr, err := ptest.RunWithMetrics(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range pr.Metrics().AllMetrics().Distributions() {
		if d.Key.Name != "batch_size" {
			continue
		}
		v := d.Committed
		if v.Sum != 9 || v.Max > 3 || v.Min < 1 || v.Count < 3 {
			t.Errorf("batch sizes: %+v; want 9 rows in batches of at most 3", v)
		}
		return
	}
	t.Error("no batch_size distribution reported")
}

// TestStatsCombine folds observations with the CombineFn in a pipeline.
func TestStatsCombine(t *testing.T) {
	var obs []batch.Observation
	for i := 0; i < 100; i++ {
		obs = append(obs, batch.Observation{OK: i%10 != 0, Tokens: 3, Bytes: 10, StartUnixNano: int64(i) * 1000, DurationNanos: int64(i+1) * 1000})
	}
	p, s := beam.NewPipelineWithRoot()
	stats := CombineStats(s, beam.CreateList(s, obs))
	var acc batch.Accumulator
	for _, o := range obs {
		acc.Add(o)
	}
	passert.Equals(s, stats, acc.Stats())
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	st := acc.Stats()
	if st.TotalItems != 100 || st.Succeeded != 90 || st.Failed != 10 || st.TotalTokens != 300 {
		t.Errorf("stats = %+v", st)
	}
}

// TestStatsFnMerge checks that merging partial accumulators in the CombineFn
// gives the same result as adding everything to one.
func TestStatsFnMerge(t *testing.T) {
	var fn StatsFn
	parts := make([]batch.Accumulator, 4)
	all := fn.CreateAccumulator()
	for i := 0; i < 1000; i++ {
		o := batch.Observation{OK: true, Tokens: int64(i % 13), StartUnixNano: int64(i * 500), DurationNanos: int64(1000 + i*i)}
		parts[i%4] = fn.AddInput(parts[i%4], o)
		all = fn.AddInput(all, o)
	}
	merged := fn.MergeAccumulators(fn.MergeAccumulators(parts[3], parts[1]), fn.MergeAccumulators(parts[0], parts[2]))
	if got, want := fn.ExtractOutput(merged), fn.ExtractOutput(all); got != want {
		t.Errorf("merged %+v\nwant   %+v", got, want)
	}
}

// TestWriteShards writes rows through the shard sink and reads them back.
func TestWriteShards(t *testing.T) {
	dir := t.TempDir()
	enc, _ := tokenizer.New("cl100k_base", tokenizer.Options{})
	var rows []parquetio.TokenResult
	for i := 0; i < 25; i++ {
		ids := enc.EncodeOrdinary(fmt.Sprint("text ", i))
		rows = append(rows, parquetio.TokenResult{ID: fmt.Sprint(i), Tokens: ids, Count: int32(len(ids)), DurationUS: int64(i)})
	}
	p, s := beam.NewPipelineWithRoot()
	WriteShards(s, &WriteTokenResultsFn{Dir: dir, ShardRows: 10}, beam.CreateList(s, rows))
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
	shards, _ := filepath.Glob(filepath.Join(dir, "results-*.parquet"))
	if len(shards) < 3 {
		t.Errorf("%d shards for 25 rows at 10 per shard", len(shards))
	}
	var got []parquetio.TokenResult
	for _, sh := range shards {
		r, err := parquetio.ReadAll[parquetio.TokenResult](sh)
		if err != nil {
			t.Fatal(err)
		}
		if len(r) > 10 {
			t.Errorf("%s has %d rows", sh, len(r))
		}
		got = append(got, r...)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].DurationUS < got[j].DurationUS })
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, wrote %d", len(got), len(rows))
	}
	for i := range rows {
		if got[i].ID != rows[i].ID || !slices.Equal(got[i].Tokens, rows[i].Tokens) || got[i].Count != rows[i].Count {
			t.Errorf("row %d: %+v, want %+v", i, got[i], rows[i])
		}
	}
	if hidden, _ := filepath.Glob(filepath.Join(dir, ".*")); len(hidden) != 0 {
		t.Errorf("temporary files left: %v", hidden)
	}
}
