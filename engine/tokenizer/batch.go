package tokenizer

import (
	"context"
	"fmt"
	"runtime"
	"slices"
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
//
// With a *BPE each worker encodes into its own scratch buffer and copies the
// ids out into a slice of exactly their number, so that the results hold no
// spare capacity and the buffer's growth is paid once per worker.
func EncodeBatch(ctx context.Context, t Tokenizer, items []batch.Item[string], threads int) []batch.Response[[]int32] {
	if b, ok := t.(*BPE); ok {
		return runBatch(ctx, items, threads, textSize, func() func(string) ([]int32, error) {
			var scratch []int32
			return func(text string) ([]int32, error) {
				ids, err := b.appendEncode(scratch[:0], text)
				if err != nil {
					return nil, err
				}
				scratch = ids
				return append(make([]int32, 0, len(ids)), ids...), nil
			}
		})
	}
	return runBatch(ctx, items, threads, textSize, func() func(string) ([]int32, error) { return t.Encode })
}

// DecodeBatch decodes every item's ids with t, like EncodeBatch.
func DecodeBatch(ctx context.Context, t Tokenizer, items []batch.Item[[]int32], threads int) []batch.Response[string] {
	return runBatch(ctx, items, threads, func(ids []int32) int { return len(ids) }, func() func([]int32) (string, error) { return t.Decode })
}

// batchCounter is the index of the next unclaimed item, alone on its cache
// line so that claiming does not slow down other data.
type batchCounter struct {
	_    [64]byte
	next atomic.Int64
	_    [56]byte
}

// textSize is the cost of encoding a text, roughly.
func textSize(text string) int { return len(text) }

// runBatch runs the function that newWorker returns once per worker over
// items on up to threads goroutines (the caller's among them). Workers claim
// chunks of consecutive items with an atomic counter; a chunk holds about a
// quarter of a worker's share of the work left, measured by size (guided
// scheduling weighted by item size), so that claims are rare while much
// work remains and the workers finish together however the sizes vary.
func runBatch[In, Out any](ctx context.Context, items []batch.Item[In], threads int, size func(In) int, newWorker func() func(In) (Out, error)) []batch.Response[Out] {
	out := make([]batch.Response[Out], len(items))
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	threads = max(min(threads, len(items)), 1)
	n := len(items)
	if threads == 1 {
		f := newWorker()
		for i := range items {
			out[i] = do(ctx, items[i], f)
		}
		return out
	}
	// upTo[i] is the size of items[:i], each item counting at least 1.
	upTo := make([]int, n+1)
	for i, it := range items {
		upTo[i+1] = upTo[i] + max(size(it.Data), 1)
	}
	var c batchCounter
	work := func() {
		f := newWorker()
		for {
			start := int(c.next.Load())
			if start >= n {
				return
			}
			// The chunk ends at the first item that brings it to its target.
			target := upTo[start] + max((upTo[n]-upTo[start])/(4*threads), 1)
			end, _ := slices.BinarySearch(upTo[start+1:], target)
			end = min(start+1+end, n)
			if !c.next.CompareAndSwap(int64(start), int64(end)) {
				continue
			}
			for i := start; i < end; i++ {
				out[i] = do(ctx, items[i], f)
			}
		}
	}
	var wg sync.WaitGroup
	for range threads - 1 {
		wg.Go(work)
	}
	work()
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
