package tokenizer

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/engine/batch"
)

// The real tokenizer files of the shared models, beside the checkout.
const (
	spLlamaBin   = "../../../shared/models/llama2-tokenizer/tokenizer.bin"
	spLlamaModel = "../../../shared/models/llama2-tokenizer/tokenizer.model"
	spTok512     = "../../../shared/models/stories260K/tok512.bin"
	spGGUF       = "../../../shared/models/stories260K/stories260K.gguf"
	spCorpora    = "../../../shared/corpora"
)

var spCache sync.Map // path -> *SentencePiece

// spLoad loads a real tokenizer file once per test binary, with the loader
// its name calls for.
func spLoad(t testing.TB, path string) *SentencePiece {
	t.Helper()
	if s, ok := spCache.Load(path); ok {
		return s.(*SentencePiece)
	}
	var s *SentencePiece
	var err error
	switch filepath.Ext(path) {
	case ".bin":
		s, err = LoadLlama2C(path)
	case ".model":
		s, err = LoadSentencePieceModel(path)
	case ".gguf":
		s, err = LoadGGUFVocab(path)
	}
	if err != nil {
		t.Fatal(err)
	}
	spCache.Store(path, s)
	return s
}

// spReference is llama2.c's encode() transcribed literally: O(n²) merging
// by string concatenation, with BOS in the token array while merging. It
// looks up only the pieces SentencePiece matches against text (see
// SentencePiece), and falls back to the byte piece of ' ' for a missing
// dummy prefix.
func spReference(s *SentencePiece, text string, bos, eos bool) []int32 {
	var toks []int32
	if bos {
		toks = append(toks, s.bos)
	}
	char := func(c string) {
		if id, ok := s.lookup[c]; ok {
			toks = append(toks, id)
			return
		}
		for i := 0; i < len(c); i++ {
			toks = append(toks, s.byteID[c[i]])
		}
	}
	if text != "" && s.dummyPrefix {
		char(" ")
	}
	for _, r := range text {
		char(string(r))
	}
	for {
		best, bestID, bestIdx := float32(-1e10), int32(-1), -1
		for i := 0; i+1 < len(toks); i++ {
			id, ok := s.lookup[s.pieces[toks[i]].Text+s.pieces[toks[i+1]].Text]
			if ok && s.pieces[id].Score > best {
				best, bestID, bestIdx = s.pieces[id].Score, id, i
			}
		}
		if bestIdx < 0 {
			break
		}
		toks[bestIdx] = bestID
		toks = slices.Delete(toks, bestIdx+1, bestIdx+2)
	}
	if eos {
		toks = append(toks, s.eos)
	}
	return toks
}

// spDocs cuts the valid UTF-8 corpora into documents of about size bytes
// (at character boundaries), at most perFile from each file.
func spDocs(t testing.TB, size, perFile int) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(spCorpora, "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpora in %s (the shared folder must sit beside the checkout): %v", spCorpora, err)
	}
	out := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".md") || strings.Contains(f, "longword_1m") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.Valid(data) {
			continue
		}
		var docs []string
		for k := range perFile {
			start := (len(data) - size) * k / perFile
			for start > 0 && !utf8.RuneStart(data[start]) {
				start--
			}
			end := min(start+size, len(data))
			for end < len(data) && !utf8.RuneStart(data[end]) {
				end--
			}
			docs = append(docs, string(data[start:end]))
		}
		out[filepath.Base(f)] = docs
	}
	return out
}

func TestSentencePieceKnownIDs(t *testing.T) {
	tests := []struct {
		path     string
		text     string
		bos, eos bool
		want     []int32
	}{
		// The project's anchor (PROVENANCE.md): run.c and llama.cpp agree.
		{spTok512, "Once upon a time", true, false, []int32{1, 403, 407, 261, 378}},
		{spGGUF, "Once upon a time", true, false, []int32{1, 403, 407, 261, 378}},
		// llama2.c's test.c.
		{spLlamaBin, "I believe the meaning of life is", true, false, []int32{1, 306, 4658, 278, 6593, 310, 2834, 338}},
		{spLlamaModel, "I believe the meaning of life is", true, false, []int32{1, 306, 4658, 278, 6593, 310, 2834, 338}},
		{spLlamaBin, "", true, false, []int32{1}},
		{spLlamaBin, "", false, true, []int32{2}},
		{spLlamaBin, "", false, false, []int32{}},
		{spTok512, "Once upon a time", false, true, []int32{403, 407, 261, 378, 2}},
		// " " is the dummy prefix alone (29871 in Llama 2).
		{spLlamaBin, " ", false, false, []int32{259}},
		{spLlamaBin, "a", false, false, []int32{263}},
		// Byte fallback: U+1F389 is not a piece: F0 9F 8E 89 + 3.
		{spTok512, "🎉", false, false, []int32{410, 243, 162, 145, 140}},
		{spLlamaBin, "\x00", false, false, []int32{29871, 3}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path)+"/"+tc.text, func(t *testing.T) {
			s := spLoad(t, tc.path)
			got, err := s.EncodeWith(tc.text, tc.bos, tc.eos)
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("EncodeWith(%q, %v, %v) = %v, %v; want %v", tc.text, tc.bos, tc.eos, got, err, tc.want)
			}
			if ref := spReference(s, tc.text, tc.bos, tc.eos); !slices.Equal(ref, tc.want) {
				t.Errorf("reference = %v", ref)
			}
			if tc.bos && !tc.eos {
				if enc, _ := s.Encode(tc.text); !slices.Equal(enc, tc.want) {
					t.Errorf("Encode = %v", enc)
				}
			}
		})
	}
}

