package transforms

import (
	"context"
	"fmt"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/minerva-batch/minerva/io/openaibatch"
	"github.com/minerva-batch/minerva/io/parquetio"
)

// Request file formats.
const (
	FormatParquet = "parquet" // columns id, prompt and optional parameters
	FormatJSONL   = "jsonl"   // OpenAI Batch API input files
)

// ReadRequestsFn reads the request rows of each file path it receives, in
// Format. Rows with a null id, a null prompt or an unusable JSONL line, and
// the duplicate rows listed in Duplicates, come out with their error set.
//
// It is a splittable DoFn. A Parquet file's restriction is a range of its
// row groups, as for ReadTextFn; a JSONL file is not splittable: its
// restriction is one unit (the whole file, size 1), claimed before the
// file is read.
type ReadRequestsFn struct {
	Format     string
	Columns    parquetio.RequestColumns
	Duplicates []Duplicate

	v validation
	rowGroupSource
}

// CreateInitialRestriction is every row group of a Parquet file, or the one
// unit of a JSONL file.
func (f *ReadRequestsFn) CreateInitialRestriction(path string) (offsetrange.Restriction, error) {
	if f.Format == FormatJSONL {
		return wholeFile, nil
	}
	return f.rowGroupSource.CreateInitialRestriction(path)
}

// SplitRestriction splits a Parquet file's restriction as ReadTextFn does;
// a JSONL file stays whole.
func (f *ReadRequestsFn) SplitRestriction(path string, rest offsetrange.Restriction) ([]offsetrange.Restriction, error) {
	if f.Format == FormatJSONL {
		return []offsetrange.Restriction{rest}, nil
	}
	return f.rowGroupSource.SplitRestriction(path, rest)
}

// RestrictionSize is the compressed bytes of a Parquet restriction's row
// groups; a JSONL file counts 1.
func (f *ReadRequestsFn) RestrictionSize(path string, rest offsetrange.Restriction) (float64, error) {
	if f.Format == FormatJSONL {
		return rest.Size(), nil
	}
	return f.rowGroupSource.RestrictionSize(path, rest)
}

// Setup indexes the duplicates.
func (f *ReadRequestsFn) Setup() {
	id := f.Columns.ID
	if f.Format == FormatJSONL {
		id = "custom_id"
	}
	f.v = newValidation(id, f.Duplicates)
}

// ProcessElement streams the rows of rt's restriction of one file: the row
// groups of a Parquet file's range, or the whole of a JSONL file.
func (f *ReadRequestsFn) ProcessElement(ctx context.Context, rt *sdf.LockRTracker, path string, emit func(RequestRow)) error {
	if f.Format == FormatJSONL {
		if !claimWhole(rt) {
			return nil
		}
		return openaibatch.ReadRequests(ctx, path, func(l openaibatch.Line) error {
			row := RequestRow{ID: l.CustomID, IDNull: l.IDNull, File: l.File, Row: l.Line, URL: l.URL, Spec: l.Spec}
			switch {
			case l.Err != "":
				row.Err, row.Stage = fmt.Sprintf("%s: %s", row.ref(), l.Err), StageRead
			default:
				if p := f.v.problem(l.File, l.Line, l.IDNull, "", ""); p != "" {
					row.Err, row.Stage = row.ref()+": "+p, StageValidate
				}
			}
			emit(row)
			return nil
		})
	}
	prompt := orDefault(f.Columns.Prompt, "prompt")
	return parquetio.ReadRequestRowGroups(ctx, path, f.Columns, claimGroups(rt), func(r parquetio.RequestRow) error {
		row := RequestRow{ID: r.ID, IDNull: r.IDNull, File: r.File, Row: r.Index, Spec: r.Spec}
		problem := ""
		if r.Spec.Prompt == nil {
			problem = " is null"
		}
		if row.Err = f.v.check(r.File, r.Index, r.ID, r.IDNull, prompt, problem); row.Err != "" {
			row.Stage = StageValidate
		}
		emit(row)
		return nil
	})
}

// ReadRequests is the read step of the inference job: file paths in,
// RequestRows out.
func ReadRequests(s beam.Scope, files beam.PCollection, fn *ReadRequestsFn) beam.PCollection {
	return beam.ParDo(s.Scope("ReadRequests"), fn, files)
}
