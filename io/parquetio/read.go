package parquetio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Columns names the input columns of a tokenization request; zero values
// mean "id" and "text".
type Columns struct {
	ID, Text string
}

func (c Columns) withDefaults() Columns {
	if c.ID == "" {
		c.ID = "id"
	}
	if c.Text == "" {
		c.Text = "text"
	}
	return c
}

// FileInfo describes a validated input file.
type FileInfo struct {
	// Path is the input path as given.
	Path string
	// NumRows is the number of rows in the file.
	NumRows int64
	// IDIsInt reports whether the id column holds integers (rendered in
	// decimal by the readers) rather than strings.
	IDIsInt bool
}

// Row is one input row.
type Row struct {
	File     string
	Index    int64  // 0-based row number within the file
	ID       string // integer ids rendered in decimal
	IDNull   bool
	Text     string
	TextNull bool
}

// batchRows is how many rows are processed between context checks.
const batchRows = 1024

// readBufferSize is the buffer used when reading pages from an input.
const readBufferSize = 128 << 10

// source is an opened, parsed input file.
type source struct {
	path string
	in   inputFile
	size int64
	file *parquet.File
	root *node
}

func (s *source) close() {
	if s != nil && s.in != nil {
		s.in.Close()
	}
}

// corruptError converts a recovered panic from parquet-go into an error.
func corruptError(path string, r any) error {
	return fmt.Errorf("input %q: corrupt Parquet: %v", path, r)
}

// openSource opens path and parses its footer and schema. The caller must
// close the returned source (also on error, close is nil-safe).
func openSource(path string) (s *source, err error) {
	in, size, err := openInput(path)
	if err != nil {
		return nil, openError(path, err)
	}
	s = &source{path: path, in: in, size: size}
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(path, r)
		}
		if err != nil {
			s.close()
			s = nil
		}
	}()
	footerLen, err := checkMagic(in, size)
	if err != nil {
		return s, fmt.Errorf("input %q: %w", path, err)
	}
	tail, err := checkFooter(in, size, footerLen)
	if err != nil {
		return s, fmt.Errorf("input %q: %w", path, err)
	}
	cached := &tailCachedReader{ReaderAt: in, off: size - int64(len(tail)), tail: tail}
	f, err := parquet.OpenFile(cached, size,
		parquet.SkipPageIndex(true),
		parquet.SkipBloomFilters(true),
		parquet.ReadBufferSize(readBufferSize),
	)
	if err != nil {
		return s, fmt.Errorf("input %q: corrupt Parquet: %w", path, err)
	}
	s.file = f
	if s.root, err = buildTree(f); err != nil {
		return s, fmt.Errorf("input %q: corrupt Parquet: %w", path, err)
	}
	return s, nil
}

// checkMagic distinguishes files that are not Parquet at all from corrupt
// Parquet files, for clearer errors.
func checkMagic(r io.ReaderAt, size int64) (footerLen int64, err error) {
	const minSize = 4 + 4 + 4 // magic, footer length, magic
	if size < minSize {
		return 0, fmt.Errorf("not a Parquet file: too short (%d bytes)", size)
	}
	var head [4]byte
	var trailer [8]byte // footer length, magic
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return 0, fmt.Errorf("cannot read: %w", err)
	}
	if _, err := r.ReadAt(trailer[:], size-8); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("cannot read: %w", err)
	}
	tail := trailer[4:]
	switch {
	case string(head[:]) == "PARE" || string(tail) == "PARE":
		return 0, errors.New("encrypted Parquet files are not supported")
	case string(head[:]) != "PAR1":
		return 0, fmt.Errorf("not a Parquet file: missing PAR1 header magic (starts with %q)", head[:])
	case string(tail) != "PAR1":
		return 0, errors.New("not a Parquet file (or truncated): missing PAR1 footer magic")
	}
	// parquet-go allocates the footer before reading it; reject impossible
	// lengths first.
	footerLen = int64(binary.LittleEndian.Uint32(trailer[:4]))
	if footerLen > size-minSize {
		return 0, fmt.Errorf("corrupt Parquet: footer length %d exceeds the file size %d", footerLen, size)
	}
	return footerLen, nil
}

