package transforms

import "context"

// bundleBatcher buffers the elements of a bundle into batches and runs each
// batch through work on a background goroutine, keeping at most depth
// batches in flight. Before each batch starts filling, limit says how large
// it may grow: at most maxItems elements and, when maxCost > 0, at most
// maxCost of cost (a batch always takes at least one element). Finished
// batches are handed to emit in the order they finish, so one slow batch does
// not hold back the others, and always on the caller's goroutine, because
// Beam emitters may only be called from the DoFn's own methods.
type bundleBatcher[In, Out any] struct {
	limit func() (maxItems int, maxCost int64)
	cost  func(In) int64
	depth int
	work  func(context.Context, []In) []Out

	buf      []In
	bufCost  int64
	maxItems int
	maxCost  int64
	done     chan []Out
	inFlight int
}

// newBundleBatcher returns a batcher; cost may be nil (every element costs
// 0, so only maxItems bounds a batch).
func newBundleBatcher[In, Out any](limit func() (int, int64), cost func(In) int64, depth int, work func(context.Context, []In) []Out) *bundleBatcher[In, Out] {
	return &bundleBatcher[In, Out]{limit: limit, cost: cost, depth: max(depth, 1), work: work, done: make(chan []Out, max(depth, 1)+1)}
}

// fixedSize is a limit of n elements a batch.
func fixedSize(n int) func() (int, int64) { return func() (int, int64) { return n, 0 } }

// add buffers one element, submitting the batch when it is full.
func (b *bundleBatcher[In, Out]) add(ctx context.Context, in In, emit func([]Out)) {
	var c int64
	if b.cost != nil {
		c = b.cost(in)
	}
	if len(b.buf) > 0 && b.maxCost > 0 && b.bufCost+c > b.maxCost {
		b.submit(ctx, emit)
	}
	if len(b.buf) == 0 {
		b.maxItems, b.maxCost = b.limit()
	}
	b.buf = append(b.buf, in)
	b.bufCost += c
	if len(b.buf) >= b.maxItems || (b.maxCost > 0 && b.bufCost >= b.maxCost) {
		b.submit(ctx, emit)
	}
}

// finish submits the last partial batch and waits for every batch in flight.
func (b *bundleBatcher[In, Out]) finish(ctx context.Context, emit func([]Out)) {
	b.submit(ctx, emit)
	for b.inFlight > 0 {
		emit(<-b.done)
		b.inFlight--
	}
}

func (b *bundleBatcher[In, Out]) submit(ctx context.Context, emit func([]Out)) {
	if len(b.buf) == 0 {
		return
	}
	items := b.buf
	b.buf, b.bufCost = nil, 0
	b.inFlight++
	go func() { b.done <- b.work(ctx, items) }()
	for b.inFlight > b.depth {
		emit(<-b.done)
		b.inFlight--
	}
	// Hand back whatever has already finished, without waiting.
	for b.inFlight > 0 {
		select {
		case out := <-b.done:
			b.inFlight--
			emit(out)
		default:
			return
		}
	}
}
