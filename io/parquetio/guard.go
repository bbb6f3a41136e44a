package parquetio

// Defences against corrupt input. parquet-go trusts sizes and counts found in
// a file's footer and page headers when allocating memory, so a few flipped
// bits can make it attempt allocations of many gigabytes (or terabytes, which
// kills the process). The checks here run before parquet-go sees those bytes
// and reject implausible values with an error instead.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go/encoding/thrift"
	"github.com/parquet-go/parquet-go/format"
)

// Limits on a single page. Pages are normally about a megabyte; these only
// reject absurd values. They are variables so tests can lower them.
var (
	// maxPageBytes bounds the uncompressed size of a page.
	maxPageBytes int64 = 512 << 20
	// maxPageValues bounds the number of values (including nulls) in a page.
	maxPageValues int64 = 64 << 20
)

// maxHeaderBytes bounds the size of a page header (statistics can make
// headers large, but not this large).
const maxHeaderBytes = 64 << 20

var errThriftTruncated = errors.New("truncated thrift data")

// thriftCheck walks Thrift compact-protocol data without decoding it,
// checking that every length and element count fits in the bytes that
// remain, so that decoding it afterwards cannot over-allocate.
type thriftCheck struct {
	b   []byte
	off int
}

const maxThriftDepth = 64

// thriftStructLen validates the compact-protocol struct at the start of b and
// returns its encoded length.
func thriftStructLen(b []byte) (int, error) {
	c := thriftCheck{b: b}
	if err := c.skipStruct(0); err != nil {
		return 0, err
	}
	return c.off, nil
}

func (c *thriftCheck) remaining() int { return len(c.b) - c.off }

func (c *thriftCheck) byte() (byte, error) {
	if c.off >= len(c.b) {
		return 0, errThriftTruncated
	}
	v := c.b[c.off]
	c.off++
	return v, nil
}

func (c *thriftCheck) uvarint() (uint64, error) {
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := c.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("thrift varint too long")
}

func (c *thriftCheck) skipN(n uint64) error {
	if n > uint64(c.remaining()) {
		return errThriftTruncated
	}
	c.off += int(n)
	return nil
}

func (c *thriftCheck) skipStruct(depth int) error {
	if depth > maxThriftDepth {
		return errors.New("thrift data nested too deeply")
	}
	for {
		h, err := c.byte()
		if err != nil {
			return err
		}
		if h == 0 { // stop
			return nil
		}
		if h>>4 == 0 { // long form: field id follows as a varint
			if _, err := c.uvarint(); err != nil {
				return err
			}
		}
		if err := c.skipValue(h&0x0f, depth, false); err != nil {
			return err
		}
	}
}

