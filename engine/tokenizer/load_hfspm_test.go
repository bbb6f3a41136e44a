package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

const hfspmLlamaModel = "/work/shared/models/llama2-tokenizer/tokenizer.model"

// hfspmLlamaDoc builds, from Llama 2's tokenizer.model, the tokenizer.json
// document that transformers' LlamaConverter writes: the vocabulary with
// its ids, and the merges of generate_merges (for every piece, each split
// into two vocabulary pieces, sorted by the ids of the halves; then all of
// them sorted stably by (score of the piece, length of the left half,
// length of the right half), descending). layout "normalizer" is the Llama
// 2 file (Prepend + Replace normalizer, no pre-tokenizer); "metaspace" is
// the newer one (Metaspace pre-tokenizer, prepend_scheme first).
var hfspmLlama = struct {
	once  sync.Once
	sp    *SentencePiece
	vocab map[string]int
	merge [][2]string
	err   error
}{}

func hfspmLlamaBase(t testing.TB) (*SentencePiece, map[string]int, [][2]string) {
	t.Helper()
	if _, err := os.Stat(hfspmLlamaModel); err != nil {
		t.Skipf("no Llama 2 tokenizer.model: %v", err)
	}
	h := &hfspmLlama
	h.once.Do(func() {
		sp, err := LoadSentencePieceModel(hfspmLlamaModel)
		if err != nil {
			h.err = err
			return
		}
		n := sp.VocabSize()
		pieces := make([]string, n)
		scores := make([]float32, n)
		vocab := make(map[string]int, n)
		for id := range n {
			p, _ := sp.Piece(int32(id))
			pieces[id] = strings.ReplaceAll(p.Text, " ", "▁")
			scores[id] = p.Score
			if id < 3 { // LlamaConverter.vocab gives <unk>, <s>, </s> score 0
				scores[id] = 0
			}
			vocab[pieces[id]] = id
		}
		type m struct {
			l, r  string
			score float32
		}
		var merges []m
		for id, piece := range pieces {
			var local []m
			for i := range piece {
				if i == 0 {
					continue
				}
				l, r := piece[:i], piece[i:]
				if _, ok := vocab[l]; !ok {
					continue
				}
				if _, ok := vocab[r]; !ok {
					continue
				}
				local = append(local, m{l, r, scores[id]})
			}
			sort.SliceStable(local, func(a, b int) bool {
				if vocab[local[a].l] != vocab[local[b].l] {
					return vocab[local[a].l] < vocab[local[b].l]
				}
				return vocab[local[a].r] < vocab[local[b].r]
			})
			merges = append(merges, local...)
		}
		key := func(x m) (float32, int, int) {
			return x.score, utf8.RuneCountInString(x.l), utf8.RuneCountInString(x.r)
		}
		sort.SliceStable(merges, func(a, b int) bool { // descending, stable
			sa, la, ra := key(merges[a])
			sb, lb, rb := key(merges[b])
			if sa != sb {
				return sa > sb
			}
			if la != lb {
				return la > lb
			}
			return ra > rb
		})
		h.sp, h.vocab = sp, vocab
		for _, x := range merges {
			h.merge = append(h.merge, [2]string{x.l, x.r})
		}
	})
	if h.err != nil {
		t.Fatal(h.err)
	}
	return h.sp, h.vocab, h.merge
}

func hfspmLlamaJSON(t testing.TB, layout string, pairs bool) map[string]any {
	_, vocab, merges := hfspmLlamaBase(t)
	ms := make([]any, len(merges))
	for i, m := range merges {
		if pairs {
			ms[i] = []string{m[0], m[1]}
		} else {
			ms[i] = m[0] + " " + m[1]
		}
	}
	added := []any{}
	for i, c := range []string{"<unk>", "<s>", "</s>"} {
		added = append(added, map[string]any{"id": i, "content": c, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true})
	}
	doc := map[string]any{
		"version":      "1.0",
		"truncation":   nil,
		"padding":      nil,
		"added_tokens": added,
		"model": map[string]any{
			"type": "BPE", "dropout": nil, "unk_token": "<unk>", "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": true, "byte_fallback": true, "ignore_merges": false,
			"vocab": vocab, "merges": ms,
		},
		"post_processor": map[string]any{
			"type":           "TemplateProcessing",
			"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": "<s>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair":           []any{},
			"special_tokens": map[string]any{"<s>": map[string]any{"id": "<s>", "ids": []int{1}, "tokens": []string{"<s>"}}},
		},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
	}
	switch layout {
	case "normalizer":
		doc["normalizer"] = map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}}
		doc["pre_tokenizer"] = nil
	case "metaspace":
		doc["normalizer"] = nil
		doc["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "first", "split": false}
	default:
		t.Fatalf("layout %q", layout)
	}
	return doc
}

