package batch

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// SizerOptions configure a [Sizer]. The zero value of a field takes its
// default.
type SizerOptions struct {
	// MinItems and MaxItems bound the items cap of every batch; defaults 1
	// and InferenceLimits.Max (100).
	MinItems, MaxItems int
	// StartItems is the items cap of the first batch, sized before anything
	// is measured; default InferenceLimits.Optimal (8), clamped into
	// [MinItems, MaxItems] when defaulted.
	StartItems int
	// TargetLatency bounds the predicted latency of a batch; default 30s.
	TargetLatency time.Duration
	// FixedShare, in (0, 1), is the share of a batch's latency that its
	// fixed overhead may take: batches grow until the overhead falls to
	// this share, and no further. Default 0.1.
	FixedShare float64
	// Window is how many recent batches the latency fit uses (at least 2);
	// default 20.
	Window int
}

// Defaults of SizerOptions.
const (
	DefaultTargetLatency = 30 * time.Second
	DefaultFixedShare    = 0.1
	DefaultSizerWindow   = 20
)

// resolve fills in the defaults and validates o.
func (o SizerOptions) resolve() (SizerOptions, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("batch sizer: "+format, args...)) }
	if o.MinItems < 0 {
		bad("MinItems %d is negative", o.MinItems)
	}
	if o.MaxItems < 0 {
		bad("MaxItems %d is negative", o.MaxItems)
	}
	if o.StartItems < 0 {
		bad("StartItems %d is negative", o.StartItems)
	}
	if o.TargetLatency < 0 {
		bad("TargetLatency %v is negative", o.TargetLatency)
	}
	if math.IsNaN(o.FixedShare) || o.FixedShare < 0 || o.FixedShare >= 1 {
		bad("FixedShare %v is out of range (0, 1)", o.FixedShare)
	}
	if o.Window < 0 || o.Window == 1 {
		bad("Window %d is too small: the fit needs at least 2 batches", o.Window)
	}
	if len(errs) > 0 {
		return o, errors.Join(errs...)
	}
	if o.MinItems == 0 {
		o.MinItems = 1
	}
	if o.MaxItems == 0 {
		o.MaxItems = max(InferenceLimits.Max, o.MinItems)
	}
	if o.MaxItems < o.MinItems {
		return o, fmt.Errorf("batch sizer: MaxItems %d is below MinItems %d", o.MaxItems, o.MinItems)
	}
	if o.StartItems == 0 {
		o.StartItems = min(max(InferenceLimits.Optimal, o.MinItems), o.MaxItems)
	} else if o.StartItems < o.MinItems || o.StartItems > o.MaxItems {
		return o, fmt.Errorf("batch sizer: StartItems %d is outside [MinItems, MaxItems] = [%d, %d]", o.StartItems, o.MinItems, o.MaxItems)
	}
	if o.TargetLatency == 0 {
		o.TargetLatency = DefaultTargetLatency
	}
	if o.FixedShare == 0 {
		o.FixedShare = DefaultFixedShare
	}
	if o.Window == 0 {
		o.Window = DefaultSizerWindow
	}
	return o, nil
}

