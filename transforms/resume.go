package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"

	"github.com/minerva-batch/minerva/io/blob"
)

// DoneSet is what an interrupted run of a job already wrote to its output
// folder: the ids of its result rows and the input locations (file and row,
// or line) of its error rows. A resumed run (--resume) skips the rows it
// holds (see [DoneSet.Done]).
//
// Result rows are known by id: token and text results carry nothing else,
// and ids are unique among results (a duplicate id is an error row). Error
// rows are known by where they came from, because their id may be missing
// (a null id) or shared (a duplicate of an earlier row, whose own outcome
// is another row).
type DoneSet struct {
	// IDs are the ids of the result rows, sorted.
	IDs []string `json:"ids"`
	// Errors are the rows of the error rows, sorted, by input file.
	Errors map[string][]int64 `json:"errors"`
}

// AddID records a result row.
func (d *DoneSet) AddID(id string) { d.IDs = append(d.IDs, id) }

// AddError records an error row.
func (d *DoneSet) AddError(file string, row int64) {
	if d.Errors == nil {
		d.Errors = map[string][]int64{}
	}
	d.Errors[file] = append(d.Errors[file], row)
}

// Len is the number of rows recorded.
func (d *DoneSet) Len() int64 {
	n := int64(len(d.IDs))
	for _, rows := range d.Errors {
		n += int64(len(rows))
	}
	return n
}

// Sort sorts the set for Done; WriteDoneFile sorts it too.
func (d *DoneSet) Sort() {
	slices.Sort(d.IDs)
	for _, rows := range d.Errors {
		slices.Sort(rows)
	}
}

// Done reports whether a previous run already wrote the outcome of the row
// at file and row with this id: an error row of that location, or, for a
// row that has not failed before the work step (failed: a null id, a
// duplicate id, a null field), a result of that id. A row that failed
// before the work step can only ever be an error row, so its id — null, or
// shared with the earlier row it duplicates — is not looked up.
func (d *DoneSet) Done(id string, failed bool, file string, row int64) bool {
	if rows := d.Errors[file]; len(rows) > 0 {
		if _, ok := slices.BinarySearch(rows, row); ok {
			return true
		}
	}
	if failed {
		return false
	}
	_, ok := slices.BinarySearch(d.IDs, id)
	return ok
}

// WriteDoneFile writes d (sorted) as JSON to path (local or gs://), whole.
func WriteDoneFile(path string, d *DoneSet) error {
	d.Sort()
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if err := blob.WriteFile(context.Background(), path, data); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	return nil
}

// ReadDoneFile reads a file written by WriteDoneFile.
func ReadDoneFile(path string) (*DoneSet, error) {
	data, err := blob.ReadFile(context.Background(), path)
	if err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	d := &DoneSet{}
	if err := json.Unmarshal(data, d); err != nil {
		return nil, fmt.Errorf("resume: %s: %w", path, err)
	}
	d.Sort() // cheap when sorted already; a file written by hand may not be
	return d, nil
}

// doneSets shares a loaded DoneSet among the skip DoFns of a process (a
// done file's name is unique to its run), until the last one is torn down.
var doneSets = struct {
	sync.Mutex
	m map[string]*sharedDone
}{m: map[string]*sharedDone{}}

type sharedDone struct {
	set  *DoneSet
	refs int
}

func acquireDone(path string) (*DoneSet, error) {
	doneSets.Lock()
	defer doneSets.Unlock()
	if s := doneSets.m[path]; s != nil {
		s.refs++
		return s.set, nil
	}
	d, err := ReadDoneFile(path)
	if err != nil {
		return nil, err
	}
	doneSets.m[path] = &sharedDone{set: d, refs: 1}
	return d, nil
}

func releaseDone(path string) {
	doneSets.Lock()
	defer doneSets.Unlock()
	if s := doneSets.m[path]; s != nil {
		if s.refs--; s.refs <= 0 {
			delete(doneSets.m, path)
		}
	}
}

var rowsSkipped = beam.NewCounter("minerva", "rows_skipped")

