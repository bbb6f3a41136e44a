package tokenizer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"hash/maphash"
	"math/bits"
	"sync"
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

	btOnce sync.Once
	bt     *backtracker // see backtracker; nil when the vocabulary does not suit it
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
	// Insert in the order of the entries' home slots, so that the writes
	// sweep the table once instead of landing at random: a counting sort of
	// the entries by the top bits of their home slot.
	hashes := make([]uint64, n)
	const bucketBits = 12
	shift := max(bits.Len64(t.mask)-bucketBits, 0)
	var counts [1<<bucketBits + 1]int32
	for e := range n {
		h := maphash.String(t.seed, t.key(e))
		hashes[e] = h
		counts[(h&t.mask)>>shift+1]++
	}
	for i := 1; i < len(counts); i++ {
		counts[i] += counts[i-1]
	}
	order := make([]int32, n)
	for e, h := range hashes {
		at := &counts[(h&t.mask)>>shift]
		order[*at] = int32(e)
		*at++
	}
	for _, e32 := range order {
		e := int(e32)
		key := t.key(e)
		h := hashes[e]
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
	lines := bytes.Count(data, []byte{'\n'})
	b := newVocabBuilder(lines+1, len(data)*3/4)
	var buf [1024]byte
	line := 0
	for len(data) > 0 {
		line++
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			end = len(data)
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
		sp := bytes.IndexByte(text, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%s:%d: want \"<base64 token> <rank>\", got %q", name, line, truncate(text))
		}
		if base64.StdEncoding.DecodedLen(sp) > len(buf) {
			return nil, fmt.Errorf("%s:%d: token longer than %d bytes", name, line, len(buf))
		}
		n, ok := decodeBase64(buf[:], text[:sp])
		if !ok {
			var err error
			if n, err = base64.StdEncoding.Decode(buf[:], text[:sp]); err != nil {
				return nil, fmt.Errorf("%s:%d: token is not base64: %w", name, line, err)
			}
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

// base64Values maps a byte of the standard base64 alphabet to its value and
// every other byte to 0xff.
var base64Values = func() (v [256]byte) {
	for i := range v {
		v[i] = 0xff
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(alphabet) {
		v[alphabet[i]] = byte(i)
	}
	return v
}()

// decodeBase64 decodes src, padded standard base64, into dst, which must be
// large enough. It reports false for anything but whole quanta of alphabet
// bytes with at most two '=' at the end; the caller then falls back to
// encoding/base64, which gives the same bytes for what this accepts.
func decodeBase64(dst, src []byte) (int, bool) {
	if len(src)%4 != 0 || len(src) == 0 {
		return 0, false
	}
	pad := 0
	if src[len(src)-1] == '=' {
		pad++
		if src[len(src)-2] == '=' {
			pad++
		}
	}
	n := 0
	for i := 0; i < len(src); i += 4 {
		a, b, c, d := base64Values[src[i]], base64Values[src[i+1]], base64Values[src[i+2]], base64Values[src[i+3]]
		if i+4 == len(src) && pad > 0 {
			d = 0
			if pad == 2 {
				c = 0
			}
		}
		if (a|b|c|d)&0xc0 != 0 { // 0xff marks a byte outside the alphabet
			return 0, false
		}
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[n], dst[n+1], dst[n+2] = byte(v>>16), byte(v>>8), byte(v)
		n += 3
	}
	return n - pad, true
}