// Sizer chooses batch sizes adaptively, as Apache Beam's BatchElements
// does (its _BatchSizeEstimator), but in cost units (for inference, a
// request's prompt tokens plus its max_tokens) as well as in items.
//
// It fits latency = a + b·cost by least squares to the recent batches
// (Window of them) and aims each batch at the smallest cost whose fixed
// overhead a is at most FixedShare of its latency,
//
//	cost* = a/b · (1/FixedShare − 1),
//
// lowered so that the predicted latency a + b·cost stays within
// TargetLatency. Bigger batches would gain little throughput and only add
// latency. The steps are:
//
//   - Warm-up: the first batch recorded is left out of the fit (its latency
//     includes one-time costs: page faults, caches, lazy initialisation),
//     though its size still counts for growth.
//   - Growth: until the window holds two distinct costs, or while the fitted
//     b is not positive, the cost cap doubles from the last recorded batch's
//     cost (less if the last batch's latency, scaled up, would pass
//     TargetLatency; the warm-up batch's latency is not used for that).
//     The first batch has StartItems items and no cost cap.
//   - A batch's cost cap is never more than twice the last recorded batch's
//     cost.
//   - Robust fit: with 6 or more batches, a batch whose externally
//     studentized residual of the ordinary least-squares fit exceeds 3 (a
//     latency outlier: a GC pause, a noisy neighbour) is left out. The
//     final fit weights each batch by 1/cost, as Beam does, since latency
//     noise grows with the batch and small batches pin the intercept.
//   - Exploration without randomness: the intercept a can only be told
//     apart from b·cost when the batches' costs vary. Beam smears its batch
//     sizes randomly (±25%) for this; instead, when the costs of the
//     window's batches have a coefficient of variation below 1/4 (as they
//     do once every batch hits the same cost cap), the next batch is a
//     probe at half the target, at most one in three calls of Next. In
//     steady state about a quarter of the batches are probes, which costs
//     about 1.5% of throughput at the default FixedShare. The Sizer is
//     deterministic: its answers depend only on the sequence of calls.
//
// Next converts the target cost into caps: the cost cap, and an items cap
// of target / (the smallest per-item cost of the window's batches), within
// [MinItems, MaxItems], so the cost cap is the one that normally binds. The
// cost cap is more than MinItems−1 times the largest per-item cost seen, so
// that a batch reaches MinItems items (this bound, like MinItems and
// MaxItems, overrides the growth limit).
//
// A Sizer is safe for concurrent use: batches may be sized and recorded on
// different goroutines, with several in flight. The zero value uses the
// default options.
type Sizer struct {
	mu     sync.Mutex
	o      SizerOptions // resolved; Window 0 until init
	ring   []sizerPoint // the last Window batches, oldest overwritten first
	head   int          // where the next point goes once ring is full
	seen   int          // batches recorded
	last   sizerPoint   // the last batch recorded
	calls  int          // calls of Next
	probed int          // calls at the last probe; 0: none
}

type sizerPoint struct {
	items     int
	cost, lat float64 // lat in seconds
	warm      bool    // the warm-up batch: not in the fit
}

// NewSizer returns a Sizer with options o, or an error naming every invalid
// option.
func NewSizer(o SizerOptions) (*Sizer, error) {
	r, err := o.resolve()
	if err != nil {
		return nil, err
	}
	return &Sizer{o: r, ring: make([]sizerPoint, 0, r.Window)}, nil
}

// init gives a zero Sizer the default options; s.mu is held.
func (s *Sizer) init() {
	if s.o.Window == 0 {
		s.o, _ = SizerOptions{}.resolve()
		s.ring = make([]sizerPoint, 0, s.o.Window)
	}
}

