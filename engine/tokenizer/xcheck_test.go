package tokenizer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/internal/xcheck"
)

// corporaDir is the shared corpora, beside the repository.
const corporaDir = "../../../shared/corpora"

// splitDocs cuts text into documents of at most max bytes, at the last
// newline in the window when there is one, otherwise at a rune boundary.
func splitDocs(text string, max int) []string {
	var docs []string
	for len(text) > 0 {
		n := min(max, len(text))
		if n < len(text) {
			if nl := strings.LastIndexByte(text[:n], '\n'); nl > 0 {
				n = nl + 1
			} else {
				for n > 0 && !utf8.RuneStart(text[n]) {
					n--
				}
			}
		}
		docs = append(docs, text[:n])
		text = text[n:]
	}
	return docs
}

// corpusDocs returns the documents of every valid UTF-8 corpus file.
func corpusDocs(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corporaDir, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpora in %s (the shared folder must sit beside the checkout): %v", corporaDir, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(data) {
			continue // adv_invalid_utf8.bin: checked as error rows elsewhere
		}
		size := 8 << 10
		if strings.Contains(f, "longword") {
			// tiktoken's merge is quadratic in the piece length.
			size = 2 << 10
		}
		out[filepath.Base(f)] = splitDocs(string(data), size)
	}
	return out
}

// TestTiktokenCrossCheck compares our ids with OpenAI's tiktoken (its Rust
// core compiled to WebAssembly, run by node) on every valid UTF-8 corpus.
func TestTiktokenCrossCheck(t *testing.T) {
	xcheck.Require(t)
	if testing.Short() {
		t.Skip("cross-check runs the reference implementation; skipped in -short mode")
	}
	corpora := corpusDocs(t)
	// Hand-picked edge cases from the issues, plus the special-token texts
	// treated as ordinary text.
	edge := []string{"a\x7fb", " \n \n \n", "\t\n\t\n", "\U00013FBF", "\U0001402C", "\U0002EC88",
		"hello <|endoftext|> world", "  \n\n  x", "x  \r\n\r\n  ", "I'M 'ſ 'S 'LL", "ǅungla ǅ", "\u0301a", " \u0301\u0301x",
		"ABCdef GHI 'S", "١٢٣٤ ⅣⅤ 1234567", "a / b\n//\n/", "\u00a0\u00a0x", "\u3000 y"}
	names := []string{"edge"}
	for name := range corpora {
		names = append(names, name)
	}
	corpora["edge"] = edge
	for _, enc := range Encodings() {
		b := mustNew(t, enc, Options{})
		var all []string
		var src []string
		for _, name := range names {
			for i, d := range corpora[name] {
				all = append(all, d)
				src = append(src, fmt.Sprintf("%s doc %d", name, i))
			}
		}
		want, err := xcheck.TiktokenEncode(context.Background(), enc, all)
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		bad := 0
		for i, doc := range all {
			got := b.EncodeOrdinary(doc)
			if d := firstDiff(got, want[i]); d >= 0 {
				bad++
				if bad <= 5 {
					t.Errorf("%s: %s: first difference at token %d: ours %v, tiktoken %v (text near %q)",
						enc, src[i], d, window(got, d), window32(want[i], d), near(b, got, d))
				}
			}
		}
		if bad > 0 {
			t.Errorf("%s: %d of %d documents differ from tiktoken", enc, bad, len(all))
		} else {
			t.Logf("%s: %d documents identical to tiktoken", enc, len(all))
		}
	}
}

func firstDiff(got []int32, want []uint32) int {
	for i := range min(len(got), len(want)) {
		if uint32(got[i]) != want[i] {
			return i
		}
	}
	if len(got) != len(want) {
		return min(len(got), len(want))
	}
	return -1
}

func window(ids []int32, i int) []int32 { return ids[max(0, i-2):min(len(ids), i+3)] }

func window32(ids []uint32, i int) []uint32 { return ids[max(0, i-2):min(len(ids), i+3)] }

func near(b *BPE, ids []int32, i int) string {
	raw, _ := b.DecodeBytes(ids[max(0, i-3):min(len(ids), i+3)])
	return string(raw)
}

// TestTiktokenSpecialCrossCheck compares encoding with every special token
// allowed against tiktoken's encode(text, allowed_special="all").
func TestTiktokenSpecialCrossCheck(t *testing.T) {
	xcheck.Require(t)
	docs := []string{"<|endoftext|>", "a<|endoftext|>b", "x <|endofprompt|>\n<|fim_prefix|>def<|fim_suffix|> <|fim_middle|>",
		"<|endoftext|><|endoftext|>", "<|endoftext", "no specials here", "<|endoftext|> trailing  "}
	for _, enc := range Encodings() {
		b := mustNew(t, enc, Options{AllowedSpecial: []string{"all"}})
		want, err := xcheck.TiktokenEncodeSpecial(context.Background(), enc, docs)
		if err != nil {
			t.Fatal(err)
		}
		for i, d := range docs {
			got, err := b.Encode(d)
			if err != nil {
				t.Errorf("%s: Encode(%q): %v", enc, d, err)
				continue
			}
			if firstDiff(got, want[i]) >= 0 {
				t.Errorf("%s: Encode(%q) = %v, tiktoken %v", enc, d, got, want[i])
			}
		}
	}
}
