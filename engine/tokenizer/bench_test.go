package tokenizer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/pkoukk/tiktoken-go-loader/assets"

	"github.com/minerva-batch/minerva/engine/batch"
)

// BenchmarkEncode measures single-thread encoding throughput (MB/s) on the
// shared corpora, whole file at once.
//
//	go test -run XXX -bench Encode -benchtime 3x ./engine/tokenizer
func BenchmarkEncode(b *testing.B) {
	for _, file := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt", "multilingual_udhr_emoji.txt"} {
		data, err := os.ReadFile(filepath.Join(corporaDir, file))
		if err != nil {
			b.Skipf("shared corpora not found: %v", err)
		}
		text := string(data)
		for _, enc := range []string{"cl100k_base", "o200k_base"} {
			tok := mustNew(b, enc, Options{})
			b.Run(enc+"/"+file, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					tok.EncodeOrdinary(text)
				}
			})
		}
	}
}

// BenchmarkCount measures Count beside Encode (the same inputs as
// BenchmarkEncode).
func BenchmarkCount(b *testing.B) {
	for _, file := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt"} {
		data, err := os.ReadFile(filepath.Join(corporaDir, file))
		if err != nil {
			b.Skipf("shared corpora not found: %v", err)
		}
		text := string(data)
		for _, enc := range []string{"cl100k_base", "o200k_base"} {
			tok := mustNew(b, enc, Options{})
			b.Run(enc+"/"+file, func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					if _, err := tok.Count(text); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkEncodeBatch measures EncodeBatch on all cores over 4 KiB
// documents of the corpora.
func BenchmarkEncodeBatch(b *testing.B) { benchEncodeBatch(b, 0) }

// BenchmarkEncodeBatchOneThread is BenchmarkEncodeBatch on one thread: the
// same work, to compare with the all-core figure.
func BenchmarkEncodeBatchOneThread(b *testing.B) { benchEncodeBatch(b, 1) }

func benchEncodeBatch(b *testing.B, threads int) {
	for _, file := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt"} {
		data, err := os.ReadFile(filepath.Join(corporaDir, file))
		if err != nil {
			b.Skipf("shared corpora not found: %v", err)
		}
		var items []batch.Item[string]
		for i, d := range splitDocs(string(data), 4096) {
			items = append(items, batch.Item[string]{ID: fmt.Sprint(i), Data: d})
		}
		for _, enc := range []string{"cl100k_base", "o200k_base"} {
			tok := mustNew(b, enc, Options{})
			b.Run(enc+"/"+file, func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					EncodeBatch(context.Background(), tok, items, threads)
				}
			})
		}
	}
}

// BenchmarkLongWord encodes prefixes of a megabyte with no whitespace (one
// piece): constant MB/s across sizes means time linear in the length.
func BenchmarkLongWord(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corporaDir, "adv_longword_1m.txt"))
	if err != nil {
		b.Skipf("shared corpora not found: %v", err)
	}
	for _, enc := range []string{"cl100k_base", "o200k_base"} {
		tok := mustNew(b, enc, Options{})
		tok.vocab.backtracker() // built on first use, once per process
		for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
			text := strings.ToValidUTF8(string(data[:min(size, len(data))]), "")
			b.Run(fmt.Sprintf("%s/%d", enc, size), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					tok.EncodeOrdinary(text)
				}
			})
		}
	}
}

// BenchmarkLongWordHeap is BenchmarkLongWord with the heap merge, the
// O(n log n) path used for vocabularies the backtracking encoder does not
// suit (and, before it, for every long piece).
func BenchmarkLongWordHeap(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(corporaDir, "adv_longword_1m.txt"))
	if err != nil {
		b.Skipf("shared corpora not found: %v", err)
	}
	for _, enc := range []string{"cl100k_base", "o200k_base"} {
		tok := mustNew(b, enc, Options{})
		for _, size := range []int{64 << 10, 256 << 10, 1 << 20} {
			text := strings.ToValidUTF8(string(data[:min(size, len(data))]), "")
			b.Run(fmt.Sprintf("%s/%d", enc, size), func(b *testing.B) {
				b.SetBytes(int64(len(text)))
				for b.Loop() {
					tok.mergeHeap(nil, text)
				}
			})
		}
	}
}

// BenchmarkBacktrackerBuild measures building the backtracking encoder's
// tables, which happens once per process and encoding, on the first long
// piece: with the split hints of the built-in vocabulary images, and
// without them (searching for every token's last merge, as for a
// vocabulary loaded from a file).
func BenchmarkBacktrackerBuild(b *testing.B) {
	for _, name := range []string{"cl100k_base", "o200k_base"} {
		v := mustNew(b, name, Options{}).vocab
		plain := &vocabTable{arena: v.arena, offs: v.offs, ranks: v.ranks, slots: v.slots, mask: v.mask, seed: v.seed, bits: v.bits}
		for _, c := range []struct {
			kind string
			t    *vocabTable
		}{{"hints", v}, {"search", plain}} {
			b.Run(name+"/"+c.kind, func(b *testing.B) {
				for b.Loop() {
					if newBacktracker(c.t) == nil {
						b.Fatal("vocabulary not suited")
					}
				}
			})
		}
	}
}

// BenchmarkLoad measures what New does on first use of an encoding: load
// its vocabulary from the embedded image and build its decoder. The
// retained-B metric is the heap the loaded vocabulary keeps (after a GC);
// the token bytes stay in the binary's read-only data and are not counted.
//
//	go test -run XXX -bench Load -benchmem ./engine/tokenizer
func BenchmarkLoad(b *testing.B) {
	for _, name := range Encodings() {
		b.Run(name, func(b *testing.B) {
			kept := retained(func() any {
				t, d, err := loadEncoding(name, specs[name])
				if err != nil {
					b.Fatal(err)
				}
				return [2]any{t, d}
			})
			for b.Loop() {
				if _, _, err := loadEncoding(name, specs[name]); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(kept), "retained-B")
		})
	}
}

// BenchmarkParseRankFile measures loading an encoding from its rank file
// instead (LoadTiktokenFile's path, and New's before the images).
func BenchmarkParseRankFile(b *testing.B) {
	for _, name := range Encodings() {
		data, err := assets.Assets.ReadFile(specs[name].file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			kept := retained(func() any {
				t, err := parseTiktokenTable(data, name)
				if err != nil {
					b.Fatal(err)
				}
				return [2]any{t, t.decoder(specs[name].special)}
			})
			for b.Loop() {
				t, err := parseTiktokenTable(data, name)
				if err != nil {
					b.Fatal(err)
				}
				_ = t.decoder(specs[name].special)
			}
			b.ReportMetric(float64(kept), "retained-B")
		})
	}
}

// retained returns the growth of the live heap while the value that load
// returns is alive.
func retained(load func() any) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := load()
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(v)
	return after.HeapAlloc - before.HeapAlloc
}