// TestSentencePieceVocabsAgree checks that the loaders read the same
// vocabulary from the different files of one tokenizer.
func TestSentencePieceVocabsAgree(t *testing.T) {
	for _, pair := range [][2]string{{spLlamaBin, spLlamaModel}, {spTok512, spGGUF}} {
		a, b := spLoad(t, pair[0]), spLoad(t, pair[1])
		if a.VocabSize() != b.VocabSize() || a.BOS() != b.BOS() || a.EOS() != b.EOS() {
			t.Fatalf("%s: %d pieces, BOS %d, EOS %d; %s: %d, %d, %d", pair[0], a.VocabSize(), a.BOS(), a.EOS(), pair[1], b.VocabSize(), b.BOS(), b.EOS())
		}
		for id := range int32(a.VocabSize()) {
			pa, _ := a.Piece(id)
			pb, _ := b.Piece(id)
			textA := pa.Text
			if id == 1 || id == 2 {
				// llama2.c's export writes BOS and EOS as "\n<s>\n" and "\n</s>\n".
				textA = strings.Trim(textA, "\n")
			}
			if textA != pb.Text || math.Float32bits(pa.Score) != math.Float32bits(pb.Score) || pa.Type != pb.Type {
				t.Errorf("%s and %s differ at id %d: %+v vs %+v", pair[0], pair[1], id, pa, pb)
			}
		}
	}
	if p, _ := spLoad(t, spLlamaModel).Piece(29871); p.Text != " " || p.Type != PieceNormal {
		t.Errorf("tokenizer.model piece 29871 = %+v, want the space", p)
	}
}

// TestSentencePieceMatchesLlama2CLookup checks, for the real vocabularies,
// the condition under which matching only normal and user-defined pieces
// gives llama2.c's result although llama2.c looks every piece up: no other
// piece is one character, and no piece splits into two pieces unless all
// three are matched.
func TestSentencePieceMatchesLlama2CLookup(t *testing.T) {
	for _, path := range []string{spLlamaBin, spTok512, spLlamaModel, spGGUF} {
		s := spLoad(t, path)
		all := map[string]bool{}
		for _, p := range s.pieces {
			all[p.Text] = true
		}
		matched := func(text string) bool { _, ok := s.lookup[text]; return ok }
		bad := 0
		for _, p := range s.pieces {
			if !matched(p.Text) && utf8.RuneCountInString(p.Text) == 1 {
				t.Errorf("%s: the %s piece %q is one character", path, p.Type, p.Text)
				bad++
			}
			for k := 1; k < len(p.Text); k++ {
				l, r := p.Text[:k], p.Text[k:]
				if all[l] && all[r] && !(matched(p.Text) && matched(l) && matched(r)) {
					t.Errorf("%s: %q = %q + %q involves a piece that is not matched", path, p.Text, l, r)
					bad++
				}
			}
			if bad > 10 {
				t.FailNow()
			}
		}
	}
}

// TestSentencePieceLlama2CGolden compares our ids with llama2.c's own.
//
// testdata/llama2c_golden.jsonl.gz holds, for 310 documents, the ids that
// llama2.c's encode() gives with tokenizer.bin (bos=1, eos=0). It was made
// by compiling build_tokenizer, str_lookup and encode, unchanged, from
// run.c of github.com/karpathy/llama2.c (HEAD, which is byte-identical in
// these functions to the version the shared models were checked with) with
// a small main that reads (file, offset, length) windows of
// ../../../shared/corpora and prints the ids, built with gcc -O2 outside
// this repository (no llama2.c code is committed). The documents are
// windows of about 2000 bytes spread evenly over each valid UTF-8 corpus
// (70 english, 70 Go code, 80 multilingual/emoji, 20 each of whitespace,
// numbers, random UTF-8 and regex edge cases, 10 of the 64 KiB long word),
// cut at character boundaries and moved past NUL bytes, which C strings
// cannot hold. Each line is {"file", "off", "len", "ids"}.
func TestSentencePieceLlama2CGolden(t *testing.T) {
	s := spLoad(t, spLlamaBin)
	rows := spReadGolden(t, "testdata/llama2c_golden.jsonl.gz")
	if len(rows) != 310 {
		t.Fatalf("%d golden rows, want 310", len(rows))
	}
	files := map[string][]byte{}
	perFile := map[string]int{}
	total := 0
	for i, row := range rows {
		data, ok := files[row.File]
		if !ok {
			var err error
			if data, err = os.ReadFile(filepath.Join(spCorpora, row.File)); err != nil {
				t.Fatal(err)
			}
			files[row.File] = data
		}
		if row.Off < 0 || row.Len < 0 || row.Off+row.Len > len(data) {
			t.Fatalf("row %d: window %d+%d outside %s", i, row.Off, row.Len, row.File)
		}
		doc := string(data[row.Off : row.Off+row.Len])
		got, err := s.Encode(doc)
		if err != nil {
			t.Fatalf("row %d (%s @%d): %v", i, row.File, row.Off, err)
		}
		if !slices.Equal(got, row.IDs) {
			k := 0
			for k < len(got) && k < len(row.IDs) && got[k] == row.IDs[k] {
				k++
			}
			t.Errorf("row %d (%s @%d): ids differ from llama2.c's at %d: ours %v, llama2.c %v", i, row.File, row.Off, k,
				got[k:min(k+5, len(got))], row.IDs[k:min(k+5, len(row.IDs))])
			continue
		}
		perFile[row.File]++
		total += len(got)
	}
	t.Logf("%d documents, %d ids identical to llama2.c's: %v", len(rows), total, perFile)
}

