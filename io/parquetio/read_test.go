package parquetio

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

type strRow struct {
	ID   string `parquet:"id"`
	Text string `parquet:"text"`
}

type int32Row struct {
	ID   int32  `parquet:"id"`
	Text string `parquet:"text"`
}

type int8Row struct {
	ID   int8   `parquet:"id"`
	Text string `parquet:"text"`
}

type uint32Row struct {
	ID   uint32 `parquet:"id"`
	Text string `parquet:"text"`
}

type uint64Row struct {
	ID   uint64 `parquet:"id"`
	Text string `parquet:"text"`
}

type optInt64Row struct {
	ID   *int64  `parquet:"id,optional"`
	Text *string `parquet:"text,optional"`
}

type optStrRow struct {
	ID   *string `parquet:"id,optional"`
	Text *string `parquet:"text,optional"`
}

type binRow struct {
	ID   []byte `parquet:"id"`
	Text []byte `parquet:"text"`
}

type customRow struct {
	Other int64   `parquet:"other"`
	Key   string  `parquet:"doc_key"`
	Body  *string `parquet:"body,optional"`
}

type dictRow struct {
	ID   string `parquet:"id,dict"`
	Text string `parquet:"text,dict"`
}

type extraRow struct {
	Before float64 `parquet:"before"`
	ID     string  `parquet:"id"`
	Blob   []byte  `parquet:"blob"`
	Text   string  `parquet:"text"`
	After  []int64 `parquet:"after,list"`
}

// manyRows returns n rows with varied text lengths.
func manyRows(n int) []strRow {
	rows := make([]strRow, n)
	for i := range rows {
		rows[i] = strRow{ID: fmt.Sprintf("doc-%04d", i), Text: strings.Repeat(string(rune('a'+i%26)), i%37)}
	}
	return rows
}

func wantRows(path string, rows []strRow) []Row {
	out := make([]Row, len(rows))
	for i, r := range rows {
		out[i] = Row{File: path, Index: int64(i), ID: r.ID, Text: r.Text}
	}
	return out
}

