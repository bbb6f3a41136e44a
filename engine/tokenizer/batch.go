package tokenizer

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minerva-batch/minerva/engine/batch"
)

// EncodeBatch encodes every item's text with t on up to threads goroutines
// (0 means GOMAXPROCS) and returns one response per item, in input order.
// Each response carries its own measured duration; a failed item carries its
// error and does not affect the others. Items not started when ctx is
// cancelled fail with ctx's error.
func EncodeBatch(ctx context.Context, t Tokenizer, items []batch.Item[string], threads int) []batch.Response[[]int32] {
	return run2(ctx, items, threads, t.Encode)
}

// DecodeBatch decodes every item's ids with t, like EncodeBatch.
func DecodeBatch(ctx context.Context, t Tokenizer, items []batch.Item[[]int32], threads int) []batch.Response[string] {
	return run2(ctx, items, threads, t.Decode)
}

func run2[In, Out any](ctx context.Context, items []batch.Item[In], threads int, f func(In) (Out, error)) []batch.Response[Out] {
	out := make([]batch.Response[Out], len(items))
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = min(threads, len(items))
	var nextIdx atomic.Int64
	work := func() {
		for {
			i := int(nextIdx.Add(1) - 1)
			if i >= len(items) {
				return
			}
			out[i] = do(ctx, items[i], f)
		}
	}
	if threads <= 1 {
		work()
		return out
	}
	var wg sync.WaitGroup
	for range threads {
		wg.Go(work)
	}
	wg.Wait()
	return out
}

// do runs f on one item, timing it; a panic becomes the item's error.
func do[In, Out any](ctx context.Context, it batch.Item[In], f func(In) (Out, error)) (r batch.Response[Out]) {
	r.ID = it.ID
	if err := ctx.Err(); err != nil {
		r.Err = err
		return r
	}
	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			r.Err = fmt.Errorf("internal error: %v", p)
		}
		r.Start = start
		r.Duration = time.Since(start)
	}()
	r.Data, r.Err = f(it.Data)
	return r
}
