package parquetio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/infer"
)

// fullRequest has every request column, all nullable, plus an extra column.
type fullRequest struct {
	ID          *string   `parquet:"id,optional"`
	Prompt      *string   `parquet:"prompt,optional"`
	MaxTokens   *int32    `parquet:"max_tokens,optional"`
	Temperature *float64  `parquet:"temperature,optional"`
	TopP        *float32  `parquet:"top_p,optional"`
	TopK        *int64    `parquet:"top_k,optional"`
	Seed        *uint64   `parquet:"seed,optional"`
	Extra       []byte    `parquet:"extra"`
	Stop        []*string `parquet:"stop,list,optional"`
	Priority    *int16    `parquet:"priority,optional"`
}

// requiredRequest has every request column, required, with required stop
// elements and integer ids.
type requiredRequest struct {
	ID          int32    `parquet:"id"`
	Prompt      string   `parquet:"prompt,dict"`
	MaxTokens   int64    `parquet:"max_tokens"`
	Temperature float32  `parquet:"temperature"`
	TopP        float64  `parquet:"top_p"`
	TopK        uint32   `parquet:"top_k"`
	Seed        int64    `parquet:"seed"`
	Stop        []string `parquet:"stop,list"`
	Priority    int64    `parquet:"priority"`
}

// promptOnly is a request file with only the required columns.
type promptOnly struct {
	ID     uint64 `parquet:"id"`
	Prompt string `parquet:"prompt"`
}

func readAllRequestRows(t testing.TB, path string, cols RequestColumns) []RequestRow {
	t.Helper()
	var rows []RequestRow
	if err := ReadRequestRows(context.Background(), path, cols, func(r RequestRow) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("ReadRequestRows(%s): %v", path, err)
	}
	return rows
}

// specString renders a Spec with its pointers dereferenced, for comparisons
// and failure messages.
func specString(s infer.Spec) string {
	var b strings.Builder
	field := func(name string, p any) {
		v := reflect.ValueOf(p)
		if v.IsNil() {
			fmt.Fprintf(&b, "%s=<nil> ", name)
		} else {
			fmt.Fprintf(&b, "%s=%#v ", name, v.Elem().Interface())
		}
	}
	field("prompt", s.Prompt)
	field("max_tokens", s.MaxTokens)
	field("temperature", s.Temperature)
	field("top_p", s.TopP)
	field("top_k", s.TopK)
	field("seed", s.Seed)
	if s.Stop == nil {
		b.WriteString("stop=<nil> ")
	} else {
		fmt.Fprintf(&b, "stop=%q ", s.Stop)
	}
	field("priority", s.Priority)
	if s.Messages != nil {
		b.WriteString("messages!")
	}
	return b.String()
}

func rowString(r RequestRow) string {
	return fmt.Sprintf("%s#%d id=%q null=%v %s", r.File, r.Index, r.ID, r.IDNull, specString(r.Spec))
}

func manyRequests(n int) ([]fullRequest, []RequestRow) {
	rows := make([]fullRequest, n)
	want := make([]RequestRow, n)
	for i := range rows {
		r := fullRequest{ID: ptr(fmt.Sprint("r", i)), Extra: []byte{byte(i)}}
		w := RequestRow{Index: int64(i), ID: fmt.Sprint("r", i)}
		if i%5 != 0 {
			r.Prompt = ptr(strings.Repeat(string(rune('a'+i%26)), i%41))
			w.Spec.Prompt = r.Prompt
		}
		if i%3 != 0 {
			r.MaxTokens = ptr(int32(i))
			w.Spec.MaxTokens = ptr(int64(i))
		}
		if i%4 != 0 {
			r.Temperature = ptr(float64(i) / 100)
			w.Spec.Temperature = r.Temperature
		}
		if i%7 == 1 {
			r.Seed = ptr(uint64(i) << 40)
			w.Spec.Seed = ptr(int64(i) << 40)
		}
		switch i % 6 {
		case 0:
		case 1:
			r.Stop, w.Spec.Stop = []*string{}, []string{}
		default:
			for j := range i % 6 {
				s := fmt.Sprint("stop", i, "-", j)
				r.Stop = append(r.Stop, &s)
				w.Spec.Stop = append(w.Spec.Stop, s)
			}
		}
		rows[i], want[i] = r, w
	}
	return rows, want
}

