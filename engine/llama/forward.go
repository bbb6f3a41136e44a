package llama

import (
	"math"

	"github.com/minerva-batch/minerva/engine/tensor"
)

// kvCache holds the keys and values of one sequence. For each layer and
// each key/value head, the keys of positions 0..cap-1 lie one after another
// (cap rows of HeadSize), then the values likewise; so the scores of a query
// against a head's keys are one matrix-vector product.
type kvCache struct {
	data []float32
	cap  int
}

func newKVCache(c Config, positions int) *kvCache {
	return &kvCache{data: make([]float32, c.Layers*c.KVHeads*positions*c.HeadSize()*2), cap: positions}
}

// keys and values return the rows of layer l, key/value head h.
func (kv *kvCache) keys(l, h, kvHeads, hs int) []float32 {
	n := kv.cap * hs
	o := 2 * n * (l*kvHeads + h)
	return kv.data[o : o+n]
}

func (kv *kvCache) values(l, h, kvHeads, hs int) []float32 {
	n := kv.cap * hs
	o := 2*n*(l*kvHeads+h) + n
	return kv.data[o : o+n]
}

// token is one row of a forward step: token id at position pos of the
// sequence whose cache is kv. If logits is set, the step returns the
// logits that follow it.
type token struct {
	id     int32
	pos    int
	kv     *kvCache
	logits bool
}

// runner holds the activation buffers of forward steps; it grows them to the
// largest step seen. A runner is used by one goroutine at a time.
type runner struct {
	m    *Model
	pool *pool

	x, xb, xb2, q, k, v []float32 // rows × dim or kvDim
	hb, hb2             []float32 // rows × hidden
	att                 []float32 // rows × heads × context scores
	lx, logits          []float32 // logits rows × dim, × vocab
}

func grow(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}

// forward runs the model over the tokens of one step and returns the logits
// of the tokens that ask for them, one row of Vocab after another, in order.
//
// Every token's row is computed the same way whatever else is in the step:
// the matrix products are per row (package tensor's batch invariance), and
// norms, rotary embeddings and attention are computed per row. Tokens of one
// sequence in one step must be in position order; a token attends to the
// cached keys and values of its sequence at positions up to its own,
// including those written earlier in the same step.
func (r *runner) forward(toks []token) []float32 {
	m, c := r.m, r.m.Config
	n := len(toks)
	dim, kvDim, hid, hs := c.Dim, c.KVDim(), c.HiddenDim, c.HeadSize()
	r.x = grow(r.x, n*dim)
	r.xb = grow(r.xb, n*dim)
	r.xb2 = grow(r.xb2, n*dim)
	r.q = grow(r.q, n*dim)
	r.k = grow(r.k, n*kvDim)
	r.v = grow(r.v, n*kvDim)
	r.hb = grow(r.hb, n*hid)
	r.hb2 = grow(r.hb2, n*hid)
	x := r.x

	for i, t := range toks {
		m.embed.Row(int(t.id), x[i*dim:(i+1)*dim])
	}
	for l := range m.layers {
		w := &m.layers[l]
		// Attention.
		for i := range toks {
			rmsnorm(r.xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], w.attnNorm, c.NormEps)
		}
		r.matmul(w.wq, r.q, r.xb, n)
		r.matmul(w.wk, r.k, r.xb, n)
		r.matmul(w.wv, r.v, r.xb, n)
		for i, t := range toks {
			rope(r.q[i*dim:(i+1)*dim], r.k[i*kvDim:(i+1)*kvDim], t.pos, hs, c.RopeDim, c.RopeTheta)
			for h := range c.KVHeads {
				copy(t.kv.keys(l, h, c.KVHeads, hs)[t.pos*hs:], r.k[i*kvDim+h*hs:i*kvDim+(h+1)*hs])
				copy(t.kv.values(l, h, c.KVHeads, hs)[t.pos*hs:], r.v[i*kvDim+h*hs:i*kvDim+(h+1)*hs])
			}
		}
		r.attention(toks, l)
		r.matmul(w.wo, r.xb, r.xb2, n)
		for i := range x {
			x[i] += r.xb[i]
		}
		// Feed-forward.
		for i := range toks {
			rmsnorm(r.xb[i*dim:(i+1)*dim], x[i*dim:(i+1)*dim], w.ffnNorm, c.NormEps)
		}
		r.matmul(w.w1, r.hb, r.xb, n)
		r.matmul(w.w3, r.hb2, r.xb, n)
		for i, g := range r.hb {
			r.hb[i] = silu(g) * r.hb2[i]
		}
		r.matmul(w.w2, r.xb, r.hb, n)
		for i := range x {
			x[i] += r.xb[i]
		}
	}

	// Logits, only for the rows that need them.
	nl := 0
	for _, t := range toks {
		if t.logits {
			nl++
		}
	}
	r.lx = grow(r.lx, nl*dim)
	r.logits = grow(r.logits, nl*c.Vocab)
	j := 0
	for i, t := range toks {
		if t.logits {
			rmsnorm(r.lx[j*dim:(j+1)*dim], x[i*dim:(i+1)*dim], m.outNorm, c.NormEps)
			j++
		}
	}
	r.matmul(m.cls, r.logits, r.lx, nl)
	return r.logits
}

