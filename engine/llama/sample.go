package llama

import (
	"container/heap"
	"math/rand/v2"
	"sort"

	"github.com/minerva-batch/minerva/engine/tensor"
)

// sampler picks the next token from logits with one request's settings.
// Its random stream belongs to the request alone (seeded with the request's
// seed), so what it picks does not depend on what else runs beside it.
type sampler struct {
	temperature float32
	topP        float32
	topK        int
	rng         *rand.Rand
	probs       []float32
	cand        []cand
	vals        []float32
}

// cand is a candidate token with its logit or probability.
type cand struct {
	id int32
	v  float32
}

func newSampler(temperature, topP float64, topK int, seed uint64) *sampler {
	return &sampler{
		temperature: float32(temperature),
		topP:        float32(topP),
		topK:        topK,
		rng:         rand.New(rand.NewPCG(seed, 0x6d696e65727661)), // "minerva"
	}
}

// sample returns the next token.
//
//   - Greedy (temperature 0) takes the highest logit, the lowest id on ties,
//     and draws no random number.
//   - Otherwise, if top_k is set, only the top_k highest logits stay (the
//     lower id on ties); the logits are divided by the temperature and turned
//     into probabilities; if top_p is below 1, only the most probable tokens
//     whose mass first exceeds top_p stay (llama2.c's sample_topp, which
//     first drops tokens below (1-top_p)/(n-1)); and one token is drawn from
//     what is left with one number of the request's random stream.
func (s *sampler) sample(logits []float32) int32 {
	if s.temperature == 0 {
		return argmax(logits)
	}
	n := len(logits)
	topK := s.topK > 0 && s.topK < n
	topP := s.topP > 0 && s.topP < 1
	if !topK && !topP {
		// The whole vocabulary, in id order.
		s.probs = grow(s.probs, n)
		p := s.probs
		tensor.ExpShifted(p, logits, tensor.Max(logits), s.temperature)
		return int32(pick(p, s.rng.Float64()*sum64(p)))
	}
	// Candidates: the top_k highest logits, or all, highest first.
	c := s.cand[:0]
	if topK {
		c = topKLogits(c, logits, s.topK)
	} else {
		for i, v := range logits {
			c = append(c, cand{int32(i), v})
		}
	}
	s.cand = c
	s.vals = grow(s.vals, len(c))
	for j := range c {
		s.vals[j] = c[j].v
	}
	s.probs = grow(s.probs, len(c))
	p := s.probs
	tensor.ExpShifted(p, s.vals, tensor.Max(s.vals), s.temperature)
	sum := sum64(p)
	if topP {
		// Keep the tokens with p ≥ (1-top_p)/(n-1) of the mass (the others
		// cannot be in the nucleus), most probable first, until the mass
		// passes top_p.
		cutoff := float32((1 - float64(s.topP)) / float64(len(c)-1) * sum)
		kept := c[:0]
		for j := range c {
			if p[j] >= cutoff {
				kept = append(kept, cand{c[j].id, p[j]})
			}
		}
		sort.Slice(kept, func(a, b int) bool {
			if kept[a].v != kept[b].v {
				return kept[a].v > kept[b].v
			}
			return kept[a].id < kept[b].id
		})
		var cum float64
		last := len(kept) - 1
		for j := range kept {
			cum += float64(kept[j].v)
			if cum > float64(s.topP)*sum {
				last = j
				break
			}
		}
		kept = kept[:last+1]
		p = p[:len(kept)]
		for j := range kept {
			p[j] = kept[j].v
		}
		c = kept
		sum = sum64(p)
	}
	return c[pick(p, s.rng.Float64()*sum)].id
}

// pick returns the first j at which the running sum of p passes coin (the
// last one if rounding leaves coin beyond the total).
func pick(p []float32, coin float64) int {
	var cum float64
	for j, v := range p {
		cum += float64(v)
		if coin < cum {
			return j
		}
	}
	return len(p) - 1
}

// sum64 adds p in float64, in four interleaved partial sums (a fixed order,
// so the same bits every time, and four times the speed of one chain).
func sum64(p []float32) float64 {
	var s [4]float64
	i := 0
	for ; i+4 <= len(p); i += 4 {
		s[0] += float64(p[i])
		s[1] += float64(p[i+1])
		s[2] += float64(p[i+2])
		s[3] += float64(p[i+3])
	}
	for ; i < len(p); i++ {
		s[i&3] += float64(p[i])
	}
	return (s[0] + s[1]) + (s[2] + s[3])
}

// candHeap is a min-heap of candidates: the worst (lowest logit, then
// highest id) on top.
type candHeap []cand

func (h candHeap) Len() int { return len(h) }
func (h candHeap) Less(i, j int) bool {
	if h[i].v != h[j].v {
		return h[i].v < h[j].v
	}
	return h[i].id > h[j].id
}
func (h candHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *candHeap) Push(x any)   { *h = append(*h, x.(cand)) }
func (h *candHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// topKLogits appends to dst the k highest logits, highest first (the lower
// id first on ties), in O(n log k).
func topKLogits(dst []cand, logits []float32, k int) []cand {
	h := candHeap(dst[:0])
	for i, v := range logits {
		c := cand{int32(i), v}
		if len(h) < k {
			heap.Push(&h, c)
		} else if v > h[0].v { // ties keep the lower id already in
			h[0] = c
			heap.Fix(&h, 0)
		}
	}
	out := []cand(h)
	sort.Slice(out, func(a, b int) bool {
		if out[a].v != out[b].v {
			return out[a].v > out[b].v
		}
		return out[a].id < out[b].id
	})
	return out
}

func argmax(x []float32) int32 {
	if x[0] != x[0] {
		return 0 // NaN: nothing compares greater
	}
	mx := tensor.Max(x) // vectorised; NaNs never win either way
	for i, v := range x {
		if v == mx {
			return int32(i)
		}
	}
	return 0
}