// TestSentencePieceHeapMatchesReference compares the O(n log n) merge with
// the literal O(n²) llama2.c loop on the real vocabularies, on random text
// and on corpus documents.
func TestSentencePieceHeapMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	alphabet := []string{"a", "e", "t", "h", " ", " ", "  ", "\n", "é", "日本", "🎉", "x", "q", "Th", "ing", "1", ".", "\t", "ё", "ا"}
	for _, path := range []string{spTok512, spLlamaBin} {
		s := spLoad(t, path)
		check := func(text string) {
			t.Helper()
			got, err := s.EncodeWith(text, true, true)
			want := spReference(s, text, true, true)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("%s: %q: heap %v, %v; reference %v", path, text, got, err, want)
			}
			spCheckMergers(t, s, text)
		}
		for range 2000 {
			var b strings.Builder
			for range r.IntN(80) {
				b.WriteString(alphabet[r.IntN(len(alphabet))])
			}
			check(b.String())
		}
		for _, docs := range spDocs(t, 300, 40) {
			for _, d := range docs {
				check(d)
			}
		}
	}
}

// spRandomVocab makes a small random vocabulary with many equal scores,
// scores that never merge (NaN, -Inf, -1e10 and below), duplicate pieces
// and missing characters.
func spRandomVocab(r *rand.Rand) *SentencePiece {
	chars := []string{"a", "b", "c", " ", "é", "日", "🎉"}
	scores := []float32{0, float32(math.Copysign(0, -1)), -1, -2, -3, 1, -1e9, -1e10, -2e10,
		float32(math.NaN()), float32(math.Inf(-1)), -1e10 + 1e3}
	pieces := []Piece{{"<unk>", 0, PieceUnknown}, {"<s>", 0, PieceControl}, {"</s>", 0, PieceControl}}
	for b := range 256 {
		pieces = append(pieces, Piece{fmt.Sprintf("<0x%02X>", b), 0, PieceByte})
	}
	for _, c := range chars {
		if r.IntN(5) > 0 {
			pieces = append(pieces, Piece{c, scores[r.IntN(len(scores))], PieceNormal})
		}
	}
	// Half the vocabularies have spaces only at the start of pieces, as
	// Llama's do, so that the text is merged in runs cut before spaces.
	leadingSpaces := r.IntN(2) == 0
	for range 5 + r.IntN(150) {
		var b strings.Builder
		for range 2 + r.IntN(4) {
			c := chars[r.IntN(len(chars))]
			if leadingSpaces && c == " " && b.Len() > 0 && !strings.HasSuffix(b.String(), " ") {
				c = "a"
			}
			b.WriteString(c)
		}
		typ := PieceNormal
		switch r.IntN(20) {
		case 0:
			typ = PieceUserDefined
		case 1:
			typ = PieceUnused
		}
		pieces = append(pieces, Piece{b.String(), scores[r.IntN(len(scores))], typ})
	}
	r.Shuffle(len(pieces)-259, func(i, j int) { pieces[259+i], pieces[259+j] = pieces[259+j], pieces[259+i] })
	s, err := newSentencePiece("random", spVocab{pieces: pieces, bos: 1, eos: 2, dummyPrefix: r.IntN(4) > 0})
	if err != nil {
		panic(err)
	}
	return s
}

func TestSentencePieceRandomVocabs(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	chars := []string{"a", "b", "c", " ", "é", "日", "🎉", "z", "\n"}
	splits := 0
	for v := range 400 {
		s := spRandomVocab(r)
		if s.spaceSplits {
			splits++
		}
		for range 50 {
			var b strings.Builder
			for range r.IntN(150) {
				b.WriteString(chars[r.IntN(len(chars))])
			}
			text := b.String()
			bos, eos := r.IntN(2) == 0, r.IntN(2) == 0
			got, err := s.EncodeWith(text, bos, eos)
			want := spReference(s, text, bos, eos)
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("vocab %d %v: %q: heap %v, %v; reference %v", v, s.pieces[259:], text, got, err, want)
			}
			if bos {
				dec, err := s.Decode(got)
				if err != nil || dec != text {
					t.Fatalf("vocab %d: Decode(Encode(%q)) = %q, %v", v, text, dec, err)
				}
			}
			spCheckMergers(t, s, text)
		}
	}
	if splits < 100 || splits > 300 {
		t.Errorf("%d of 400 random vocabularies split at spaces", splits)
	}
}

// spCheckMergers checks that mergeSmall and mergeHeap agree with the
// reference on the whole text, whatever its length and the space cuts.
func spCheckMergers(t *testing.T, s *SentencePiece, text string) {
	t.Helper()
	var toks []int32
	if text != "" && s.dummyPrefix {
		toks = s.appendChar(toks, " ")
	}
	for _, r := range text {
		toks = s.appendChar(toks, string(r))
	}
	if len(toks) < 2 {
		return // the mergers are called with two tokens or more
	}
	want := spReference(s, text, false, false)
	heap := slices.Clone(toks)
	heap = heap[:s.mergeHeap(heap, new(spScratch))]
	if !slices.Equal(heap, want) {
		t.Fatalf("%q: mergeHeap %v, reference %v", text, heap, want)
	}
	if len(toks) <= spSmallRun {
		small := slices.Clone(toks)
		small = small[:s.mergeSmall(small)]
		if !slices.Equal(small, want) {
			t.Fatalf("%q: mergeSmall %v, reference %v", text, small, want)
		}
	}
}

