package tokenizer

import (
	"encoding/binary"
	"errors"
)

// A vocabulary image is a vocabTable written out as it lies in memory, so
// that the built-in encodings load without parsing their rank files or
// hashing their tokens: go generate writes one per encoding into
// vocab_images/ (see TestVocabImages), and New copies the slots out of it
// and takes the token bytes as a substring of the embedded image, with no
// copy at all. The image also holds, per token, where its last merge splits
// it, which the backtracking encoder would otherwise search for when it is
// first needed. The rank files stay the source of truth: TestVocabImages
// rebuilds every image from its rank file and fails when a committed image
// differs. To rebuild the images from nothing (after a change of format, say),
// empty files in their place let the package compile, and then
//
//	go generate -run TestVocabImages ./engine/tokenizer
//
// Layout, little-endian:
//
//	magic    [8]byte "MVOCAB2\n"
//	seed     uint64  the hash seed the slots were built with
//	n        uint32  entries
//	runs     uint32  rank runs
//	arena    uint32  bytes of token text
//	hints    uint32  bytes of split hints (0: none)
//	runs ×   (entry, rank uint32): from entry on, ranks count up from rank
//	n ×      uvarint token length, in entry order
//	slots ×  uint32, tableSize(n) of them
//	arena    token bytes, in entry order
//	hints    n × uvarint, in entry order (backtracker.splitHints)
const imageMagic = "MVOCAB2\n"

// imageSeed is the hash seed of the built-in encodings' tables.
const imageSeed = 0x6d696e6572766121

// appendImage appends the image of t to dst.
func appendImage(dst []byte, t *vocabTable) []byte {
	n := t.len()
	var hints []byte
	if bt := newBacktracker(t); bt != nil {
		for _, h := range bt.splitHints(t) {
			hints = binary.AppendUvarint(hints, uint64(h))
		}
	}
	type run struct{ e, r uint32 }
	var runs []run
	for e, r := range t.ranks {
		if e == 0 || r != t.ranks[e-1]+1 {
			runs = append(runs, run{uint32(e), uint32(r)})
		}
	}
	dst = append(dst, imageMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, t.seed)
	dst = binary.LittleEndian.AppendUint32(dst, uint32(n))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(runs)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(t.arena)))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(hints)))
	for _, r := range runs {
		dst = binary.LittleEndian.AppendUint32(dst, r.e)
		dst = binary.LittleEndian.AppendUint32(dst, r.r)
	}
	for e := range n {
		dst = binary.AppendUvarint(dst, uint64(t.offs[e+1]-t.offs[e]))
	}
	for _, s := range t.slots {
		dst = binary.LittleEndian.AppendUint32(dst, s)
	}
	dst = append(dst, t.arena...)
	return append(dst, hints...)
}

var errImage = errors.New("malformed vocabulary image")

// tableFromImage returns the table an image holds. The token bytes are a
// substring of img; everything else is copied out.
func tableFromImage(img string) (*vocabTable, error) {
	const header = len(imageMagic) + 8 + 4 + 4 + 4 + 4
	if len(img) < header || img[:len(imageMagic)] != imageMagic {
		return nil, errImage
	}
	p := len(imageMagic)
	seed := load64(img, p)
	n := int(load32(img, p+8))
	nruns := int(load32(img, p+12))
	arenaLen := int(load32(img, p+16))
	hintsLen := int(load32(img, p+20))
	p = header
	size, idBits := tableSize(n)
	if n == 0 || nruns == 0 || nruns > n || len(img)-p < 8*nruns+n+4*int(size)+arenaLen+hintsLen {
		return nil, errImage
	}
	t := &vocabTable{offs: make([]uint32, n+1), ranks: make([]int32, n), slots: make([]uint32, size), mask: size - 1, seed: seed, bits: idBits}
	// Ranks.
	for i := range nruns {
		e, r := int(load32(img, p+8*i)), load32(img, p+8*i+4)
		end := n
		if i+1 < nruns {
			end = int(load32(img, p+8*i+8))
		}
		if e >= end || end > n || (i == 0) != (e == 0) || uint64(r)+uint64(end-e) > 1<<31 {
			return nil, errImage
		}
		for k := e; k < end; k++ {
			t.ranks[k] = int32(r)
			r++
		}
	}
	p += 8 * nruns
	// Offsets, from the lengths.
	off := uint32(0)
	for e := range n {
		c := uint32(img[p])
		p++
		if c >= 0x80 {
			v, k := binary.Uvarint([]byte(img[p-1 : min(p+4, len(img))]))
			if k <= 0 || v > uint64(arenaLen) {
				return nil, errImage
			}
			c = uint32(v)
			p += k - 1
		}
		off += c
		t.offs[e+1] = off
	}
	if int(off) != arenaLen || len(img)-p != 4*int(size)+arenaLen+hintsLen {
		return nil, errImage
	}
	idMask := t.idMask()
	for i := range t.slots {
		s := load32(img, p+4*i)
		if int(s&idMask) > n {
			return nil, errImage
		}
		t.slots[i] = s
	}
	p += 4 * int(size)
	t.arena = img[p : p+arenaLen]
	t.hints = img[p+arenaLen:]
	return t, nil
}
