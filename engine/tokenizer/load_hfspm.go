package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// hfSPMStyle reports whether a tokenizer.json document is a
// SentencePiece-style BPE (the Llama 2 family): its model has byte fallback,
// its normalizer prepends or replaces (Prepend, Replace), or its
// pre-tokenizer is Metaspace, and neither its pre-tokenizer nor its decoder
// is (or holds) ByteLevel. LoadHFTokenizerJSON loads such files with
// loadHFSentencePiece; files that mix the two styles are left to the
// byte-level loader, which rejects them.
func hfSPMStyle(data []byte) bool {
	var doc struct {
		Model        json.RawMessage `json:"model"`
		Normalizer   json.RawMessage `json:"normalizer"`
		PreTokenizer json.RawMessage `json:"pre_tokenizer"`
		Decoder      json.RawMessage `json:"decoder"`
	}
	if json.Unmarshal(data, &doc) != nil {
		return false
	}
	// types lists the step types of a component that may be a Sequence.
	types := func(raw json.RawMessage, listKey string) []string {
		var o map[string]json.RawMessage
		if json.Unmarshal(raw, &o) != nil {
			return nil
		}
		var typ string
		_ = json.Unmarshal(o["type"], &typ)
		if typ != "Sequence" {
			return []string{typ}
		}
		var list []map[string]json.RawMessage
		_ = json.Unmarshal(o[listKey], &list)
		var out []string
		for _, step := range list {
			var t string
			_ = json.Unmarshal(step["type"], &t)
			out = append(out, t)
		}
		return out
	}
	pre, dec := types(doc.PreTokenizer, "pretokenizers"), types(doc.Decoder, "decoders")
	if slices.Contains(pre, "ByteLevel") || slices.Contains(dec, "ByteLevel") {
		return false
	}
	var model struct {
		ByteFallback json.RawMessage `json:"byte_fallback"`
	}
	if json.Unmarshal(doc.Model, &model) == nil {
		var fb bool
		if json.Unmarshal(model.ByteFallback, &fb) == nil && fb {
			return true
		}
	}
	norm := types(doc.Normalizer, "normalizers")
	return slices.Contains(norm, "Prepend") || slices.Contains(norm, "Replace") || slices.Contains(pre, "Metaspace")
}

// hfSPMNorm is one normalizer step: Prepend (prepend non-empty text with
// text) or Replace (every old by text).
type hfSPMNorm struct {
	prepend bool
	old     string
	text    string
}

// hfSPMDec is one decoder step.
type hfSPMDec struct {
	kind        string // "Replace", "ByteFallback", "Fuse", "Strip", "Metaspace"
	old, text   string // Replace: old -> text; Metaspace: replacement in old
	content     rune   // Strip
	start, stop int    // Strip
	prefix      bool   // Metaspace: strip the first token's leading space
}

// hfSPMConfig is what a SentencePiece-style tokenizer.json says.
type hfSPMConfig struct {
	vocab        []vocabEntry
	merges       [][2]string
	byteFallback bool
	fuseUnk      bool
	unk          string // "" when none
	ignoreMerges bool
	norm         []hfSPMNorm
	meta         bool   // a Metaspace pre-tokenizer
	metaRep      string // its replacement
	metaScheme   string // "always", "first" or "never"
	metaSplit    bool
	dec          []hfSPMDec
	special      []hfAdded
}

// hfSentencePiece is a Hugging Face SentencePiece-style BPE tokenizer (the
// tokenizer.json of Llama 2 and similar models); see LoadHFTokenizerJSON.
type hfSentencePiece struct {
	cfg     *hfSPMConfig
	spec    *BPE // holds the name, special tokens and options only
	ids     map[string]int32
	tokens  map[int32]string // id -> token
	size    int
	byteID  [256]int32 // -1 where <0xXX> is missing
	unkID   int32      // -1 when none
	rules   map[uint64]hfRule
	special map[int32]bool
}

var _ Tokenizer = (*hfSentencePiece)(nil)

