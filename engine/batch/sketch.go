package batch

import (
	"math"
	"slices"
)

// SketchRelativeAccuracy is the relative error bound of [Sketch.Quantile]:
// the returned value v' and the true nearest-rank quantile v satisfy
// |v' - v| <= SketchRelativeAccuracy * v.
const SketchRelativeAccuracy = 0.01

// SketchExactLimit is the largest duration, in nanoseconds, that a [Sketch]
// records exactly. Larger durations go to logarithmic buckets.
const SketchExactLimit = 1000

// bucketAccuracy is the relative error of a logarithmic bucket's
// representative value. It is below SketchRelativeAccuracy so that rounding
// the representative to whole nanoseconds (at most 0.5ns, which is less than
// 0.1% of any value above SketchExactLimit) stays within the public bound.
const bucketAccuracy = 0.009

var (
	sketchGamma   = (1 + bucketAccuracy) / (1 - bucketAccuracy)
	sketchLnGamma = math.Log(sketchGamma)
)

// Sketch is a mergeable latency histogram with bounded relative error, in the
// style of DDSketch. Durations up to [SketchExactLimit] nanoseconds are
// counted exactly; a larger duration v goes to the logarithmic bucket
// i = ceil(log_γ(v)), which covers (γ^(i-1), γ^i] with γ = 1.009/0.991, and is
// represented by 2γ^i/(γ+1). Quantiles are therefore within
// [SketchRelativeAccuracy] (1%) of the true value.
//
// All state is in exported fields of plain types so that Apache Beam's
// default coder can serialise it. The zero value is an empty sketch. Merge is
// bucket-wise addition (plus min/max), so it is exactly associative and
// commutative.
type Sketch struct {
	// Exact counts durations of 0..SketchExactLimit nanoseconds, keyed by the
	// duration in nanoseconds.
	Exact map[int32]int64
	// Buckets counts durations above SketchExactLimit nanoseconds, keyed by
	// logarithmic bucket index.
	Buckets map[int32]int64
	// N is the number of recorded durations.
	N int64
	// Min is the smallest recorded duration in nanoseconds (meaningless when
	// N is 0).
	Min int64
	// Max is the largest recorded duration in nanoseconds (meaningless when
	// N is 0).
	Max int64
}

// Add records one duration in nanoseconds. Negative durations are recorded
// as 0.
func (s *Sketch) Add(nanos int64) {
	nanos = max(nanos, 0)
	if nanos <= SketchExactLimit {
		if s.Exact == nil {
			s.Exact = make(map[int32]int64)
		}
		s.Exact[int32(nanos)]++
	} else {
		if s.Buckets == nil {
			s.Buckets = make(map[int32]int64)
		}
		s.Buckets[bucketIndex(nanos)]++
	}
	if s.N == 0 {
		s.Min, s.Max = nanos, nanos
	} else {
		s.Min = min(s.Min, nanos)
		s.Max = max(s.Max, nanos)
	}
	s.N++
}

// Merge adds every duration recorded in o to s. o is not modified and s does
// not alias o's maps.
func (s *Sketch) Merge(o Sketch) {
	if o.N == 0 {
		return
	}
	if len(o.Exact) > 0 && s.Exact == nil {
		s.Exact = make(map[int32]int64, len(o.Exact))
	}
	for k, c := range o.Exact {
		s.Exact[k] += c
	}
	if len(o.Buckets) > 0 && s.Buckets == nil {
		s.Buckets = make(map[int32]int64, len(o.Buckets))
	}
	for k, c := range o.Buckets {
		s.Buckets[k] += c
	}
	if s.N == 0 {
		s.Min, s.Max = o.Min, o.Max
	} else {
		s.Min = min(s.Min, o.Min)
		s.Max = max(s.Max, o.Max)
	}
	s.N += o.N
}

// Count returns the number of recorded durations.
func (s Sketch) Count() int64 { return s.N }

// Quantile returns an estimate, in nanoseconds, of the q-quantile of the
// recorded durations, or 0 for an empty sketch. The q-quantile is defined by
// nearest rank: the value at 1-based rank ceil(q*n) in ascending order,
// clamped to 1..n, so Quantile(0) is the minimum and Quantile(1) the maximum.
// q is clamped to [0, 1]; NaN counts as 0. The estimate is within
// [SketchRelativeAccuracy] of the true value, exact for values up to
// [SketchExactLimit], and exact for q = 0 and q = 1.
func (s Sketch) Quantile(q float64) int64 {
	return s.quantiles(q)[0]
}

// quantiles returns Quantile(q) for each q with one pass over the buckets.
func (s Sketch) quantiles(qs ...float64) []int64 {
	out := make([]int64, len(qs))
	if s.N <= 0 {
		return out
	}
	exactKeys := sortedKeys(s.Exact)
	bucketKeys := sortedKeys(s.Buckets)
	for i, q := range qs {
		rank := nearestRank(q, s.N)
		switch rank {
		case 1:
			out[i] = s.Min
			continue
		case s.N:
			out[i] = s.Max
			continue
		}
		out[i] = s.valueAtRank(rank, exactKeys, bucketKeys)
	}
	return out
}

// valueAtRank returns the estimated value at the 1-based rank, walking the
// exact counts and then the logarithmic buckets in ascending order.
func (s Sketch) valueAtRank(rank int64, exactKeys, bucketKeys []int32) int64 {
	var seen int64
	for _, k := range exactKeys {
		seen += s.Exact[k]
		if seen >= rank {
			return int64(k)
		}
	}
	for _, k := range bucketKeys {
		seen += s.Buckets[k]
		if seen >= rank {
			v := int64(math.Round(bucketValue(k)))
			return min(max(v, s.Min), s.Max)
		}
	}
	// Only reachable when N disagrees with the counts (e.g. a hand-built
	// sketch); the largest recorded value is the best answer.
	return s.Max
}

// bucketIndex returns the logarithmic bucket of a duration above
// SketchExactLimit.
func bucketIndex(nanos int64) int32 {
	return int32(math.Ceil(math.Log(float64(nanos)) / sketchLnGamma))
}

// bucketValue returns the representative value of logarithmic bucket i,
// whose relative distance to any value in the bucket is at most
// bucketAccuracy.
func bucketValue(i int32) float64 {
	return 2 * math.Exp(float64(i)*sketchLnGamma) / (sketchGamma + 1)
}

// nearestRank returns the 1-based nearest rank ceil(q*n) clamped to 1..n for
// n > 0. A tiny tolerance keeps products such as 0.95*100 from rounding up to
// the next rank.
func nearestRank(q float64, n int64) int64 {
	if n <= 0 {
		return 0
	}
	if !(q > 0) { // also catches NaN
		return 1
	}
	if q >= 1 {
		return n
	}
	r := int64(math.Ceil(q*float64(n) - 1e-9))
	return min(max(r, 1), n)
}

func sortedKeys(m map[int32]int64) []int32 {
	keys := make([]int32, 0, len(m))
	for k, c := range m {
		if c != 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