func TestReadRequestRows(t *testing.T) {
	dir := t.TempDir()
	many, manyWant := manyRequests(1000)
	f32 := func(v float32) *float64 { x := float64(v); return &x }

	stopSchema := func(stop parquet.Node) *parquet.Schema {
		return parquet.NewSchema("req", parquet.Group{"id": parquet.String(), "prompt": parquet.String(), "stop": stop})
	}
	// Leaves are ordered by name: id, prompt, stop.
	s := func(v string) parquet.Value { return parquet.ValueOf(v) }
	null := parquet.Value{}
	twoLevel := stopSchema(parquet.Optional(twoLevelStringList{parquet.Group{"array": parquet.Repeated(parquet.String())}}))
	bare := stopSchema(parquet.Repeated(parquet.String()))

	type testCase struct {
		name    string
		path    string
		cols    RequestColumns
		idIsInt bool
		want    []RequestRow // File is filled in
	}
	cases := []testCase{
		{
			name: "all columns nullable, nulls and lists",
			path: writeFixture(t, dir, "full.parquet", []fullRequest{
				{ID: ptr("a"), Prompt: ptr("hello"), MaxTokens: ptr(int32(16)), Temperature: ptr(0.7), TopP: ptr(float32(0.5)),
					TopK: ptr(int64(40)), Seed: ptr(uint64(123)), Stop: []*string{ptr("\n"), ptr("END")}, Priority: ptr(int16(-2))},
				{ID: ptr("b"), Prompt: nil, Stop: nil},
				{ID: nil, Prompt: ptr(""), Stop: []*string{}},
				{ID: ptr("d"), Prompt: ptr("wörld ✓"), Stop: []*string{ptr("x"), nil, ptr("")}, Seed: ptr(uint64(math.MaxUint64))},
				{ID: ptr("e"), Prompt: ptr("p"), Temperature: ptr(0.0), TopP: ptr(float32(0)), MaxTokens: ptr(int32(0)), TopK: ptr(int64(0)), Priority: ptr(int16(0))},
			}),
			want: []RequestRow{
				{Index: 0, ID: "a", Spec: infer.Spec{Prompt: ptr("hello"), MaxTokens: ptr(int64(16)), Temperature: ptr(0.7), TopP: f32(0.5),
					TopK: ptr(int64(40)), Seed: ptr(int64(123)), Stop: []string{"\n", "END"}, Priority: ptr(int64(-2))}},
				{Index: 1, ID: "b"},
				{Index: 2, IDNull: true, Spec: infer.Spec{Prompt: ptr(""), Stop: []string{}}},
				// A null stop element is kept as "", an out-of-range
				// unsigned seed saturates.
				{Index: 3, ID: "d", Spec: infer.Spec{Prompt: ptr("wörld ✓"), Stop: []string{"x", "", ""}, Seed: ptr(int64(math.MaxInt64))}},
				{Index: 4, ID: "e", Spec: infer.Spec{Prompt: ptr("p"), Temperature: ptr(0.0), TopP: ptr(0.0), MaxTokens: ptr(int64(0)), TopK: ptr(int64(0)), Priority: ptr(int64(0))}},
			},
		},
		{
			name: "all columns required, int32 ids",
			path: writeFixture(t, dir, "required.parquet", []requiredRequest{
				{ID: -7, Prompt: "p", MaxTokens: 1 << 40, Temperature: 1.5, TopP: 0.95, TopK: 4000000000, Seed: 9, Stop: []string{"a", "b"}, Priority: 1 << 40},
				{ID: 2147483647, Prompt: "p", Stop: nil},
			}),
			idIsInt: true,
			want: []RequestRow{
				{Index: 0, ID: "-7", Spec: infer.Spec{Prompt: ptr("p"), MaxTokens: ptr(int64(1 << 40)), Temperature: ptr(1.5), TopP: ptr(0.95),
					TopK: ptr(int64(4000000000)), Seed: ptr(int64(9)), Stop: []string{"a", "b"}, Priority: ptr(int64(1 << 40))}},
				// A required list written from nil is empty.
				{Index: 1, ID: "2147483647", Spec: infer.Spec{Prompt: ptr("p"), MaxTokens: ptr(int64(0)), Temperature: ptr(0.0), TopP: ptr(0.0),
					TopK: ptr(int64(0)), Seed: ptr(int64(0)), Stop: []string{}, Priority: ptr(int64(0))}},
			},
		},
		{
			name:    "only id and prompt, uint64 ids",
			path:    writeFixture(t, dir, "prompt.parquet", []promptOnly{{math.MaxUint64, "x"}, {0, ""}}),
			idIsInt: true,
			want: []RequestRow{
				{Index: 0, ID: "18446744073709551615", Spec: infer.Spec{Prompt: ptr("x")}},
				{Index: 1, ID: "0", Spec: infer.Spec{Prompt: ptr("")}},
			},
		},
		{
			name: "custom column names, default names ignored",
			path: writeFixture(t, dir, "custom.parquet", []customRequest{
				{Key: "k1", Body: "b1", Temp: ptr(0.25), Stops: []string{"s"}, Temperature: "not read", Stop: "not read"},
				{Key: "k2", Body: "b2"},
			}),
			cols: RequestColumns{ID: "key", Prompt: "body", Temperature: "temp", Stop: "stops"},
			want: []RequestRow{
				{Index: 0, ID: "k1", Spec: infer.Spec{Prompt: ptr("b1"), Temperature: ptr(0.25), Stop: []string{"s"}}},
				{Index: 1, ID: "k2", Spec: infer.Spec{Prompt: ptr("b2"), Stop: []string{}}},
			},
		},
		{
			name: "legacy two-level stop list",
			path: writeRawFixture(t, dir, "twolevel.parquet", twoLevel, []parquet.Row{
				{s("a").Level(0, 0, 0), s("p").Level(0, 0, 1), s("x").Level(0, 2, 2), s("y").Level(1, 2, 2)},
				{s("b").Level(0, 0, 0), s("p").Level(0, 0, 1), null.Level(0, 0, 2)},
				{s("c").Level(0, 0, 0), s("p").Level(0, 0, 1), null.Level(0, 1, 2)},
			}),
			want: []RequestRow{
				{Index: 0, ID: "a", Spec: infer.Spec{Prompt: ptr("p"), Stop: []string{"x", "y"}}},
				{Index: 1, ID: "b", Spec: infer.Spec{Prompt: ptr("p")}},
				{Index: 2, ID: "c", Spec: infer.Spec{Prompt: ptr("p"), Stop: []string{}}},
			},
		},
		{
			name: "legacy bare repeated stop",
			path: writeRawFixture(t, dir, "bare.parquet", bare, []parquet.Row{
				{s("a").Level(0, 0, 0), s("p").Level(0, 0, 1), s("x").Level(0, 1, 2)},
				{s("b").Level(0, 0, 0), s("p").Level(0, 0, 1), null.Level(0, 0, 2)},
			}),
			want: []RequestRow{
				{Index: 0, ID: "a", Spec: infer.Spec{Prompt: ptr("p"), Stop: []string{"x"}}},
				{Index: 1, ID: "b", Spec: infer.Spec{Prompt: ptr("p"), Stop: []string{}}},
			},
		},
		{
			name: "empty file",
			path: writeFixture(t, dir, "empty.parquet", []fullRequest{}),
		},
	}
	for _, v := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"v2 pages", nil},
		{"v1 pages, snappy", []parquet.WriterOption{parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy)}},
		{"zstd", []parquet.WriterOption{parquet.Compression(&parquet.Zstd)}},
	} {
		opts := append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(128), parquet.PageBufferSize(256)}, v.opts...)
		cases = append(cases, testCase{
			name: "multiple row groups and pages, " + v.name,
			path: writeFixture(t, dir, "many-"+strings.NewReplacer(" ", "", ",", "").Replace(v.name)+".parquet", many, opts...),
			want: manyWant,
		})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := InspectRequests(tc.path, tc.cols)
			if err != nil {
				t.Fatalf("InspectRequests: %v", err)
			}
			if want := (FileInfo{Path: tc.path, NumRows: int64(len(tc.want)), IDIsInt: tc.idIsInt}); info != want {
				t.Errorf("InspectRequests = %+v, want %+v", info, want)
			}
			if strings.HasPrefix(tc.name, "multiple") {
				f := openParquet(t, tc.path)
				if n := len(f.RowGroups()); n < 8 {
					t.Fatalf("fixture has %d row groups, want >= 8", n)
				}
				if n := countPages(t, f, "prompt"); n < 16 {
					t.Fatalf("fixture has %d prompt pages, want >= 16", n)
				}
			}
			got := readAllRequestRows(t, tc.path, tc.cols)
			if len(got) != len(tc.want) {
				t.Fatalf("got %d rows, want %d", len(got), len(tc.want))
			}
			for i := range got {
				want := tc.want[i]
				want.File = tc.path
				if g, w := rowString(got[i]), rowString(want); g != w {
					t.Fatalf("row %d:\n got %s\nwant %s", i, g, w)
				}
				// Nil and empty stop lists differ.
				if (got[i].Spec.Stop == nil) != (want.Spec.Stop == nil) {
					t.Fatalf("row %d: stop %#v, want %#v", i, got[i].Spec.Stop, want.Spec.Stop)
				}
			}
		})
	}
}