// numRows returns the row count of the file, checking that the row groups
// agree with the footer.
func (s *source) numRows() (int64, error) {
	var total int64
	for i, rg := range s.file.RowGroups() {
		n := rg.NumRows()
		if n < 0 || total+n < total {
			return 0, fmt.Errorf("input %q: corrupt Parquet: row group %d has %d rows", s.path, i, n)
		}
		total += n
	}
	if total != s.file.NumRows() {
		return 0, fmt.Errorf("input %q: corrupt Parquet: footer says %d rows but row groups hold %d", s.path, s.file.NumRows(), total)
	}
	return total, nil
}

// inspectWith opens path and validates it with check, returning the open
// source (to be closed by the caller) and the file info.
func inspectWith(path string, check func(s *source) error) (s *source, info FileInfo, err error) {
	s, err = openSource(path)
	if err != nil {
		return nil, FileInfo{}, err
	}
	defer func() {
		if r := recover(); r != nil {
			err = corruptError(path, r)
		}
		if err != nil {
			s.close()
			s = nil
		}
	}()
	if err := check(s); err != nil {
		return s, FileInfo{}, fmt.Errorf("input %q: %w", path, err)
	}
	n, err := s.numRows()
	if err != nil {
		return s, FileInfo{}, err
	}
	return s, FileInfo{Path: path, NumRows: n}, nil
}

func openRequest(path string, cols Columns, needText bool) (*source, FileInfo, flatColumn, flatColumn, error) {
	var id, text flatColumn
	s, info, err := inspectWith(path, func(s *source) error {
		var err error
		if id, err = checkIDColumn(s.root, cols.ID); err != nil {
			return err
		}
		if needText {
			if text, err = checkTextColumn(s.root, cols.Text); err != nil {
				return err
			}
		}
		if err := checkCodecs(s, id.leaf, id.name); err != nil {
			return err
		}
		if needText {
			return checkCodecs(s, text.leaf, text.name)
		}
		return nil
	})
	info.IDIsInt = id.kind != kindString
	return s, info, id, text, err
}

// Inspect validates a request file before any work is done: the file must be
// readable Parquet with an id column holding strings (BYTE_ARRAY, with the
// STRING/UTF8 annotation or none) or integers (INT32/INT64 with no annotation
// or an integer annotation), and a text column holding strings (BYTE_ARRAY,
// STRING/UTF8 or plain binary; invalid UTF-8 is left for per-row handling).
// Both must be top-level, non-repeated leaf columns, optional or required,
// compressed with SNAPPY, ZSTD, GZIP or BROTLI or not at all (LZ4_RAW is
// rejected: parquet-go cannot decode corrupt LZ4 data safely).
//
// Corrupt files are reported as `input "a.parquet": corrupt Parquet: ...`,
// here or by the readers; size fields are checked before parquet-go acts on
// them, and pages larger than 512 MiB uncompressed are refused.
//
// Errors name the file and the problem, for example
// `input "a.parquet": missing column "text" (columns: id, body)` or
// `input "a.parquet": column "text" has type INT64, want a string (BYTE_ARRAY UTF8/STRING)`.
func Inspect(path string, cols Columns) (FileInfo, error) {
	s, info, _, _, err := openRequest(path, cols.withDefaults(), true)
	s.close()
	return info, err
}

// reader drives row-by-row reading of a source, converting panics from
// corrupt input into errors while letting panics from callbacks through.
type reader struct {
	s          *source
	inCallback bool
}

// run calls body, recovering panics that did not originate in a callback.
func (r *reader) run(body func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if r.inCallback {
				panic(p)
			}
			err = corruptError(r.s.path, p)
		}
	}()
	return body()
}

func (r *reader) corrupt(format string, args ...any) error {
	return fmt.Errorf("input %q: corrupt Parquet: %s", r.s.path, fmt.Sprintf(format, args...))
}

// leafSpec names a leaf column to read.
type leafSpec struct {
	leaf int
	name string
	flat bool // one value per row (not repeated)
}

// groupRange selects the row groups a read covers: [from, to), or the whole
// file when all is set. claim, when not nil, is called before each group is
// read; a false answer ends the read there without an error.
type groupRange struct {
	from, to int
	all      bool
	claim    func(group int) bool
}

// allGroups selects every row group of the file.
var allGroups = groupRange{all: true}

func (g Groups) internal() groupRange { return groupRange{from: g.From, to: g.To, claim: g.Claim} }

