package parquetio

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/blob/blobtest"
)

// TestGCSRangedReads reads a Parquet file on the emulator: the footer costs
// one ranged request, and reading id and text fetches their pages only, in a
// few requests, never the large column beside them.
func TestGCSRangedReads(t *testing.T) {
	ctx := context.Background()
	emu := blobtest.Start(t, "bkt")
	r := rand.New(rand.NewPCG(3, 4))
	rows := make([]extraRow, 2000)
	for i := range rows {
		b := make([]byte, 4096) // incompressible: 8 MB in all
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		rows[i] = extraRow{Before: float64(i), ID: fmt.Sprint("id", i), Blob: b, Text: fmt.Sprint("text ", i), After: []int64{int64(i)}}
	}
	local := writeFixture(t, t.TempDir(), "extra.parquet", rows, parquet.MaxRowsPerRowGroup(1000))
	data, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	gs := "gs://bkt/in/extra.parquet"
	if err := blob.WriteFile(ctx, gs, data); err != nil {
		t.Fatal(err)
	}

	emu.Reset()
	before := blob.ReadCounters()
	info, err := Inspect(gs, Columns{})
	if err != nil || info.NumRows != int64(len(rows)) {
		t.Fatalf("Inspect: %+v, %v", info, err)
	}
	media := func(r blobtest.Request) bool { return r.Media() }
	if n, all := emu.Count(media), len(emu.Requests()); n > 2 || all > 3 {
		t.Errorf("Inspect made %d ranged reads and %d requests in all, want 2 and 3 (metadata, head, tail)", n, all)
	}

	emu.Reset()
	got := readAllRows(t, gs, Columns{})
	want := readAllRows(t, local, Columns{})
	for i := range got {
		got[i].File, want[i].File = "", ""
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatal("rows read from gs:// differ from the local file's")
	}
	reads := emu.Count(media)
	c := blob.ReadCounters()
	fetched := c.RangeBytes - before.RangeBytes
	t.Logf("file %d bytes; Inspect+ReadRows: %d ranged reads of %d bytes in all (%d requests)", len(data), c.RangeRequests-before.RangeRequests, fetched, len(emu.Requests()))
	// Head and tail, then id and text of two row groups: a handful of reads.
	if reads > 6 {
		t.Errorf("ReadRows made %d ranged reads, want at most 6", reads)
	}
	if fetched > int64(len(data))/8 {
		t.Errorf("fetched %d of the file's %d bytes: the blob column was read", fetched, len(data))
	}
	for _, q := range emu.Requests() {
		if q.Media() && q.Range == "" {
			t.Errorf("a read without a range: %+v", q)
		}
	}
}

// TestGCSInputErrors checks that the job-level input checks read the same
// for gs:// paths.
func TestGCSInputErrors(t *testing.T) {
	ctx := context.Background()
	blobtest.Start(t, "bkt")
	good := writeFixture(t, t.TempDir(), "good.parquet", manyRows(10))
	data, _ := os.ReadFile(good)
	for name, body := range map[string][]byte{"in/a.parquet": data, "in/b.parquet": data, "in/sub/c.parquet": data, "bad/x.parquet": []byte("not parquet at all")} {
		if err := blob.WriteFile(ctx, "gs://bkt/"+name, body); err != nil {
			t.Fatal(err)
		}
	}
	files, err := Expand([]string{"gs://bkt/in/*.parquet", "gs://bkt/in/a.parquet"})
	if err != nil || !reflect.DeepEqual(files, []string{"gs://bkt/in/a.parquet", "gs://bkt/in/b.parquet"}) {
		t.Errorf("Expand = %q, %v", files, err)
	}
	cases := []struct {
		name string
		err  func() error
		want string
	}{
		{"no match", func() error { _, err := Expand([]string{"gs://bkt/in/*.csv"}); return err }, `input "gs://bkt/in/*.csv": no files match`},
		{"missing", func() error { _, err := Expand([]string{"gs://bkt/in/x.parquet"}); return err }, `input "gs://bkt/in/x.parquet": no such file`},
		{"folder", func() error { _, err := Expand([]string{"gs://bkt/in"}); return err }, `input "gs://bkt/in": is a directory, want a Parquet file (use a glob such as "gs://bkt/in/*.parquet")`},
		{"glob folder", func() error { _, err := Expand([]string{"gs://bkt/in/*"}); return err }, `input "gs://bkt/in/*": matches directory "gs://bkt/in/sub"`},
		{"missing bucket", func() error { _, err := Expand([]string{"gs://nope/x.parquet"}); return err }, `input "gs://nope/x.parquet": no such file`},
		{"not parquet", func() error { _, err := Inspect("gs://bkt/bad/x.parquet", Columns{}); return err }, `input "gs://bkt/bad/x.parquet": not a Parquet file`},
		{"wrong column", func() error { _, err := Inspect("gs://bkt/in/a.parquet", Columns{Text: "body"}); return err }, `input "gs://bkt/in/a.parquet"`},
		{"open folder", func() error { _, err := Inspect("gs://bkt/in", Columns{}); return err }, `input "gs://bkt/in": is a directory`},
	}
	for _, tc := range cases {
		err := tc.err()
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q...", tc.name, err, tc.want)
		}
	}
}
