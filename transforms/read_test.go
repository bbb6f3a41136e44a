package transforms

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/passert"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/testing/ptest"
	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/parquetio"
)

type textInput struct {
	ID   string  `parquet:"id"`
	Text *string `parquet:"text,optional"`
}

type tokenInput struct {
	ID     int64   `parquet:"id"`
	Tokens []int64 `parquet:"tokens,list"`
}

type requestInput struct {
	ID     string  `parquet:"id"`
	Prompt *string `parquet:"prompt,optional"`
}

func writeParquet[T any](t *testing.T, path string, rows []T, rowsPerGroup int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f, parquet.MaxRowsPerRowGroup(rowsPerGroup))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// textFile writes n rows in groups of perGroup rows; every 97th text is null.
func textFile(t *testing.T, path string, n int, perGroup int64) {
	rows := make([]textInput, n)
	for i := range rows {
		rows[i].ID = fmt.Sprintf("%s-%d", filepath.Base(path), i)
		if i%97 != 5 {
			s := fmt.Sprintf("text %d", i)
			rows[i].Text = &s
		}
	}
	writeParquet(t, path, rows, perGroup)
}

func textRowKey(r TextRow) string {
	return fmt.Sprintf("%s:%d:%s:%v", filepath.Base(r.File), r.Row, r.ID, r.Err != "")
}
func tokenRowKey(r TokenRow) string {
	return fmt.Sprintf("%s:%d:%s:%d", filepath.Base(r.File), r.Row, r.ID, len(r.Tokens))
}
func requestRowKey(r RequestRow) string {
	return fmt.Sprintf("%s:%d:%s:%v", filepath.Base(r.File), r.Row, r.ID, r.Err != "")
}

func init() {
	beam.RegisterFunction(textRowKey)
	beam.RegisterFunction(tokenRowKey)
	beam.RegisterFunction(requestRowKey)
}

// withSplitBytes makes the initial splits cut Parquet files into pieces of
// a few row groups for the duration of a test (the test's pipeline runs in
// this process, on prism's loopback worker or the direct runner).
func withSplitBytes(t *testing.T, n int64) {
	old := splitBytes
	splitBytes = n
	t.Cleanup(func() { splitBytes = old })
}

// TestReadSplitFiles reads multi-row-group files through the splittable
// readers on the runner under test: every row comes out exactly once, with
// its file-wide row number and its validation error (null text, duplicate).
func TestReadSplitFiles(t *testing.T) {
	withSplitBytes(t, 2<<10)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	textFile(t, a, 3000, 100) // 30 groups
	textFile(t, b, 450, 1000) // 1 group
	if groups, err := parquetio.RowGroups(a); err != nil || len(groups) != 30 {
		t.Fatalf("fixture: %d groups, %v", len(groups), err)
	} else if pieces := splitGroups(groups, offsetrange.Restriction{Start: 0, End: 30}, splitBytes); len(pieces) < 3 {
		t.Fatalf("fixture: only %d initial pieces; the test wants a file split in several", len(pieces))
	}
	dups := []Duplicate{{File: a, Row: 2500, ID: "a.parquet-2500", First: "x"}, {File: b, Row: 7, ID: "b.parquet-7", First: "y"}}
	var want []any
	for _, f := range []struct {
		name string
		n    int
	}{{"a.parquet", 3000}, {"b.parquet", 450}} {
		for i := range f.n {
			bad := i%97 == 5 || (f.name == "a.parquet" && i == 2500) || (f.name == "b.parquet" && i == 7)
			want = append(want, fmt.Sprintf("%s:%d:%s-%d:%v", f.name, i, f.name, i, bad))
		}
	}

	tokPath := filepath.Join(dir, "t.parquet")
	toks := make([]tokenInput, 1200)
	var wantToks []any
	for i := range toks {
		toks[i] = tokenInput{ID: int64(i), Tokens: make([]int64, i%5)}
		wantToks = append(wantToks, fmt.Sprintf("t.parquet:%d:%d:%d", i, i, i%5))
	}
	writeParquet(t, tokPath, toks, 50)

	reqPath := filepath.Join(dir, "r.parquet")
	reqs := make([]requestInput, 1500)
	var wantReqs []any
	for i := range reqs {
		reqs[i].ID = fmt.Sprint("q", i)
		if i%10 != 3 {
			p := strings.Repeat("p", i%20)
			reqs[i].Prompt = &p
		}
		wantReqs = append(wantReqs, fmt.Sprintf("r.parquet:%d:q%d:%v", i, i, i%10 == 3))
	}
	writeParquet(t, reqPath, reqs, 64)

	jsonlPath := filepath.Join(dir, "r.jsonl")
	var lines []string
	var wantLines []any
	for i := range 40 {
		lines = append(lines, fmt.Sprintf(`{"custom_id":"j%d","method":"POST","url":"/v1/completions","body":{"model":"m","prompt":"hi %d"}}`, i, i))
		wantLines = append(wantLines, fmt.Sprintf("r.jsonl:%d:j%d:false", i+1, i))
	}
	if err := os.WriteFile(jsonlPath, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	p, s := beam.NewPipelineWithRoot()
	text := ReadText(s, beam.CreateList(s, []string{a, b}), parquetio.Columns{}, dups)
	passert.Equals(s, beam.ParDo(s, textRowKey, text), want...)
	tokens := ReadTokens(s, beam.CreateList(s, []string{tokPath}), parquetio.TokenColumns{}, nil)
	passert.Equals(s, beam.ParDo(s, tokenRowKey, tokens), wantToks...)
	requests := ReadRequests(s, beam.CreateList(s, []string{reqPath}), &ReadRequestsFn{Format: FormatParquet})
	passert.Equals(s, beam.ParDo(s, requestRowKey, requests), wantReqs...)
	jsonl := ReadRequests(s.Scope("jsonl"), beam.CreateList(s, []string{jsonlPath}), &ReadRequestsFn{Format: FormatJSONL})
	passert.Equals(s, beam.ParDo(s, requestRowKey, jsonl), wantLines...)
	if err := ptest.Run(p); err != nil {
		t.Fatal(err)
	}
}

func TestSplitGroups(t *testing.T) {
	sizes := []int64{10, 10, 10, 50, 5, 5, 5, 5, 100, 1}
	groups := make([]parquetio.RowGroup, len(sizes))
	for i, b := range sizes {
		groups[i] = parquetio.RowGroup{FirstRow: int64(i) * 10, NumRows: 10, Bytes: b}
	}
	r := func(s, e int64) offsetrange.Restriction { return offsetrange.Restriction{Start: s, End: e} }
	for _, tc := range []struct {
		rest   offsetrange.Restriction
		target int64
		want   []offsetrange.Restriction
	}{
		{r(0, 10), 30, []offsetrange.Restriction{r(0, 3), r(3, 4), r(4, 9), r(9, 10)}},
		{r(0, 10), 1, []offsetrange.Restriction{r(0, 1), r(1, 2), r(2, 3), r(3, 4), r(4, 5), r(5, 6), r(6, 7), r(7, 8), r(8, 9), r(9, 10)}},
		{r(0, 10), 1 << 30, []offsetrange.Restriction{r(0, 10)}},
		{r(2, 6), 20, []offsetrange.Restriction{r(2, 4), r(4, 6)}},
		{r(4, 4), 20, []offsetrange.Restriction{r(4, 4)}},
		{r(0, 0), 20, []offsetrange.Restriction{r(0, 0)}},
		{r(0, 11), 20, []offsetrange.Restriction{r(0, 11)}}, // beyond the file: left whole for the reader to reject
	} {
		got := splitGroups(groups, tc.rest, tc.target)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitGroups(%v, %d) = %v, want %v", tc.rest, tc.target, got, tc.want)
		}
		if tc.rest.End > int64(len(groups)) {
			continue
		}
		// The pieces cover the restriction exactly once, in order, and their
		// sizes add up to the restriction's.
		next, size := tc.rest.Start, 0.0
		for _, p := range got {
			if p.Start != next || (p.End <= p.Start && tc.rest.End > tc.rest.Start) {
				t.Errorf("splitGroups(%v, %d): piece %v does not start at %d or is empty", tc.rest, tc.target, p, next)
			}
			next = p.End
			size += groupBytes(groups, p)
		}
		if next != tc.rest.End || size != groupBytes(groups, tc.rest) {
			t.Errorf("splitGroups(%v, %d): pieces end at %d with %v bytes; want %d, %v", tc.rest, tc.target, next, size, tc.rest.End, groupBytes(groups, tc.rest))
		}
	}
}

