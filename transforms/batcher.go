package transforms

import "context"

// bundleBatcher buffers the elements of a bundle into batches and runs each
// batch through work on a background goroutine, keeping at most depth
// batches running at once. Before each batch starts filling, limit says how
// large it may grow: at most maxItems elements and, when maxCost > 0, at
// most maxCost of cost (a batch always takes at least one element).
//
// Finished batches are handed to emit in submission order, so a bundle's
// output order depends only on its input (a retried bundle writes the same
// shards), and always on the caller's goroutine, because Beam emitters may
// only be called from the DoFn's own methods. A slow batch does not hold
// back the batches after it: they keep being submitted and run while it
// finishes, and wait, done, to be handed back (at most 4×depth batches are
// held in all).
type bundleBatcher[In, Out any] struct {
	limit func() (maxItems int, maxCost int64)
	cost  func(In) int64
	depth int
	work  func(context.Context, []In) []Out

	buf      []In
	bufCost  int64
	bufReady []readyAt[Out] // finished elements among buf's, by position
	maxItems int
	maxCost  int64

	queue   []chan []Out  // submitted batches, oldest first
	ready   map[int][]Out // finished batches not yet handed back, by position in queue+emitted
	emitted int           // batches handed back so far
	done    chan int      // the number of each batch that finishes
	running int           // batches submitted and not finished
}

// readyAt is an element that needed no work (a row that failed before it
// got to the batch), with its position in the batch's output.
type readyAt[Out any] struct {
	pos int
	out Out
}

// newBundleBatcher returns a batcher; cost may be nil (every element costs
// 0, so only maxItems bounds a batch).
func newBundleBatcher[In, Out any](limit func() (int, int64), cost func(In) int64, depth int, work func(context.Context, []In) []Out) *bundleBatcher[In, Out] {
	depth = max(depth, 1)
	return &bundleBatcher[In, Out]{limit: limit, cost: cost, depth: depth, work: work, ready: map[int][]Out{}, done: make(chan int, 4*depth+1)}
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

// addReady adds an element that needs no work, already finished as out:
// it is handed back after every element added before it and before every
// element added after it, so a bundle's output order depends only on its
// input even when some rows fail before they reach a batch. It does not
// count towards a batch's size or cost.
func (b *bundleBatcher[In, Out]) addReady(ctx context.Context, out Out, emit func([]Out)) {
	if len(b.buf) == 0 && len(b.bufReady) == 0 && len(b.queue) == 0 {
		emit([]Out{out})
		return
	}
	b.bufReady = append(b.bufReady, readyAt[Out]{pos: len(b.buf) + len(b.bufReady), out: out})
	if len(b.bufReady) >= maxReady {
		b.submit(ctx, emit)
	}
}

// maxReady bounds the finished elements held back in the batch being
// filled: with that many, it is submitted as it is.
const maxReady = 1024

// finish submits the last partial batch and hands back every batch.
func (b *bundleBatcher[In, Out]) finish(ctx context.Context, emit func([]Out)) {
	b.submit(ctx, emit)
	for len(b.queue) > 0 {
		b.wait()
		b.handBack(emit)
	}
}

func (b *bundleBatcher[In, Out]) submit(ctx context.Context, emit func([]Out)) {
	if len(b.buf) == 0 && len(b.bufReady) == 0 {
		return
	}
	items, ready := b.buf, b.bufReady
	b.buf, b.bufCost, b.bufReady = nil, 0, nil
	if len(items) == 0 {
		// Only finished elements: they wait, in order, behind the batches
		// already submitted.
		outs := make([]Out, len(ready))
		for i, r := range ready {
			outs[i] = r.out
		}
		b.ready[b.emitted+len(b.queue)] = outs
		b.queue = append(b.queue, nil)
		b.handBack(emit)
		return
	}
	// Keep at most depth batches running, and at most 4×depth held.
	for b.running >= b.depth || len(b.queue) >= 4*b.depth {
		b.wait()
		b.handBack(emit)
	}
	n := b.emitted + len(b.queue)
	out := make(chan []Out, 1)
	b.queue = append(b.queue, out)
	b.running++
	go func() {
		out <- merge(b.work(ctx, items), ready)
		b.done <- n
	}()
	b.handBack(emit)
}

// wait blocks until a running batch finishes.
func (b *bundleBatcher[In, Out]) wait() {
	if b.running == 0 {
		return
	}
	n := <-b.done
	b.running--
	b.ready[n] = <-b.queue[n-b.emitted]
}

// handBack emits the finished batches at the head of the queue, in order.
func (b *bundleBatcher[In, Out]) handBack(emit func([]Out)) {
	for {
		// Collect batches that finished without being waited for.
		select {
		case n := <-b.done:
			b.running--
			b.ready[n] = <-b.queue[n-b.emitted]
			continue
		default:
		}
		out, ok := b.ready[b.emitted]
		if !ok {
			return
		}
		delete(b.ready, b.emitted)
		b.queue = b.queue[1:]
		b.emitted++
		emit(out)
	}
}

// merge puts the finished elements of a batch back among its outputs, at
// their positions.
func merge[Out any](outs []Out, ready []readyAt[Out]) []Out {
	if len(ready) == 0 {
		return outs
	}
	all := make([]Out, 0, len(outs)+len(ready))
	for _, r := range ready {
		for len(all) < r.pos && len(outs) > 0 {
			all = append(all, outs[0])
			outs = outs[1:]
		}
		all = append(all, r.out)
	}
	return append(all, outs...)
}
