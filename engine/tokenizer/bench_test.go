package tokenizer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
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
func BenchmarkEncodeBatch(b *testing.B) {
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
					EncodeBatch(context.Background(), tok, items, 0)
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
// piece.
func BenchmarkBacktrackerBuild(b *testing.B) {
	for _, name := range []string{"cl100k_base", "o200k_base"} {
		tok := mustNew(b, name, Options{})
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if newBacktracker(tok.vocab) == nil {
					b.Fatal("vocabulary not suited")
				}
			}
		})
	}
}

// BenchmarkLoad measures parsing an embedded rank file into a vocabulary.
func BenchmarkLoad(b *testing.B) {
	for _, name := range Encodings() {
		data, err := assets.Assets.ReadFile(specs[name].file)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				t, err := parseTiktokenTable(data, name)
				if err != nil {
					b.Fatal(err)
				}
				_ = t.decoder(specs[name].special)
			}
		})
	}
}
