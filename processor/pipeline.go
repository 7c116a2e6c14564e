package processor

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"
)

// decodeAhead is the most input bytes that units read but not yet handed to
// the batcher may hold at once in a parallel pipeline (a larger unit goes
// alone). With the rows decoded from them it is the pipeline's memory
// beyond its batch, BudgetDecodeAhead.
const decodeAhead = 4 << 20

// orderedDecode runs the pipeline of one source partition on several cores
// without making its output depend on scheduling: next produces units in
// input order on one goroutine (splitting a file is sequential), decoders
// goroutines decode them (decodeUnit is a pure function of the unit), and use
// receives every unit with its decoded form in input order, on the calling
// goroutine: dedup, cuts and flushes see exactly what a sequential run sees,
// so the objects are byte for byte the same at any number of cores.
//
// next returns false at the end of the input. The first error of next or
// use stops the pipeline and is returned.
func orderedDecode(ctx context.Context, decoders int, maxUnitBytes int64, next func() (unit, bool, error), use func(*unit, *decoded) error) error {
	if decoders <= 1 {
		k, d := newKeyer(), &decoded{}
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			u, ok, err := next()
			if err != nil || !ok {
				return err
			}
			decodeUnit(&u, maxUnitBytes, k, d)
			if err := use(&u, d); err != nil {
				return err
			}
		}
	}
	type job struct {
		u    unit
		d    decoded
		done chan struct{}
	}
	g, ctx := errgroup.WithContext(ctx)
	work := make(chan *job, 4*decoders)
	order := make(chan *job, 4*decoders)
	ahead := newByteBudget(decodeAhead)
	g.Go(func() error {
		defer close(work)
		defer close(order)
		for {
			u, ok, err := next()
			if err != nil || !ok {
				return err
			}
			if err := ahead.acquire(ctx, int64(len(u.Data))); err != nil {
				return err
			}
			j := &job{u: u, done: make(chan struct{})}
			select {
			case order <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
			select {
			case work <- j:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	})
	for range decoders {
		g.Go(func() error {
			k := newKeyer()
			for j := range work {
				decodeUnit(&j.u, maxUnitBytes, k, &j.d)
				close(j.done)
			}
			return nil
		})
	}
	g.Go(func() error {
		for j := range order {
			select {
			case <-j.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			err := use(&j.u, &j.d)
			ahead.release(int64(len(j.u.Data)))
			if err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}

// byteBudget bounds the bytes in flight; one request larger than the whole
// budget is let through alone.
type byteBudget struct {
	mu    sync.Mutex
	cond  *sync.Cond
	max   int64
	inUse int64
}

func newByteBudget(max int64) *byteBudget {
	b := &byteBudget{max: max}
	b.cond = sync.NewCond(&b.mu)
	return b
}

var errBudgetCancelled = errors.New("cancelled while waiting for the decode budget")

func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	stop := context.AfterFunc(ctx, func() {
		b.mu.Lock()
		b.cond.Broadcast()
		b.mu.Unlock()
	})
	defer stop()
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.inUse > 0 && b.inUse+n > b.max {
		if ctx.Err() != nil {
			return errBudgetCancelled
		}
		b.cond.Wait()
	}
	b.inUse += n
	return nil
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.inUse -= n
	b.cond.Broadcast()
	b.mu.Unlock()
}