// twoLevelStringList is a LIST-annotated group whose only child is the
// repeated string element itself (the legacy 2-level list layout).
type twoLevelStringList struct{ parquet.Group }

func (twoLevelStringList) Type() parquet.Type { return parquet.List(parquet.String()).Type() }

type customRequest struct {
	Key         string   `parquet:"key"`
	Body        string   `parquet:"body"`
	Temp        *float64 `parquet:"temp,optional"`
	Stops       []string `parquet:"stops,list"`
	Temperature string   `parquet:"temperature"`
	Stop        string   `parquet:"stop"`
}

// TestRequestColumnTypes checks the type rules of each optional column: a
// file with id, prompt and the column (one row holding value) is read, or
// rejected with the error.
func TestRequestColumnTypes(t *testing.T) {
	dir := t.TempDir()
	i32 := parquet.Int32Value
	i64 := parquet.Int64Value
	cases := []struct {
		column string
		node   parquet.Node
		value  parquet.Value
		want   string // the Spec as specString renders the column, or the error (with %s for the path)
	}{
		{"max_tokens", parquet.Int(32), i32(5), "max_tokens=5"},
		{"max_tokens", parquet.Leaf(parquet.Int64Type), i64(1 << 40), "max_tokens=1099511627776"},
		{"max_tokens", parquet.Int(8), i32(-3), "max_tokens=-3"},
		{"max_tokens", parquet.Uint(32), i32(-1), "max_tokens=4294967295"},
		{"max_tokens", parquet.Uint(64), i64(-1), "max_tokens=9223372036854775807"},
		{"max_tokens", parquet.Leaf(parquet.DoubleType), parquet.DoubleValue(5),
			`input "%s": column "max_tokens" has type DOUBLE, want an integer (INT32 or INT64)`},
		{"max_tokens", parquet.Decimal(0, 9, parquet.Int32Type), i32(5),
			`input "%s": column "max_tokens" has type INT32 (DECIMAL(9,0)), want an integer (INT32 or INT64); cast the column to BIGINT`},
		{"max_tokens", parquet.String(), parquet.ValueOf("5"),
			`input "%s": column "max_tokens" has type BYTE_ARRAY (STRING), want an integer (INT32 or INT64)`},
		{"max_tokens", parquet.Repeated(parquet.Int(64)), i64(5),
			`input "%s": column "max_tokens" is repeated (repeated INT64), want a single integer per row`},

		{"temperature", parquet.Leaf(parquet.DoubleType), parquet.DoubleValue(0.7), "temperature=0.7"},
		{"temperature", parquet.Leaf(parquet.FloatType), parquet.FloatValue(0.25), "temperature=0.25"},
		{"temperature", parquet.Int(32), i32(1), "temperature=1"},
		{"temperature", parquet.Uint(64), i64(-1), "temperature=1.8446744073709552e+19"},
		{"temperature", parquet.String(), parquet.ValueOf("0.7"),
			`input "%s": column "temperature" has type BYTE_ARRAY (STRING), want a float (FLOAT or DOUBLE) or an integer`},
		{"temperature", parquet.Decimal(1, 2, parquet.Int32Type), i32(7),
			`input "%s": column "temperature" has type INT32 (DECIMAL(2,1)), want a float (FLOAT or DOUBLE) or an integer; cast the column to DOUBLE (DuckDB gives literals such as 0.7 the DECIMAL type)`},
		{"temperature", parquet.Decimal(2, 20, parquet.FixedLenByteArrayType(9)), parquet.FixedLenByteArrayValue(make([]byte, 9)),
			`input "%s": column "temperature" has type FIXED_LEN_BYTE_ARRAY (DECIMAL(20,2)), want a float (FLOAT or DOUBLE) or an integer; cast the column to DOUBLE (DuckDB gives literals such as 0.7 the DECIMAL type)`},
		{"temperature", parquet.Date(), i32(1),
			`input "%s": column "temperature" has type INT32 (DATE), want a float (FLOAT or DOUBLE) or an integer`},
		{"temperature", parquet.List(parquet.Leaf(parquet.DoubleType)), parquet.DoubleValue(1),
			`input "%s": column "temperature" is a list (LIST<DOUBLE>), want a single number per row`},

		{"top_p", parquet.Leaf(parquet.DoubleType), parquet.DoubleValue(0.9), "top_p=0.9"},
		{"top_p", parquet.Int(64), i64(1), "top_p=1"},
		{"top_p", parquet.Leaf(parquet.BooleanType), parquet.BooleanValue(true),
			`input "%s": column "top_p" has type BOOLEAN, want a float (FLOAT or DOUBLE) or an integer`},

		{"top_k", parquet.Int(64), i64(40), "top_k=40"},
		{"top_k", parquet.Int(16), i32(7), "top_k=7"},
		{"top_k", parquet.Leaf(parquet.FloatType), parquet.FloatValue(1),
			`input "%s": column "top_k" has type FLOAT, want an integer (INT32 or INT64)`},

		{"seed", parquet.Int(64), i64(42), "seed=42"},
		{"seed", parquet.Uint(64), i64(-2), "seed=9223372036854775807"},
		{"seed", parquet.JSON(), parquet.ValueOf("1"),
			`input "%s": column "seed" has type BYTE_ARRAY (JSON), want an integer (INT32 or INT64)`},

		{"priority", parquet.Int(32), i32(-5), "priority=-5"},
		{"priority", parquet.Leaf(parquet.DoubleType), parquet.DoubleValue(1),
			`input "%s": column "priority" has type DOUBLE, want an integer (INT32 or INT64)`},

		{"stop", parquet.String(), parquet.ValueOf("\n"),
			`input "%s": column "stop" has type BYTE_ARRAY (STRING), want a list of strings (LIST<STRING>)`},
		{"stop", parquet.List(parquet.Int(64)), i64(1),
			`input "%s": column "stop" is a list of INT64, want a list of strings (LIST<STRING>)`},
		{"stop", parquet.List(parquet.JSON()), parquet.ValueOf("1"),
			`input "%s": column "stop" is a list of BYTE_ARRAY (JSON), want a list of strings (LIST<STRING>)`},
		{"stop", parquet.List(parquet.List(parquet.String())), parquet.ValueOf("x"),
			`input "%s": column "stop" is a LIST<LIST<BYTE_ARRAY (STRING)>>, want a list of strings (LIST<STRING>)`},
		{"stop", parquet.Group{"a": parquet.String()}, parquet.ValueOf("x"),
			`input "%s": column "stop" is a nested group (group (struct)), want a list of strings (LIST<STRING>)`},

		{"prompt", parquet.Int(64), i64(1),
			`input "%s": column "prompt" has type INT64, want a string (BYTE_ARRAY UTF8/STRING)`},
		{"text", parquet.String(), parquet.ValueOf("x"),
			`input "%s": missing column "prompt" (columns: id, text)`},
	}
	for i, tc := range cases {
		name := fmt.Sprintf("%s/%d", tc.column, i)
		t.Run(name, func(t *testing.T) {
			group := parquet.Group{"id": parquet.String(), tc.column: tc.node}
			if tc.column != "prompt" && tc.column != "text" {
				group["prompt"] = parquet.String()
			}
			schema := parquet.NewSchema("req", group)
			// One value per leaf column (a one-element list for lists), at
			// its maximum definition level.
			var row parquet.Row
			for _, col := range schema.Columns() {
				leaf, _ := schema.Lookup(col...)
				v := parquet.ValueOf("p")
				switch col[0] {
				case "id":
					v = parquet.ValueOf("a")
				case tc.column:
					v = tc.value
				}
				row = append(row, v.Level(0, leaf.MaxDefinitionLevel, leaf.ColumnIndex))
			}
			path := writeRawFixture(t, dir, fmt.Sprintf("t%d.parquet", i), schema, []parquet.Row{row})
			want := tc.want
			if strings.HasPrefix(want, "input ") {
				want = fmt.Sprintf(want, path)
				if _, err := InspectRequests(path, RequestColumns{}); err == nil || err.Error() != want {
					t.Fatalf("InspectRequests error:\n got %v\nwant %s", err, want)
				}
				err := ReadRequestRows(context.Background(), path, RequestColumns{}, func(RequestRow) error {
					t.Fatal("fn called")
					return nil
				})
				if err == nil || err.Error() != want {
					t.Fatalf("ReadRequestRows error = %v, want %s", err, want)
				}
				return
			}
			rows := readAllRequestRows(t, path, RequestColumns{})
			if len(rows) != 1 {
				t.Fatalf("got %d rows", len(rows))
			}
			if got := specString(rows[0].Spec); !strings.Contains(got, want+" ") {
				t.Fatalf("spec %s, want %s", got, want)
			}
		})
	}
}