// TestSentencePieceLongInput checks that merging a long input is fast
// (llama2.c's loop would take minutes) and still round-trips.
func TestSentencePieceLongInput(t *testing.T) {
	s := spLoad(t, spLlamaBin)
	for _, name := range []string{"adv_longword_64k.txt", "adv_whitespace.txt"} {
		data, err := os.ReadFile(filepath.Join(spCorpora, name))
		if err != nil {
			t.Fatal(err)
		}
		ids, err := s.Encode(string(data))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := s.Decode(ids); err != nil || got != string(data) {
			t.Fatalf("%s: round trip failed: %v", name, err)
		}
	}
}

func TestSentencePieceRoundTripCorpora(t *testing.T) {
	docs := spDocs(t, 4000, 25)
	for _, path := range []string{spLlamaBin, spLlamaModel, spTok512, spGGUF} {
		s := spLoad(t, path)
		for name, ds := range docs {
			for i, d := range ds {
				ids, err := s.Encode(d)
				if err != nil {
					t.Fatalf("%s: %s doc %d: %v", path, name, i, err)
				}
				if got, err := s.Decode(ids); err != nil || got != d {
					t.Fatalf("%s: %s doc %d: Decode(Encode(d)) differs: %v", path, name, i, err)
				}
			}
		}
	}
}

// TestSentencePieceFilesEncodeAlike checks that the files of one tokenizer
// give the same ids.
func TestSentencePieceFilesEncodeAlike(t *testing.T) {
	docs := spDocs(t, 2000, 30)
	for _, pair := range [][2]string{{spLlamaBin, spLlamaModel}, {spTok512, spGGUF}} {
		a, b := spLoad(t, pair[0]), spLoad(t, pair[1])
		for name, ds := range docs {
			for i, d := range ds {
				x, _ := a.Encode(d)
				y, _ := b.Encode(d)
				if !slices.Equal(x, y) {
					t.Fatalf("%s doc %d: %s and %s encode differently", name, i, pair[0], pair[1])
				}
			}
		}
	}
}

func TestSentencePieceDecode(t *testing.T) {
	s := spLoad(t, spLlamaBin)
	tests := []struct {
		name string
		ids  []int32
		want string
		err  error
	}{
		{"empty", nil, "", nil},
		{"BOS strips one space", []int32{1, 259, 29871}, "  ", nil},          // "  " " "
		{"BOS strips from a piece", []int32{1, 306, 4658}, "I believe", nil}, // " I" " believe"
		{"no BOS keeps the space", []int32{306, 4658}, " I believe", nil},
		{"space after BOS mid-sequence", []int32{306, 1, 306}, " II", nil},
		{"control and unknown pieces are empty", []int32{0, 2, 263, 1}, " a", nil},
		{"bytes", []int32{243, 162, 145, 140}, "🎉", nil},
		{"byte space after BOS", []int32{1, 35, 263}, " a", nil},
		{"newline byte", []int32{1, 13}, "\n", nil},
		{"split character", []int32{243, 162}, "", ErrInvalidUTF8},
		{"lone continuation", []int32{140}, "", ErrInvalidUTF8},
		{"out of range", []int32{263, 32000}, "", ErrUnknownToken},
		{"negative", []int32{-1}, "", ErrUnknownToken},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Decode(tc.ids)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode(%v) = %q, %v; want %v", tc.ids, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Decode(%v) = %q, %v; want %q", tc.ids, got, err, tc.want)
			}
		})
	}
	if b, err := s.DecodeBytes([]int32{243, 162}); err != nil || !bytes.Equal(b, []byte{0xf0, 0x9f}) {
		t.Errorf("DecodeBytes = %x, %v", b, err)
	}
}

func TestSentencePieceEncodeErrors(t *testing.T) {
	s := spLoad(t, spTok512)
	for _, text := range []string{"\xff", "ok\xc3", "a\xed\xa0\x80b", "\xc0\x80"} {
		if ids, err := s.Encode(text); !errors.Is(err, ErrInvalidUTF8) {
			t.Errorf("Encode(%q) = %v, %v; want ErrInvalidUTF8", text, ids, err)
		}
	}
}

func TestSentencePieceAccessors(t *testing.T) {
	s := spLoad(t, spTok512)
	if s.Name() != "tok512.bin" || s.VocabSize() != 512 || s.BOS() != 1 || s.EOS() != 2 {
		t.Errorf("%q %d %d %d", s.Name(), s.VocabSize(), s.BOS(), s.EOS())
	}
	tests := []struct {
		id   int32
		want Piece
		ok   bool
	}{
		{0, Piece{"<unk>", 0, PieceUnknown}, true},
		{1, Piece{"\n<s>\n", 0, PieceControl}, true},
		{3, Piece{"<0x00>", 0, PieceByte}, true},
		{403, Piece{" Once", -144, PieceNormal}, true},
		{512, Piece{}, false},
		{-1, Piece{}, false},
	}
	for _, tc := range tests {
		if got, ok := s.Piece(tc.id); got != tc.want || ok != tc.ok {
			t.Errorf("Piece(%d) = %+v, %v; want %+v", tc.id, got, ok, tc.want)
		}
	}
	if PieceByte.String() != "byte" || PieceType(9).String() != "PieceType(9)" {
		t.Error("PieceType.String")
	}
}

