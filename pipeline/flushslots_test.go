package pipeline

import (
	"context"
	"errors"
	"testing"
)

// TestWriteObjectsReturnsItsSlots: a flush whose first write fails stops
// the others and gives back every flush slot it took, whatever the
// scheduling, so that the inputs after it (they share the slots) can still
// flush. A slot kept by a failed flush would stall every later flush once
// all of them are kept.
func TestWriteObjectsReturnsItsSlots(t *testing.T) {
	const slots = 2
	b := &Batcher{slots: NewFlushSlots(slots), stats: &Stats{}, crash: func(string) {}}
	failed := errors.New("the store refused the object")
	for i := range 200 {
		writes := []objectWrite{func(context.Context) (int64, error) { return 0, failed }}
		for range 6 {
			writes = append(writes, func(ctx context.Context) (int64, error) { return 1, ctx.Err() })
		}
		if _, _, err := b.writeObjects(context.Background(), writes); !errors.Is(err, failed) {
			t.Fatalf("flush %d: err = %v, want the write's", i, err)
		}
		// The writes stopped by the failure are not the store's errors.
		if n := b.stats.StoreErrors.Load(); n != int64(i+1) {
			t.Fatalf("after flush %d: %d store errors counted, want %d", i, n, i+1)
		}
		if !b.slots.TryAcquire(slots) {
			t.Fatalf("flush %d kept a slot after it failed", i)
		}
		b.slots.Release(slots)
	}
}
