package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
)

// sentencePieceHint points SentencePiece-style files at the loader that
// handles them.
const sentencePieceHint = "this is a SentencePiece-style BPE, not a byte-level one: load the model's tokenizer.model with LoadSentencePieceModel"

// LoadHFTokenizerJSON loads a Hugging Face tokenizer.json that holds a
// byte-level BPE model (GPT-2, RoBERTa, Llama 3 and similar):
//
//   - model: {"type": "BPE", "vocab": {...}, "merges": [...]}, with merges
//     written as "a b" strings or ["a", "b"] pairs (one form throughout, as
//     Hugging Face requires), without dropout, byte fallback, or subword
//     prefixes and suffixes; all 256 byte tokens must be in the vocabulary.
//     "ignore_merges": true is honoured.
//   - pre_tokenizer: ByteLevel with use_regex true (GPT-2's pattern) or false
//     (no split), or a Sequence of a Split with a Regex pattern (one of the
//     Pattern constants) and behavior Isolated, then ByteLevel with
//     use_regex false; add_prefix_space must be false. Patterns are split as
//     tiktoken reads them.
//   - decoder: ByteLevel. normalizer: none.
//   - added_tokens: those with "special": true become special tokens, handled
//     by Options like the built-in encodings' special tokens, with the ids
//     the file gives them. (Hugging Face keeps an added token's id only when
//     the token is also in the model's vocab or the id is the next one after
//     the vocabulary, and otherwise renumbers it with a warning; the files it
//     writes always agree.)
//
// Encoding follows Hugging Face's BPE exactly: each pre-token is merged by
// applying the merge of lowest index among adjacent pairs (leftmost first),
// and the ids are the vocabulary's, whatever their order. This is not always
// what tiktoken's rule (merge the pair whose concatenation has the lowest
// rank) gives, even with ranks taken from the merge order, so the result is
// a Tokenizer of its own rather than a *BPE; besides the Tokenizer methods it
// has Count, EncodeOrdinary, DecodeBytes and SpecialTokens, like *BPE.
// Encode gives the ids of Hugging Face's encode(text,
// add_special_tokens=False): the post_processor, truncation and padding are
// not applied.
//
// SentencePiece-style BPE files (the Llama 2 family: byte_fallback, a
// Prepend/Replace normalizer or a Metaspace pre-tokenizer, no ByteLevel) are
// loaded with Hugging Face's rules for that layout; see load_hfspm.go.
//
// Anything else (WordPiece, Unigram or WordLevel models, other normalizers,
// unsupported patterns, non-special added tokens) is an error naming the file
// and the JSON path of the offending setting, as is any malformed input;
// loading never panics. The tokenizer is named after the
// file without its extension, or after its directory when the file is
// tokenizer.json.
func LoadHFTokenizerJSON(path string, opts Options) (Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	if hfSPMStyle(data) {
		return loadHFSentencePiece(path, data, opts)
	}
	cfg, err := parseHFTokenizer(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := newHFBPE(hfName(path), cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func hfName(path string) string {
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	if name == "tokenizer" {
		if dir := filepath.Base(filepath.Dir(path)); dir != "." && dir != string(filepath.Separator) {
			return dir
		}
	}
	return name
}

// hfConfig is what a supported tokenizer.json says.
type hfConfig struct {
	pattern      string // pre-tokenizer pattern; "" splits nothing
	ignoreMerges bool
	vocab        []vocabEntry
	merges       [][2]string
	special      []hfAdded
}

type hfAdded struct {
	content string
	id      int32
}

// hfJSON is a JSON object with its path, for error messages.
type hfJSON struct {
	path string
	m    map[string]json.RawMessage
}

func hfIsNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// hfKind names the kind of the JSON value raw for error messages.
func hfKind(raw json.RawMessage) string {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 {
		return "nothing"
	}
	switch t[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

func hfObject(raw json.RawMessage, path string) (hfJSON, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return hfJSON{}, fmt.Errorf("%s: want a JSON object, got %s", path, hfKind(raw))
	}
	return hfJSON{path, m}, nil
}

func hfArray(raw json.RawMessage, path string) ([]json.RawMessage, error) {
	var a []json.RawMessage
	if err := json.Unmarshal(raw, &a); err != nil || a == nil {
		return nil, fmt.Errorf("%s: want a JSON array, got %s", path, hfKind(raw))
	}
	return a, nil
}

func (o hfJSON) at(key string) string { return o.path + "." + key }

// has reports whether key is present and not null.
func (o hfJSON) has(key string) bool {
	raw, ok := o.m[key]
	return ok && !hfIsNull(raw)
}

// str returns the string member key; absent or null is "".
func (o hfJSON) str(key string) (string, error) {
	if !o.has(key) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(o.m[key], &s); err != nil {
		return "", fmt.Errorf("%s: want a string, got %s", o.at(key), hfKind(o.m[key]))
	}
	return s, nil
}

// boolean returns the boolean member key; absent or null is def.
func (o hfJSON) boolean(key string, def bool) (bool, error) {
	if !o.has(key) {
		return def, nil
	}
	var v bool
	if err := json.Unmarshal(o.m[key], &v); err != nil {
		return false, fmt.Errorf("%s: want true or false, got %s", o.at(key), hfKind(o.m[key]))
	}
	return v, nil
}

// typ returns the "type" member, which must be present.
func (o hfJSON) typ() (string, error) {
	t, err := o.str("type")
	if err == nil && t == "" {
		err = fmt.Errorf("%s: missing", o.at("type"))
	}
	return t, err
}

// parseHFTokenizer reads and checks a tokenizer.json document. Its errors
// start with the JSON path of the setting at fault.
func parseHFTokenizer(data []byte) (*hfConfig, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil, fmt.Errorf("$: malformed JSON near byte %d: %v", syn.Offset, err)
		}
		return nil, fmt.Errorf("$: want a JSON object, got %s", hfKind(data))
	}
	if top == nil {
		return nil, errors.New("$: want a JSON object, got null")
	}
	doc := hfJSON{"$", top}
	if version, err := doc.str("version"); err != nil {
		return nil, err
	} else if version != "" && version != "1.0" {
		return nil, fmt.Errorf("%s: unknown tokenizer.json version %q: want 1.0", doc.at("version"), clipText(version))
	}
	cfg := &hfConfig{}
	if err := parseHFModel(doc, cfg); err != nil {
		return nil, err
	}
	if err := checkHFNormalizer(doc); err != nil {
		return nil, err
	}
	pattern, err := parseHFPreTokenizer(doc)
	if err != nil {
		return nil, err
	}
	cfg.pattern = pattern
	if err := checkHFDecoder(doc); err != nil {
		return nil, err
	}
	if cfg.special, err = parseHFAddedTokens(doc); err != nil {
		return nil, err
	}
	return cfg, nil
}

// hfBPEModel returns the "model" object of doc, which must be a BPE model;
// what says which BPE models the caller loads, for the error.
func hfBPEModel(doc hfJSON, what string) (hfJSON, error) {
	if !doc.has("model") {
		return hfJSON{}, fmt.Errorf("%s: missing", doc.at("model"))
	}
	model, err := hfObject(doc.m["model"], doc.at("model"))
	if err != nil {
		return hfJSON{}, err
	}
	typ, err := model.typ()
	if err != nil {
		return hfJSON{}, err
	}
	if typ != "BPE" {
		return hfJSON{}, fmt.Errorf("%s: %q models are not supported: only %s models load here", model.at("type"), clipText(typ), what)
	}
	return model, nil
}

func parseHFModel(doc hfJSON, cfg *hfConfig) error {
	model, err := hfBPEModel(doc, "byte-level BPE")
	if err != nil {
		return err
	}
	if fallback, err := model.boolean("byte_fallback", false); err != nil {
		return err
	} else if fallback {
		return fmt.Errorf("%s: byte fallback is not supported: %s", model.at("byte_fallback"), sentencePieceHint)
	}
	if model.has("dropout") {
		var p float64
		if err := json.Unmarshal(model.m["dropout"], &p); err != nil {
			return fmt.Errorf("%s: want a number, got %s", model.at("dropout"), hfKind(model.m["dropout"]))
		}
		if p != 0 {
			return fmt.Errorf("%s: dropout %g is not supported: it makes encoding random", model.at("dropout"), p)
		}
	}
	for _, key := range []string{"continuing_subword_prefix", "end_of_word_suffix"} {
		s, err := model.str(key)
		if err != nil {
			return err
		}
		if s != "" {
			return fmt.Errorf("%s: %q is not supported: byte-level BPE has no subword prefix or suffix", model.at(key), clipText(s))
		}
	}
	if cfg.ignoreMerges, err = model.boolean("ignore_merges", false); err != nil {
		return err
	}
	if !model.has("vocab") {
		return fmt.Errorf("%s: missing", model.at("vocab"))
	}
	if cfg.vocab, err = parseJSONVocab(model.m["vocab"], model.at("vocab")); err != nil {
		return err
	}
	if !model.has("merges") {
		return fmt.Errorf("%s: missing", model.at("merges"))
	}
	merges, err := hfArray(model.m["merges"], model.at("merges"))
	if err != nil {
		return err
	}
	cfg.merges = make([][2]string, len(merges))
	var strs, pairs bool // Hugging Face wants one form throughout
	for i, raw := range merges {
		at := fmt.Sprintf("%s[%d]", model.at("merges"), i)
		var s string
		if json.Unmarshal(raw, &s) == nil {
			if strs = true; pairs {
				return fmt.Errorf("%s: the merges mix \"a b\" strings and [\"a\", \"b\"] pairs", at)
			}
			a, b, ok := strings.Cut(s, " ")
			if !ok || a == "" || b == "" || strings.Contains(b, " ") {
				return fmt.Errorf("%s: want \"<token> <token>\" (one space between two tokens), got %q", at, clipText(s))
			}
			cfg.merges[i] = [2]string{a, b}
			continue
		}
		var pair []string
		if err := json.Unmarshal(raw, &pair); err != nil || len(pair) != 2 || pair[0] == "" || pair[1] == "" {
			return fmt.Errorf("%s: want a merge, written \"a b\" or [\"a\", \"b\"], got %s", at, clipText(string(bytes.TrimSpace(raw))))
		}
		if pairs = true; strs {
			return fmt.Errorf("%s: the merges mix \"a b\" strings and [\"a\", \"b\"] pairs", at)
		}
		cfg.merges[i] = [2]string{pair[0], pair[1]}
	}
	return nil
}

func checkHFNormalizer(doc hfJSON) error {
	if !doc.has("normalizer") {
		return nil
	}
	norm, err := hfObject(doc.m["normalizer"], doc.at("normalizer"))
	if err != nil {
		return err
	}
	typ, err := norm.typ()
	if err != nil {
		return err
	}
	if typ == "Sequence" {
		list, err := hfArray(norm.m["normalizers"], norm.at("normalizers"))
		if err != nil {
			return err
		}
		if len(list) == 0 {
			return nil
		}
		norm, err = hfObject(list[0], norm.at("normalizers")+"[0]")
		if err != nil {
			return err
		}
		if typ, err = norm.typ(); err != nil {
			return err
		}
	}
	hint := "byte-level BPE files have no normalizer"
	if typ == "Prepend" || typ == "Replace" || typ == "Precompiled" {
		hint = sentencePieceHint
	}
	return fmt.Errorf("%s: normalizer %q is not supported: %s", norm.path, clipText(typ), hint)
}

// parseHFPreTokenizer returns the pre-tokenizer pattern ("" when the text is
// not split).
func parseHFPreTokenizer(doc hfJSON) (string, error) {
	if !doc.has("pre_tokenizer") {
		return "", fmt.Errorf("%s: missing: a byte-level BPE needs a ByteLevel pre-tokenizer (without one, %s)", doc.at("pre_tokenizer"), sentencePieceHint)
	}
	pre, err := hfObject(doc.m["pre_tokenizer"], doc.at("pre_tokenizer"))
	if err != nil {
		return "", err
	}
	typ, err := pre.typ()
	if err != nil {
		return "", err
	}
	switch typ {
	case "ByteLevel":
		return byteLevelPattern(pre)
	case "Sequence":
		list, err := hfArray(pre.m["pretokenizers"], pre.at("pretokenizers"))
		if err != nil {
			return "", err
		}
		var steps []hfJSON
		var types []string
		for i, raw := range list {
			o, err := hfObject(raw, fmt.Sprintf("%s[%d]", pre.at("pretokenizers"), i))
			if err != nil {
				return "", err
			}
			t, err := o.typ()
			if err != nil {
				return "", err
			}
			if t == "Metaspace" {
				return "", fmt.Errorf("%s: Metaspace is not supported: %s", o.path, sentencePieceHint)
			}
			steps, types = append(steps, o), append(types, t)
		}
		switch {
		case len(steps) == 1 && types[0] == "ByteLevel":
			return byteLevelPattern(steps[0])
		case len(steps) == 2 && types[0] == "Split" && types[1] == "ByteLevel":
			pattern, err := splitPattern(steps[0])
			if err != nil {
				return "", err
			}
			inner, err := byteLevelPattern(steps[1])
			if err != nil {
				return "", err
			}
			if inner != "" {
				return "", fmt.Errorf("%s: use_regex must be false after a Split: splitting twice is not supported", steps[1].at("use_regex"))
			}
			return pattern, nil
		}
		return "", fmt.Errorf("%s: the sequence %v is not supported: want [ByteLevel] or [Split, ByteLevel]", pre.at("pretokenizers"), types)
	case "Metaspace":
		return "", fmt.Errorf("%s: Metaspace is not supported: %s", pre.at("type"), sentencePieceHint)
	}
	return "", fmt.Errorf("%s: pre-tokenizer %q is not supported: want ByteLevel, or Split then ByteLevel", pre.at("type"), clipText(typ))
}

// byteLevelPattern checks a ByteLevel pre-tokenizer and returns GPT-2's
// pattern when it splits (use_regex, true by default), else "".
func byteLevelPattern(o hfJSON) (string, error) {
	// Hugging Face's ByteLevel defaults add_prefix_space to true.
	prefix, err := o.boolean("add_prefix_space", true)
	if err != nil {
		return "", err
	}
	if prefix {
		return "", fmt.Errorf("%s: adding a space before the text is not supported: want add_prefix_space false", o.at("add_prefix_space"))
	}
	useRegex, err := o.boolean("use_regex", true)
	if err != nil {
		return "", err
	}
	if useRegex {
		return PatternGPT2, nil
	}
	return "", nil
}

// splitPattern checks a Split pre-tokenizer and returns its pattern.
func splitPattern(o hfJSON) (string, error) {
	if !o.has("pattern") {
		return "", fmt.Errorf("%s: missing", o.at("pattern"))
	}
	pat, err := hfObject(o.m["pattern"], o.at("pattern"))
	if err != nil {
		return "", err
	}
	if !pat.has("Regex") {
		return "", fmt.Errorf("%s: want {\"Regex\": ...}: only regular-expression patterns are supported", pat.path)
	}
	re, err := pat.str("Regex")
	if err != nil {
		return "", err
	}
	if _, err := splitterFor(re); err != nil {
		return "", fmt.Errorf("%s: %w", pat.at("Regex"), err)
	}
	behavior, err := o.str("behavior")
	if err != nil {
		return "", err
	}
	if behavior != "Isolated" {
		return "", fmt.Errorf("%s: behavior %q is not supported: want Isolated", o.at("behavior"), clipText(behavior))
	}
	if invert, err := o.boolean("invert", false); err != nil {
		return "", err
	} else if invert {
		return "", fmt.Errorf("%s: an inverted Split is not supported", o.at("invert"))
	}
	return re, nil
}

func checkHFDecoder(doc hfJSON) error {
	if !doc.has("decoder") {
		return fmt.Errorf("%s: missing: a byte-level BPE needs a ByteLevel decoder", doc.at("decoder"))
	}
	dec, err := hfObject(doc.m["decoder"], doc.at("decoder"))
	if err != nil {
		return err
	}
	typ, err := dec.typ()
	if err != nil {
		return err
	}
	if typ == "Sequence" {
		list, err := hfArray(dec.m["decoders"], dec.at("decoders"))
		if err != nil {
			return err
		}
		for i, raw := range list {
			o, err := hfObject(raw, fmt.Sprintf("%s[%d]", dec.at("decoders"), i))
			if err != nil {
				return err
			}
			t, err := o.typ()
			if err != nil {
				return err
			}
			if t != "ByteLevel" || len(list) != 1 {
				return decoderError(o.path, t)
			}
		}
		if len(list) == 0 {
			return fmt.Errorf("%s: empty: want a ByteLevel decoder", dec.at("decoders"))
		}
		return nil
	}
	if typ != "ByteLevel" {
		return decoderError(dec.path, typ)
	}
	return nil
}

func decoderError(path, typ string) error {
	switch typ {
	case "ByteFallback", "Metaspace", "Replace", "Fuse", "Strip":
		return fmt.Errorf("%s: decoder %q is not supported: %s", path, clipText(typ), sentencePieceHint)
	}
	return fmt.Errorf("%s: decoder %q is not supported: want ByteLevel alone", path, clipText(typ))
}

func parseHFAddedTokens(doc hfJSON) ([]hfAdded, error) {
	if !doc.has("added_tokens") {
		return nil, nil
	}
	list, err := hfArray(doc.m["added_tokens"], doc.at("added_tokens"))
	if err != nil {
		return nil, err
	}
	var out []hfAdded
	for i, raw := range list {
		o, err := hfObject(raw, fmt.Sprintf("%s[%d]", doc.at("added_tokens"), i))
		if err != nil {
			return nil, err
		}
		if !o.has("id") {
			return nil, fmt.Errorf("%s: missing", o.at("id"))
		}
		var id float64
		if err := json.Unmarshal(o.m["id"], &id); err != nil || id != math.Trunc(id) || id < 0 || id > maxLoadedID {
			return nil, fmt.Errorf("%s: want an integer id in [0, %d], got %s", o.at("id"), maxLoadedID, clipText(string(bytes.TrimSpace(o.m["id"]))))
		}
		content, err := o.str("content")
		if err != nil {
			return nil, err
		}
		if content == "" {
			return nil, fmt.Errorf("%s: missing or empty", o.at("content"))
		}
		special, err := o.boolean("special", false)
		if err != nil {
			return nil, err
		}
		if !special {
			return nil, fmt.Errorf("%s: the non-special added token %q is not supported (Hugging Face matches such tokens in the text before the model runs)", o.path, clipText(content))
		}
		for _, key := range []string{"single_word", "lstrip", "rstrip"} {
			if v, err := o.boolean(key, false); err != nil {
				return nil, err
			} else if v {
				return nil, fmt.Errorf("%s: %s matching of special token %q is not supported", o.at(key), key, clipText(content))
			}
		}
		out = append(out, hfAdded{content, int32(id)})
	}
	return out, nil
}

// hfRule is what merging a pair gives: the merge's index and the merged id.
type hfRule struct{ rank, id int32 }

func hfPairKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// hfBPE is a byte-level BPE with Hugging Face's merge semantics. bpe holds
// the special tokens, options, pre-tokenizer and decoder; its own merge
// (tiktoken's rule) is never used.
type hfBPE struct {
	bpe    *BPE
	byteID [256]int32
	rules  map[uint64]hfRule // hfPairKey(left, right) -> merge
	whole  map[string]int32  // pieces known to encode to one token
}

func newHFBPE(name string, cfg *hfConfig, opts Options) (*hfBPE, error) {
	ids := make(map[string]int32, len(cfg.vocab))
	byID := make(map[int32]string, len(cfg.vocab))
	for _, e := range cfg.vocab {
		ids[e.tok] = e.id
		byID[e.id] = e.tok
	}
	t := &hfBPE{rules: make(map[uint64]hfRule, len(cfg.merges))}
	model := make(map[int32]bool, len(cfg.merges)+256) // ids the model can produce
	for b, r := range gpt2ByteToRune {
		id, ok := ids[string(r)]
		if !ok {
			return nil, fmt.Errorf("$.model.vocab: no token for byte 0x%02x (%q): a byte-level BPE needs all 256 bytes", b, string(r))
		}
		t.byteID[b] = id
		model[id] = true
	}
	for i, m := range cfg.merges {
		var pair [2]int32
		for j, part := range m {
			id, ok := ids[part]
			if !ok {
				return nil, fmt.Errorf("$.model.merges[%d]: token %q is not in the vocabulary", i, clipText(part))
			}
			pair[j] = id
		}
		id, ok := ids[m[0]+m[1]]
		if !ok {
			return nil, fmt.Errorf("$.model.merges[%d]: the merged token %q is not in the vocabulary", i, clipText(m[0]+m[1]))
		}
		// A repeated pair takes its last rank, as in Hugging Face.
		t.rules[hfPairKey(pair[0], pair[1])] = hfRule{rank: int32(i), id: id}
		model[id] = true
	}
	special := make(map[string]int32, len(cfg.special))
	for i, a := range cfg.special {
		at := fmt.Sprintf("$.added_tokens[%d]", i)
		if id, ok := ids[a.content]; ok && id != a.id {
			return nil, fmt.Errorf("%s: special token %q has id %d, but model.vocab gives it id %d", at, clipText(a.content), a.id, id)
		}
		if tok, ok := byID[a.id]; ok && tok != a.content {
			return nil, fmt.Errorf("%s: special token %q has id %d, which model.vocab gives to %q", at, clipText(a.content), a.id, clipText(tok))
		}
		if model[a.id] {
			return nil, fmt.Errorf("%s: special token %q (id %d) is also a byte or merged token of the model; special tokens must lie outside it", at, clipText(a.content), a.id)
		}
		if _, dup := special[a.content]; dup {
			return nil, fmt.Errorf("%s: special token %q is listed twice", at, clipText(a.content))
		}
		special[a.content] = a.id
	}
	special, err := checkSpecial(special, func(int32) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("$.added_tokens: %w", err)
	}
	isSpecial := make(map[int32]bool, len(special))
	for _, id := range special {
		isSpecial[id] = true
	}
	// The decoder: token bytes by id. Tokens outside the byte-level
	// alphabet cannot be produced; like Hugging Face's ByteLevel decoder,
	// they decode to their own text.
	ranks := make(map[string]int32, len(cfg.vocab))
	for _, e := range cfg.vocab {
		if isSpecial[e.id] {
			continue
		}
		raw, _, ok := byteLevelDecode(e.tok)
		if !ok {
			raw = e.tok
		}
		if id, dup := ranks[raw]; dup {
			return nil, fmt.Errorf("$.model.vocab: tokens %q (id %d) and %q (id %d) both stand for the bytes %q", clipText(byID[id]), id, clipText(e.tok), e.id, clipText(raw))
		}
		ranks[raw] = e.id
	}
	split := splitByteLevelWhole
	if cfg.pattern != "" {
		if split, err = splitterFor(cfg.pattern); err != nil {
			return nil, fmt.Errorf("$.pre_tokenizer: %w", err)
		}
	}
	if t.bpe, err = newBPE(name, ranks, special, split, opts); err != nil {
		return nil, err
	}
	t.whole = make(map[string]int32)
	if cfg.ignoreMerges {
		// Hugging Face looks a whole pre-token up in the vocabulary first.
		for _, e := range cfg.vocab {
			if raw, _, ok := byteLevelDecode(e.tok); ok && !isSpecial[e.id] {
				t.whole[raw] = e.id
			}
		}
	} else {
		// Remember the merged tokens that a pre-token of the same bytes
		// encodes to (nearly all of them), to skip merging those pieces.
		whole := make(map[string]int32, len(cfg.merges))
		for _, m := range cfg.merges {
			raw, _, ok := byteLevelDecode(m[0] + m[1])
			if !ok {
				continue
			}
			if _, done := whole[raw]; done {
				continue
			}
			id := ids[m[0]+m[1]]
			if out := t.merge(nil, raw); len(out) == 1 && out[0] == id {
				whole[raw] = id
			}
		}
		t.whole = whole
	}
	return t, nil
}

// splitByteLevelWhole is the pre-tokenizer of a ByteLevel step without a
// regex: the whole text is one piece.
func splitByteLevelWhole(s string, _ int) int { return len(s) }

// Name implements Tokenizer.
func (t *hfBPE) Name() string { return t.bpe.Name() }

// VocabSize implements Tokenizer.
func (t *hfBPE) VocabSize() int { return t.bpe.VocabSize() }

// SpecialTokens returns the special tokens, sorted by id.
func (t *hfBPE) SpecialTokens() []string { return t.bpe.SpecialTokens() }

// Decode implements Tokenizer.
func (t *hfBPE) Decode(ids []int32) (string, error) { return t.bpe.Decode(ids) }

// DecodeBytes returns the raw bytes of ids, which need not be valid UTF-8.
func (t *hfBPE) DecodeBytes(ids []int32) ([]byte, error) { return t.bpe.DecodeBytes(ids) }

// Encode implements Tokenizer, with the special-token rules of BPE.Encode.
func (t *hfBPE) Encode(text string) ([]int32, error) {
	b := t.bpe
	if err := b.check(text); err != nil {
		return nil, err
	}
	out := make([]int32, 0, len(text)/3+1)
	if !b.allowAll && len(b.allowed) == 0 {
		return t.appendOrdinary(out, text), nil
	}
	for len(text) > 0 {
		at, tok := b.nextAllowed(text)
		if at < 0 {
			out = t.appendOrdinary(out, text)
			break
		}
		out = t.appendOrdinary(out, text[:at])
		out = append(out, b.special[tok])
		text = text[at+len(tok):]
	}
	return out, nil
}

// Count returns the number of tokens Encode would return for text, with the
// same errors.
func (t *hfBPE) Count(text string) (int, error) {
	ids, err := t.Encode(text)
	return len(ids), err
}

// EncodeOrdinary encodes text treating special tokens as ordinary text.
// text must be valid UTF-8 (Encode checks it).
func (t *hfBPE) EncodeOrdinary(text string) []int32 {
	return t.appendOrdinary(make([]int32, 0, len(text)/3+1), text)
}

func (t *hfBPE) appendOrdinary(out []int32, text string) []int32 {
	for i := 0; i < len(text); {
		j := t.bpe.split(text, i)
		piece := text[i:j]
		if id, ok := t.whole[piece]; ok {
			out = append(out, id)
		} else {
			out = t.merge(out, piece)
		}
		i = j
	}
	return out
}

// hfMerge is a candidate merge: the pair starting at byte pos, the merge's
// rank and the id it makes.
type hfMerge struct{ rank, pos, id int32 }

func (m hfMerge) less(n hfMerge) bool {
	return m.rank < n.rank || m.rank == n.rank && m.pos < n.pos
}

// merge appends the ids of piece, merged as Hugging Face's Word::merge_all
// does: the symbols start as the piece's bytes, and the adjacent pair whose
// merge has the lowest index (the leftmost among equals) is merged until no
// adjacent pair has a merge. A queued candidate whose pair has changed since
// it was queued is skipped.
func (t *hfBPE) merge(out []int32, piece string) []int32 {
	n := len(piece)
	const stack = 64
	var symBuf, nextBuf, prevBuf [stack]int32
	var heapBuf [2 * stack]hfMerge
	sym, next, prev := symBuf[:0], nextBuf[:0], prevBuf[:0]
	h := heapBuf[:0]
	if n > stack {
		sym, next, prev = make([]int32, 0, n), make([]int32, 0, n), make([]int32, 0, n)
		h = make([]hfMerge, 0, n)
	}
	for i := range n {
		sym = append(sym, t.byteID[piece[i]])
		next = append(next, int32(i+1))
		prev = append(prev, int32(i-1))
	}
	push := func(i int32) {
		j := next[i]
		if int(j) >= n {
			return
		}
		if r, ok := t.rules[hfPairKey(sym[i], sym[j])]; ok {
			h = hfHeapPush(h, hfMerge{r.rank, i, r.id})
		}
	}
	for i := int32(0); int(i) < n-1; i++ {
		push(i)
	}
	for len(h) > 0 {
		var top hfMerge
		h, top = hfHeapPop(h)
		i := top.pos
		if sym[i] < 0 {
			continue // merged into its left neighbour
		}
		j := next[i]
		if int(j) >= n {
			continue
		}
		if r, ok := t.rules[hfPairKey(sym[i], sym[j])]; !ok || r.id != top.id {
			continue // stale
		}
		sym[i], sym[j] = top.id, -1
		next[i] = next[j]
		if int(next[j]) < n {
			prev[next[j]] = i
		}
		if prev[i] >= 0 {
			push(prev[i])
		}
		push(i)
	}
	for i := int32(0); int(i) < n; i = next[i] {
		out = append(out, sym[i])
	}
	return out
}

func hfHeapPush(h []hfMerge, m hfMerge) []hfMerge {
	h = append(h, m)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[i].less(h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	return h
}

func hfHeapPop(h []hfMerge) ([]hfMerge, hfMerge) {
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(h) && h[l].less(h[m]) {
			m = l
		}
		if r < len(h) && h[r].less(h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	return h, top
}
