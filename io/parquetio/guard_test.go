package parquetio

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

func TestThriftStructLen(t *testing.T) {
	header, err := thrift.Marshal(new(thrift.CompactProtocol), &format.PageHeader{
		Type: format.DataPage, UncompressedPageSize: 10, CompressedPageSize: 10,
		DataPageHeader: thrift.New(format.DataPageHeader{NumValues: 3}),
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		data    []byte
		wantLen int
		wantErr string
	}{
		{"page header", header, len(header), ""},
		{"page header with trailing data", append(bytes.Clone(header), 1, 2, 3), len(header), ""},
		{"truncated", header[:len(header)-1], 0, "truncated"},
		{"empty struct", []byte{0}, 1, ""},
		// field 1, type list; list header: size 15 (long form), type i32;
		// varint size 2^31-1, but no elements follow.
		{"huge list", []byte{0x19, 0xF5, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0}, 0, "truncated"},
		// field 1, type binary, length 1000 with 2 bytes of data.
		{"huge binary", []byte{0x18, 0xE8, 0x07, 'a', 'b', 0}, 0, "truncated"},
		// field 1, type map with 2^20 entries.
		{"huge map", []byte{0x1B, 0x80, 0x80, 0x40, 0x55, 0}, 0, "truncated"},
		{"bad type", []byte{0x1D, 0}, 0, "invalid thrift type 13"},
		{"deep nesting", bytes.Repeat([]byte{0x1C}, 100), 0, "nested too deeply"},
		{"long varint", append([]byte{0x15}, bytes.Repeat([]byte{0xFF}, 11)...), 0, "varint too long"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := thriftStructLen(tc.data)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.wantLen {
				t.Fatalf("thriftStructLen = %d, %v; want %d", n, err, tc.wantLen)
			}
		})
	}
}