// skipState is what the skip DoFns share: the done set, loaded in Setup
// from the file their Done field names (written by WriteDoneFile before
// the job starts, readable by every worker: a local path for in-process
// runners, a gs:// one otherwise).
//
// Memory: every worker process holds the set once, about the length of
// each id plus 16 bytes per result row and 8 bytes per error row (e.g.
// 100 MB for 4 million rows with 10-byte ids).
type skipState struct {
	path string
	set  *DoneSet
}

func (s *skipState) setup(path string) error {
	if s.set != nil {
		return nil
	}
	d, err := acquireDone(path)
	if err != nil {
		return err
	}
	s.path, s.set = path, d
	return nil
}

func (s *skipState) teardown() {
	if s.set != nil {
		releaseDone(s.path)
		s.set = nil
	}
}

func (s *skipState) keep(ctx context.Context, id string, failed bool, file string, row int64) bool {
	if s.set.Done(id, failed, file, row) {
		rowsSkipped.Inc(ctx, 1)
		return false
	}
	return true
}

// SkipDoneTextFn passes on the TextRows whose outcome an interrupted run
// has not written yet (see DoneSet.Done); Done is the path of the done
// file (WriteDoneFile).
type SkipDoneTextFn struct {
	Done string
	s    skipState
}

// Setup loads the done set.
func (f *SkipDoneTextFn) Setup() error { return f.s.setup(f.Done) }

// Teardown releases the done set.
func (f *SkipDoneTextFn) Teardown() { f.s.teardown() }

// ProcessElement emits the row unless it is done.
func (f *SkipDoneTextFn) ProcessElement(ctx context.Context, r TextRow, emit func(TextRow)) {
	if f.s.keep(ctx, r.ID, r.Err != "", r.File, r.Row) {
		emit(r)
	}
}

// SkipDoneTokensFn is SkipDoneTextFn for TokenRows.
type SkipDoneTokensFn struct {
	Done string
	s    skipState
}

// Setup loads the done set.
func (f *SkipDoneTokensFn) Setup() error { return f.s.setup(f.Done) }

// Teardown releases the done set.
func (f *SkipDoneTokensFn) Teardown() { f.s.teardown() }

// ProcessElement emits the row unless it is done.
func (f *SkipDoneTokensFn) ProcessElement(ctx context.Context, r TokenRow, emit func(TokenRow)) {
	if f.s.keep(ctx, r.ID, r.Err != "", r.File, r.Row) {
		emit(r)
	}
}

// SkipDoneRequestsFn is SkipDoneTextFn for RequestRows.
type SkipDoneRequestsFn struct {
	Done string
	s    skipState
}

// Setup loads the done set.
func (f *SkipDoneRequestsFn) Setup() error { return f.s.setup(f.Done) }

// Teardown releases the done set.
func (f *SkipDoneRequestsFn) Teardown() { f.s.teardown() }

// ProcessElement emits the row unless it is done.
func (f *SkipDoneRequestsFn) ProcessElement(ctx context.Context, r RequestRow, emit func(RequestRow)) {
	if f.s.keep(ctx, r.ID, r.Err != "" || r.IDNull, r.File, r.Row) {
		emit(r)
	}
}

// SkipDone drops the rows (TextRows, TokenRows or RequestRows) of rows
// whose outcome an interrupted run already wrote, as listed by the done
// file at path (see WriteDoneFile). It is a plain ParDo, fused with the
// read before it and the work after it: no shuffle and no side input.
func SkipDone(s beam.Scope, rows beam.PCollection, path string) beam.PCollection {
	s = s.Scope("SkipDone")
	switch t := rows.Type().Type(); t {
	case reflect.TypeFor[TextRow]():
		return beam.ParDo(s, &SkipDoneTextFn{Done: path}, rows)
	case reflect.TypeFor[TokenRow]():
		return beam.ParDo(s, &SkipDoneTokensFn{Done: path}, rows)
	case reflect.TypeFor[RequestRow]():
		return beam.ParDo(s, &SkipDoneRequestsFn{Done: path}, rows)
	default:
		panic(fmt.Sprintf("transforms.SkipDone: rows of %v", t))
	}
}