// Record adds a finished batch: its number of items, its total cost and its
// latency. A cost ≤ 0 counts one unit per item (a caller that tracks no
// cost sizes by items). Batches with no items or a negative latency are
// ignored.
func (s *Sizer) Record(items int, cost int64, latency time.Duration) {
	if items <= 0 || latency < 0 {
		return
	}
	if cost <= 0 {
		cost = int64(items)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	p := sizerPoint{items: items, cost: float64(cost), lat: latency.Seconds(), warm: s.seen == 0}
	s.seen++
	s.last = p
	if len(s.ring) < s.o.Window {
		s.ring = append(s.ring, p)
		return
	}
	s.ring[s.head] = p
	s.head = (s.head + 1) % len(s.ring)
}

// Next returns the caps of the next batch: the batcher adds items until the
// batch holds maxItems items or its total cost reaches maxCost (0: no cost
// cap yet). maxItems is within [MinItems, MaxItems].
func (s *Sizer) Next() (maxItems int, maxCost int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.calls++
	o := s.o
	if s.seen == 0 {
		return o.StartItems, 0
	}
	minPer, maxPer := math.Inf(1), 0.0
	var xs, ys []float64
	for _, p := range s.ring {
		per := p.cost / float64(p.items)
		minPer, maxPer = min(minPer, per), max(maxPer, per)
		if !p.warm {
			xs, ys = append(xs, p.cost), append(ys, p.lat)
		}
	}
	limit := o.TargetLatency.Seconds()
	a, b, ok := fitLatency(xs, ys)
	var target float64
	if !ok || !(b > 0) {
		// Grow geometrically, keeping the last latency scaled up within
		// the target: with a ≥ 0, a+b·k·c ≤ k·(a+b·c) for k ≥ 1.
		k := 2.0
		if s.last.lat > 0 && !s.last.warm {
			k = min(k, limit/s.last.lat)
		}
		target = k * s.last.cost
	} else {
		target = 0 // a ≤ 0: no overhead to amortise
		if a > 0 {
			target = a / b * (1/o.FixedShare - 1)
		}
		target = min(target, (limit-a)/b, 2*s.last.cost)
		if s.needProbe(xs) {
			target /= 2
			s.probed = s.calls
		}
	}
	// At least MinItems items of the costliest kind seen fit under the
	// cost cap (a batch closes once its cost reaches the cap).
	target = max(target, float64(o.MinItems-1)*maxPer+1)
	target = min(target, float64(math.MaxInt64/4))
	maxItems = o.MaxItems
	if minPer > 0 {
		maxItems = int(min(math.Ceil(target/minPer*(1-1e-9)), float64(o.MaxItems)))
	}
	return max(maxItems, o.MinItems), int64(math.Ceil(target * (1 - 1e-9)))
}

// needProbe reports whether the next batch should be a probe at half the
// target: the costs of the fit's batches vary too little to pin the
// intercept (their coefficient of variation is below 1/4), and none of the
// last two calls was a probe. s.mu is held.
func (s *Sizer) needProbe(xs []float64) bool {
	if s.probed > 0 && s.calls-s.probed < 3 {
		return false
	}
	var mean, ss float64
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return math.Sqrt(ss/float64(len(xs))) < mean/4
}

// fitLatency fits y = a + b·x to the points (x > 0), robustly as the
// Sizer's documentation describes. ok is false when the points hold fewer
// than two distinct x or the fit is not finite.
func fitLatency(xs, ys []float64) (a, b float64, ok bool) {
	keep := make([]bool, len(xs))
	for i := range keep {
		keep[i] = true
	}
	a, b, ok = wls(xs, ys, keep, false)
	if !ok {
		return 0, 0, false
	}
	if n := len(xs); n >= 6 && sumSquares(xs, ys, a, b) > 0 {
		// Leave out outliers by their externally studentized residuals.
		var mean, sxx, sse float64
		for _, x := range xs {
			mean += x
		}
		mean /= float64(n)
		for i, x := range xs {
			sxx += (x - mean) * (x - mean)
			e := ys[i] - a - b*x
			sse += e * e
		}
		dropped := false
		for i, x := range xs {
			h := 1/float64(n) + (x-mean)*(x-mean)/sxx
			e := ys[i] - a - b*x
			if h >= 1 {
				continue
			}
			// The residual sum of squares without point i.
			ssei := sse - e*e/(1-h)
			if ssei <= 1e-9*sse {
				// The other points lie on a line and this one is off it.
				keep[i], dropped = false, true
				continue
			}
			if t := e / math.Sqrt(ssei/float64(n-3)*(1-h)); math.Abs(t) > 3 {
				keep[i], dropped = false, true
			}
		}
		if !dropped {
			for i := range keep {
				keep[i] = true
			}
		}
	}
	if a2, b2, ok2 := wls(xs, ys, keep, true); ok2 {
		return a2, b2, true
	}
	return wls(xs, ys, nil, true)
}

// sumSquares is the sum of squared residuals of y = a + b·x.
func sumSquares(xs, ys []float64, a, b float64) float64 {
	var r float64
	for i, x := range xs {
		e := ys[i] - a - b*x
		r += e * e
	}
	return r
}

// wls is the least-squares fit of y = a + b·x over the kept points (all
// when keep is nil), weighted by 1/x when weighted is set.
func wls(xs, ys []float64, keep []bool, weighted bool) (a, b float64, ok bool) {
	var sw, sx, sy float64
	first, distinct := math.NaN(), false
	for i, x := range xs {
		if keep != nil && !keep[i] {
			continue
		}
		if math.IsNaN(first) {
			first = x
		} else if x != first {
			distinct = true
		}
		w := 1.0
		if weighted {
			w = 1 / x
		}
		sw += w
		sx += w * x
		sy += w * ys[i]
	}
	if !distinct {
		return 0, 0, false
	}
	mx, my := sx/sw, sy/sw
	var sxx, sxy float64
	for i, x := range xs {
		if keep != nil && !keep[i] {
			continue
		}
		w := 1.0
		if weighted {
			w = 1 / x
		}
		sxx += w * (x - mx) * (x - mx)
		sxy += w * (x - mx) * (ys[i] - my)
	}
	if !(sxx > 0) {
		return 0, 0, false
	}
	b = sxy / sxx
	a = my - b*mx
	if math.IsNaN(a) || math.IsNaN(b) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		return 0, 0, false
	}
	return a, b, true
}
