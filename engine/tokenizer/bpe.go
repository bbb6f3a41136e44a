package tokenizer

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Errors reported by the tokenizers; test for them with errors.Is.
var (
	// ErrInvalidUTF8 reports text (to encode, or decoded from ids) that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("invalid UTF-8")
	// ErrDisallowedSpecial reports text that contains a special token which was not allowed.
	ErrDisallowedSpecial = errors.New("disallowed special token")
	// ErrUnknownToken reports a token id outside the vocabulary.
	ErrUnknownToken = errors.New("token id not in vocabulary")
	// ErrUnknownEncoding reports an encoding name that is not known.
	ErrUnknownEncoding = errors.New("unknown encoding")
)

// Tokenizer turns text into token ids and back.
//
// Implementations are safe for concurrent use.
type Tokenizer interface {
	// Name is the encoding's name, such as "cl100k_base".
	Name() string
	// Encode returns the token ids of text. Text that is not valid UTF-8 or
	// that contains a disallowed special token is an error.
	Encode(text string) ([]int32, error)
	// Decode returns the text of ids. An id outside the vocabulary, or ids
	// whose bytes are not valid UTF-8 (a character split across a
	// truncated sequence, say), is an error.
	Decode(ids []int32) (string, error)
	// VocabSize is one more than the largest token id, special tokens included.
	VocabSize() int
}

// BPE is a byte-level byte-pair-encoding tokenizer with the exact semantics
// of OpenAI's tiktoken: text is cut into pieces by the encoding's
// pre-tokenizer pattern, and each piece is merged from single bytes by
// repeatedly joining the adjacent pair of lowest rank (leftmost first).
type BPE struct {
	name     string
	vocab    *vocabTable
	pattern  string        // the pre-tokenizer pattern, when known
	decoder  *tokenDecoder // id -> bytes; "" marks an id with no token
	special  map[string]int32
	split    splitter
	allowAll bool
	allowed  map[string]bool
	asText   bool
}

// SpecialTokens returns the special tokens of the encoding, sorted by id.
func (b *BPE) SpecialTokens() []string {
	out := make([]string, 0, len(b.special))
	for s := range b.special {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return b.special[out[i]] < b.special[out[j]] })
	return out
}

// Name implements Tokenizer.
func (b *BPE) Name() string { return b.name }

// VocabSize implements Tokenizer.
func (b *BPE) VocabSize() int { return b.decoder.size() }

// Encode implements Tokenizer with tiktoken's rules for special tokens:
// by default every special token is disallowed and text containing one is an
// error wrapping ErrDisallowedSpecial; tokens allowed by Options are encoded
// as their special ids; with Options.DisallowedAsText they are encoded as
// ordinary text instead (tiktoken's disallowed_special=()).
func (b *BPE) Encode(text string) ([]int32, error) {
	return b.appendEncode(make([]int32, 0, len(text)/3+1), text)
}

// appendEncode appends the ids of text, as Encode gives them, to out.
func (b *BPE) appendEncode(out []int32, text string) ([]int32, error) {
	if err := b.check(text); err != nil {
		return nil, err
	}
	if !b.allowAll && len(b.allowed) == 0 {
		return b.appendOrdinary(out, text), nil
	}
	for len(text) > 0 {
		at, tok := b.nextAllowed(text)
		if at < 0 {
			out = b.appendOrdinary(out, text)
			break
		}
		out = b.appendOrdinary(out, text[:at])
		out = append(out, b.special[tok])
		text = text[at+len(tok):]
	}
	return out, nil
}

// check rejects text that is not valid UTF-8 or that holds a disallowed
// special token.
func (b *BPE) check(text string) error {
	if !utf8.ValidString(text) {
		return invalidUTF8(text)
	}
	if !b.asText {
		for tok := range b.special {
			if b.isAllowed(tok) {
				continue
			}
			if i := strings.Index(text, tok); i >= 0 {
				return fmt.Errorf("%w: the text contains %q at byte %d; allow it with the allowed-special setting", ErrDisallowedSpecial, tok, i)
			}
		}
	}
	return nil
}

