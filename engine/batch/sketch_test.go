package batch

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

// exactQuantile is the nearest-rank q-quantile of sorted values.
func exactQuantile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[nearestRank(q, int64(len(sorted)))-1]
}

var testQuantiles = []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1}

func TestSketchAccuracy(t *testing.T) {
	const maxNanos = math.MaxInt64 / 4
	clamp := func(f float64) int64 {
		if f >= maxNanos {
			return maxNanos
		}
		return int64(f)
	}
	tests := []struct {
		name string
		n    int
		gen  func(r *rand.Rand) int64
	}{
		{"uniform 1us..1s", 20000, func(r *rand.Rand) int64 { return 1000 + r.Int64N(1_000_000_000) }},
		{"exponential mean 20ms", 20000, func(r *rand.Rand) int64 { return clamp(r.ExpFloat64() * 20e6) }},
		{"lognormal", 20000, func(r *rand.Rand) int64 { return clamp(math.Exp(r.NormFloat64()*2 + 16)) }},
		{"pareto heavy tail alpha=1.1", 20000, func(r *rand.Rand) int64 {
			return clamp(1e6 / math.Pow(1-r.Float64(), 1/1.1))
		}},
		{"pareto very heavy tail alpha=0.5", 5000, func(r *rand.Rand) int64 {
			return clamp(1e3 / math.Pow(1-r.Float64(), 1/0.5))
		}},
		{"small integers 0..5000", 20000, func(r *rand.Rand) int64 { return r.Int64N(5001) }},
		{"around exact limit", 10000, func(r *rand.Rand) int64 { return SketchExactLimit - 50 + r.Int64N(100) }},
		{"bimodal", 20000, func(r *rand.Rand) int64 {
			if r.IntN(10) == 0 {
				return 2_000_000_000 + r.Int64N(1e9)
			}
			return 5_000_000 + r.Int64N(1e6)
		}},
		{"all zero", 100, func(r *rand.Rand) int64 { return 0 }},
		{"constant", 100, func(r *rand.Rand) int64 { return 123_456_789 }},
		{"single value", 1, func(r *rand.Rand) int64 { return 987_654 }},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(uint64(i), 42))
			var s Sketch
			vals := make([]int64, tc.n)
			for j := range vals {
				vals[j] = tc.gen(r)
				s.Add(vals[j])
			}
			slices.Sort(vals)
			if s.Count() != int64(tc.n) {
				t.Fatalf("Count() = %d, want %d", s.Count(), tc.n)
			}
			for _, q := range testQuantiles {
				want := exactQuantile(vals, q)
				got := s.Quantile(q)
				if diff := math.Abs(float64(got - want)); diff > SketchRelativeAccuracy*float64(want) {
					t.Errorf("Quantile(%v) = %d, exact %d: relative error %.4f%% > 1%%",
						q, got, want, 100*diff/float64(want))
				}
				if want <= SketchExactLimit && got != want {
					t.Errorf("Quantile(%v) = %d, want exactly %d for small values", q, got, want)
				}
			}
			if got, want := s.Quantile(1), vals[len(vals)-1]; got != want {
				t.Errorf("Quantile(1) = %d, want exact max %d", got, want)
			}
			if got, want := s.Quantile(0), vals[0]; got != want {
				t.Errorf("Quantile(0) = %d, want exact min %d", got, want)
			}
		})
	}
}

// TestSketchWorstCaseValues checks the bound at every value in ranges where
// whole-nanosecond rounding matters most, and at bucket boundaries.
func TestSketchWorstCaseValues(t *testing.T) {
	check := func(v int64) {
		var s Sketch
		// Three copies of v and one larger value so that the median is not
		// the (exact) minimum or maximum path.
		s.Add(1)
		s.Add(v)
		s.Add(v)
		s.Add(math.MaxInt64 / 2)
		got := s.Quantile(0.5)
		if diff := math.Abs(float64(got - v)); diff > SketchRelativeAccuracy*float64(v) {
			t.Fatalf("value %d estimated as %d: relative error %.4f%%", v, got, 100*diff/float64(v))
		}
	}
	for v := int64(1); v <= 20000; v++ {
		check(v)
	}
	for i := int32(380); i < 2400; i++ {
		b := math.Exp(float64(i) * sketchLnGamma)
		if b >= math.MaxInt64/4 {
			break
		}
		for _, v := range []int64{int64(b) - 1, int64(b), int64(b) + 1} {
			if v > SketchExactLimit {
				check(v)
			}
		}
	}
}