func hfspmWrite(t testing.TB, doc any) string {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "tokenizer.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// hfspmDocs cuts documents from the corpora at rune boundaries.
func hfspmDocs(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for _, f := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt", "multilingual_udhr_emoji.txt", "adv_random_utf8.txt", "adv_whitespace.txt", "adv_numbers.txt", "adv_regex_edge.txt"} {
		data, err := os.ReadFile(filepath.Join("/work/shared/corpora", f))
		if err != nil {
			t.Skipf("corpus: %v", err)
		}
		if !utf8.Valid(data) {
			t.Fatalf("%s is not valid UTF-8", f)
		}
		s := string(data)
		for i, size := 0, 1; i < len(s) && len(out[f]) < 300; size = size*7%3001 + 1 {
			j := min(i+size, len(s))
			for j < len(s) && !utf8.RuneStart(s[j]) {
				j++
			}
			out[f] = append(out[f], s[i:j])
			i = j + len(s)/400
			for i < len(s) && !utf8.RuneStart(s[i]) {
				i++
			}
		}
	}
	eng, _ := os.ReadFile("/work/shared/corpora/english_tinyshakespeare.txt")
	out["english whole file"] = []string{string(eng)}
	return out
}

func TestHFSentencePieceMatchesSentencePieceModel(t *testing.T) {
	sp, _, _ := hfspmLlamaBase(t)
	docs := hfspmDocs(t)
	extra := []string{"", " ", "  ", "Hello", " Hello", "Hello  world", "\n", "a\tb", "😀", "hi 🤖 there 👩‍👩‍👧",
		"𠜎𠜱𠝹𠱓", "\u0000\u0001x", "\uFEFF\u200B", "ǅ", "日本語のテキスト", "ﷺ", "<0x41>", "<s> and </s> as text"}
	docs["extra"] = extra
	for _, layout := range []string{"normalizer", "metaspace"} {
		t.Run(layout, func(t *testing.T) {
			path := hfspmWrite(t, hfspmLlamaJSON(t, layout, layout == "metaspace"))
			tok, err := LoadHFTokenizerJSON(path, Options{DisallowedAsText: true})
			if err != nil {
				t.Fatal(err)
			}
			if tok.VocabSize() != sp.VocabSize() {
				t.Fatalf("VocabSize %d, want %d", tok.VocabSize(), sp.VocabSize())
			}
			names := slices.Sorted(func(yield func(string) bool) {
				for k := range docs {
					if !yield(k) {
						return
					}
				}
			})
			total, tokens, fallback := 0, 0, 0
			for _, name := range names {
				for i, text := range docs[name] {
					ref := text
					if layout == "metaspace" && strings.HasPrefix(text, " ") && len(text) > 1 {
						// Metaspace replaces spaces first and prepends only to
						// text that does not then start with "▁".
						ref = text[1:]
					}
					want, err := sp.EncodeWith(ref, false, false)
					if err != nil {
						t.Fatal(err)
					}
					if layout == "metaspace" && text == " " {
						want = []int32{29871} // "▁" alone
					}
					got, err := tok.Encode(text)
					if err != nil {
						t.Fatalf("%s[%d]: %v", name, i, err)
					}
					if !slices.Equal(got, want) {
						k := 0
						for k < min(len(got), len(want)) && got[k] == want[k] {
							k++
						}
						t.Fatalf("%s[%d] (%d bytes): ids differ at %d: got %v, want %v", name, i, len(text), k, got[k:min(k+8, len(got))], want[k:min(k+8, len(want))])
					}
					for _, id := range got {
						if id >= 3 && id < 259 {
							fallback++
						}
					}
					back, err := tok.Decode(got)
					if err != nil {
						t.Fatalf("%s[%d]: Decode: %v", name, i, err)
					}
					wantBack := text
					if layout == "metaspace" && strings.HasPrefix(text, " ") {
						wantBack = text[1:]
					}
					if back != wantBack {
						t.Fatalf("%s[%d]: Decode(Encode(text)) = %q, want %q", name, i, clipText(back), clipText(wantBack))
					}
					total++
					tokens += len(got)
				}
			}
			if fallback == 0 {
				t.Fatal("no byte-fallback tokens were exercised")
			}
			t.Logf("%s: %d documents, %d tokens (%d byte-fallback) identical to LoadSentencePieceModel", layout, total, tokens, fallback)
		})
	}
}

