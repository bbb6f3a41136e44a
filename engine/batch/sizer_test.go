package batch

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// latencyLaw is latency = a + b·cost, with optional multiplicative noise.
type latencyLaw struct {
	a     time.Duration
	b     float64 // seconds per cost unit
	noise float64 // relative standard deviation (0: exact)
}

// optimum is the analytic target cost of the law under o (resolved).
func (l latencyLaw) optimum(o SizerOptions) float64 {
	a := l.a.Seconds()
	return min(a/l.b*(1/o.FixedShare-1), (o.TargetLatency.Seconds()-a)/l.b)
}

// simRun is what a simulated run saw, one entry per batch.
type simRun struct {
	maxItems []int
	maxCost  []int64
	items    []int
	cost     []int64
}

// simulate runs steps batches through s: each batch takes items (costs from
// itemCost) until a cap is reached, and its latency follows law, with the
// first batch's latency replaced by warmup when positive. It checks the
// invariants of every step: bounds, and growth of at most 2× the last
// batch's cost.
func simulate(t *testing.T, s *Sizer, steps int, itemCost func() int64, law latencyLaw, warmup time.Duration, seed uint64) simRun {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	var run simRun
	for i := range steps {
		maxItems, maxCost := s.Next()
		if maxItems < s.o.MinItems || maxItems > s.o.MaxItems {
			t.Fatalf("step %d: maxItems %d outside [%d, %d]", i, maxItems, s.o.MinItems, s.o.MaxItems)
		}
		if maxCost < 0 || (i == 0) != (maxCost == 0) {
			t.Fatalf("step %d: maxCost %d", i, maxCost)
		}
		if i > 0 {
			if last := run.cost[i-1]; maxCost > 2*last && s.o.MinItems == 1 {
				t.Fatalf("step %d: maxCost %d is more than twice the last batch's cost %d", i, maxCost, last)
			}
		}
		var n int
		var cost int64
		for n < maxItems && (maxCost == 0 || cost < maxCost) {
			cost += itemCost()
			n++
		}
		lat := law.a.Seconds() + law.b*float64(cost)
		if law.noise > 0 {
			lat *= max(1+law.noise*rng.NormFloat64(), 0.05)
		}
		d := time.Duration(lat * 1e9)
		if i == 0 && warmup > 0 {
			d = warmup
		}
		s.Record(n, cost, d)
		run.maxItems = append(run.maxItems, maxItems)
		run.maxCost = append(run.maxCost, maxCost)
		run.items = append(run.items, n)
		run.cost = append(run.cost, cost)
	}
	return run
}

func median[T int | int64](v []T) T {
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}

