package tokenizer

import (
	"fmt"
	"math"
	"math/bits"
	"strings"
	"sync"
	"unicode/utf8"
)

// PieceType is the kind of a SentencePiece vocabulary entry, numbered as in
// SentencePiece's ModelProto (GGUF's tokenizer.ggml.token_type uses the same
// numbers).
type PieceType int32

// The SentencePiece piece types.
const (
	// PieceNormal is an ordinary piece of text.
	PieceNormal PieceType = 1
	// PieceUnknown is the unknown token <unk>.
	PieceUnknown PieceType = 2
	// PieceControl is a control token such as <s> (BOS) or </s> (EOS).
	PieceControl PieceType = 3
	// PieceUserDefined is a piece the user added; it is merged like a
	// normal piece (llama2.c has no special treatment for it).
	PieceUserDefined PieceType = 4
	// PieceUnused is a piece that encoding never produces.
	PieceUnused PieceType = 5
	// PieceByte is a byte-fallback piece <0xXX>, which stands for one byte.
	PieceByte PieceType = 6
)

var pieceTypeNames = [...]string{"", "normal", "unknown", "control", "user-defined", "unused", "byte"}

// String returns the type's name, such as "control".
func (t PieceType) String() string {
	if t >= PieceNormal && t <= PieceByte {
		return pieceTypeNames[t]
	}
	return fmt.Sprintf("PieceType(%d)", int32(t))
}

// Piece is one vocabulary entry of a SentencePiece tokenizer.
type Piece struct {
	// Text is the piece's text with spaces as ' ' (SentencePiece's files
	// write them as "▁", U+2581, which the loaders replace). A byte piece's
	// Text is its spelling, such as "<0x0A>"; BOS and EOS keep the spelling
	// of their file ("<s>", or llama2.c's "\n<s>\n").
	Text string
	// Score is the merge priority: higher merges first.
	Score float32
	// Type is the kind of piece.
	Type PieceType
}

// SentencePiece is a SentencePiece BPE tokenizer with byte fallback (the
// tokenizer of Llama 1 and 2 and of llama2.c's models), with token ids
// identical to llama2.c's encode() in run.c:
//
//   - Text that is not empty gets a dummy prefix: a space is put before it
//     (unless the model file turns add_dummy_prefix off).
//   - Each UTF-8 character becomes the piece spelled as that character;
//     a character with no piece becomes the byte pieces of its UTF-8 bytes
//     (<0xXX>, ids byte+3 in Llama vocabularies).
//   - Then, as long as some adjacent pair of tokens concatenates to a piece,
//     the pair whose piece has the highest score is merged, the leftmost
//     such pair on ties. A piece whose score is NaN or at most -1e10 is
//     never merged to (llama2.c starts its search for the best score at
//     -1e10 and compares with >).
//
// llama2.c's loop takes O(n²) time in the length of the text; this one
// takes O(n log n) with the same result: long runs of tokens merge with a
// heap of candidate pairs over a linked list, short runs with a scan of
// cached candidates, and text is cut into runs before every space that
// follows another character when no piece could merge across such a cut
// (true of the Llama vocabularies: their spaces only start pieces).
//
// Only normal and user-defined pieces are matched against text: control,
// unknown, unused and byte pieces never come out of a character lookup or a
// merge (byte pieces come only from the byte fallback, and never merge).
// llama2.c looks every piece up; the two agree on every vocabulary in which
// no piece of the other types is one character and no piece is the
// concatenation of two pieces unless all three are normal or user-defined,
// which holds for the Llama 2 and stories260K vocabularies (the tests check
// it). Where a vocabulary spells one text twice, the lowest id wins.
// Normalization rules of a SentencePiece model (whitespace folding, NFKC)
// are not applied: like llama2.c, the text is tokenized as it is.
//
// A SentencePiece is immutable and safe for concurrent use.
type SentencePiece struct {
	name   string
	pieces []Piece
	// lookup maps the text of each normal or user-defined piece to its id.
	lookup map[string]int32
	// merges maps a pair of ids (left<<32 | right) to the piece they
	// concatenate to, for every pair that may merge.
	merges spPairTable
	// byteID is the id of the byte piece of each byte.
	byteID [256]int32
	// ascii is the id of the piece of each ASCII character, or -1.
	ascii [utf8.RuneSelf]int32
	// spaceSplits says that no piece has a space right after another
	// character, so that text can be merged in runs cut before such spaces.
	spaceSplits bool
	bos, eos    int32
	dummyPrefix bool
}