// matmul computes out = W·x for n rows of x, splitting W's rows across the
// pool's threads when the work is large enough to gain from it.
func (r *runner) matmul(w *tensor.Matrix, out, x []float32, n int) {
	if n == 0 {
		return
	}
	work := int64(w.Rows) * int64(w.Cols) * int64(n)
	r.pool.parallel(w.Rows, work, func(lo, hi int) { w.MatMulRows(out, x, n, lo, hi) })
}

// attention computes, for every token and query head, the softmax-weighted
// sum of its sequence's cached values into r.xb2.
func (r *runner) attention(toks []token, l int) {
	c := r.m.Config
	dim, hs := c.Dim, c.HeadSize()
	heads, group := c.Heads, c.Heads/c.KVHeads
	maxLen := 0
	var work int64
	for _, t := range toks {
		maxLen = max(maxLen, t.pos+1)
		work += int64(t.pos+1) * int64(dim) * 2
	}
	r.att = grow(r.att, len(toks)*heads*maxLen)
	scale := float32(1 / math.Sqrt(float64(hs)))
	r.pool.parallel(len(toks)*heads, work, func(lo, hi int) {
		for job := lo; job < hi; job++ {
			i, h := job/heads, job%heads
			t := toks[i]
			q := r.q[i*dim+h*hs : i*dim+(h+1)*hs]
			n := t.pos + 1
			keys := t.kv.keys(l, h/group, c.KVHeads, hs)[:n*hs]
			values := t.kv.values(l, h/group, c.KVHeads, hs)[:n*hs]
			att := r.att[job*maxLen : job*maxLen+n]
			// The scores are the keys (n rows of hs) times q, over √hs.
			km, err := tensor.NewMatrix(tensor.F32, n, hs, tensor.F32Bytes(keys))
			if err != nil {
				panic(err) // shapes are the engine's own
			}
			km.MatMul(att, q, 1)
			for p := range att {
				att[p] *= scale
			}
			softmax(att)
			tensor.WeightedSum(r.xb2[i*dim+h*hs:i*dim+(h+1)*hs], att, values)
		}
	})
}

// rmsnorm sets o = weight · x / sqrt(mean(x²) + eps), as llama2.c does.
func rmsnorm(o, x, weight []float32, eps float32) {
	var ss float32
	for _, v := range x {
		ss += v * v
	}
	ss /= float32(len(x))
	ss += eps
	ss = float32(1 / math.Sqrt(float64(ss)))
	for j, v := range x {
		o[j] = weight[j] * (ss * v)
	}
}

// rope rotates adjacent pairs of every head of q and k by the position's
// angles (the "norm" rotary embedding of llama2.c and llama.cpp).
func rope(q, k []float32, pos, headSize, ropeDim int, theta float32) {
	for i := 0; i < ropeDim; i += 2 {
		freq := float32(1 / math.Pow(float64(theta), float64(float32(i)/float32(headSize))))
		val := float32(pos) * freq
		fcr := float32(math.Cos(float64(val)))
		fci := float32(math.Sin(float64(val)))
		for h := 0; h < len(q); h += headSize {
			v0, v1 := q[h+i], q[h+i+1]
			q[h+i], q[h+i+1] = v0*fcr-v1*fci, v0*fci+v1*fcr
		}
		for h := 0; h < len(k); h += headSize {
			v0, v1 := k[h+i], k[h+i+1]
			k[h+i], k[h+i+1] = v0*fcr-v1*fci, v0*fci+v1*fcr
		}
	}
}

// softmax turns x into probabilities in place. The exponentials are
// package tensor's (vectorised where the CPU allows, with the same bits
// either way), the sum sequential.
func softmax(x []float32) {
	mx := x[0]
	for _, v := range x[1:] {
		mx = max(mx, v)
	}
	tensor.ExpShifted(x, x, mx, 1)
	var sum float32
	for _, e := range x {
		sum += e
	}
	for i := range x {
		x[i] /= sum
	}
}

func silu(x float32) float32 { return x * (1 / (1 + tensor.Exp(-x))) }