func TestHFSentencePieceByteFallbackAndSpecial(t *testing.T) {
	sp, _, _ := hfspmLlamaBase(t)
	path := hfspmWrite(t, hfspmLlamaJSON(t, "normalizer", false))
	tok, err := LoadHFTokenizerJSON(path, Options{AllowedSpecial: []string{"all"}})
	if err != nil {
		t.Fatal(err)
	}
	// "😀" has no piece: ▁ then its four byte pieces, <0xF0> = 3+0xF0.
	ids, err := tok.Encode("😀")
	if err != nil {
		t.Fatal(err)
	}
	if want := []int32{29871, 3 + 0xF0, 3 + 0x9F, 3 + 0x98, 3 + 0x80}; !slices.Equal(ids, want) {
		t.Fatalf("Encode(😀) = %v, want %v", ids, want)
	}
	want, _ := sp.EncodeWith("😀", false, false)
	if !slices.Equal(ids, want) {
		t.Fatalf("SentencePiece gives %v", want)
	}
	// Special tokens split the text; each section gets its own "▁" from
	// the Prepend normalizer, as in Hugging Face.
	ids, err = tok.Encode("<s>Hello</s>")
	if err != nil {
		t.Fatal(err)
	}
	h, _ := sp.EncodeWith("Hello", false, false)
	if want := append(append([]int32{1}, h...), 2); !slices.Equal(ids, want) {
		t.Fatalf("Encode(<s>Hello</s>) = %v, want %v", ids, want)
	}
	// Special tokens decode as their text; Strip removes only a leading space.
	// A literal "▁" in the text is a space to Hugging Face (llama2.c, and
	// LoadSentencePieceModel, spell it with byte pieces instead).
	ids2, _ := tok.Encode("▁▁x▁")
	if want, _ := sp.EncodeWith("  x ", false, false); !slices.Equal(ids2, want) {
		t.Fatalf("Encode(▁▁x▁) = %v, want %v", ids2, want)
	}
	if s, err := tok.Decode(ids); err != nil || s != "<s> Hello</s>" {
		t.Fatalf("Decode = %q, %v; want %q", s, err, "<s> Hello</s>")
	}
	// A lone byte piece is not UTF-8.
	if _, err := tok.Decode([]int32{3 + 0xF0}); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("Decode(<0xF0>) error = %v, want ErrInvalidUTF8", err)
	}
	if _, err := tok.Decode([]int32{32000}); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("Decode(32000) error = %v, want ErrUnknownToken", err)
	}
	strict, err := LoadHFTokenizerJSON(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Encode("a</s>"); !errors.Is(err, ErrDisallowedSpecial) {
		t.Fatalf("error = %v, want ErrDisallowedSpecial", err)
	}
	if _, err := strict.Encode("\xff"); !errors.Is(err, ErrInvalidUTF8) {
		t.Fatalf("error = %v, want ErrInvalidUTF8", err)
	}
	if got := tok.Name(); got != filepath.Base(filepath.Dir(path)) {
		t.Fatalf("Name = %q", got)
	}
}

