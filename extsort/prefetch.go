package extsort

import (
	"context"
	"errors"

	"golang.org/x/sync/semaphore"
)

// ReadAhead is how many inputs Prefetch fetches ahead of the one being read.
const ReadAhead = 4

// Prefetch prepares the inputs (opens them, and may decode them) side by
// side, up to ReadAhead of them and inFlight bytes of them (by size; one
// input is always admitted) ahead of the one consume is at, and hands them
// to consume in input order. release frees what was prepared but not
// consumed (after an error).
func Prefetch[I, T any](ctx context.Context, inputs []I, size func(I) int64, inFlight int64,
	prepare func(context.Context, I) (T, error), consume func(I, T) error, release func(T)) error {
	type result struct {
		v   T
		err error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// An input larger than inFlight waits until none is in flight, then
	// goes alone (its weight is clamped to the whole).
	budget := semaphore.NewWeighted(inFlight)
	weight := func(in I) int64 { return min(size(in), inFlight) }
	queue := make(chan chan result, ReadAhead)
	go func() {
		defer close(queue)
		for _, in := range inputs {
			ch := make(chan result, 1)
			if budget.Acquire(ctx, weight(in)) != nil {
				return
			}
			select {
			case queue <- ch:
			case <-ctx.Done():
				budget.Release(weight(in))
				return
			}
			go func() {
				v, err := prepare(ctx, in)
				ch <- result{v, err}
			}()
		}
	}()
	var err error
	i := 0
	for ch := range queue {
		r := <-ch
		switch {
		case err != nil:
			if r.err == nil {
				release(r.v) // draining after an error
			}
		case r.err != nil:
			err = r.err
			cancel()
		default:
			err = consume(inputs[i], r.v)
			if err != nil {
				cancel()
			}
		}
		budget.Release(weight(inputs[i]))
		i++
	}
	if err == nil && i < len(inputs) {
		err = errors.Join(ctx.Err(), errors.New("inputs not all read"))
	}
	return err
}
