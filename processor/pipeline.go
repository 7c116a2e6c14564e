package processor

import (
	"context"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
)

// decodeAhead is the most input bytes that units read but not yet handed to
// the batcher may hold at once in a parallel pipeline (a larger unit goes
// alone). With the rows decoded from them it is the pipeline's memory
// beyond its batch, counted in BudgetBatchFixed.
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
	// At most decodeAhead bytes of units in flight; a larger unit waits
	// until none is, then goes alone (its weight is clamped to the whole).
	ahead := semaphore.NewWeighted(decodeAhead)
	weight := func(u *unit) int64 { return min(int64(len(u.Data)), decodeAhead) }
	g.Go(func() error {
		defer close(work)
		defer close(order)
		for {
			u, ok, err := next()
			if err != nil || !ok {
				return err
			}
			if err := ahead.Acquire(ctx, weight(&u)); err != nil {
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
			ahead.Release(weight(&j.u))
			if err != nil {
				return err
			}
		}
		return nil
	})
	return g.Wait()
}
