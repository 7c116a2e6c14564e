package compact

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// graceLake records, for every absorbed name, when its marker's writes
// began, and checks every delete of a table object against it: an object
// whose name has a marker may go only once the marker is at least grace
// old (a marker is written after the outputs that hold its rows are
// committed, so this is at least grace after they appeared); one without a
// marker only if it is a compacted object (a rolled-back run's output,
// whose rows are still in its inputs).
type graceLake struct {
	objstore.Lake
	grace time.Duration

	mu         sync.Mutex
	markers    map[string]time.Time // table key → when its marker's last write began
	deletes    int
	violations []string
}

func newGraceLake(lk objstore.Lake, grace time.Duration) *graceLake {
	return &graceLake{Lake: lk, grace: grace, markers: map[string]time.Time{}}
}

const absorbedPrefix = layout.MetaPrefix + "absorbed/"

func (l *graceLake) Create(ctx context.Context, key string) (objstore.ObjectWriter, error) {
	if name, ok := strings.CutPrefix(key, absorbedPrefix); ok {
		l.mu.Lock()
		l.markers[name] = time.Now()
		l.mu.Unlock()
	}
	return l.Lake.Create(ctx, key)
}

func (l *graceLake) Delete(ctx context.Context, key string) error {
	if !strings.HasPrefix(key, layout.MetaPrefix) {
		now := time.Now()
		l.mu.Lock()
		l.deletes++
		marker, ok := l.markers[key]
		k, _ := layout.ParseKey(key)
		_, _, compacted := layout.ParseCompactedName(k.Name)
		switch {
		case !ok && !compacted:
			l.violations = append(l.violations, fmt.Sprintf("%s deleted without a marker", key))
		case ok && now.Sub(marker) < l.grace:
			l.violations = append(l.violations, fmt.Sprintf("%s deleted %s after its marker, within the grace of %s", key, now.Sub(marker).Round(time.Millisecond), l.grace))
		}
		l.mu.Unlock()
	}
	return l.Lake.Delete(ctx, key)
}

func (l *graceLake) check(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, v := range l.violations {
		t.Error(v)
	}
	if l.deletes == 0 {
		t.Error("nothing was deleted")
	}
}

// TestCompactDeleteGrace: whoever deletes an absorbed name keeps the grace —
// the run that replaced it; a run that visits the partition right after one
// that was killed between its commit and its deletes; a run that finishes
// one killed before it was done; runs side by side, each visiting
// partitions the other just compacted — and the lake ends with every row
// once, in compacted objects only.
func TestCompactDeleteGrace(t *testing.T) {
	t.Parallel()
	const grace = 1500 * time.Millisecond
	src := corpus(t, 800, 4, past, 0)
	opts := Options{TargetSize: 64 << 10, DeleteGrace: grace}
	crashAt := func(lk objstore.Lake, o Options) {
		defer func() {
			if r := recover(); r != errCrash {
				panic(r)
			}
		}()
		_, _ = Run(context.Background(), lk, o)
		panic("the run was not killed")
	}
	for _, tc := range []struct {
		name string
		// first runs before the compaction whose deletes are checked.
		first     func(t *testing.T, lk objstore.Lake)
		second    bool
		reappears bool // the second run must find absorbed names young
	}{
		{name: "the replacing run", first: func(*testing.T, objstore.Lake) {}, second: true},
		{name: "after a run killed before its deletes", second: true, reappears: true, first: func(t *testing.T, lk objstore.Lake) {
			// Killed after its first partition: committed, markers
			// written, done, its deletes still waiting for the grace.
			o := opts
			o.Progress = func(done, total int) { panic(errCrash) }
			crashAt(lk, o)
		}},
		{name: "recovering a run killed before it was done", second: true, first: func(t *testing.T, lk objstore.Lake) {
			o := opts
			o.CrashHook = func(p string) {
				if p == "before-done" {
					panic(errCrash)
				}
			}
			crashAt(lk, o)
		}},
		{name: "two runs at once", first: func(t *testing.T, lk objstore.Lake) {
			var wg sync.WaitGroup
			for range 2 {
				wg.Go(func() {
					if _, err := Run(context.Background(), lk, opts); err != nil {
						t.Error(err)
					}
				})
			}
			wg.Wait()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "lake")
			dir := backfill(t, root, src, 10, nil)
			db := lakecheck.Open(t)
			before := lakecheck.LakeDigest(t, db, root)
			lk := newGraceLake(dir, grace)
			tc.first(t, lk)
			if tc.second {
				sum := run(t, lk, opts)
				if tc.reappears && sum.Reappeared == 0 {
					t.Errorf("the second run found no absorbed name left by the first: %+v", sum)
				}
			}
			lk.check(t)
			if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
				t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
			}
			onlyCompacted(t, root)
		})
	}
}

// TestCompactKilledBeforeItsDeletesTwice: in a partition that is still
// filling, a run absorbs the compacted object of an earlier run and is
// killed before its deletes; the next visit, killed too before the grace is
// over, must not forget the earlier run's manifest while its output is still
// there (it would then look like an object no manifest names, kept for
// ever); the run after that removes it, and the partition ends as one
// object with every row once.
func TestCompactKilledBeforeItsDeletesTwice(t *testing.T) {
	t.Parallel()
	const grace = 1500 * time.Millisecond
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	root := filepath.Join(t.TempDir(), "lake")
	dir := backfill(t, root, corpus(t, 200, 1, tomorrow, 0), 20, nil)
	run(t, dir, Options{Tables: []string{"findings"}})
	cfg := gen.DefaultConfig()
	cfg.Seed, cfg.Bytes, cfg.Events, cfg.Days, cfg.End = 7, 0, 150, 1, tomorrow
	more := filepath.Join(t.TempDir(), "more")
	if _, err := gen.WriteDir(context.Background(), more, cfg, gen.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	backfill(t, root, more, 20, nil)
	db := lakecheck.Open(t)
	before := lakecheck.LakeDigest(t, db, root)
	lk := newGraceLake(dir, grace)
	opts := Options{Tables: []string{"findings"}, DeleteGrace: grace}
	unrecognised := 0
	for range 2 {
		killed := func() (killed bool) {
			defer func() { killed = recover() == errCrash }()
			o := opts
			o.Progress = func(int, int) { panic(errCrash) }
			sum, _ := Run(context.Background(), lk, o)
			unrecognised += sum.Unrecognised
			return false
		}()
		if !killed {
			t.Fatal("the run was not killed")
		}
	}
	sum := run(t, lk, opts)
	if unrecognised+sum.Unrecognised != 0 || sum.Reappeared == 0 {
		t.Errorf("the last run: %+v (unrecognised objects before: %d)", sum, unrecognised)
	}
	lk.check(t)
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}
	for part, names := range objects(t, root) {
		if strings.HasPrefix(part, "findings/") && len(names) != 1 {
			t.Errorf("%s holds %v, want one compacted object", part, names)
		}
	}
}
