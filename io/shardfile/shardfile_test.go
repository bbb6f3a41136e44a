package shardfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dirNames lists dir's entries, sorted.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	d, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func TestFile(t *testing.T) {
	errFlush := errors.New("flush failed")
	cases := []struct {
		name string
		// setup prepares dir before Create.
		setup func(t *testing.T, dir string)
		// finish ends the file; it returns Commit's or Abort's error.
		finish func(f *File) error
		// wantErr says Commit fails; wantIs, if set, is an error it wraps.
		wantErr bool
		wantIs  error
		// want is the folder's content afterwards (setup's included).
		want []string
		// wantData is the content of the final file, when want has it.
		wantData string
	}{
		{
			name:     "commit",
			finish:   func(f *File) error { _, err := f.Commit(nil); return err },
			want:     []string{"results-0.jsonl"},
			wantData: "hello\n",
		},
		{
			name: "commit flushes",
			finish: func(f *File) error {
				_, err := f.Commit(func() error { _, err := f.Writer().Write([]byte("footer\n")); return err })
				return err
			},
			want:     []string{"results-0.jsonl"},
			wantData: "hello\nfooter\n",
		},
		{
			name: "commit replaces",
			setup: func(t *testing.T, dir string) {
				if err := os.WriteFile(filepath.Join(dir, "results-0.jsonl"), []byte("old\n"), 0o600); err != nil {
					t.Fatal(err)
				}
			},
			finish:   func(f *File) error { _, err := f.Commit(nil); return err },
			want:     []string{"results-0.jsonl"},
			wantData: "hello\n",
		},
		{
			name:    "flush error",
			finish:  func(f *File) error { _, err := f.Commit(func() error { return errFlush }); return err },
			wantErr: true,
			wantIs:  errFlush,
		},
		{
			name: "rename error",
			setup: func(t *testing.T, dir string) {
				// A non-empty folder in the way of the final name.
				if err := os.MkdirAll(filepath.Join(dir, "results-0.jsonl", "x"), 0o755); err != nil {
					t.Fatal(err)
				}
			},
			finish:  func(f *File) error { _, err := f.Commit(nil); return err },
			wantErr: true,
			want:    []string{"results-0.jsonl"},
		},
		{
			name:   "abort",
			finish: func(f *File) error { return f.Abort() },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			f, err := Create(dir, "results", "0", ".jsonl")
			if err != nil {
				t.Fatal(err)
			}
			final := filepath.Join(dir, "results-0.jsonl")
			if f.Path() != final {
				t.Errorf("Path = %q, want %q", f.Path(), final)
			}
			if _, err := f.Writer().Write([]byte("hello\n")); err != nil {
				t.Fatal(err)
			}
			tmpRE := regexp.MustCompile(`^\.results-0\.jsonl\..+\.tmp$`)
			tmps := slices.DeleteFunc(dirNames(t, dir), func(n string) bool { return !tmpRE.MatchString(n) })
			if len(tmps) != 1 {
				t.Fatalf("before the end: temporary files %q, want one", tmps)
			}
			if st, err := os.Stat(filepath.Join(dir, tmps[0])); err != nil || st.Mode().Perm() != 0o644 {
				t.Errorf("temporary file: %v, %v; want mode 0644", st, err)
			}
			if f.Closed() {
				t.Error("Closed before the end")
			}

			err = tc.finish(f)
			switch {
			case !tc.wantErr && err != nil:
				t.Fatalf("error %v", err)
			case tc.wantErr && err == nil:
				t.Fatal("no error")
			case tc.wantIs != nil && !errors.Is(err, tc.wantIs):
				t.Errorf("error %v, want it to wrap %v", err, tc.wantIs)
			case tc.wantErr && !strings.HasPrefix(err.Error(), `commit shard "`+final+`": `):
				t.Errorf("error %q, want it to start with commit shard %q", err, final)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.want) {
				t.Errorf("afterwards the folder holds %q, want %q", got, tc.want)
			}
			if tc.wantData != "" {
				if data, err := os.ReadFile(final); err != nil || string(data) != tc.wantData {
					t.Errorf("final file %q, %v; want %q", data, err, tc.wantData)
				} else if st, _ := os.Stat(final); st.Mode().Perm() != 0o644 {
					t.Errorf("final file mode %v, want 0644", st.Mode().Perm())
				}
			}

			// Whatever happened, the file is closed now.
			if !f.Closed() {
				t.Error("not Closed after the end")
			}
			if _, err := f.Commit(nil); !errors.Is(err, ErrClosed) {
				t.Errorf("second Commit: %v, want ErrClosed", err)
			}
			if err := f.Abort(); err != nil {
				t.Errorf("Abort after the end: %v", err)
			}
			if got := dirNames(t, dir); !slices.Equal(got, tc.want) {
				t.Errorf("after a second Commit and Abort the folder holds %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, dir, prefix, shard string
		wantErr                  string // with %s for dir
	}{
		{"empty prefix", dir, "", "0", `invalid shard prefix ""`},
		{"empty name", dir, "results", "", `invalid shard name ""`},
		{"dot prefix", dir, ".", "0", `invalid shard prefix "."`},
		{"dotdot name", dir, "results", "..", `invalid shard name ".."`},
		{"slash", dir, "a/b", "0", `invalid shard prefix "a/b"`},
		{"backslash", dir, "results", `x\y`, `invalid shard name "x\\y"`},
		{"NUL", dir, "results", "a\x00", `invalid shard name "a\x00"`},
		{"missing folder", filepath.Join(dir, "missing"), "results", "0", `create shard "%s/missing/results-0.jsonl": no such file or directory`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Create(tc.dir, tc.prefix, tc.shard, ".jsonl")
			if err == nil {
				f.Abort()
				t.Fatal("Create succeeded")
			}
			want := tc.wantErr
			if strings.Contains(want, "%") {
				want = fmt.Sprintf(want, dir)
			}
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
		})
	}
	if got := dirNames(t, dir); len(got) != 0 {
		t.Errorf("the folder holds %q", got)
	}
}