func TestSentencePieceEncodeBatch(t *testing.T) {
	s := spLoad(t, spTok512)
	items := []batch.Item[string]{{ID: "a", Data: "Once upon a time"}, {ID: "b", Data: "\xff"}}
	res := EncodeBatch(context.Background(), s, items, 2)
	if !slices.Equal(res[0].Data, []int32{1, 403, 407, 261, 378}) || !errors.Is(res[1].Err, ErrInvalidUTF8) {
		t.Errorf("EncodeBatch = %+v", res)
	}
}

// spPB writes protocol buffer wire format for the tests.
type spPB struct{ b []byte }

func (w *spPB) varint(x uint64) *spPB { w.b = binary.AppendUvarint(w.b, x); return w }
func (w *spPB) key(num, wire int) *spPB {
	return w.varint(uint64(num)<<3 | uint64(wire))
}
func (w *spPB) bytes(num int, b []byte) *spPB {
	w.key(num, 2).varint(uint64(len(b)))
	w.b = append(w.b, b...)
	return w
}
func (w *spPB) fixed32(num int, x uint32) *spPB {
	w.key(num, 5)
	w.b = binary.LittleEndian.AppendUint32(w.b, x)
	return w
}
func (w *spPB) uvarint(num int, x uint64) *spPB { return w.key(num, 0).varint(x) }

// spModel writes a ModelProto of the pieces (spaces as "▁") with a BPE
// trainer spec and extra fields appended.
func spModel(pieces []Piece, extra func(*spPB)) []byte {
	var w spPB
	for _, p := range pieces {
		var pw spPB
		pw.bytes(1, []byte(strings.ReplaceAll(p.Text, " ", spSpace))).fixed32(2, math.Float32bits(p.Score)).uvarint(3, uint64(p.Type))
		w.bytes(1, pw.b)
	}
	var tw spPB
	tw.uvarint(3, 2).uvarint(41, 1).uvarint(42, 2)
	w.bytes(2, tw.b)
	var nw spPB
	nw.bytes(1, []byte("identity")).uvarint(3, 1)
	w.bytes(3, nw.b)
	if extra != nil {
		extra(&w)
	}
	return w.b
}

// spTok512Pieces returns tok512's pieces as a SentencePiece model has them.
func spTok512Pieces(t testing.TB) []Piece {
	s := spLoad(t, spTok512)
	pieces := slices.Clone(s.pieces)
	pieces[1].Text, pieces[2].Text = "<s>", "</s>"
	return pieces
}

func TestSentencePieceModelSmall(t *testing.T) {
	data := spModel(spTok512Pieces(t), func(w *spPB) { w.uvarint(99, 7).fixed32(98, 1) })
	s, err := parseSentencePieceModel(data, "small.model")
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Encode("Once upon a time"); !slices.Equal(ids, []int32{1, 403, 407, 261, 378}) {
		t.Errorf("ids %v", ids)
	}
	// add_dummy_prefix false: no leading space.
	noPrefix := spModel(spTok512Pieces(t), func(w *spPB) {
		var nw spPB
		nw.uvarint(3, 0)
		w.bytes(3, nw.b)
	})
	s, err = parseSentencePieceModel(noPrefix, "small.model")
	if err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.EncodeWith("a", false, false); !slices.Equal(ids, []int32{412}) { // "a"
		t.Errorf("without a dummy prefix: %v", ids)
	}
}

