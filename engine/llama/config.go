package llama

import (
	"fmt"
	"math"
)

// Config holds a model's hyper-parameters.
type Config struct {
	// Dim is the width of the residual stream (embedding length).
	Dim int
	// HiddenDim is the width of the feed-forward layer.
	HiddenDim int
	// Layers is the number of transformer blocks.
	Layers int
	// Heads is the number of query heads; KVHeads the number of key/value
	// heads (fewer than Heads for grouped-query attention).
	Heads, KVHeads int
	// Vocab is the number of token ids.
	Vocab int
	// Context is the longest sequence (prompt and completion) the model takes.
	Context int
	// NormEps is RMSNorm's epsilon.
	NormEps float32
	// RopeTheta is the base of the rotary embedding frequencies.
	RopeTheta float32
	// RopeDim is the number of dimensions of each head that are rotated
	// (HeadSize for llama models).
	RopeDim int
}

// HeadSize is the width of one attention head.
func (c Config) HeadSize() int { return c.Dim / c.Heads }

// KVDim is the width of the keys and values of one position.
func (c Config) KVDim() int { return c.HeadSize() * c.KVHeads }

// KVBytesPerPosition is the KV-cache memory one position of one sequence
// takes: keys and values of every layer, in float32.
func (c Config) KVBytesPerPosition() int64 { return int64(c.Layers) * int64(c.KVDim()) * 2 * 4 }

// Validate checks that the hyper-parameters describe a model this engine runs.
func (c Config) Validate() error {
	const limit = 1 << 20
	for _, f := range []struct {
		name string
		v    int
	}{{"dim", c.Dim}, {"hidden_dim", c.HiddenDim}, {"layers", c.Layers}, {"heads", c.Heads},
		{"kv_heads", c.KVHeads}, {"vocab", c.Vocab}, {"context", c.Context}} {
		if f.v <= 0 || f.v > limit {
			return fmt.Errorf("%s is %d; want 1..%d", f.name, f.v, limit)
		}
	}
	if c.Dim%c.Heads != 0 {
		return fmt.Errorf("dim %d is not a multiple of heads %d", c.Dim, c.Heads)
	}
	if c.Heads%c.KVHeads != 0 {
		return fmt.Errorf("heads %d is not a multiple of kv_heads %d", c.Heads, c.KVHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("head size %d is odd; rotary embeddings rotate pairs", c.HeadSize())
	}
	if c.RopeDim <= 0 || c.RopeDim > c.HeadSize() || c.RopeDim%2 != 0 {
		return fmt.Errorf("rope dimension count %d; want an even number in 2..%d", c.RopeDim, c.HeadSize())
	}
	if !(c.NormEps > 0) || math.IsInf(float64(c.NormEps), 0) {
		return fmt.Errorf("rms norm epsilon %v; want a positive number", c.NormEps)
	}
	if !(c.RopeTheta > 0) || math.IsInf(float64(c.RopeTheta), 0) {
		return fmt.Errorf("rope theta %v; want a positive number", c.RopeTheta)
	}
	return nil
}