func TestReadRows(t *testing.T) {
	dir := t.TempDir()
	many := manyRows(1000)
	type testCase struct {
		name    string
		path    string
		cols    Columns
		idIsInt bool
		want    []Row // File is filled in
		// minGroups/minPages check that the fixture exercises multiple row
		// groups and pages.
		minGroups, minPages int
	}
	cases := []testCase{
		{
			name: "string ids",
			path: writeFixture(t, dir, "str.parquet", []strRow{{"a", "hello"}, {"b", ""}, {"c", "wörld ✓"}}),
			want: []Row{{Index: 0, ID: "a", Text: "hello"}, {Index: 1, ID: "b", Text: ""}, {Index: 2, ID: "c", Text: "wörld ✓"}},
		},
		{
			name:    "int32 ids",
			path:    writeFixture(t, dir, "i32.parquet", []int32Row{{7, "x"}, {-3, "y"}, {2147483647, "z"}}),
			idIsInt: true,
			want:    []Row{{Index: 0, ID: "7", Text: "x"}, {Index: 1, ID: "-3", Text: "y"}, {Index: 2, ID: "2147483647", Text: "z"}},
		},
		{
			name:    "int8 ids",
			path:    writeFixture(t, dir, "i8.parquet", []int8Row{{-128, "x"}, {127, "y"}}),
			idIsInt: true,
			want:    []Row{{Index: 0, ID: "-128", Text: "x"}, {Index: 1, ID: "127", Text: "y"}},
		},
		{
			name:    "uint32 ids",
			path:    writeFixture(t, dir, "u32.parquet", []uint32Row{{4000000000, "x"}, {1, "y"}}),
			idIsInt: true,
			want:    []Row{{Index: 0, ID: "4000000000", Text: "x"}, {Index: 1, ID: "1", Text: "y"}},
		},
		{
			name:    "uint64 ids",
			path:    writeFixture(t, dir, "u64.parquet", []uint64Row{{18446744073709551615, "x"}}),
			idIsInt: true,
			want:    []Row{{Index: 0, ID: "18446744073709551615", Text: "x"}},
		},
		{
			name: "optional int64 ids with nulls",
			path: writeFixture(t, dir, "i64opt.parquet", []optInt64Row{
				{ptr(int64(-9223372036854775808)), ptr("min")},
				{nil, ptr("null id")},
				{ptr(int64(42)), nil},
				{nil, nil},
				{ptr(int64(0)), ptr("")},
			}),
			idIsInt: true,
			want: []Row{
				{Index: 0, ID: "-9223372036854775808", Text: "min"},
				{Index: 1, IDNull: true, Text: "null id"},
				{Index: 2, ID: "42", TextNull: true},
				{Index: 3, IDNull: true, TextNull: true},
				{Index: 4, ID: "0", Text: ""},
			},
		},
		{
			name: "optional string columns with nulls",
			path: writeFixture(t, dir, "stropt.parquet", []optStrRow{{ptr("a"), nil}, {nil, ptr("t")}, {ptr(""), ptr("")}}),
			want: []Row{{Index: 0, ID: "a", TextNull: true}, {Index: 1, IDNull: true, Text: "t"}, {Index: 2, ID: "", Text: ""}},
		},
		{
			name: "plain binary columns, invalid UTF-8 passed through",
			path: writeFixture(t, dir, "bin.parquet", []binRow{{[]byte("k1"), []byte("ok")}, {[]byte("k2"), []byte{0xff, 0xfe, 'x'}}}),
			want: []Row{{Index: 0, ID: "k1", Text: "ok"}, {Index: 1, ID: "k2", Text: "\xff\xfex"}},
		},
		{
			name: "custom column names",
			path: writeFixture(t, dir, "custom.parquet", []customRow{{1, "k1", ptr("body one")}, {2, "k2", nil}}),
			cols: Columns{ID: "doc_key", Text: "body"},
			want: []Row{{Index: 0, ID: "k1", Text: "body one"}, {Index: 1, ID: "k2", TextNull: true}},
		},
		{
			name: "extra columns",
			path: writeFixture(t, dir, "extra.parquet", []extraRow{{1.5, "a", bytes.Repeat([]byte{1}, 1000), "t1", []int64{1, 2}}, {2.5, "b", nil, "t2", nil}}),
			want: []Row{{Index: 0, ID: "a", Text: "t1"}, {Index: 1, ID: "b", Text: "t2"}},
		},
		{
			name: "dictionary encoded",
			path: writeFixture(t, dir, "dict.parquet", []dictRow{{"a", "same"}, {"b", "same"}, {"c", "other"}, {"a", "same"}},
				parquet.PageBufferSize(16)),
			want: []Row{{Index: 0, ID: "a", Text: "same"}, {Index: 1, ID: "b", Text: "same"}, {Index: 2, ID: "c", Text: "other"}, {Index: 3, ID: "a", Text: "same"}},
		},
		{
			name: "empty file",
			path: writeFixture(t, dir, "empty.parquet", []strRow{}),
		},
	}
	for _, v := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"v2 pages", nil},
		{"v1 pages", []parquet.WriterOption{parquet.DataPageVersion(1)}},
		{"zstd", []parquet.WriterOption{parquet.Compression(&parquet.Zstd)}},
		{"snappy v1", []parquet.WriterOption{parquet.Compression(&parquet.Snappy), parquet.DataPageVersion(1)}},
		{"gzip", []parquet.WriterOption{parquet.Compression(&parquet.Gzip)}},
		{"brotli", []parquet.WriterOption{parquet.Compression(&parquet.Brotli)}},
	} {
		opts := append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(128), parquet.PageBufferSize(256)}, v.opts...)
		p := writeFixture(t, dir, "many-"+strings.ReplaceAll(v.name, " ", "")+".parquet", many, opts...)
		cases = append(cases, testCase{
			name: "multiple row groups and pages, " + v.name, path: p,
			want: wantRows("", many), minGroups: 8, minPages: 16,
		})
	}

	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			info, err := Inspect(tc.path, tc.cols)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			wantInfo := FileInfo{Path: tc.path, NumRows: int64(len(tc.want)), IDIsInt: tc.idIsInt}
			if info != wantInfo {
				t.Errorf("Inspect = %+v, want %+v", info, wantInfo)
			}
			if tc.minGroups > 0 {
				f := openParquet(t, tc.path)
				if n := len(f.RowGroups()); n < tc.minGroups {
					t.Fatalf("fixture has %d row groups, want >= %d", n, tc.minGroups)
				}
				if n := countPages(t, f, "text"); n < tc.minPages {
					t.Fatalf("fixture has %d text pages, want >= %d", n, tc.minPages)
				}
			}
			got := readAllRows(t, tc.path, tc.cols)
			want := make([]Row, len(tc.want))
			for i, r := range tc.want {
				r.File = tc.path
				want[i] = r
			}
			if len(got) == 0 && len(want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, want) {
				for i := range min(len(got), len(want)) {
					if got[i] != want[i] {
						t.Fatalf("row %d = %+v, want %+v (got %d rows, want %d)", i, got[i], want[i], len(got), len(want))
					}
				}
				t.Fatalf("got %d rows, want %d", len(got), len(want))
			}

			// ReadIDs yields the same ids.
			var ids []Row
			err = ReadIDs(context.Background(), tc.path, tc.cols.ID, func(i int64, id string, null bool) error {
				ids = append(ids, Row{File: tc.path, Index: i, ID: id, IDNull: null})
				return nil
			})
			if err != nil {
				t.Fatalf("ReadIDs: %v", err)
			}
			for i := range want {
				w := Row{File: tc.path, Index: want[i].Index, ID: want[i].ID, IDNull: want[i].IDNull}
				if ids[i] != w {
					t.Fatalf("ReadIDs row %d = %+v, want %+v", i, ids[i], w)
				}
			}
		})
	}
}