func TestSentencePieceModelErrors(t *testing.T) {
	base := spTok512Pieces(t)
	withPieces := func(edit func([]Piece) []Piece) []byte { return spModel(edit(slices.Clone(base)), nil) }
	tests := []struct {
		name string
		data []byte
		msg  string
	}{
		{"empty", nil, "model type is UNIGRAM"},
		{"no pieces", func() []byte { var w spPB; var tw spPB; tw.uvarint(3, 2); return w.bytes(2, tw.b).b }(), "no pieces"},
		{"unigram", func() []byte {
			return spModel(base, func(w *spPB) { var tw spPB; tw.uvarint(3, 1); w.bytes(2, tw.b) })
		}(), "model type is UNIGRAM"},
		{"field zero", []byte{0x00}, "field number 0"},
		{"truncated varint", []byte{0x08, 0x80}, "truncated varint"},
		{"long varint", append([]byte{0x08}, bytes.Repeat([]byte{0xff}, 11)...), "longer than 10 bytes"},
		{"length past end", []byte{0x0a, 0x10, 0x00}, "length 16, but only 1 bytes are left"},
		{"group wire type", []byte{0x0b}, "unsupported wire type 3"},
		{"truncated fixed32", []byte{0x0d, 1, 2}, "truncated 32-bit"},
		{"truncated fixed64", []byte{0x09, 1, 2}, "truncated 64-bit"},
		{"pieces not a message", []byte{0x08, 0x01}, "ModelProto.pieces at byte 0 has wire type 0"},
		{"score wire type", func() []byte {
			var pw, w spPB
			pw.bytes(1, []byte("a")).uvarint(2, 1)
			return w.bytes(1, pw.b).b
		}(), "piece 0: the score has wire type 0"},
		{"type wire type", func() []byte {
			var pw, w spPB
			pw.bytes(1, []byte("a")).fixed32(3, 1)
			return w.bytes(1, pw.b).b
		}(), "piece 0: the type has wire type 5"},
		{"bad type", func() []byte {
			var pw, w spPB
			pw.bytes(1, []byte("a")).uvarint(3, 7)
			return w.bytes(1, pw.b).b
		}(), "piece 0: type 7"},
		{"no text", func() []byte {
			var pw, w spPB
			pw.fixed32(2, 0)
			return w.bytes(1, pw.b).b
		}(), "piece 0 has no text"},
		{"invalid UTF-8 text", func() []byte {
			var pw, w spPB
			pw.bytes(1, []byte{0xff})
			return w.bytes(1, pw.b).b
		}(), "not valid UTF-8"},
		{"missing byte piece", withPieces(func(p []Piece) []Piece { p[3+0x41].Type = PieceNormal; return p }), "no byte piece <0x41>"},
		{"bad byte piece", withPieces(func(p []Piece) []Piece { p[300].Type = PieceByte; return p }), "piece 300 is a byte piece spelled"},
		{"BOS outside", spModel(base, func(w *spPB) { var tw spPB; tw.uvarint(41, 5000); w.bytes(2, tw.b) }), "BOS id 5000 is outside"},
		{"negative EOS", spModel(base, func(w *spPB) {
			var tw spPB
			tw.uvarint(42, math.MaxUint64) // -1 as a protobuf int32
			w.bytes(2, tw.b)
		}), "EOS id -1 is outside"},
		{"trainer wire type", spModel(base, func(w *spPB) { var tw spPB; tw.fixed32(3, 2); w.bytes(2, tw.b) }), "trainer_spec: field 3 has wire type 5"},
		{"normalizer wire type", spModel(base, func(w *spPB) { var nw spPB; nw.fixed32(3, 1); w.bytes(3, nw.b) }), "add_dummy_prefix has wire type 5"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseSentencePieceModel(tc.data, "bad.model")
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, %v; want an error containing %q", s, err, tc.msg)
			}
		})
	}
	path := filepath.Join(t.TempDir(), "bad.model")
	if err := os.WriteFile(path, []byte{0x0b}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadSentencePieceModel(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file: %v", err)
	}
}

// spBin writes a llama2.c tokenizer file.
func spBin(maxLen uint32, pieces []Piece) []byte {
	b := binary.LittleEndian.AppendUint32(nil, maxLen)
	for _, p := range pieces {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p.Score))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(p.Text)))
		b = append(b, p.Text...)
	}
	return b
}

func TestLoadLlama2CErrors(t *testing.T) {
	real, err := os.ReadFile(spTok512)
	if err != nil {
		t.Fatal(err)
	}
	pieces := spLoad(t, spTok512).pieces
	tests := []struct {
		name string
		data []byte
		size int
		msg  string
	}{
		{"empty", nil, 0, "too short for the header"},
		{"header only", real[:4], 0, "0 tokens"},
		{"truncated entry", real[:len(real)-3], 0, "truncated"},
		{"truncated score", append(slices.Clone(real), 1, 2, 3), 0, "want 8 for its score and length"},
		{"negative length", append(spBin(7, pieces[:5]), 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff), 0, "token 5 at byte"},
		{"longer than max", spBin(3, pieces), 0, "more than the header's max_token_length 3"},
		{"too few", spBin(7, pieces[:258]), 0, "258 tokens"},
		{"size beyond the file", real, 600, "token 512 at byte 6227"},
		{"byte piece misplaced", spBin(7, slices.Concat(pieces[:3], pieces[4:], pieces[3:4])), 0, `token 3 is "<0x01>", want the byte piece <0x00>`},
		{"lower-case byte piece", spBin(7, slices.Concat(pieces[:13], []Piece{{"<0x0a>", 0, 0}}, pieces[14:])), 0, "want the byte piece <0x0A>"},
		{"negative size", real, -1, "negative vocabulary size"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := parseLlama2C(tc.data, "bad.bin", tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v, %v; want an error containing %q", s, err, tc.msg)
			}
		})
	}
	// As run.c does, a given size reads that many tokens and ignores the rest.
	s, err := parseLlama2C(append(slices.Clone(real), "trailing"...), "x.bin", 512)
	if err != nil || s.VocabSize() != 512 {
		t.Fatalf("with size 512 and trailing bytes: %v", err)
	}
	s, err = parseLlama2C(real, "x.bin", 300)
	if err != nil || s.VocabSize() != 300 {
		t.Fatalf("with size 300: %v", err)
	}
	path := filepath.Join(t.TempDir(), "short.bin")
	if err := os.WriteFile(path, real[:100], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadLlama2C(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error does not name the file: %v", err)
	}
	if _, err := LoadLlama2C(filepath.Join(t.TempDir(), "missing.bin")); err == nil || !strings.Contains(err.Error(), "missing.bin") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadLlama2CWithSize(spTok512, 512); err != nil {
		t.Error(err)
	}
}

// spGGUFFile writes a GGUF v3 file with no tensors and the given key/values
// (each a key, a GGUF type and the little-endian value bytes).
func spGGUFFile(kvs ...spKV) []byte {
	b := []byte("GGUF")
	b = binary.LittleEndian.AppendUint32(b, 3)
	b = binary.LittleEndian.AppendUint64(b, 0)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kvs)))
	for _, kv := range kvs {
		b = binary.LittleEndian.AppendUint64(b, uint64(len(kv.key)))
		b = append(b, kv.key...)
		b = binary.LittleEndian.AppendUint32(b, kv.typ)
		b = append(b, kv.val...)
	}
	return b
}

