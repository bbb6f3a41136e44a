package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/minerva-batch/minerva/engine/gguf"
)

// GGUF metadata keys of a llama.cpp vocabulary.
const (
	ggufTokenizerModel = "tokenizer.ggml.model"
	ggufTokens         = "tokenizer.ggml.tokens"
	ggufScores         = "tokenizer.ggml.scores"
	ggufTokenTypes     = "tokenizer.ggml.token_type"
	ggufBOS            = "tokenizer.ggml.bos_token_id"
	ggufEOS            = "tokenizer.ggml.eos_token_id"
	ggufUnknown        = "tokenizer.ggml.unknown_token_id"
	ggufAddSpacePrefix = "tokenizer.ggml.add_space_prefix"
)

// LoadGGUFVocab loads the vocabulary embedded in a GGUF model file; see
// SentencePieceFromGGUF. Only the file's header is read.
func LoadGGUFVocab(path string) (*SentencePiece, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return SentencePieceFromGGUF(f)
}

// SentencePieceFromGGUF builds a tokenizer from the vocabulary in the
// metadata of an open GGUF file. tokenizer.ggml.model must be "llama"
// (SentencePiece BPE); tokenizer.ggml.tokens, tokenizer.ggml.scores and
// tokenizer.ggml.token_type (optional: without it, pieces spelled <0xXX>
// are byte pieces, BOS and EOS control pieces, the unknown_token_id piece
// (default 0) the unknown piece, the rest normal) give the pieces, with "▁"
// turned into ' '; tokenizer.ggml.bos_token_id and eos_token_id (default 1
// and 2) the BOS and EOS ids; and
// tokenizer.ggml.add_space_prefix (default true) whether text gets the
// dummy prefix.
func SentencePieceFromGGUF(f *gguf.File) (*SentencePiece, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("tokenizer: %s: %s", f.Name, fmt.Sprintf(format, args...))
	}
	model, err := f.String(ggufTokenizerModel)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if model != "llama" {
		return nil, fail("%s is %q; only \"llama\" (SentencePiece BPE) vocabularies are supported", ggufTokenizerModel, model)
	}
	tokens, err := f.Strings(ggufTokens)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	scores, err := f.Float32s(ggufScores)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if len(scores) != len(tokens) {
		return nil, fail("%s has %d scores for the %d tokens of %s", ggufScores, len(scores), len(tokens), ggufTokens)
	}
	var types []int32
	if f.Has(ggufTokenTypes) {
		if types, err = f.Int32s(ggufTokenTypes); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		if len(types) != len(tokens) {
			return nil, fail("%s has %d types for the %d tokens of %s", ggufTokenTypes, len(types), len(tokens), ggufTokens)
		}
	}
	v := spVocab{bos: 1, eos: 2, dummyPrefix: true}
	unk := int32(0)
	for _, id := range []struct {
		key string
		dst *int32
	}{{ggufBOS, &v.bos}, {ggufEOS, &v.eos}, {ggufUnknown, &unk}} {
		x, err := f.Int(id.key)
		switch {
		case errors.Is(err, gguf.ErrKeyNotFound):
			continue
		case err != nil:
			return nil, fmt.Errorf("tokenizer: %w", err)
		case x < 0 || x >= int64(len(tokens)) || x > math.MaxInt32:
			return nil, fail("%s is %d, outside the %d tokens", id.key, x, len(tokens))
		}
		*id.dst = int32(x)
	}
	if f.Has(ggufAddSpacePrefix) {
		if v.dummyPrefix, err = f.Bool(ggufAddSpacePrefix); err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
	}
	v.pieces = make([]Piece, len(tokens))
	for i, tok := range tokens {
		p := Piece{Text: strings.ReplaceAll(tok, spSpace, " "), Score: scores[i], Type: PieceNormal}
		switch {
		case types != nil:
			p.Type = PieceType(types[i])
			if p.Type < PieceNormal || p.Type > PieceByte {
				return nil, fail("%s[%d] (token %q) is %d; types are 1 (normal) to 6 (byte)", ggufTokenTypes, i, spShort(tok), types[i])
			}
		case int32(i) == v.bos || int32(i) == v.eos:
			p.Type = PieceControl
		case int32(i) == unk:
			p.Type = PieceUnknown
		default:
			if _, ok := spParseByte(tok); ok {
				p.Type = PieceByte
			}
		}
		v.pieces[i] = p
	}
	s, err := newSentencePiece(filepath.Base(f.Name), v)
	if err != nil {
		return nil, fail("%v", err)
	}
	return s, nil
}