func (c *thriftCheck) skipValue(typ byte, depth int, inList bool) error {
	switch typ {
	case 1, 2: // bool: in a field header, the value is the type itself
		if inList {
			return c.skipN(1)
		}
		return nil
	case 3: // i8
		return c.skipN(1)
	case 4, 5, 6: // i16, i32, i64 as varints
		_, err := c.uvarint()
		return err
	case 7: // double
		return c.skipN(8)
	case 8: // binary
		n, err := c.uvarint()
		if err != nil {
			return err
		}
		return c.skipN(n)
	case 9, 10: // list, set
		h, err := c.byte()
		if err != nil {
			return err
		}
		n, et := uint64(h>>4), h&0x0f
		if n == 15 {
			if n, err = c.uvarint(); err != nil {
				return err
			}
		}
		// Every element takes at least one byte.
		if n > uint64(c.remaining()) {
			return errThriftTruncated
		}
		for range n {
			if err := c.skipValue(et, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := c.uvarint()
		if err != nil || n == 0 {
			return err
		}
		kv, err := c.byte()
		if err != nil {
			return err
		}
		if n > uint64(c.remaining())/2 {
			return errThriftTruncated
		}
		for range n {
			if err := c.skipValue(kv>>4, depth+1, true); err != nil {
				return err
			}
			if err := c.skipValue(kv&0x0f, depth+1, true); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return c.skipStruct(depth + 1)
	}
	return fmt.Errorf("invalid thrift type %d", typ)
}

// checkFooter reads and validates the footer of a file whose magic bytes and
// footer length were already checked by checkMagic. It returns the tail of
// the file from the start of the footer, so that it need not be read twice.
func checkFooter(r io.ReaderAt, size int64, footerLen int64) (tail []byte, err error) {
	tail = make([]byte, footerLen+8)
	if _, err := r.ReadAt(tail, size-int64(len(tail))); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("cannot read footer: %w", err)
	}
	return tail, validateFooter(tail[:footerLen])
}

func validateFooter(footer []byte) error {
	n, err := thriftStructLen(footer)
	if err != nil {
		return fmt.Errorf("corrupt Parquet: invalid footer: %w", err)
	}
	if n != len(footer) {
		return fmt.Errorf("corrupt Parquet: footer has %d unexpected trailing bytes", len(footer)-n)
	}
	var md format.FileMetaData
	if err := thrift.Unmarshal(new(thrift.CompactProtocol), footer, &md); err != nil {
		return fmt.Errorf("corrupt Parquet: invalid footer: %w", err)
	}
	if len(md.Schema) == 0 {
		return errors.New("corrupt Parquet: footer has no schema")
	}
	leaves := 0
	for i := range md.Schema {
		if md.Schema[i].Type.Valid {
			leaves++
		}
	}
	// parquet-go allocates leaves*rowGroups entries before checking that
	// each row group has one chunk per leaf column.
	for i := range md.RowGroups {
		if got := len(md.RowGroups[i].Columns); got != leaves {
			return fmt.Errorf("corrupt Parquet: row group %d has %d column chunks, want %d", i, got, leaves)
		}
	}
	return nil
}

// tailCachedReader serves reads of the file's tail (footer and trailer) from
// memory and passes other reads through.
type tailCachedReader struct {
	io.ReaderAt
	off  int64 // offset of tail in the file
	tail []byte
}

func (r *tailCachedReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.off && off+int64(len(p)) <= r.off+int64(len(r.tail)) {
		return copy(p, r.tail[off-r.off:]), nil
	}
	return r.ReaderAt.ReadAt(p, off)
}

// pageChecker validates the page headers of one column chunk just before
// parquet-go reads them. It walks the chunk in step with parquet-go's page
// reader: each check covers any dictionary pages and then one data page,
// which is what one ReadPage call consumes.
type pageChecker struct {
	r        io.ReaderAt
	off, end int64
	codec    format.CompressionCodec
	flat     bool  // non-repeated column: one value per row
	rows     int64 // rows in the row group
	buf      []byte
	data     []byte
}

// newPageChecker mirrors how parquet-go locates a column chunk's pages.
func newPageChecker(r io.ReaderAt, fileSize int64, md *format.ColumnMetaData, flat bool, rows int64) (*pageChecker, error) {
	base := md.DataPageOffset
	if md.DictionaryPageOffset != 0 {
		base = md.DictionaryPageOffset
	}
	if base < 4 || md.TotalCompressedSize < 0 || base > fileSize || md.TotalCompressedSize > fileSize-base {
		return nil, fmt.Errorf("column chunk at offset %d with %d bytes lies outside the file (%d bytes)", base, md.TotalCompressedSize, fileSize)
	}
	if err := checkCodec(md.Codec); err != nil {
		return nil, err
	}
	return &pageChecker{r: r, off: base, end: base + md.TotalCompressedSize, codec: md.Codec, flat: flat, rows: rows}, nil
}

// next validates the headers that the next ReadPage call will decode.
func (p *pageChecker) next() error {
	for p.off < p.end {
		h, hlen, err := p.readHeader()
		if err != nil {
			return err
		}
		if err := p.checkHeader(h, hlen); err != nil {
			return err
		}
		if err := p.checkData(h, hlen); err != nil {
			return err
		}
		p.off += hlen + int64(h.CompressedPageSize)
		if h.Type != format.DictionaryPage {
			return nil
		}
	}
	return nil
}

func (p *pageChecker) readHeader() (*format.PageHeader, int64, error) {
	avail := p.end - p.off
	window := min(avail, 512)
	for {
		if int64(cap(p.buf)) < window {
			p.buf = make([]byte, window)
		}
		buf := p.buf[:window]
		if _, err := p.r.ReadAt(buf, p.off); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		n, err := thriftStructLen(buf)
		if errors.Is(err, errThriftTruncated) && window < avail && window < maxHeaderBytes {
			window = min(avail, window*8, maxHeaderBytes)
			continue
		}
		if err != nil {
			return nil, 0, fmt.Errorf("invalid page header at offset %d: %w", p.off, err)
		}
		h := new(format.PageHeader)
		if err := thrift.Unmarshal(new(thrift.CompactProtocol), buf[:n], h); err != nil {
			return nil, 0, fmt.Errorf("invalid page header at offset %d: %w", p.off, err)
		}
		return h, int64(n), nil
	}
}

func (p *pageChecker) checkHeader(h *format.PageHeader, hlen int64) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("invalid page header at offset %d: %s", p.off, fmt.Sprintf(format, args...))
	}
	if h.CompressedPageSize < 0 || int64(h.CompressedPageSize) > p.end-p.off-hlen {
		return bad("page size %d exceeds the column chunk", h.CompressedPageSize)
	}
	if h.UncompressedPageSize < 0 || int64(h.UncompressedPageSize) > maxPageBytes {
		return bad("uncompressed page size %d is out of range (limit %d)", h.UncompressedPageSize, maxPageBytes)
	}
	checkValues := func(n int32) error {
		if n < 0 || int64(n) > maxPageValues || (p.flat && int64(n) > p.rows) {
			return bad("page has %d values, out of range", n)
		}
		return nil
	}
	switch h.Type {
	case format.DataPage:
		if !h.DataPageHeader.Valid {
			return bad("data page without a data page header")
		}
		return checkValues(h.DataPageHeader.V.NumValues)
	case format.DataPageV2:
		if !h.DataPageHeaderV2.Valid {
			return bad("data page without a data page header")
		}
		v := h.DataPageHeaderV2.V
		if err := checkValues(v.NumValues); err != nil {
			return err
		}
		if v.NumNulls < 0 || v.NumNulls > v.NumValues || v.NumRows < 0 || v.NumRows > v.NumValues {
			return bad("inconsistent value counts")
		}
		if v.DefinitionLevelsByteLength < 0 || v.RepetitionLevelsByteLength < 0 ||
			int64(v.DefinitionLevelsByteLength)+int64(v.RepetitionLevelsByteLength) > int64(h.CompressedPageSize) {
			return bad("level sizes exceed the page")
		}
	case format.DictionaryPage:
		if !h.DictionaryPageHeader.Valid {
			return bad("dictionary page without a dictionary page header")
		}
		// Dictionaries of the types read here hold at least 4 bytes per value.
		n := h.DictionaryPageHeader.V.NumValues
		if n < 0 || int64(n) > maxPageValues || int64(n) > int64(h.UncompressedPageSize)/4 {
			return bad("dictionary page has %d values, out of range", n)
		}
	}
	return nil
}

