package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"

	"github.com/hublake/hublake/schema"
)

// decodeAhead is the most input bytes that units read but not yet handed to
// the batcher may hold at once in a parallel pipeline (a larger unit goes
// alone). With the rows decoded from them it is the pipeline's memory
// beyond its batch, counted in BudgetBatchFixed.
const decodeAhead = 4 << 20

// A Producer yields a source partition's units in input order (see
// Batcher.Feed): it calls yield with each, and returns yield's error as soon
// as yield returns one, or its own (a read error), or nil at the end of its
// input. It must check its context between units: yield does not.
type Producer func(yield func(Unit) error) error

// Feed runs every unit produce yields through the batcher, decoding them on
// decoders goroutines (1: on the caller's) in input order (orderedDecode):
// the batches and objects are the same at any number of decoders. It
// returns the first error of produce or of a flush.
func (b *Batcher) Feed(ctx context.Context, decoders int, produce Producer) error {
	return orderedDecode(ctx, decoders, b.policy.MaxUnitBytes, produce, func(u *Unit, d *decoded) error {
		return b.addDecoded(ctx, u, d)
	})
}

// orderedDecode runs the pipeline of one source partition on several cores
// without making its output depend on scheduling: produce yields units in
// input order on one goroutine (splitting a file is sequential), decoders
// goroutines decode them (decodeUnit is a pure function of the unit), and use
// receives every unit with its decoded form in input order, on the calling
// goroutine: dedup, cuts and flushes see exactly what a sequential run sees,
// so the objects are byte for byte the same at any number of cores.
//
// produce yields the units, in input order, until the end of the input;
// yield returns an error when the pipeline stops (produce must then return
// it). The first error of produce or use stops the pipeline and is
// returned.
func orderedDecode(ctx context.Context, decoders int, maxUnitBytes int64, produce Producer, use func(*Unit, *decoded) error) error {
	if decoders <= 1 {
		k, d := schema.NewKeyer(), &decoded{}
		return produce(func(u Unit) error {
			decodeUnit(&u, maxUnitBytes, k, d)
			return use(&u, d)
		})
	}
	type job struct {
		u    Unit
		d    decoded
		done chan struct{}
	}
	g, ctx := errgroup.WithContext(ctx)
	work := make(chan *job, 4*decoders)
	order := make(chan *job, 4*decoders)
	// At most decodeAhead bytes of units in flight; a larger unit waits
	// until none is, then goes alone (its weight is clamped to the whole).
	ahead := semaphore.NewWeighted(decodeAhead)
	weight := func(u *Unit) int64 { return min(int64(len(u.Data)), decodeAhead) }
	g.Go(func() error {
		defer close(work)
		defer close(order)
		return produce(func(u Unit) error {
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
			return nil
		})
	})
	for range decoders {
		g.Go(func() error {
			k := schema.NewKeyer()
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