func TestSizerConverges(t *testing.T) {
	uniform := func(c int64) func(uint64) func() int64 {
		return func(uint64) func() int64 { return func() int64 { return c } }
	}
	mixed := func(lo, hi int64) func(uint64) func() int64 {
		return func(seed uint64) func() int64 {
			r := rand.New(rand.NewPCG(seed, 2))
			return func() int64 { return lo + r.Int64N(hi-lo+1) }
		}
	}
	tests := []struct {
		name   string
		opts   SizerOptions
		law    latencyLaw
		cost   func(seed uint64) func() int64
		warmup time.Duration
		// wantItems, if set, is the converged items cap (a bound binds).
		wantItems int
		// wantCost, if set, is the converged cost cap instead of the law's
		// optimum (a bound binds).
		wantCost float64
		// tol is the relative tolerance; default 10%.
		tol float64
	}{
		{name: "exact uniform", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, cost: uniform(100)},
		{name: "exact uniform, slow warm-up", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, cost: uniform(100), warmup: 90 * time.Second},
		{name: "exact mixed", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, cost: mixed(20, 300)},
		{name: "noisy uniform", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3, noise: 0.01}, cost: uniform(100)},
		{name: "noisy mixed", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3, noise: 0.01}, cost: mixed(20, 300)},
		{name: "noisy mixed, tokens", law: latencyLaw{a: 50 * time.Millisecond, b: 2e-6, noise: 0.01}, cost: mixed(100, 600),
			opts: SizerOptions{FixedShare: 0.2, MaxItems: 1000, Window: 40}},
		// With 5% noise a window of 20 batches pins the intercept (10% of
		// the latency) only to about ±20%: the fit stays in the right
		// region, no more can be asked of it.
		{name: "very noisy mixed", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3, noise: 0.05}, cost: mixed(20, 300), tol: 0.4},
		{name: "small overhead", law: latencyLaw{a: 10 * time.Millisecond, b: 1e-3}, cost: uniform(10)},
		{name: "latency target binds", law: latencyLaw{a: 500 * time.Millisecond, b: 0.01}, cost: uniform(10),
			opts: SizerOptions{TargetLatency: 3 * time.Second}},
		{name: "latency target binds, noisy mixed", law: latencyLaw{a: 500 * time.Millisecond, b: 0.01, noise: 0.05}, cost: mixed(1, 20),
			opts: SizerOptions{TargetLatency: 3 * time.Second}},
		{name: "MaxItems binds", law: latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, cost: uniform(100),
			opts: SizerOptions{MaxItems: 10}, wantItems: 10},
		{name: "MinItems binds", law: latencyLaw{a: time.Millisecond, b: 1e-3}, cost: uniform(100),
			// The cost cap lets 4 items of cost 100 in: more than 3·100.
			opts: SizerOptions{MinItems: 4}, wantItems: 4, wantCost: 301},
	}
	for _, tt := range tests {
		for _, seed := range []uint64{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/seed%d", tt.name, seed), func(t *testing.T) {
				s, err := NewSizer(tt.opts)
				if err != nil {
					t.Fatal(err)
				}
				run := simulate(t, s, 400, tt.cost(seed), tt.law, tt.warmup, seed)
				tail := run.maxCost[len(run.maxCost)-100:]
				got, want := float64(median(tail)), tt.law.optimum(s.o)
				if tt.wantCost > 0 {
					want = tt.wantCost
				}
				if tt.wantItems > 0 {
					if got := median(run.maxItems[len(run.maxItems)-40:]); got != tt.wantItems {
						t.Errorf("converged items cap %d, want %d", got, tt.wantItems)
					}
					if tt.wantCost == 0 {
						return
					}
				}
				tol := cmp.Or(tt.tol, 0.1)
				if math.Abs(got-want) > tol*want {
					t.Errorf("converged cost cap %v, want %.0f ±%.0f%%; caps %v", got, want, 100*tol, tail)
				}
				// The predicted latency of the converged batches stays
				// within the target (10% for noise and the last item).
				if lat := tt.law.a.Seconds() + tt.law.b*float64(median(run.cost[len(run.cost)-40:])); lat > 1.1*s.o.TargetLatency.Seconds() {
					t.Errorf("batches take %.2fs, more than the target %v", lat, s.o.TargetLatency)
				}
			})
		}
	}
}

