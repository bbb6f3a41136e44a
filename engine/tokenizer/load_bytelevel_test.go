package tokenizer

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/engine/batch"
	"github.com/pkoukk/tiktoken-go-loader/assets"
)

// blGPT2Dir holds GPT-2's original encoder.json and vocab.bpe, beside the
// repository.
const blGPT2Dir = "../../../shared/models/gpt2-tokenizer/"

// blTexts are short texts that every loader test encodes.
var blTexts = []string{
	"", "Hello world", "hello world", "  multiple   spaces\n\n\tand tabs\r\n", "naïve café 東京 🎉👍🏽",
	"x = f(a, b) // comment", "I'm you'RE we'LL ſ 'ſ", "1234567890 3.14159", "a\x7fb", " \n \n \n",
	"<|endoftext|> is text here", "ABCdef GHI 'S", "١٢٣٤ ⅣⅤ", "\u00a0\u00a0x", strings.Repeat("ab", 300),
}

// blCorpora returns every valid UTF-8 file of the shared corpora.
func blCorpora(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob("../../../shared/corpora/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpora in ../../../shared/corpora (the shared folder must sit beside the checkout): %v", err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(data) {
			continue // adv_invalid_utf8.bin
		}
		out[filepath.Base(f)] = string(data)
	}
	return out
}

// prefix returns at most n bytes of s, cut at a rune boundary.
func blPrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// chunks cuts s into pieces of at most n bytes at rune boundaries.
func blChunks(s string, n int) []string {
	var out []string
	for len(s) > 0 {
		c := blPrefix(s, n)
		if c == "" {
			c = s[:1]
		}
		out = append(out, c)
		s = s[len(c):]
	}
	return out
}

