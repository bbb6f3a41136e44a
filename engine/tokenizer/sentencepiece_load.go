package tokenizer

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/minerva-batch/minerva/engine/gguf"
)

// spMaxFile is the largest tokenizer file the loaders read (the Llama 2
// files are about 0.5 MB).
const spMaxFile = 1 << 30

// spSpace is SentencePiece's spelling of a space, "▁" (U+2581).
const spSpace = "\u2581"

// spReadFile reads a whole tokenizer file, refusing huge ones.
func spReadFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("tokenizer: %s: not a regular file", path)
	}
	if st.Size() > spMaxFile {
		return nil, fmt.Errorf("tokenizer: %s: %d bytes, more than the %d a tokenizer file may have", path, st.Size(), spMaxFile)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return data, nil
}

// LoadLlama2C loads a llama2.c tokenizer file (tokenizer.bin, tok512.bin):
// a uint32 max_token_length, then for each token a float32 score, an int32
// length and that many bytes, all little-endian, up to the end of the file.
// See LoadLlama2CWithSize for the pieces' types.
func LoadLlama2C(path string) (*SentencePiece, error) {
	return LoadLlama2CWithSize(path, 0)
}

// LoadLlama2CWithSize loads a llama2.c tokenizer file like run.c's
// build_tokenizer: it reads exactly vocabSize tokens (the model's vocab_size)
// and ignores any bytes after them. A vocabSize of 0 reads tokens up to the
// end of the file, which must end exactly after one.
//
// The file has no piece types; as run.c assumes, id 0 is the unknown piece,
// ids 1 and 2 are the control pieces BOS and EOS, and ids 3 to 258 must be
// the byte pieces <0x00> to <0xFF> (run.c's byte fallback emits byte+3).
// Every other piece is normal. Spaces are spelled ' ' in these files, as the
// tokenizer keeps them.
func LoadLlama2CWithSize(path string, vocabSize int) (*SentencePiece, error) {
	data, err := spReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseLlama2C(data, filepath.Base(path), vocabSize)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return s, nil
}

