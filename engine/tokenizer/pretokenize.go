package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// A splitter returns the end (exclusive byte offset) of the pre-token piece
// that starts at byte offset i of s. It must return a value greater than i
// whenever i < len(s). Splitters reproduce, by hand, the regular expressions
// that tiktoken uses to cut text into pieces before byte-pair merging; the
// semantics are those of a backtracking (Perl-style, leftmost-first) regex
// engine, which is what tiktoken's fancy-regex gives.
type splitter func(s string, i int) int

// ASCII character classes, for the fast path of the class functions.
const (
	clsLetter = 1 << iota
	clsNumber
	clsSpace
	clsUpper
	clsLower
)

var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case 'a' <= c && c <= 'z':
			t[c] = clsLetter | clsLower
		case 'A' <= c && c <= 'Z':
			t[c] = clsLetter | clsUpper
		case '0' <= c && c <= '9':
			t[c] = clsNumber
		case c == ' ' || '\t' <= c && c <= '\r':
			t[c] = clsSpace
		}
	}
	return t
}()

// runClass returns the end of the longest run from i of runes in ASCII class
// cls, or, outside ASCII, satisfying slow.
func runClass(s string, i int, cls uint8, slow func(rune) bool) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c]&cls == 0 {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !slow(r) {
			return i
		}
		i += n
	}
	return i
}

func runLetters(s string, i int) int { return runClass(s, i, clsLetter, isLetter) }

// runPunct returns the end of the longest run of [^\s\p{L}\p{N}] from i.
func runPunct(s string, i int) int {
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if asciiClass[c] != 0 {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !isPunct(r) {
			return i
		}
		i += n
	}
	return i
}

// Character classes of the tiktoken patterns. Outside ASCII they use the
// generated tables of unicode_tables.go (the Unicode version of tiktoken's
// regex engine), not Go's unicode tables, which can be an older version.

func isLetter(r rune) bool {
	if uint32(r) < utf8.RuneSelf {
		return asciiClass[r]&clsLetter != 0
	}
	return r >= 0 && unicode.Is(tableL, r)
}

func isNumber(r rune) bool {
	if uint32(r) < utf8.RuneSelf {
		return asciiClass[r]&clsNumber != 0
	}
	return r >= 0 && unicode.Is(tableN, r)
}

// isSpace is the regex \s class: the Unicode White_Space property.
func isSpace(r rune) bool {
	if uint32(r) < utf8.RuneSelf {
		return asciiClass[r]&clsSpace != 0
	}
	return r >= 0 && unicode.Is(tableWhite_Space, r)
}

func isCRLF(r rune) bool { return r == '\r' || r == '\n' }

// isPunct is [^\s\p{L}\p{N}].
func isPunct(r rune) bool { return r >= 0 && !isSpace(r) && !isLetter(r) && !isNumber(r) }

// isPrefix is [^\r\n\p{L}\p{N}].
func isPrefix(r rune) bool { return r >= 0 && !isCRLF(r) && !isLetter(r) && !isNumber(r) }

// isUpperish is o200k's [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}].
func isUpperish(r rune) bool {
	if r < utf8.RuneSelf {
		return 'A' <= r && r <= 'Z'
	}
	return unicode.In(r, tableLu, tableLt, tableLm, tableLo, tableM)
}

// isLowerish is o200k's [\p{Ll}\p{Lm}\p{Lo}\p{M}].
func isLowerish(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z'
	}
	return unicode.In(r, tableLl, tableLm, tableLo, tableM)
}

// at decodes the rune at byte offset i; at the end of s it returns (-1, 0).
func at(s string, i int) (rune, int) {
	if i >= len(s) {
		return -1, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// run returns the end of the longest run of runes satisfying f from i.
func run(s string, i int, f func(rune) bool) int {
	for i < len(s) {
		r, n := at(s, i)
		if !f(r) {
			break
		}
		i += n
	}
	return i
}

// foldEq reports whether r matches the ASCII lower-case letter lower under
// Unicode simple case folding (for s that includes U+017F LATIN SMALL LETTER LONG S).
func foldEq(r rune, lower byte) bool {
	if r == rune(lower) || r == rune(lower-'a'+'A') {
		return true
	}
	return lower == 's' && r == 'ſ'
}

// contraction matches '(?i:[sdmt]|ll|ve|re) at i (ASCII apostrophe) and
// returns its end, or -1.
func contraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' {
		return -1
	}
	r1, n1 := at(s, i+1)
	for _, c := range []byte("sdmt") {
		if foldEq(r1, c) {
			return i + 1 + n1
		}
	}
	r2, n2 := at(s, i+1+n1)
	for _, p := range [...][2]byte{{'l', 'l'}, {'v', 'e'}, {'r', 'e'}} {
		if foldEq(r1, p[0]) && foldEq(r2, p[1]) {
			return i + 1 + n1 + n2
		}
	}
	return -1
}

// caseSensitiveContraction matches 's|'t|'re|'ve|'m|'ll|'d at i, or returns -1.
func caseSensitiveContraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' {
		return -1
	}
	rest := s[i+1:]
	for _, c := range [...]string{"s", "t", "re", "ve", "m", "ll", "d"} {
		if len(rest) >= len(c) && rest[:len(c)] == c {
			return i + 1 + len(c)
		}
	}
	return -1
}

