package parquetio

import (
	"cmp"
	"context"
	"math"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/infer"
)

// RequestColumns names the columns of an inference request file. A zero
// field means the column's default name, given in the comments.
type RequestColumns struct {
	ID     string // "id": required, string or integer
	Prompt string // "prompt": required, string

	// Optional columns: a row's value overrides the job's default; an absent
	// column or a null value leaves it to the job.
	MaxTokens   string // "max_tokens": integer
	Temperature string // "temperature": float or integer
	TopP        string // "top_p": float or integer
	TopK        string // "top_k": integer
	Seed        string // "seed": integer
	Stop        string // "stop": list of strings
	Priority    string // "priority": integer
}

func (c RequestColumns) withDefaults() RequestColumns {
	c.ID = cmp.Or(c.ID, "id")
	c.Prompt = cmp.Or(c.Prompt, "prompt")
	c.MaxTokens = cmp.Or(c.MaxTokens, "max_tokens")
	c.Temperature = cmp.Or(c.Temperature, "temperature")
	c.TopP = cmp.Or(c.TopP, "top_p")
	c.TopK = cmp.Or(c.TopK, "top_k")
	c.Seed = cmp.Or(c.Seed, "seed")
	c.Stop = cmp.Or(c.Stop, "stop")
	c.Priority = cmp.Or(c.Priority, "priority")
	return c
}

// RequestRow is one row of a request file.
type RequestRow struct {
	File   string
	Index  int64  // 0-based row number within the file
	ID     string // integer ids rendered in decimal
	IDNull bool
	// Spec is the request as the row gives it: a null prompt is a nil
	// Prompt, an absent or null optional column a nil field.
	Spec infer.Spec
}

// requestField is an optional scalar column of a request file.
type requestField struct {
	column func(RequestColumns) string
	typ    flatType
	set    func(s *infer.Spec, v parquet.Value, kind valueKind)
}

var requestFields = []requestField{
	{func(c RequestColumns) string { return c.MaxTokens }, intType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.MaxTokens = int64Ptr(v, k) }},
	{func(c RequestColumns) string { return c.Temperature }, floatType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.Temperature = float64Ptr(v, k) }},
	{func(c RequestColumns) string { return c.TopP }, floatType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.TopP = float64Ptr(v, k) }},
	{func(c RequestColumns) string { return c.TopK }, intType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.TopK = int64Ptr(v, k) }},
	{func(c RequestColumns) string { return c.Seed }, intType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.Seed = int64Ptr(v, k) }},
	{func(c RequestColumns) string { return c.Priority }, intType,
		func(s *infer.Spec, v parquet.Value, k valueKind) { s.Priority = int64Ptr(v, k) }},
}

// int64Ptr converts a non-null integer value; unsigned 64-bit values above
// math.MaxInt64 saturate to math.MaxInt64.
func int64Ptr(v parquet.Value, kind valueKind) *int64 {
	x := intValue(v, kind)
	if kind == kindUint64 && x < 0 {
		x = math.MaxInt64
	}
	return &x
}

// float64Ptr converts a non-null float or integer value.
func float64Ptr(v parquet.Value, kind valueKind) *float64 {
	var x float64
	switch kind {
	case kindFloat:
		x = float64(v.Float())
	case kindDouble:
		x = v.Double()
	case kindUint64:
		x = float64(uint64(v.Int64()))
	default:
		x = float64(intValue(v, kind))
	}
	return &x
}

const wantStopList = "want a list of strings (LIST<STRING>)"

// optColumn is a present optional scalar column.
type optColumn struct {
	flatColumn
	set func(s *infer.Spec, v parquet.Value, kind valueKind)
}

// requestLayout holds the validated columns of a request file.
type requestLayout struct {
	id, prompt flatColumn
	opt        []optColumn
	stop       *listColumn // nil if the file has no stop column
}

// specs lists the leaf columns to read, in the order ReadRequestRows uses the
// cursors: id, prompt, the optional scalar columns, stop.
func (l *requestLayout) specs() []leafSpec {
	specs := []leafSpec{{l.id.leaf, l.id.name, true}, {l.prompt.leaf, l.prompt.name, true}}
	for _, o := range l.opt {
		specs = append(specs, leafSpec{o.leaf, o.name, true})
	}
	if l.stop != nil {
		specs = append(specs, leafSpec{l.stop.leaf, l.stop.name, false})
	}
	return specs
}

func openRequests(path string, cols RequestColumns) (*source, FileInfo, *requestLayout, error) {
	l := &requestLayout{}
	s, info, err := inspectWith(path, func(s *source) error {
		var err error
		if l.id, err = checkIDColumn(s.root, cols.ID); err != nil {
			return err
		}
		if l.prompt, err = checkTextColumn(s.root, cols.Prompt); err != nil {
			return err
		}
		for _, f := range requestFields {
			n := child(s.root, f.column(cols))
			if n == nil {
				continue
			}
			fc, err := checkFlat(n, f.typ)
			if err != nil {
				return err
			}
			l.opt = append(l.opt, optColumn{fc, f.set})
		}
		if n := child(s.root, cols.Stop); n != nil {
			lc, err := checkList(n, wantStopList, textType.kind)
			if err != nil {
				return err
			}
			l.stop = &lc
		}
		for _, sp := range l.specs() {
			if err := checkCodecs(s, sp.leaf, sp.name); err != nil {
				return err
			}
		}
		return nil
	})
	info.IDIsInt = l.id.kind != kindString
	return s, info, l, err
}