func TestReadRequestRowsCallbackErrorAndCancel(t *testing.T) {
	many, _ := manyRequests(5000)
	path := writeFixture(t, t.TempDir(), "many.parquet", many, parquet.MaxRowsPerRowGroup(2000))

	t.Run("fn error is returned unchanged", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := ReadRequestRows(context.Background(), path, RequestColumns{}, func(RequestRow) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
		if err != stop || n != 10 {
			t.Fatalf("err = %v after %d rows, want the callback's error after 10", err, n)
		}
	})
	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := ReadRequestRows(ctx, path, RequestColumns{}, func(RequestRow) error {
			n++
			if n == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), path) {
			t.Fatalf("err = %v, want context.Canceled naming the file", err)
		}
		if n > batchRows {
			t.Fatalf("read %d rows after cancel, want at most one batch", n)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := ReadRequestRows(ctx, path, RequestColumns{}, func(RequestRow) error { t.Fatal("fn called"); return nil })
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
	t.Run("callback panic propagates", func(t *testing.T) {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v, want the callback's panic", r)
			}
		}()
		ReadRequestRows(context.Background(), path, RequestColumns{}, func(RequestRow) error { panic("boom") })
		t.Fatal("no panic")
	})
}

// TestReadRequestRowsProjection checks that columns other than the request's
// are never read: their data is overwritten with garbage.
func TestReadRequestRowsProjection(t *testing.T) {
	rows, _ := manyRequests(300)
	for i := range rows {
		rows[i].Extra = bytes.Repeat([]byte{byte(i)}, 1000)
	}
	path := writeFixture(t, t.TempDir(), "extra.parquet", rows, parquet.MaxRowsPerRowGroup(100))
	want := readAllRequestRows(t, path, RequestColumns{})
	f := openParquet(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			if md := cc.MetaData; md.PathInSchema[0] == "extra" {
				for i := md.DataPageOffset; i < md.DataPageOffset+md.TotalCompressedSize; i++ {
					data[i] = 0xA5
				}
			}
		}
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadAll[fullRequest](path); err == nil {
		t.Fatal("reading the corrupted column unexpectedly succeeded")
	}
	got := readAllRequestRows(t, path, RequestColumns{})
	for i := range want {
		if rowString(got[i]) != rowString(want[i]) {
			t.Fatalf("row %d differs after corrupting an unread column", i)
		}
	}
}

