package tokenizer

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"math"
	"slices"
	"strings"
)

// backtracker encodes long pieces in time linear in their length with the
// backtracking encoder of github.com/github/rust-gems (crate bpe), which gives
// tiktoken's lowest-rank-first merge result for vocabularies in which every
// token merges to itself.
//
// The idea: call two adjacent tokens compatible when byte-pair encoding their
// concatenated bytes gives back exactly those two tokens. The merge result of
// a piece is the one split of it into tokens in which every adjacent pair is
// compatible. The encoder walks the piece left to right, taking the longest
// token that starts at the current position and is compatible with the
// previous one, trying shorter prefixes of it next, and stepping back one
// token when none fits; a bit per position remembers the positions from which
// no split of the rest exists, so each position fails at most once.
//
// Compatibility is decided from each token's last merge (the pair of tokens it
// is made of, recovered from the vocabulary in rank order) without looking at
// bytes: see validPair.
type backtracker struct {
	// A trie of the tokens' bytes in breadth-first order: node n's children
	// are nodes first[n] ... first[n]+kids[n]-1, sorted by their label.
	first []uint32
	kids  []uint16
	label []byte
	tok   []int32 // the rank of the token the path to the node spells, or -1

	// Per rank: the token's length in bytes (0 for a rank with no token),
	// its longest proper prefix that is a token (-1 if none), and the two
	// tokens of its last merge (the token itself twice for single bytes).
	size   []uint16
	prefix []int32
	split  [][2]uint32
	pairs  pairTable // (left, right) -> the token they merge into
}

// backtracker returns the table's backtracking encoder, building it on first
// use, or nil when the vocabulary does not suit it (then the heap merge is
// used).
func (t *vocabTable) backtracker() *backtracker {
	t.btOnce.Do(func() { t.bt = newBacktracker(t) })
	return t.bt
}

// maxBacktrackToken is the longest token the backtracker handles; a
// vocabulary with longer tokens uses the heap merge.
const maxBacktrackToken = math.MaxUint16

func newBacktracker(t *vocabTable) *backtracker {
	n := t.len()
	maxRank := int32(-1)
	for e := range n {
		if len(t.key(e)) > maxBacktrackToken || len(t.key(e)) == 0 {
			return nil
		}
		maxRank = max(maxRank, t.ranks[e])
	}
	if maxRank < 0 || int(maxRank) > 4*n+1024 || maxRank >= maxPairRank {
		return nil // ranks too sparse for per-rank arrays, or too large for pairTable
	}
	// byRank[r] is the entry of rank r, or -1.
	byRank := make([]int32, maxRank+1)
	for i := range byRank {
		byRank[i] = -1
	}
	for e := range n {
		r := t.ranks[e]
		if byRank[r] >= 0 {
			return nil // two tokens share a rank
		}
		byRank[r] = int32(e)
	}
	bt := &backtracker{size: make([]uint16, maxRank+1), prefix: make([]int32, maxRank+1)}
	for r, e := range byRank {
		bt.prefix[r] = -1
		if e >= 0 {
			bt.size[r] = uint16(len(t.key(int(e))))
		}
	}
	if t.hints != "" {
		// The vocabulary image says where each token's last merge splits it
		// (see splitHints): recover the merges on another goroutine while
		// this one builds the trie.
		done := make(chan bool, 1)
		go func() { done <- bt.splitsFromHints(t, byRank) }()
		bt.buildTrie(t)
		if !<-done || bt.kids[0] != 256 {
			return nil
		}
		return bt
	}
	bt.buildTrie(t)
	if bt.kids[0] != 256 {
		return nil // a byte with no token
	}

	// Recover each token's last merge in rank order, as rust-gems' bpe does:
	// the longest prefix token whose rest is a token, both of lower rank,
	// that form a compatible pair.
	bt.split = make([][2]uint32, maxRank+1)
	bt.pairs = newPairTable(n)
	for r, e := range byRank {
		id := uint32(r)
		bt.split[r] = [2]uint32{id, id}
		if e < 0 {
			continue
		}
		key := t.key(int(e))
		for p := bt.prefix[r]; p >= 0; p = bt.prefix[p] {
			rest, ok := t.get(key[bt.size[p]:])
			if ok && p < int32(r) && rest < int32(r) && bt.validPair(uint32(p), uint32(rest)) {
				bt.pairs.put(uint32(p), uint32(rest), id)
				bt.split[r] = [2]uint32{uint32(p), uint32(rest)}
				break
			}
		}
		if len(key) > 1 && bt.split[r][0] == id {
			return nil // a token of several bytes that no merge makes
		}
	}
	return bt
}

// splitHints returns, per entry of t, the length of the left token of its
// last merge (0 for single bytes), as the vocabulary image stores them: with
// them the backtracker skips the search for each token's last merge.
func (bt *backtracker) splitHints(t *vocabTable) []uint32 {
	hints := make([]uint32, t.len())
	for e, r := range t.ranks {
		if sp := bt.split[r]; sp[0] != uint32(r) {
			hints[e] = uint32(bt.size[sp[0]])
		}
	}
	return hints
}

