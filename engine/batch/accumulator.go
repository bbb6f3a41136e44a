package batch

import "time"

// Observation is what one processed item contributes to statistics.
type Observation struct {
	// OK reports whether the item succeeded.
	OK bool
	// Tokens is the number of tokens produced or consumed by the item (0 if
	// not applicable).
	Tokens int64
	// Bytes is the number of input bytes of the item.
	Bytes int64
	// StartUnixNano is the wall-clock start of this item's processing, in
	// nanoseconds since the Unix epoch. It must be set: the run's wall time is
	// measured from the earliest start to the latest end.
	StartUnixNano int64
	// DurationNanos is the item's own processing time in nanoseconds.
	// Negative values count as 0.
	DurationNanos int64
	// PromptTokens and CompletionTokens are an inference item's token
	// counts (0 elsewhere).
	PromptTokens, CompletionTokens int64
	// TTFTNanos is an inference item's time to first token; 0 when it has
	// none (a failed item) or the backend could not measure it.
	TTFTNanos int64
}

// NewObservation returns the Observation of an item that started at start
// and took d. Set Tokens and Bytes on the result where they apply.
func NewObservation(start time.Time, d time.Duration, ok bool) Observation {
	return Observation{OK: ok, StartUnixNano: start.UnixNano(), DurationNanos: int64(d)}
}

// Accumulator is a mergeable summary of observations: counts, sums, the
// earliest start, the latest end (start + duration), the exact maximum
// duration, and a latency [Sketch].
//
// All state is held in exported fields of plain types so that Apache Beam's
// default coder can serialise partial accumulators between workers. The zero
// value is an empty accumulator. All aggregates are integers (or a
// bucket-wise [Sketch]), so merging partial accumulators in any grouping and
// order yields exactly the same [Stats] as adding every observation to one
// accumulator.
type Accumulator struct {
	// Items is the number of observations.
	Items int64
	// Succeeded is the number of observations with OK set.
	Succeeded int64
	// SumDurationNanos is the sum of the (non-negative) item durations.
	SumDurationNanos int64
	// MaxDurationNanos is the largest item duration.
	MaxDurationNanos int64
	// Tokens is the total of the observations' Tokens.
	Tokens int64
	// Bytes is the total of the observations' Bytes.
	Bytes int64
	// FirstStartUnixNano is the earliest StartUnixNano (meaningless when
	// Items is 0).
	FirstStartUnixNano int64
	// LastEndUnixNano is the latest StartUnixNano + DurationNanos
	// (meaningless when Items is 0).
	LastEndUnixNano int64
	// Latency is the sketch of item durations.
	Latency Sketch
	// PromptTokens and CompletionTokens are the totals of the observations'.
	PromptTokens, CompletionTokens int64
	// TTFT is the sketch of the positive TTFTNanos.
	TTFT Sketch
}

// Add records one observation.
func (a *Accumulator) Add(o Observation) {
	d := max(o.DurationNanos, 0)
	end := o.StartUnixNano + d
	if a.Items == 0 {
		a.FirstStartUnixNano, a.LastEndUnixNano = o.StartUnixNano, end
		a.MaxDurationNanos = d
	} else {
		a.FirstStartUnixNano = min(a.FirstStartUnixNano, o.StartUnixNano)
		a.LastEndUnixNano = max(a.LastEndUnixNano, end)
		a.MaxDurationNanos = max(a.MaxDurationNanos, d)
	}
	a.Items++
	if o.OK {
		a.Succeeded++
	}
	a.SumDurationNanos += d
	a.Tokens += o.Tokens
	a.Bytes += o.Bytes
	a.Latency.Add(d)
	a.PromptTokens += o.PromptTokens
	a.CompletionTokens += o.CompletionTokens
	if o.TTFTNanos > 0 {
		a.TTFT.Add(o.TTFTNanos)
	}
}

// Merge adds everything recorded in b to a. b is not modified and a does not
// alias b's maps.
func (a *Accumulator) Merge(b Accumulator) {
	if b.Items == 0 {
		return
	}
	if a.Items == 0 {
		a.FirstStartUnixNano, a.LastEndUnixNano = b.FirstStartUnixNano, b.LastEndUnixNano
		a.MaxDurationNanos = b.MaxDurationNanos
	} else {
		a.FirstStartUnixNano = min(a.FirstStartUnixNano, b.FirstStartUnixNano)
		a.LastEndUnixNano = max(a.LastEndUnixNano, b.LastEndUnixNano)
		a.MaxDurationNanos = max(a.MaxDurationNanos, b.MaxDurationNanos)
	}
	a.Items += b.Items
	a.Succeeded += b.Succeeded
	a.SumDurationNanos += b.SumDurationNanos
	a.Tokens += b.Tokens
	a.Bytes += b.Bytes
	a.Latency.Merge(b.Latency)
	a.PromptTokens += b.PromptTokens
	a.CompletionTokens += b.CompletionTokens
	a.TTFT.Merge(b.TTFT)
}

// Stats summarises the accumulated observations. WallTime is measured from
// the earliest start to the latest end; SpeedupVsSequential is
// SumItemTime / WallTime. The mean and the maximum are exact; P50, P95 and
// P99 come from the [Sketch] and are within [SketchRelativeAccuracy] of the
// exact nearest-rank percentiles.
func (a Accumulator) Stats() Stats {
	if a.Items <= 0 {
		return Stats{}
	}
	p := a.Latency.quantiles(0.50, 0.95, 0.99)
	s := newStats(statsInput{
		items:     a.Items,
		succeeded: a.Succeeded,
		wall:      time.Duration(a.LastEndUnixNano - a.FirstStartUnixNano),
		sum:       a.SumDurationNanos,
		max:       a.MaxDurationNanos,
		p50:       p[0],
		p95:       p[1],
		p99:       p[2],
		tokens:    a.Tokens,
		bytes:     a.Bytes,
	})
	s.PromptTokens, s.CompletionTokens = a.PromptTokens, a.CompletionTokens
	s.CompletionTokensPerSecond = perSecond(float64(a.CompletionTokens), s.WallTime)
	if a.TTFT.Count() > 0 {
		t := a.TTFT.quantiles(0.50, 0.95, 0.99)
		s.P50TTFT, s.P95TTFT, s.P99TTFT = time.Duration(t[0]), time.Duration(t[1]), time.Duration(t[2])
	}
	return s
}