var _ Tokenizer = (*SentencePiece)(nil)

// spMinScore is llama2.c's starting best score: only scores above it merge.
const spMinScore = float32(-1e10)

// spVocab is a vocabulary read by a loader, before it is checked.
type spVocab struct {
	pieces      []Piece
	bos, eos    int32
	dummyPrefix bool
}

// newSentencePiece checks v and builds the tables of a tokenizer called
// name. Its errors say what is wrong but not in which file: the loaders add
// that.
func newSentencePiece(name string, v spVocab) (*SentencePiece, error) {
	n := len(v.pieces)
	if n == 0 {
		return nil, fmt.Errorf("the vocabulary is empty")
	}
	if n > math.MaxInt32 {
		return nil, fmt.Errorf("%d pieces, more than int32 ids can number", n)
	}
	for _, c := range []struct {
		what string
		id   int32
	}{{"BOS", v.bos}, {"EOS", v.eos}} {
		if c.id < 0 || int(c.id) >= n {
			return nil, fmt.Errorf("the %s id %d is outside the vocabulary of %d pieces", c.what, c.id, n)
		}
	}
	s := &SentencePiece{
		name:        name,
		pieces:      v.pieces,
		lookup:      make(map[string]int32, n),
		bos:         v.bos,
		eos:         v.eos,
		dummyPrefix: v.dummyPrefix,
	}
	for i := range s.byteID {
		s.byteID[i] = -1
	}
	for id, p := range v.pieces {
		switch p.Type {
		case PieceNormal, PieceUserDefined:
			if _, dup := s.lookup[p.Text]; !dup && p.Text != "" {
				s.lookup[p.Text] = int32(id)
			}
		case PieceByte:
			b, ok := spParseByte(p.Text)
			if !ok {
				return nil, fmt.Errorf("piece %d is a byte piece spelled %q; byte pieces are spelled <0x00> to <0xFF>", id, spShort(p.Text))
			}
			if s.byteID[b] < 0 {
				s.byteID[b] = int32(id)
			}
		case PieceUnknown, PieceControl, PieceUnused:
		default:
			return nil, fmt.Errorf("piece %d (%q) has type %d; types are 1 (normal) to 6 (byte)", id, spShort(p.Text), int32(p.Type))
		}
	}
	for b, id := range s.byteID {
		if id < 0 {
			return nil, fmt.Errorf("no byte piece <0x%02X>: byte fallback needs all 256 byte pieces", b)
		}
	}
	for c := range s.ascii {
		s.ascii[c] = -1
		if id, ok := s.lookup[string(rune(c))]; ok {
			s.ascii[c] = id
		}
	}
	pairs := make(map[uint64]spMerge, n)
	s.spaceSplits = true
	for text, id := range s.lookup {
		for k := 1; k < len(text); k++ {
			if text[k] == ' ' && text[k-1] != ' ' {
				s.spaceSplits = false
			}
		}
		score := v.pieces[id].Score
		if !(score > spMinScore) { // also false for NaN
			continue
		}
		for k := 1; k < len(text); k++ {
			l, ok := s.lookup[text[:k]]
			if !ok {
				continue
			}
			if r, ok := s.lookup[text[k:]]; ok {
				pairs[spPairKey(l, r)] = spMerge{id, score}
			}
		}
	}
	s.merges = newSPPairTable(pairs)
	return s, nil
}

// spParseByte parses "<0xXX>".
func spParseByte(s string) (byte, bool) {
	if len(s) != 6 || !strings.HasPrefix(s, "<0x") || s[5] != '>' {
		return 0, false
	}
	hi, ok1 := spUnhex(s[3])
	lo, ok2 := spUnhex(s[4])
	return hi<<4 | lo, ok1 && ok2
}

func spUnhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// spShort shortens a piece for error messages.
func spShort(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// spMerge is the result of merging a pair: the id and score of its piece.
type spMerge struct {
	id    int32
	score float32
}

func spPairKey(l, r int32) uint64 { return uint64(uint32(l))<<32 | uint64(uint32(r)) }

// Name implements Tokenizer: the base name of the file the vocabulary was
// loaded from, such as "tokenizer.model".
func (s *SentencePiece) Name() string { return s.name }

// VocabSize implements Tokenizer.
func (s *SentencePiece) VocabSize() int { return len(s.pieces) }

// BOS is the id of the beginning-of-sequence token (1 in Llama vocabularies).
func (s *SentencePiece) BOS() int32 { return s.bos }

// EOS is the id of the end-of-sequence token (2 in Llama vocabularies).
func (s *SentencePiece) EOS() int32 { return s.eos }

// Piece returns the vocabulary entry of id, and false for an id outside
// the vocabulary.
func (s *SentencePiece) Piece(id int32) (Piece, bool) {
	if id < 0 || int(id) >= len(s.pieces) {
		return Piece{}, false
	}
	return s.pieces[id], true
}

// Encode implements Tokenizer with the Llama convention: the ids of text
// preceded by the BOS id, and no EOS; it is EncodeWith(text, true, false).
// Text that is not valid UTF-8 is an error wrapping ErrInvalidUTF8.
func (s *SentencePiece) Encode(text string) ([]int32, error) {
	return s.EncodeWith(text, true, false)
}

// EncodeWith returns the ids of text, preceded by the BOS id if bos and
// followed by the EOS id if eos, like llama2.c's encode(t, text, bos, eos).
// The dummy prefix is added to non-empty text whether or not bos is set.
// Text that is not valid UTF-8 is an error wrapping ErrInvalidUTF8.
func (s *SentencePiece) EncodeWith(text string, bos, eos bool) ([]int32, error) {
	if !utf8.ValidString(text) {
		return nil, invalidUTF8(text)
	}
	if len(text) >= math.MaxInt32-2 {
		return nil, fmt.Errorf("tokenizer: %s: text of %d bytes is too long to encode (at most %d)", s.name, len(text), math.MaxInt32-3)
	}
	out := make([]int32, 0, len(text)/3+4)
	if bos {
		out = append(out, s.bos)
	}
	out = s.appendText(out, text)
	if eos {
		out = append(out, s.eos)
	}
	return out, nil
}

// appendText appends the merged ids of text (with its dummy prefix).
//
// When no piece has a space right after another character (true of the
// Llama vocabularies; see spaceSplits), no merge can join a character to a
// space after it, so the text is cut before every such space and the
// pieces between cuts merge on their own: each cut-off run merges exactly as
// it would within the whole text, since no pair spans a cut and merges
// elsewhere never change its tokens.
func (s *SentencePiece) appendText(out []int32, text string) []int32 {
	var sc *spScratch
	defer func() {
		if sc != nil {
			spScratchPool.Put(sc)
		}
	}()
	seg := len(out)
	prefix := text != "" && s.dummyPrefix
	prevSpace := true
	for i := 0; prefix || i < len(text); {
		var c string
		if prefix {
			c, prefix = " ", false
		} else {
			n := 1
			if text[i] >= utf8.RuneSelf {
				_, n = utf8.DecodeRuneInString(text[i:])
			}
			c = text[i : i+n]
			i += n
		}
		space := c == " "
		if space && !prevSpace && s.spaceSplits {
			out = s.mergeRun(out, seg, &sc)
			seg = len(out)
		}
		prevSpace = space
		out = s.appendChar(out, c)
	}
	return s.mergeRun(out, seg, &sc)
}

// appendChar appends the piece of one character, or its byte pieces.
func (s *SentencePiece) appendChar(out []int32, c string) []int32 {
	if len(c) == 1 && c[0] < utf8.RuneSelf {
		if id := s.ascii[c[0]]; id >= 0 {
			return append(out, id)
		}
		return append(out, s.byteID[c[0]])
	}
	if id, ok := s.lookup[c]; ok {
		return append(out, id)
	}
	for i := 0; i < len(c); i++ {
		out = append(out, s.byteID[c[i]])
	}
	return out
}

// spSmallRun is the run length up to which mergeSmall is used.
const spSmallRun = 48

// mergeRun merges out[start:] in place and truncates out to the result.
func (s *SentencePiece) mergeRun(out []int32, start int, sc **spScratch) []int32 {
	toks := out[start:]
	var n int
	switch {
	case len(toks) < 2:
		return out
	case len(toks) <= spSmallRun:
		n = s.mergeSmall(toks)
	default:
		if *sc == nil {
			*sc = spScratchPool.Get().(*spScratch)
		}
		n = s.mergeHeap(toks, *sc)
	}
	return out[:start+n]
}

// pair returns the merge of ids l and r, if they may merge.
func (s *SentencePiece) pair(l, r int32) (spMerge, bool) {
	return s.merges.get(spPairKey(l, r))
}

// spPairTable is an open-addressing hash table from a pair key to its
// merge, with key and value in one slot so that a lookup touches one cache
// line (it is the hot path of encoding).
type spPairTable struct {
	slots []spPairSlot
	shift uint
}

type spPairSlot struct {
	key uint64 // spEmptyPair for an empty slot
	m   spMerge
}

// spEmptyPair is no pair's key: ids are never -1.
const spEmptyPair = ^uint64(0)

func newSPPairTable(pairs map[uint64]spMerge) spPairTable {
	size := 8
	for size < 2*len(pairs) {
		size *= 2
	}
	t := spPairTable{slots: make([]spPairSlot, size), shift: uint(64 - bits.TrailingZeros(uint(size)))}
	for i := range t.slots {
		t.slots[i].key = spEmptyPair
	}
	mask := uint64(size - 1)
	for k, m := range pairs {
		i := t.home(k)
		for t.slots[i].key != spEmptyPair {
			i = (i + 1) & mask
		}
		t.slots[i] = spPairSlot{k, m}
	}
	return t
}

// home is the first slot to probe for key k (Fibonacci hashing).
func (t *spPairTable) home(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

func (t *spPairTable) get(k uint64) (spMerge, bool) {
	mask := uint64(len(t.slots) - 1)
	for i := t.home(k); ; i = (i + 1) & mask {
		s := &t.slots[i]
		if s.key == k {
			return s.m, true
		}
		if s.key == spEmptyPair {
			return spMerge{}, false
		}
	}
}

// mergeSmall is llama2.c's loop for short runs, with the candidate merge of
// each adjacent pair cached (id -1 for none), so that each step scans the
// cache instead of looking every pair up again.
func (s *SentencePiece) mergeSmall(toks []int32) int {
	var buf [spSmallRun]spMerge
	n := len(toks)
	cand := buf[:n-1]
	for i := range cand {
		if m, ok := s.pair(toks[i], toks[i+1]); ok {
			cand[i] = m
		} else {
			cand[i].id = -1
		}
	}
	for n > 1 {
		best := -1
		var bestScore float32
		for i, c := range cand[:n-1] {
			if c.id >= 0 && (best < 0 || c.score > bestScore) {
				best, bestScore = i, c.score
			}
		}
		if best < 0 {
			break
		}
		toks[best] = cand[best].id
		copy(toks[best+1:], toks[best+2:n])
		if best+2 < n-1 {
			copy(cand[best+1:], cand[best+2:n-1])
		}
		n--
		for _, i := range [2]int{best - 1, best} {
			if i < 0 || i >= n-1 {
				continue
			}
			if m, ok := s.pair(toks[i], toks[i+1]); ok {
				cand[i] = m
			} else {
				cand[i].id = -1
			}
		}
	}
	return n
}

// spCand is a candidate merge of the token at node left with the token
// after it: lt and rt are their ids when it was pushed, id the merged id;
// key orders candidates (see spCandKey).
type spCand struct {
	key        uint64
	lt, rt, id int32
}

// spCandKey packs a candidate's score and left node into one number that
// is larger for the candidate llama2.c picks first: the higher score, and
// on equal scores the leftmost node. Scores are never NaN here (NaN never
// merges), and -0 is made +0 so that it ties with 0 as in C.
func spCandKey(score float32, left int32) uint64 {
	if score == 0 {
		score = 0
	}
	b := math.Float32bits(score)
	if b&(1<<31) != 0 {
		b = ^b
	} else {
		b |= 1 << 31
	}
	return uint64(b)<<32 | uint64(^uint32(left))
}

// spScratch is the working memory of mergeHeap, pooled.
type spScratch struct {
	next, prev []int32
	heap       spHeap
}

var spScratchPool = sync.Pool{New: func() any { return new(spScratch) }}

// mergeHeap merges toks in place in O(n log n) and returns how many tokens
// are left; the result is mergeSmall's (and llama2.c's).
//
// The tokens form a doubly linked list of nodes (a node keeps its index in
// toks, so node order is text order). Every adjacent pair that may merge is
// in a heap ordered like llama2.c's choice; a merge removes the right node
// and pushes the two pairs the merged token now forms. A popped candidate
// whose nodes no longer hold the ids it was pushed with is stale and is
// skipped: a node's piece only grows as it merges, so a candidate whose ids
// still match is exactly a current pair.
func (s *SentencePiece) mergeHeap(toks []int32, sc *spScratch) int {
	n := len(toks)
	if cap(sc.next) < n {
		sc.next = make([]int32, n)
		sc.prev = make([]int32, n)
	}
	next, prev := sc.next[:n], sc.prev[:n]
	for i := range n {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
	}
	next[n-1] = -1
	h := sc.heap[:0]
	for i := int32(0); int(i) < n-1; i++ {
		if m, ok := s.pair(toks[i], toks[i+1]); ok {
			h = append(h, spCand{key: spCandKey(m.score, i), lt: toks[i], rt: toks[i+1], id: m.id})
		}
	}
	h.init()
	push := func(i int32) {
		j := next[i]
		if j < 0 {
			return
		}
		if m, ok := s.pair(toks[i], toks[j]); ok {
			h.push(spCand{key: spCandKey(m.score, i), lt: toks[i], rt: toks[j], id: m.id})
		}
	}
	for len(h) > 0 {
		c := h.pop()
		i := int32(^uint32(c.key))
		j := next[i]
		if toks[i] != c.lt || j < 0 || toks[j] != c.rt {
			continue // stale
		}
		toks[i] = c.id
		toks[j] = -1
		k := next[j]
		next[i] = k
		if k >= 0 {
			prev[k] = i
		}
		if prev[i] >= 0 {
			push(prev[i])
		}
		push(i)
	}
	sc.heap = h[:0]
	m := 0
	for i := int32(0); i >= 0; i = next[i] {
		toks[m] = toks[i]
		m++
	}
	return m
}

// spHeap is a binary max-heap of candidates by key.
type spHeap []spCand

func (h spHeap) down(i int) {
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		m := l
		if r := l + 1; r < len(h) && h[r].key > h[l].key {
			m = r
		}
		if h[m].key <= h[i].key {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func (h spHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

func (h *spHeap) push(c spCand) {
	*h = append(*h, c)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[i].key <= a[p].key {
			break
		}
		a[i], a[p] = a[p], a[i]
		i = p
	}
}

func (h *spHeap) pop() spCand {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	a.down(0)
	*h = a
	return top
}

// Decode implements Tokenizer, like llama2.c's decode() applied to each id
// with the id before it:
//
//   - normal, user-defined and unused pieces give their text (with spaces);
//   - byte pieces <0xXX> give their byte;
//   - control pieces (BOS, EOS) and the unknown piece give nothing;
//   - right after a BOS id, one leading space of the next piece's text is
//     dropped: that is the dummy prefix Encode added (SentencePiece's
//     decoder strips it too). Unlike llama2.c, this also drops the byte
//     piece <0x20>, which Encode uses for the dummy prefix only when the
//     vocabulary has no " " piece, and nothing is dropped when the
//     vocabulary adds no dummy prefix (add_dummy_prefix or
//     add_space_prefix false), so that Decode(Encode(s)) == s for every
//     valid UTF-8 s.
//
// Ids outside the vocabulary are an error wrapping ErrUnknownToken; bytes
// that are not valid UTF-8 (a character split by truncation, say) are an
// error wrapping ErrInvalidUTF8 (DecodeBytes returns them as they are).
func (s *SentencePiece) Decode(ids []int32) (string, error) {
	buf, err := s.DecodeBytes(ids)
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
func (s *SentencePiece) DecodeBytes(ids []int32) ([]byte, error) {
	buf := make([]byte, 0, 4*len(ids))
	prev := int32(-1)
	for i, id := range ids {
		if id < 0 || int(id) >= len(s.pieces) {
			return nil, fmt.Errorf("%w: id %d at position %d is not in %s (vocabulary size %d)", ErrUnknownToken, id, i, s.name, len(s.pieces))
		}
		afterBOS := prev == s.bos && s.dummyPrefix
		prev = id
		p := &s.pieces[id]
		switch p.Type {
		case PieceControl, PieceUnknown:
		case PieceByte:
			b, _ := spParseByte(p.Text) // checked when loaded
			if !(afterBOS && b == ' ') {
				buf = append(buf, b)
			}
		default:
			text := p.Text
			if afterBOS && text != "" && text[0] == ' ' {
				text = text[1:]
			}
			buf = append(buf, text...)
		}
	}
	return buf, nil
}