// splitsFromHints fills split and pairs from t.hints, the uvarint lengths
// that splitHints gives, in entry order. It reports false if a hint does not
// describe a merge of two lower-ranked tokens.
func (bt *backtracker) splitsFromHints(t *vocabTable, byRank []int32) bool {
	bt.split = make([][2]uint32, len(byRank))
	for r := range bt.split {
		bt.split[r] = [2]uint32{uint32(r), uint32(r)}
	}
	bt.pairs = newPairTable(t.len())
	h := t.hints
	for e, r := range t.ranks {
		v, k := binary.Uvarint([]byte(h[:min(len(h), binary.MaxVarintLen32)]))
		if k <= 0 {
			return false
		}
		h = h[k:]
		key := t.key(e)
		if v == 0 {
			if len(key) > 1 {
				return false
			}
			continue
		}
		if v >= uint64(len(key)) {
			return false
		}
		left, ok1 := t.get(key[:v])
		right, ok2 := t.get(key[v:])
		if !ok1 || !ok2 || left >= r || right >= r {
			return false
		}
		bt.pairs.put(uint32(left), uint32(right), uint32(r))
		bt.split[r] = [2]uint32{uint32(left), uint32(right)}
	}
	return h == ""
}

// buildTrie fills the trie from the tokens sorted by their bytes: a node
// covers a run of sorted tokens sharing its path, the first of which is the
// node's own token when its length equals the depth.
func (bt *backtracker) buildTrie(t *vocabTable) {
	n := t.len()
	// Sort by the first 8 bytes packed big-endian, then by all the bytes.
	type sortKey struct {
		prefix uint64
		e      int32
	}
	keys := make([]sortKey, n)
	for e := range keys {
		var buf [8]byte
		copy(buf[:], t.key(e))
		keys[e] = sortKey{binary.BigEndian.Uint64(buf[:]), int32(e)}
	}
	slices.SortFunc(keys, func(a, b sortKey) int {
		if c := cmp.Compare(a.prefix, b.prefix); c != 0 {
			return c
		}
		return strings.Compare(t.key(int(a.e)), t.key(int(b.e)))
	})
	order := make([]int32, n)
	for i, k := range keys {
		order[i] = k.e
	}
	keys = nil
	nodes := len(t.arena)/3 + 257
	bt.first = make([]uint32, 0, nodes)
	bt.kids = make([]uint16, 0, nodes)
	bt.label = make([]byte, 0, nodes)
	bt.tok = make([]int32, 0, nodes)
	type span struct{ lo, hi, depth, near int32 } // near: nearest token on the path above
	// The root covers every token.
	bt.first = append(bt.first, 0)
	bt.kids = append(bt.kids, 0)
	bt.label = append(bt.label, 0)
	bt.tok = append(bt.tok, -1)
	queue := make([]span, 1, nodes)
	queue[0] = span{0, int32(n), 0, -1}
	for node := 0; node < len(queue); node++ {
		s := queue[node]
		lo := s.lo
		near := s.near
		if lo < s.hi && int32(len(t.key(int(order[lo])))) == s.depth {
			r := t.ranks[order[lo]]
			bt.tok[node] = r
			bt.prefix[r] = s.near
			near = r
			lo++
		}
		bt.first[node] = uint32(len(queue))
		for lo < s.hi {
			c := t.key(int(order[lo]))[s.depth]
			hi := lo + 1
			for hi < s.hi && t.key(int(order[hi]))[s.depth] == c {
				hi++
			}
			queue = append(queue, span{lo, hi, s.depth + 1, near})
			bt.first = append(bt.first, 0)
			bt.kids = append(bt.kids, 0)
			bt.label = append(bt.label, c)
			bt.tok = append(bt.tok, -1)
			bt.kids[node]++
			lo = hi
		}
	}
}

// longest returns the rank of the longest token that text starts with, or -1
// when text is empty.
func (bt *backtracker) longest(text string) int32 {
	if len(text) == 0 {
		return -1
	}
	// Every byte is a token, so the root has 256 children in byte order.
	node := bt.first[0] + uint32(text[0])
	best := bt.tok[node]
	for i := 1; i < len(text); i++ {
		f := bt.first[node]
		k := uint32(bt.kids[node])
		c := text[i]
		var j uint32
		if k <= 8 {
			labels := bt.label[f : f+k]
			for j = 0; j < k && labels[j] != c; j++ {
			}
			if j == k {
				break
			}
		} else {
			at := bytes.IndexByte(bt.label[f:f+k], c)
			if at < 0 {
				break
			}
			j = uint32(at)
		}
		node = f + j
		if r := bt.tok[node]; r >= 0 {
			best = r
		}
	}
	return best
}

