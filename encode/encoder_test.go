package encode

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// TestEncoderSkipsAbsorbedObjects: an object whose name a compaction
// absorbed is not written again, on either store, and is counted.
func TestEncoderSkipsAbsorbedObjects(t *testing.T) {
	t.Parallel()
	for name, lk := range laketest.Lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var counts AbsorbedCounts
			enc := New(lk, Options{Absorbed: &counts})
			rows := []schema.Finding{{ID: "i", ProductARN: "p"}}
			key, _ := layout.ObjectKey("findings", "2024-01-02", "batch-1")
			marker, _ := layout.AbsorbedKey(key)
			laketest.Put(t, lk, marker, []byte("{}"))
			if n, err := WriteTable(ctx, enc, schema.Findings, "2024-01-02", "batch-1", rows); err != nil || n != 0 {
				t.Fatalf("WriteFindings of an absorbed name = %d, %v", n, err)
			}
			if _, err := enc.WriteDeadLetters(ctx, "2024-01-02", "batch-1", []schema.DeadLetter{{Reason: "r"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := lk.Stat(ctx, key); !errors.Is(err, objstore.ErrNotExist) {
				t.Errorf("the absorbed object was written: %v", err)
			}
			if n, err := WriteTable(ctx, enc, schema.Findings, "2024-01-02", "batch-2", rows); err != nil || n == 0 {
				t.Fatalf("WriteFindings of another name = %d, %v", n, err)
			}
			if counts.Skipped.Load() != 1 || counts.Removed.Load() != 0 {
				t.Errorf("counts: skipped %d, removed %d; want 1, 0", counts.Skipped.Load(), counts.Removed.Load())
			}
		})
	}
}

// raceStore writes a marker for every object between the writer's first
// check and its commit, as a compaction that ran meanwhile would; with
// markerAge, the markers read as that much older than they are.
type raceStore struct {
	objstore.Lake
	markerAge time.Duration
}

func (r raceStore) Create(ctx context.Context, key string) (objstore.ObjectWriter, error) {
	w, err := r.Lake.Create(ctx, key)
	if err != nil || strings.HasPrefix(key, layout.MetaPrefix) {
		return w, err
	}
	marker, _ := layout.AbsorbedKey(key)
	if err := laketest.WriteObject(ctx, r.Lake, marker, []byte("{}")); err != nil {
		return nil, err
	}
	return w, nil
}

func (r raceStore) Stat(ctx context.Context, key string) (objstore.ObjectInfo, error) {
	info, err := r.Lake.Stat(ctx, key)
	if strings.HasPrefix(key, layout.MetaPrefix+"absorbed/") {
		info.Modified = info.Modified.Add(-r.markerAge)
	}
	return info, err
}

// TestEncoderKeepsTheGraceOfObjectsAbsorbedMeanwhile: a compaction that
// absorbs a name between a writer's check and its commit (it listed the
// partition before the object was there) has a reader's listing to protect
// for its delete grace: the writer's second check finds the young marker and
// leaves the object to compaction (counted), it does not delete it. Once the
// marker is older than MaxDeleteGrace, the bound of every compaction's grace,
// the writer removes the object itself.
func TestEncoderKeepsTheGraceOfObjectsAbsorbedMeanwhile(t *testing.T) {
	t.Parallel()
	for name, lk := range laketest.Lakes(t) {
		for _, age := range []time.Duration{0, MaxDeleteGrace - time.Minute, MaxDeleteGrace + time.Second} {
			t.Run(fmt.Sprintf("%s/marker %s old", name, age), func(t *testing.T) {
				ctx := context.Background()
				var counts AbsorbedCounts
				enc := New(raceStore{Lake: lk, markerAge: age}, Options{Absorbed: &counts})
				batch := fmt.Sprintf("batch-%d", age)
				if _, err := WriteTable(ctx, enc, schema.Findings, "2024-01-02", batch, []schema.Finding{{ID: "i", ProductARN: "p"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := enc.WriteDeadLetters(ctx, "2024-01-02", batch, []schema.DeadLetter{{Reason: "r"}}); err != nil {
					t.Fatal(err)
				}
				removed := age > MaxDeleteGrace
				for _, table := range []string{"findings", "dead_letters"} {
					key, _ := layout.ObjectKey(table, "2024-01-02", batch)
					_, err := lk.Stat(ctx, key)
					if removed && !errors.Is(err, objstore.ErrNotExist) {
						t.Errorf("%s is still there: %v", key, err)
					}
					if !removed && err != nil {
						t.Errorf("%s was removed before its marker was %s old: %v", key, MaxDeleteGrace, err)
					}
				}
				wantRemoved, wantLeft := int64(0), int64(2)
				if removed {
					wantRemoved, wantLeft = 2, 0
				}
				if counts.Removed.Load() != wantRemoved || counts.Left.Load() != wantLeft {
					t.Errorf("removed %d, left %d; want %d, %d", counts.Removed.Load(), counts.Left.Load(), wantRemoved, wantLeft)
				}
			})
		}
	}
}