// parseLlama2C parses the bytes of a llama2.c tokenizer file.
func parseLlama2C(data []byte, name string, vocabSize int) (*SentencePiece, error) {
	if vocabSize < 0 {
		return nil, fmt.Errorf("negative vocabulary size %d", vocabSize)
	}
	const format = "llama2.c tokenizer file (uint32 max_token_length, then per token float32 score, int32 length, bytes)"
	if len(data) < 4 {
		return nil, fmt.Errorf("%d bytes, too short for the header of a %s", len(data), format)
	}
	maxLen := binary.LittleEndian.Uint32(data)
	off := 4
	// Every token takes at least 8 bytes, which bounds the count.
	pieces := make([]Piece, 0, min((len(data)-4)/8, max(vocabSize, 1<<16)))
	for i := 0; vocabSize == 0 && off < len(data) || len(pieces) < vocabSize; i++ {
		if len(data)-off < 8 {
			return nil, fmt.Errorf("token %d at byte %d: %d bytes left, want 8 for its score and length: truncated %s", i, off, len(data)-off, format)
		}
		score := math.Float32frombits(binary.LittleEndian.Uint32(data[off:]))
		n := int32(binary.LittleEndian.Uint32(data[off+4:]))
		off += 8
		switch {
		case n < 0:
			return nil, fmt.Errorf("token %d at byte %d: negative length %d", i, off-4, n)
		case uint32(n) > maxLen:
			return nil, fmt.Errorf("token %d at byte %d: length %d is more than the header's max_token_length %d", i, off-4, n, maxLen)
		case int(n) > len(data)-off:
			return nil, fmt.Errorf("token %d at byte %d: length %d, but the file ends after %d bytes: truncated", i, off-4, n, len(data)-off)
		}
		text := string(data[off : off+int(n)])
		off += int(n)
		pieces = append(pieces, Piece{Text: text, Score: score, Type: PieceNormal})
	}
	if len(pieces) < 259 {
		return nil, fmt.Errorf("%d tokens; a llama2.c vocabulary has at least 259 (<unk>, <s>, </s> and 256 byte pieces)", len(pieces))
	}
	pieces[0].Type = PieceUnknown
	pieces[1].Type = PieceControl
	pieces[2].Type = PieceControl
	for b := range 256 {
		p := &pieces[b+3]
		if got, ok := spParseByte(p.Text); !ok || int(got) != b || p.Text != fmt.Sprintf("<0x%02X>", b) {
			return nil, fmt.Errorf("token %d is %q, want the byte piece <0x%02X> (run.c's byte fallback emits byte+3)", b+3, spShort(p.Text), b)
		}
		p.Type = PieceByte
	}
	s, err := newSentencePiece(name, spVocab{pieces: pieces, bos: 1, eos: 2, dummyPrefix: true})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// LoadSentencePieceModel loads a SentencePiece model file (tokenizer.model:
// a serialized sentencepiece ModelProto). The model must be a BPE model
// with byte fallback pieces. Pieces keep their file's types; "▁" in the
// pieces becomes ' '; the BOS and EOS ids are the trainer spec's bos_id and
// eos_id (1 and 2 by default); the normalizer spec's add_dummy_prefix is
// honoured. Other normalization rules are not applied (see SentencePiece).
func LoadSentencePieceModel(path string) (*SentencePiece, error) {
	data, err := spReadFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseSentencePieceModel(data, filepath.Base(path))
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return s, nil
}

// Field numbers of sentencepiece_model.proto.
const (
	pbModelPieces         = 1 // ModelProto.pieces (repeated SentencePiece)
	pbModelTrainerSpec    = 2 // ModelProto.trainer_spec
	pbModelNormalizerSpec = 3 // ModelProto.normalizer_spec
	pbPieceText           = 1 // SentencePiece.piece
	pbPieceScore          = 2 // SentencePiece.score
	pbPieceType           = 3 // SentencePiece.type
	pbTrainerModelType    = 3 // TrainerSpec.model_type
	pbTrainerBOS          = 41
	pbTrainerEOS          = 42
	pbNormalizerDummy     = 3 // NormalizerSpec.add_dummy_prefix
	spModelTypeBPE        = 2
)

var spModelTypes = map[uint64]string{1: "UNIGRAM", 2: "BPE", 3: "WORD", 4: "CHAR"}

// parseSentencePieceModel parses the bytes of a ModelProto.
func parseSentencePieceModel(data []byte, name string) (*SentencePiece, error) {
	v := spVocab{bos: 1, eos: 2, dummyPrefix: true}
	modelType := uint64(1) // the proto's default, UNIGRAM
	r := pbReader{data: data}
	for !r.done() {
		f, err := r.field()
		if err != nil {
			return nil, err
		}
		switch f.num {
		case pbModelPieces:
			msg, err := r.message(f, "ModelProto.pieces")
			if err != nil {
				return nil, err
			}
			p, err := spParsePiece(msg, len(v.pieces))
			if err != nil {
				return nil, err
			}
			v.pieces = append(v.pieces, p)
		case pbModelTrainerSpec:
			msg, err := r.message(f, "ModelProto.trainer_spec")
			if err != nil {
				return nil, err
			}
			if err := spParseTrainer(msg, &modelType, &v); err != nil {
				return nil, err
			}
		case pbModelNormalizerSpec:
			msg, err := r.message(f, "ModelProto.normalizer_spec")
			if err != nil {
				return nil, err
			}
			if err := spParseNormalizer(msg, &v); err != nil {
				return nil, err
			}
		default:
			if err := r.skip(f); err != nil {
				return nil, err
			}
		}
	}
	if modelType != spModelTypeBPE {
		t := spModelTypes[modelType]
		if t == "" {
			t = fmt.Sprint(modelType)
		}
		return nil, fmt.Errorf("the model type is %s; only BPE SentencePiece models are supported", t)
	}
	if len(v.pieces) == 0 {
		return nil, fmt.Errorf("no pieces: not a SentencePiece model file")
	}
	return newSentencePiece(name, v)
}

// spParsePiece parses ModelProto.pieces[id].
func spParsePiece(msg pbReader, id int) (Piece, error) {
	p := Piece{Type: PieceNormal}
	seen := false
	for !msg.done() {
		f, err := msg.field()
		if err != nil {
			return p, fmt.Errorf("piece %d: %w", id, err)
		}
		switch f.num {
		case pbPieceText:
			b, err := msg.message(f, "SentencePiece.piece")
			if err != nil {
				return p, fmt.Errorf("piece %d: %w", id, err)
			}
			if !utf8.Valid(b.data) {
				return p, fmt.Errorf("piece %d: the text %q is not valid UTF-8", id, spShort(string(b.data)))
			}
			p.Text = strings.ReplaceAll(string(b.data), spSpace, " ")
			seen = true
		case pbPieceScore:
			if f.wire != pbFixed32 {
				return p, fmt.Errorf("piece %d: the score has wire type %d at byte %d, want 5 (float)", id, f.wire, f.at)
			}
			p.Score = math.Float32frombits(uint32(f.val))
		case pbPieceType:
			if f.wire != pbVarint {
				return p, fmt.Errorf("piece %d: the type has wire type %d at byte %d, want 0 (enum)", id, f.wire, f.at)
			}
			if f.val < uint64(PieceNormal) || f.val > uint64(PieceByte) {
				return p, fmt.Errorf("piece %d: type %d at byte %d; types are 1 (normal) to 6 (byte)", id, f.val, f.at)
			}
			p.Type = PieceType(f.val)
		default:
			if err := msg.skip(f); err != nil {
				return p, fmt.Errorf("piece %d: %w", id, err)
			}
		}
	}
	if !seen || p.Text == "" {
		return p, fmt.Errorf("piece %d has no text", id)
	}
	return p, nil
}

// spParseTrainer reads the model type and the BOS and EOS ids.
func spParseTrainer(msg pbReader, modelType *uint64, v *spVocab) error {
	for !msg.done() {
		f, err := msg.field()
		if err != nil {
			return fmt.Errorf("trainer_spec: %w", err)
		}
		switch f.num {
		case pbTrainerModelType, pbTrainerBOS, pbTrainerEOS:
			if f.wire != pbVarint {
				return fmt.Errorf("trainer_spec: field %d has wire type %d at byte %d, want 0 (varint)", f.num, f.wire, f.at)
			}
			switch f.num {
			case pbTrainerModelType:
				*modelType = f.val
			case pbTrainerBOS:
				v.bos = pbInt32(f.val)
			case pbTrainerEOS:
				v.eos = pbInt32(f.val)
			}
		default:
			if err := msg.skip(f); err != nil {
				return fmt.Errorf("trainer_spec: %w", err)
			}
		}
	}
	return nil
}

// spParseNormalizer reads add_dummy_prefix.
func spParseNormalizer(msg pbReader, v *spVocab) error {
	for !msg.done() {
		f, err := msg.field()
		if err != nil {
			return fmt.Errorf("normalizer_spec: %w", err)
		}
		if f.num == pbNormalizerDummy {
			if f.wire != pbVarint {
				return fmt.Errorf("normalizer_spec: add_dummy_prefix has wire type %d at byte %d, want 0 (bool)", f.wire, f.at)
			}
			v.dummyPrefix = f.val != 0
			continue
		}
		if err := msg.skip(f); err != nil {
			return fmt.Errorf("normalizer_spec: %w", err)
		}
	}
	return nil
}

// pbInt32 converts a varint to an int32 as protobuf does (negative int32
// values are sign-extended to 64 bits; the high bits are dropped).
func pbInt32(x uint64) int32 { return int32(uint32(x)) }

// Protocol buffer wire types.
const (
	pbVarint  = 0
	pbFixed64 = 1
	pbBytes   = 2
	pbFixed32 = 5
)

// pbReader reads protocol buffer wire format from a byte slice; offsets in
// its errors count from the start of the file.
type pbReader struct {
	data []byte
	off  int
	base int // file offset of data[0]
}

// pbField is one field's key and, for scalar wire types, its value.
type pbField struct {
	num  uint64
	wire int
	val  uint64 // varint, fixed32 or fixed64 value, or the length of bytes
	at   int    // file offset of the field's key
}

func (r *pbReader) done() bool { return r.off >= len(r.data) }

func (r *pbReader) varint() (uint64, error) {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if r.off >= len(r.data) {
			return 0, fmt.Errorf("truncated varint at byte %d", r.base+r.off)
		}
		if shift >= 64 {
			return 0, fmt.Errorf("varint longer than 10 bytes at byte %d", r.base+r.off)
		}
		b := r.data[r.off]
		r.off++
		x |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return x, nil
		}
	}
}