// checkCodec rejects compression codecs that cannot be read safely.
// parquet-go's LZ4_RAW decoder retries with ever larger buffers on corrupt
// input until the process runs out of memory, and it does not implement the
// deprecated LZ4 and LZO codecs at all.
func checkCodec(codec format.CompressionCodec) error {
	switch codec {
	case format.Uncompressed, format.Snappy, format.Gzip, format.Brotli, format.Zstd:
		return nil
	}
	return fmt.Errorf("compression codec %s is not supported (use SNAPPY, ZSTD, GZIP, BROTLI or none)", codec)
}

// checkData checks the framing of compressed page data for the codecs whose
// decoders allocate whatever the data claims: snappy's decoded length and
// zstd's frame content sizes must not exceed maxPageBytes.
func (p *pageChecker) checkData(h *format.PageHeader, hlen int64) error {
	if p.codec != format.Snappy && p.codec != format.Zstd {
		return nil
	}
	start := p.off + hlen
	size := int64(h.CompressedPageSize)
	switch h.Type {
	case format.DataPage, format.DictionaryPage:
	case format.DataPageV2:
		v := h.DataPageHeaderV2.V
		if v.IsCompressed.Valid && !v.IsCompressed.V {
			return nil
		}
		levels := int64(v.DefinitionLevelsByteLength) + int64(v.RepetitionLevelsByteLength)
		start, size = start+levels, size-levels
	default:
		return nil // parquet-go rejects other page types without decoding them
	}
	if p.codec == format.Snappy {
		size = min(size, binary.MaxVarintLen32)
	}
	if int64(cap(p.data)) < size {
		p.data = make([]byte, size)
	}
	data := p.data[:size]
	if _, err := p.r.ReadAt(data, start); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	var err error
	if p.codec == format.Snappy {
		n, k := binary.Uvarint(data)
		if k <= 0 || n > uint64(maxPageBytes) {
			err = errors.New("invalid snappy length")
		}
	} else {
		err = checkZstd(data)
	}
	if err != nil {
		return fmt.Errorf("invalid compressed page at offset %d: %w", p.off, err)
	}
	return nil
}