// validPair reports whether tokens a and b, adjacent, are what byte-pair
// encoding their bytes gives: undoing the merges of a from the right and of
// b from the left in reverse rank order, no pair across the boundary may
// merge before the merge that was undone (rust-gems' is_valid_token_pair).
func (bt *backtracker) validPair(a, b uint32) bool {
	limit := uint32(math.MaxUint32)
	for {
		if m, ok := bt.pairs.get(a, b); ok && m < limit {
			return false
		}
		if a > b {
			limit = a
			a = bt.split[a][1]
			if a == limit {
				limit = b + 1
				b = bt.split[b][0]
				if b+1 == limit {
					return true
				}
			}
		} else {
			limit = b + 1
			b = bt.split[b][0]
			if b+1 == limit {
				limit = a
				a = bt.split[a][1]
				if a == limit {
					return true
				}
			}
		}
	}
}

// encode appends the merge result of piece to out. bits is scratch space,
// returned for reuse. It reports false, with out unspecified beyond its
// original length, if no split into compatible tokens exists, which cannot
// happen for a vocabulary that passed newBacktracker's checks.
func (bt *backtracker) encode(out []int32, piece string, bits []uint64) ([]int32, []uint64, bool) {
	words := (len(piece) + 1 + 63) / 64
	if cap(bits) < words {
		bits = make([]uint64, words)
	}
	bits = bits[:words]
	for i := range bits {
		bits[i] = math.MaxUint64 // position p is set while a split of piece[p:] may exist
	}
	var memo pairMemo
	base := len(out)
	pos := 0
	next := bt.longest(piece)
	for next >= 0 {
		tok := next
		last := int32(-1)
		if len(out) > base {
			last = out[len(out)-1]
		}
		for {
			end := pos + int(bt.size[tok])
			if bits[end>>6]&(1<<(end&63)) != 0 && (last < 0 || memo.valid(bt, uint32(last), uint32(tok))) {
				out = append(out, tok)
				pos = end
				next = bt.longest(piece[end:])
				break
			}
			if p := bt.prefix[tok]; p >= 0 {
				tok = p
				continue
			}
			// No token fits at pos: step back one token.
			if last < 0 {
				return out, bits, false
			}
			bits[pos>>6] &^= 1 << (pos & 63)
			out = out[:len(out)-1]
			pos -= int(bt.size[last])
			next = last
			break
		}
	}
	return out, bits, true
}

// maxPairRank bounds the ranks pairTable can hold: a slot packs two ranks
// and the rank they merge into in 21 bits each.
const maxPairRank = 1<<21 - 1

// pairTable maps a pair of ranks to a rank: open addressing with linear
// probing over packed slots, behind a one-bit-per-hash filter small enough to
// stay in cache, since most pairs looked up are not there.
type pairTable struct {
	slots  []uint64 // (a+1)<<42 | b<<21 | merged; 0 is empty
	shift  uint     // 64 - log2(len(slots)): a key's home is the top bits of its hash
	filter []uint64
	fshift uint // 64 - log2(bits in filter)
}

// maxFilterBits bounds the filter to 256 KiB.
const maxFilterBits = 21

func newPairTable(n int) pairTable {
	bits := uint(6)
	for 1<<bits < 2*n+2 {
		bits++
	}
	fbits := min(bits+3, maxFilterBits)
	return pairTable{slots: make([]uint64, 1<<bits), shift: 64 - bits, filter: make([]uint64, 1<<(fbits-6)), fshift: 64 - fbits}
}

// pairKey returns the key bits of a slot for (a, b) and the key's hash.
func pairKey(a, b uint32) (key, hash uint64) {
	key = uint64(a+1)<<42 | uint64(b)<<21
	return key, key * 0x9E3779B97F4A7C15
}

const pairValMask = 1<<21 - 1

func (p *pairTable) put(a, b, v uint32) {
	k, h := pairKey(a, b)
	f := h >> p.fshift
	p.filter[f>>6] |= 1 << (f & 63)
	mask := uint64(len(p.slots) - 1)
	for i := h >> p.shift; ; i = (i + 1) & mask {
		if s := p.slots[i]; s == 0 || s&^pairValMask == k {
			p.slots[i] = k | uint64(v)
			return
		}
	}
}

func (p *pairTable) get(a, b uint32) (uint32, bool) {
	k, h := pairKey(a, b)
	if f := h >> p.fshift; p.filter[f>>6]&(1<<(f&63)) == 0 {
		return 0, false
	}
	mask := uint64(len(p.slots) - 1)
	for i := h >> p.shift; ; i = (i + 1) & mask {
		s := p.slots[i]
		if s&^pairValMask == k {
			return uint32(s & pairValMask), true
		}
		if s == 0 {
			return 0, false
		}
	}
}

// pairMemo remembers recent validPair answers: the pairs of adjacent tokens
// in a long piece repeat.
type pairMemo [4096]uint64 // (a<<32 | b, plus one) << 1 | answer; 0 is empty

func (m *pairMemo) valid(bt *backtracker, a, b uint32) bool {
	k := uint64(a)<<32 | uint64(b) + 1
	e := &m[(k*0x9E3779B97F4A7C15)>>52]
	if *e>>1 == k {
		return *e&1 != 0
	}
	v := bt.validPair(a, b)
	*e = k << 1
	if v {
		*e |= 1
	}
	return v
}
