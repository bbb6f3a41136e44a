package batch

import "fmt"

// Limits are the default (Optimal) and maximum (Max) batch sizes of one kind
// of batch work. Valid batch sizes are 1..Max.
type Limits struct {
	// Optimal is the batch size used when none is configured.
	Optimal int
	// Max is the largest accepted batch size.
	Max int
}

// TokenizerLimits are the batch-size defaults and bounds for bulk
// tokenization.
var TokenizerLimits = Limits{Optimal: 32, Max: 1000}

// InferenceLimits are the batch-size defaults and bounds for batch LLM
// inference.
var InferenceLimits = Limits{Optimal: 8, Max: 100}

// SizeError reports a batch size outside the accepted range 1..Max.
type SizeError struct {
	// Name is the kind of batch, e.g. "tokenizer"; it may be empty.
	Name string
	// Size is the rejected batch size.
	Size int
	// Max is the largest accepted batch size.
	Max int
}

// Error implements error, e.g.
// "tokenizer batch size 0 is out of range: it must be between 1 and 1000".
func (e *SizeError) Error() string {
	prefix := "batch size"
	if e.Name != "" {
		prefix = e.Name + " batch size"
	}
	return fmt.Sprintf("%s %d is out of range: it must be between 1 and %d", prefix, e.Size, e.Max)
}

// Validate returns a *[SizeError] when n is outside 1..l.Max, and nil
// otherwise. name names the kind of batch in the message, e.g. "tokenizer".
func (l Limits) Validate(name string, n int) error {
	if n < 1 || n > l.Max {
		return &SizeError{Name: name, Size: n, Max: l.Max}
	}
	return nil
}

// Resolve returns the batch size to use for a configured size n: l.Optimal
// when n is 0 (unset), otherwise n itself after [Limits.Validate]. The
// resolved size is always validated, so a zero Limits never resolves.
func (l Limits) Resolve(name string, n int) (int, error) {
	if n == 0 {
		n = l.Optimal
	}
	if err := l.Validate(name, n); err != nil {
		return 0, err
	}
	return n, nil
}
