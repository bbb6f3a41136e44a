package parquetio

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// writeFixture writes rows of T to dir/name and returns the path.
func writeFixture[T any](t testing.TB, dir, name string, rows []T, opts ...parquet.WriterOption) string {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[T](&buf, opts...)
	if _, err := w.Write(rows); err != nil {
		t.Fatalf("write fixture: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close fixture: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeRawFixture writes low-level rows (values with explicit levels) with the
// given schema.
func writeRawFixture(t testing.TB, dir, name string, schema *parquet.Schema, rows []parquet.Row, opts ...parquet.WriterOption) string {
	t.Helper()
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, append([]parquet.WriterOption{schema}, opts...)...)
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatalf("write raw fixture: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close raw fixture: %v", err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAllRows collects ReadRows output.
func readAllRows(t testing.TB, path string, cols Columns) []Row {
	t.Helper()
	var rows []Row
	if err := ReadRows(context.Background(), path, cols, func(r Row) error {
		rows = append(rows, r)
		return nil
	}); err != nil {
		t.Fatalf("ReadRows(%s): %v", path, err)
	}
	return rows
}

// openParquet opens a file with parquet-go for assertions on its layout.
func openParquet(t testing.TB, path string) *parquet.File {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	return f
}

func ptr[T any](v T) *T { return &v }
