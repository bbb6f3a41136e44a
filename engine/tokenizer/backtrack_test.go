package tokenizer

import (
	"encoding/base64"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// backtrackerOf returns b's backtracking encoder, failing the test when the
// vocabulary was found not to suit it.
func backtrackerOf(t testing.TB, b *BPE) *backtracker {
	t.Helper()
	bt := b.vocab.backtracker()
	if bt == nil {
		t.Fatalf("%s: no backtracking encoder", b.Name())
	}
	return bt
}

// checkBacktrack compares the backtracking encoder with the heap merge (the
// reference: tiktoken's lowest-rank-first merge) on one piece.
func checkBacktrack(t testing.TB, b *BPE, bt *backtracker, piece string) {
	t.Helper()
	want := b.mergeHeap(nil, piece)
	got, _, ok := bt.encode(nil, piece, nil)
	if !ok || !slices.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s: piece %.60q (%d bytes): backtracking gives %d ids (ok %v), heap %d; first difference at id %d: %v, want %v",
			b.Name(), piece, len(piece), len(got), ok, len(want), i, got[i:min(len(got), i+4)], want[i:min(len(want), i+4)])
	}
}

// TestBacktrackEqualsHeap checks the backtracking encoder against the heap
// merge on random strings over few letters (where merges interact the most),
// on every piece of the corpora and on raw stretches of them taken as one
// piece (spaces, newlines and punctuation included).
func TestBacktrackEqualsHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabets := []string{"a", "ab", "abc", "aab", "01", "0123456789", " \n", "the", "=-", "éあ🎉x", "\x00\xff\x80"}
	var corpora []string
	for _, f := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt", "multilingual_udhr_emoji.txt", "adv_numbers.txt", "adv_regex_edge.txt", "adv_whitespace.txt", "adv_random_utf8.txt", "adv_invalid_utf8.bin"} {
		data, err := os.ReadFile(filepath.Join(corporaDir, f))
		if err != nil {
			t.Fatal(err)
		}
		corpora = append(corpora, string(data[:min(len(data), 100_000)]))
	}
	for _, name := range Encodings() {
		b := mustNew(t, name, Options{})
		bt := backtrackerOf(t, b)
		for trial := range 300 {
			alpha := alphabets[trial%len(alphabets)]
			n := 1 + rng.IntN(1+[]int{10, 200, 3000}[trial%3])
			buf := make([]byte, n)
			for i := range buf {
				buf[i] = alpha[rng.IntN(len(alpha))]
			}
			checkBacktrack(t, b, bt, string(buf))
		}
		for _, text := range corpora {
			for i := 0; i < len(text); {
				j := b.split(text, i)
				checkBacktrack(t, b, bt, text[i:j])
				i = j
			}
			for i := 0; i+4096 <= len(text); i += 37_000 {
				checkBacktrack(t, b, bt, text[i:i+4096])
			}
		}
	}
}

// TestBacktrackLongWord checks the backtracking encoder on the megabyte with
// no whitespace, and that Encode and Count agree with the heap merge on it.
func TestBacktrackLongWord(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(corporaDir, "adv_longword_1m.txt"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ToValidUTF8(string(data), "")
	for _, name := range []string{"cl100k_base", "o200k_base"} {
		b := mustNew(t, name, Options{})
		bt := backtrackerOf(t, b)
		checkBacktrack(t, b, bt, text)
		ids := b.EncodeOrdinary(text)
		if n, err := b.Count(text); err != nil || n != len(ids) {
			t.Errorf("%s: Count = %d, %v; Encode gives %d ids", name, n, err, len(ids))
		}
	}
}

// FuzzBacktrack compares the backtracking encoder with the heap merge on
// arbitrary bytes taken as one piece.
func FuzzBacktrack(f *testing.F) {
	for _, s := range []string{"aaaaaaaaaaaaaaaa", "abababababababab", "  \n\n  ", "0123456789012345678901234567890", "éééééé"} {
		f.Add(s)
	}
	var encs []*BPE
	var bts []*backtracker
	for _, name := range Encodings() {
		b := mustNew(f, name, Options{})
		encs = append(encs, b)
		bts = append(bts, backtrackerOf(f, b))
	}
	f.Fuzz(func(t *testing.T, s string) {
		for i, b := range encs {
			checkBacktrack(t, b, bts[i], s)
		}
	})
}

// FuzzDecodeBase64 checks the rank-file loader's base64 fast path against
// encoding/base64: whatever it accepts, it decodes to the same bytes.
func FuzzDecodeBase64(f *testing.F) {
	for _, s := range []string{"aGk=", "aA==", "////", "a===", "ab=c", "IQ==", "4pyF", "", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf [1024]byte
		if len(s) > 1024 {
			return
		}
		n, ok := decodeBase64(buf[:], []byte(s))
		want, err := base64.StdEncoding.DecodeString(s)
		if ok && (err != nil || string(buf[:n]) != string(want)) {
			t.Fatalf("decodeBase64(%q) = %q; encoding/base64 gives %q, %v", s, buf[:n], want, err)
		}
		if !ok && err == nil && len(s) > 0 && len(s)%4 == 0 && !strings.ContainsAny(s, "\r\n") {
			t.Fatalf("decodeBase64(%q) refused valid base64", s)
		}
	})
}
