package tokenizer

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/minerva-batch/minerva/engine/batch"
)

func mustNew(t testing.TB, name string, opts Options) *BPE {
	t.Helper()
	b, err := New(name, opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncodeKnownIDs(t *testing.T) {
	tests := []struct {
		enc, text string
		want      []int32
	}{
		{"cl100k_base", "hello world", []int32{15339, 1917}},
		{"cl100k_base", "a\x7fb", []int32{64, 221, 65}},
		{"cl100k_base", "", []int32{}},
		{"r50k_base", "Hello world", []int32{15496, 995}},
		{"gpt2", "Hello world", []int32{15496, 995}},
		{"o200k_base", "hello world", []int32{24912, 2375}},
	}
	for _, tt := range tests {
		t.Run(tt.enc+"/"+tt.text, func(t *testing.T) {
			got, err := mustNew(t, tt.enc, Options{}).Encode(tt.text)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}

func TestSpecialTokens(t *testing.T) {
	text := "hi<|endoftext|>there"
	b := mustNew(t, "cl100k_base", Options{})
	if _, err := b.Encode(text); !errors.Is(err, ErrDisallowedSpecial) || !strings.Contains(err.Error(), `"<|endoftext|>" at byte 2`) {
		t.Fatalf("default Encode error = %v, want disallowed special naming the token and offset", err)
	}
	got, err := mustNew(t, "cl100k_base", Options{AllowedSpecial: []string{"<|endoftext|>"}}).Encode(text)
	if err != nil {
		t.Fatal(err)
	}
	hi, there := b.EncodeOrdinary("hi"), b.EncodeOrdinary("there")
	want := append(append(append([]int32{}, hi...), 100257), there...)
	if !slices.Equal(got, want) {
		t.Errorf("allowed: got %v, want %v", got, want)
	}
	// Only the allowed token is allowed; another one still fails.
	if _, err := mustNew(t, "cl100k_base", Options{AllowedSpecial: []string{"<|fim_prefix|>"}}).Encode(text); !errors.Is(err, ErrDisallowedSpecial) {
		t.Errorf("other special allowed: err = %v, want ErrDisallowedSpecial", err)
	}
	all, err := mustNew(t, "cl100k_base", Options{AllowedSpecial: []string{"all"}}).Encode("<|fim_prefix|>x<|endofprompt|>")
	if err != nil || !slices.Equal(all, append(append([]int32{100258}, b.EncodeOrdinary("x")...), 100276)) {
		t.Errorf("all: got %v, %v", all, err)
	}
	asText, err := mustNew(t, "cl100k_base", Options{DisallowedAsText: true}).Encode(text)
	if err != nil || !slices.Equal(asText, b.EncodeOrdinary(text)) {
		t.Errorf("as text: got %v, %v; want %v", asText, err, b.EncodeOrdinary(text))
	}
	if _, err := New("cl100k_base", Options{AllowedSpecial: []string{"<|nope|>"}}); err == nil || !strings.Contains(err.Error(), "<|nope|>") {
		t.Errorf("unknown allowed special: err = %v", err)
	}
}

func TestErrors(t *testing.T) {
	b := mustNew(t, "cl100k_base", Options{})
	if _, err := b.Encode("ok\xffno"); !errors.Is(err, ErrInvalidUTF8) || !strings.Contains(err.Error(), "at byte 2") {
		t.Errorf("invalid UTF-8: err = %v", err)
	}
	if _, err := b.Decode([]int32{15339, 100256}); !errors.Is(err, ErrUnknownToken) || !strings.Contains(err.Error(), "id 100256 at position 1") {
		t.Errorf("hole id: err = %v", err)
	}
	if _, err := b.Decode([]int32{-1}); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("negative id: err = %v", err)
	}
	if _, err := b.Decode([]int32{200000}); !errors.Is(err, ErrUnknownToken) {
		t.Errorf("large id: err = %v", err)
	}
	if _, err := New("cl200k", Options{}); !errors.Is(err, ErrUnknownEncoding) || !strings.Contains(err.Error(), "cl100k_base") {
		t.Errorf("unknown encoding: err = %v", err)
	}
}

func TestDecodeSplitCharacter(t *testing.T) {
	b := mustNew(t, "cl100k_base", Options{})
	ids := b.EncodeOrdinary("🎉")
	if len(ids) < 2 {
		t.Skipf("🎉 is a single token here: %v", ids)
	}
	if _, err := b.Decode(ids[:1]); !errors.Is(err, ErrInvalidUTF8) {
		t.Errorf("split character: err = %v, want ErrInvalidUTF8", err)
	}
	raw, err := b.DecodeBytes(ids[:1])
	if err != nil || len(raw) == 0 {
		t.Errorf("DecodeBytes = %q, %v", raw, err)
	}
}

func TestRoundTrip(t *testing.T) {
	texts := []string{"", "Hello, world!", "  multiple   spaces\n\n\tand tabs\r\n", "naïve café 東京 🎉👍🏽", "x = f(a, b) // comment", "I'm you'RE we'LL ſ 'ſ"}
	for _, name := range Encodings() {
		b := mustNew(t, name, Options{})
		for _, s := range texts {
			ids, err := b.Encode(s)
			if err != nil {
				t.Fatal(err)
			}
			got, err := b.Decode(ids)
			if err != nil || got != s {
				t.Errorf("%s: Decode(Encode(%q)) = %q, %v", name, s, got, err)
			}
		}
	}
}

// TestMergeHeapEqualsSmall checks the O(n log n) merge against tiktoken's
// quadratic merge on random pieces.
func TestMergeHeapEqualsSmall(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabets := []string{"ab", "abc ", "the quick brown fox", "0123456789", "éあ🎉x"}
	for _, name := range Encodings() {
		b := mustNew(t, name, Options{})
		for trial := 0; trial < 200; trial++ {
			alpha := []rune(alphabets[trial%len(alphabets)])
			var sb strings.Builder
			for n := 1 + rng.IntN(120); sb.Len() < n; {
				sb.WriteRune(alpha[rng.IntN(len(alpha))])
			}
			piece := sb.String()
			small := b.mergeSmall(nil, piece)
			heap := b.mergeHeap(nil, piece)
			if !slices.Equal(small, heap) {
				t.Fatalf("%s: piece %q: small %v, heap %v", name, piece, small, heap)
			}
		}
	}
}

func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "a\x7fb", " \n \n \n", "\t\n\t\n", "I'M 123456 🎉"} {
		f.Add(s)
	}
	encs := make([]*BPE, 0, 4)
	for _, name := range Encodings() {
		encs = append(encs, mustNew(f, name, Options{DisallowedAsText: true}))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, b := range encs {
			ids, err := b.Encode(s)
			if err != nil {
				if !errors.Is(err, ErrInvalidUTF8) {
					t.Fatalf("%s: Encode(%q): %v", b.Name(), s, err)
				}
				continue
			}
			got, err := b.Decode(ids)
			if err != nil || got != s {
				t.Fatalf("%s: Decode(Encode(%q)) = %q, %v", b.Name(), s, got, err)
			}
		}
	})
}

func TestEncodeBatchOrderAndInvariance(t *testing.T) {
	b := mustNew(t, "cl100k_base", Options{})
	var items []batch.Item[string]
	for i := 0; i < 257; i++ {
		items = append(items, batch.Item[string]{ID: fmt.Sprint(i), Data: strings.Repeat("word ", i%17) + fmt.Sprint(i)})
	}
	items[100].Data = "\xff"
	for _, threads := range []int{1, 2, 8, 0} {
		resps := EncodeBatch(context.Background(), b, items, threads)
		for i, r := range resps {
			if r.ID != items[i].ID {
				t.Fatalf("threads %d: response %d has id %s", threads, i, r.ID)
			}
			want, err := b.Encode(items[i].Data)
			if (err == nil) != (r.Err == nil) || !slices.Equal(r.Data, want) {
				t.Fatalf("threads %d: item %d: %v %v, want %v %v", threads, i, r.Data, r.Err, want, err)
			}
			if r.Start.IsZero() || r.Duration < 0 {
				t.Errorf("item %d not timed: %+v", i, r)
			}
		}
	}
	// With special tokens allowed, over items of very different sizes.
	all := mustNew(t, "o200k_base", Options{AllowedSpecial: []string{"all"}})
	var mixed []batch.Item[string]
	for i := range 300 {
		mixed = append(mixed, batch.Item[string]{ID: fmt.Sprint(i), Data: strings.Repeat("héllo<|endoftext|> wörld ", (i*37)%101) + "\xff\xfe"[:i%3]})
	}
	for _, threads := range []int{1, 2, 3, 8} {
		for i, r := range EncodeBatch(context.Background(), all, mixed, threads) {
			want, err := all.Encode(mixed[i].Data)
			if r.ID != mixed[i].ID || (err == nil) != (r.Err == nil) || !slices.Equal(r.Data, want) || len(r.Data) != cap(r.Data) {
				t.Fatalf("threads %d: item %d: %v %v (cap %d), want %v %v", threads, i, r.Data, r.Err, cap(r.Data), want, err)
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, r := range EncodeBatch(ctx, b, items[:3], 2) {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("cancelled: %+v", r)
		}
	}
	dec := DecodeBatch(context.Background(), b, []batch.Item[[]int32]{{ID: "x", Data: []int32{15339}}, {ID: "y", Data: []int32{1 << 30}}}, 2)
	if dec[0].Data != "hello" || dec[0].Err != nil || !errors.Is(dec[1].Err, ErrUnknownToken) {
		t.Errorf("DecodeBatch = %+v", dec)
	}
}

func FuzzParseTiktoken(f *testing.F) {
	var valid strings.Builder
	for i := 0; i < 256; i++ {
		fmt.Fprintf(&valid, "%s %d\n", base64.StdEncoding.EncodeToString([]byte{byte(i)}), i)
	}
	f.Add(valid.String())
	f.Add(valid.String() + "aGk= x\n")
	f.Add("bad")
	f.Fuzz(func(t *testing.T, s string) {
		ranks, err := parseTiktoken(strings.NewReader(s), "fuzz.tiktoken")
		if err == nil && len(ranks) < 256 {
			t.Fatalf("accepted a vocabulary without all 256 bytes")
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.tiktoken") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// TestPatternSpellings checks that both spellings of a pattern select the
// splitter of the encoding that uses it.
func TestPatternSpellings(t *testing.T) {
	for _, p := range []string{PatternGPT2, PatternGPT2Legacy, PatternCL100K, PatternCL100KLegacy, PatternO200K} {
		if _, err := splitterFor(p); err != nil {
			t.Error(err)
		}
	}
	if _, err := splitterFor(`\w+`); err == nil || !strings.Contains(err.Error(), "unsupported") {
		t.Errorf("unknown pattern: %v", err)
	}
}