func (b *BPE) isAllowed(tok string) bool { return b.allowAll || b.allowed[tok] }

// nextAllowed finds the leftmost allowed special token in text (the longest
// one when several start at the same byte).
func (b *BPE) nextAllowed(text string) (int, string) {
	best, bestTok := -1, ""
	for tok := range b.special {
		if !b.isAllowed(tok) {
			continue
		}
		i := strings.Index(text, tok)
		if i < 0 {
			continue
		}
		if best < 0 || i < best || i == best && len(tok) > len(bestTok) {
			best, bestTok = i, tok
		}
	}
	return best, bestTok
}

// EncodeOrdinary encodes text treating special tokens as ordinary text, like
// tiktoken's encode_ordinary. text must be valid UTF-8 (Encode checks it).
func (b *BPE) EncodeOrdinary(text string) []int32 {
	return b.appendOrdinary(make([]int32, 0, len(text)/3+1), text)
}

func (b *BPE) appendOrdinary(out []int32, text string) []int32 {
	for i := 0; i < len(text); {
		j := b.split(text, i)
		piece := text[i:j]
		if id, ok := b.vocab.get(piece); ok {
			out = append(out, id)
		} else {
			out = b.bytePairEncode(out, piece)
		}
		i = j
	}
	return out
}

// Decode implements Tokenizer.
func (b *BPE) Decode(ids []int32) (string, error) {
	buf, err := b.DecodeBytes(ids)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(buf) {
		return "", fmt.Errorf("%w: the tokens decode to bytes that are not valid UTF-8 (%s)", ErrInvalidUTF8, describeInvalid(string(buf)))
	}
	return string(buf), nil
}

// DecodeBytes returns the raw bytes of ids, which need not be valid UTF-8.
func (b *BPE) DecodeBytes(ids []int32) ([]byte, error) {
	n := 0
	for i, id := range ids {
		tok := b.decoder.get(id)
		if tok == "" {
			return nil, fmt.Errorf("%w: id %d at position %d is not in %s (vocabulary size %d)", ErrUnknownToken, id, i, b.name, b.decoder.size())
		}
		n += len(tok)
	}
	buf := make([]byte, 0, n)
	for _, id := range ids {
		buf = append(buf, b.decoder.get(id)...)
	}
	return buf, nil
}

func invalidUTF8(text string) error {
	return fmt.Errorf("%w: %s", ErrInvalidUTF8, describeInvalid(text))
}

func describeInvalid(text string) string {
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		if r == utf8.RuneError && n <= 1 {
			end := min(i+4, len(text))
			return fmt.Sprintf("invalid byte sequence % x at byte %d", text[i:end], i)
		}
		i += n
	}
	return "invalid byte sequence"
}

// smallPiece is the piece length up to which the quadratic merge (fast for
// short pieces) is used; longer pieces use the heap-based merge, O(n log n),
// and from longPiece bytes on the backtracking encoder, linear in their
// length (or the heap still, for a vocabulary the backtracker does not suit).
const smallPiece = 128

// longPiece is the piece length from which the backtracking encoder is used:
// its tables are built on first use (a one-off 0.1–0.3 s), which shorter
// pieces, handled well enough by the heap, need not pay for.
const longPiece = 1024

// bytePairEncode appends the ids of one piece that is not itself a token.
func (b *BPE) bytePairEncode(out []int32, piece string) []int32 {
	if len(piece) <= smallPiece {
		return b.mergeSmall(out, piece)
	}
	return b.mergeLong(out, piece)
}

// mergeLong appends the ids of a piece longer than smallPiece.
func (b *BPE) mergeLong(out []int32, piece string) []int32 {
	if len(piece) < longPiece {
		return b.mergeHeap(out, piece)
	}
	if bt := b.vocab.backtracker(); bt != nil {
		if res, _, ok := bt.encode(out, piece, nil); ok {
			return res
		}
	}
	return b.mergeHeap(out, piece)
}

const noRank = int32(1<<31 - 1)

func (b *BPE) rank(s string) int32 {
	if r, ok := b.vocab.get(s); ok {
		return r
	}
	return noRank
}

