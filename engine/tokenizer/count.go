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
}

func (c *counter) count(text string) int {
	b := c.b
	n := 0
	for i := 0; i < len(text); {
		j := b.split(text, i)
		piece := text[i:j]
		i = j
		if _, ok := b.vocab.get(piece); ok {
			n++
			continue
		}
		if k, ok := c.cache[piece]; ok {
			n += int(k)
			continue
		}
		var k int
		if len(piece) <= smallPiece {
			k = b.mergeSmallCount(piece)
		} else {
			k = len(b.mergeHeap(nil, piece))
		}
		if c.cache == nil {
			c.cache = make(map[string]int32)
		}
		c.cache[piece] = int32(k)
		n += k
	}
	return n
}

// mergeSmallCount is mergeSmall without looking up the final parts: it
// returns only how many there are.
func (b *BPE) mergeSmallCount(piece string) int {
	var buf [smallPiece + 1]int
	return len(b.mergeParts(piece, &buf)) - 1
}
