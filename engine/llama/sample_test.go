package llama

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSampler checks the sampler's distributions by drawing many times
// from small logits: frequencies match softmax(logits/T), top_k and top_p
// keep exactly the expected tokens, and greedy is argmax.
func TestSampler(t *testing.T) {
	logits := []float32{1, 3, 2, 0.5, 3, -1}
	if got := newSampler(0, 1, 0, 1).sample(logits); got != 1 {
		t.Errorf("greedy picked %d; want 1 (first of the tied highest)", got)
	}
	softmax := func(ids []int, temp float64) map[int32]float64 {
		var sum float64
		p := map[int32]float64{}
		for _, i := range ids {
			p[int32(i)] = math.Exp(float64(logits[i]) / temp)
			sum += p[int32(i)]
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	cases := []struct {
		name       string
		temp, topP float64
		topK       int
		want       map[int32]float64
	}{
		{"temperature 1", 1, 1, 0, softmax([]int{0, 1, 2, 3, 4, 5}, 1)},
		{"temperature 0.5", 0.5, 1, 0, softmax([]int{0, 1, 2, 3, 4, 5}, 0.5)},
		{"top_k 3", 1, 1, 3, softmax([]int{1, 4, 2}, 1)},
		{"top_k 1", 1.5, 1, 1, map[int32]float64{1: 1}},
		// softmax at T=1: p(1)=p(4)≈0.363, p(2)≈0.134: top_p 0.8 keeps 1, 4, 2.
		{"top_p 0.8", 1, 0.8, 0, softmax([]int{1, 4, 2}, 1)},
		{"top_p 0.5", 1, 0.5, 0, softmax([]int{1, 4}, 1)},
		{"top_k 4 and top_p 0.8", 1, 0.8, 4, softmax([]int{1, 4, 2}, 1)},
	}
	for _, c := range cases {
		s := newSampler(c.temp, c.topP, c.topK, 42)
		const draws = 40000
		count := map[int32]float64{}
		for range draws {
			count[s.sample(logits)]++
		}
		for id := range count {
			if _, ok := c.want[id]; !ok {
				t.Errorf("%s: drew token %d, which should be cut", c.name, id)
			}
		}
		for id, p := range c.want {
			got := count[id] / draws
			if math.Abs(got-p) > 4*math.Sqrt(p*(1-p)/draws)+1e-9 {
				t.Errorf("%s: token %d drawn %.4f of the time; want %.4f", c.name, id, got, p)
			}
		}
	}
	// The same seed gives the same draws.
	a, b := newSampler(1, 0.9, 0, 7), newSampler(1, 0.9, 0, 7)
	var da, db []int32
	for range 100 {
		da, db = append(da, a.sample(logits)), append(db, b.sample(logits))
	}
	if !slices.Equal(da, db) {
		t.Error("the same seed gave different draws")
	}
}

// TestArgmax checks argmax against the plain loop it replaces (the first
// index of the highest value; a NaN never wins, and a NaN first stays),
// with vectors long enough for the vector kernels.
func TestArgmax(t *testing.T) {
	ref := func(x []float32) int32 {
		best := 0
		for i, v := range x {
			if v > x[best] {
				best = i
			}
		}
		return int32(best)
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	cases := [][]float32{
		{1}, {nan, 5, 7}, {1, nan, 3, 3}, {-inf, -inf}, {0, 2, 2, 1},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{8, 9, 31, 32, 33, 100, 32000} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		cases = append(cases, x)
		tie := append([]float32(nil), x...)
		tie[n/3], tie[n-1] = 99, 99
		cases = append(cases, tie)
		withNaN := append([]float32(nil), tie...)
		withNaN[n/2] = nan
		cases = append(cases, withNaN)
	}
	for i, x := range cases {
		if got, want := argmax(x), ref(x); got != want {
			t.Errorf("case %d (len %d): argmax = %d, want %d", i, len(x), got, want)
		}
	}
}
