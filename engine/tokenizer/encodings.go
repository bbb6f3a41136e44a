package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strconv"
	"sync"

	_ "embed" // the vocabulary images
)

// Options configure a tokenizer's handling of special tokens, following
// tiktoken's encode(allowed_special=..., disallowed_special=...).
type Options struct {
	// AllowedSpecial lists special tokens (such as "<|endoftext|>") that are
	// encoded as their special ids when they occur in the text. The single
	// entry "all" allows every special token of the encoding.
	AllowedSpecial []string
	// DisallowedAsText encodes special tokens that are not allowed as
	// ordinary text instead of failing (tiktoken's disallowed_special=()).
	DisallowedAsText bool
}

// encodingSpec describes one of OpenAI's encodings.
type encodingSpec struct {
	file    string // the rank file in tiktoken-go-loader's assets (tests, go generate)
	image   string // the vocabulary image built from it (vocab_image.go)
	split   splitter
	special map[string]int32
	pattern string
}

// The vocabulary images of the built-in encodings, written by go generate.
var (
	//go:embed vocab_images/r50k_base.vocab
	imageR50K string
	//go:embed vocab_images/p50k_base.vocab
	imageP50K string
	//go:embed vocab_images/cl100k_base.vocab
	imageCL100K string
	//go:embed vocab_images/o200k_base.vocab
	imageO200K string
)

var specs = map[string]encodingSpec{
	"r50k_base": {"r50k_base.tiktoken", imageR50K, splitR50K, map[string]int32{"<|endoftext|>": 50256}, PatternGPT2},
	"p50k_base": {"p50k_base.tiktoken", imageP50K, splitR50K, map[string]int32{"<|endoftext|>": 50256}, PatternGPT2},
	"cl100k_base": {"cl100k_base.tiktoken", imageCL100K, splitCL100K, map[string]int32{
		"<|endoftext|>": 100257, "<|fim_prefix|>": 100258, "<|fim_middle|>": 100259,
		"<|fim_suffix|>": 100260, "<|endofprompt|>": 100276,
	}, PatternCL100K},
	"o200k_base": {"o200k_base.tiktoken", imageO200K, splitO200K, map[string]int32{"<|endoftext|>": 199999, "<|endofprompt|>": 200018}, PatternO200K},
}

// aliases maps other names users know to the encodings above.
var aliases = map[string]string{"gpt2": "r50k_base"}

// Encodings returns the names of the built-in encodings, sorted.
func Encodings() []string {
	names := make([]string, 0, len(specs))
	for n := range specs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

type vocab struct {
	once    sync.Once
	table   *vocabTable
	decoder *tokenDecoder
	err     error
}

var vocabs sync.Map // encoding name -> *vocab

// New returns the named OpenAI encoding ("cl100k_base", "o200k_base",
// "p50k_base", "r50k_base" or its alias "gpt2"). The vocabularies are
// embedded in the binary as images built from the rank files at go generate
// time; each is loaded once per process, on first use, and shared.
func New(name string, opts Options) (*BPE, error) {
	if a, ok := aliases[name]; ok {
		name = a
	}
	spec, ok := specs[name]
	if !ok {
		return nil, fmt.Errorf("%w %q: known encodings are %v", ErrUnknownEncoding, name, Encodings())
	}
	v, _ := vocabs.LoadOrStore(name, &vocab{})
	vc := v.(*vocab)
	vc.once.Do(func() { vc.table, vc.decoder, vc.err = loadEncoding(name, spec) })
	if vc.err != nil {
		return nil, vc.err
	}
	b := &BPE{name: name, pattern: spec.pattern, vocab: vc.table, decoder: vc.decoder, special: spec.special, split: spec.split, asText: opts.DisallowedAsText}
	if err := b.allow(opts.AllowedSpecial); err != nil {
		return nil, err
	}
	return b, nil
}

// loadEncoding returns the vocabulary and decoder of a built-in encoding,
// from its image. The rank files are not linked into binaries: only tests
// and go generate read them.
func loadEncoding(name string, spec encodingSpec) (*vocabTable, *tokenDecoder, error) {
	t, err := tableFromImage(spec.image)
	if err != nil {
		return nil, nil, fmt.Errorf("encoding %s: vocab_images/%s.vocab: %w (run go generate ./engine/tokenizer)", name, name, err)
	}
	return t, t.decoder(spec.special), nil
}

func (b *BPE) allow(tokens []string) error {
	for _, t := range tokens {
		if t == "all" {
			b.allowAll = true
			continue
		}
		if _, ok := b.special[t]; !ok {
			return fmt.Errorf("allowed special token %q is not a special token of %s (it has %v)", t, b.name, b.SpecialTokens())
		}
		if b.allowed == nil {
			b.allowed = map[string]bool{}
		}
		b.allowed[t] = true
	}
	return nil
}

// parseTiktoken reads a .tiktoken rank file: one "base64-token rank" per line.
func parseTiktoken(r io.Reader, name string) (map[string]int32, error) {
	ranks := make(map[string]int32, 1024)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := bytes.TrimSuffix(sc.Bytes(), []byte("\r"))
		if len(text) == 0 {
			continue
		}
		sp := bytes.IndexByte(text, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("%s:%d: want \"<base64 token> <rank>\", got %q", name, line, truncate(text))
		}
		tok, err := base64.StdEncoding.DecodeString(string(text[:sp]))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: token is not base64: %w", name, line, err)
		}
		rank, err := strconv.ParseInt(string(text[sp+1:]), 10, 32)
		if err != nil || rank < 0 {
			return nil, fmt.Errorf("%s:%d: rank %q is not a non-negative 32-bit integer", name, line, truncate(text[sp+1:]))
		}
		if _, dup := ranks[string(tok)]; dup {
			return nil, fmt.Errorf("%s:%d: token %q appears twice", name, line, tok)
		}
		ranks[string(tok)] = int32(rank)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(ranks) == 0 {
		return nil, fmt.Errorf("%s: no tokens", name)
	}
	for i := 0; i < 256; i++ {
		if _, ok := ranks[string([]byte{byte(i)})]; !ok {
			return nil, fmt.Errorf("%s: the single byte 0x%02x has no rank; a byte-level BPE needs all 256", name, i)
		}
	}
	return ranks, nil
}

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