// field reads a field's key and, except for length-delimited fields, its
// value; a length-delimited field's length is checked against the data left.
func (r *pbReader) field() (pbField, error) {
	f := pbField{at: r.base + r.off}
	key, err := r.varint()
	if err != nil {
		return f, err
	}
	f.num, f.wire = key>>3, int(key&7)
	if f.num == 0 {
		return f, fmt.Errorf("field number 0 at byte %d: not a protocol buffer", f.at)
	}
	switch f.wire {
	case pbVarint:
		f.val, err = r.varint()
	case pbFixed64:
		if len(r.data)-r.off < 8 {
			return f, fmt.Errorf("field %d at byte %d: truncated 64-bit value", f.num, f.at)
		}
		f.val = binary.LittleEndian.Uint64(r.data[r.off:])
		r.off += 8
	case pbFixed32:
		if len(r.data)-r.off < 4 {
			return f, fmt.Errorf("field %d at byte %d: truncated 32-bit value", f.num, f.at)
		}
		f.val = uint64(binary.LittleEndian.Uint32(r.data[r.off:]))
		r.off += 4
	case pbBytes:
		f.val, err = r.varint()
		if err == nil && f.val > uint64(len(r.data)-r.off) {
			err = fmt.Errorf("field %d at byte %d: length %d, but only %d bytes are left", f.num, f.at, f.val, len(r.data)-r.off)
		}
	default:
		err = fmt.Errorf("field %d at byte %d: unsupported wire type %d", f.num, f.at, f.wire)
	}
	return f, err
}