// TestSizerGrowth checks the geometric growth before the fit: StartItems
// with no cost cap, then twice the last batch's cost each step, and less
// when doubling would pass the latency target.
func TestSizerGrowth(t *testing.T) {
	s, err := NewSizer(SizerOptions{StartItems: 2, MaxItems: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if n, c := s.Next(); n != 2 || c != 0 {
		t.Fatalf("first caps %d, %d; want 2, 0", n, c)
	}
	// Latency does not grow with cost: b ≤ 0, so keep doubling.
	var got []int64
	cost := int64(20)
	for range 6 {
		s.Record(int(cost/10), cost, time.Second)
		_, c := s.Next()
		got = append(got, c)
		cost = c
	}
	if want := []int64{40, 80, 160, 320, 640, 1280}; !slices.Equal(got, want) {
		t.Errorf("cost caps %v, want %v", got, want)
	}
	if n, _ := s.Next(); n != 128 {
		t.Errorf("items cap %d, want 128", n)
	}

	// The last batch took 20s of a 30s target: grow by 1.5× only.
	s, _ = NewSizer(SizerOptions{})
	s.Record(1, 100, time.Second) // warm-up
	s.Record(10, 1000, 20*time.Second)
	if _, c := s.Next(); c != 1500 {
		t.Errorf("cost cap %d, want 1500", c)
	}
}

// TestSizerWarmUp checks that the first batch is left out of the fit.
func TestSizerWarmUp(t *testing.T) {
	s, _ := NewSizer(SizerOptions{})
	law := func(c int64) time.Duration { return time.Duration((0.2 + 1e-3*float64(c)) * 1e9) }
	s.Record(8, 800, time.Hour) // warm-up: ignored by the fit
	s.Record(16, 1600, law(1600))
	s.Record(9, 900, law(900))
	// Fit: a = 0.2s, b = 1ms, so cost* = 200·9 = 1800.
	if n, c := s.Next(); c != 1800 || n != 18 {
		t.Errorf("caps %d, %d; want 18, 1800", n, c)
	}
}

// TestSizerOutlier checks that a single latency outlier does not move the
// fit.
func TestSizerOutlier(t *testing.T) {
	s, _ := NewSizer(SizerOptions{MaxItems: 1000})
	law := func(c int64) time.Duration { return time.Duration((0.2 + 1e-3*float64(c)) * 1e9) }
	s.Record(1, 100, time.Second)
	costs := []int64{600, 1800, 700, 1700, 800, 1600, 900, 1500, 1000, 1400, 1800, 1800}
	for i, c := range costs {
		d := law(c)
		if i == 5 {
			d += 5 * time.Second
		}
		s.Record(int(c/100), c, d)
	}
	if _, c := s.Next(); c != 1800 {
		t.Errorf("cost cap %d, want 1800", c)
	}
}

// TestSizerProbes checks the deterministic exploration: once the window
// holds one cost only, a batch at half the target keeps the fit alive.
func TestSizerProbes(t *testing.T) {
	s, _ := NewSizer(SizerOptions{Window: 8})
	run := simulate(t, s, 100, func() int64 { return 100 }, latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, 0, 1)
	var probes int
	for _, c := range run.maxCost[50:] {
		switch c {
		case 1800:
		case 900:
			probes++
		default:
			t.Fatalf("cost cap %d, want 1800 or a probe at 900: %v", c, run.maxCost)
		}
	}
	if probes == 0 || probes > 50/2 {
		t.Errorf("%d probes in 50 batches", probes)
	}
	// Deterministic: the same calls give the same caps.
	s2, _ := NewSizer(SizerOptions{Window: 8})
	if run2 := simulate(t, s2, 100, func() int64 { return 100 }, latencyLaw{a: 200 * time.Millisecond, b: 1e-3}, 0, 1); !slices.Equal(run.maxCost, run2.maxCost) {
		t.Error("two identical runs differ")
	}
}

func TestSizerOptions(t *testing.T) {
	tests := []struct {
		opts SizerOptions
		want string // a substring of the error; "" for valid options
	}{
		{SizerOptions{}, ""},
		{SizerOptions{MinItems: 3, MaxItems: 3}, ""},
		{SizerOptions{MaxItems: 4}, ""}, // StartItems defaults to 4
		{SizerOptions{MinItems: 200}, ""},
		{SizerOptions{Window: 2, FixedShare: 0.5, TargetLatency: time.Millisecond}, ""},
		{SizerOptions{MinItems: -1}, "MinItems -1 is negative"},
		{SizerOptions{MaxItems: -1}, "MaxItems -1 is negative"},
		{SizerOptions{StartItems: -1}, "StartItems -1 is negative"},
		{SizerOptions{MinItems: 5, MaxItems: 4}, "MaxItems 4 is below MinItems 5"},
		{SizerOptions{StartItems: 101}, "StartItems 101 is outside [MinItems, MaxItems] = [1, 100]"},
		{SizerOptions{MinItems: 10, StartItems: 9}, "StartItems 9 is outside"},
		{SizerOptions{TargetLatency: -time.Second}, "TargetLatency -1s is negative"},
		{SizerOptions{FixedShare: -0.1}, "FixedShare -0.1 is out of range (0, 1)"},
		{SizerOptions{FixedShare: 1}, "FixedShare 1 is out of range"},
		{SizerOptions{FixedShare: math.NaN()}, "FixedShare NaN is out of range"},
		{SizerOptions{Window: 1}, "Window 1 is too small"},
		{SizerOptions{Window: -3}, "Window -3 is too small"},
		{SizerOptions{MinItems: -1, Window: 1}, "Window 1"}, // every problem is named
	}
	for _, tt := range tests {
		s, err := NewSizer(tt.opts)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%+v: %v", tt.opts, err)
		case tt.want == "":
			if n, c := s.Next(); n < s.o.MinItems || n > s.o.MaxItems || c != 0 {
				t.Errorf("%+v: first caps %d, %d", tt.opts, n, c)
			}
		case err == nil:
			t.Errorf("%+v: no error, want %q", tt.opts, tt.want)
		case !strings.Contains(err.Error(), tt.want):
			t.Errorf("%+v: error %q, want %q", tt.opts, err, tt.want)
		}
	}
}

// TestSizerOddInputs feeds inputs a caller should not send; the Sizer
// ignores or absorbs them without panicking, and its caps stay in bounds.
func TestSizerOddInputs(t *testing.T) {
	var s Sizer // the zero value takes the defaults
	if n, c := s.Next(); n != 8 || c != 0 {
		t.Errorf("zero Sizer: caps %d, %d; want 8, 0", n, c)
	}
	inputs := []struct {
		items   int
		cost    int64
		latency time.Duration
	}{
		{0, 100, time.Second}, {-1, 100, time.Second}, {5, 100, -time.Second}, // ignored
		{5, 0, time.Second}, {5, -7, time.Second}, {1, 1, 0}, {3, math.MaxInt64, time.Second},
		{100, 1, math.MaxInt64}, {1, 10, 0}, {2, 10, 0}, {4, math.MaxInt64, math.MaxInt64},
	}
	for i, in := range inputs {
		s.Record(in.items, in.cost, in.latency)
		n, c := s.Next()
		if n < 1 || n > 100 || c < 0 || (s.seen > 0) != (c > 0) {
			t.Errorf("after input %d %+v: caps %d, %d", i, in, n, c)
		}
	}
	// Only valid batches count: the first three were ignored.
	if s.seen != len(inputs)-3 {
		t.Errorf("recorded %d batches, want %d", s.seen, len(inputs)-3)
	}
}

// TestSizerConcurrent sizes and records batches from several goroutines;
// run with -race.
func TestSizerConcurrent(t *testing.T) {
	s, _ := NewSizer(SizerOptions{})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				n, c := s.Next()
				if n < 1 || n > 100 || c < 0 {
					t.Errorf("caps %d, %d", n, c)
					return
				}
				cost := max(c, int64(n)*50)
				s.Record(n, cost, time.Duration(50+g+i%3)*time.Millisecond+time.Duration(cost)*time.Microsecond)
			}
		})
	}
	wg.Wait()
	if s.seen != 1600 {
		t.Errorf("recorded %d batches, want 1600", s.seen)
	}
}

