package transforms

// Stage names say where an error row was produced.
const (
	StageRead     = "read"
	StageValidate = "validate"
	StageTokenize = "tokenize"
	StageDecode   = "detokenize"
	StageWrite    = "write"
)

// TextRow is a row read from a text (request) file on its way to the
// tokenizer. A row that already failed (a null field, a duplicate id) carries
// its error in Err and Stage and is passed through to the errors output.
type TextRow struct {
	ID       string
	Text     string
	TextNull bool
	File     string
	Row      int64
	Err      string
	Stage    string
}

// TokenRow is a row read from a token file on its way to the detokenizer.
type TokenRow struct {
	ID         string
	Tokens     []int64
	TokensNull bool
	File       string
	Row        int64
	Err        string
	Stage      string
}
