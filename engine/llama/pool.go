package llama

import (
	"runtime"
	"sync/atomic"
)

// pool runs loops over index ranges on a fixed set of worker goroutines,
// the caller's goroutine taking the first share.
//
// Between tasks a worker spins for a while before it parks, as OpenMP's
// threads do: a forward pass hands out a task every few microseconds, and
// a parked goroutine whose core was taken by another process meanwhile
// waits a scheduler quantum to get it back (measured: two threads no
// faster than one on a busy 2-core machine without spinning).
type pool struct {
	threads int
	workers []*worker
}

type worker struct {
	task   atomic.Pointer[func()]
	parked atomic.Bool
	stop   atomic.Bool
	wake   chan struct{}
	_      [64]byte // keep workers on their own cache lines
}

// spinIters is how many times an idle worker polls for a task, with a PAUSE
// between polls (some 50–100 µs in all), before it parks. The PAUSE matters
// where the two threads of a core are the two CPUs: a tight spin would take
// half the core from the thread doing the work.
const spinIters = 2048

func newPool(threads int) *pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &pool{threads: threads}
	for i := 1; i < threads; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go w.run()
	}
	return p
}

func (w *worker) run() {
	for {
		for i := 0; i < spinIters; i++ {
			// Poll with a plain load: a swap would take the cache line
			// from the submitting core on every turn.
			if w.task.Load() != nil {
				(*w.task.Swap(nil))()
				i = 0
			}
			if w.stop.Load() {
				return
			}
			cpuPause()
		}
		w.parked.Store(true)
		if t := w.task.Swap(nil); t != nil {
			w.parked.Store(false)
			(*t)()
			continue
		}
		<-w.wake
		w.parked.Store(false)
	}
}

func (w *worker) submit(f func()) {
	w.task.Store(&f)
	if w.parked.Load() {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

func (p *pool) close() {
	for _, w := range p.workers {
		w.stop.Store(true)
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

// minWork is the least work (in multiply-adds) worth handing to another
// thread: below it, the hand-over costs more than it saves.
const minWork = 1 << 13

// parallel calls fn(lo, hi) over a split of [0, n) into at most p.threads
// contiguous ranges, and returns when all are done. work is the total cost
// in multiply-adds; small work runs on the calling goroutine alone. How the
// range is split never changes a result: every index is computed the same
// way whichever range it falls in. parallel is not reentrant: one caller at
// a time.
func (p *pool) parallel(n int, work int64, fn func(lo, hi int)) {
	t := p.threads
	if int64(t) > work/minWork {
		t = int(work / minWork)
	}
	t = min(t, n)
	if t <= 1 {
		fn(0, n)
		return
	}
	// The caller waits for the workers by spinning too: parking it on a
	// WaitGroup costs a futex wake-up per region, tens of µs, where a
	// forward pass has dozens of regions of a few hundred µs each.
	var left atomic.Int32
	left.Store(int32(t - 1))
	for i := 1; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		p.workers[i-1].submit(func() { fn(lo, hi); left.Add(-1) })
	}
	fn(0, n/t)
	for spins := 0; left.Load() != 0; spins++ {
		if spins < spinIters {
			cpuPause()
		} else {
			runtime.Gosched() // a worker lost its thread: let it run
		}
	}
}