// TestRequestCorruptData damages the data of each request column: the reader
// must report a corrupt file naming it (or, where the damage only changes
// values, read the file), never panic.
func TestRequestCorruptData(t *testing.T) {
	dir := t.TempDir()
	rows, _ := manyRequests(500)
	path := writeFixture(t, dir, "c.parquet", rows, parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(200))
	f := openParquet(t, path)
	clean, _ := os.ReadFile(path)
	failed := map[string]bool{}
	for _, rgi := range []int{0, 2} {
		for _, cc := range f.Metadata().RowGroups[rgi].Columns {
			md := cc.MetaData
			col := md.PathInSchema[0]
			if col == "extra" {
				continue
			}
			for _, pos := range []int64{0, 3, md.TotalCompressedSize / 2, md.TotalCompressedSize - 2} {
				name := fmt.Sprintf("rg%d-%s-at%d", rgi, col, pos)
				data := bytes.Clone(clean)
				for i := int64(0); i < 8 && md.DataPageOffset+pos+i < int64(len(data)); i++ {
					data[md.DataPageOffset+pos+i] ^= 0x5A
				}
				p := filepath.Join(dir, name+".parquet")
				os.WriteFile(p, data, 0o644)
				if _, err := InspectRequests(p, RequestColumns{}); err != nil {
					t.Fatalf("%s: InspectRequests: %v", name, err)
				}
				err := ReadRequestRows(context.Background(), p, RequestColumns{}, func(RequestRow) error { return nil })
				if err == nil {
					continue
				}
				if !strings.HasPrefix(err.Error(), fmt.Sprintf("input %q: corrupt Parquet: ", p)) {
					t.Fatalf("%s: err = %v, want a corrupt Parquet error naming the file", name, err)
				}
				failed[col] = true
			}
		}
	}
	// Damage to page headers is always detected.
	for _, col := range []string{"id", "prompt", "max_tokens", "temperature", "seed", "stop"} {
		if !failed[col] {
			t.Errorf("no damage to column %q was detected", col)
		}
	}

	// The size guards apply too: a huge page size in a header is refused
	// before parquet-go allocates it.
	defer func(v int64) { maxPageBytes = v }(maxPageBytes)
	maxPageBytes = 64
	err := ReadRequestRows(context.Background(), path, RequestColumns{}, func(RequestRow) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "corrupt Parquet") || !strings.Contains(err.Error(), "out of range (limit 64)") {
		t.Fatalf("err = %v, want a page size error", err)
	}
}

