package transforms

import (
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/core/sdf"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/rtrackers/offsetrange"

	"github.com/minerva-batch/minerva/io/parquetio"
)

// splitBytes is the compressed size of the row groups that the initial split
// of a Parquet file puts together into one restriction (a row group larger
// than this is a restriction on its own). A variable for the tests.
var splitBytes int64 = 64 << 20

// maxLayouts bounds the row-group layouts a reader DoFn instance keeps.
const maxLayouts = 1024

// rowGroupSource holds the splittable-DoFn methods shared by the Parquet
// readers (ReadTextFn, ReadTokensFn, ReadRequestsFn). An element is a file
// path; its restriction is a range of the file's row groups, [0, n) at first,
// split into pieces of about splitBytes (consecutive groups, by compressed
// size) so that the pieces of a large file can go to different workers; the
// runner can split a piece further at any row-group boundary while it is
// read (offsetrange's tracker, claimed once per group just before the group
// is read). A restriction's size is the compressed bytes of its groups.
//
// Row groups come from the file's footer, read once per file by each DoFn
// instance and kept for the instance's other calls (RestrictionSize may run
// on the split goroutine while ProcessElement reads, hence the mutex).
// Runners that do not split (the direct runner) run every initial piece in
// turn in ProcessElement's place.
type rowGroupSource struct {
	mu      sync.Mutex
	layouts map[string][]parquetio.RowGroup
}

// groups returns the row groups of the file at path.
func (s *rowGroupSource) groups(path string) ([]parquetio.RowGroup, error) {
	s.mu.Lock()
	groups, ok := s.layouts[path]
	s.mu.Unlock()
	if ok {
		return groups, nil
	}
	groups, err := parquetio.RowGroups(path)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.layouts == nil || len(s.layouts) >= maxLayouts {
		s.layouts = make(map[string][]parquetio.RowGroup)
	}
	s.layouts[path] = groups
	s.mu.Unlock()
	return groups, nil
}

// CreateInitialRestriction is every row group of the file.
func (s *rowGroupSource) CreateInitialRestriction(path string) (offsetrange.Restriction, error) {
	groups, err := s.groups(path)
	if err != nil {
		return offsetrange.Restriction{}, err
	}
	return offsetrange.Restriction{Start: 0, End: int64(len(groups))}, nil
}

// SplitRestriction splits a restriction into runs of consecutive row groups
// of about splitBytes each.
func (s *rowGroupSource) SplitRestriction(path string, rest offsetrange.Restriction) ([]offsetrange.Restriction, error) {
	groups, err := s.groups(path)
	if err != nil {
		return nil, err
	}
	return splitGroups(groups, rest, splitBytes), nil
}

// RestrictionSize is the compressed bytes of the restriction's row groups.
func (s *rowGroupSource) RestrictionSize(path string, rest offsetrange.Restriction) (float64, error) {
	groups, err := s.groups(path)
	if err != nil {
		return 0, err
	}
	return groupBytes(groups, rest), nil
}

// CreateTracker tracks the row groups of a restriction.
func (s *rowGroupSource) CreateTracker(rest offsetrange.Restriction) *sdf.LockRTracker {
	return sdf.NewLockRTracker(offsetrange.NewTracker(rest))
}

// clampRange returns rest limited to the groups of the file (a stale or
// foreign restriction is left to the reader to reject).
func clampRange(groups []parquetio.RowGroup, rest offsetrange.Restriction) (from, to int64) {
	n := int64(len(groups))
	from, to = max(rest.Start, 0), min(rest.End, n)
	if from > to {
		from = to
	}
	return from, to
}

// groupBytes sums the compressed bytes of the groups in rest.
func groupBytes(groups []parquetio.RowGroup, rest offsetrange.Restriction) float64 {
	from, to := clampRange(groups, rest)
	var n int64
	for _, g := range groups[from:to] {
		n += g.Bytes
	}
	return float64(n)
}

// splitGroups cuts rest into consecutive, non-empty runs of row groups, each
// closed once it holds at least target bytes (a run holds at least one group).
// The runs cover rest exactly once, in order; an empty rest is returned as
// it is (a runner needs at least one restriction per element).
func splitGroups(groups []parquetio.RowGroup, rest offsetrange.Restriction, target int64) []offsetrange.Restriction {
	if rest.Start >= rest.End || rest.Start < 0 || rest.End > int64(len(groups)) {
		return []offsetrange.Restriction{rest}
	}
	var out []offsetrange.Restriction
	start, acc := rest.Start, int64(0)
	for g := rest.Start; g < rest.End; g++ {
		acc += groups[g].Bytes
		if acc >= target {
			out = append(out, offsetrange.Restriction{Start: start, End: g + 1})
			start, acc = g+1, 0
		}
	}
	if start < rest.End {
		out = append(out, offsetrange.Restriction{Start: start, End: rest.End})
	}
	return out
}

// claimGroups reads the row groups of rt's restriction, claiming each one
// just before it is read: a split that the runner makes meanwhile ends the
// read at the new end of the restriction.
func claimGroups(rt *sdf.LockRTracker) parquetio.Groups {
	rest := rt.GetRestriction().(offsetrange.Restriction)
	return parquetio.Groups{
		From:  int(rest.Start),
		To:    int(rest.End),
		Claim: func(g int) bool { return rt.TryClaim(int64(g)) },
	}
}

// wholeFile is the restriction of an input read in one piece (JSONL): one
// unit, claimed before the read.
var wholeFile = offsetrange.Restriction{Start: 0, End: 1}

// claimWhole claims the one unit of a whole-file restriction; false means
// the runner already took it (nothing to read).
func claimWhole(rt *sdf.LockRTracker) bool {
	return rt.TryClaim(rt.GetRestriction().(offsetrange.Restriction).Start)
}