// bounds resolves the selection against the file, checking that it lies
// within the file's row groups.
func (r *reader) bounds(sel groupRange) (from, to int, err error) {
	n := len(r.s.file.RowGroups())
	if sel.all {
		return 0, n, nil
	}
	if sel.from < 0 || sel.from > sel.to || sel.to > n {
		return 0, 0, fmt.Errorf("input %q: row groups [%d, %d) out of range: the file has %d", r.s.path, sel.from, sel.to, n)
	}
	return sel.from, sel.to, nil
}

// forEachRowGroup calls body for every selected row group with cursors over
// the requested leaf columns, and checks afterwards that each column had
// exactly as many rows as the row group.
func (r *reader) forEachRowGroup(ctx context.Context, sel groupRange, specs []leafSpec, body func(group int, rows int64, curs []*cursor) error) error {
	from, to, err := r.bounds(sel)
	if err != nil {
		return err
	}
	meta := r.s.file.Metadata().RowGroups
	groups := r.s.file.RowGroups()
	for g := from; g < to; g++ {
		rg := groups[g]
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("input %q: %w", r.s.path, err)
		}
		if sel.claim != nil {
			r.inCallback = true
			ok := sel.claim(g)
			r.inCallback = false
			if !ok {
				return nil
			}
		}
		if g >= len(meta) {
			return r.corrupt("row group %d missing from the footer", g)
		}
		chunks := rg.ColumnChunks()
		curs := make([]*cursor, len(specs))
		for i, sp := range specs {
			if sp.leaf >= len(chunks) || sp.leaf >= len(meta[g].Columns) {
				closeCursors(curs)
				return r.corrupt("row group %d has no column %q", g, sp.name)
			}
			check, err := newPageChecker(r.s.in, r.s.size, &meta[g].Columns[sp.leaf].MetaData, sp.flat, rg.NumRows())
			if err != nil {
				closeCursors(curs)
				return r.corrupt("column %q in row group %d: %v", sp.name, g, err)
			}
			curs[i] = newCursor(chunks[sp.leaf], sp.name, check)
		}
		err := body(g, rg.NumRows(), curs)
		if err == nil {
			for _, c := range curs {
				if c.atEnd() {
					continue
				}
				if c.err != nil {
					err = r.readError(c, g)
				} else {
					err = r.corrupt("column %q has more values than the %d rows of row group %d", c.name, rg.NumRows(), g)
				}
				break
			}
		}
		closeCursors(curs)
		if err != nil {
			return err
		}
	}
	return nil
}

// forEachRow runs under r.run and calls row for every row of the selected
// row groups in order, with the row's 0-based index within the file and the
// cursors of the requested leaf columns positioned at it; row must consume
// exactly that row's values. ctx is checked between batches of rows.
func (r *reader) forEachRow(ctx context.Context, sel groupRange, specs []leafSpec, row func(index int64, group int, curs []*cursor) error) error {
	return r.run(func() error {
		var index int64
		started := false
		return r.forEachRowGroup(ctx, sel, specs, func(group int, rows int64, curs []*cursor) error {
			if !started {
				// Rows keep their file-wide index whatever the range
				// (row counts were validated by inspectWith).
				for _, rg := range r.s.file.RowGroups()[:group] {
					index += rg.NumRows()
				}
				started = true
			}
			for i := int64(0); i < rows; i++ {
				if i > 0 && i%batchRows == 0 {
					if err := ctx.Err(); err != nil {
						return fmt.Errorf("input %q: %w", r.s.path, err)
					}
				}
				if err := row(index, group, curs); err != nil {
					return err
				}
				index++
			}
			return nil
		})
	})
}

// callback calls fn(v), marking it as the caller's code so that its panics
// pass through r.run.
func callback[T any](r *reader, fn func(T) error, v T) error {
	r.inCallback = true
	err := fn(v)
	r.inCallback = false
	return err
}

func (r *reader) readError(c *cursor, group int) error {
	if errors.Is(c.err, io.EOF) || errors.Is(c.err, io.ErrUnexpectedEOF) {
		return r.corrupt("column %q ends early in row group %d", c.name, group)
	}
	return r.corrupt("column %q in row group %d: %v", c.name, group, c.err)
}

