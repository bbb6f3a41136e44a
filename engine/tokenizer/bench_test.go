package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
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
