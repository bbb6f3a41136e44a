package tokenizer

import (
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"math/bits"
)

// vocabTable maps token bytes to ranks. It is an open-addressing hash table
// over one byte arena: loading it allocates a handful of slices rather than
// one string per token, and a lookup hashes the key once and compares a
// 32-bit fingerprint before any bytes.
type vocabTable struct {
	arena string   // every token's bytes, concatenated
	offs  []uint32 // entry e's bytes are arena[offs[e]:offs[e+1]]
	ranks []int32  // entry e's rank
	slots []uint64 // fingerprint<<32 | entry+1; 0 is empty
	mask  uint64
	seed  maphash.Seed
}

// vocabBuilder collects entries before the table is built.
type vocabBuilder struct {
	arena []byte
	offs  []uint32
	ranks []int32
}

func newVocabBuilder(n, bytes int) *vocabBuilder {
	return &vocabBuilder{arena: make([]byte, 0, bytes), offs: append(make([]uint32, 0, n+1), 0), ranks: make([]int32, 0, n)}
}

func (b *vocabBuilder) add(tok []byte, rank int32) {
	b.arena = append(b.arena, tok...)
	b.offs = append(b.offs, uint32(len(b.arena)))
	b.ranks = append(b.ranks, rank)
}

// build returns the table, or the first token that occurs twice.
func (b *vocabBuilder) build() (*vocabTable, string, bool) {
	n := len(b.ranks)
	size := uint64(1) << bits.Len64(uint64(2*n+1))
	t := &vocabTable{arena: string(b.arena), offs: b.offs, ranks: b.ranks, slots: make([]uint64, size), mask: size - 1, seed: maphash.MakeSeed()}
	for e := range n {
		key := t.key(e)
		h := maphash.String(t.seed, key)
		fp := h >> 32
		for i := h & t.mask; ; i = (i + 1) & t.mask {
			s := t.slots[i]
			if s == 0 {
				t.slots[i] = fp<<32 | uint64(e+1)
				break
			}
			if s>>32 == fp && t.key(int(uint32(s))-1) == key {
				return nil, key, false
			}
		}
	}
	return t, "", true
}

func (t *vocabTable) key(e int) string { return t.arena[t.offs[e]:t.offs[e+1]] }

// get returns the rank of token s.
func (t *vocabTable) get(s string) (int32, bool) {
	h := maphash.String(t.seed, s)
	fp := h >> 32
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		slot := t.slots[i]
		if slot == 0 {
			return 0, false
		}
		if slot>>32 == fp {
			if e := int(uint32(slot)) - 1; t.key(e) == s {
				return t.ranks[e], true
			}
		}
	}
}

// len is the number of tokens.
func (t *vocabTable) len() int { return len(t.ranks) }

// decoder returns rank → token bytes for ranks and special tokens; ids with
// no token are "".
func (t *vocabTable) decoder(special map[string]int32) []string {
	size := int32(0)
	for _, r := range t.ranks {
		size = max(size, r+1)
	}
	for _, r := range special {
		size = max(size, r+1)
	}
	dec := make([]string, size)
	for e, r := range t.ranks {
		dec[r] = t.key(e)
	}
	for tok, r := range special {
		dec[r] = tok
	}
	return dec
}

// tableFromMap builds a table from a token → rank map.
func tableFromMap(ranks map[string]int32) *vocabTable {
	n := 0
	for k := range ranks {
		n += len(k)
	}
	b := newVocabBuilder(len(ranks), n)
	for k, r := range ranks {
		b.add([]byte(k), r)
	}
	t, _, _ := b.build() // map keys are distinct
	return t
}

// parseTiktokenTable parses a .tiktoken rank file ("<base64 token> <rank>"
// per line) straight into a table, and checks it as parseTiktoken does.
func parseTiktokenTable(data []byte, name string) (*vocabTable, error) {
	lines := 0
	for _, c := range data {
		if c == '\n' {
			lines++
		}
	}
	b := newVocabBuilder(lines+1, len(data)*3/4)
	var buf [1024]byte
	line := 0
	for len(data) > 0 {
		line++
		end := 0
		for end < len(data) && data[end] != '\n' {
			end++
		}
		text := data[:end]
		if end < len(data) {
			data = data[end+1:]
		} else {
			data = nil
		}
		if len(text) > 0 && text[len(text)-1] == '\r' {
			text = text[:len(text)-1]
		}
		if len(text) == 0 {
			continue
		}
		sp := -1
		for i, c := range text {
			if c == ' ' {
				sp = i
				break
			}
		}
		if sp < 0 {
			return nil, fmt.Errorf("%s:%d: want \"<base64 token> <rank>\", got %q", name, line, truncate(text))
		}
		if base64.StdEncoding.DecodedLen(sp) > len(buf) {
			return nil, fmt.Errorf("%s:%d: token longer than %d bytes", name, line, len(buf))
		}
		n, err := base64.StdEncoding.Decode(buf[:], text[:sp])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: token is not base64: %w", name, line, err)
		}
		digits := text[sp+1:]
		rank := int64(0)
		for _, c := range digits {
			if c < '0' || c > '9' || rank > 1<<31 {
				rank = -1
				break
			}
			rank = rank*10 + int64(c-'0')
		}
		if len(digits) == 0 || rank < 0 || rank >= 1<<31 {
			return nil, fmt.Errorf("%s:%d: rank %q is not a non-negative 32-bit integer", name, line, truncate(digits))
		}
		b.add(buf[:n], int32(rank))
	}
	if len(b.ranks) == 0 {
		return nil, fmt.Errorf("%s: no tokens", name)
	}
	t, dup, ok := b.build()
	if !ok {
		return nil, fmt.Errorf("%s: token %q appears twice", name, dup)
	}
	for i := 0; i < 256; i++ {
		if _, ok := t.get(string([]byte{byte(i)})); !ok {
			return nil, fmt.Errorf("%s: the single byte 0x%02x has no rank; a byte-level BPE needs all 256", name, i)
		}
	}
	return t, nil
}
