package parquetio

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// groupedFixture writes 1000 text rows in row groups of 128 rows (8 groups,
// the last one of 104 rows).
func groupedFixture(t *testing.T) (string, []Row) {
	t.Helper()
	many := manyRows(1000)
	path := writeFixture(t, t.TempDir(), "groups.parquet", many, parquet.MaxRowsPerRowGroup(128), parquet.PageBufferSize(512))
	return path, wantRows(path, many)
}

func readGroups(t *testing.T, path string, g Groups) ([]Row, error) {
	t.Helper()
	var rows []Row
	err := ReadRowGroups(context.Background(), path, Columns{}, g, func(r Row) error {
		rows = append(rows, r)
		return nil
	})
	return rows, err
}

func TestRowGroups(t *testing.T) {
	path, want := groupedFixture(t)
	groups, err := RowGroups(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 8 {
		t.Fatalf("got %d row groups, want 8", len(groups))
	}
	meta := openParquet(t, path).Metadata().RowGroups
	var next int64
	for i, g := range groups {
		if g.FirstRow != next || g.NumRows != meta[i].NumRows || g.Bytes <= 0 {
			t.Errorf("group %d: %+v (first row want %d, rows want %d, bytes > 0)", i, g, next, meta[i].NumRows)
		}
		var bytes int64
		for _, c := range meta[i].Columns {
			bytes += c.MetaData.TotalCompressedSize
		}
		if g.Bytes != bytes {
			t.Errorf("group %d: %d bytes, want %d", i, g.Bytes, bytes)
		}
		next += g.NumRows
	}
	if next != int64(len(want)) {
		t.Errorf("groups hold %d rows, want %d", next, len(want))
	}

	empty := writeFixture(t, t.TempDir(), "empty.parquet", []strRow{})
	if groups, err := RowGroups(empty); err != nil || len(groups) != 0 {
		t.Errorf("RowGroups(empty file) = %v, %v; want no groups", groups, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.parquet")
	if err := os.WriteFile(bad, []byte("id,text\n1,hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := RowGroups(bad); err == nil || !strings.Contains(err.Error(), `input "`+bad+`": not a Parquet file`) {
		t.Errorf("RowGroups(csv) error = %v", err)
	}
	if _, err := RowGroups(filepath.Join(t.TempDir(), "missing.parquet")); err == nil || !strings.Contains(err.Error(), "missing.parquet") {
		t.Errorf("RowGroups(missing) error = %v", err)
	}
}

func TestReadRowGroups(t *testing.T) {
	path, want := groupedFixture(t)
	groups, err := RowGroups(path)
	if err != nil {
		t.Fatal(err)
	}
	first := func(g int) int64 {
		if g == len(groups) {
			return int64(len(want))
		}
		return groups[g].FirstRow
	}
	for _, tc := range []struct {
		from, to int
		err      string // "" for success
	}{
		{0, 8, ""},
		{0, 1, ""},
		{7, 8, ""},
		{2, 5, ""},
		{3, 4, ""},
		{0, 0, ""},
		{3, 3, ""},
		{8, 8, ""},
		{-1, 2, "row groups [-1, 2) out of range: the file has 8"},
		{3, 2, "row groups [3, 2) out of range: the file has 8"},
		{0, 9, "row groups [0, 9) out of range: the file has 8"},
		{9, 9, "row groups [9, 9) out of range: the file has 8"},
	} {
		t.Run(fmt.Sprintf("%d-%d", tc.from, tc.to), func(t *testing.T) {
			got, err := readGroups(t, path, Groups{From: tc.from, To: tc.to})
			if tc.err != "" {
				if err == nil || err.Error() != fmt.Sprintf("input %q: %s", path, tc.err) {
					t.Fatalf("error = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantRange := want[first(tc.from):first(tc.to)]
			if len(got) != len(wantRange) || (len(got) > 0 && !reflect.DeepEqual(got, wantRange)) {
				t.Fatalf("got %d rows, want rows %d..%d", len(got), first(tc.from), first(tc.to))
			}
		})
	}

	// Any partition of [0, n) into consecutive ranges, empty ones included,
	// reads the whole file once, in order, with file-wide indexes.
	for _, cuts := range [][]int{
		{0, 8},
		{0, 1, 2, 3, 4, 5, 6, 7, 8},
		{0, 0, 3, 3, 8, 8},
		{0, 5, 6, 8},
	} {
		var all []Row
		for i := 0; i+1 < len(cuts); i++ {
			rows, err := readGroups(t, path, Groups{From: cuts[i], To: cuts[i+1]})
			if err != nil {
				t.Fatalf("cuts %v: %v", cuts, err)
			}
			all = append(all, rows...)
		}
		if !reflect.DeepEqual(all, want) {
			t.Errorf("cuts %v: the ranges read %d rows, not the file's %d in order", cuts, len(all), len(want))
		}
	}
	if whole := readAllRows(t, path, Columns{}); !reflect.DeepEqual(whole, want) {
		t.Errorf("ReadRows read %d rows, not the file's %d", len(whole), len(want))
	}
}

func TestReadRowGroupsClaim(t *testing.T) {
	path, want := groupedFixture(t)
	var claimed []int
	// The claim of group 5 fails (a runner split the range there): the read
	// ends without an error after groups 2..4.
	rows, err := readGroups(t, path, Groups{From: 2, To: 8, Claim: func(g int) bool {
		claimed = append(claimed, g)
		return g < 5
	}})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(claimed, []int{2, 3, 4, 5}) {
		t.Errorf("claims %v, want [2 3 4 5]", claimed)
	}
	if !reflect.DeepEqual(rows, want[2*128:5*128]) {
		t.Errorf("read %d rows, want rows 256..639", len(rows))
	}

	// Each group claimed just before it is read: the callback has seen every
	// row of the groups before it.
	seen := 0
	err = ReadRowGroups(context.Background(), path, Columns{}, Groups{From: 0, To: 8, Claim: func(g int) bool {
		if seen != g*128 {
			t.Errorf("claim of group %d after %d rows", g, seen)
		}
		return true
	}}, func(Row) error { seen++; return nil })
	if err != nil || seen != len(want) {
		t.Errorf("read %d rows, error %v; want %d", seen, err, len(want))
	}

	// A panic in Claim passes through, as one in the row callback does.
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the claim's panic", p)
			}
		}()
		_, err := readGroups(t, path, Groups{From: 0, To: 8, Claim: func(int) bool { panic("boom") }})
		t.Errorf("no panic; error %v", err)
	}()

	// Callback errors and cancellation behave as in ReadRows.
	stop := errors.New("stop")
	if err := ReadRowGroups(context.Background(), path, Columns{}, Groups{From: 1, To: 3}, func(Row) error { return stop }); err != stop {
		t.Errorf("callback error: got %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ReadRowGroups(ctx, path, Columns{}, Groups{From: 1, To: 3}, func(Row) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: got %v", err)
	}
	// The file is validated whatever the range.
	if _, err := readGroups(t, path, Groups{}); err != nil {
		t.Errorf("empty range: %v", err)
	}
	var noText []Row
	err = ReadRowGroups(context.Background(), path, Columns{Text: "body"}, Groups{}, func(r Row) error { noText = append(noText, r); return nil })
	if err == nil || !strings.Contains(err.Error(), `missing column "body"`) {
		t.Errorf("empty range, missing column: %v", err)
	}
}

func TestReadTokenAndRequestRowGroups(t *testing.T) {
	dir := t.TempDir()
	type tokRow struct {
		ID     int64   `parquet:"id"`
		Tokens []int64 `parquet:"tokens,list"`
	}
	toks := make([]tokRow, 700)
	for i := range toks {
		toks[i] = tokRow{ID: int64(i)}
		for j := range i % 9 {
			toks[i].Tokens = append(toks[i].Tokens, int64(i*10+j))
		}
	}
	tokPath := writeFixture(t, dir, "tokens.parquet", toks, parquet.MaxRowsPerRowGroup(100))
	reqs, _ := manyRequests(700)
	reqPath := writeFixture(t, dir, "requests.parquet", reqs, parquet.MaxRowsPerRowGroup(100))

	wholeTok := readAllTokenRows(t, tokPath, TokenColumns{})
	wholeReq := readAllRequestRows(t, reqPath, RequestColumns{})
	for _, cuts := range [][]int{{0, 7}, {0, 1, 2, 3, 4, 5, 6, 7}, {0, 3, 3, 7}} {
		var gotTok []TokenRow
		var gotReq []RequestRow
		for i := 0; i+1 < len(cuts); i++ {
			g := Groups{From: cuts[i], To: cuts[i+1]}
			if err := ReadTokenRowGroups(context.Background(), tokPath, TokenColumns{}, g, func(r TokenRow) error {
				gotTok = append(gotTok, r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := ReadRequestRowGroups(context.Background(), reqPath, RequestColumns{}, g, func(r RequestRow) error {
				gotReq = append(gotReq, r)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		if !reflect.DeepEqual(gotTok, wholeTok) {
			t.Errorf("cuts %v: token ranges differ from the whole file (%d rows, want %d)", cuts, len(gotTok), len(wholeTok))
		}
		if !reflect.DeepEqual(gotReq, wholeReq) {
			t.Errorf("cuts %v: request ranges differ from the whole file (%d rows, want %d)", cuts, len(gotReq), len(wholeReq))
		}
	}
	// Rows of a later range keep their file-wide index.
	var idx []int64
	if err := ReadTokenRowGroups(context.Background(), tokPath, TokenColumns{}, Groups{From: 6, To: 7}, func(r TokenRow) error {
		idx = append(idx, r.Index)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(idx) != 100 || idx[0] != 600 || idx[99] != 699 {
		t.Errorf("group 6 indexes %v..., want 600..699", idx[:min(3, len(idx))])
	}
	err := ReadRequestRowGroups(context.Background(), reqPath, RequestColumns{}, Groups{From: 2, To: 8}, func(RequestRow) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "row groups [2, 8) out of range: the file has 7") {
		t.Errorf("out of range: %v", err)
	}
}
