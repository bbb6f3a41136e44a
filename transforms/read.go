package transforms

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// Duplicate marks a row whose id already occurred earlier in the input
// (by file order, then row order); the first occurrence is kept.
type Duplicate struct {
	File  string
	Row   int64
	ID    string
	First string // where the id was first seen, e.g. `"a.parquet" row 3`
}

// rowKey identifies a row of the input.
type rowKey struct {
	file string
	row  int64
}

func duplicateIndex(dups []Duplicate) map[rowKey]Duplicate {
	m := make(map[rowKey]Duplicate, len(dups))
	for _, d := range dups {
		m[rowKey{d.File, d.Row}] = d
	}
	return m
}

// rowRef names a row in messages: file, row number and id.
func rowRef(file string, row int64, id string, idNull bool) string {
	if idNull {
		return fmt.Sprintf("input %q row %d (id null)", file, row)
	}
	return fmt.Sprintf("input %q row %d (id %q)", file, row, id)
}

// validation finds the row-level problems the read step knows about: a
// null id, a duplicate id (from the pre-pass) and a null value field.
type validation struct {
	idColumn string
	dups     map[rowKey]Duplicate
}

func newValidation(idColumn string, dups []Duplicate) validation {
	if idColumn == "" {
		idColumn = "id"
	}
	return validation{idColumn: idColumn, dups: duplicateIndex(dups)}
}

// check returns the error of a row ("" when there is none). problem, when
// not empty, is a problem of the value field found by the caller, worded to
// follow the field's name (" is null").
func (v validation) check(file string, row int64, id string, idNull bool, field, problem string) string {
	if p := v.problem(file, row, idNull, field, problem); p != "" {
		return rowRef(file, row, id, idNull) + ": " + p
	}
	return ""
}

// problem is check's message without the row reference.
func (v validation) problem(file string, row int64, idNull bool, field, problem string) string {
	switch d, dup := v.dups[rowKey{file, row}]; {
	case idNull:
		return fmt.Sprintf("field %q is null; every row needs an id", v.idColumn)
	case dup:
		return fmt.Sprintf("field %q: duplicate id %q, first seen at %s", v.idColumn, d.ID, d.First)
	case problem != "":
		return fmt.Sprintf("field %q%s", field, problem)
	}
	return ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ReadTextFn reads the text rows of each Parquet file path it receives. Rows
// with a null id or null text, and the duplicate rows listed in Duplicates,
// come out with their error already set.
//
// It is a splittable DoFn: a file's restriction is a range of its row
// groups (see rowGroupSource), so the pieces of a large file can be read by
// different workers and the runner can rebalance them; rows keep their
// file-wide numbers whatever the piece.
type ReadTextFn struct {
	Columns    parquetio.Columns
	Duplicates []Duplicate

	v validation
	rowGroupSource
}

// Setup indexes the duplicates.
func (f *ReadTextFn) Setup() { f.v = newValidation(f.Columns.ID, f.Duplicates) }

// ProcessElement streams the rows of the row groups of rt's restriction of
// one file.
func (f *ReadTextFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, path string, emit func(TextRow)) error {
	textColumn := orDefault(f.Columns.Text, "text")
	return parquetio.ReadRowGroups(ctx, path, f.Columns, claimGroups(rt), func(r parquetio.Row) error {
		out := TextRow{ID: r.ID, Text: r.Text, TextNull: r.TextNull, File: r.File, Row: r.Index}
		problem := ""
		if r.TextNull {
			problem = " is null"
		}
		if out.Err = f.v.check(r.File, r.Index, r.ID, r.IDNull, textColumn, problem); out.Err != "" {
			out.Stage = StageValidate
		}
		emit(out)
		return nil
	})
}

// ReadTokensFn reads the token rows of each Parquet file path it receives,
// like ReadTextFn (a splittable DoFn over row groups too).
type ReadTokensFn struct {
	Columns    parquetio.TokenColumns
	Duplicates []Duplicate

	v validation
	rowGroupSource
}

// Setup indexes the duplicates.
func (f *ReadTokensFn) Setup() { f.v = newValidation(f.Columns.ID, f.Duplicates) }

// ProcessElement streams the rows of the row groups of rt's restriction of
// one file.
func (f *ReadTokensFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, path string, emit func(TokenRow)) error {
	tokensColumn := orDefault(f.Columns.Tokens, "tokens")
	return parquetio.ReadTokenRowGroups(ctx, path, f.Columns, claimGroups(rt), func(r parquetio.TokenRow) error {
		out := TokenRow{ID: r.ID, Tokens: r.Tokens, TokensNull: r.TokensNull, File: r.File, Row: r.Index}
		problem := ""
		switch {
		case r.TokensNull:
			problem = " is null"
		case r.NullToken:
			problem = ": the list holds a null token id"
		}
		if out.Err = f.v.check(r.File, r.Index, r.ID, r.IDNull, tokensColumn, problem); out.Err != "" {
			out.Stage = StageValidate
		}
		emit(out)
		return nil
	})
}

// FindDuplicates reads only the id column of Parquet files, in order, and
// returns every row whose id occurred before (null ids are not duplicates;
// they fail on their own). It runs before the pipeline so that "first
// occurrence" is deterministic whatever the runner's splitting.
func FindDuplicates(ctx context.Context, files []string, idColumn string) ([]Duplicate, error) {
	return FindDuplicatesWith(ctx, files, func(ctx context.Context, file string, fn func(int64, string, bool) error) error {
		return parquetio.ReadIDs(ctx, file, idColumn, fn)
	})
}

// IDReader streams the ids of one input file: each row's (or line's)
// number, id and whether the id is null.
type IDReader func(ctx context.Context, file string, fn func(row int64, id string, null bool) error) error

// FindDuplicatesWith is FindDuplicates over files of any format, read with
// readIDs.
func FindDuplicatesWith(ctx context.Context, files []string, readIDs IDReader) ([]Duplicate, error) {
	type loc struct {
		file string
		row  int64
	}
	seen := map[string]loc{}
	var dups []Duplicate
	for _, file := range files {
		err := readIDs(ctx, file, func(i int64, id string, null bool) error {
			if null {
				return nil
			}
			if first, ok := seen[id]; ok {
				dups = append(dups, Duplicate{File: file, Row: i, ID: id, First: fmt.Sprintf("%q row %d", first.file, first.row)})
				return nil
			}
			seen[id] = loc{file, i}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return dups, nil
}

// ReadText is the read step of the tokenization job: file paths in,
// TextRows out.
func ReadText(s beam.Scope, files beam.PCollection, cols parquetio.Columns, dups []Duplicate) beam.PCollection {
	s = s.Scope("ReadText")
	return beam.ParDo(s, &ReadTextFn{Columns: cols, Duplicates: dups}, files)
}

// ReadTokens is the read step of the detokenization job.
func ReadTokens(s beam.Scope, files beam.PCollection, cols parquetio.TokenColumns, dups []Duplicate) beam.PCollection {
	s = s.Scope("ReadTokens")
	return beam.ParDo(s, &ReadTokensFn{Columns: cols, Duplicates: dups}, files)
}
