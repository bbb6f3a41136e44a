package tokenizer

// Count returns the number of tokens Encode would return for text, with the
// same errors, without building the ids. Pieces that need merging are merged
// once per call and their counts remembered, which pays off on natural text
// where words repeat.
func (b *BPE) Count(text string) (int, error) {
	if err := b.check(text); err != nil {
		return 0, err
	}
	c := counter{b: b}
	if !b.allowAll && len(b.allowed) == 0 {
		return c.count(text), nil
	}
	n := 0
	for len(text) > 0 {
		at, tok := b.nextAllowed(text)
		if at < 0 {
			n += c.count(text)
			break
		}
		n += c.count(text[:at]) + 1
		text = text[at+len(tok):]
	}
	return n, nil
}

// counter counts the tokens of ordinary text for one Count call.
type counter struct {
	b     *BPE
	cache map[string]int32 // merged piece → its token count
	short *shortCache      // counts of pieces of up to 8 bytes, for long texts
}

// shortCacheMin is the text length from which Count keeps a shortCache.
const shortCacheMin = 16 << 10

// shortCache is a direct-mapped cache of the token counts of pieces of up to
// 8 bytes (most pieces of prose and code), held in registers-sized words so
// that a hit costs no hashing of the bytes and no vocabulary lookup.
type shortCache [4096]struct {
	word uint64 // the piece's bytes, little-endian
	meta uint32 // len<<8 | count; 0 is empty
}

func (c *counter) count(text string) int {
	b := c.b
	if c.short == nil && len(text) >= shortCacheMin {
		c.short = new(shortCache)
	}
	n := 0
	for i := 0; i < len(text); {
		j := b.split(text, i)
		piece := text[i:j]
		i = j
		if len(piece) <= 8 && c.short != nil {
			var w uint64
			for k := 0; k < len(piece); k++ {
				w |= uint64(piece[k]) << (8 * k)
			}
			e := &c.short[((w+uint64(len(piece)))*0x9E3779B97F4A7C15)>>52]
			if e.word == w && e.meta>>8 == uint32(len(piece)) {
				n += int(e.meta & 0xff)
				continue
			}
			k := c.countPiece(piece)
			e.word, e.meta = w, uint32(len(piece))<<8|uint32(k)
			n += k
			continue
		}
		n += c.countPiece(piece)
	}
	return n
}

// countPiece returns the number of tokens of one piece.
func (c *counter) countPiece(piece string) int {
	b := c.b
	if _, ok := b.vocab.get(piece); ok {
		return 1
	}
	if k, ok := c.cache[piece]; ok {
		return int(k)
	}
	var k int
	if len(piece) <= smallPiece {
		k = b.mergeSmallCount(piece)
	} else {
		k = len(b.mergeLong(nil, piece))
	}
	if c.cache == nil {
		c.cache = make(map[string]int32)
	}
	c.cache[piece] = int32(k)
	return k
}

// mergeSmallCount is mergeSmall without looking up the final parts: it
// returns only how many there are.
func (b *BPE) mergeSmallCount(piece string) int {
	var buf [smallPiece + 1]int
	return len(b.mergeParts(piece, &buf)) - 1
}
