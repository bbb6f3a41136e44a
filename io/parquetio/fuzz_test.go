package parquetio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

// fuzzSeed returns a small valid request file with two row groups, nullable
// columns and an extra column.
func fuzzSeed(t testing.TB, opts ...parquet.WriterOption) []byte {
	type row struct {
		ID    *int64  `parquet:"id,optional"`
		Text  *string `parquet:"text,optional,dict"`
		Extra float32 `parquet:"extra"`
	}
	rows := []row{{ptr(int64(1)), ptr("hello"), 1}, {nil, ptr("world"), 2}, {ptr(int64(3)), nil, 3}, {ptr(int64(4)), ptr("hello"), 4}}
	return encode(t, rows, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(2)}, opts...)...)
}

// fuzzTokenSeed returns a small valid token file.
func fuzzTokenSeed(t testing.TB, opts ...parquet.WriterOption) []byte {
	rows := []DetokenizeError{{ID: "a", Tokens: []int64{1, 2, 3}}, {ID: "b"}, {ID: "c", Tokens: []int64{}}, {ID: "d", Tokens: []int64{7}}}
	return encode(t, rows, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(3)}, opts...)...)
}

func encode[T any](t testing.TB, rows []T, opts ...parquet.WriterOption) []byte {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// addSeeds adds each seed to the corpus, with truncated variants.
func addSeeds(f *testing.F, seeds [][]byte) {
	for _, seed := range seeds {
		f.Add(seed)
		for _, cut := range []int{len(seed) - 1, len(seed) - 9, len(seed) / 2, 12, 4} {
			f.Add(seed[:cut])
			// Truncated data but an intact footer.
			if cut > 8 {
				f.Add(append(bytes.Clone(seed[:cut-8]), seed[len(seed)-8:]...))
			}
		}
	}
}

// fuzzRequestSeed returns a small valid inference request file with two row
// groups, every request column (nullable) and an extra column.
func fuzzRequestSeed(t testing.TB, opts ...parquet.WriterOption) []byte {
	rows := []fullRequest{
		{ID: ptr("a"), Prompt: ptr("hello"), MaxTokens: ptr(int32(16)), Temperature: ptr(0.7), TopP: ptr(float32(0.5)),
			TopK: ptr(int64(40)), Seed: ptr(uint64(123)), Stop: []*string{ptr("\n"), ptr("END")}, Priority: ptr(int16(-2))},
		{ID: ptr("b"), Stop: nil},
		{ID: nil, Prompt: ptr(""), Stop: []*string{}, Extra: []byte("x")},
		{ID: ptr("d"), Prompt: ptr("hello"), Stop: []*string{ptr("x"), nil}, Seed: ptr(uint64(1 << 63))},
	}
	return encode(t, rows, append([]parquet.WriterOption{parquet.MaxRowsPerRowGroup(2)}, opts...)...)
}

// FuzzReadRequestRows feeds arbitrary bytes to InspectRequests and
// ReadRequestRows: they must return errors, never panic, hang or exhaust
// memory, and read as many rows as InspectRequests reports.
func FuzzReadRequestRows(f *testing.F) {
	defer func(b, v int64) { maxPageBytes, maxPageValues = b, v }(maxPageBytes, maxPageValues)
	maxPageBytes, maxPageValues = 4<<20, 1<<20

	seeds := [][]byte{
		fuzzRequestSeed(f),
		fuzzRequestSeed(f, parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy)),
		fuzzRequestSeed(f, parquet.Compression(&parquet.Zstd)),
		fuzzRequestSeed(f, parquet.Compression(&parquet.Gzip)),
	}
	for _, p := range []string{"testdata/duckdb-decimal.parquet", "testdata/duckdb-infer-request.parquet"} {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, data)
	}
	addSeeds(f, seeds)
	path := filepath.Join(f.TempDir(), "fuzz.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		watchdog := time.AfterFunc(10*time.Second, func() { panic("parquetio: input took more than 10s") })
		defer watchdog.Stop()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		info, err := InspectRequests(path, RequestColumns{})
		if err != nil {
			return
		}
		var n int64
		err = ReadRequestRows(context.Background(), path, RequestColumns{}, func(r RequestRow) error {
			if r.Index != n {
				t.Fatalf("row index %d, want %d", r.Index, n)
			}
			n++
			return nil
		})
		if err == nil && n != info.NumRows {
			t.Fatalf("read %d rows, InspectRequests said %d", n, info.NumRows)
		}
	})
}

// FuzzReadRows feeds arbitrary bytes to Inspect, ReadRows, ReadIDs,
// InspectTokens and ReadTokenRows: they must return errors, never panic, hang
// or exhaust memory.
func FuzzReadRows(f *testing.F) {
	// Keep allocations for absurd page sizes small while fuzzing.
	defer func(b, v int64) { maxPageBytes, maxPageValues = b, v }(maxPageBytes, maxPageValues)
	maxPageBytes, maxPageValues = 4<<20, 1<<20

	seeds := [][]byte{
		fuzzSeed(f),
		fuzzSeed(f, parquet.DataPageVersion(1), parquet.Compression(&parquet.Snappy)),
		fuzzSeed(f, parquet.Compression(&parquet.Zstd)),
		fuzzSeed(f, parquet.Compression(&parquet.Gzip)),
		fuzzTokenSeed(f),
		fuzzTokenSeed(f, parquet.DataPageVersion(1), parquet.Compression(&parquet.Zstd)),
	}
	addSeeds(f, seeds)
	dir := f.TempDir()
	path := filepath.Join(dir, "fuzz.parquet")
	f.Fuzz(func(t *testing.T, data []byte) {
		// A hang is a failure too: crash with the input recorded.
		watchdog := time.AfterFunc(10*time.Second, func() { panic("parquetio: input took more than 10s") })
		defer watchdog.Stop()
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		if info, err := Inspect(path, Columns{}); err == nil {
			var n int64
			err = ReadRows(ctx, path, Columns{}, func(r Row) error {
				if r.Index != n {
					t.Fatalf("row index %d, want %d", r.Index, n)
				}
				n++
				return nil
			})
			if err == nil && n != info.NumRows {
				t.Fatalf("read %d rows, Inspect said %d", n, info.NumRows)
			}
			ReadIDs(ctx, path, "", func(int64, string, bool) error { return nil })
		}
		if info, err := InspectTokens(path, TokenColumns{}); err == nil {
			var n int64
			err = ReadTokenRows(ctx, path, TokenColumns{}, func(r TokenRow) error {
				n++
				return nil
			})
			if err == nil && n != info.NumRows {
				t.Fatalf("read %d token rows, InspectTokens said %d", n, info.NumRows)
			}
		}
	})
}
