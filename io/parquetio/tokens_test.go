package parquetio

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// twoLevelList is a LIST-annotated group whose only child is the repeated
// element itself (the legacy 2-level list layout).
type twoLevelList struct{ parquet.Group }

func (twoLevelList) Type() parquet.Type { return parquet.List(parquet.Int(64)).Type() }

func readAllTokenRows(t *testing.T, path string, cols TokenColumns) []TokenRow {
	t.Helper()
	var rows []TokenRow
	if err := ReadTokenRows(context.Background(), path, cols, func(r TokenRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("ReadTokenRows: %v", err)
	}
	return rows
}

func TestReadTokenRows(t *testing.T) {
	dir := t.TempDir()
	type intIDTokens struct {
		ID     int64   `parquet:"id"`
		Tokens []int64 `parquet:"tokens,list"`
	}
	type customTokens struct {
		Key  *string `parquet:"key,optional"`
		Toks []int32 `parquet:"toks,list"`
	}

	many := make([]TokenResult, 400)
	manyWant := make([]TokenRow, len(many))
	for i := range many {
		toks := make([]int32, i%70)
		for j := range toks {
			toks[j] = int32(i*1000 + j)
		}
		many[i] = TokenResult{ID: fmt.Sprint("d", i), Tokens: toks, Count: int32(len(toks))}
		want := make([]int64, len(toks))
		for j, v := range toks {
			want[j] = int64(v)
		}
		manyWant[i] = TokenRow{Index: int64(i), ID: many[i].ID, Tokens: want}
	}

	legacySchema := parquet.NewSchema("legacy", parquet.Group{
		"id":     parquet.String(),
		"tokens": parquet.Repeated(parquet.Int(32)),
	})
	twoLevelSchema := parquet.NewSchema("twolevel", parquet.Group{
		"id":     parquet.String(),
		"tokens": parquet.Optional(twoLevelList{parquet.Group{"array": parquet.Repeated(parquet.Int(64))}}),
	})
	optElemSchema := parquet.NewSchema("optelem", parquet.Group{
		"id":     parquet.Optional(parquet.Int(64)),
		"tokens": parquet.Optional(parquet.List(parquet.Optional(parquet.Int(32)))),
	})
	uintSchema := parquet.NewSchema("uint", parquet.Group{
		"id":     parquet.String(),
		"tokens": parquet.List(parquet.Uint(32)),
	})
	s := func(v string) parquet.Value { return parquet.ValueOf(v) }
	i32 := func(v int32) parquet.Value { return parquet.Int32Value(v) }
	i64 := func(v int64) parquet.Value { return parquet.Int64Value(v) }
	null := parquet.Value{}

	cases := []struct {
		name    string
		path    string
		cols    TokenColumns
		idIsInt bool
		want    []TokenRow // File is filled in
	}{
		{
			name: "TokenResult file",
			path: writeFixture(t, dir, "results.parquet", []TokenResult{
				{ID: "a", Tokens: []int32{1, 2, 3}, Count: 3},
				{ID: "b", Tokens: []int32{}},
				{ID: "c", Tokens: nil},
				{ID: "d", Tokens: []int32{-1, 2147483647}},
			}),
			want: []TokenRow{
				{Index: 0, ID: "a", Tokens: []int64{1, 2, 3}},
				{Index: 1, ID: "b", Tokens: []int64{}},
				{Index: 2, ID: "c", Tokens: []int64{}},
				{Index: 3, ID: "d", Tokens: []int64{-1, 2147483647}},
			},
		},
		{
			name: "DetokenizeError file: optional int64 list",
			path: writeFixture(t, dir, "deterr.parquet", []DetokenizeError{
				{ID: "a", Tokens: []int64{1 << 40, -5}},
				{ID: "b", Tokens: nil},
				{ID: "c", Tokens: []int64{}},
			}),
			want: []TokenRow{
				{Index: 0, ID: "a", Tokens: []int64{1 << 40, -5}},
				{Index: 1, ID: "b", TokensNull: true},
				{Index: 2, ID: "c", Tokens: []int64{}},
			},
		},
		{
			name:    "int ids, int64 list",
			path:    writeFixture(t, dir, "intid.parquet", []intIDTokens{{10, []int64{7}}, {-2, nil}}),
			idIsInt: true,
			want:    []TokenRow{{Index: 0, ID: "10", Tokens: []int64{7}}, {Index: 1, ID: "-2", Tokens: []int64{}}},
		},
		{
			name: "custom column names",
			path: writeFixture(t, dir, "custom.parquet", []customTokens{{ptr("k"), []int32{5}}, {nil, []int32{6, 7}}}),
			cols: TokenColumns{ID: "key", Tokens: "toks"},
			want: []TokenRow{{Index: 0, ID: "k", Tokens: []int64{5}}, {Index: 1, IDNull: true, Tokens: []int64{6, 7}}},
		},
		{
			name: "legacy bare repeated int32",
			path: writeRawFixture(t, dir, "legacy.parquet", legacySchema, []parquet.Row{
				{s("a").Level(0, 0, 0), i32(1).Level(0, 1, 1), i32(2).Level(1, 1, 1)},
				{s("b").Level(0, 0, 0), null.Level(0, 0, 1)},
				{s("c").Level(0, 0, 0), i32(3).Level(0, 1, 1)},
			}),
			want: []TokenRow{
				{Index: 0, ID: "a", Tokens: []int64{1, 2}},
				{Index: 1, ID: "b", Tokens: []int64{}},
				{Index: 2, ID: "c", Tokens: []int64{3}},
			},
		},
		{
			name: "legacy two-level LIST group",
			path: writeRawFixture(t, dir, "twolevel.parquet", twoLevelSchema, []parquet.Row{
				{s("a").Level(0, 0, 0), i64(1).Level(0, 2, 1), i64(2).Level(1, 2, 1)},
				{s("b").Level(0, 0, 0), null.Level(0, 0, 1)},
				{s("c").Level(0, 0, 0), null.Level(0, 1, 1)},
			}),
			want: []TokenRow{
				{Index: 0, ID: "a", Tokens: []int64{1, 2}},
				{Index: 1, ID: "b", TokensNull: true},
				{Index: 2, ID: "c", Tokens: []int64{}},
			},
		},
		{
			name: "optional elements with nulls",
			path: writeRawFixture(t, dir, "optelem.parquet", optElemSchema, []parquet.Row{
				{i64(1).Level(0, 1, 0), i32(1).Level(0, 3, 1), null.Level(1, 2, 1), i32(3).Level(1, 3, 1)},
				{null.Level(0, 0, 0), null.Level(0, 0, 1)},
				{i64(3).Level(0, 1, 0), null.Level(0, 1, 1)},
				{i64(4).Level(0, 1, 0), i32(9).Level(0, 3, 1)},
			}),
			idIsInt: true,
			want: []TokenRow{
				{Index: 0, ID: "1", Tokens: []int64{1, 3}, NullToken: true},
				{Index: 1, IDNull: true, TokensNull: true},
				{Index: 2, ID: "3", Tokens: []int64{}},
				{Index: 3, ID: "4", Tokens: []int64{9}},
			},
		},
		{
			name: "unsigned int32 elements",
			path: writeRawFixture(t, dir, "uint.parquet", uintSchema, []parquet.Row{
				{s("a").Level(0, 0, 0), parquet.Int32Value(-294967296).Level(0, 1, 1)},
			}),
			want: []TokenRow{{Index: 0, ID: "a", Tokens: []int64{4000000000}}},
		},
		{
			name: "multiple row groups and pages",
			path: writeFixture(t, dir, "many.parquet", many, parquet.MaxRowsPerRowGroup(64), parquet.PageBufferSize(128)),
			want: manyWant,
		},
		{
			name: "multiple row groups and pages, v1",
			path: writeFixture(t, dir, "many1.parquet", many, parquet.MaxRowsPerRowGroup(100), parquet.PageBufferSize(128), parquet.DataPageVersion(1)),
			want: manyWant,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := InspectTokens(tc.path, tc.cols)
			if err != nil {
				t.Fatalf("InspectTokens: %v", err)
			}
			if want := (FileInfo{Path: tc.path, NumRows: int64(len(tc.want)), IDIsInt: tc.idIsInt}); info != want {
				t.Errorf("InspectTokens = %+v, want %+v", info, want)
			}
			got := readAllTokenRows(t, tc.path, tc.cols)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows, want %d", len(got), len(tc.want))
			}
			for i := range got {
				want := tc.want[i]
				want.File = tc.path
				if !reflect.DeepEqual(got[i], want) {
					t.Fatalf("row %d = %#v, want %#v", i, got[i], want)
				}
			}
		})
	}

	// The 2-level fixture really has the legacy layout.
	f := openParquet(t, cases[5].path)
	var shape []string
	for _, e := range f.Metadata().Schema {
		shape = append(shape, fmt.Sprintf("%s:%v:%v", e.Name, e.RepetitionType.V, e.LogicalType.Value))
	}
	if got := strings.Join(shape, " "); got != "twolevel:REQUIRED:<nil> id:REQUIRED:STRING tokens:OPTIONAL:LIST array:REPEATED:INT(64,true)" {
		t.Errorf("2-level fixture schema = %s", got)
	}
	if _, ok := f.Metadata().Schema[2].LogicalType.Value.(*format.ListType); !ok {
		t.Errorf("tokens is not LIST-annotated")
	}
}

