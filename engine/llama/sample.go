package llama

import (
	"math"
	"math/rand/v2"
	"sort"
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
	idx         []int32
}

func newSampler(temperature, topP float64, topK int, seed uint64) *sampler {
	return &sampler{
		temperature: float32(temperature),
		topP:        float32(topP),
		topK:        topK,
		rng:         rand.New(rand.NewPCG(seed, 0x6d696e65727661)), // "minerva"
	}
}

// sample returns the next token. Greedy (temperature 0) takes the highest
// logit, the lowest id on ties, and draws no random number. Otherwise the
// logits are divided by the temperature, cut to the top_k highest (if set),
// turned into probabilities, cut to the smallest set whose mass reaches
// top_p (if below 1), and one token is drawn from what is left.
func (s *sampler) sample(logits []float32) int32 {
	if s.temperature == 0 {
		return argmax(logits)
	}
	n := len(logits)
	s.probs = grow(s.probs, n)
	if cap(s.idx) < n {
		s.idx = make([]int32, n)
	}
	idx := s.idx[:n]
	for i := range idx {
		idx[i] = int32(i)
	}
	keep := n
	if s.topK > 0 && s.topK < n || s.topP > 0 && s.topP < 1 {
		// Order by logit, highest first, lowest id on ties.
		sort.Slice(idx, func(a, b int) bool {
			la, lb := logits[idx[a]], logits[idx[b]]
			if la != lb {
				return la > lb
			}
			return idx[a] < idx[b]
		})
		if s.topK > 0 && s.topK < n {
			keep = s.topK
		}
	}
	idx = idx[:keep]
	p := s.probs[:keep]
	mx := float32(math.Inf(-1))
	for _, i := range idx {
		mx = max(mx, logits[i])
	}
	var sum float64
	for j, i := range idx {
		e := expf((logits[i] - mx) / s.temperature)
		p[j] = e
		sum += float64(e)
	}
	if s.topP > 0 && s.topP < 1 {
		// idx is sorted: keep the shortest prefix whose mass reaches top_p.
		var cum float64
		for j := range p {
			cum += float64(p[j])
			if cum >= float64(s.topP)*sum {
				idx, p = idx[:j+1], p[:j+1]
				sum = cum
				break
			}
		}
	}
	coin := s.rng.Float64() * sum
	var cum float64
	for j := range p {
		cum += float64(p[j])
		if coin < cum {
			return idx[j]
		}
	}
	return idx[len(idx)-1] // rounding
}

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}