// hfspmSmall is a small SentencePiece-style document.
func hfspmSmall() map[string]any {
	vocab := map[string]any{"<unk>": 0, "<s>": 1, "</s>": 2, "<0x41>": 3, "<0xC3>": 4, "<0xA9>": 5,
		"▁": 6, "a": 7, "b": 8, "c": 9, "ab": 10, "bc": 11, "▁a": 12, "abc": 13}
	return map[string]any{
		"version": "1.0",
		"added_tokens": []any{
			map[string]any{"id": 0, "content": "<unk>", "special": true},
			map[string]any{"id": 1, "content": "<s>", "special": true},
			map[string]any{"id": 2, "content": "</s>", "special": true},
		},
		"normalizer": map[string]any{"type": "Sequence", "normalizers": []any{
			map[string]any{"type": "Prepend", "prepend": "▁"},
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": " "}, "content": "▁"},
		}},
		"pre_tokenizer": nil,
		"model": map[string]any{"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true,
			"vocab": vocab, "merges": []any{"b c", "a b", "▁ a", "a bc"}},
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{
			map[string]any{"type": "Replace", "pattern": map[string]any{"String": "▁"}, "content": " "},
			map[string]any{"type": "ByteFallback"},
			map[string]any{"type": "Fuse"},
			map[string]any{"type": "Strip", "content": " ", "start": 1, "stop": 0},
		}},
	}
}