// TestReadTextDynamicSplit splits restrictions while ProcessElement reads
// them, as a runner rebalancing work does: the primaries and residuals
// together read every row exactly once.
func TestReadTextDynamicSplit(t *testing.T) {
	withSplitBytes(t, 4<<10)
	path := filepath.Join(t.TempDir(), "a.parquet")
	textFile(t, path, 2000, 100) // 20 groups
	fn := &ReadTextFn{}
	fn.Setup()
	rest, err := fn.CreateInitialRestriction(path)
	if err != nil || rest != (offsetrange.Restriction{Start: 0, End: 20}) {
		t.Fatalf("initial restriction %v, %v", rest, err)
	}
	pending, err := fn.SplitRestriction(path, rest)
	if err != nil || len(pending) < 2 {
		t.Fatalf("initial split %v, %v", pending, err)
	}
	total, err := fn.RestrictionSize(path, rest)
	if err != nil || total <= 0 {
		t.Fatalf("size %v, %v", total, err)
	}
	var sum float64
	for _, p := range pending {
		sz, _ := fn.RestrictionSize(path, p)
		sum += sz
	}
	if sum != total {
		t.Errorf("piece sizes add up to %v, want %v", sum, total)
	}

	var rows []int64
	splits := 0
	for i := 0; len(pending) > 0; i++ {
		rest := pending[0]
		pending = pending[1:]
		rt := fn.CreateTracker(rest)
		n := 0
		err := fn.ProcessElement(context.Background(), rt, path, func(r TextRow) {
			rows = append(rows, r.Row)
			n++
			// Split after the first row of every other restriction: half of
			// what is left goes back to the runner.
			if n == 1 && i%2 == 0 {
				if _, residual, err := rt.TrySplit(0.5); err != nil {
					t.Errorf("split: %v", err)
				} else if residual != nil {
					pending = append(pending, residual.(offsetrange.Restriction))
					splits++
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if !rt.IsDone() || rt.GetError() != nil {
			t.Fatalf("restriction %v not done after ProcessElement: %v", rest, rt.GetError())
		}
	}
	slices.Sort(rows)
	distinct := slices.Compact(slices.Clone(rows))
	if len(rows) != 2000 || len(distinct) != 2000 || rows[0] != 0 || rows[1999] != 1999 {
		t.Errorf("read %d rows (%d distinct), want rows 0..1999 once each", len(rows), len(distinct))
	}
	if splits == 0 {
		t.Error("no restriction was split while it was read")
	}
}
