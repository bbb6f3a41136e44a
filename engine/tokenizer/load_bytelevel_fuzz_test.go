package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// blFuzzTexts are encoded by every tokenizer a fuzzed file loads into.
var blFuzzTexts = []string{"", "abc abcd xyz", "Hello world", " \n\n  x\t", "é東🎉", "<|endoftext|> <|end|>", "ab ab ab abab"}

// blCheckLoaded checks a tokenizer loaded from fuzzed input: every byte is a
// token, so each text must encode, and decode to itself.
func blCheckLoaded(t *testing.T, tok Tokenizer) {
	t.Helper()
	for _, s := range blFuzzTexts {
		ids, err := tok.Encode(s)
		if err != nil {
			t.Fatalf("Encode(%q): %v", s, err)
		}
		got, err := tok.Decode(ids)
		if err != nil || got != s {
			t.Fatalf("Decode(Encode(%q)) = %q, %v (ids %v)", s, got, err, ids)
		}
	}
	if _, err := tok.Decode([]int32{-1}); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("Decode(-1): err = %v", err)
	}
}

// blCheckLoadErr checks that a loader's error names the file.
func blCheckLoadErr(t *testing.T, err error, files ...string) {
	t.Helper()
	for _, f := range files {
		if strings.Contains(err.Error(), f) {
			return
		}
	}
	t.Fatalf("error %q names none of %v", err, files)
}

// FuzzLoadTiktokenFile loads arbitrary rank files: each must give a
// tokenizer that encodes and decodes text losslessly, or an error naming the
// file; never a panic.
func FuzzLoadTiktokenFile(f *testing.F) {
	valid := blSmallTiktoken(blSmallMerges)
	f.Add(valid)
	for _, n := range []int{0, 7, 100, len(valid) / 2, len(valid) - 9, len(valid) - 1} {
		f.Add(valid[:n])
	}
	f.Add(blSmallTiktoken(map[string]int32{"ab": 256, "cd": 256}))
	f.Add(blSmallTiktoken(map[string]int32{"ab": 99999999}))
	f.Add(blSmallTiktoken(map[string]int32{"<|endoftext|>": 300}))
	f.Add(append(valid[:len(valid):len(valid)], "YWJj 9\r\n\n\nYQ 1\n"...))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := blWriteFile(t, dir, "fuzz.tiktoken", data)
		special := map[string]int32{"<|endoftext|>": 1000}
		b, err := LoadTiktokenFile(path, PatternCL100K, special, Options{DisallowedAsText: true})
		if err != nil {
			if b != nil {
				t.Fatalf("a tokenizer and the error %v", err)
			}
			blCheckLoadErr(t, err, path)
			return
		}
		blCheckLoaded(t, b)
	})
}

// FuzzLoadGPT2 loads arbitrary encoder.json and vocab.bpe pairs, with the
// same requirements as FuzzLoadTiktokenFile.
func FuzzLoadGPT2(f *testing.F) {
	dir := f.TempDir()
	encPath, bpePath := blTinyGPT2(f, dir, nil)
	enc, merges := blReadFile(f, encPath), blReadFile(f, bpePath)
	f.Add(enc, merges)
	for _, n := range []int{0, 1, 10, len(enc) / 2, len(enc) - 1} {
		f.Add(enc[:n], merges)
	}
	for _, n := range []int{0, 5, 14, 15, len(merges) - 4, len(merges) - 1} {
		f.Add(enc, merges[:n])
	}
	f.Add(enc, []byte("#version: 0.2\nb a\n"))
	f.Add(enc, []byte("a b\r\nab c\r\n"))
	f.Add([]byte(`{"a": 1, "a": 1}`), merges)
	f.Add([]byte(`{"a": -1e99}`), merges)
	f.Add([]byte(`{"\u00ff\u0100": 3}`), merges)
	f.Fuzz(func(t *testing.T, enc, merges []byte) {
		encPath := blWriteFile(t, dir, "encoder.json", enc)
		bpePath := blWriteFile(t, dir, "vocab.bpe", merges)
		b, err := LoadGPT2(encPath, bpePath, Options{DisallowedAsText: true})
		if err != nil {
			if b != nil {
				t.Fatalf("a tokenizer and the error %v", err)
			}
			blCheckLoadErr(t, err, encPath, bpePath)
			return
		}
		blCheckLoaded(t, b)
	})
}

// FuzzLoadHFTokenizerJSON loads arbitrary tokenizer.json files, with the
// same requirements as FuzzLoadTiktokenFile.
func FuzzLoadHFTokenizerJSON(f *testing.F) {
	tiny, err := json.Marshal(blTinyHF())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tiny)
	for _, n := range []int{0, 1, 2, 30, len(tiny) / 3, len(tiny) / 2, len(tiny) - 40, len(tiny) - 1} {
		f.Add(tiny[:n])
	}
	variants := []func(doc map[string]any){
		func(d map[string]any) { d["model"].(map[string]any)["ignore_merges"] = true },
		func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
				map[string]any{"type": "Split", "pattern": map[string]any{"Regex": PatternO200K}, "behavior": "Isolated", "invert": false},
				map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false},
			}}
		},
		func(d map[string]any) {
			d["pre_tokenizer"] = map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}
			d["model"].(map[string]any)["merges"] = []any{"a b", "a b", "ab c", "Ġ a", "Ġa b"}
			d["model"].(map[string]any)["vocab"].(map[string]any)["Ġa"] = 300
			d["model"].(map[string]any)["vocab"].(map[string]any)["Ġab"] = 301
		},
		func(d map[string]any) {
			d["added_tokens"] = []any{map[string]any{"id": 1, "content": "<|end|>", "special": true},
				map[string]any{"id": 400, "content": "<|endoftext|>", "special": true}}
		},
		func(d map[string]any) { d["model"].(map[string]any)["vocab"].(map[string]any)["x y"] = 500 },
		func(d map[string]any) {
			d["decoder"] = map[string]any{"type": "Sequence", "decoders": []any{map[string]any{"type": "ByteLevel"}}}
		},
	}
	for _, edit := range variants {
		doc := blTinyHF()
		edit(doc)
		data, err := json.Marshal(doc)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "tokenizer.json")
		blWriteFile(t, dir, "tokenizer.json", data)
		tok, err := LoadHFTokenizerJSON(path, Options{DisallowedAsText: true})
		if err != nil {
			if tok != nil {
				t.Fatalf("a tokenizer and the error %v", err)
			}
			blCheckLoadErr(t, err, path)
			return
		}
		blCheckLoaded(t, tok)
	})
}

func blReadFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
