package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestCountEqualsEncode checks Count against len(Encode) on the corpora and
// on the special-token and error cases.
func TestCountEqualsEncode(t *testing.T) {
	texts := []string{"", "hello world", "<|endoftext|> x <|endoftext|>", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}
	for _, f := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt", "multilingual_udhr_emoji.txt", "adv_longword_64k.txt", "adv_numbers.txt"} {
		data, err := os.ReadFile(filepath.Join(corporaDir, f))
		if err != nil {
			t.Fatal(err)
		}
		texts = append(texts, string(data[:min(len(data), 200_000)]))
	}
	for _, name := range Encodings() {
		for _, opts := range []Options{{}, {AllowedSpecial: []string{"all"}}} {
			b := mustNew(t, name, opts)
			for _, s := range texts {
				ids, errE := b.Encode(s)
				n, errC := b.Count(s)
				if (errE == nil) != (errC == nil) || n != len(ids) {
					t.Errorf("%s %v: Count = %d, %v; Encode gives %d ids, %v (text %.40q)", name, opts, n, errC, len(ids), errE, s)
				}
			}
		}
	}
	b := mustNew(t, "cl100k_base", Options{})
	if _, err := b.Count("\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}
