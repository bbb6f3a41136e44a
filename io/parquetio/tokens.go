package parquetio

import (
	"context"
	"io"

	"github.com/parquet-go/parquet-go"
)

// TokenColumns names the columns of a token file (the input of
// detokenization); zero values mean "id" and "tokens".
type TokenColumns struct {
	ID, Tokens string
}

func (c TokenColumns) withDefaults() TokenColumns {
	if c.ID == "" {
		c.ID = "id"
	}
	if c.Tokens == "" {
		c.Tokens = "tokens"
	}
	return c
}

// TokenRow is one row of a token file.
type TokenRow struct {
	File   string
	Index  int64  // 0-based row number within the file
	ID     string // integer ids rendered in decimal
	IDNull bool
	// Tokens holds the list elements; it is non-nil (possibly empty) unless
	// TokensNull is set.
	Tokens     []int64
	TokensNull bool
	// NullToken reports that the list contained null elements. They are
	// omitted from Tokens; callers should treat such a row as invalid.
	NullToken bool
}

func openTokens(path string, cols TokenColumns) (*source, FileInfo, flatColumn, listColumn, error) {
	var id flatColumn
	var toks listColumn
	s, info, err := inspectWith(path, func(s *source) error {
		var err error
		if id, err = checkIDColumn(s.root, cols.ID); err != nil {
			return err
		}
		if toks, err = checkTokensColumn(s.root, cols.Tokens); err != nil {
			return err
		}
		if err := checkCodecs(s, id.leaf, id.name); err != nil {
			return err
		}
		return checkCodecs(s, toks.leaf, toks.name)
	})
	info.IDIsInt = id.kind != kindString
	return s, info, id, toks, err
}

// InspectTokens validates a token file before any work is done. The id column
// is checked as by [Inspect]; the tokens column must be a list of integers
// (INT32 or INT64, possibly with an integer annotation): a standard 3-level
// LIST, optional or required, with optional or required elements, or a legacy
// 2-level list (a LIST group over a repeated integer, or a bare repeated
// integer column). Errors name the file and the problem.
func InspectTokens(path string, cols TokenColumns) (FileInfo, error) {
	s, info, _, _, err := openTokens(path, cols.withDefaults())
	s.close()
	return info, err
}

// ReadTokenRows streams the rows of a token file in file order, calling fn
// for each. Only the id and tokens columns are decoded, with bounded memory
// (about a page per column plus the current row's list). The file is
// validated as by [InspectTokens] first. An error returned by fn stops the
// read and is returned unchanged; ctx is checked between batches of rows;
// other errors name the file.
func ReadTokenRows(ctx context.Context, path string, cols TokenColumns, fn func(TokenRow) error) error {
	return readTokenRows(ctx, path, cols, allGroups, fn)
}

// ReadTokenRowGroups is [ReadTokenRows] over the row groups that groups
// selects; rows keep their file-wide Index.
func ReadTokenRowGroups(ctx context.Context, path string, cols TokenColumns, groups Groups, fn func(TokenRow) error) error {
	return readTokenRows(ctx, path, cols, groups.internal(), fn)
}

func readTokenRows(ctx context.Context, path string, cols TokenColumns, sel groupRange, fn func(TokenRow) error) error {
	cols = cols.withDefaults()
	s, _, id, toks, err := openTokens(path, cols)
	if err != nil {
		return err
	}
	defer s.close()
	r := &reader{s: s}
	return r.forEachRow(ctx, sel, []leafSpec{{id.leaf, id.name, true}, {toks.leaf, toks.name, false}}, func(index int64, group int, curs []*cursor) error {
		row := TokenRow{File: path, Index: index, Tokens: []int64{}}
		var err error
		if row.ID, row.IDNull, err = r.flatValue(curs[0], id.kind, group); err != nil {
			return err
		}
		row.TokensNull, err = r.listValue(curs[1], toks, group, func(v parquet.Value, null bool) {
			if null {
				row.NullToken = true
			} else {
				row.Tokens = append(row.Tokens, intValue(v, toks.kind))
			}
		})
		if err != nil {
			return err
		}
		if row.TokensNull {
			row.Tokens = nil
		}
		return callback(r, fn, row)
	})
}

// listValue reads one row of a list column, calling elem for each element in
// order (null elements with null set; the value references page memory and
// must be copied if kept). It reports whether the list itself is null; a null
// or empty list calls elem for nothing.
func (r *reader) listValue(c *cursor, lc listColumn, group int, elem func(v parquet.Value, null bool)) (null bool, err error) {
	v, ok := c.next()
	if !ok {
		return false, r.readError(c, group)
	}
	if v.RepetitionLevel() != 0 {
		return false, r.corrupt("column %q: list does not start at a row boundary", c.name)
	}
	for {
		d := v.DefinitionLevel()
		switch {
		case d > lc.maxDef:
			return false, r.corrupt("column %q: definition level %d out of range", c.name, d)
		case d == lc.maxDef:
			elem(v, false)
		case d >= lc.listDef:
			elem(v, true)
		case lc.nullable && d == 0:
			null = true
		}
		p, ok := c.peek()
		if !ok {
			if c.err == io.EOF {
				return null, nil // end of the chunk; checked by forEachRowGroup
			}
			return false, r.readError(c, group)
		}
		if p.RepetitionLevel() == 0 {
			return null, nil
		}
		if d < lc.listDef {
			return false, r.corrupt("column %q: null or empty list followed by elements", c.name)
		}
		v, _ = c.next()
	}
}

func intValue(v parquet.Value, kind valueKind) int64 {
	switch kind {
	case kindInt32:
		return int64(v.Int32())
	case kindUint32:
		return int64(uint32(v.Int32()))
	default:
		return v.Int64()
	}
}
