package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/blob/blobtest"
)

// roots returns a local folder and a gs:// folder on a fresh emulator.
func roots(t *testing.T) (*blobtest.Emulator, map[string]string) {
	t.Helper()
	emu := blobtest.Start(t, "bkt")
	return emu, map[string]string{"local": t.TempDir(), "gcs": "gs://bkt/dir"}
}

func put(t *testing.T, p string, data []byte) {
	t.Helper()
	if !blob.IsGCS(p) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := blob.WriteFile(context.Background(), p, data); err != nil {
		t.Fatal(err)
	}
}

func TestReadAt(t *testing.T) {
	ctx := context.Background()
	_, roots := roots(t)
	data := make([]byte, 2*blob.ReadAhead+12345)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	size := int64(len(data))
	cases := []struct {
		name string
		off  int64
		n    int
	}{
		{"start", 0, 4},
		{"empty", 10, 0},
		{"middle", 1000, 5000},
		{"across blocks", blob.ReadAhead - 10, 20},
		{"large", 100, 3 * blob.ReadAhead / 2},
		{"tail", size - 8, 8},
		{"past EOF", size - 5, 100},
		{"at EOF", size, 10},
		{"beyond EOF", size + 10, 10},
		{"again start", 2, 2},
	}
	for scheme, root := range roots {
		p := blob.Join(root, "data.bin")
		put(t, p, data)
		f, err := blob.Open(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if f.Size() != size {
			t.Errorf("%s: Size = %d, want %d", scheme, f.Size(), size)
		}
		for _, tc := range cases {
			buf := make([]byte, tc.n)
			n, err := f.ReadAt(buf, tc.off)
			wantN := int(max(0, min(int64(tc.n), size-tc.off)))
			if n != wantN || !bytes.Equal(buf[:n], data[min(tc.off, size):min(tc.off, size)+int64(wantN)]) {
				t.Errorf("%s %s: ReadAt(%d, %d) = %d bytes (%v), want %d right bytes", scheme, tc.name, tc.n, tc.off, n, err, wantN)
			}
			if wantEOF := wantN < tc.n; wantEOF != errors.Is(err, io.EOF) || (!wantEOF && err != nil) {
				t.Errorf("%s %s: err = %v, want EOF %v", scheme, tc.name, err, wantEOF)
			}
		}
		f.Close()
	}
}

func TestGlobAndList(t *testing.T) {
	ctx := context.Background()
	_, roots := roots(t)
	files := []string{"a.parquet", "b.parquet", "c.txt", "sub/d.parquet", "sub/deep/e.parquet"}
	cases := []struct {
		pattern string
		want    []string // relative; a trailing "/" marks a folder
	}{
		{"*.parquet", []string{"a.parquet", "b.parquet"}},
		{"?.txt", []string{"c.txt"}},
		{"[ab].parquet", []string{"a.parquet", "b.parquet"}},
		{"*", []string{"a.parquet", "b.parquet", "c.txt", "sub/"}},
		{"sub/*", []string{"sub/d.parquet", "sub/deep/"}},
		{"*/d.parquet", []string{"sub/d.parquet"}},
		{"sub/*/*.parquet", []string{"sub/deep/e.parquet"}},
		{"x*", nil},
		{"a.parquet", []string{"a.parquet"}},
		{"missing.parquet", nil},
	}
	rel := func(root string, infos []blob.Info) []string {
		var out []string
		for _, i := range infos {
			r := strings.TrimPrefix(strings.TrimPrefix(i.Path, root), string(filepath.Separator))
			r = strings.TrimPrefix(r, "/")
			if i.IsDir {
				r += "/"
			}
			out = append(out, r)
		}
		return out
	}
	for scheme, root := range roots {
		for _, f := range files {
			put(t, blob.Join(root, f), []byte(f))
		}
		for _, tc := range cases {
			got, err := blob.Glob(ctx, blob.Join(root, tc.pattern))
			if err != nil {
				t.Errorf("%s: Glob(%q): %v", scheme, tc.pattern, err)
				continue
			}
			if g := rel(root, got); !slices.Equal(g, tc.want) {
				t.Errorf("%s: Glob(%q) = %q, want %q", scheme, tc.pattern, g, tc.want)
			}
		}
		list, err := blob.List(ctx, root)
		if err != nil {
			t.Fatal(err)
		}
		if g, want := rel(root, list), []string{"a.parquet", "b.parquet", "c.txt", "sub/"}; !slices.Equal(g, want) {
			t.Errorf("%s: List = %q, want %q", scheme, g, want)
		}
		if list[0].Size != int64(len("a.parquet")) || list[0].Name() != "a.parquet" {
			t.Errorf("%s: List[0] = %+v", scheme, list[0])
		}
		if _, err := blob.Glob(ctx, blob.Join(root, "[")); err == nil {
			t.Errorf("%s: bad pattern: no error", scheme)
		}
	}
	if _, err := blob.Glob(ctx, "gs://b*/x"); err == nil {
		t.Error("a bucket pattern: no error")
	}
}

func TestCreateCommitAbort(t *testing.T) {
	ctx := context.Background()
	_, roots := roots(t)
	exists := func(p string) bool {
		_, err := blob.Stat(ctx, p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		return err == nil
	}
	for scheme, root := range roots {
		put(t, blob.Join(root, "keep"), nil)
		p := blob.Join(root, "out.json")
		w, err := blob.Create(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("first"))
		if exists(p) {
			t.Errorf("%s: visible before Commit", scheme)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, err := blob.ReadFile(ctx, p); string(got) != "first" || err != nil {
			t.Errorf("%s: after Commit %q, %v", scheme, got, err)
		}
		if err := w.Commit(); !errors.Is(err, fs.ErrClosed) {
			t.Errorf("%s: second Commit: %v", scheme, err)
		}
		// An aborted rewrite leaves the committed file as it was.
		w, _ = blob.Create(ctx, p)
		w.Write(bytes.Repeat([]byte("x"), 1<<20))
		if err := w.Abort(); err != nil {
			t.Errorf("%s: Abort: %v", scheme, err)
		}
		if got, _ := blob.ReadFile(ctx, p); string(got) != "first" {
			t.Errorf("%s: after Abort %q", scheme, got)
		}
		// A new file aborted never appears; a committed one replaces.
		q := blob.Join(root, "never")
		w, _ = blob.Create(ctx, q)
		w.Write([]byte("x"))
		w.Abort()
		put(t, p, []byte("second"))
		if got, _ := blob.ReadFile(ctx, p); string(got) != "second" || exists(q) {
			t.Errorf("%s: after replace %q, aborted exists %v", scheme, got, exists(q))
		}
		list, _ := blob.List(ctx, root)
		var names []string
		for _, i := range list {
			names = append(names, i.Name())
		}
		if !slices.Equal(names, []string{"keep", "out.json"}) {
			t.Errorf("%s: folder holds %q, want no temporary files", scheme, names)
		}
		if err := blob.Remove(ctx, p); err != nil || exists(p) {
			t.Errorf("%s: Remove: %v, exists %v", scheme, err, exists(p))
		}
	}
}

func TestErrorsNamePaths(t *testing.T) {
	ctx := context.Background()
	_, roots := roots(t)
	for scheme, root := range roots {
		put(t, blob.Join(root, "sub", "f"), []byte("x"))
		missing := blob.Join(root, "missing.parquet")
		dir := blob.Join(root, "sub")
		checks := []struct {
			name string
			err  error
			is   error
			path string
		}{
			{"open missing", second(blob.Open(ctx, missing)), fs.ErrNotExist, missing},
			{"stat missing", second(blob.Stat(ctx, missing)), fs.ErrNotExist, missing},
			{"remove missing", blob.Remove(ctx, missing), fs.ErrNotExist, missing},
			{"read missing", second(blob.ReadFile(ctx, missing)), fs.ErrNotExist, missing},
			{"open folder", second(blob.Open(ctx, dir)), blob.ErrIsDir, dir},
			{"read folder", third(blob.OpenReader(ctx, dir)), blob.ErrIsDir, dir},
		}
		for _, c := range checks {
			if !errors.Is(c.err, c.is) || !strings.Contains(fmt2(c.err), c.path) {
				t.Errorf("%s %s: %v, want %v naming %s", scheme, c.name, c.err, c.is, c.path)
			}
		}
		if st, err := blob.Stat(ctx, dir); err != nil || !st.IsDir {
			t.Errorf("%s: Stat(folder) = %+v, %v", scheme, st, err)
		}
	}
	nb := "gs://no-such-bucket/x.parquet"
	if _, err := blob.Open(ctx, nb); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Errorf("missing bucket: %v", err)
	}
	if _, err := blob.Create(ctx, "gs:///x"); err == nil {
		t.Error("no bucket: no error")
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }
func fmt2(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestFaults runs every operation through a front that fails, slows or
// resets requests: the storage client's retries hide them all.
func TestFaults(t *testing.T) {
	ctx := context.Background()
	emu := blobtest.Start(t, "bkt")
	emu.Faults(blobtest.Every(2, blobtest.Unavailable, blobtest.TooMany, blobtest.Reset, blobtest.Slow))
	data := bytes.Repeat([]byte("0123456789abcdef"), 700_000) // 11 MB: two upload chunks
	for i := range 3 {
		put(t, blob.Join("gs://bkt/f", string(rune('a'+i))), data)
	}
	infos, err := blob.Glob(ctx, "gs://bkt/f/*")
	if err != nil || len(infos) != 3 {
		t.Fatalf("Glob: %v, %v", infos, err)
	}
	f, err := blob.Open(ctx, "gs://bkt/f/b")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, off := range []int64{0, 5 << 20, int64(len(data)) - 100} {
		buf := make([]byte, 100)
		if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+100]) {
			t.Errorf("ReadAt(%d): %v", off, err)
		}
	}
	got, err := blob.ReadFile(ctx, "gs://bkt/f/c")
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("ReadFile: %d bytes, %v", len(got), err)
	}
	if err := blob.Remove(ctx, "gs://bkt/f/a"); err != nil {
		t.Error(err)
	}
	inj := emu.Injected()
	t.Logf("%d requests, faults injected: %v", len(emu.Requests()), inj)
	if n := emu.Count(func(r blobtest.Request) bool {
		return r.Upload() && r.Fault != blobtest.None && r.Fault != blobtest.Slow
	}); n == 0 {
		t.Error("no upload request failed")
	}
	for _, f := range []blobtest.Fault{blobtest.Unavailable, blobtest.TooMany, blobtest.Reset, blobtest.Slow} {
		if inj[f] == 0 {
			t.Errorf("no %v fault injected", f)
		}
	}
}

// TestLocalize: a gs:// object is copied once into the cache folder (a
// second call makes no download); a local path is returned as it is.
func TestLocalize(t *testing.T) {
	ctx := context.Background()
	emu := blobtest.Start(t, "models")
	data := bytes.Repeat([]byte("weights "), 40_000)
	put(t, "gs://models/tiny/model.gguf", data)
	cache := t.TempDir()
	local, err := blob.Localize(ctx, "gs://models/tiny/model.gguf", cache)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(local); !bytes.Equal(got, data) || filepath.Dir(local) != cache || !strings.HasSuffix(local, "-model.gguf") {
		t.Fatalf("localized to %s (%d bytes)", local, len(got))
	}
	media := func() int { return emu.Count(func(r blobtest.Request) bool { return r.Media() }) }
	before := media()
	again, err := blob.Localize(ctx, "gs://models/tiny/model.gguf", cache)
	if err != nil || again != local || media() != before {
		t.Errorf("second call: %s, %v, %d downloads", again, err, media()-before)
	}
	if entries, _ := os.ReadDir(cache); len(entries) != 1 {
		t.Errorf("cache holds %d entries, want the one copy", len(entries))
	}
	if p, err := blob.Localize(ctx, "/some/local/file", cache); p != "/some/local/file" || err != nil {
		t.Errorf("local path: %s, %v", p, err)
	}
	for _, bad := range []string{"gs://models/none.gguf", "gs://models/tiny"} {
		if _, err := blob.Localize(ctx, bad, cache); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("Localize(%s): %v", bad, err)
		}
	}
}
