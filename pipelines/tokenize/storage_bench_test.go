package tokenize

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/minerva-batch/minerva/io/blob"
	"github.com/minerva-batch/minerva/io/blob/blobtest"
)

// BenchmarkStorage runs the tokenize job on the same Parquet corpus (the
// shared Go standard library corpus, or $CORPUS, cut into 4 KiB documents
// and repeated 4 times) read from a local file and from the in-process GCS
// emulator, writing to a local folder and a gs:// folder respectively. The
// MB/s are of corpus text.
//
//	go test ./pipelines/tokenize -run '^$' -bench Storage -benchtime 3x
func BenchmarkStorage(b *testing.B) {
	corpus := os.Getenv("CORPUS")
	if corpus == "" {
		corpus = "../../../shared/corpora/code_go_stdlib.txt"
	}
	text, err := os.ReadFile(corpus)
	if err != nil {
		b.Skipf("no corpus: %v", err)
	}
	var rows []intRow
	for rep := range 4 {
		for rest := text; len(rest) > 0; {
			n := min(len(rest), 4096)
			if i := bytes.LastIndexByte(rest[:n], '\n'); i > 0 && n == 4096 {
				n = i + 1
			}
			rows = append(rows, intRow{int64(rep*1_000_000 + len(rows)), string(rest[:n])})
			rest = rest[n:]
		}
	}
	dir := b.TempDir()
	local := filepath.Join(dir, "corpus.parquet")
	if err := parquet.WriteFile(local, rows); err != nil {
		b.Fatal(err)
	}
	emu := blobtest.Start(b, "bench")
	data, _ := os.ReadFile(local)
	if err := blob.WriteFile(context.Background(), "gs://bench/corpus.parquet", data); err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, in, out string }{
		{"local", local, filepath.Join(dir, "out")},
		{"gcs-emulator", "gs://bench/corpus.parquet", "gs://bench/out"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)) * 4)
			emu.Reset()
			before := blob.ReadCounters()
			for i := range b.N {
				rep, err := Run(context.Background(), Config{Inputs: []string{tc.in}, Output: fmt.Sprint(tc.out, i),
					Encoding: "cl100k_base", Runner: runner(), Overwrite: true})
				if err != nil || rep.Results != int64(len(rows)) {
					b.Fatalf("%v (%+v)", err, rep)
				}
			}
			c := blob.ReadCounters()
			b.ReportMetric(float64(c.RangeRequests-before.RangeRequests)/float64(b.N), "ranged-reads/op")
			b.ReportMetric(float64(len(emu.Requests()))/float64(b.N), "gcs-requests/op")
		})
	}
}