// checkZstd walks the frames and blocks of zstd data, checking that the
// content sizes and window sizes they declare fit within maxPageBytes.
func checkZstd(b []byte) error {
	var total uint64
	limit := uint64(maxPageBytes)
	for len(b) > 0 {
		if len(b) < 4 {
			return errors.New("truncated zstd frame")
		}
		magic := binary.LittleEndian.Uint32(b)
		if magic&0xFFFFFFF0 == 0x184D2A50 { // skippable frame
			if len(b) < 8 {
				return errors.New("truncated zstd frame")
			}
			n := uint64(binary.LittleEndian.Uint32(b[4:]))
			if n > uint64(len(b)-8) {
				return errors.New("truncated zstd frame")
			}
			b = b[8+n:]
			continue
		}
		if magic != 0xFD2FB528 {
			return errors.New("invalid zstd magic")
		}
		if len(b) < 5 {
			return errors.New("truncated zstd frame")
		}
		fhd := b[4]
		b = b[5:]
		fcsFlag, single, checksum, dictFlag := fhd>>6, fhd&0x20 != 0, fhd&0x04 != 0, fhd&0x03
		if fhd&0x08 != 0 {
			return errors.New("reserved zstd frame header bit set")
		}
		if !single {
			if len(b) < 1 {
				return errors.New("truncated zstd frame")
			}
			exp, mant := uint64(b[0]>>3), uint64(b[0]&7)
			base := uint64(1) << (10 + exp)
			if window := base + base/8*mant; window > limit {
				return fmt.Errorf("zstd window of %d bytes exceeds the page size limit", window)
			}
			b = b[1:]
		}
		dictLen := [4]int{0, 1, 2, 4}[dictFlag]
		fcsLen := [4]int{0, 2, 4, 8}[fcsFlag]
		if fcsFlag == 0 && single {
			fcsLen = 1
		}
		if len(b) < dictLen+fcsLen {
			return errors.New("truncated zstd frame")
		}
		b = b[dictLen:]
		var fcs uint64
		switch fcsLen {
		case 1:
			fcs = uint64(b[0])
		case 2:
			fcs = uint64(binary.LittleEndian.Uint16(b)) + 256
		case 4:
			fcs = uint64(binary.LittleEndian.Uint32(b))
		case 8:
			fcs = binary.LittleEndian.Uint64(b)
		}
		b = b[fcsLen:]
		if fcs > limit || total+fcs > limit {
			return fmt.Errorf("zstd content size %d exceeds the page size limit", fcs)
		}
		total += fcs
		for last := false; !last; {
			if len(b) < 3 {
				return errors.New("truncated zstd block")
			}
			bh := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16
			b = b[3:]
			last = bh&1 != 0
			n := int(bh >> 3)
			switch (bh >> 1) & 3 {
			case 1: // RLE block: one byte repeated n times
				total += uint64(n)
				if total > limit {
					return errors.New("zstd content exceeds the page size limit")
				}
				n = 1
			case 3:
				return errors.New("reserved zstd block type")
			}
			if n > len(b) {
				return errors.New("truncated zstd block")
			}
			b = b[n:]
		}
		if checksum {
			if len(b) < 4 {
				return errors.New("truncated zstd checksum")
			}
			b = b[4:]
		}
	}
	return nil
}