func TestPageCheckerHeaders(t *testing.T) {
	dp := func(values int32) thrift.Null[format.DataPageHeader] {
		return thrift.New(format.DataPageHeader{NumValues: values})
	}
	cases := []struct {
		name    string
		h       format.PageHeader
		flat    bool
		wantErr string
	}{
		{"ok", format.PageHeader{Type: format.DataPage, CompressedPageSize: 10, UncompressedPageSize: 10, DataPageHeader: dp(5)}, true, ""},
		{"page beyond chunk", format.PageHeader{Type: format.DataPage, CompressedPageSize: 1000, DataPageHeader: dp(5)}, true, "exceeds the column chunk"},
		{"negative size", format.PageHeader{Type: format.DataPage, CompressedPageSize: -1, DataPageHeader: dp(5)}, true, "exceeds the column chunk"},
		{"huge uncompressed", format.PageHeader{Type: format.DataPage, UncompressedPageSize: 1 << 30, DataPageHeader: dp(5)}, true, "uncompressed page size"},
		{"more values than rows", format.PageHeader{Type: format.DataPage, DataPageHeader: dp(101)}, true, "101 values"},
		{"repeated column may exceed rows", format.PageHeader{Type: format.DataPage, DataPageHeader: dp(101)}, false, ""},
		{"huge value count", format.PageHeader{Type: format.DataPage, DataPageHeader: dp(1 << 30)}, false, "values, out of range"},
		{"missing data page header", format.PageHeader{Type: format.DataPage}, true, "without a data page header"},
		{"v2 inconsistent", format.PageHeader{Type: format.DataPageV2, DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: 5, NumNulls: 6})}, true, "inconsistent"},
		{"v2 levels beyond page", format.PageHeader{Type: format.DataPageV2, CompressedPageSize: 4, DataPageHeaderV2: thrift.New(format.DataPageHeaderV2{NumValues: 5, DefinitionLevelsByteLength: 5})}, true, "level sizes"},
		{"dictionary too many values", format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: 40, DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: 11})}, true, "dictionary page has 11 values"},
		{"dictionary ok", format.PageHeader{Type: format.DictionaryPage, UncompressedPageSize: 40, DictionaryPageHeader: thrift.New(format.DictionaryPageHeader{NumValues: 10})}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := &pageChecker{off: 0, end: 100, flat: tc.flat, rows: 100}
			err := p.checkHeader(&tc.h, 20)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

func TestCheckZstd(t *testing.T) {
	frame, err := parquet.Zstd.Encode(nil, bytes.Repeat([]byte("hello "), 1000))
	if err != nil {
		t.Fatal(err)
	}
	withFCS := func(fcs uint64) []byte {
		// Frame header descriptor: FCS field 8 bytes, single segment.
		b := []byte{0x28, 0xB5, 0x2F, 0xFD, 0xE0}
		b = binary.LittleEndian.AppendUint64(b, fcs)
		return append(b, 0x01, 0x00, 0x00) // last raw block of 0 bytes
	}
	cases := []struct {
		name    string
		data    []byte
		wantErr string
	}{
		{"valid", frame, ""},
		{"two frames", append(bytes.Clone(frame), frame...), ""},
		{"skippable frame", append([]byte{0x50, 0x2A, 0x4D, 0x18, 2, 0, 0, 0, 9, 9}, frame...), ""},
		{"small declared size", withFCS(100), ""},
		{"huge declared size", withFCS(1 << 40), "content size"},
		{"bad magic", []byte("not zstd"), "magic"},
		{"truncated", frame[:len(frame)-2], "truncated"},
		{"huge window", []byte{0x28, 0xB5, 0x2F, 0xFD, 0x00, 0xF8, 0x01, 0, 0}, "window"},
		{"huge RLE block", []byte{0x28, 0xB5, 0x2F, 0xFD, 0x20, 0x00, 0xFB, 0xFF, 0xFF, 'x'}, "exceeds"},
	}
	defer func(v int64) { maxPageBytes = v }(maxPageBytes)
	maxPageBytes = 1 << 20
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := checkZstd(tc.data)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}

// TestCorruptSizes patches size fields of a valid file and checks that the
// result is reported as corrupt rather than read with absurd allocations.
func TestCorruptSizes(t *testing.T) {
	dir := t.TempDir()
	clean := encode(t, manyRows(100), parquet.Compression(&parquet.Snappy))
	f, err := parquet.OpenFile(bytes.NewReader(clean), int64(len(clean)))
	if err != nil {
		t.Fatal(err)
	}
	textChunk := f.Metadata().RowGroups[0].Columns[1].MetaData
	pageStart := textChunk.DataPageOffset
	var h format.PageHeader
	hdr := clean[pageStart : pageStart+textChunk.TotalCompressedSize]
	hlen, err := thriftStructLen(hdr)
	if err != nil {
		t.Fatal(err)
	}
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), hdr[:hlen], &h); err != nil {
		t.Fatal(err)
	}
	// rewriteHeader sets a size field of the first text page header to the
	// largest value whose encoding keeps the header length unchanged.
	rewriteHeader := func(data []byte, field func(*format.PageHeader) *int32) []byte {
		for bits := 31; bits > 0; bits-- {
			h2 := h
			*field(&h2) = int32(1<<bits - 1)
			b, err := thrift.Marshal(new(thrift.CompactProtocol), &h2)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) == hlen {
				copy(data[pageStart:], b)
				return data
			}
		}
		t.Fatal("cannot re-encode header")
		return nil
	}
	defer func(v int64) { maxPageBytes = v }(maxPageBytes)
	maxPageBytes = 4096
	if h.UncompressedPageSize >= 4096 {
		t.Fatalf("fixture page is too large (%d bytes)", h.UncompressedPageSize)
	}
	cases := []struct {
		name    string
		patch   func([]byte) []byte
		wantErr string
	}{
		{"footer length", func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[len(b)-8:], 0x7FFFFFF0)
			return b
		}, "corrupt Parquet: footer length 2147483632 exceeds the file size"},
		{"uncompressed page size", func(b []byte) []byte {
			return rewriteHeader(b, func(h *format.PageHeader) *int32 { return &h.UncompressedPageSize })
		}, "is out of range (limit 4096)"},
		{"compressed page size", func(b []byte) []byte {
			return rewriteHeader(b, func(h *format.PageHeader) *int32 { return &h.CompressedPageSize })
		}, "exceeds the column chunk"},
		{"snappy length", func(b []byte) []byte {
			data := pageStart + int64(hlen) + int64(h.DataPageHeaderV2.V.DefinitionLevelsByteLength) + int64(h.DataPageHeaderV2.V.RepetitionLevelsByteLength)
			copy(b[data:], []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F})
			return b
		}, "invalid snappy length"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".parquet")
			if err := os.WriteFile(p, tc.patch(bytes.Clone(clean)), 0o644); err != nil {
				t.Fatal(err)
			}
			err := ReadRows(t.Context(), p, Columns{}, func(Row) error { return nil })
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.HasPrefix(err.Error(), fmt.Sprintf("input %q: ", p)) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}
}