// blSameIDs fails t with the first difference between got and want.
func blSameIDs(t testing.TB, what string, got, want []int32) bool {
	t.Helper()
	if slices.Equal(got, want) {
		return true
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	t.Errorf("%s: first difference at token %d of %d/%d: got %v, want %v", what, i, len(got), len(want),
		got[max(0, i-2):min(len(got), i+3)], want[max(0, i-2):min(len(want), i+3)])
	return false
}

func blWriteFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// blWantErr checks that err is an error naming file and containing each of parts.
func blWantErr(t testing.TB, err error, file string, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	if !strings.Contains(err.Error(), file) {
		t.Errorf("error %q does not name the file %s", err, file)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// ---- LoadTiktokenFile ----

// blSmallTiktoken is a rank file: the 256 bytes (rank = byte value), then
// merges with the given ranks.
func blSmallTiktoken(extra map[string]int32) []byte {
	var sb strings.Builder
	for i := range 256 {
		fmt.Fprintf(&sb, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(i)}), i)
	}
	for _, tok := range slices.Sorted(maps.Keys(extra)) {
		fmt.Fprintf(&sb, "%s %d\n", base64.StdEncoding.EncodeToString([]byte(tok)), extra[tok])
	}
	return []byte(sb.String())
}

var blSmallMerges = map[string]int32{"ab": 256, "cd": 257, "abcd": 258, "bc": 259, " a": 260}

func TestLoadTiktokenFileSmall(t *testing.T) {
	path := blWriteFile(t, t.TempDir(), "small.tiktoken", blSmallTiktoken(blSmallMerges))
	b, err := LoadTiktokenFile(path, PatternGPT2, map[string]int32{"<|eot|>": 1000}, Options{AllowedSpecial: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if b.Name() != "small" || b.VocabSize() != 1001 {
		t.Errorf("Name, VocabSize = %q, %d; want small, 1001", b.Name(), b.VocabSize())
	}
	// Expected ids follow tiktoken's rule by hand: merge the adjacent pair
	// whose concatenation has the lowest rank, leftmost first.
	tests := []struct {
		text string
		want []int32
	}{
		{"abcd", []int32{258}},                  // the piece is a token
		{"abc", []int32{256, 'c'}},              // ab (256) before bc (259); "abc" is no token
		{"bcd", []int32{'b', 257}},              // cd (257) before bc (259)
		{"xabcd", []int32{'x', 258}},            // ab, then cd, then ab+cd = abcd
		{" abcd", []int32{' ', 258}},            // ab (256) before " a" (260)
		{"ab ab", []int32{256, ' ', 256}},       // pieces "ab", " ab"
		{"x<|eot|>a", []int32{'x', 1000, 'a'}},  // allowed special token
		{"", []int32{}},                         // nothing
		{"é", []int32{0xc3, 0xa9}},              // bytes of a two-byte character
		{"abcd abcd", []int32{258, ' ', 258}},   // " abcd": " a" loses to ab
		{"cdab", []int32{257, 256}},             // "cdab" is no token
		{"\n\n", []int32{'\n', '\n'}},           // no merges
		{"aaaa", []int32{'a', 'a', 'a', 'a'}},   // no merges
		{"ababab", []int32{256, 256, 256}},      // leftmost first
		{"<|eot|><|eot|>", []int32{1000, 1000}}, // adjacent specials
	}
	for _, tt := range tests {
		got, err := b.Encode(tt.text)
		if err != nil {
			t.Errorf("Encode(%q): %v", tt.text, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
		}
		if s, err := b.Decode(got); err != nil || s != tt.text {
			t.Errorf("Decode(%v) = %q, %v; want %q", got, s, err, tt.text)
		}
	}
	if _, err := b.Decode([]int32{999}); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("Decode of a hole: err = %v, want ErrUnknownToken", err)
	}
	strict, err := LoadTiktokenFile(path, PatternGPT2, map[string]int32{"<|eot|>": 1000}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Encode("<|eot|>"); !errors.Is(err, ErrDisallowedSpecial) {
		t.Errorf("disallowed special: err = %v", err)
	}
}

func TestLoadTiktokenFileCL100K(t *testing.T) {
	data, err := assets.Assets.ReadFile("cl100k_base.tiktoken")
	if err != nil {
		t.Fatal(err)
	}
	path := blWriteFile(t, t.TempDir(), "cl100k_base.tiktoken", data)
	special := maps.Clone(specs["cl100k_base"].special)
	for _, opts := range []Options{{}, {AllowedSpecial: []string{"all"}}, {DisallowedAsText: true}} {
		got, err := LoadTiktokenFile(path, PatternCL100K, special, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := mustNew(t, "cl100k_base", opts)
		if got.Name() != "cl100k_base" || !slices.Equal(got.decoder.strings(), want.decoder.strings()) {
			t.Fatalf("loaded vocabulary differs from the built-in cl100k_base")
		}
		texts := append(slices.Clone(blTexts), "<|fim_prefix|>x<|endofprompt|>")
		for _, s := range texts {
			g, gerr := got.Encode(s)
			w, werr := want.Encode(s)
			if (gerr == nil) != (werr == nil) || !slices.Equal(g, w) {
				t.Errorf("%+v: Encode(%q) = %v, %v; New gives %v, %v", opts, s, g, gerr, w, werr)
			}
		}
	}
	got, err := LoadTiktokenFile(path, PatternCL100KLegacy, special, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := mustNew(t, "cl100k_base", Options{})
	for name, text := range blCorpora(t) {
		text = blPrefix(text, 64<<10)
		blSameIDs(t, name, got.EncodeOrdinary(text), want.EncodeOrdinary(text))
	}
}

func TestLoadTiktokenFileErrors(t *testing.T) {
	dir := t.TempDir()
	good := blSmallTiktoken(blSmallMerges)
	tests := []struct {
		name    string
		data    []byte
		pattern string
		special map[string]int32
		want    []string
	}{
		{"pattern", good, `\w+|\s+`, nil, []string{"unsupported pre-tokenizer pattern"}},
		{"duplicate rank", blSmallTiktoken(map[string]int32{"ab": 256, "cd": 256}), PatternGPT2, nil, []string{`"ab" and "cd" both have rank 256`}},
		{"rank too large", blSmallTiktoken(map[string]int32{"ab": 1 << 30}), PatternGPT2, nil, []string{"rank 1073741824", "not supported"}},
		{"special on a rank", good, PatternGPT2, map[string]int32{"<|x|>": 257}, []string{`special token "<|x|>" has id 257`, `"cd"`}},
		{"empty special", good, PatternGPT2, map[string]int32{"": 300}, []string{"special token with id 300 is empty"}},
		{"negative special", good, PatternGPT2, map[string]int32{"<|x|>": -1}, []string{"outside"}},
		{"huge special", good, PatternGPT2, map[string]int32{"<|x|>": 1<<31 - 1}, []string{"outside"}},
		{"specials share an id", good, PatternGPT2, map[string]int32{"<|x|>": 300, "<|y|>": 300}, []string{`"<|x|>" and "<|y|>" both have id 300`}},
		{"invalid UTF-8 special", good, PatternGPT2, map[string]int32{"<\xff>": 300}, []string{"not valid UTF-8"}},
		{"bad line", append(slices.Clone(good), "garbage\n"...), PatternGPT2, nil, []string{":262:", "want"}},
		{"bad base64", append(slices.Clone(good), "!!!! 400\n"...), PatternGPT2, nil, []string{"not base64"}},
		{"bad rank", append(slices.Clone(good), "YWJj x\n"...), PatternGPT2, nil, []string{"rank"}},
		{"missing byte", good[len("AA== 0\n"):], PatternGPT2, nil, []string{"0x00 has no rank"}},
		{"empty", nil, PatternGPT2, nil, []string{"no tokens"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := blWriteFile(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".tiktoken", tt.data)
			b, err := LoadTiktokenFile(path, tt.pattern, tt.special, Options{})
			if b != nil {
				t.Errorf("got a tokenizer with the error %v", err)
			}
			blWantErr(t, err, path, tt.want...)
		})
	}
	missing := filepath.Join(dir, "missing.tiktoken")
	_, err := LoadTiktokenFile(missing, PatternGPT2, nil, Options{})
	blWantErr(t, err, missing)
	path := blWriteFile(t, dir, "ok.tiktoken", good)
	_, err = LoadTiktokenFile(path, PatternGPT2, nil, Options{AllowedSpecial: []string{"<|nope|>"}})
	blWantErr(t, err, path, "<|nope|>")
}

// ---- LoadGPT2 ----

func blLoadGPT2(t testing.TB, opts Options) *BPE {
	t.Helper()
	b, err := LoadGPT2(blGPT2Dir+"encoder.json", blGPT2Dir+"vocab.bpe", opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLoadGPT2MatchesR50K(t *testing.T) {
	got := blLoadGPT2(t, Options{DisallowedAsText: true})
	want := mustNew(t, "r50k_base", Options{DisallowedAsText: true})
	if !slices.Equal(got.decoder.strings(), want.decoder.strings()) || !maps.Equal(got.special, want.special) {
		t.Fatal("the vocabulary built from encoder.json and vocab.bpe differs from r50k_base's")
	}
	if ids, err := got.Encode("Hello world"); err != nil || !slices.Equal(ids, []int32{15496, 995}) {
		t.Errorf("Encode(Hello world) = %v, %v; want [15496 995]", ids, err)
	}
	for _, s := range blTexts {
		g, _ := got.Encode(s)
		w, _ := want.Encode(s)
		blSameIDs(t, fmt.Sprintf("%q", s), g, w)
	}
	for name, text := range blCorpora(t) {
		if testing.Short() {
			text = blPrefix(text, 64<<10)
		}
		g, err := got.Encode(text)
		if err != nil {
			t.Fatal(err)
		}
		w, _ := want.Encode(text)
		blSameIDs(t, name, g, w)
	}
	special := blLoadGPT2(t, Options{AllowedSpecial: []string{"<|endoftext|>"}})
	if ids, err := special.Encode("a<|endoftext|>"); err != nil || !slices.Equal(ids, []int32{64, 50256}) {
		t.Errorf("Encode with the special token = %v, %v", ids, err)
	}
	if _, err := blLoadGPT2(t, Options{}).Encode("<|endoftext|>"); !errors.Is(err, ErrDisallowedSpecial) {
		t.Errorf("disallowed special: err = %v", err)
	}
}

// blBytesToUnicode is GPT-2's table (encoder.py), written out independently of
// the package's.
func blBytesToUnicode() map[byte]rune {
	m := map[byte]rune{}
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xa1 && b <= 0xac || b >= 0xae {
			m[byte(b)] = rune(b)
		} else {
			m[byte(b)] = rune(256 + n)
			n++
		}
	}
	return m
}

// blClassicBPE is the textbook merge-list BPE of GPT-2's encoder.py: in each
// step, find the adjacent pair that comes first in the merge list and join
// every occurrence of it, left to right.
type blClassicBPE struct {
	byteID [256]int32
	rank   map[[2]int32]int32
	merged map[[2]int32]int32
	split  splitter
	cache  map[string][]int32
}

func newBLClassicBPE(t testing.TB, encoderJSON, vocabBPE []byte) *blClassicBPE {
	t.Helper()
	var enc map[string]int32
	if err := json.Unmarshal(encoderJSON, &enc); err != nil {
		t.Fatal(err)
	}
	c := &blClassicBPE{rank: map[[2]int32]int32{}, merged: map[[2]int32]int32{}, split: splitR50K, cache: map[string][]int32{}}
	for b, r := range blBytesToUnicode() {
		c.byteID[b] = enc[string(r)]
	}
	lines := strings.Split(strings.TrimSpace(string(vocabBPE)), "\n")[1:]
	for i, line := range lines {
		a, b, _ := strings.Cut(line, " ")
		p := [2]int32{enc[a], enc[b]}
		c.rank[p] = int32(i)
		c.merged[p] = enc[a+b]
	}
	return c
}

func (c *blClassicBPE) encode(text string) []int32 {
	var out []int32
	for i := 0; i < len(text); {
		j := c.split(text, i)
		piece := text[i:j]
		ids, ok := c.cache[piece]
		if !ok {
			ids = c.bpe(piece)
			if len(piece) < 64 {
				c.cache[piece] = ids
			}
		}
		out = append(out, ids...)
		i = j
	}
	return out
}

func (c *blClassicBPE) bpe(piece string) []int32 {
	word := make([]int32, len(piece))
	for i := range len(piece) {
		word[i] = c.byteID[piece[i]]
	}
	for len(word) > 1 {
		best, found := int32(0), false
		var bigram [2]int32
		for i := 0; i+1 < len(word); i++ {
			p := [2]int32{word[i], word[i+1]}
			if r, ok := c.rank[p]; ok && (!found || r < best) {
				best, bigram, found = r, p, true
			}
		}
		if !found {
			break
		}
		next := make([]int32, 0, len(word))
		for i := 0; i < len(word); {
			if i+1 < len(word) && word[i] == bigram[0] && word[i+1] == bigram[1] {
				next = append(next, c.merged[bigram])
				i += 2
			} else {
				next = append(next, word[i])
				i++
			}
		}
		word = next
	}
	return word
}

// TestGPT2RankIsMergeOrder checks the claim LoadGPT2 rests on: with GPT-2's
// files, tiktoken's rule (merge the pair whose concatenation has the lowest
// id) gives the same ids as the textbook merge-list BPE, on every corpus.
// The corpora are cut into 1 KiB documents because the textbook algorithm is
// quadratic in the piece length (the long-word corpus is one 1 MiB piece).
func TestGPT2RankIsMergeOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a quadratic reference BPE over the corpora; skipped in -short mode")
	}
	enc, err := os.ReadFile(blGPT2Dir + "encoder.json")
	if err != nil {
		t.Fatal(err)
	}
	merges, err := os.ReadFile(blGPT2Dir + "vocab.bpe")
	if err != nil {
		t.Fatal(err)
	}
	classic := newBLClassicBPE(t, enc, merges)
	b := blLoadGPT2(t, Options{})
	for _, s := range blTexts {
		blSameIDs(t, fmt.Sprintf("%q", s), b.EncodeOrdinary(s), classic.encode(s))
	}
	for name, text := range blCorpora(t) {
		if strings.Contains(name, "longword") {
			text = blPrefix(text, 64<<10)
		}
		bad := 0
		for i, doc := range blChunks(text, 1<<10) {
			if !blSameIDs(t, fmt.Sprintf("%s doc %d", name, i), b.EncodeOrdinary(doc), classic.encode(doc)) {
				if bad++; bad == 3 {
					break
				}
			}
		}
	}
}

// blTinyGPT2 writes a small encoder.json and vocab.bpe in GPT-2's layout: the
// 256 bytes, then merges whose ids follow the merge order, then
// <|endoftext|>. edit may change them before they are written.
func blTinyGPT2(t testing.TB, dir string, edit func(enc map[string]int, merges *[]string)) (string, string) {
	t.Helper()
	enc := map[string]int{}
	for b, r := range blBytesToUnicode() {
		enc[string(r)] = int(b)
	}
	merges := []string{"a b", "ab c", "Ġ a", "Ġa b"}
	for i, m := range merges {
		enc[strings.ReplaceAll(m, " ", "")] = 256 + i
	}
	enc["<|endoftext|>"] = 256 + len(merges)
	if edit != nil {
		edit(enc, &merges)
	}
	data, err := json.Marshal(enc)
	if err != nil {
		t.Fatal(err)
	}
	return blWriteFile(t, dir, "encoder.json", data),
		blWriteFile(t, dir, "vocab.bpe", []byte("#version: 0.2\n"+strings.Join(merges, "\n")+"\n"))
}

func TestLoadGPT2Tiny(t *testing.T) {
	encPath, bpePath := blTinyGPT2(t, t.TempDir(), nil)
	b, err := LoadGPT2(encPath, bpePath, Options{AllowedSpecial: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []int32
	}{
		{"abc", []int32{257}},
		{"ab abc", []int32{256, ' ', 257}}, // " abc": a b, ab c; Ġ abc is no merge
		{"<|endoftext|>", []int32{260}},
		{"ba", []int32{'b', 'a'}},
	}
	for _, tt := range tests {
		if got, err := b.Encode(tt.text); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
		}
	}
}

func TestLoadGPT2Errors(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(enc map[string]int, merges *[]string)
		inBPE  bool // the error names vocab.bpe rather than encoder.json
		want   []string
		rawEnc string // replaces encoder.json
		rawBPE string // replaces vocab.bpe
	}{
		{name: "ids out of merge order", edit: func(enc map[string]int, _ *[]string) { enc["ab"], enc["abc"] = 257, 256 },
			inBPE: true, want: []string{"not in merge order", "LoadHFTokenizerJSON"}},
		{name: "merge of unknown token", edit: func(_ map[string]int, m *[]string) { *m = append(*m, "ab zz") },
			inBPE: true, want: []string{`:6: token "zz" is not in`}},
		{name: "merged token missing", edit: func(_ map[string]int, m *[]string) { *m = append(*m, "abc abc") },
			inBPE: true, want: []string{`:6: the merged token "abcabc" is not in`}},
		{name: "merge made twice", edit: func(_ map[string]int, m *[]string) { *m = append(*m, "ab c") },
			inBPE: true, want: []string{`"abc" was already made by line 3`}},
		{name: "stray token", edit: func(enc map[string]int, _ *[]string) { enc["xyz"] = 300 },
			want: []string{`"xyz" (id 300) is neither a single byte nor made by a merge`}},
		{name: "missing byte", edit: func(enc map[string]int, _ *[]string) { delete(enc, "Ā") },
			want: []string{"no token for byte 0x00"}},
		{name: "non-byte character", edit: func(enc map[string]int, _ *[]string) { enc["a b"] = 300 },
			want: []string{`holds ' ', which is not one of GPT-2's byte characters`}},
		{name: "duplicate id", edit: func(enc map[string]int, _ *[]string) { enc["<|endoftext|>"] = 5 },
			want: []string{`id 5 is also the id of "<|endoftext|>"`}},
		{name: "merge line", edit: func(_ map[string]int, m *[]string) { (*m)[1] = "ab c d" },
			inBPE: true, want: []string{"line 3: want a merge"}},
		{name: "no merges", edit: func(_ map[string]int, m *[]string) { *m = nil },
			inBPE: true, want: []string{"no merges"}},
		{name: "not an object", rawEnc: `["a"]`, want: []string{"want a JSON object", "got an array"}},
		{name: "string id", rawEnc: `{"a": "1"}`, want: []string{`$["a"]: want an integer token id, got a string`}},
		{name: "fractional id", rawEnc: `{"a": 1.5}`, want: []string{"token id 1.5 is not an integer"}},
		{name: "huge id", rawEnc: `{"a": 99999999999}`, want: []string{"not an integer in [0, 16777215]"}},
		{name: "duplicate token", rawEnc: `{"a": 1, "a": 2}`, want: []string{`$["a"]: the token appears twice`}},
		{name: "truncated", rawEnc: `{"a": 1, "b"`, want: []string{"malformed JSON", "unexpected EOF"}},
		{name: "trailing data", rawEnc: `{"a": 1} {}`, want: []string{"malformed JSON", "data after the object"}},
		{name: "empty", rawEnc: ``, want: []string{"malformed JSON"}},
		{name: "binary merges", rawBPE: "#version: 0.2\n\x00\x01\n", inBPE: true, want: []string{"line 2: want a merge"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			encPath, bpePath := blTinyGPT2(t, dir, tt.edit)
			if tt.rawEnc != "" || tt.name == "empty" {
				blWriteFile(t, dir, "encoder.json", []byte(tt.rawEnc))
			}
			if tt.rawBPE != "" {
				blWriteFile(t, dir, "vocab.bpe", []byte(tt.rawBPE))
			}
			b, err := LoadGPT2(encPath, bpePath, Options{})
			if b != nil {
				t.Errorf("got a tokenizer with the error %v", err)
			}
			file := encPath
			if tt.inBPE {
				file = bpePath
			}
			blWantErr(t, err, file, tt.want...)
		})
	}
	dir := t.TempDir()
	_, err := LoadGPT2(filepath.Join(dir, "nope.json"), filepath.Join(dir, "nope.bpe"), Options{})
	blWantErr(t, err, "nope.json")
}

// ---- LoadHFTokenizerJSON ----

// blGPT2TokenizerJSON writes GPT-2's tokenizer.json as Hugging Face does, from
// encoder.json and vocab.bpe. pairs writes merges as ["a", "b"] pairs
// (tokenizers ≥ 0.20) rather than "a b" strings; split uses a Split
// pre-tokenizer with pattern followed by a ByteLevel step without regex.
func blGPT2TokenizerJSON(t testing.TB, pairs bool, split string) []byte {
	t.Helper()
	enc, err := os.ReadFile(blGPT2Dir + "encoder.json")
	if err != nil {
		t.Fatal(err)
	}
	bpe, err := os.ReadFile(blGPT2Dir + "vocab.bpe")
	if err != nil {
		t.Fatal(err)
	}
	var merges []any
	for _, line := range strings.Split(string(bpe), "\n")[1:] {
		if line == "" {
			continue
		}
		if pairs {
			a, b, _ := strings.Cut(line, " ")
			merges = append(merges, []string{a, b})
		} else {
			merges = append(merges, line)
		}
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	var pre any = byteLevel
	if split != "" {
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": split}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}}
	}
	doc := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil,
		"added_tokens": []any{map[string]any{"id": 50256, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": true, "special": true}},
		"normalizer":     nil,
		"pre_tokenizer":  pre,
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "",
			"end_of_word_suffix": "", "fuse_unk": false, "byte_fallback": false, "vocab": json.RawMessage(enc), "merges": merges},
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(doc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLoadHFTokenizerJSONGPT2(t *testing.T) {
	dir := t.TempDir()
	want := mustNew(t, "r50k_base", Options{DisallowedAsText: true})
	corpora := blCorpora(t)
	variants := []struct {
		name  string
		pairs bool
		split string
		full  bool // every corpus in full, else a prefix of each
	}{
		{"strings-bytelevel", false, "", true},
		{"pairs-split-legacy", true, PatternGPT2Legacy, false},
		{"pairs-split", true, PatternGPT2, false},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			path := blWriteFile(t, filepath.Join(dir), v.name+".json", blGPT2TokenizerJSON(t, v.pairs, v.split))
			tok, err := LoadHFTokenizerJSON(path, Options{DisallowedAsText: true})
			if err != nil {
				t.Fatal(err)
			}
			if tok.Name() != v.name || tok.VocabSize() != 50257 {
				t.Errorf("Name, VocabSize = %q, %d", tok.Name(), tok.VocabSize())
			}
			if ids, err := tok.Encode("Hello world"); err != nil || !slices.Equal(ids, []int32{15496, 995}) {
				t.Errorf("Encode(Hello world) = %v, %v; want [15496 995]", ids, err)
			}
			for _, s := range blTexts {
				g, err := tok.Encode(s)
				if err != nil {
					t.Fatal(err)
				}
				w, _ := want.Encode(s)
				blSameIDs(t, fmt.Sprintf("%q", s), g, w)
				if d, err := tok.Decode(g); err != nil || d != s {
					t.Errorf("Decode(Encode(%q)) = %q, %v", s, d, err)
				}
			}
			for name, text := range corpora {
				if !v.full || testing.Short() {
					text = blPrefix(text, 64<<10)
				}
				g, err := tok.Encode(text)
				if err != nil {
					t.Fatal(err)
				}
				w, _ := want.Encode(text)
				blSameIDs(t, name, g, w)
			}
		})
	}
	path := blWriteFile(t, dir, "tokenizer.json", blGPT2TokenizerJSON(t, false, ""))
	tok, err := LoadHFTokenizerJSON(path, Options{AllowedSpecial: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := tok.Encode("a<|endoftext|>"); err != nil || !slices.Equal(ids, []int32{64, 50256}) {
		t.Errorf("Encode with the special token = %v, %v", ids, err)
	}
	if tok.Name() != filepath.Base(dir) {
		t.Errorf("a tokenizer.json is named %q, want its directory's name %q", tok.Name(), filepath.Base(dir))
	}
	if _, err := LoadHFTokenizerJSON(path, Options{AllowedSpecial: []string{"<|x|>"}}); err == nil {
		t.Error("an unknown allowed special token loaded")
	}
}

// TestLoadHFTokenizerJSONExported loads the tokenizer.json files that
// WriteHFTokenizerJSON makes of the built-in encodings and checks that
// Hugging Face's merge rule, applied to the exported merges, gives
// tiktoken's ids.
func TestLoadHFTokenizerJSONExported(t *testing.T) {
	if testing.Short() {
		t.Skip("encodes the corpora with three vocabularies; skipped in -short mode")
	}
	corpora := blCorpora(t)
	for _, name := range []string{"cl100k_base", "o200k_base", "p50k_base"} {
		t.Run(name, func(t *testing.T) {
			want := mustNew(t, name, Options{DisallowedAsText: true})
			var buf bytes.Buffer
			if err := want.WriteHFTokenizerJSON(&buf); err != nil {
				t.Fatal(err)
			}
			path := blWriteFile(t, t.TempDir(), name+".json", buf.Bytes())
			tok, err := LoadHFTokenizerJSON(path, Options{DisallowedAsText: true})
			if err != nil {
				t.Fatal(err)
			}
			if tok.VocabSize() != want.VocabSize() {
				t.Errorf("VocabSize = %d, want %d", tok.VocabSize(), want.VocabSize())
			}
			for _, s := range blTexts {
				g, _ := tok.Encode(s)
				w, _ := want.Encode(s)
				blSameIDs(t, fmt.Sprintf("%q", s), g, w)
			}
			for cname, text := range corpora {
				text = blPrefix(text, 32<<10)
				g, _ := tok.Encode(text)
				w, _ := want.Encode(text)
				blSameIDs(t, cname, g, w)
			}
		})
	}
}

// blTinyHF is a hand-built tokenizer.json whose ids are not in merge order:
// the bytes have ids 10..265 (byte value + 10), the merges make ids that
// fall as the merges go on, and <|end|> is special token 1 (id 0 is unused).
func blTinyHF() map[string]any {
	vocab := map[string]any{}
	for b, r := range blBytesToUnicode() {
		vocab[string(r)] = int(b) + 10
	}
	for tok, id := range map[string]int{"ab": 9, "bc": 8, "abc": 7, "cd": 6, "bcd": 5, "abcd": 4, "xy": 3, "yz": 2} {
		vocab[tok] = id
	}
	return map[string]any{
		"version": "1.0",
		"added_tokens": []any{map[string]any{"id": 1, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false,
			"normalized": false, "special": true}},
		"normalizer":    nil,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
		"decoder":       map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": vocab,
			// 0 "a b"  1 "b c"  2 "ab c"  3 "c d"  4 "bc d"  5 "a bcd"  6 "x y"  7 "y z"
			"merges": []any{"a b", "b c", "ab c", "c d", "bc d", "a bcd", "x y", "y z"}},
	}
}

func blWriteJSON(t testing.TB, dir, name string, doc any) string {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return blWriteFile(t, dir, name, data)
}

// TestLoadHFTokenizerJSONMergeOrder checks ids derived by hand from the merge
// list (apply the merge of lowest index among adjacent pairs, leftmost
// first) on a vocabulary whose ids are not in merge order.
func TestLoadHFTokenizerJSONMergeOrder(t *testing.T) {
	const a, b, c, d, x, z, sp = 'a' + 10, 'b' + 10, 'c' + 10, 'd' + 10, 'x' + 10, 'z' + 10, ' ' + 10
	tests := []struct {
		text string
		want []int32
		why  string
	}{
		{"abc", []int32{7}, "a b (0), then ab c (2)"},
		{"abcd", []int32{7, d}, "a b (0), ab c (2); abc d is no merge, though abcd is a token"},
		{"bcd", []int32{5}, "b c (1) before c d (3), then bc d (4)"},
		{"cbcd", []int32{c, 5}, "b c (1), then bc d (4)"},
		{"abcbcd", []int32{7, 5}, "a b (0), b c (1) at 2, ab c (2), bc d (4)"},
		{"xyz", []int32{3, z}, "x y (6) before y z (7), though yz has the lower id"},
		{"yz", []int32{2}, "y z (7)"},
		{"abcd xyz", []int32{7, d, sp, 3, z}, "pieces abcd and ' xyz'; ' ' has no merge"},
		{"ba", []int32{b, a}, "no merge"},
		{"x<|end|>", []int32{x, 1}, "allowed special token"},
		{"", []int32{}, "nothing"},
	}
	dir := t.TempDir()
	path := blWriteJSON(t, dir, "tiny.json", blTinyHF())
	tok, err := LoadHFTokenizerJSON(path, Options{AllowedSpecial: []string{"<|end|>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		got, err := tok.Encode(tt.text)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, %v; want %v (%s)", tt.text, got, err, tt.want, tt.why)
			continue
		}
		if s, err := tok.Decode(got); err != nil || s != tt.text {
			t.Errorf("Decode(%v) = %q, %v", got, s, err)
		}
	}
	if tok.VocabSize() != 266 || tok.Name() != "tiny" {
		t.Errorf("VocabSize, Name = %d, %q; want 266, tiny", tok.VocabSize(), tok.Name())
	}
	if _, err := tok.Decode([]int32{0}); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("Decode(0): err = %v, want ErrUnknownToken", err)
	}
	strict, err := LoadHFTokenizerJSON(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Encode("x<|end|>"); !errors.Is(err, ErrDisallowedSpecial) {
		t.Errorf("disallowed special: err = %v", err)
	}
	if _, err := strict.Encode("x\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("invalid UTF-8: err = %v", err)
	}

	// The same merges written as pairs.
	doc := blTinyHF()
	var pairs []any
	for _, m := range doc["model"].(map[string]any)["merges"].([]any) {
		pairs = append(pairs, strings.Split(m.(string), " "))
	}
	doc["model"].(map[string]any)["merges"] = pairs
	paired, err := LoadHFTokenizerJSON(blWriteJSON(t, dir, "pairs.json", doc), Options{AllowedSpecial: []string{"<|end|>"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if got, err := paired.Encode(tt.text); err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("pairs: Encode(%q) = %v, %v; want %v", tt.text, got, err, tt.want)
		}
	}

	// With ignore_merges, a pre-token that is in the vocabulary is that token.
	doc = blTinyHF()
	doc["model"].(map[string]any)["ignore_merges"] = true
	ignore, err := LoadHFTokenizerJSON(blWriteJSON(t, dir, "ignore.json", doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for text, want := range map[string][]int32{"abcd": {4}, "abcd xyz": {4, sp, 3, z}, "abcbcd": {7, 5}} {
		if got, err := ignore.Encode(text); err != nil || !slices.Equal(got, want) {
			t.Errorf("ignore_merges: Encode(%q) = %v, %v; want %v", text, got, err, want)
		}
	}
}

// TestTiktokenRuleIsNotMergeOrder shows why LoadHFTokenizerJSON does not
// hand the merges to the tiktoken-rule BPE: on the tiny vocabulary, neither
// rank = id nor rank = merge index reproduces the merge-list results above.
func TestTiktokenRuleIsNotMergeOrder(t *testing.T) {
	byID := map[string]int32{"ab": 9, "bc": 8, "abc": 7, "cd": 6, "bcd": 5, "abcd": 4, "xy": 3, "yz": 2}
	byMerge := map[string]int32{"ab": 256, "bc": 257, "abc": 258, "cd": 259, "bcd": 260, "abcd": 261, "xy": 262, "yz": 263}
	for i := range 256 {
		byID[string([]byte{byte(i)})] = int32(i) + 10
		byMerge[string([]byte{byte(i)})] = int32(i)
	}
	rankID, err := newBPE("id", byID, nil, splitR50K, Options{})
	if err != nil {
		t.Fatal(err)
	}
	rankMerge, err := newBPE("merge", byMerge, nil, splitR50K, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := rankID.EncodeOrdinary("xyz"); !slices.Equal(got, []int32{'x' + 10, 2}) {
		t.Errorf("rank = id: xyz = %v; the merge list gives [xy z]", got)
	}
	if got := rankMerge.EncodeOrdinary("abcd"); !slices.Equal(got, []int32{261}) {
		t.Errorf("rank = merge index: abcd = %v; the merge list gives [abc d]", got)
	}
}

func TestLoadHFTokenizerJSONErrors(t *testing.T) {
	model := func(doc map[string]any) map[string]any { return doc["model"].(map[string]any) }
	seq := func(steps ...any) map[string]any { return map[string]any{"type": "Sequence", "pretokenizers": steps} }
	split := func(re, behavior string) map[string]any {
		return map[string]any{"type": "Split", "pattern": map[string]any{"Regex": re}, "behavior": behavior, "invert": false}
	}
	byteLevel := func(useRegex bool) map[string]any {
		return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
	}
	special := func(id int, content string, isSpecial bool) map[string]any {
		return map[string]any{"id": id, "content": content, "special": isSpecial}
	}
	tests := []struct {
		name string
		edit func(doc map[string]any)
		raw  string // the file, instead of the edited document
		want []string
	}{
		{name: "WordPiece", edit: func(d map[string]any) { model(d)["type"] = "WordPiece" }, want: []string{`$.model.type: "WordPiece" models are not supported`}},
		{name: "Unigram", edit: func(d map[string]any) { model(d)["type"] = "Unigram" }, want: []string{`$.model.type: "Unigram" models`}},
		{name: "no model type", edit: func(d map[string]any) { delete(model(d), "type") }, want: []string{"$.model.type: missing"}},
		{name: "no model", edit: func(d map[string]any) { delete(d, "model") }, want: []string{"$.model: missing"}},
		{name: "model not an object", edit: func(d map[string]any) { d["model"] = []int{1} }, want: []string{"$.model: want a JSON object, got an array"}},
		{name: "byte fallback", edit: func(d map[string]any) { model(d)["byte_fallback"] = true }, want: []string{"$.model.byte_fallback", "LoadSentencePieceModel"}},
		{name: "dropout", edit: func(d map[string]any) { model(d)["dropout"] = 0.1 }, want: []string{"$.model.dropout: dropout 0.1"}},
		{name: "prefix", edit: func(d map[string]any) { model(d)["continuing_subword_prefix"] = "##" }, want: []string{`$.model.continuing_subword_prefix: "##"`}},
		{name: "suffix", edit: func(d map[string]any) { model(d)["end_of_word_suffix"] = "</w>" }, want: []string{"$.model.end_of_word_suffix"}},
		{name: "flag type", edit: func(d map[string]any) { model(d)["ignore_merges"] = "yes" }, want: []string{"$.model.ignore_merges: want true or false, got a string"}},
		{name: "no vocab", edit: func(d map[string]any) { delete(model(d), "vocab") }, want: []string{"$.model.vocab: missing"}},
		{name: "no merges", edit: func(d map[string]any) { model(d)["merges"] = nil }, want: []string{"$.model.merges: missing"}},
		{name: "merges object", edit: func(d map[string]any) { model(d)["merges"] = map[string]any{} }, want: []string{"$.model.merges: want a JSON array"}},
		{name: "merge string", edit: func(d map[string]any) { model(d)["merges"].([]any)[1] = "b c d" }, want: []string{`$.model.merges[1]: want "<token> <token>"`}},
		{name: "merge number", edit: func(d map[string]any) { model(d)["merges"].([]any)[0] = 7 }, want: []string{"$.model.merges[0]: want a merge"}},
		{name: "mixed merges", edit: func(d map[string]any) { model(d)["merges"].([]any)[2] = []string{"ab", "c"} },
			want: []string{`$.model.merges[2]: the merges mix "a b" strings and ["a", "b"] pairs`}},
		{name: "mixed pairs", edit: func(d map[string]any) {
			model(d)["merges"] = []any{[]string{"a", "b"}, "b c"}
		}, want: []string{`$.model.merges[1]: the merges mix`}},
		{name: "merge triple", edit: func(d map[string]any) { model(d)["merges"].([]any)[0] = []string{"a", "b", "c"} }, want: []string{"$.model.merges[0]: want a merge"}},
		{name: "mixed merges", edit: func(d map[string]any) { model(d)["merges"].([]any)[2] = []string{"ab", "c"} },
			want: []string{`$.model.merges[2]: the merges mix "a b" strings and ["a", "b"] pairs`}},
		{name: "mixed pairs", edit: func(d map[string]any) {
			model(d)["merges"] = []any{[]string{"a", "b"}, "b c"}
		}, want: []string{`$.model.merges[1]: the merges mix`}},
		{name: "merge of unknown token", edit: func(d map[string]any) { model(d)["merges"] = append(model(d)["merges"].([]any), "abcd q!") },
			want: []string{`$.model.merges[8]: token "q!" is not in the vocabulary`}},
		{name: "merged token missing", edit: func(d map[string]any) { model(d)["merges"] = append(model(d)["merges"].([]any), "q r") },
			want: []string{`$.model.merges[8]: the merged token "qr" is not in the vocabulary`}},
		{name: "missing byte", edit: func(d map[string]any) { delete(model(d)["vocab"].(map[string]any), "Ġ") }, want: []string{"$.model.vocab: no token for byte 0x20"}},
		{name: "negative id", edit: func(d map[string]any) { model(d)["vocab"].(map[string]any)["ab"] = -1 }, want: []string{`$.model.vocab["ab"]: token id -1 is not an integer`}},
		{name: "duplicate id", edit: func(d map[string]any) { model(d)["vocab"].(map[string]any)["ab"] = 8 }, want: []string{"id 8 is also the id of"}},
		{name: "same bytes", edit: func(d map[string]any) {
			model(d)["vocab"].(map[string]any)[" x"] = 300
			model(d)["vocab"].(map[string]any)["Ġx"] = 301
		},
			want: []string{`both stand for the bytes " x"`}},
		{name: "normalizer", edit: func(d map[string]any) { d["normalizer"] = map[string]any{"type": "NFC"} }, want: []string{`$.normalizer: normalizer "NFC" is not supported`}},
		{name: "SentencePiece normalizer", edit: func(d map[string]any) {
			d["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{map[string]any{"type": "Prepend", "prepend": "▁"}}}
		}, want: []string{"$.normalizer.normalizers[0]", "LoadSentencePieceModel"}},
		{name: "no pre-tokenizer", edit: func(d map[string]any) { d["pre_tokenizer"] = nil }, want: []string{"$.pre_tokenizer: missing", "SentencePiece"}},
		{name: "Metaspace", edit: func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁"} },
			want: []string{"$.pre_tokenizer.type: Metaspace", "LoadSentencePieceModel"}},
		{name: "Whitespace", edit: func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "Whitespace"} },
			want: []string{`$.pre_tokenizer.type: pre-tokenizer "Whitespace" is not supported`}},
		{name: "prefix space", edit: func(d map[string]any) { d["pre_tokenizer"].(map[string]any)["add_prefix_space"] = true },
			want: []string{"$.pre_tokenizer.add_prefix_space"}},
		{name: "prefix space default", edit: func(d map[string]any) { delete(d["pre_tokenizer"].(map[string]any), "add_prefix_space") },
			want: []string{"$.pre_tokenizer.add_prefix_space"}},
		{name: "pattern", edit: func(d map[string]any) { d["pre_tokenizer"] = seq(split(`\w+|\s+`, "Isolated"), byteLevel(false)) },
			want: []string{"$.pre_tokenizer.pretokenizers[0].pattern.Regex: unsupported pre-tokenizer pattern"}},
		{name: "string pattern", edit: func(d map[string]any) {
			d["pre_tokenizer"] = seq(map[string]any{"type": "Split", "pattern": map[string]any{"String": " "}, "behavior": "Isolated"}, byteLevel(false))
		}, want: []string{"$.pre_tokenizer.pretokenizers[0].pattern: want {\"Regex\""}},
		{name: "behavior", edit: func(d map[string]any) { d["pre_tokenizer"] = seq(split(PatternCL100K, "Removed"), byteLevel(false)) },
			want: []string{`$.pre_tokenizer.pretokenizers[0].behavior: behavior "Removed"`}},
		{name: "split twice", edit: func(d map[string]any) { d["pre_tokenizer"] = seq(split(PatternCL100K, "Isolated"), byteLevel(true)) },
			want: []string{"$.pre_tokenizer.pretokenizers[1].use_regex: use_regex must be false"}},
		{name: "sequence", edit: func(d map[string]any) { d["pre_tokenizer"] = seq(byteLevel(false), split(PatternCL100K, "Isolated")) },
			want: []string{"$.pre_tokenizer.pretokenizers: the sequence [ByteLevel Split] is not supported"}},
		{name: "no decoder", edit: func(d map[string]any) { delete(d, "decoder") }, want: []string{"$.decoder: missing"}},
		{name: "SentencePiece decoder", edit: func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{map[string]any{"type": "Replace"}, map[string]any{"type": "ByteFallback"}}}
		}, want: []string{"$.decoder.decoders[0]: decoder \"Replace\"", "LoadSentencePieceModel"}},
		{name: "WordPiece decoder", edit: func(d map[string]any) { d["decoder"] = map[string]any{"type": "WordPiece"} },
			want: []string{`$.decoder: decoder "WordPiece" is not supported`}},
		{name: "non-special added token", edit: func(d map[string]any) { d["added_tokens"] = []any{special(300, "<pad>", false)} },
			want: []string{`$.added_tokens[0]: the non-special added token "<pad>"`}},
		{name: "lstrip", edit: func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 300, "content": "<mask>", "special": true, "lstrip": true}}
		}, want: []string{"$.added_tokens[0].lstrip"}},
		{name: "added id", edit: func(d map[string]any) { d["added_tokens"] = []any{special(-3, "<x>", true)} }, want: []string{"$.added_tokens[0].id: want an integer id"}},
		{name: "added content", edit: func(d map[string]any) { d["added_tokens"] = []any{special(300, "", true)} }, want: []string{"$.added_tokens[0].content: missing or empty"}},
		{name: "special on a vocab id", edit: func(d map[string]any) { d["added_tokens"] = []any{special(9, "<x>", true)} },
			want: []string{`$.added_tokens[0]: special token "<x>" has id 9, which model.vocab gives to "ab"`}},
		{name: "special with another id", edit: func(d map[string]any) { d["added_tokens"] = []any{special(300, "ab", true)} },
			want: []string{`special token "ab" has id 300, but model.vocab gives it id 9`}},
		{name: "special is a merge", edit: func(d map[string]any) { d["added_tokens"] = []any{special(9, "ab", true)} },
			want: []string{`$.added_tokens[0]: special token "ab" (id 9) is also a byte or merged token`}},
		{name: "special twice", edit: func(d map[string]any) {
			d["added_tokens"] = []any{special(300, "<x>", true), special(301, "<x>", true)}
		},
			want: []string{`$.added_tokens[1]: special token "<x>" is listed twice`}},
		{name: "specials share an id", edit: func(d map[string]any) {
			d["added_tokens"] = []any{special(300, "<x>", true), special(300, "<y>", true)}
		},
			want: []string{`both have id 300`}},
		{name: "version", edit: func(d map[string]any) { d["version"] = "2.0" }, want: []string{`$.version: unknown tokenizer.json version "2.0"`}},
		{name: "truncated", raw: `{"model": {"type": "BPE", "vocab": {"a": 1`, want: []string{"$: malformed JSON near byte"}},
		{name: "array", raw: `[1, 2]`, want: []string{"$: want a JSON object, got an array"}},
		{name: "null", raw: `null`, want: []string{"$: want a JSON object, got null"}},
		{name: "empty", raw: ` `, want: []string{"$: malformed JSON"}},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var path string
			if tt.raw != "" {
				path = blWriteFile(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".json", []byte(tt.raw))
			} else {
				doc := blTinyHF()
				tt.edit(doc)
				path = blWriteJSON(t, dir, strings.ReplaceAll(tt.name, " ", "_")+".json", doc)
			}
			tok, err := LoadHFTokenizerJSON(path, Options{})
			if tok != nil {
				t.Errorf("got a tokenizer with the error %v", err)
			}
			blWantErr(t, err, path, tt.want...)
		})
	}
	missing := filepath.Join(dir, "missing.json")
	_, err := LoadHFTokenizerJSON(missing, Options{})
	blWantErr(t, err, missing)
}

// blNaiveHFMerge is Hugging Face's merge rule written plainly: while some
// adjacent pair has a merge, join the pair whose merge has the lowest index
// (the leftmost among equals). rank maps a pair to its merge's index (the
// last, for a pair listed twice).
func blNaiveHFMerge(piece string, rank map[[2]string]int) []string {
	var syms []string
	for i := 0; i < len(piece); i++ {
		syms = append(syms, blByteLevel(piece[i:i+1]))
	}
	for {
		best, at := -1, -1
		for i := 0; i+1 < len(syms); i++ {
			if r, ok := rank[[2]string{syms[i], syms[i+1]}]; ok && (best < 0 || r < best) {
				best, at = r, i
			}
		}
		if at < 0 {
			return syms
		}
		syms = slices.Replace(syms, at, at+2, syms[at]+syms[at+1])
	}
}

// TestHFMergeMatchesNaive checks LoadHFTokenizerJSON's merge against the
// plain statement of Hugging Face's rule, on random vocabularies whose tokens
// are made by several merges each and whose ids are shuffled.
func TestHFMergeMatchesNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	dir := t.TempDir()
	for i := range 200 {
		doc := blRandomHF(rng, i%2 == 0, false)
		m := doc["model"].(map[string]any)
		vocab := m["vocab"].(map[string]any)
		rank := map[[2]string]int{}
		for k, s := range m["merges"].([]any) {
			a, b, _ := strings.Cut(s.(string), " ")
			rank[[2]string{a, b}] = k
		}
		tok, err := LoadHFTokenizerJSON(blWriteJSON(t, dir, fmt.Sprintf("%d.json", i), doc), Options{})
		if err != nil {
			t.Fatal(err)
		}
		split := splitByteLevelWhole
		if i%2 == 0 {
			split = splitR50K
		}
		for range 30 {
			var sb strings.Builder
			for range 1 + rng.IntN(100) {
				sb.WriteByte("abcd  "[rng.IntN(6)])
			}
			text := sb.String()
			var want []int32
			for j := 0; j < len(text); {
				k := split(text, j)
				for _, s := range blNaiveHFMerge(text[j:k], rank) {
					want = append(want, int32(vocab[s].(int)))
				}
				j = k
			}
			got, err := tok.Encode(text)
			if err != nil {
				t.Fatal(err)
			}
			if !blSameIDs(t, fmt.Sprintf("vocabulary %d: %q", i, text), got, want) {
				return
			}
		}
	}
}

// TestLoadedTokenizersConcurrent encodes with each loader's tokenizer from
// several goroutines at once (run it with -race).
func TestLoadedTokenizersConcurrent(t *testing.T) {
	dir := t.TempDir()
	hf, err := LoadHFTokenizerJSON(blWriteFile(t, dir, "gpt2.json", blGPT2TokenizerJSON(t, false, "")), Options{DisallowedAsText: true})
	if err != nil {
		t.Fatal(err)
	}
	tik, err := LoadTiktokenFile(blWriteFile(t, dir, "small.tiktoken", blSmallTiktoken(blSmallMerges)), PatternO200K, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var items []batch.Item[string]
	for i, s := range blTexts {
		items = append(items, batch.Item[string]{ID: fmt.Sprint(i), Data: strings.Repeat(s+" ", 1+i%5)})
	}
	for _, tok := range []Tokenizer{hf, blLoadGPT2(t, Options{DisallowedAsText: true}), tik} {
		for i, r := range EncodeBatch(context.Background(), tok, items, 4) {
			want, err := tok.Encode(items[i].Data)
			if r.Err != nil || err != nil || !slices.Equal(r.Data, want) {
				t.Errorf("%s: item %s: %v, %v; alone %v, %v", tok.Name(), r.ID, r.Data, r.Err, want, err)
			}
		}
	}
}