// InspectRequests validates an inference request file before any work is
// done. The file must be readable Parquet (see [Inspect] for the rules on
// corruption and compression) with
//
//   - an id column holding strings or integers, as for [Inspect];
//   - a prompt column holding strings (BYTE_ARRAY, STRING/UTF8 or plain
//     binary), as the text column of [Inspect].
//
// Each optional column that the file has must hold one value per row of a
// usable type (a missing optional column is fine: the job applies its
// defaults):
//
//   - max_tokens, top_k, seed, priority: integers (INT32 or INT64 with no
//     annotation or an integer annotation, signed or unsigned);
//   - temperature, top_p: FLOAT or DOUBLE, or integers as above (so that a
//     DuckDB literal such as 1 works). DECIMAL is rejected with an error
//     that says to cast the column to DOUBLE (DuckDB gives a literal such as
//     0.7 the DECIMAL type unless it is cast);
//   - stop: a list of strings: a standard 3-level LIST of BYTE_ARRAY strings,
//     optional or required, with optional or required elements, or a legacy
//     2-level list (a LIST group over a repeated string, or a bare repeated
//     string column).
//
// Errors name the file, the column, its type and what is wanted, for example
// `input "a.parquet": column "temperature" has type BYTE_ARRAY (STRING), want a float (FLOAT or DOUBLE) or an integer`.
func InspectRequests(path string, cols RequestColumns) (FileInfo, error) {
	s, info, _, err := openRequests(path, cols.withDefaults())
	s.close()
	return info, err
}

// ReadRequestRows streams the rows of an inference request file in file
// order, calling fn for each. Only the id, prompt and present optional
// columns are decoded, with bounded memory (about a page per column plus the
// current row's stop list). The file is validated as by [InspectRequests]
// first.
//
// Values map to [infer.Spec] as follows: a null prompt or optional value is
// a nil field; a null stop list is a nil Stop and an empty list a non-nil
// empty Stop; a null element of a stop list is kept as "" (which
// [infer.Check] rejects as an empty stop string, so the row fails on its
// own). Integer ids are rendered in decimal as by [ReadRows]; integers in a
// float column are converted to float64; unsigned 64-bit values above
// math.MaxInt64 in an integer column saturate to math.MaxInt64 (so that
// max_tokens and top_k report them as too large).
//
// Errors behave as in [ReadRows]: an error returned by fn stops the read and
// is returned unchanged, a panic in fn passes through, ctx is checked between
// batches of rows, and other errors (corrupt data included) name the file.
func ReadRequestRows(ctx context.Context, path string, cols RequestColumns, fn func(RequestRow) error) error {
	return readRequestRows(ctx, path, cols, allGroups, fn)
}

// ReadRequestRowGroups is [ReadRequestRows] over the row groups that groups
// selects; rows keep their file-wide Index.
func ReadRequestRowGroups(ctx context.Context, path string, cols RequestColumns, groups Groups, fn func(RequestRow) error) error {
	return readRequestRows(ctx, path, cols, groups.internal(), fn)
}

func readRequestRows(ctx context.Context, path string, cols RequestColumns, sel groupRange, fn func(RequestRow) error) error {
	s, _, l, err := openRequests(path, cols.withDefaults())
	if err != nil {
		return err
	}
	defer s.close()
	r := &reader{s: s}
	return r.forEachRow(ctx, sel, l.specs(), func(index int64, group int, curs []*cursor) error {
		row := RequestRow{File: path, Index: index}
		var err error
		if row.ID, row.IDNull, err = r.flatValue(curs[0], l.id.kind, group); err != nil {
			return err
		}
		prompt, null, err := r.flatValue(curs[1], l.prompt.kind, group)
		if err != nil {
			return err
		}
		if !null {
			row.Spec.Prompt = &prompt
		}
		for i, o := range l.opt {
			v, null, err := r.flatRaw(curs[2+i], group)
			if err != nil {
				return err
			}
			if !null {
				o.set(&row.Spec, v, o.kind)
			}
		}
		if l.stop != nil {
			stop := []string{}
			null, err := r.listValue(curs[len(curs)-1], *l.stop, group, func(v parquet.Value, null bool) {
				if null {
					stop = append(stop, "")
				} else {
					stop = append(stop, string(v.ByteArray()))
				}
			})
			if err != nil {
				return err
			}
			if !null {
				row.Spec.Stop = stop
			}
		}
		return callback(r, fn, row)
	})
}