func TestInspectTokensErrors(t *testing.T) {
	dir := t.TempDir()
	type scalarTokens struct {
		ID     string `parquet:"id"`
		Tokens int64  `parquet:"tokens"`
	}
	type stringTokens struct {
		ID     string   `parquet:"id"`
		Tokens []string `parquet:"tokens,list"`
	}
	type doubleTokens struct {
		ID     string    `parquet:"id"`
		Tokens []float64 `parquet:"tokens,list"`
	}
	type structTokens struct {
		ID     string `parquet:"id"`
		Tokens struct {
			A []int32 `parquet:"a,list"`
		} `parquet:"tokens"`
	}
	type listOfLists struct {
		ID     string    `parquet:"id"`
		Tokens [][]int32 `parquet:"tokens,list"`
	}
	type floatID struct {
		ID     float32 `parquet:"id"`
		Tokens []int32 `parquet:"tokens,list"`
	}
	cases := []struct {
		name string
		path string
		want string
	}{
		{"missing tokens", writeFixture(t, dir, "text.parquet", []TextResult{{ID: "a"}}),
			`input "%s": missing column "tokens" (columns: id, text, count, duration_us)`},
		{"scalar", writeFixture(t, dir, "scalar.parquet", []scalarTokens{{"a", 1}}),
			`input "%s": column "tokens" has type INT64, want a list of integers (LIST<INT32> or LIST<INT64>)`},
		{"strings", writeFixture(t, dir, "strings.parquet", []stringTokens{{"a", nil}}),
			`input "%s": column "tokens" is a list of BYTE_ARRAY (STRING), want a list of integers (LIST<INT32> or LIST<INT64>)`},
		{"doubles", writeFixture(t, dir, "doubles.parquet", []doubleTokens{{"a", nil}}),
			`input "%s": column "tokens" is a list of DOUBLE, want a list of integers (LIST<INT32> or LIST<INT64>)`},
		{"struct", writeFixture(t, dir, "struct.parquet", []structTokens{{ID: "a"}}),
			`input "%s": column "tokens" is a nested group (group (struct)), want a list of integers (LIST<INT32> or LIST<INT64>)`},
		{"list of lists", writeFixture(t, dir, "lol.parquet", []listOfLists{{"a", nil}}),
			`input "%s": column "tokens" is a LIST<LIST<INT32>>, want a list of integers (LIST<INT32> or LIST<INT64>)`},
		{"float id", writeFixture(t, dir, "fid.parquet", []floatID{{1, nil}}),
			`input "%s": column "id" has type FLOAT, want a string or an integer`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := InspectTokens(tc.path, TokenColumns{})
			want := fmt.Sprintf(tc.want, tc.path)
			if err == nil || err.Error() != want {
				t.Fatalf("InspectTokens error:\n got %v\nwant %s", err, want)
			}
			err = ReadTokenRows(context.Background(), tc.path, TokenColumns{}, func(TokenRow) error {
				t.Fatal("fn called")
				return nil
			})
			if err == nil || err.Error() != want {
				t.Fatalf("ReadTokenRows error = %v, want %s", err, want)
			}
		})
	}
}