// message returns the contents of length-delimited field f as a reader.
func (r *pbReader) message(f pbField, what string) (pbReader, error) {
	if f.wire != pbBytes {
		return pbReader{}, fmt.Errorf("%s at byte %d has wire type %d, want 2 (length-delimited)", what, f.at, f.wire)
	}
	n := int(f.val) // checked against the data left by field
	sub := pbReader{data: r.data[r.off : r.off+n], base: r.base + r.off}
	r.off += n
	return sub, nil
}

// skip skips the value of a field that is not read (scalars are already read).
func (r *pbReader) skip(f pbField) error {
	if f.wire == pbBytes {
		r.off += int(f.val)
	}
	return nil
}

// LoadSentencePieceFile loads a SentencePiece vocabulary from any of the
// files that carry one: a GGUF model file (told by its magic or a .gguf
// name), a SentencePiece tokenizer.model (a .model name), or else a
// llama2.c tokenizer.bin.
func LoadSentencePieceFile(path string) (*SentencePiece, error) {
	isGGUF := strings.EqualFold(filepath.Ext(path), ".gguf")
	if f, err := os.Open(path); err == nil {
		var magic [4]byte
		if _, err := io.ReadFull(f, magic[:]); err == nil && string(magic[:]) == gguf.Magic {
			isGGUF = true
		}
		f.Close()
	}
	switch {
	case isGGUF:
		return LoadGGUFVocab(path)
	case strings.EqualFold(filepath.Ext(path), ".model"):
		return LoadSentencePieceModel(path)
	}
	return LoadLlama2C(path)
}
