package batch

import (
	"slices"
	"time"
)

// Item is one unit of work: an identifier that is unique within its batch
// and the payload to process.
type Item[T any] struct {
	// ID identifies the item within its batch.
	ID string
	// Data is the payload to process.
	Data T
}

// Response is the outcome for one item.
type Response[T any] struct {
	// ID is the ID of the Item this response answers.
	ID string
	// Data is the output produced for the item; it is meaningful only when
	// Err is nil.
	Data T
	// Start is when processing of this item began (zero if it never did).
	Start time.Time
	// Duration is the measured processing time of this item alone.
	Duration time.Duration
	// Err is the reason the item failed, or nil on success.
	Err error
}

// OK reports whether the item succeeded, that is whether Err is nil.
func (r Response[T]) OK() bool { return r.Err == nil }

// Result holds the responses of one batch in input order, with O(1) lookup
// by id. A nil *Result behaves like an empty one.
type Result[T any] struct {
	responses []Response[T]
	index     map[string]int
	wall      time.Duration
	succeeded int
}

// NewResult returns the Result of a batch whose responses are given in input
// order and whose measured wall-clock time is wall. The slice is copied, so
// the caller may reuse it. When several responses share an ID, the first
// occurrence wins for [Result.Get].
func NewResult[T any](responses []Response[T], wall time.Duration) *Result[T] {
	r := &Result[T]{
		responses: slices.Clone(responses),
		index:     make(map[string]int, len(responses)),
		wall:      wall,
	}
	for i, resp := range r.responses {
		if _, seen := r.index[resp.ID]; !seen {
			r.index[resp.ID] = i
		}
		if resp.OK() {
			r.succeeded++
		}
	}
	return r
}

// Get returns the response with the given id and whether it exists. When ids
// repeat, the first response with that id is returned.
func (r *Result[T]) Get(id string) (Response[T], bool) {
	if r == nil {
		return Response[T]{}, false
	}
	i, ok := r.index[id]
	if !ok {
		return Response[T]{}, false
	}
	return r.responses[i], true
}

// Responses returns a copy of all responses in input order.
func (r *Result[T]) Responses() []Response[T] {
	if r == nil {
		return nil
	}
	return slices.Clone(r.responses)
}

// Len returns the number of responses, counting repeated ids separately.
func (r *Result[T]) Len() int {
	if r == nil {
		return 0
	}
	return len(r.responses)
}

// AllSucceeded reports whether every response has a nil Err. It is true for
// an empty result: no item failed.
func (r *Result[T]) AllSucceeded() bool { return r.FailureCount() == 0 }

// SuccessCount returns the number of responses whose Err is nil.
func (r *Result[T]) SuccessCount() int {
	if r == nil {
		return 0
	}
	return r.succeeded
}

// FailureCount returns the number of responses whose Err is non-nil.
func (r *Result[T]) FailureCount() int { return r.Len() - r.SuccessCount() }

// Errors returns the error of every failed response keyed by id. When ids
// repeat, the error of the first failed response with that id is kept. The
// map is never nil.
func (r *Result[T]) Errors() map[string]error {
	errs := make(map[string]error, r.FailureCount())
	if r == nil {
		return errs
	}
	for _, resp := range r.responses {
		if resp.Err == nil {
			continue
		}
		if _, seen := errs[resp.ID]; !seen {
			errs[resp.ID] = resp.Err
		}
	}
	return errs
}

// Stats summarises the batch. WallTime is the wall time given to
// [NewResult]; SumItemTime, the mean and the maximum come from the responses'
// Durations. P50, P95 and P99 are exact nearest-rank percentiles computed by
// sorting the durations (see [Sketch.Quantile] for the definition).
// Negative durations count as zero. TotalTokens and TotalBytes are zero
// because a Result does not know them.
func (r *Result[T]) Stats() Stats {
	if r == nil {
		return Stats{}
	}
	durs := make([]int64, len(r.responses))
	var sum int64
	for i, resp := range r.responses {
		d := max(int64(resp.Duration), 0)
		durs[i] = d
		sum += d
	}
	slices.Sort(durs)
	n := int64(len(durs))
	var p50, p95, p99, maxDur int64
	if n > 0 {
		p50 = durs[nearestRank(0.50, n)-1]
		p95 = durs[nearestRank(0.95, n)-1]
		p99 = durs[nearestRank(0.99, n)-1]
		maxDur = durs[n-1]
	}
	return newStats(statsInput{
		items:     n,
		succeeded: int64(r.succeeded),
		wall:      r.wall,
		sum:       sum,
		max:       maxDur,
		p50:       p50,
		p95:       p95,
		p99:       p99,
	})
}