type spKV struct {
	key string
	typ uint32
	val []byte
}

func spGGUFString(s string) []byte {
	return append(binary.LittleEndian.AppendUint64(nil, uint64(len(s))), s...)
}

func spGGUFStrings(ss []string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 8)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(ss)))
	for _, s := range ss {
		b = append(b, spGGUFString(s)...)
	}
	return b
}

func spGGUFNumbers[T float32 | int32](xs []T, typ uint32) []byte {
	b := binary.LittleEndian.AppendUint32(nil, typ)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(xs)))
	for _, x := range xs {
		b, _ = binary.Append(b, binary.LittleEndian, x)
	}
	return b
}

func TestLoadGGUFVocabErrors(t *testing.T) {
	pieces := spTok512Pieces(t)
	var tokens []string
	var scores []float32
	var types []int32
	for _, p := range pieces {
		tokens = append(tokens, strings.ReplaceAll(p.Text, " ", spSpace))
		scores = append(scores, p.Score)
		types = append(types, int32(p.Type))
	}
	model := spKV{"tokenizer.ggml.model", 8, spGGUFString("llama")}
	toks := spKV{"tokenizer.ggml.tokens", 9, spGGUFStrings(tokens)}
	sc := spKV{"tokenizer.ggml.scores", 9, spGGUFNumbers(scores, 6)}
	ty := spKV{"tokenizer.ggml.token_type", 9, spGGUFNumbers(types, 5)}
	u32 := func(key string, v uint32) spKV { return spKV{key, 4, binary.LittleEndian.AppendUint32(nil, v)} }
	tests := []struct {
		name string
		kvs  []spKV
		msg  string // "" for success
	}{
		{"complete", []spKV{model, toks, sc, ty, u32(ggufBOS, 1), u32(ggufEOS, 2)}, ""},
		{"types inferred", []spKV{model, toks, sc}, ""},
		{"unknown id outside", []spKV{model, toks, sc, u32(ggufUnknown, 1<<20)}, "unknown_token_id is 1048576, outside"},
		{"no model", []spKV{toks, sc, ty}, `"tokenizer.ggml.model"`},
		{"gpt2", []spKV{{"tokenizer.ggml.model", 8, spGGUFString("gpt2")}, toks, sc}, `is "gpt2"; only "llama"`},
		{"model type", []spKV{{"tokenizer.ggml.model", 4, []byte{1, 0, 0, 0}}, toks, sc}, `"tokenizer.ggml.model" is uint32, want string`},
		{"no scores", []spKV{model, toks, ty}, `"tokenizer.ggml.scores"`},
		{"short scores", []spKV{model, toks, {"tokenizer.ggml.scores", 9, spGGUFNumbers(scores[:5], 6)}}, "5 scores for the 512 tokens"},
		{"short types", []spKV{model, toks, sc, {"tokenizer.ggml.token_type", 9, spGGUFNumbers(types[:5], 5)}}, "5 types for the 512 tokens"},
		{"bad type", []spKV{model, toks, sc, {"tokenizer.ggml.token_type", 9, spGGUFNumbers(slices.Concat(types[:9], []int32{0}, types[10:]), 5)}}, "token_type[9]"},
		{"BOS outside", []spKV{model, toks, sc, u32(ggufBOS, 512)}, "bos_token_id is 512, outside"},
		{"EOS type", []spKV{model, toks, sc, {ggufEOS, 8, spGGUFString("2")}}, `"tokenizer.ggml.eos_token_id" is string`},
		{"space prefix type", []spKV{model, toks, sc, u32(ggufAddSpacePrefix, 1)}, `add_space_prefix" is uint32, want bool`},
		{"missing byte", []spKV{model, toks, sc, {"tokenizer.ggml.token_type", 9, spGGUFNumbers(slices.Concat(types[:9], []int32{1}, types[10:]), 5)}}, "no byte piece <0x06>"},
	}
	dir := t.TempDir()
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("v%d.gguf", i))
			if err := os.WriteFile(path, spGGUFFile(tc.kvs...), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadGGUFVocab(path)
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ids, _ := s.Encode("Once upon a time"); !slices.Equal(ids, []int32{1, 403, 407, 261, 378}) {
					t.Errorf("ids %v", ids)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v; want an error containing %q and the path", err, tc.msg)
			}
		})
	}
	// add_space_prefix false turns the dummy prefix off.
	path := filepath.Join(dir, "noprefix.gguf")
	os.WriteFile(path, spGGUFFile(model, toks, sc, ty, spKV{ggufAddSpacePrefix, 7, []byte{0}}), 0o644)
	if s, err := LoadGGUFVocab(path); err != nil {
		t.Fatal(err)
	} else if ids, _ := s.EncodeWith("a", false, false); !slices.Equal(ids, []int32{412}) { // "a"
		t.Errorf("without a space prefix: %v", ids)
	}
	if _, err := LoadGGUFVocab(filepath.Join(dir, "missing.gguf")); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing file: %v", err)
	}
}