// loadHFSentencePiece loads a SentencePiece-style tokenizer.json whose bytes
// are data (LoadHFTokenizerJSON dispatches here; see hfSPMStyle). It follows
// Hugging Face's tokenizers exactly for what it accepts:
//
//   - model: {"type": "BPE", "vocab": {...}, "merges": [...]} with merges as
//     "a b" strings or ["a", "b"] pairs; byte_fallback (a character with no
//     piece becomes its UTF-8 bytes' <0xXX> pieces when all exist),
//     unk_token and fuse_unk (otherwise <unk>, waiting for the next known
//     character as Hugging Face's BPE::merge_word does; without unk_token
//     the character is dropped), ignore_merges; no dropout, subword prefix
//     or suffix. Merging applies the adjacent pair of lowest merge index
//     (leftmost first) until none has a merge.
//   - normalizer: none, or Prepend and Replace (plain-string pattern) steps,
//     alone or in a Sequence, applied in order (Prepend only to non-empty
//     text), to each stretch of text between special tokens. The Llama 2
//     layout is [Prepend "▁", Replace " " -> "▁"] with no pre-tokenizer.
//   - pre_tokenizer: none, or Metaspace (replacement, prepend_scheme
//     always/first/never or the older add_prefix_space, split): spaces
//     become the replacement, which is then put first unless the text
//     already starts with it (with "first", only for the text's first
//     stretch); split cuts before each replacement character.
//   - decoder: none (tokens joined with spaces), or Replace, ByteFallback,
//     Fuse, Strip and Metaspace steps, alone or in a Sequence.
//   - added_tokens: special tokens as for byte-level files; the
//     post_processor is ignored (Encode is add_special_tokens=False).
func loadHFSentencePiece(path string, data []byte, opts Options) (Tokenizer, error) {
	cfg, err := parseHFSPM(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	t, err := newHFSentencePiece(hfName(path), cfg, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func parseHFSPM(data []byte) (*hfSPMConfig, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, fmt.Errorf("$: want a JSON object, got %s", hfKind(data))
	}
	doc := hfJSON{"$", top}
	if version, err := doc.str("version"); err != nil {
		return nil, err
	} else if version != "" && version != "1.0" {
		return nil, fmt.Errorf("%s: unknown tokenizer.json version %q: want 1.0", doc.at("version"), clipText(version))
	}
	cfg := &hfSPMConfig{}
	if err := parseHFSPMModel(doc, cfg); err != nil {
		return nil, err
	}
	if err := parseHFSPMNormalizer(doc, cfg); err != nil {
		return nil, err
	}
	if err := parseHFSPMPreTokenizer(doc, cfg); err != nil {
		return nil, err
	}
	if err := parseHFSPMDecoder(doc, cfg); err != nil {
		return nil, err
	}
	var err error
	if cfg.special, err = parseHFAddedTokens(doc); err != nil {
		return nil, err
	}
	return cfg, nil
}

func parseHFSPMModel(doc hfJSON, cfg *hfSPMConfig) error {
	model, err := hfBPEModel(doc, "BPE")
	if err != nil {
		return err
	}
	if cfg.byteFallback, err = model.boolean("byte_fallback", false); err != nil {
		return err
	}
	if cfg.fuseUnk, err = model.boolean("fuse_unk", false); err != nil {
		return err
	}
	if cfg.ignoreMerges, err = model.boolean("ignore_merges", false); err != nil {
		return err
	}
	if cfg.unk, err = model.str("unk_token"); err != nil {
		return err
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
			return fmt.Errorf("%s: %q is not supported", model.at(key), clipText(s))
		}
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
	var strs, pairs bool
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
			return fmt.Errorf("%s: want a merge, written \"a b\" or [\"a\", \"b\"], got %s", at, clipText(string(raw)))
		}
		if pairs = true; strs {
			return fmt.Errorf("%s: the merges mix \"a b\" strings and [\"a\", \"b\"] pairs", at)
		}
		cfg.merges[i] = [2]string{pair[0], pair[1]}
	}
	return nil
}

// hfStringPattern reads a Replace step's {"String": s} pattern.
func hfStringPattern(o hfJSON) (string, error) {
	if !o.has("pattern") {
		return "", fmt.Errorf("%s: missing", o.at("pattern"))
	}
	pat, err := hfObject(o.m["pattern"], o.at("pattern"))
	if err != nil {
		return "", err
	}
	if !pat.has("String") {
		return "", fmt.Errorf("%s: want {\"String\": ...}: only plain-string patterns are supported", pat.path)
	}
	s, err := pat.str("String")
	if err == nil && s == "" {
		err = fmt.Errorf("%s: empty pattern", pat.at("String"))
	}
	return s, err
}

