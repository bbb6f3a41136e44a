package tokenizer

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"sync"
)

// vocabTable maps token bytes to ranks. It is an open-addressing hash table
// over one byte arena: loading it allocates a handful of slices rather than
// one string per token, and a lookup hashes the key once and compares a
// fingerprint before any bytes. Every part is free of pointers but the
// arena, so the garbage collector does not scan it, and the hash is
// deterministic for a given seed, so that the built-in encodings' tables can
// be built at go generate time (see vocab_image.go).
type vocabTable struct {
	arena string   // every token's bytes, concatenated
	offs  []uint32 // entry e's bytes are arena[offs[e]:offs[e+1]]
	ranks []int32  // entry e's rank
	slots []uint32 // fingerprint<<idBits | entry+1; 0 is empty
	mask  uint64
	seed  uint64
	bits  uint8 // idBits: the low bits of a slot that hold entry+1

	// hints, from a vocabulary image, speed up building the backtracker:
	// see backtracker.splitHints. "" when there are none.
	hints string

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

// tableSize returns the number of slots for n entries (a power of two, at
// most half full) and the number of slot bits that hold an entry.
func tableSize(n int) (size uint64, idBits uint8) {
	return uint64(1) << bits.Len64(uint64(2*n+1)), uint8(bits.Len64(uint64(n)))
}

// build returns the table with a random hash seed, or the first token that
// occurs twice.
func (b *vocabBuilder) build() (*vocabTable, string, bool) {
	return b.buildSeed(rand.Uint64())
}

// buildSeed is build with the given hash seed: the same entries and seed
// give the same slots.
func (b *vocabBuilder) buildSeed(seed uint64) (*vocabTable, string, bool) {
	n := len(b.ranks)
	size, idBits := tableSize(n)
	t := &vocabTable{arena: string(b.arena), offs: b.offs, ranks: b.ranks, slots: make([]uint32, size), mask: size - 1, seed: seed, bits: idBits}
	// Insert in the order of the entries' home slots, so that the writes
	// sweep the table once instead of landing at random: a counting sort of
	// the entries by the top bits of their home slot. Entries sharing a
	// bucket keep their order, so the slots depend only on the entries and
	// the seed.
	hashes := make([]uint64, n)
	const bucketBits = 12
	shift := max(bits.Len64(t.mask)-bucketBits, 0)
	var counts [1<<bucketBits + 1]int32
	for e := range n {
		h := hashString(t.seed, t.key(e))
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
		fp := t.fingerprint(h)
		for i := h & t.mask; ; i = (i + 1) & t.mask {
			s := t.slots[i]
			if s == 0 {
				t.slots[i] = fp | uint32(e+1)
				break
			}
			if s&^t.idMask() == fp && t.key(int(s&t.idMask())-1) == key {
				return nil, key, false
			}
		}
	}
	return t, "", true
}

func (t *vocabTable) key(e int) string { return t.arena[t.offs[e]:t.offs[e+1]] }

// idMask selects the entry+1 bits of a slot.
func (t *vocabTable) idMask() uint32 { return 1<<t.bits - 1 }

// fingerprint returns the fingerprint bits of a slot for hash h: its top
// bits, where the home slot takes the low bits.
func (t *vocabTable) fingerprint(h uint64) uint32 {
	return uint32(h>>32) &^ t.idMask()
}

// get returns the rank of token s.
func (t *vocabTable) get(s string) (int32, bool) {
	h := hashString(t.seed, s)
	idMask := uint32(1)<<t.bits - 1
	fp := uint32(h>>32) &^ idMask
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		slot := t.slots[i]
		if slot == 0 {
			return 0, false
		}
		if slot&^idMask == fp {
			if e := int(slot&idMask) - 1; t.key(e) == s {
				return t.ranks[e], true
			}
		}
	}
}