func FuzzLoadLlama2C(f *testing.F) {
	real, err := os.ReadFile(spTok512)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real, "Once upon a time")
	for _, n := range []int{0, 3, 4, 11, 12, 2000, len(real) - 1} {
		f.Add(real[:n], "x")
	}
	for _, at := range []int{0, 2, 6, 9, 40, 2100, 3000, 6000} {
		flipped := slices.Clone(real)
		flipped[at] ^= 0x81
		f.Add(flipped, "hello world 🎉")
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		s, err := parseLlama2C(data, "fuzz.bin", 0)
		if err != nil {
			return
		}
		spCheckRoundTrip(t, s, text)
	})
}

func FuzzLoadSentencePieceModel(f *testing.F) {
	small := spModel(spTok512Pieces(f), nil)
	f.Add(small, "Once upon a time")
	real, err := os.ReadFile(spLlamaModel)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(real[:3000], "x")
	for _, n := range []int{0, 1, 2, 100, len(small) - 1} {
		f.Add(small[:n], "x")
	}
	for _, at := range []int{0, 1, 2, 3, 5, 200, 3000, len(small) - 10} {
		flipped := slices.Clone(small)
		flipped[at] ^= 0x81
		f.Add(flipped, "hello world 🎉")
	}
	f.Fuzz(func(t *testing.T, data []byte, text string) {
		s, err := parseSentencePieceModel(data, "fuzz.model")
		if err != nil {
			return
		}
		spCheckRoundTrip(t, s, text)
	})
}

// spCheckRoundTrip checks Encode on a vocabulary a loader accepted: valid
// text round-trips and matches the reference (on short text), invalid text
// is an ErrInvalidUTF8.
func spCheckRoundTrip(t *testing.T, s *SentencePiece, text string) {
	ids, err := s.Encode(text)
	if !utf8.ValidString(text) {
		if !errors.Is(err, ErrInvalidUTF8) {
			t.Fatalf("Encode(%q) = %v, %v; want ErrInvalidUTF8", text, ids, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("Encode(%q): %v", text, err)
	}
	if len(text) < 200 {
		if want := spReference(s, text, true, false); !slices.Equal(ids, want) {
			t.Fatalf("Encode(%q) = %v, reference %v", text, ids, want)
		}
	}
	if got, err := s.Decode(ids); err != nil || got != text {
		t.Fatalf("Decode(Encode(%q)) = %q, %v", text, got, err)
	}
}

func FuzzSentencePieceRoundTrip(f *testing.F) {
	for _, s := range []string{"", " ", "Once upon a time", "  two  spaces ", "a\x00b", "\n\n\t", "日本語 🎉 ё", "<0x41><s>", "\xff", "abc\xc3"} {
		f.Add(s)
	}
	toks := []*SentencePiece{spLoad(f, spTok512), spLoad(f, spLlamaBin), spLoad(f, spGGUF)}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range toks {
			spCheckRoundTrip(t, s, text)
		}
	})
}

func BenchmarkSentencePieceEncode(b *testing.B) {
	s := spLoad(b, spLlamaBin)
	for _, name := range []string{"english_tinyshakespeare.txt", "code_go_stdlib.txt", "multilingual_udhr_emoji.txt", "adv_longword_1m.txt"} {
		data, err := os.ReadFile(filepath.Join(spCorpora, name))
		if err != nil {
			b.Fatal(err)
		}
		text := string(data[:min(len(data), 1<<20)])
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for range b.N {
				if _, err := s.Encode(text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestSentencePieceGGUFInferredTypes checks the piece types a GGUF file
// without tokenizer.ggml.token_type gets.
func TestSentencePieceGGUFInferredTypes(t *testing.T) {
	var tokens []string
	var scores []float32
	for _, p := range spTok512Pieces(t) {
		tokens = append(tokens, strings.ReplaceAll(p.Text, " ", spSpace))
		scores = append(scores, p.Score)
	}
	path := filepath.Join(t.TempDir(), "notypes.gguf")
	data := spGGUFFile(spKV{"tokenizer.ggml.model", 8, spGGUFString("llama")},
		spKV{"tokenizer.ggml.tokens", 9, spGGUFStrings(tokens)}, spKV{"tokenizer.ggml.scores", 9, spGGUFNumbers(scores, 6)})
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := LoadGGUFVocab(path)
	if err != nil {
		t.Fatal(err)
	}
	want := spLoad(t, spGGUF)
	for id := range int32(s.VocabSize()) {
		got, _ := s.Piece(id)
		w, _ := want.Piece(id)
		if got != w {
			t.Errorf("piece %d: %+v, want %+v", id, got, w)
		}
	}
}

// TestLoadSentencePieceFile: each kind of vocabulary file is told apart and
// loaded by its own loader.
func TestLoadSentencePieceFile(t *testing.T) {
	for _, c := range []struct {
		path string
		size int
	}{{spLlamaBin, 32000}, {spLlamaModel, 32000}, {spTok512, 512}, {spGGUF, 512}} {
		sp, err := LoadSentencePieceFile(c.path)
		if err != nil {
			t.Fatal(err)
		}
		ids, _ := sp.Encode("Once upon a time")
		if sp.VocabSize() != c.size || (c.size == 512 && fmt.Sprint(ids) != "[1 403 407 261 378]") {
			t.Errorf("%s: %d tokens, ids %v", c.path, sp.VocabSize(), ids)
		}
	}
	if _, err := LoadSentencePieceFile("/nonexistent/tokenizer.bin"); err == nil {
		t.Error("a missing file loaded")
	}
}
