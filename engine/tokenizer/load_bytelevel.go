package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxLoadedID bounds the token ids that the loaders accept. The decoder is a
// slice indexed by id, so a file naming id 2³¹−1 would otherwise make loading
// allocate tens of gigabytes; real vocabularies are far below this bound.
const maxLoadedID = 1<<24 - 1

// gpt2EndOfText is GPT-2's one special token.
const gpt2EndOfText = "<|endoftext|>"

// byteLevelRuneToByte inverts gpt2ByteToRune (GPT-2's bytes_to_unicode, used
// by every byte-level BPE file format): the rune that stands for byte b maps
// back to b, and -1 marks runes that stand for no byte.
var byteLevelRuneToByte = func() [0x144]int16 {
	var m [0x144]int16
	for i := range m {
		m[i] = -1
	}
	for b, r := range gpt2ByteToRune {
		m[r] = int16(b)
	}
	return m
}()

// byteLevelDecode returns the bytes that the byte-level token string tok
// stands for. When tok holds a rune that stands for no byte, it returns that
// rune and false.
func byteLevelDecode(tok string) (string, rune, bool) {
	buf := make([]byte, 0, len(tok))
	for _, r := range tok {
		if r < 0 || int(r) >= len(byteLevelRuneToByte) || byteLevelRuneToByte[r] < 0 {
			return "", r, false
		}
		buf = append(buf, byte(byteLevelRuneToByte[r]))
	}
	return string(buf), 0, true
}

// vocabEntry is one "token": id member of a JSON vocabulary object.
type vocabEntry struct {
	tok string
	id  int32
}

// parseJSONVocab reads a JSON object mapping token strings to ids (GPT-2's
// encoder.json, or the vocab of a tokenizer.json model) and returns its
// members in file order. Ids must be integers in [0, maxLoadedID]; a token or
// an id that occurs twice is an error. where is the object's JSON path, used
// in errors.
func parseJSONVocab(data []byte, where string) ([]vocabEntry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	bad := func(err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: malformed JSON near byte %d: %w", where, dec.InputOffset(), err)
	}
	t, err := dec.Token()
	if err != nil {
		return nil, bad(err)
	}
	if t != json.Delim('{') {
		return nil, fmt.Errorf("%s: want a JSON object mapping token strings to ids, got %s", where, jsonKind(t))
	}
	var entries []vocabEntry
	seen := map[string]bool{}
	byID := map[int32]string{}
	for dec.More() {
		kt, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		key, _ := kt.(string) // object keys are always strings
		vt, err := dec.Token()
		if err != nil {
			return nil, bad(err)
		}
		at := func() string { return where + "[" + strconv.Quote(clipText(key)) + "]" }
		num, ok := vt.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%s: want an integer token id, got %s", at(), jsonKind(vt))
		}
		id, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil || id < 0 || id > maxLoadedID {
			return nil, fmt.Errorf("%s: token id %s is not an integer in [0, %d]", at(), clipText(string(num)), maxLoadedID)
		}
		if seen[key] {
			return nil, fmt.Errorf("%s: the token appears twice", at())
		}
		if other, dup := byID[int32(id)]; dup {
			return nil, fmt.Errorf("%s: id %d is also the id of %q", at(), id, clipText(other))
		}
		seen[key] = true
		byID[int32(id)] = key
		entries = append(entries, vocabEntry{key, int32(id)})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, bad(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			err = errors.New("data after the object")
		}
		return nil, bad(err)
	}
	return entries, nil
}