// countPages counts the data pages of a top-level column across row groups.
func countPages(t *testing.T, f *parquet.File, column string) int {
	t.Helper()
	leaf, ok := f.Schema().Lookup(column)
	if !ok {
		t.Fatalf("no column %q", column)
	}
	n := 0
	for _, rg := range f.RowGroups() {
		pages := rg.ColumnChunks()[leaf.ColumnIndex].Pages()
		for {
			_, err := pages.ReadPage()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		pages.Close()
	}
	return n
}

// TestReadRowsProjection checks that columns other than id and text are never
// read: their data is overwritten with garbage, which must not matter.
func TestReadRowsProjection(t *testing.T) {
	dir := t.TempDir()
	rows := make([]extraRow, 300)
	for i := range rows {
		rows[i] = extraRow{Before: float64(i), ID: fmt.Sprint("id", i), Blob: bytes.Repeat([]byte{byte(i)}, 4096), Text: fmt.Sprint("text ", i), After: []int64{int64(i)}}
	}
	path := writeFixture(t, dir, "extra.parquet", rows, parquet.MaxRowsPerRowGroup(100))
	want := readAllRows(t, path, Columns{})

	// Corrupt every chunk of every column except id and text.
	f := openParquet(t, path)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var skipped, total int64
	for _, rg := range f.Metadata().RowGroups {
		for _, cc := range rg.Columns {
			md := cc.MetaData
			name := md.PathInSchema[0]
			if name == "id" || name == "text" {
				continue
			}
			start := md.DataPageOffset
			if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
				start = md.DictionaryPageOffset
			}
			for i := start; i < start+md.TotalCompressedSize; i++ {
				data[i] = 0xA5
			}
			skipped += md.TotalCompressedSize
		}
	}
	total = int64(len(data))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The corruption is real: reading everything fails.
	if _, err := ReadAll[extraRow](path); err == nil {
		t.Fatal("reading the corrupted columns unexpectedly succeeded")
	}

	// Count the bytes ReadRows reads through the input seam.
	var read int64
	defer func(orig func(string) (inputFile, int64, error)) { openInput = orig }(openInput)
	openInput = func(p string) (inputFile, int64, error) {
		f, n, err := openBlob(p)
		if err != nil {
			return nil, 0, err
		}
		return countingFile{f, &read}, n, nil
	}
	got := readAllRows(t, path, Columns{})
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows differ after corrupting unrelated columns")
	}
	// id and text pages are read once; the footer and page headers twice
	// (once to validate them). Nothing of the other columns is read.
	if read > 2*(total-skipped) {
		t.Errorf("ReadRows read %d bytes, more than twice the %d bytes outside the projected-out columns", read, total-skipped)
	}
	t.Logf("file %d bytes, other columns %d bytes, read %d bytes", total, skipped, read)
}

type countingFile struct {
	inputFile
	n *int64
}

func (c countingFile) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.inputFile.ReadAt(p, off)
	*c.n += int64(n)
	return n, err
}