func TestHFSentencePieceMergeRankAndUnk(t *testing.T) {
	doc := hfspmSmall()
	tok, err := LoadHFTokenizerJSON(hfspmWrite(t, doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text string
		want []int32
	}{
		// "b c" has rank 0, so "abc" is ▁a + bc: "a bc" never applies
		// because ▁a merged first (rank 2 before rank 3).
		{"abc", []int32{12, 11}},
		// x has neither a piece nor byte pieces: <unk>; then a, bc merge
		// by "a bc" (rank 3) since no ▁ precedes the a.
		{"xabc", []int32{6, 0, 13}},
		{"A", []int32{6, 3}}, // byte fallback
		{"é", []int32{6, 4, 5}},
		{"xyz", []int32{6, 0}}, // fused <unk>
		{"", nil},
	} {
		got, err := tok.Encode(c.text)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %v, want %v", c.text, got, c.want)
		}
	}
	if s, err := tok.Decode([]int32{6, 3, 12, 4, 5}); err != nil || s != "A aé" {
		t.Errorf("Decode = %q, %v", s, err)
	}
	// Without fuse_unk every unknown character is its own <unk>.
	doc["model"].(map[string]any)["fuse_unk"] = false
	tok, err = LoadHFTokenizerJSON(hfspmWrite(t, doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Encode("xyz"); !slices.Equal(got, []int32{6, 0, 0, 0}) {
		t.Errorf("Encode(xyz) without fuse_unk = %v", got)
	}
	// An <unk> waits for the next character with a piece: byte-fallback
	// pieces come before it (Hugging Face's BPE::merge_word).
	if got, _ := tok.Encode("xAa"); !slices.Equal(got, []int32{6, 3, 0, 7}) {
		t.Errorf("Encode(xAa) = %v, want [6 3 0 7]", got)
	}
	doc["model"].(map[string]any)["fuse_unk"] = true
	tok, err = LoadHFTokenizerJSON(hfspmWrite(t, doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := tok.Encode("xAy"); !slices.Equal(got, []int32{6, 3, 0}) {
		t.Errorf("Encode(xAy) with fuse_unk = %v, want [6 3 0]", got)
	}
	// Without a decoder the tokens are joined with spaces.
	delete(doc, "decoder")
	tok, err = LoadHFTokenizerJSON(hfspmWrite(t, doc), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s, err := tok.Decode([]int32{12, 11}); err != nil || s != "▁a bc" {
		t.Errorf("Decode without decoder = %q, %v", s, err)
	}
}

func TestHFSentencePieceErrors(t *testing.T) {
	model := func(d map[string]any) map[string]any { return d["model"].(map[string]any) }
	for _, c := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"merge token", func(d map[string]any) { model(d)["merges"] = []any{"a q"} }, `$.model.merges[0]: token "q" is not in the vocabulary`},
		{"merged token", func(d map[string]any) { model(d)["merges"] = []any{"c a"} }, `$.model.merges[0]: the merged token "ca"`},
		{"merge form", func(d map[string]any) { model(d)["merges"] = []any{"a b c"} }, `$.model.merges[0]: want "<token> <token>"`},
		{"unk", func(d map[string]any) { model(d)["unk_token"] = "<oov>" }, `$.model.unk_token: "<oov>" is not in the vocabulary`},
		{"model type", func(d map[string]any) { model(d)["type"] = "Unigram" }, `$.model.type: "Unigram" models are not supported`},
		{"dropout", func(d map[string]any) { model(d)["dropout"] = 0.5 }, `$.model.dropout: dropout 0.5`},
		{"vocab id", func(d map[string]any) { model(d)["vocab"].(map[string]any)["a"] = "x" }, `$.model.vocab["a"]`},
		{"normalizer", func(d map[string]any) {
			d["normalizer"].(map[string]any)["normalizers"] = []any{map[string]any{"type": "Prepend", "prepend": "▁"}, map[string]any{"type": "NFKC"}}
		}, `$.normalizer.normalizers[1].type: normalizer "NFKC" is not supported`},
		{"regex replace", func(d map[string]any) {
			d["normalizer"].(map[string]any)["normalizers"] = []any{map[string]any{"type": "Replace", "pattern": map[string]any{"Regex": " +"}, "content": "▁"}}
		}, `$.normalizer.normalizers[0].pattern: want {"String": ...}`},
		{"pre-tokenizer", func(d map[string]any) { d["pre_tokenizer"] = map[string]any{"type": "Whitespace"} }, `$.pre_tokenizer.type: pre-tokenizer "Whitespace"`},
		{"prepend scheme", func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "sometimes"}
		}, `$.pre_tokenizer.prepend_scheme: unknown prepend scheme "sometimes"`},
		{"replacement", func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "__", "prepend_scheme": "first"}
		}, `$.pre_tokenizer.replacement: want one character`},
		{"decoder", func(d map[string]any) {
			d["decoder"].(map[string]any)["decoders"] = []any{map[string]any{"type": "WordPiece"}}
		}, `$.decoder.decoders[0].type: decoder "WordPiece" is not supported`},
		{"strip", func(d map[string]any) {
			d["decoder"].(map[string]any)["decoders"] = []any{map[string]any{"type": "Strip", "content": " ", "start": -1}}
		}, `$.decoder.decoders[0].start: want a count`},
		{"special id", func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 5, "content": "<s>", "special": true}}
		}, `$.added_tokens[0]: special token "<s>" has id 5, but model.vocab gives it id 1`},
		{"non-special", func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 20, "content": "hey", "special": false}}
		}, `$.added_tokens[0]: the non-special added token "hey"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := hfspmSmall()
			c.edit(doc)
			path := hfspmWrite(t, doc)
			_, err := LoadHFTokenizerJSON(path, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name the file and %q", err, c.want)
			}
		})
	}
}

func FuzzLoadHFSentencePieceJSON(f *testing.F) {
	seed, _ := json.Marshal(hfspmSmall())
	f.Add(seed, "abc xyz Aé😀 <s>")
	meta := hfspmSmall()
	meta["normalizer"] = nil
	meta["pre_tokenizer"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true}
	meta["decoder"] = map[string]any{"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always"}
	seed2, _ := json.Marshal(meta)
	f.Add(seed2, " a b  c ")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		path := filepath.Join(dir, "tokenizer.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		tok, err := LoadHFTokenizerJSON(path, Options{DisallowedAsText: true})
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if !utf8.ValidString(text) {
			return
		}
		ids, err := tok.Encode(text)
		if err != nil {
			return
		}
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("id %d outside vocabulary of %d", id, tok.VocabSize())
			}
		}
		_, _ = tok.Decode(ids)
	})
}