// whitespace handles the whitespace alternatives of the patterns. It is
// called at a whitespace rune. With endAnchor, \s++$ (the whole run when it
// reaches the end of the text) is tried first; with crlf, \s*[\r\n]+ (through
// the last CR or LF of the run) is tried next; then \s+(?!\S) (the run, less
// its last rune unless the run ends the text) and finally \s or \s+, which
// here can only be the run's single rune.
func whitespace(s string, i int, endAnchor, crlf bool) int {
	end := runClass(s, i, clsSpace, isSpace)
	if endAnchor && end == len(s) {
		return end
	}
	if crlf {
		for j := end - 1; j >= i; j-- {
			if s[j] == '\r' || s[j] == '\n' {
				return j + 1
			}
		}
	}
	if end == len(s) {
		return end
	}
	if _, last := utf8.DecodeLastRuneInString(s[i:end]); end-last > i {
		return end - last
	}
	return end
}

// splitR50K implements r50k_base / p50k_base (GPT-2):
//
//	'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s
func splitR50K(s string, i int) int {
	if e := caseSensitiveContraction(s, i); e > 0 {
		return e
	}
	r0, _ := at(s, i)
	j := i
	r := r0
	if r0 == ' ' {
		if r1, _ := at(s, i+1); r1 >= 0 && !isSpace(r1) {
			j, r = i+1, r1
		}
	}
	switch {
	case isLetter(r):
		return runLetters(s, j)
	case isNumber(r):
		return runClass(s, j, clsNumber, isNumber)
	case !isSpace(r):
		return runPunct(s, j)
	}
	return whitespace(s, i, true, false)
}

// splitCL100K implements cl100k_base:
//
//	'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|\s+(?!\S)|\s
func splitCL100K(s string, i int) int {
	if e := contraction(s, i); e > 0 {
		return e
	}
	r0, n0 := at(s, i)
	if isLetter(r0) {
		return runLetters(s, i)
	}
	r1, n1 := at(s, i+n0)
	if isPrefix(r0) && isLetter(r1) {
		return runLetters(s, i+n0)
	}
	if isNumber(r0) {
		j := i + n0
		for k := 0; k < 2; k++ {
			r, n := at(s, j)
			if !isNumber(r) {
				break
			}
			j += n
		}
		return j
	}
	if r0 == ' ' && r1 >= 0 && isPunct(r1) {
		return run(s, runPunct(s, i+n0+n1), isCRLF)
	}
	if isPunct(r0) {
		return run(s, runPunct(s, i+n0), isCRLF)
	}
	return whitespace(s, i, true, true)
}

// o200kCore matches [U]*[L]+ (alternative 1, wantLower) or [U]+[L]* (alternative
// 2) at i, followed by an optional case-insensitive contraction. It returns -1
// if there is no match.
func o200kCore(s string, i int, wantLower bool) int {
	r := runClass(s, i, clsUpper, isUpperish)
	var e int
	if wantLower {
		// Greedy [U]* backtracks rune by rune until [L]+ can start.
		k := r
		for {
			if c, _ := at(s, k); c >= 0 && isLowerish(c) {
				break
			}
			if k == i {
				return -1
			}
			_, n := utf8.DecodeLastRuneInString(s[i:k])
			k -= n
		}
		e = runClass(s, k, clsLower, isLowerish)
	} else {
		if r == i {
			return -1
		}
		e = runClass(s, r, clsLower, isLowerish)
	}
	if c := o200kContraction(s, e); c > 0 {
		return c
	}
	return e
}

// o200kContraction matches (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, or returns -1.
func o200kContraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' {
		return -1
	}
	r1, n1 := at(s, i+1)
	for _, c := range []byte("stmd") {
		if foldEq(r1, c) {
			return i + 1 + n1
		}
	}
	r2, n2 := at(s, i+1+n1)
	for _, p := range [...][2]byte{{'r', 'e'}, {'v', 'e'}, {'l', 'l'}} {
		if foldEq(r1, p[0]) && foldEq(r2, p[1]) {
			return i + 1 + n1 + n2
		}
	}
	return -1
}

// splitO200K implements o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitO200K(s string, i int) int {
	r0, n0 := at(s, i)
	prefix := isPrefix(r0)
	for _, lower := range []bool{true, false} {
		if prefix {
			if e := o200kCore(s, i+n0, lower); e > 0 {
				return e
			}
		}
		if e := o200kCore(s, i, lower); e > 0 {
			return e
		}
	}
	if isNumber(r0) {
		j := i + n0
		for k := 0; k < 2; k++ {
			r, n := at(s, j)
			if !isNumber(r) {
				break
			}
			j += n
		}
		return j
	}
	r1, n1 := at(s, i+n0)
	isSlashCRLF := func(r rune) bool { return r == '\r' || r == '\n' || r == '/' }
	if r0 == ' ' && r1 >= 0 && isPunct(r1) {
		return run(s, runPunct(s, i+n0+n1), isSlashCRLF)
	}
	if isPunct(r0) {
		return run(s, runPunct(s, i+n0), isSlashCRLF)
	}
	return whitespace(s, i, false, true)
}
