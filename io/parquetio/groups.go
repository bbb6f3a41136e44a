package parquetio

import "fmt"

// Groups selects the row groups [From, To) of a file for the ranged readers
// ([ReadRowGroups], [ReadTokenRowGroups], [ReadRequestRowGroups]), which let
// a file be read in pieces (by a splittable DoFn, one range of row groups per
// restriction). 0 <= From <= To <= the file's row-group count, or the read
// fails with an error naming the file and the range; From == To reads no
// rows (the file is still opened and validated). Rows keep their file-wide
// index whatever the range, so the ranges of a partition of [0, n) together
// yield exactly the rows of the whole-file reader.
type Groups struct {
	From, To int
	// Claim, when not nil, is called with each group's index, in order, just
	// before the group is read; when it returns false the read stops there
	// without an error (an SDF's restriction tracker: rt.TryClaim).
	Claim func(group int) bool
}

// RowGroup describes one row group of a Parquet file.
type RowGroup struct {
	// FirstRow is the file-wide index of the group's first row.
	FirstRow int64
	// NumRows is the number of rows in the group.
	NumRows int64
	// Bytes is the compressed size of the group's column chunks (all
	// columns, as the footer gives it).
	Bytes int64
}

// RowGroups returns the row-group layout of a Parquet file, read from its
// footer only (no column is read and the columns are not validated; the
// readers do that). Errors name the file; a footer whose row counts or chunk
// sizes do not add up is reported as corrupt.
func RowGroups(path string) (groups []RowGroup, err error) {
	s, err := openSource(path)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if _, err := s.numRows(); err != nil {
		return nil, err
	}
	meta := s.file.Metadata().RowGroups
	var first int64
	for g, rg := range s.file.RowGroups() {
		if g >= len(meta) {
			return nil, fmt.Errorf("input %q: corrupt Parquet: row group %d missing from the footer", path, g)
		}
		var bytes int64
		for c := range meta[g].Columns {
			n := meta[g].Columns[c].MetaData.TotalCompressedSize
			if n < 0 || n > s.size || bytes+n > s.size {
				return nil, fmt.Errorf("input %q: corrupt Parquet: row group %d: column chunk sizes exceed the file size", path, g)
			}
			bytes += n
		}
		groups = append(groups, RowGroup{FirstRow: first, NumRows: rg.NumRows(), Bytes: bytes})
		first += rg.NumRows()
	}
	return groups, nil
}
