package transforms

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// TestBundleBatcher: batches respect the item and cost caps, at most depth
// run at once, and outputs come back in input order whatever order the
// batches finish in.
func TestBundleBatcher(t *testing.T) {
	for _, tc := range []struct {
		name     string
		items    int
		maxCost  int64
		depth, n int
	}{
		{"fixed 4, depth 1", 4, 0, 1, 37},
		{"fixed 3, depth 3", 3, 0, 3, 100},
		{"cost 10, depth 2", 100, 10, 2, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			delays := make([]time.Duration, tc.n)
			for i := range delays {
				delays[i] = time.Duration(rng.IntN(2000)) * time.Microsecond
			}
			var running, most atomic.Int64
			var sizes [][]int
			work := func(_ context.Context, in []int) []int {
				r := running.Add(1)
				for m := most.Load(); r > m && !most.CompareAndSwap(m, r); m = most.Load() {
				}
				time.Sleep(delays[in[0]])
				running.Add(-1)
				return slices.Clone(in)
			}
			cost := func(i int) int64 { return int64(1 + i%4) }
			b := newBundleBatcher(func() (int, int64) { return tc.items, tc.maxCost }, cost, tc.depth, work)
			var got []int
			emit := func(out []int) { sizes = append(sizes, out); got = append(got, out...) }
			for i := range tc.n {
				b.add(context.Background(), i, emit)
			}
			b.finish(context.Background(), emit)
			want := make([]int, tc.n)
			for i := range want {
				want[i] = i
			}
			if !slices.Equal(got, want) {
				t.Fatalf("outputs %v, want input order", got)
			}
			if m := most.Load(); m > int64(tc.depth) {
				t.Errorf("%d batches ran at once, depth %d", m, tc.depth)
			}
			for _, s := range sizes {
				var c int64
				for _, i := range s {
					c += cost(i)
				}
				if len(s) > tc.items || (tc.maxCost > 0 && len(s) > 1 && c-cost(s[len(s)-1]) >= tc.maxCost) {
					t.Errorf("batch %v (cost %d) breaks the caps %d items, %d cost", s, c, tc.items, tc.maxCost)
				}
			}
		})
	}
}

// TestBundleBatcherReady: elements that need no work (rows that failed
// before the batch) come back in input order among the batched ones, even
// when the batches are slow, and runs of them longer than maxReady too.
func TestBundleBatcherReady(t *testing.T) {
	for _, n := range []int{50, 3 * maxReady} {
		work := func(_ context.Context, in []int) []int {
			time.Sleep(time.Duration((in[0]*7)%3) * time.Millisecond)
			return slices.Clone(in)
		}
		b := newBundleBatcher(fixedSize(4), nil, 2, work)
		var got []int
		emit := func(out []int) { got = append(got, out...) }
		for i := range n {
			if i%3 == 0 || (i > 10 && i < n-10) && n > 100 {
				b.addReady(context.Background(), i, emit)
			} else {
				b.add(context.Background(), i, emit)
			}
		}
		b.finish(context.Background(), emit)
		want := make([]int, n)
		for i := range want {
			want[i] = i
		}
		if !slices.Equal(got, want) {
			t.Fatalf("n=%d: outputs %v, want input order", n, got)
		}
	}
}
