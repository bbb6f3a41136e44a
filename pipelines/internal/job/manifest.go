package job

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/transforms"
)

// SuccessFile is the manifest a job writes to its output folder, last, when
// it completes: a folder without it holds an incomplete run.
const SuccessFile = "_SUCCESS"

// Manifest is the content of _SUCCESS (JSON).
type Manifest struct {
	// Job is "tokenize", "detokenize" or "infer".
	Job    string   `json:"job"`
	Inputs []string `json:"inputs"`
	// Format is the inference job's format (parquet or jsonl).
	Format string `json:"format,omitempty"`
	// InputRows = Results + Errors.
	InputRows int64 `json:"input_rows"`
	Results   int64 `json:"results"`
	Errors    int64 `json:"errors"`
	// ResultShards and ErrorShards list the shards with their rows.
	ResultShards []ShardInfo `json:"result_shards"`
	ErrorShards  []ShardInfo `json:"error_shards"`
	// Resumed is set when the run finished an interrupted one (--resume);
	// SkippedRows are the rows the interrupted run had written, which this
	// run skipped. Stats then cover only the rows this run processed.
	Resumed     bool  `json:"resumed,omitempty"`
	SkippedRows int64 `json:"skipped_rows,omitempty"`
	// Stats are those of stats.json.
	Stats    batch.Stats `json:"stats"`
	Finished time.Time   `json:"finished"`
}

// Complete writes m (its Finished set to now) as dir/_SUCCESS, whole (see
// blob.WriteFile), after removing the files in cleanup (a resumed run's
// done file). A job calls it last, once every shard, the empty shards and
// stats.json are written and the rows are accounted for.
func Complete(dir string, m *Manifest, cleanup ...string) error {
	ctx := context.Background()
	for _, f := range cleanup {
		if f == "" {
			continue
		}
		if err := blob.Remove(ctx, f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("output %q: %w", dir, err)
		}
	}
	m.Finished = time.Now().UTC().Truncate(time.Millisecond)
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: %w", SuccessFile, err)
	}
	if err := blob.WriteFile(ctx, blob.Join(dir, SuccessFile), append(data, '\n')); err != nil {
		return fmt.Errorf("%s: %w", SuccessFile, err)
	}
	return nil
}

// ReadManifest reads dir/_SUCCESS.
func ReadManifest(dir string) (*Manifest, error) {
	p := blob.Join(dir, SuccessFile)
	data, err := blob.ReadFile(context.Background(), p)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", dir, err)
	}
	m := &Manifest{}
	if err := json.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("output %q: %s: %w", dir, SuccessFile, err)
	}
	return m, nil
}

// WriteDoneFile reads what the committed shards of an interrupted run in
// dir hold — the ids of results-* rows, the input file and row of errors-*
// rows (see transforms.DoneSet) — and writes it as a done file in dir for
// transforms.SkipDone. It returns the file's path (unique to this run; pass
// it to Complete to remove it) and the number of rows done. jsonl selects
// OpenAI batch output shards (.jsonl) instead of Parquet ones.
func WriteDoneFile(dir string, jsonl bool) (path string, rows int64, err error) {
	d := &transforms.DoneSet{}
	ext := ".parquet"
	if jsonl {
		ext = ".jsonl"
	}
	for _, prefix := range []string{"results", "errors"} {
		shards, err := shardPaths(dir, prefix, ext)
		if err != nil {
			return "", 0, err
		}
		for _, s := range shards {
			switch {
			case jsonl:
				err = readJSONLDone(s, d)
			case prefix == "results":
				err = readParquet(s, func(r struct {
					ID string `parquet:"id"`
				}) {
					d.AddID(r.ID)
				})
			default:
				err = readParquet(s, func(r struct {
					File string `parquet:"file"`
					Row  int64  `parquet:"row"`
				}) {
					d.AddError(r.File, r.Row)
				})
			}
			if err != nil {
				return "", 0, fmt.Errorf("resume: %w", err)
			}
		}
	}
	path = blob.Join(dir, fmt.Sprintf(".resume-%d.json", time.Now().UnixNano()))
	if err := transforms.WriteDoneFile(path, d); err != nil {
		return "", 0, err
	}
	return path, d.Len(), nil
}

// readParquet reads the columns of T (a subset of the file's) of every row
// of a Parquet output shard.
func readParquet[T any](path string, fn func(T)) error {
	f, err := blob.Open(context.Background(), path)
	if err != nil {
		return err
	}
	defer f.Close()
	pf, err := parquet.OpenFile(f, f.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r := parquet.NewGenericReader[T](pf)
	defer r.Close()
	buf := make([]T, 1024)
	for {
		n, err := r.Read(buf)
		for _, v := range buf[:n] {
			fn(v)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

// readJSONLDone adds the lines of an OpenAI batch output shard to d: a
// success line by its custom_id, an error line by the input location its
// message starts with (see inputLocation), since error lines carry no file
// or line field.
func readJSONLDone(path string, d *transforms.DoneSet) error {
	r, _, err := blob.OpenReader(context.Background(), path)
	if err != nil {
		return err
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 256<<20)
	n := 0
	for sc.Scan() {
		n++
		var l struct {
			CustomID *string `json:"custom_id"`
			Error    *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return fmt.Errorf("%s line %d: %w", path, n, err)
		}
		if l.Error == nil {
			if l.CustomID == nil {
				return fmt.Errorf("%s line %d: a success line without a custom_id", path, n)
			}
			d.AddID(*l.CustomID)
			continue
		}
		file, row, ok := inputLocation(l.Error.Message)
		if !ok {
			return fmt.Errorf("%s line %d: the error message does not start with the row's input location: %q", path, n, l.Error.Message)
		}
		d.AddError(file, row)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// inputLocation parses the start of an error row's message, which names
// the row as `input "FILE" row N` or `input "FILE" line N` (the file quoted
// as Go's %q does).
func inputLocation(msg string) (file string, row int64, ok bool) {
	rest, ok := strings.CutPrefix(msg, "input ")
	if !ok {
		return "", 0, false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", 0, false
	}
	if file, err = strconv.Unquote(q); err != nil {
		return "", 0, false
	}
	rest = rest[len(q):]
	if rest, ok = strings.CutPrefix(rest, " row "); !ok {
		if rest, ok = strings.CutPrefix(rest, " line "); !ok {
			return "", 0, false
		}
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end < 0 {
		end = len(rest)
	}
	row, err = strconv.ParseInt(rest[:end], 10, 64)
	return file, row, err == nil
}