// hashString is a seeded 64-bit hash of s (wyhash's mixing), the same in
// every process for the same seed.
func hashString(seed uint64, s string) uint64 {
	const (
		k0 = 0xa0761d6478bd642f
		k1 = 0xe7037ed1a0b428db
		k2 = 0x8ebc6af09c88c6e3
	)
	n := len(s)
	seed ^= k0
	var a, b uint64
	switch {
	case n >= 4 && n <= 16:
		q := (n >> 3) << 2
		a = uint64(load32(s, 0))<<32 | uint64(load32(s, q))
		b = uint64(load32(s, n-4))<<32 | uint64(load32(s, n-4-q))
	case n > 0 && n < 4:
		a = uint64(s[0])<<16 | uint64(s[n>>1])<<8 | uint64(s[n-1])
	case n > 16:
		i := 0
		for ; n-i > 16; i += 16 {
			seed = mix(load64(s, i)^k1, load64(s, i+8)^seed)
		}
		a, b = load64(s, n-16), load64(s, n-8)
	}
	return mix(k1^uint64(n), mix(a^k1, b^seed)^k2)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func load32(s string, i int) uint32 {
	s = s[i : i+4]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func load64(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// len is the number of tokens.
func (t *vocabTable) len() int { return len(t.ranks) }

// tokenDecoder maps ids to token bytes with no pointer per token, so that
// building it allocates a few slices and the garbage collector does not scan
// it: id i < len(offs)-1 has the bytes arena[offs[i]:offs[i+1]], and the ids
// after those have tail[tailOffs[k]:tailOffs[k+1]], k counted from
// len(offs)-1. An id with no token has no bytes.
type tokenDecoder struct {
	arena    string
	offs     []uint32
	tail     string
	tailOffs []uint32
}

// size is one more than the largest id.
func (d *tokenDecoder) size() int { return len(d.offs) - 1 + max(len(d.tailOffs)-1, 0) }

// get returns the bytes of id, "" for an id with no token or out of range.
func (d *tokenDecoder) get(id int32) string {
	if id < 0 {
		return ""
	}
	if i := int(id); i < len(d.offs)-1 {
		return d.arena[d.offs[i]:d.offs[i+1]]
	}
	if k := int(id) - (len(d.offs) - 1); k < len(d.tailOffs)-1 {
		return d.tail[d.tailOffs[k]:d.tailOffs[k+1]]
	}
	return ""
}

// strings returns the bytes of every id (for tests).
func (d *tokenDecoder) strings() []string {
	out := make([]string, d.size())
	for i := range out {
		out[i] = d.get(int32(i))
	}
	return out
}

// decoder returns the decoder of the table's ranks and the special tokens.
// When the entries' ranks are 0, 1, 2, ... (the built-in encodings but
// p50k_base) and the special tokens come after them, it shares the table's
// arena and offsets and allocates only for the special tokens.
func (t *vocabTable) decoder(special map[string]int32) *tokenDecoder {
	n := t.len()
	identity := true
	for e, r := range t.ranks {
		if r != int32(e) {
			identity = false
			break
		}
	}
	size := int32(0)
	for _, r := range t.ranks {
		size = max(size, r+1)
	}
	for _, r := range special {
		size = max(size, r+1)
		if r < int32(n) {
			identity = false
		}
	}
	// build lays out the bytes of consecutive ids.
	build := func(byID []string) (string, []uint32) {
		total := 0
		for _, s := range byID {
			total += len(s)
		}
		arena := make([]byte, 0, total)
		offs := make([]uint32, 1, len(byID)+1)
		for _, s := range byID {
			arena = append(arena, s...)
			offs = append(offs, uint32(len(arena)))
		}
		return string(arena), offs
	}
	if identity {
		tail := make([]string, size-int32(n))
		for tok, r := range special {
			tail[r-int32(n)] = tok
		}
		d := &tokenDecoder{arena: t.arena, offs: t.offs}
		if len(tail) > 0 {
			d.tail, d.tailOffs = build(tail)
		}
		return d
	}
	byID := make([]string, size)
	for e, r := range t.ranks {
		byID[r] = t.key(e)
	}
	for tok, r := range special {
		byID[r] = tok
	}
	d := &tokenDecoder{}
	d.arena, d.offs = build(byID)
	return d
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
	return parseTiktokenTableSeed(data, name, rand.Uint64())
}

// parseTiktokenTableSeed is parseTiktokenTable with the given hash seed.
func parseTiktokenTableSeed(data []byte, name string, seed uint64) (*vocabTable, error) {
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
	t, dup, ok := b.buildSeed(seed)
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
