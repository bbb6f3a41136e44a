package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"github.com/googleapis/gax-go/v2"
	"google.golang.org/api/iterator"
)

// ReadAhead is the largest range a [File] on GCS fetches for a read smaller
// than it. A read that misses the File's small cache of blocks fetches at
// least [MinRead] bytes (ending at the end of the object when the read is
// near it, so that a Parquet trailer read brings the footer along); a read
// that continues a cached block (a column chunk read page by page, in 128
// KiB pieces by the Parquet reader) fetches twice that block's size, up to
// ReadAhead. So small random reads stay small and sequential ones soon cost
// one request per MiB.
const ReadAhead = 1 << 20

// MinRead is the smallest range a [File] on GCS fetches.
const MinRead = 64 << 10

// cacheBlocks is how many blocks a GCS File keeps (one per column being read
// at once, roughly).
const cacheBlocks = 8

// uploadChunkSize is the storage.Writer chunk size: an upload is sent (and
// retried) in pieces of this size, each buffered in memory.
const uploadChunkSize = 8 << 20

// maxAttempts bounds the attempts of one GCS operation.
const maxAttempts = 10

var (
	clientMu   sync.Mutex
	client     *storage.Client
	clientHost string // the STORAGE_EMULATOR_HOST the client was made for

	backoff atomic.Pointer[gax.Backoff]

	rangeRequests atomic.Int64
	rangeBytes    atomic.Int64
	retries       atomic.Int64
)

// SetBackoff sets the pauses between retries of GCS operations: the first
// is at most initial, each next one up to twice as long, up to max (with
// full jitter). The default is the storage library's (1 s up to 30 s). It
// returns a function restoring the previous setting (for tests).
func SetBackoff(initial, max time.Duration) (restore func()) {
	old := backoff.Swap(&gax.Backoff{Initial: initial, Max: max, Multiplier: 2})
	return func() { backoff.Store(old) }
}

// Counters are the GCS ranged reads made by [File]s of this process, and
// the GCS requests it retried (after a 429, a 5xx, a reset or a timeout).
type Counters struct {
	RangeRequests int64
	RangeBytes    int64
	Retries       int64
}

// ReadCounters returns the counters so far.
func ReadCounters() Counters {
	return Counters{RangeRequests: rangeRequests.Load(), RangeBytes: rangeBytes.Load(), Retries: retries.Load()}
}

// countRetry is the storage library's retry decision, counted.
func countRetry(err error) bool {
	retry := storage.ShouldRetry(err)
	if retry {
		retries.Add(1)
	}
	return retry
}

// gcsClient returns the process's storage client, making it on first use. A
// change of STORAGE_EMULATOR_HOST (tests starting another emulator) makes a
// new one.
func gcsClient() (*storage.Client, error) {
	host := os.Getenv("STORAGE_EMULATOR_HOST")
	clientMu.Lock()
	defer clientMu.Unlock()
	if client != nil && clientHost == host {
		return client, nil
	}
	// With STORAGE_EMULATOR_HOST set the library itself drops authentication
	// and sends every request to the emulator.
	c, err := storage.NewClient(context.Background(), storage.WithJSONReads())
	if err != nil {
		return nil, fmt.Errorf("cloud storage client: %w", err)
	}
	client, clientHost = c, host
	return c, nil
}

// splitGCS splits "gs://bucket/name" into bucket and name.
func splitGCS(p string) (bucket, name string) {
	rest := strings.TrimPrefix(p, Scheme)
	bucket, name, _ = strings.Cut(rest, "/")
	return bucket, name
}

// gcsPath is the inverse of splitGCS.
func gcsPath(bucket, name string) string { return Scheme + bucket + "/" + name }