func TestSketchEmptyAndNegative(t *testing.T) {
	var s Sketch
	for _, q := range testQuantiles {
		if got := s.Quantile(q); got != 0 {
			t.Errorf("empty Quantile(%v) = %d, want 0", q, got)
		}
	}
	if s.Count() != 0 {
		t.Errorf("empty Count() = %d", s.Count())
	}
	s.Add(-5)
	s.Add(0)
	if s.Count() != 2 || s.Quantile(1) != 0 || s.Quantile(0) != 0 {
		t.Errorf("negative and zero durations should be recorded as 0: count %d, max %d", s.Count(), s.Quantile(1))
	}
	for _, q := range []float64{math.NaN(), -1, 2, math.Inf(1)} {
		if got := s.Quantile(q); got != 0 {
			t.Errorf("Quantile(%v) = %d, want 0", q, got)
		}
	}
}

func TestSketchMerge(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	var all Sketch
	parts := make([]Sketch, 6) // parts[5] stays empty
	for range 5000 {
		v := int64(math.Exp(r.NormFloat64()*3 + 10))
		if r.IntN(10) == 0 {
			v = r.Int64N(SketchExactLimit + 1)
		}
		all.Add(v)
		parts[r.IntN(5)].Add(v)
	}
	tests := []struct {
		name  string
		merge func() Sketch
	}{
		{"left to right", func() Sketch {
			var m Sketch
			for _, p := range parts {
				m.Merge(p)
			}
			return m
		}},
		{"right to left", func() Sketch {
			var m Sketch
			for i := len(parts) - 1; i >= 0; i-- {
				m.Merge(parts[i])
			}
			return m
		}},
		{"shuffled", func() Sketch {
			var m Sketch
			for _, i := range []int{2, 5, 0, 4, 1, 3} {
				m.Merge(parts[i])
			}
			return m
		}},
		{"tree", func() Sketch {
			// ((0+1)+(5+2)) + (3+4)
			a, b, c := parts[0], Sketch{}, Sketch{}
			a = clone(a)
			a.Merge(parts[1])
			b.Merge(parts[5])
			b.Merge(parts[2])
			a.Merge(b)
			c.Merge(parts[3])
			c.Merge(parts[4])
			a.Merge(c)
			return a
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.merge()
			if !reflect.DeepEqual(m, all) {
				t.Fatalf("merged sketch differs from adding every value to one sketch")
			}
			for _, q := range testQuantiles {
				if m.Quantile(q) != all.Quantile(q) {
					t.Errorf("Quantile(%v) = %d, want %d", q, m.Quantile(q), all.Quantile(q))
				}
			}
		})
	}
}

// clone returns a deep copy of s.
func clone(s Sketch) Sketch {
	var c Sketch
	c.Merge(s)
	return c
}

func TestSketchMergeDoesNotAlias(t *testing.T) {
	var src Sketch
	src.Add(10)
	src.Add(1e6)
	var dst Sketch
	dst.Merge(src)
	dst.Add(10)
	dst.Add(1e6)
	if src.Count() != 2 || src.Exact[10] != 1 || src.Buckets[bucketIndex(1e6)] != 1 {
		t.Errorf("Merge aliased the source maps: %+v", src)
	}
}

func TestNearestRank(t *testing.T) {
	tests := []struct {
		q    float64
		n    int64
		want int64
	}{
		{0.5, 4, 2},
		{0.5, 5, 3},
		{0.95, 100, 95},
		{0.07, 100, 7},  // 0.07*100 == 7.000000000000001 in float64
		{0.14, 100, 14}, // 0.14*100 == 14.000000000000002
		{0.29, 100, 29}, // 0.29*100 == 28.999999999999996
		{0.951, 1000, 951},
		{0.9501, 1000, 951}, // a genuine fraction still rounds up
		{0.99, 100, 99},
		{0.999, 1000, 999},
		{0.95, 20, 19},
		{0.01, 100, 1},
		{0, 10, 1},
		{1, 10, 10},
		{0.0001, 10, 1},
		{math.NaN(), 10, 1},
		{-3, 10, 1},
		{7, 10, 10},
		{0.5, 0, 0},
		{0.5, 1, 1},
	}
	for _, tc := range tests {
		if got := nearestRank(tc.q, tc.n); got != tc.want {
			t.Errorf("nearestRank(%v, %d) = %d, want %d", tc.q, tc.n, got, tc.want)
		}
	}
}