// mergeSmall is tiktoken's byte_pair_merge: parts[i] is the start of part i
// and rank[i] the rank of joining part i with part i+1.
func (b *BPE) mergeSmall(out []int32, piece string) []int32 {
	var buf [smallPiece + 1]int
	starts := b.mergeParts(piece, &buf)
	for i := 0; i+1 < len(starts); i++ {
		out = append(out, b.rank(piece[starts[i]:starts[i+1]]))
	}
	return out
}

// mergeParts merges piece (at most smallPiece bytes) and returns the starts
// of its final parts followed by len(piece), in buf.
func (b *BPE) mergeParts(piece string, buf *[smallPiece + 1]int) []int {
	var rankBuf [smallPiece + 1]int32
	n := len(piece)
	starts := buf[:n+1]
	ranks := rankBuf[:n+1]
	for i := range starts {
		starts[i] = i
		ranks[i] = noRank
	}
	for i := 0; i+2 <= n; i++ {
		ranks[i] = b.rank(piece[i : i+2])
	}
	// pairRank is the rank of parts i and i+1 joined, given the current starts.
	pairRank := func(i int) int32 {
		if i+2 < len(starts) {
			return b.rank(piece[starts[i]:starts[i+2]])
		}
		return noRank
	}
	for len(starts) > 2 {
		best, bi := noRank, -1
		for i := 0; i < len(starts)-2; i++ {
			if ranks[i] < best {
				best, bi = ranks[i], i
			}
		}
		if bi < 0 {
			break
		}
		// Join parts bi and bi+1: drop the boundary at bi+1.
		copy(starts[bi+1:], starts[bi+2:])
		starts = starts[:len(starts)-1]
		copy(ranks[bi+1:], ranks[bi+2:])
		ranks = ranks[:len(ranks)-1]
		ranks[bi] = pairRank(bi)
		if bi > 0 {
			ranks[bi-1] = pairRank(bi - 1)
		}
	}
	return starts
}

// mergeHeap gives the same result as mergeSmall in O(n log n): the parts form
// a linked list and candidate pairs sit in a min-heap ordered by (rank, start);
// a popped pair whose span has changed since it was pushed is stale and skipped.
func (b *BPE) mergeHeap(out []int32, piece string) []int32 {
	n := len(piece)
	next := make([]int32, n) // start of the following part, n at the end
	prev := make([]int32, n) // start of the preceding part, -1 at the start
	alive := make([]bool, n)
	for i := range n {
		next[i] = int32(i + 1)
		prev[i] = int32(i - 1)
		alive[i] = true
	}
	h := pairHeap(make([]pair, 0, n))
	push := func(i int32) {
		j := next[i]
		if int(j) >= n {
			return
		}
		end := next[j]
		if r := b.rank(piece[i:end]); r != noRank {
			h.push(pair{rank: r, start: i, end: end})
		}
	}
	for i := int32(0); int(i) < n-1; i++ {
		push(i)
	}
	for len(h) > 0 {
		p := h.pop()
		i := p.start
		if !alive[i] || int(next[i]) >= n || next[next[i]] != p.end {
			continue // stale
		}
		j := next[i]
		alive[j] = false
		next[i] = p.end
		if int(p.end) < n {
			prev[p.end] = i
		}
		if prev[i] >= 0 {
			push(prev[i])
		}
		push(i)
	}
	for i := int32(0); int(i) < n; i = next[i] {
		out = append(out, b.rank(piece[i:next[i]]))
	}
	return out
}

type pair struct {
	rank       int32
	start, end int32
}

func (p pair) less(q pair) bool {
	return p.rank < q.rank || p.rank == q.rank && p.start < q.start
}

// pairHeap is a binary min-heap of pairs.
type pairHeap []pair

func (h *pairHeap) push(p pair) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		parent := (i - 1) / 2
		if !s[i].less(s[parent]) {
			break
		}
		s[i], s[parent] = s[parent], s[i]
		i = parent
	}
}

func (h *pairHeap) pop() pair {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s[l].less(s[m]) {
			m = l
		}
		if r < len(s) && s[r].less(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}