func TestInferOutputSchemas(t *testing.T) {
	t.Run("InferResult", func(t *testing.T) {
		rows := []InferResult{
			{ID: "a", Text: "héllo", PromptTokens: 3, CompletionTokens: 2, FinishReason: "stop", TTFTMS: ptr(12.5), DurationMS: 40.25, Model: "m", Seed: 1 << 62},
			{ID: "b", FinishReason: "length", TTFTMS: nil, Model: "m"},
		}
		testOutputType(t, rows, `	required binary id (STRING);
	required binary text (STRING);
	required int32 prompt_tokens (INT(32,true));
	required int32 completion_tokens (INT(32,true));
	required binary finish_reason (STRING);
	optional double ttft_ms;
	required double duration_ms;
	required binary model (STRING);
	required int64 seed (INT(64,true));
}`, func(got []InferResult) {
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("got %+v, want %+v", got, rows)
			}
		})
	})
	t.Run("InferError", func(t *testing.T) {
		var full InferError
		full.SetSpec(infer.Spec{Prompt: ptr("p"), MaxTokens: ptr(int64(-1)), Temperature: ptr(0.5), TopP: ptr(2.0),
			TopK: ptr(int64(3)), Seed: ptr(int64(-4)), Stop: []string{"", "x"}, Priority: ptr(int64(5))})
		full.ID, full.Error, full.Stage, full.File, full.Row = "a", "max_tokens: -1 is not positive", "validate", "in.parquet", 7
		rows := []InferError{
			full,
			{ID: "b", Error: "null prompt", Stage: "validate", File: "in.parquet", Row: 8},
			{ID: "c", Error: "empty stop", Stage: "validate", File: "in.parquet", Row: 9, Prompt: ptr(""), Stop: []string{}},
		}
		testOutputType(t, rows, `	required binary id (STRING);
	required binary error (STRING);
	required binary stage (STRING);
	required binary file (STRING);
	required int64 row (INT(64,true));
	optional binary prompt (STRING);
	optional int64 max_tokens (INT(64,true));
	optional double temperature;
	optional double top_p;
	optional int64 top_k (INT(64,true));
	optional int64 seed (INT(64,true));
	optional group stop (LIST) {
		repeated group list {
			required binary element (STRING);
		}
	}
	optional int64 priority (INT(64,true));
}`, func(got []InferError) {
			if !reflect.DeepEqual(got, rows) {
				t.Errorf("got %#v, want %#v", got, rows)
			}
			if got[1].Stop != nil || got[2].Stop == nil {
				t.Errorf("null/empty stop not preserved: %#v %#v", got[1].Stop, got[2].Stop)
			}
		})
	})
}