// bucketOf returns the bucket handle for p, with the retry policy, and the
// object name.
func bucketOf(op, p string) (*storage.BucketHandle, string, error) {
	bucket, name := splitGCS(p)
	if bucket == "" || strings.ContainsAny(bucket, `*?[\`) {
		return nil, "", &fs.PathError{Op: op, Path: p, Err: errors.New("not a gs://bucket/name path")}
	}
	c, err := gcsClient()
	if err != nil {
		return nil, "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	opts := []storage.RetryOption{storage.WithPolicy(storage.RetryAlways), storage.WithMaxAttempts(maxAttempts), storage.WithErrorFunc(countRetry)}
	if b := backoff.Load(); b != nil {
		opts = append(opts, storage.WithBackoff(*b))
	}
	return c.Bucket(bucket).Retryer(opts...), name, nil
}

// gcsError wraps err from a storage call on p, mapping "no such object or
// bucket" to fs.ErrNotExist.
func gcsError(op, p string, err error) error {
	switch {
	case errors.Is(err, storage.ErrObjectNotExist):
		err = fs.ErrNotExist
	case errors.Is(err, storage.ErrBucketNotExist):
		bucket, _ := splitGCS(p)
		err = fmt.Errorf("bucket %q: %w", bucket, fs.ErrNotExist)
	}
	return &fs.PathError{Op: op, Path: p, Err: err}
}

// hasPrefix reports whether some object's name starts with prefix.
func hasPrefix(ctx context.Context, b *storage.BucketHandle, prefix string) (bool, error) {
	q := &storage.Query{Prefix: prefix}
	if err := q.SetAttrSelection([]string{"Name"}); err != nil {
		return false, err
	}
	it := b.Objects(ctx, q)
	it.PageInfo().MaxSize = 1
	_, err := it.Next()
	if errors.Is(err, iterator.Done) {
		return false, nil
	}
	return err == nil, err
}

// missing is the error for a name that is no object: a folder if objects
// lie under it, else not found.
func missing(ctx context.Context, op, p string, b *storage.BucketHandle, name string, err error) error {
	if !errors.Is(err, storage.ErrObjectNotExist) {
		return gcsError(op, p, err)
	}
	dir, perr := hasPrefix(ctx, b, strings.TrimSuffix(name, "/")+"/")
	switch {
	case perr != nil:
		return gcsError(op, p, perr)
	case dir:
		return &fs.PathError{Op: op, Path: p, Err: ErrIsDir}
	}
	return gcsError(op, p, err)
}

type gcsFile struct {
	ctx  context.Context
	path string
	obj  *storage.ObjectHandle
	size int64

	mu     sync.Mutex
	blocks []block // most recently used first
	closed bool
}

type block struct {
	off  int64
	data []byte
}

func gcsOpen(ctx context.Context, p string) (File, error) {
	b, name, err := bucketOf("open", p)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		return nil, &fs.PathError{Op: "open", Path: p, Err: ErrIsDir}
	}
	obj := b.Object(name)
	attrs, err := obj.Attrs(ctx)
	if err != nil {
		return nil, missing(ctx, "open", p, b, name, err)
	}
	// Ranges of a gzip-encoded object would be served decompressed and
	// whole (decompressive transcoding), not matching Size.
	if attrs.ContentEncoding == "gzip" {
		return nil, &fs.PathError{Op: "open", Path: p, Err: errors.New("stored with Content-Encoding gzip: random access needs the object stored as is")}
	}
	// Pin the generation, so that an object replaced while it is read is
	// an error rather than a mix of two files.
	obj = obj.Generation(attrs.Generation)
	return &gcsFile{ctx: ctx, path: p, obj: obj, size: attrs.Size}, nil
}

func (f *gcsFile) Size() int64 { return f.size }

func (f *gcsFile) Close() error {
	f.mu.Lock()
	f.blocks, f.closed = nil, true
	f.mu.Unlock()
	return nil
}

// ReadAt reads from the cached blocks or, on a miss, with one ranged request
// (see [ReadAhead]).
func (f *gcsFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: f.path, Err: errors.New("negative offset")}
	}
	if off >= f.size {
		return 0, io.EOF
	}
	want := int(min(int64(len(p)), f.size-off))
	var eof error
	if want < len(p) {
		eof = io.EOF
	}
	if want == 0 {
		return 0, eof
	}
	if f.cached(p[:want], off) {
		return want, eof
	}
	if want >= ReadAhead {
		if err := f.fetch(p[:want], off); err != nil {
			return 0, err
		}
		return want, eof
	}
	size, seq := f.nextSize(off)
	size = max(size, int64(want))
	end := min(off+size, f.size)
	start := max(0, min(off, end-size))
	data := make([]byte, end-start)
	if err := f.fetch(data, start); err != nil {
		return 0, err
	}
	copy(p[:want], data[off-start:])
	f.mu.Lock()
	if !f.closed {
		if seq >= 0 && seq < len(f.blocks) && f.blocks[seq].off <= off {
			// The stream moved on: its old block goes.
			f.blocks = slices.Delete(f.blocks, seq, seq+1)
		}
		if len(f.blocks) == cacheBlocks {
			f.blocks = f.blocks[:cacheBlocks-1]
		}
		f.blocks = slices.Insert(f.blocks, 0, block{off: start, data: data})
	}
	f.mu.Unlock()
	return want, eof
}

// nextSize returns how much to fetch for a read at off that missed the
// cache, and the index of the block it continues (-1 if none).
func (f *gcsFile) nextSize(off int64) (int64, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range f.blocks {
		if b.off <= off && off <= b.off+int64(len(b.data)) {
			return min(2*int64(len(b.data)), ReadAhead), i
		}
	}
	return MinRead, -1
}

// cached copies [off, off+len(p)) from a cached block if one holds it all.
func (f *gcsFile) cached(p []byte, off int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, b := range f.blocks {
		if off >= b.off && off+int64(len(p)) <= b.off+int64(len(b.data)) {
			copy(p, b.data[off-b.off:])
			if i > 0 {
				copy(f.blocks[1:i+1], f.blocks[:i])
				f.blocks[0] = b
			}
			return true
		}
	}
	return false
}

// fetch reads exactly len(p) bytes at off with one ranged request (which the
// storage library retries, resuming where a broken stream stopped).
func (f *gcsFile) fetch(p []byte, off int64) error {
	rangeRequests.Add(1)
	rangeBytes.Add(int64(len(p)))
	r, err := f.obj.NewRangeReader(f.ctx, off, int64(len(p)))
	if err != nil {
		return gcsError("read", f.path, err)
	}
	defer r.Close()
	if _, err := io.ReadFull(r, p); err != nil {
		return gcsError("read", f.path, err)
	}
	return nil
}

func gcsOpenReader(ctx context.Context, p string) (io.ReadCloser, int64, error) {
	b, name, err := bucketOf("open", p)
	if err != nil {
		return nil, 0, err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		return nil, 0, &fs.PathError{Op: "open", Path: p, Err: ErrIsDir}
	}
	r, err := b.Object(name).NewReader(ctx)
	if err != nil {
		return nil, 0, missing(ctx, "open", p, b, name, err)
	}
	return &gcsReader{r: r, path: p}, r.Attrs.Size, nil
}

type gcsReader struct {
	r    *storage.Reader
	path string
}

func (r *gcsReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = gcsError("read", r.path, err)
	}
	return n, err
}

func (r *gcsReader) Close() error { return r.r.Close() }

func gcsStat(ctx context.Context, p string) (Info, error) {
	b, name, err := bucketOf("stat", p)
	if err != nil {
		return Info{}, err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		// A bucket, or a name written as a folder: it is one if the
		// bucket can be listed (and, for a name, objects lie under it).
		ok, err := hasPrefix(ctx, b, name)
		switch {
		case err != nil:
			return Info{}, gcsError("stat", p, err)
		case !ok && name != "":
			return Info{}, gcsError("stat", p, storage.ErrObjectNotExist)
		}
		return Info{Path: p, IsDir: true}, nil
	}
	attrs, err := b.Object(name).Attrs(ctx)
	if err == nil {
		return Info{Path: p, Size: attrs.Size}, nil
	}
	err = missing(ctx, "stat", p, b, name, err)
	if errors.Is(err, ErrIsDir) {
		return Info{Path: p, IsDir: true}, nil
	}
	return Info{}, err
}

// gcsList lists the objects and prefixes right under dir.
func gcsList(ctx context.Context, dir string) ([]Info, error) {
	b, name, err := bucketOf("list", dir)
	if err != nil {
		return nil, err
	}
	prefix := name
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	bucket, _ := splitGCS(dir)
	var out []Info
	err = eachObject(ctx, b, prefix, true, func(o *storage.ObjectAttrs) {
		switch {
		case o.Prefix != "":
			out = append(out, Info{Path: gcsPath(bucket, strings.TrimSuffix(o.Prefix, "/")), IsDir: true})
		case o.Name != prefix: // not a folder placeholder object
			out = append(out, Info{Path: gcsPath(bucket, o.Name), Size: o.Size})
		}
	})
	if err != nil {
		return nil, gcsError("list", dir, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// eachObject lists objects by prefix, only those right under it (and the
// sub-prefixes) when shallow.
func eachObject(ctx context.Context, b *storage.BucketHandle, prefix string, shallow bool, fn func(*storage.ObjectAttrs)) error {
	q := &storage.Query{Prefix: prefix}
	if shallow {
		q.Delimiter = "/"
	}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return err
	}
	it := b.Objects(ctx, q)
	for {
		o, err := it.Next()
		if errors.Is(err, iterator.Done) {
			return nil
		}
		if err != nil {
			return err
		}
		fn(o)
	}
}

// gcsGlob lists by the pattern's literal prefix and matches the names with
// path.Match. Folders (prefixes) that match are returned too.
func gcsGlob(ctx context.Context, pattern string) ([]Info, error) {
	b, name, err := bucketOf("glob", pattern)
	if err != nil {
		return nil, err
	}
	if _, err := path.Match(name, ""); err != nil {
		return nil, &fs.PathError{Op: "glob", Path: pattern, Err: err}
	}
	if !HasMeta(name) {
		info, err := gcsStat(ctx, pattern)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return []Info{info}, nil
	}
	bucket, _ := splitGCS(pattern)
	meta := strings.IndexAny(name, `*?[`)
	prefix := name[:meta]
	shallow := !strings.Contains(name[meta:], "/")
	found := map[string]Info{}
	err = eachObject(ctx, b, prefix, shallow, func(o *storage.ObjectAttrs) {
		if o.Prefix != "" {
			if d := strings.TrimSuffix(o.Prefix, "/"); Match(name, d) {
				found[d] = Info{Path: gcsPath(bucket, d), IsDir: true}
			}
			return
		}
		if Match(name, o.Name) {
			found[o.Name] = Info{Path: gcsPath(bucket, o.Name), Size: o.Size}
		}
		// Folders on the way to the object may match too.
		for i := len(prefix); i < len(o.Name); i++ {
			if o.Name[i] == '/' && Match(name, o.Name[:i]) {
				found[o.Name[:i]] = Info{Path: gcsPath(bucket, o.Name[:i]), IsDir: true}
			}
		}
	})
	if err != nil {
		return nil, gcsError("glob", pattern, err)
	}
	out := make([]Info, 0, len(found))
	for _, i := range found {
		out = append(out, i)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

type gcsWriter struct {
	path   string
	w      *storage.Writer
	cancel context.CancelFunc
	done   bool
}

func gcsCreate(ctx context.Context, p string) (Writer, error) {
	b, name, err := bucketOf("create", p)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.HasSuffix(name, "/") {
		return nil, &fs.PathError{Op: "create", Path: p, Err: errors.New("not an object name")}
	}
	cctx, cancel := context.WithCancel(ctx)
	w := b.Object(name).NewWriter(cctx)
	w.ChunkSize = uploadChunkSize
	w.ContentType = contentType(name)
	return &gcsWriter{path: p, w: w, cancel: cancel}, nil
}

func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".parquet":
		return "application/vnd.apache.parquet"
	case ".jsonl":
		return "application/jsonl"
	case ".json":
		return "application/json"
	}
	return "application/octet-stream"
}

func (w *gcsWriter) Path() string { return w.path }

func (w *gcsWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, &fs.PathError{Op: "write", Path: w.path, Err: fs.ErrClosed}
	}
	n, err := w.w.Write(p)
	if err != nil {
		err = gcsError("write", w.path, err)
	}
	return n, err
}

// Commit closes the storage.Writer: the object becomes visible only if the
// upload completes.
func (w *gcsWriter) Commit() error {
	if w.done {
		return &fs.PathError{Op: "commit", Path: w.path, Err: fs.ErrClosed}
	}
	w.done = true
	defer w.cancel()
	if err := w.w.Close(); err != nil {
		return gcsError("commit", w.path, err)
	}
	return nil
}

// Abort cancels the upload's context before closing the writer, so the
// object is never finalized.
func (w *gcsWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.cancel()
	w.w.Close() // fails with the cancellation: nothing was written
	return nil
}

func gcsRemove(ctx context.Context, p string) error {
	b, name, err := bucketOf("remove", p)
	if err != nil {
		return err
	}
	if name == "" {
		return &fs.PathError{Op: "remove", Path: p, Err: ErrIsDir}
	}
	if err := b.Object(name).Delete(ctx); err != nil {
		return gcsError("remove", p, err)
	}
	return nil
}

func gcsMkdirAll(ctx context.Context, dir string) error {
	b, _, err := bucketOf("mkdir", dir)
	if err != nil {
		return err
	}
	if _, err := hasPrefix(ctx, b, ""); err != nil {
		return gcsError("mkdir", dir, err)
	}
	return nil
}
