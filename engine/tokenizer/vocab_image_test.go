package tokenizer

import (
	"bytes"
	"flag"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pkoukk/tiktoken-go-loader/assets"
)

var writeImages = flag.Bool("write-vocab-images", false, "rewrite vocab_images/ from the rank files (go generate)")

// buildImage builds the image of a built-in encoding from its rank file.
func buildImage(t testing.TB, name string) ([]byte, *vocabTable) {
	t.Helper()
	data, err := assets.Assets.ReadFile(specs[name].file)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := parseTiktokenTableSeed(data, specs[name].file, imageSeed)
	if err != nil {
		t.Fatal(err)
	}
	return appendImage(nil, tab), tab
}

// TestVocabImages rebuilds every built-in encoding's image from its rank
// file and compares it with the embedded one, byte for byte, so that a stale
// image fails; with -write-vocab-images (go generate) it writes them instead.
// It then checks that the table loaded from the image is the parsed one.
func TestVocabImages(t *testing.T) {
	for _, name := range Encodings() {
		t.Run(name, func(t *testing.T) {
			img, parsed := buildImage(t, name)
			if *writeImages {
				if err := os.WriteFile(filepath.Join("vocab_images", name+".vocab"), img, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !bytes.Equal(img, []byte(specs[name].image)) {
				t.Fatalf("vocab_images/%s.vocab is stale (%d bytes, want %d): run go generate ./engine/tokenizer", name, len(specs[name].image), len(img))
			}
			got, err := tableFromImage(specs[name].image)
			if err != nil {
				t.Fatal(err)
			}
			if got.arena != parsed.arena || !slices.Equal(got.offs, parsed.offs) || !slices.Equal(got.ranks, parsed.ranks) ||
				!slices.Equal(got.slots, parsed.slots) || got.mask != parsed.mask || got.seed != parsed.seed || got.bits != parsed.bits {
				t.Fatal("the table loaded from the image differs from the parsed one")
			}
			// The backtracker built with the image's split hints is the one
			// built by searching for each token's last merge.
			want, fast := newBacktracker(parsed), newBacktracker(got)
			if want == nil || fast == nil || got.hints == "" {
				t.Fatalf("backtracker: searched %v, hinted %v, %d bytes of hints", want != nil, fast != nil, len(got.hints))
			}
			if !slices.Equal(want.split, fast.split) || !slices.Equal(want.first, fast.first) || !slices.Equal(want.tok, fast.tok) ||
				!slices.Equal(want.prefix, fast.prefix) || !slices.Equal(want.size, fast.size) {
				t.Fatal("the backtracker built with split hints differs")
			}
			for r, sp := range want.split {
				if sp[0] == uint32(r) {
					continue
				}
				if m, ok := fast.pairs.get(sp[0], sp[1]); !ok || m != uint32(r) {
					t.Fatalf("pair %v: hinted table gives %d, %v; want %d", sp, m, ok, r)
				}
			}
			// Every token of the rank file is found with its rank.
			data, _ := assets.Assets.ReadFile(specs[name].file)
			ranks, err := parseTiktoken(bytes.NewReader(data), name)
			if err != nil {
				t.Fatal(err)
			}
			if got.len() != len(ranks) {
				t.Fatalf("%d tokens, want %d", got.len(), len(ranks))
			}
			for tok, r := range ranks {
				if g, ok := got.get(tok); !ok || g != r {
					t.Fatalf("get(%q) = %d, %v; want %d", tok, g, ok, r)
				}
			}
			if _, ok := got.get("not a token at all"); ok {
				t.Error("found a token that is not in the vocabulary")
			}
		})
	}
}

// TestVocabImageMalformed checks that truncated or corrupted images are
// errors, not panics, and that New falls back to the rank file.
func TestVocabImageMalformed(t *testing.T) {
	img, _ := buildImage(t, "r50k_base")
	for _, cut := range []int{0, 5, len(imageMagic) + 10, 40, len(img) / 2, len(img) - 1} {
		if _, err := tableFromImage(string(img[:cut])); err == nil {
			t.Errorf("image cut at %d: no error", cut)
		}
	}
	bad := slices.Clone(img)
	bad[len(imageMagic)+8] ^= 1 // n
	if _, err := tableFromImage(string(bad)); err == nil {
		t.Error("wrong entry count: no error")
	}
	// Wrong split hints make no backtracker (the heap merge is used).
	tab, err := tableFromImage(string(img))
	if err != nil {
		t.Fatal(err)
	}
	for _, hints := range []string{tab.hints[:len(tab.hints)-1], tab.hints + "\x00", "\x01" + tab.hints[1:], tab.hints[:300] + "\x05" + tab.hints[301:]} {
		tab.hints = hints
		if newBacktracker(tab) != nil {
			t.Errorf("hints %.20q...: a backtracker was built", hints)
		}
	}
	spec := specs["r50k_base"]
	spec.image = ""
	if _, _, err := loadEncoding("r50k_base", spec); err == nil || !strings.Contains(err.Error(), "go generate") {
		t.Errorf("empty image: err = %v, want one that says to run go generate", err)
	}
}

// TestVocabTableLengths checks lookups of keys of every length the hash
// treats differently (1–3, 4–16, longer, several 16-byte blocks), present
// and absent, and that a seed gives the same slots every time.
func TestVocabTableLengths(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	ranks := map[string]int32{}
	var absent []string
	for n := 1; n <= 70; n++ {
		for range 40 {
			b := make([]byte, n)
			for i := range b {
				b[i] = "ab\x00\xff"[rng.IntN(4)]
			}
			if rng.IntN(3) == 0 {
				absent = append(absent, string(b))
			} else if _, ok := ranks[string(b)]; !ok {
				ranks[string(b)] = int32(len(ranks))
			}
		}
	}
	tab := tableFromMap(ranks)
	for k, r := range ranks {
		if got, ok := tab.get(k); !ok || got != r {
			t.Fatalf("get(%q) = %d, %v; want %d", k, got, ok, r)
		}
	}
	for _, k := range absent {
		if _, in := ranks[k]; !in {
			if got, ok := tab.get(k); ok {
				t.Fatalf("get(%q) = %d for a key not in the table", k, got)
			}
		}
	}
	if _, ok := tab.get(""); ok {
		t.Error("found the empty key")
	}
	b := newVocabBuilder(len(tab.ranks), len(tab.arena))
	for e := range tab.len() {
		b.add([]byte(tab.key(e)), tab.ranks[e])
	}
	t1, _, _ := b.buildSeed(42)
	t2, _, _ := b.buildSeed(42)
	if !slices.Equal(t1.slots, t2.slots) {
		t.Error("the same seed gave different slots")
	}
}