// jsonKind names the kind of a JSON token for error messages.
func jsonKind(t json.Token) string {
	switch v := t.(type) {
	case json.Delim:
		switch v {
		case '{':
			return "an object"
		case '[':
			return "an array"
		}
		return "a " + v.String()
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", t)
}

// checkSpecial validates special tokens against the ordinary tokens (owner
// describes the ordinary token with an id, if any) and returns a copy of
// special. Special
// tokens must be non-empty valid UTF-8 (Encode looks for them in the text)
// and must not share an id with an ordinary token or with each other.
func checkSpecial(special map[string]int32, owner func(id int32) (string, bool)) (map[string]int32, error) {
	out := make(map[string]int32, len(special))
	seen := make(map[int32]string, len(special))
	for _, tok := range slices.Sorted(maps.Keys(special)) {
		id := special[tok]
		switch {
		case tok == "":
			return nil, fmt.Errorf("special token with id %d is empty", id)
		case !utf8.ValidString(tok):
			return nil, fmt.Errorf("special token %q is not valid UTF-8", tok)
		case id < 0 || id > maxLoadedID:
			return nil, fmt.Errorf("special token %q has id %d, outside [0, %d]", tok, id, maxLoadedID)
		}
		if other, ok := owner(id); ok {
			return nil, fmt.Errorf("special token %q has id %d, which is already the id of %s", tok, id, other)
		}
		if other, ok := seen[id]; ok {
			return nil, fmt.Errorf("special tokens %q and %q both have id %d", other, tok, id)
		}
		seen[id] = tok
		out[tok] = id
	}
	return out, nil
}

// clipText shortens s for an error message, at a rune boundary.
func clipText(s string) string {
	if len(s) <= 40 {
		return s
	}
	n := 40
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// LoadTiktokenFile loads a tiktoken rank file (lines of "<base64 token>
// <rank>", as in cl100k_base.tiktoken) as a byte-level BPE whose ids are the
// ranks. pattern is the pre-tokenizer regular expression; it must be one of
// the Pattern constants (either spelling), since pre-tokenizers are
// implemented by hand. special maps each special token to its id; ids must
// not collide with ranks. The encoding is named after the file, without its
// .tiktoken extension.
//
// Every error names the file; a malformed file is an error, never a panic.
func LoadTiktokenFile(path, pattern string, special map[string]int32, opts Options) (*BPE, error) {
	split, err := splitterFor(pattern)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError names the file
	}
	defer f.Close()
	ranks, err := parseTiktoken(f, path)
	if err != nil {
		return nil, err
	}
	byID := make(map[int32]string, len(ranks))
	for tok, r := range ranks {
		if r > maxLoadedID {
			return nil, fmt.Errorf("%s: token %q has rank %d; ranks above %d are not supported", path, truncate([]byte(tok)), r, maxLoadedID)
		}
		if other, dup := byID[r]; dup {
			a, b := min(other, tok), max(other, tok)
			return nil, fmt.Errorf("%s: tokens %q and %q both have rank %d", path, truncate([]byte(a)), truncate([]byte(b)), r)
		}
		byID[r] = tok
	}
	sp, err := checkSpecial(special, func(id int32) (string, bool) {
		tok, ok := byID[id]
		return strconv.Quote(truncate([]byte(tok))), ok
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".tiktoken")
	b, err := newBPE(name, ranks, sp, split, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b.pattern = pattern
	return b, nil
}

// LoadGPT2 loads GPT-2's tokenizer from its original files: encoder.json
// (token string → id, where token strings spell bytes with GPT-2's
// bytes_to_unicode table) and vocab.bpe (the merges in order, one "a b" per
// line after a "#version" header). The same files ship with Hugging Face
// models as vocab.json and merges.txt.
//
// The ids become tiktoken ranks, as in tiktoken's own gpt2 encoding, which
// relies on GPT-2's layout: merge n makes token 256+n, so a lower id means an
// earlier merge. The loader checks that layout: the ids of the merged tokens
// increase in merge order, every token except <|endoftext|> is a byte or a
// merged token, and all 256 bytes are tokens. With GPT-2's files the result
// encodes exactly like New("r50k_base", opts), and like applying the merges
// in order (the tests check both on the corpora). <|endoftext|>, when
// present, is the special token. Vocabularies whose ids are not in merge
// order are rejected: LoadHFTokenizerJSON loads them from a tokenizer.json.
//
// Every error names the file; malformed files are errors, never panics.
func LoadGPT2(encoderJSON, vocabBPE string, opts Options) (*BPE, error) {
	encData, err := os.ReadFile(encoderJSON)
	if err != nil {
		return nil, err
	}
	mergeData, err := os.ReadFile(vocabBPE)
	if err != nil {
		return nil, err
	}
	entries, err := parseJSONVocab(encData, "$")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", encoderJSON, err)
	}
	merges, err := parseMergesText(mergeData)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", vocabBPE, err)
	}
	ids := make(map[string]int32, len(entries))
	for _, e := range entries {
		ids[e.tok] = e.id
	}
	special := map[string]int32{}
	if id, ok := ids[gpt2EndOfText]; ok {
		special[gpt2EndOfText] = id
	}
	for b, r := range gpt2ByteToRune {
		if _, ok := ids[string(r)]; !ok {
			return nil, fmt.Errorf("%s: no token for byte 0x%02x (%q); a byte-level BPE needs all 256 bytes", encoderJSON, b, string(r))
		}
	}
	merged := make(map[string]int, len(merges)) // result token -> line
	prevID, prevLine := int32(-1), 0
	for _, m := range merges {
		for _, part := range []string{m.a, m.b} {
			if _, ok := ids[part]; !ok {
				return nil, fmt.Errorf("%s:%d: token %q is not in %s", vocabBPE, m.line, clipText(part), encoderJSON)
			}
		}
		tok := m.a + m.b
		id, ok := ids[tok]
		switch {
		case !ok:
			return nil, fmt.Errorf("%s:%d: the merged token %q is not in %s", vocabBPE, m.line, clipText(tok), encoderJSON)
		case merged[tok] > 0:
			return nil, fmt.Errorf("%s:%d: the merged token %q was already made by line %d", vocabBPE, m.line, clipText(tok), merged[tok])
		case tok == gpt2EndOfText:
			return nil, fmt.Errorf("%s:%d: the merge makes the special token %s", vocabBPE, m.line, gpt2EndOfText)
		case id <= prevID:
			return nil, fmt.Errorf("%s:%d: the merge makes %q with id %d, but line %d made id %d: "+
				"the ids of %s are not in merge order, which this loader relies on (rank = id); load such a vocabulary with LoadHFTokenizerJSON",
				vocabBPE, m.line, clipText(tok), id, prevLine, prevID, encoderJSON)
		}
		merged[tok] = m.line
		prevID, prevLine = id, m.line
	}
	ranks := make(map[string]int32, len(entries))
	for _, e := range entries {
		if _, ok := special[e.tok]; ok {
			continue
		}
		raw, r, ok := byteLevelDecode(e.tok)
		if !ok {
			return nil, fmt.Errorf("%s: token %q (id %d) holds %q, which is not one of GPT-2's byte characters", encoderJSON, clipText(e.tok), e.id, r)
		}
		if len(raw) > 1 && merged[e.tok] == 0 {
			return nil, fmt.Errorf("%s: token %q (id %d) is neither a single byte nor made by a merge in %s", encoderJSON, clipText(e.tok), e.id, vocabBPE)
		}
		ranks[raw] = e.id
	}
	split, err := splitterFor(PatternGPT2)
	if err != nil {
		return nil, err
	}
	b, err := newBPE("gpt2", ranks, special, split, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", encoderJSON, err)
	}
	b.pattern = PatternGPT2
	return b, nil
}

// mergeLine is one merge of a merges file: tokens a and b, joined.
type mergeLine struct {
	a, b string
	line int
}

// parseMergesText reads GPT-2's vocab.bpe (Hugging Face's merges.txt): one
// merge "a b" per line, in rank order. Lines starting with "#version" and
// blank lines are skipped; a CR before the newline is dropped.
func parseMergesText(data []byte) ([]mergeLine, error) {
	var out []mergeLine
	for n := 1; len(data) > 0; n++ {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 || bytes.HasPrefix(line, []byte("#version")) {
			continue
		}
		a, b, ok := strings.Cut(string(line), " ")
		if !ok || a == "" || b == "" || strings.Contains(b, " ") {
			return nil, fmt.Errorf("line %d: want a merge \"<token> <token>\" (one space between two tokens), got %q", n, truncate(line))
		}
		out = append(out, mergeLine{a, b, n})
	}
	if len(out) == 0 {
		return nil, errors.New("no merges")
	}
	return out, nil
}