// hfSteps returns the steps of a component that may be a Sequence.
func hfSteps(o hfJSON, listKey string) ([]hfJSON, error) {
	typ, err := o.typ()
	if err != nil {
		return nil, err
	}
	if typ != "Sequence" {
		return []hfJSON{o}, nil
	}
	list, err := hfArray(o.m[listKey], o.at(listKey))
	if err != nil {
		return nil, err
	}
	out := make([]hfJSON, len(list))
	for i, raw := range list {
		if out[i], err = hfObject(raw, fmt.Sprintf("%s[%d]", o.at(listKey), i)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func parseHFSPMNormalizer(doc hfJSON, cfg *hfSPMConfig) error {
	if !doc.has("normalizer") {
		return nil
	}
	norm, err := hfObject(doc.m["normalizer"], doc.at("normalizer"))
	if err != nil {
		return err
	}
	steps, err := hfSteps(norm, "normalizers")
	if err != nil {
		return err
	}
	for _, o := range steps {
		typ, err := o.typ()
		if err != nil {
			return err
		}
		switch typ {
		case "Prepend":
			s, err := o.str("prepend")
			if err != nil {
				return err
			}
			cfg.norm = append(cfg.norm, hfSPMNorm{prepend: true, text: s})
		case "Replace":
			old, err := hfStringPattern(o)
			if err != nil {
				return err
			}
			s, err := o.str("content")
			if err != nil {
				return err
			}
			cfg.norm = append(cfg.norm, hfSPMNorm{old: old, text: s})
		default:
			return fmt.Errorf("%s: normalizer %q is not supported: want Prepend or Replace", o.at("type"), clipText(typ))
		}
	}
	return nil
}

func parseHFSPMPreTokenizer(doc hfJSON, cfg *hfSPMConfig) error {
	if !doc.has("pre_tokenizer") {
		return nil
	}
	pre, err := hfObject(doc.m["pre_tokenizer"], doc.at("pre_tokenizer"))
	if err != nil {
		return err
	}
	steps, err := hfSteps(pre, "pretokenizers")
	if err != nil {
		return err
	}
	if len(steps) == 0 {
		return nil
	}
	o := steps[0]
	typ, err := o.typ()
	if err != nil {
		return err
	}
	if typ != "Metaspace" || len(steps) != 1 {
		return fmt.Errorf("%s: pre-tokenizer %q is not supported: want Metaspace alone", o.at("type"), clipText(typ))
	}
	cfg.meta = true
	if cfg.metaRep, err = o.str("replacement"); err != nil {
		return err
	}
	if utf8.RuneCountInString(cfg.metaRep) != 1 {
		return fmt.Errorf("%s: want one character, got %q", o.at("replacement"), clipText(cfg.metaRep))
	}
	if cfg.metaScheme, err = o.str("prepend_scheme"); err != nil {
		return err
	}
	if cfg.metaScheme == "" {
		// Files older than prepend_scheme say add_prefix_space.
		prefix, err := o.boolean("add_prefix_space", true)
		if err != nil {
			return err
		}
		cfg.metaScheme = "never"
		if prefix {
			cfg.metaScheme = "always"
		}
	}
	switch cfg.metaScheme {
	case "always", "first", "never":
	default:
		return fmt.Errorf("%s: unknown prepend scheme %q: want always, first or never", o.at("prepend_scheme"), clipText(cfg.metaScheme))
	}
	cfg.metaSplit, err = o.boolean("split", true)
	return err
}

func parseHFSPMDecoder(doc hfJSON, cfg *hfSPMConfig) error {
	if !doc.has("decoder") {
		return nil
	}
	dec, err := hfObject(doc.m["decoder"], doc.at("decoder"))
	if err != nil {
		return err
	}
	steps, err := hfSteps(dec, "decoders")
	if err != nil {
		return err
	}
	for _, o := range steps {
		typ, err := o.typ()
		if err != nil {
			return err
		}
		d := hfSPMDec{kind: typ}
		switch typ {
		case "ByteFallback", "Fuse":
		case "Replace":
			if d.old, err = hfStringPattern(o); err != nil {
				return err
			}
			if d.text, err = o.str("content"); err != nil {
				return err
			}
		case "Strip":
			c, err := o.str("content")
			if err != nil {
				return err
			}
			if utf8.RuneCountInString(c) != 1 {
				return fmt.Errorf("%s: want one character, got %q", o.at("content"), clipText(c))
			}
			d.content, _ = utf8.DecodeRuneInString(c)
			for _, k := range []struct {
				key string
				n   *int
			}{{"start", &d.start}, {"stop", &d.stop}} {
				var v float64
				if o.has(k.key) {
					if err := json.Unmarshal(o.m[k.key], &v); err != nil || v != math.Trunc(v) || v < 0 || v > 1<<20 {
						return fmt.Errorf("%s: want a count, got %s", o.at(k.key), clipText(string(o.m[k.key])))
					}
				}
				*k.n = int(v)
			}
		case "Metaspace":
			if d.old, err = o.str("replacement"); err != nil {
				return err
			}
			if utf8.RuneCountInString(d.old) != 1 {
				return fmt.Errorf("%s: want one character, got %q", o.at("replacement"), clipText(d.old))
			}
			scheme, err := o.str("prepend_scheme")
			if err != nil {
				return err
			}
			if scheme == "" {
				if d.prefix, err = o.boolean("add_prefix_space", true); err != nil {
					return err
				}
			} else {
				d.prefix = scheme != "never"
			}
		default:
			return fmt.Errorf("%s: decoder %q is not supported: want Replace, ByteFallback, Fuse, Strip or Metaspace", o.at("type"), clipText(typ))
		}
		cfg.dec = append(cfg.dec, d)
	}
	return nil
}

func newHFSentencePiece(name string, cfg *hfSPMConfig, opts Options) (*hfSentencePiece, error) {
	t := &hfSentencePiece{cfg: cfg, ids: make(map[string]int32, len(cfg.vocab)), unkID: -1}
	size := 0
	for _, e := range cfg.vocab {
		t.ids[e.tok] = e.id
		size = max(size, int(e.id)+1)
	}
	for _, a := range cfg.special {
		size = max(size, int(a.id)+1)
	}
	t.size = size
	t.tokens = make(map[int32]string, len(cfg.vocab)+len(cfg.special))
	for _, e := range cfg.vocab {
		t.tokens[e.id] = e.tok
	}
	for b := range 256 {
		t.byteID[b] = -1
		if id, ok := t.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			t.byteID[b] = id
		}
	}
	if cfg.unk != "" {
		id, ok := t.ids[cfg.unk]
		if !ok {
			return nil, fmt.Errorf("$.model.unk_token: %q is not in the vocabulary", clipText(cfg.unk))
		}
		t.unkID = id
	}
	t.rules = make(map[uint64]hfRule, len(cfg.merges))
	for i, m := range cfg.merges {
		var pair [2]int32
		for j, part := range m {
			id, ok := t.ids[part]
			if !ok {
				return nil, fmt.Errorf("$.model.merges[%d]: token %q is not in the vocabulary", i, clipText(part))
			}
			pair[j] = id
		}
		id, ok := t.ids[m[0]+m[1]]
		if !ok {
			return nil, fmt.Errorf("$.model.merges[%d]: the merged token %q is not in the vocabulary", i, clipText(m[0]+m[1]))
		}
		t.rules[hfPairKey(pair[0], pair[1])] = hfRule{rank: int32(i), id: id}
	}
	special := make(map[string]int32, len(cfg.special))
	t.special = make(map[int32]bool, len(cfg.special))
	for i, a := range cfg.special {
		at := fmt.Sprintf("$.added_tokens[%d]", i)
		if id, ok := t.ids[a.content]; ok && id != a.id {
			return nil, fmt.Errorf("%s: special token %q has id %d, but model.vocab gives it id %d", at, clipText(a.content), a.id, id)
		}
		if tok, ok := t.tokens[a.id]; ok && tok != a.content {
			return nil, fmt.Errorf("%s: special token %q has id %d, which model.vocab gives to %q", at, clipText(a.content), a.id, clipText(tok))
		}
		if _, dup := special[a.content]; dup {
			return nil, fmt.Errorf("%s: special token %q is listed twice", at, clipText(a.content))
		}
		special[a.content] = a.id
		t.tokens[a.id] = a.content
		t.special[a.id] = true
	}
	special, err := checkSpecial(special, func(int32) (string, bool) { return "", false })
	if err != nil {
		return nil, fmt.Errorf("$.added_tokens: %w", err)
	}
	t.spec = &BPE{name: name, special: special, asText: opts.DisallowedAsText}
	if err := t.spec.allow(opts.AllowedSpecial); err != nil {
		return nil, err
	}
	return t, nil
}

// Name implements Tokenizer.
func (t *hfSentencePiece) Name() string { return t.spec.name }

// VocabSize implements Tokenizer.
func (t *hfSentencePiece) VocabSize() int { return t.size }

// SpecialTokens returns the special tokens, sorted by id.
func (t *hfSentencePiece) SpecialTokens() []string { return t.spec.SpecialTokens() }

// Count returns the number of tokens Encode would return for text, with the
// same errors.
func (t *hfSentencePiece) Count(text string) (int, error) {
	ids, err := t.Encode(text)
	return len(ids), err
}

// Encode implements Tokenizer, with the special-token rules of BPE.Encode.
// It gives the ids of Hugging Face's encode(text, add_special_tokens=False).
func (t *hfSentencePiece) Encode(text string) ([]int32, error) {
	b := t.spec
	if err := b.check(text); err != nil {
		return nil, err
	}
	out := make([]int32, 0, len(text)/3+2)
	if !b.allowAll && len(b.allowed) == 0 {
		return t.appendSection(out, text, true), nil
	}
	first := true
	for len(text) > 0 {
		at, tok := b.nextAllowed(text)
		if at < 0 {
			out = t.appendSection(out, text, first)
			break
		}
		out = t.appendSection(out, text[:at], first)
		out = append(out, b.special[tok])
		text = text[at+len(tok):]
		first = false
	}
	return out, nil
}

// EncodeOrdinary encodes text treating special tokens as ordinary text.
// text must be valid UTF-8 (Encode checks it).
func (t *hfSentencePiece) EncodeOrdinary(text string) []int32 {
	return t.appendSection(nil, text, true)
}

// appendSection encodes text between special tokens: normalizer,
// pre-tokenizer, then the model on each pre-token. first says that the
// section starts the text.
func (t *hfSentencePiece) appendSection(out []int32, text string, first bool) []int32 {
	if text == "" {
		return out
	}
	for _, n := range t.cfg.norm {
		if n.prepend {
			if text != "" {
				text = n.text + text
			}
		} else {
			text = strings.ReplaceAll(text, n.old, n.text)
		}
	}
	if !t.cfg.meta {
		return t.appendWord(out, text)
	}
	rep := t.cfg.metaRep
	text = strings.ReplaceAll(text, " ", rep)
	if text != "" && !strings.HasPrefix(text, rep) &&
		(t.cfg.metaScheme == "always" || t.cfg.metaScheme == "first" && first) {
		text = rep + text
	}
	if !t.cfg.metaSplit {
		return t.appendWord(out, text)
	}
	// Split before every replacement character but a leading one
	// (MergedWithNext).
	for text != "" {
		_, n := utf8.DecodeRuneInString(text)
		j := strings.Index(text[n:], rep)
		if j < 0 {
			return t.appendWord(out, text)
		}
		out = t.appendWord(out, text[:n+j])
		text = text[n+j:]
	}
	return out
}

// appendWord appends the ids of one pre-token, as Hugging Face's
// BPE::merge_word and Word::merge_all make them.
func (t *hfSentencePiece) appendWord(out []int32, word string) []int32 {
	if word == "" {
		return out
	}
	if t.cfg.ignoreMerges {
		if id, ok := t.ids[word]; ok {
			return append(out, id)
		}
	}
	// As in Hugging Face, an <unk> waits until the next character with a
	// piece (or the end of the word): byte-fallback pieces do not flush it,
	// and with fuse_unk the unknown characters around them fuse into it.
	start := len(out)
	pendingUnk := false
	for i := 0; i < len(word); {
		_, n := utf8.DecodeRuneInString(word[i:])
		c := word[i : i+n]
		i += n
		if id, ok := t.ids[c]; ok {
			if pendingUnk {
				out = append(out, t.unkID)
				pendingUnk = false
			}
			out = append(out, id)
			continue
		}
		if t.cfg.byteFallback {
			ok := true
			for k := 0; k < len(c); k++ {
				ok = ok && t.byteID[c[k]] >= 0
			}
			if ok {
				for k := 0; k < len(c); k++ {
					out = append(out, t.byteID[c[k]])
				}
				continue
			}
		}
		if t.unkID < 0 {
			continue // Hugging Face drops the character
		}
		if pendingUnk && !t.cfg.fuseUnk {
			out = append(out, t.unkID)
		}
		pendingUnk = true
	}
	if pendingUnk {
		out = append(out, t.unkID)
	}
	return t.mergeIDs(out, start)
}

// mergeIDs merges out[start:] in place by merge rank (lowest first, the
// leftmost among equals), skipping stale candidates, as Word::merge_all.
func (t *hfSentencePiece) mergeIDs(out []int32, start int) []int32 {
	sym := out[start:]
	n := len(sym)
	if n < 2 || len(t.rules) == 0 {
		return out
	}
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range n {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	h := make([]hfMerge, 0, n)
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
			continue
		}
		j := next[i]
		if int(j) >= n {
			continue
		}
		if r, ok := t.rules[hfPairKey(sym[i], sym[j])]; !ok || r.id != top.id {
			continue
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
	k := start
	for i := int32(0); int(i) < n; i = next[i] {
		out[k] = sym[i]
		k++
	}
	return out[:k]
}

// Decode implements Tokenizer: the tokens' strings (special tokens
// included, as Hugging Face's decode with skip_special_tokens=False) run
// through the file's decoder. Where Hugging Face's ByteFallback decoder
// would write U+FFFD for byte tokens that are not valid UTF-8, Decode
// reports an error wrapping ErrInvalidUTF8 (DecodeBytes returns the bytes).
func (t *hfSentencePiece) Decode(ids []int32) (string, error) {
	buf, err := t.DecodeBytes(ids)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(buf) {
		return "", fmt.Errorf("%w: the tokens decode to bytes that are not valid UTF-8 (%s)", ErrInvalidUTF8, describeInvalid(string(buf)))
	}
	return string(buf), nil
}

// DecodeBytes returns the bytes of ids by Decode's rules, which need not be
// valid UTF-8.
func (t *hfSentencePiece) DecodeBytes(ids []int32) ([]byte, error) {
	toks := make([]string, len(ids))
	for i, id := range ids {
		tok, ok := t.tokens[id]
		if !ok {
			return nil, fmt.Errorf("%w: id %d at position %d is not in %s (vocabulary size %d)", ErrUnknownToken, id, i, t.spec.name, t.size)
		}
		toks[i] = tok
	}
	if len(t.cfg.dec) == 0 {
		// Without a decoder, Hugging Face joins the tokens with spaces.
		return []byte(strings.Join(toks, " ")), nil
	}
	for _, d := range t.cfg.dec {
		toks = d.apply(toks)
	}
	var buf []byte
	for _, s := range toks {
		buf = append(buf, s...)
	}
	return buf, nil
}

// hfByteToken parses a ByteFallback token "<0xXX>".
func hfByteToken(s string) (byte, bool) {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return 0, false
	}
	v, err := strconv.ParseUint(s[3:5], 16, 8)
	return byte(v), err == nil
}

func (d hfSPMDec) apply(toks []string) []string {
	switch d.kind {
	case "Replace":
		for i, s := range toks {
			toks[i] = strings.ReplaceAll(s, d.old, d.text)
		}
	case "Fuse":
		return []string{strings.Join(toks, "")}
	case "ByteFallback":
		out := make([]string, 0, len(toks))
		var pending []byte
		for _, s := range toks {
			if b, ok := hfByteToken(s); ok {
				pending = append(pending, b)
				continue
			}
			if len(pending) > 0 {
				out = append(out, string(pending)) // raw; Decode checks UTF-8
				pending = pending[:0]
			}
			out = append(out, s)
		}
		if len(pending) > 0 {
			out = append(out, string(pending))
		}
		return out
	case "Strip":
		for i, s := range toks {
			for k := 0; k < d.start && s != ""; k++ {
				r, n := utf8.DecodeRuneInString(s)
				if r != d.content {
					break
				}
				s = s[n:]
			}
			for k := 0; k < d.stop && s != ""; k++ {
				r, n := utf8.DecodeLastRuneInString(s)
				if r != d.content {
					break
				}
				s = s[:len(s)-n]
			}
			toks[i] = s
		}
	case "Metaspace":
		for i, s := range toks {
			s = strings.ReplaceAll(s, d.old, " ")
			if i == 0 && d.prefix {
				s = strings.TrimPrefix(s, " ")
			}
			toks[i] = s
		}
	}
	return toks
}
