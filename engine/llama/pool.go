package llama

import (
	"runtime"
	"sync"
)

// pool runs loops over index ranges on a fixed set of worker goroutines,
// the caller's goroutine taking the first share.
type pool struct {
	threads int
	work    chan func()
}

func newPool(threads int) *pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &pool{threads: threads, work: make(chan func())}
	for i := 1; i < threads; i++ {
		go func() {
			for f := range p.work {
				f()
			}
		}()
	}
	return p
}

func (p *pool) close() { close(p.work) }

// minWork is the least work (in multiply-adds) worth handing to another
// thread: below it, the hand-over costs more than it saves.
const minWork = 1 << 16

// parallel calls fn(lo, hi) over a split of [0, n) into at most p.threads
// contiguous ranges, and returns when all are done. work is the total cost
// in multiply-adds; small work runs on the calling goroutine alone. How the
// range is split never changes a result: every index is computed the same
// way whichever range it falls in.
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
	var wg sync.WaitGroup
	wg.Add(t - 1)
	for i := 1; i < t; i++ {
		lo, hi := i*n/t, (i+1)*n/t
		p.work <- func() { fn(lo, hi); wg.Done() }
	}
	fn(0, n/t)
	wg.Wait()
}