// A Sizer sizes the batches of a backend whose batch latency is 100ms of
// fixed overhead plus 1ms per token, for requests of 50 tokens each
// (prompt + max_tokens). The cost at which the overhead is 10% of a
// batch's latency is 900 tokens: 18 requests. The first batch is a warm-up
// left out of the fit; batch 9 is a probe at half the target, which keeps
// the fit's costs varied enough to tell the overhead from the per-token
// time.
func ExampleSizer() {
	s, err := NewSizer(SizerOptions{})
	if err != nil {
		panic(err)
	}
	const perItem = 50
	for i := range 12 {
		maxItems, maxCost := s.Next()
		// The batcher adds requests until either cap is reached.
		n, cost := 0, int64(0)
		for n < maxItems && (maxCost == 0 || cost < maxCost) {
			n, cost = n+1, cost+perItem
		}
		latency := 100*time.Millisecond + time.Duration(cost)*time.Millisecond
		s.Record(n, cost, latency)
		fmt.Printf("batch %2d: caps %3d items, %4d tokens: %2d requests took %v\n", i, maxItems, maxCost, n, latency)
	}
	// Output:
	// batch  0: caps   8 items,    0 tokens:  8 requests took 500ms
	// batch  1: caps  16 items,  800 tokens: 16 requests took 900ms
	// batch  2: caps  32 items, 1600 tokens: 32 requests took 1.7s
	// batch  3: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  4: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  5: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  6: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  7: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  8: caps  18 items,  900 tokens: 18 requests took 1s
	// batch  9: caps   9 items,  450 tokens:  9 requests took 550ms
	// batch 10: caps  18 items,  900 tokens: 18 requests took 1s
	// batch 11: caps  18 items,  900 tokens: 18 requests took 1s
}
