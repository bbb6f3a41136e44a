package tokenizer

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
)

// gpt2ByteToRune is GPT-2's bytes_to_unicode: printable bytes stand for
// themselves, the others are shifted to U+0100 and up, so that every token
// can be written as a printable string.
var gpt2ByteToRune = func() [256]rune {
	var m [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if '!' <= b && b <= '~' || '¡' <= b && b <= '¬' || '®' <= b && b <= 'ÿ' {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}()

func gpt2String(tok string) string {
	var sb strings.Builder
	for i := 0; i < len(tok); i++ {
		sb.WriteRune(gpt2ByteToRune[tok[i]])
	}
	return sb.String()
}

// WriteHFTokenizerJSON writes the encoding as a Hugging Face tokenizer.json
// (a byte-level BPE model whose merges are derived from the ranks, a Split
// pre-tokenizer with the encoding's pattern, and its special tokens), so that
// Hugging Face tokenizers can load it. It is used to run Hugging Face
// tokenizers side by side with ours in benchmarks.
func (b *BPE) WriteHFTokenizerJSON(w io.Writer) error {
	pattern := b.pattern
	switch pattern {
	case PatternCL100K:
		pattern = PatternCL100KLegacy // Oniguruma spelling without possessive quantifiers
	case PatternGPT2:
		pattern = PatternGPT2Legacy
	case "":
		return fmt.Errorf("%s: the pre-tokenizer pattern is not known", b.name)
	}
	type entry struct {
		tok  string
		rank int32
	}
	entries := make([]entry, 0, b.vocab.len())
	for e := range b.vocab.len() {
		entries = append(entries, entry{b.vocab.key(e), b.vocab.ranks[e]})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].rank < entries[j].rank })
	vocab := make(map[string]int32, len(entries))
	merges := make([]string, 0, len(entries))
	for _, e := range entries {
		vocab[gpt2String(e.tok)] = e.rank
		if len(e.tok) < 2 {
			continue
		}
		parts := b.mergeBelow(e.tok, e.rank)
		if len(parts) != 2 {
			return fmt.Errorf("%s: token %q (rank %d) is not the merge of two lower-ranked tokens", b.name, e.tok, e.rank)
		}
		merges = append(merges, gpt2String(parts[0])+" "+gpt2String(parts[1]))
	}
	type added struct {
		ID         int32  `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	var specials []added
	for _, s := range b.SpecialTokens() {
		specials = append(specials, added{ID: b.special[s], Content: s, Special: true})
		vocab[s] = b.special[s] // else Hugging Face renumbers them
	}
	doc := map[string]any{
		"version":        "1.0",
		"truncation":     nil,
		"padding":        nil,
		"added_tokens":   specials,
		"normalizer":     nil,
		"post_processor": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": pattern}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false},
		}},
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": "", "end_of_word_suffix": "",
			"fuse_unk": false, "byte_fallback": false, "ignore_merges": false, "vocab": vocab, "merges": merges},
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(doc)
}

// mergeBelow runs the merge on tok using only ranks below limit and returns
// the parts it stops at (two for every token of a consistent vocabulary).
func (b *BPE) mergeBelow(tok string, limit int32) []string {
	starts := make([]int, 0, len(tok)+1)
	for i := 0; i <= len(tok); i++ {
		starts = append(starts, i)
	}
	for len(starts) > 2 {
		best, bi := limit, -1
		for i := 0; i+2 < len(starts); i++ {
			if r := b.rank(tok[starts[i]:starts[i+2]]); r < best {
				best, bi = r, i
			}
		}
		if bi < 0 {
			break
		}
		starts = append(starts[:bi+1], starts[bi+2:]...)
	}
	parts := make([]string, 0, len(starts)-1)
	for i := 0; i+1 < len(starts); i++ {
		parts = append(parts, tok[starts[i]:starts[i+1]])
	}
	return parts
}