// flatRaw reads the next value of a flat column. The value references page
// memory: byte arrays must be copied if kept.
func (r *reader) flatRaw(c *cursor, group int) (v parquet.Value, null bool, err error) {
	v, ok := c.next()
	if !ok {
		return v, false, r.readError(c, group)
	}
	if v.RepetitionLevel() != 0 {
		return v, false, r.corrupt("column %q has a repeated value", c.name)
	}
	return v, v.IsNull(), nil
}

// flatValue reads the next value of a flat string or integer column,
// rendered as a string.
func (r *reader) flatValue(c *cursor, kind valueKind, group int) (s string, null bool, err error) {
	v, null, err := r.flatRaw(c, group)
	if err != nil || null {
		return "", null, err
	}
	return render(v, kind), false, nil
}

// render converts a non-null value to a string; byte arrays are copied.
func render(v parquet.Value, kind valueKind) string {
	switch kind {
	case kindInt32:
		return strconv.FormatInt(int64(v.Int32()), 10)
	case kindUint32:
		return strconv.FormatUint(uint64(uint32(v.Int32())), 10)
	case kindInt64:
		return strconv.FormatInt(v.Int64(), 10)
	case kindUint64:
		return strconv.FormatUint(uint64(v.Int64()), 10)
	default:
		return string(v.ByteArray())
	}
}

// ReadRows streams the rows of a request file in file order, row group by row
// group, calling fn for each. Only the id and text columns are decoded
// (other columns are never read), and at most about a page of each of them is
// held in memory at a time. The file is validated as by [Inspect] first.
//
// An error returned by fn stops the read and is returned unchanged. ctx is
// checked between batches of rows. Other errors name the file.
func ReadRows(ctx context.Context, path string, cols Columns, fn func(Row) error) error {
	return readRows(ctx, path, cols, allGroups, fn)
}

// ReadRowGroups is [ReadRows] over the row groups that groups selects; rows
// keep their file-wide Index.
func ReadRowGroups(ctx context.Context, path string, cols Columns, groups Groups, fn func(Row) error) error {
	return readRows(ctx, path, cols, groups.internal(), fn)
}

func readRows(ctx context.Context, path string, cols Columns, sel groupRange, fn func(Row) error) error {
	cols = cols.withDefaults()
	s, _, id, text, err := openRequest(path, cols, true)
	if err != nil {
		return err
	}
	defer s.close()
	r := &reader{s: s}
	return r.forEachRow(ctx, sel, []leafSpec{{id.leaf, id.name, true}, {text.leaf, text.name, true}}, func(index int64, group int, curs []*cursor) error {
		row := Row{File: path, Index: index}
		var err error
		if row.ID, row.IDNull, err = r.flatValue(curs[0], id.kind, group); err != nil {
			return err
		}
		if row.Text, row.TextNull, err = r.flatValue(curs[1], text.kind, group); err != nil {
			return err
		}
		return callback(r, fn, row)
	})
}

// ReadIDs streams only the id column of a request file (for a duplicate-id
// pre-pass), calling fn with each row's index, id (integers rendered in
// decimal) and whether the id is null. The id column is validated as by
// [Inspect]; the text column is not required. Errors behave as in [ReadRows].
func ReadIDs(ctx context.Context, path string, idColumn string, fn func(index int64, id string, null bool) error) error {
	cols := Columns{ID: idColumn}.withDefaults()
	s, _, id, _, err := openRequest(path, cols, false)
	if err != nil {
		return err
	}
	defer s.close()
	r := &reader{s: s}
	return r.forEachRow(ctx, allGroups, []leafSpec{{id.leaf, id.name, true}}, func(index int64, group int, curs []*cursor) error {
		v, null, err := r.flatValue(curs[0], id.kind, group)
		if err != nil {
			return err
		}
		r.inCallback = true
		err = fn(index, v, null)
		r.inCallback = false
		return err
	})
}

// checkCodecs verifies that every chunk of the given leaf column uses a
// supported compression codec.
func checkCodecs(s *source, leaf int, name string) error {
	for g, rg := range s.file.Metadata().RowGroups {
		if leaf < len(rg.Columns) {
			if err := checkCodec(rg.Columns[leaf].MetaData.Codec); err != nil {
				return fmt.Errorf("column %q in row group %d: %w", name, g, err)
			}
		}
	}
	return nil
}