func TestReadRowsCallbackErrorAndCancel(t *testing.T) {
	dir := t.TempDir()
	path := writeFixture(t, dir, "many.parquet", manyRows(5000), parquet.MaxRowsPerRowGroup(2000))

	t.Run("fn error is returned unchanged", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := ReadRows(context.Background(), path, Columns{}, func(Row) error {
			n++
			if n == 10 {
				return stop
			}
			return nil
		})
		if err != stop {
			t.Fatalf("err = %v, want the callback's error", err)
		}
		if n != 10 {
			t.Fatalf("fn called %d times after error, want 10", n)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		n := 0
		err := ReadRows(ctx, path, Columns{}, func(Row) error {
			n++
			if n == 5 {
				cancel()
			}
			return nil
		})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name the file", err)
		}
		if n >= 5000 || n > batchRows {
			t.Fatalf("read %d rows after cancel, want at most one batch", n)
		}
	})

	t.Run("already cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := ReadIDs(ctx, path, "", func(int64, string, bool) error { t.Fatal("fn called"); return nil })
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
		ReadRows(context.Background(), path, Columns{}, func(Row) error { panic("boom") })
		t.Fatal("no panic")
	})
}

func TestReadIDsWithoutText(t *testing.T) {
	type onlyID struct {
		Key int64 `parquet:"key"`
	}
	path := writeFixture(t, t.TempDir(), "ids.parquet", []onlyID{{5}, {6}})
	var got []string
	if err := ReadIDs(context.Background(), path, "key", func(i int64, id string, null bool) error {
		got = append(got, fmt.Sprint(i, id, null))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"05false", "16false"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
	if _, err := Inspect(path, Columns{ID: "key"}); err == nil || !strings.Contains(err.Error(), `missing column "text" (columns: key)`) {
		t.Fatalf("Inspect err = %v, want a missing text column", err)
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	writeText := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := writeFixture(t, dir, "valid.parquet", []strRow{{"a", "b"}, {"c", "d"}})
	validData, _ := os.ReadFile(valid)
	subdir := filepath.Join(dir, "sub.parquet")
	os.Mkdir(subdir, 0o755)

	type bodyRow struct {
		ID   string `parquet:"id"`
		Body string `parquet:"body"`
	}
	type textInt64 struct {
		ID   string `parquet:"id"`
		Text int64  `parquet:"text"`
	}
	type idDouble struct {
		ID   float64 `parquet:"id"`
		Text string  `parquet:"text"`
	}
	type idDate struct {
		ID   int32  `parquet:"id,date"`
		Text string `parquet:"text"`
	}
	type idBool struct {
		ID   bool   `parquet:"id"`
		Text string `parquet:"text"`
	}
	type idList struct {
		ID   []string `parquet:"id,list"`
		Text string   `parquet:"text"`
	}
	type textNested struct {
		ID   string `parquet:"id"`
		Text struct {
			A string `parquet:"a"`
		} `parquet:"text"`
	}
	type textRepeated struct {
		ID   string   `parquet:"id"`
		Text []string `parquet:"text"`
	}
	type textJSON struct {
		ID   string `parquet:"id"`
		Text string `parquet:"text,json"`
	}
	type textFixed struct {
		ID   string   `parquet:"id"`
		Text [16]byte `parquet:"text"`
	}
	type textEnum struct {
		ID   string `parquet:"id"`
		Text string `parquet:"text,enum"`
	}

	cases := []struct {
		name string
		path string
		cols Columns
		want string // full message with %s for the path
	}{
		{"not parquet", writeText("a.parquet", "id,text\n1,hello world\n"), Columns{},
			`input "%s": not a Parquet file: missing PAR1 header magic (starts with "id,t")`},
		{"tiny file", writeText("tiny.parquet", "x"), Columns{}, `input "%s": not a Parquet file: too short (1 bytes)`},
		{"truncated", writeText("trunc.parquet", string(validData[:len(validData)-10])), Columns{},
			`input "%s": not a Parquet file (or truncated): missing PAR1 footer magic`},
		{"missing file", filepath.Join(dir, "nope.parquet"), Columns{}, `input "%s": no such file`},
		{"directory", subdir, Columns{}, `input "%s": is a directory, want a Parquet file`},
		{"missing text column", writeFixture(t, dir, "body.parquet", []bodyRow{{"1", "x"}}), Columns{},
			`input "%s": missing column "text" (columns: id, body)`},
		{"missing custom id column", valid, Columns{ID: "key"},
			`input "%s": missing column "key" (columns: id, text)`},
		{"text int64", writeFixture(t, dir, "ti64.parquet", []textInt64{{"1", 2}}), Columns{},
			`input "%s": column "text" has type INT64, want a string (BYTE_ARRAY UTF8/STRING)`},
		{"text json", writeFixture(t, dir, "tjson.parquet", []textJSON{{"1", "{}"}}), Columns{},
			`input "%s": column "text" has type BYTE_ARRAY (JSON), want a string (BYTE_ARRAY UTF8/STRING)`},
		{"text enum", writeFixture(t, dir, "tenum.parquet", []textEnum{{"1", "A"}}), Columns{},
			`input "%s": column "text" has type BYTE_ARRAY (ENUM), want a string (BYTE_ARRAY UTF8/STRING)`},
		{"text fixed", writeFixture(t, dir, "tfixed.parquet", []textFixed{{ID: "1"}}), Columns{},
			`input "%s": column "text" has type FIXED_LEN_BYTE_ARRAY, want a string (BYTE_ARRAY UTF8/STRING)`},
		{"id double", writeFixture(t, dir, "idd.parquet", []idDouble{{1.5, "x"}}), Columns{},
			`input "%s": column "id" has type DOUBLE, want a string or an integer`},
		{"id date", writeFixture(t, dir, "iddate.parquet", []idDate{{1, "x"}}), Columns{},
			`input "%s": column "id" has type INT32 (DATE), want a string or an integer`},
		{"id bool", writeFixture(t, dir, "idbool.parquet", []idBool{{true, "x"}}), Columns{},
			`input "%s": column "id" has type BOOLEAN, want a string or an integer`},
		{"id list", writeFixture(t, dir, "idlist.parquet", []idList{{[]string{"a"}, "x"}}), Columns{},
			`input "%s": column "id" is a list (LIST<BYTE_ARRAY (STRING)>), want a single string or integer per row`},
		{"text nested", writeFixture(t, dir, "tnested.parquet", []textNested{{ID: "1"}}), Columns{},
			`input "%s": column "text" is a nested group (group (struct)), want a top-level column with a single string per row`},
		{"text repeated", writeFixture(t, dir, "trep.parquet", []textRepeated{{"1", []string{"a", "b"}}}), Columns{},
			`input "%s": column "text" is repeated (repeated BYTE_ARRAY (STRING)), want a single string per row`},
		{"lz4 compression", writeFixture(t, dir, "lz4.parquet", []strRow{{"1", "x"}}, parquet.Compression(&parquet.Lz4Raw)), Columns{},
			`input "%s": column "id" in row group 0: compression codec LZ4_RAW is not supported (use SNAPPY, ZSTD, GZIP, BROTLI or none)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Inspect(tc.path, tc.cols)
			if err == nil {
				t.Fatal("Inspect succeeded, want an error")
			}
			want := fmt.Sprintf(tc.want, tc.path)
			if err.Error() != want {
				t.Fatalf("Inspect error:\n got %s\nwant %s", err, want)
			}
			// ReadRows reports the same problem without calling fn.
			err = ReadRows(context.Background(), tc.path, tc.cols, func(Row) error {
				t.Fatal("fn called")
				return nil
			})
			if err == nil || err.Error() != want {
				t.Fatalf("ReadRows error = %v, want %s", err, want)
			}
		})
	}
}

// TestCorruptData checks that damage inside column data (past the footer
// checks of Inspect) is reported by ReadRows as an error naming the file.
func TestCorruptData(t *testing.T) {
	dir := t.TempDir()
	path := writeFixture(t, dir, "c.parquet", manyRows(500), parquet.PageBufferSize(512), parquet.MaxRowsPerRowGroup(200))
	f := openParquet(t, path)
	clean, _ := os.ReadFile(path)
	for _, rgi := range []int{0, 1, 2} {
		for _, col := range []int{0, 1} {
			md := f.Metadata().RowGroups[rgi].Columns[col].MetaData
			for _, pos := range []int64{0, 3, md.TotalCompressedSize / 2, md.TotalCompressedSize - 2} {
				name := fmt.Sprintf("rg%d-col%d-at%d", rgi, col, pos)
				t.Run(name, func(t *testing.T) {
					data := bytes.Clone(clean)
					for i := int64(0); i < 8 && md.DataPageOffset+pos+i < int64(len(data)); i++ {
						data[md.DataPageOffset+pos+i] ^= 0x5A
					}
					p := filepath.Join(dir, name+".parquet")
					os.WriteFile(p, data, 0o644)
					if _, err := Inspect(p, Columns{}); err != nil {
						t.Fatalf("Inspect: %v", err)
					}
					err := ReadRows(context.Background(), p, Columns{}, func(Row) error { return nil })
					if err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("input %q: corrupt Parquet: ", p)) {
						t.Fatalf("err = %v, want a corrupt Parquet error naming the file", err)
					}
					t.Logf("err = %v", err)
				})
			}
		}
	}
}
