package tokenizer

import (
	"fmt"
	"strings"
)

// Pre-tokenizer patterns, as tiktoken and Hugging Face tokenizer.json files
// spell them. Each maps to a hand-written splitter with the same semantics.
const (
	// PatternGPT2 is r50k_base / p50k_base / GPT-2's pattern (tiktoken ≥ 0.8 spelling).
	PatternGPT2 = `'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s`
	// PatternGPT2Legacy is GPT-2's original spelling of the same pattern.
	PatternGPT2Legacy = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// PatternCL100K is cl100k_base's pattern (tiktoken ≥ 0.8 spelling).
	PatternCL100K = `'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s`
	// PatternCL100KLegacy is cl100k_base's earlier spelling (also Llama 3's).
	PatternCL100KLegacy = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// PatternO200K is o200k_base's pattern.
	PatternO200K = `[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

var patternSplitters = map[string]splitter{
	PatternGPT2:         splitR50K,
	PatternGPT2Legacy:   splitR50K,
	PatternCL100K:       splitCL100K,
	PatternCL100KLegacy: splitCL100K,
	PatternO200K:        splitO200K,
}

// splitterFor returns the splitter implementing pattern, or an error naming
// the supported patterns. Only patterns written out by hand are supported:
// general regular expressions with look-ahead and possessive quantifiers
// would need a backtracking engine and tiktoken's Unicode tables.
func splitterFor(pattern string) (splitter, error) {
	if s, ok := patternSplitters[pattern]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("unsupported pre-tokenizer pattern %q: supported are the GPT-2 (r50k/p50k), cl100k and o200k patterns", shorten(pattern))
}

func shorten(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return strings.TrimSpace(s)
}

// newBPE returns a byte-level BPE tokenizer over ranks (token bytes → id,
// where a lower id merges first, as in tiktoken) with the given special
// tokens and pre-tokenizer.
func newBPE(name string, ranks map[string]int32, special map[string]int32, split splitter, opts Options) (*BPE, error) {
	t := tableFromMap(ranks)
	b := &BPE{name: name, vocab: t, decoder: t.decoder(special), special: special, split: split, asText: opts.DisallowedAsText}
	if err := b.allow(opts.AllowedSpecial); err != nil {
		return nil, err
	}
	return b, nil
}
