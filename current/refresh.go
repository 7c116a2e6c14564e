package current

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parquet-go/parquet-go"
	"golang.org/x/sync/errgroup"

	"github.com/hublake/hublake/compact"
	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// refresher refreshes one table's current table.
type refresher struct {
	lake objstore.Lake
	opts Options
	t    schema.AnyTable
	log  *slog.Logger
	sum  TableSummary
	ctx  context.Context

	manifests []*manifest
	committed *manifest // the latest committed or done refresh, nil for none
}

func (r *refresher) run(ctx context.Context) error {
	r.ctx = ctx
	asOf := r.opts.Now().UTC().Truncate(time.Second)
	// Read only, without the lock: is there anything to do?
	if err := r.readManifests(); err != nil {
		return err
	}
	history, err := r.listHistory()
	if err != nil {
		return err
	}
	if !r.unfinished() && r.committed != nil {
		leftovers, misled, err := r.untidy()
		if err != nil {
			return err
		}
		if !leftovers && !misled && !r.stale(history, asOf) {
			r.upToDate(asOf)
			return nil
		}
	}

	lockKey, err := layout.CurrentLockKey(r.t.Name())
	if err != nil {
		return err
	}
	lock, err := r.lake.TryLock(ctx, lockKey, r.opts.Holder, r.opts.LockTTL)
	if errors.Is(err, objstore.ErrLocked) {
		r.sum.Outcome = Locked
		r.log.Warn("refresh skipped: another refresh holds the table's lock", "lock", err.Error())
		r.fillCommitted()
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	f := objstore.NewFence(ctx, lock, r.opts.LockTTL, r.log)
	defer f.Release()
	r.ctx = f.Ctx()

	// Under the lock: recover what a crash interrupted, then refresh.
	if err := r.readManifests(); err != nil {
		return err
	}
	if err := r.recover(f); err != nil {
		return err
	}
	if !r.stale(history, asOf) {
		// Up to date, but something is left under the table (an upload of
		// a rolled-back refresh that landed later, a dead writer's
		// temporary file): clear it as a refresh's end would.
		if r.committed != nil {
			leftovers, misled, err := r.untidy()
			if err != nil {
				return err
			}
			if misled {
				r.log.Warn("the symlink manifest does not list the committed snapshot (a write held up on the way that landed late?); writing it again", "snapshot", r.committed.ID)
			}
			if leftovers || misled {
				if err := r.finish(f, r.committed, time.Time{}); err != nil {
					return err
				}
			}
		}
		r.upToDate(asOf)
		return nil
	}
	return r.refresh(f, history, asOf)
}

// untidy reports what a run with nothing new must still do for the
// committed snapshot: objects left under the table to clear (leftovers),
// and a symlink manifest that does not list it (misled) to write again.
func (r *refresher) untidy() (leftovers, misled bool, err error) {
	garbage, err := r.garbage(r.committed)
	if err != nil {
		return false, false, err
	}
	misled, err = r.symlinkStale(r.committed)
	return len(garbage) > 0, misled, err
}

// upToDate records a run that found nothing to do.
func (r *refresher) upToDate(asOf time.Time) {
	if r.sum.Outcome == "" {
		r.sum.Outcome = UpToDate
	}
	r.fillCommitted()
	r.sum.Fresh = asOf
}

func (r *refresher) fillCommitted() {
	if m := r.committed; m != nil {
		r.sum.Snapshot, r.sum.Rows, r.sum.Committed = m.ID, m.Rows, m.Committed
		if r.sum.Fresh.IsZero() {
			r.sum.Fresh = m.AsOf
		}
	}
}

// readManifests reads the table's refresh manifests and finds the
// committed one. A manifest that does not describe a refresh of this table
// stops the run: acting on it could touch what it names, and skipping it
// could lose a refresh to recover.
func (r *refresher) readManifests() error {
	r.manifests, r.committed = nil, nil
	for o, err := range r.lake.List(r.ctx, layout.RefreshPrefix(r.t.Name())) {
		if err != nil {
			return fmt.Errorf("list refresh manifests: %w", err)
		}
		if _, ok := layout.ParseRefreshKey(r.t.Name(), o.Key); !ok || o.Irregular {
			if strings.Contains(path.Base(o.Key), layout.TempInfix) {
				continue // a directory store's write in the making, or a dead one's
			}
			return fmt.Errorf("refusing to act on the table: %q is not a refresh manifest", o.Key)
		}
		m, err := readManifest(r.ctx, r.lake, o.Key, r.t.Name())
		if errors.Is(err, objstore.ErrNotExist) {
			// Deleted since the listing: by the refresh holding the lock
			// (only a lock holder deletes manifests), which this run will
			// find holding it.
			continue
		}
		if err != nil {
			return fmt.Errorf("refusing to act on the table: %w", err)
		}
		r.manifests = append(r.manifests, m)
		if m.State != statePending && (r.committed == nil || m.Committed.After(r.committed.Committed)) {
			r.committed = m
		}
	}
	return nil
}

// unfinished reports whether a refresh was interrupted: a pending one, or
// the committed one not done.
func (r *refresher) unfinished() bool {
	for _, m := range r.manifests {
		if m.State == statePending {
			return true
		}
	}
	return r.committed != nil && r.committed.State != stateDone
}

// partition is one history partition as listed.
type partition struct {
	objects map[string]objstore.ObjectInfo // by key
}

// listHistory lists the history table once (a page per 1,000 objects):
// its objects by partition. Anything that is not an object of the table
// (a directory store's temporary file, a stranger) is left out.
func (r *refresher) listHistory() (map[string]*partition, error) {
	out := map[string]*partition{}
	for o, err := range r.lake.List(r.ctx, r.t.Name()+"/") {
		if err != nil {
			return nil, fmt.Errorf("list table %s: %w", r.t.Name(), err)
		}
		k, err := layout.ParseKey(o.Key)
		if err != nil || o.Irregular || k.Table != r.t.Name() {
			continue
		}
		p := out[k.Date]
		if p == nil {
			p = &partition{objects: map[string]objstore.ObjectInfo{}}
			out[k.Date] = p
		}
		p.objects[o.Key] = o
	}
	return out, nil
}

// stale reports whether the committed snapshot must be replaced: there is
// none, the history has objects it has not read, a row it keeps has
// expired, or it was written with other settings.
func (r *refresher) stale(history map[string]*partition, asOf time.Time) bool {
	m := r.committed
	if m == nil || m.Settings != r.opts.settings() {
		return true
	}
	if !m.NextExpiry.IsZero() && !asOf.Before(m.NextExpiry) {
		return true
	}
	folded := m.folded()
	for _, p := range history {
		for key, o := range p.objects {
			if etag, ok := folded[key]; !ok || etag != o.ETag {
				return true
			}
		}
	}
	return false
}

// garbage lists what is under the current table besides m's snapshot and
// the symlink manifest: objects of replaced or rolled-back snapshots, and
// directories holding a directory store's temporary files.
func (r *refresher) garbage(m *manifest) (keys []objstore.ObjectInfo, err error) {
	keep := map[string]bool{}
	if m != nil {
		for _, o := range m.Objects {
			keep[o.Key] = true
		}
	}
	symlink, err := layout.SymlinkManifestKey(r.t.Name())
	if err != nil {
		return nil, err
	}
	keep[symlink] = true
	for o, err := range r.lake.List(r.ctx, layout.CurrentPrefix(r.t.Name())) {
		if err != nil {
			return nil, fmt.Errorf("list the current table: %w", err)
		}
		switch {
		case keep[o.Key]:
		case !o.Irregular && layout.CheckKey(o.Key) == nil, !o.Irregular && layout.IsTempName(path.Base(o.Key)):
			keys = append(keys, o)
		default:
			// A stranger: never read, never deleted, and no reason to take
			// the lock.
			r.log.Warn("unrecognised object under the current table kept (never read or deleted)", "key", fmt.Sprintf("%q", o.Key))
		}
	}
	return keys, nil
}

// recover rolls back every pending refresh and finishes the committed one
// if it is not done (the lock is held: nothing races these steps).
func (r *refresher) recover(f *objstore.Fence) error {
	for _, m := range r.manifests {
		if m.State != statePending {
			continue
		}
		if err := f.Check(); err != nil {
			return err
		}
		if err := r.rollback(m); err != nil {
			return err
		}
		r.sum.Recovered++
		r.log.Info("rolled back a refresh a crash interrupted before it committed", "refresh", m.ID)
	}
	r.manifests = slices.DeleteFunc(r.manifests, func(m *manifest) bool { return m.State == statePending })
	// A committed refresh's objects are written before its commit and leave
	// only once a later snapshot replaced it. One whose objects are missing
	// is not what the refresh left: its manifest's PUT was held up on the
	// way and landed after the refresh had been rolled back (its lock
	// expired, its objects deleted). Finishing it would point readers at
	// objects that are gone and delete the snapshot they read; it is rolled
	// back again, and the committed snapshot is the one before it.
	for r.committed != nil && r.committed.State != stateDone {
		missing, err := r.missingObjects(r.committed)
		if err != nil {
			return err
		}
		if missing == 0 {
			break
		}
		m := r.committed
		if err := f.Check(); err != nil {
			return err
		}
		if err := r.rollback(m); err != nil {
			return err
		}
		r.sum.Recovered++
		r.log.Warn("rolled back a committed refresh whose objects are missing (its commit landed after its rollback)", "refresh", m.ID, "missing", missing)
		r.manifests = slices.DeleteFunc(r.manifests, func(x *manifest) bool { return x == m })
		r.committed = nil
		for _, x := range r.manifests {
			if x.State != statePending && (r.committed == nil || x.Committed.After(r.committed.Committed)) {
				r.committed = x
			}
		}
	}
	if m := r.committed; m != nil && m.State != stateDone {
		if err := r.finish(f, m, time.Time{}); err != nil {
			return err
		}
		r.sum.Recovered++
		r.log.Info("finished a refresh a crash interrupted after it committed", "refresh", m.ID)
	}
	return nil
}

// symlinkStale reports whether the symlink manifest readers start from
// is not the committed snapshot's list: absent, or another list (a PUT of
// an earlier refresh held up on the way that landed after a later one).
// A run that finds it so writes it again (finish), so readers are never
// left on a replaced snapshot.
func (r *refresher) symlinkStale(m *manifest) (bool, error) {
	key, err := layout.SymlinkManifestKey(r.t.Name())
	if err != nil {
		return false, err
	}
	b, err := objstore.ReadSmall(r.ctx, r.lake, key, maxManifest)
	switch {
	case errors.Is(err, objstore.ErrNotExist):
		return true, nil
	case err != nil:
		return false, fmt.Errorf("read the symlink manifest: %w", err)
	}
	return string(b) != string(symlinkBody(r.lake, m.Objects)), nil
}

// missingObjects counts the snapshot objects m names that are not under
// its snapshot's prefix.
func (r *refresher) missingObjects(m *manifest) (int, error) {
	there := map[string]bool{}
	for o, err := range r.lake.List(r.ctx, layout.SnapshotPrefix(r.t.Name(), m.ID)) {
		if err != nil {
			return 0, err
		}
		there[o.Key] = true
	}
	n := 0
	for _, o := range m.Objects {
		if !there[o.Key] {
			n++
		}
	}
	return n, nil
}

// rollback deletes what a pending refresh wrote (its snapshot's objects:
// no symlink manifest ever named them), then its manifest.
func (r *refresher) rollback(m *manifest) error {
	if err := r.cleanTemp(layout.SnapshotPrefix(r.t.Name(), m.ID)); err != nil {
		return err
	}
	var keys []string
	for o, err := range r.lake.List(r.ctx, layout.SnapshotPrefix(r.t.Name(), m.ID)) {
		if err != nil {
			return err
		}
		if layout.CheckKey(o.Key) == nil && !o.Irregular {
			keys = append(keys, o.Key)
		}
	}
	if err := parallelDo(r.ctx, keys, r.lake.Delete); err != nil {
		return err
	}
	return r.lake.Delete(r.ctx, m.key)
}

// cleanTemp removes a directory store's dead writers' temporary files
// under a directory of the current table.
func (r *refresher) cleanTemp(prefix string) error {
	_, err := r.lake.CleanTemp(r.ctx, prefix, tempMinAge)
	return err
}

// finish is what follows a commit: the symlink manifest (the readers'
// commit), the replaced snapshots' objects deleted once the grace is over,
// the older manifests deleted, the manifest marked done. Each step is
// idempotent, so a refresh that dies anywhere here is finished by the
// next. put is when this run wrote the symlink manifest (zero: not yet).
func (r *refresher) finish(f *objstore.Fence, m *manifest, put time.Time) error {
	ctx := r.ctx
	symlink, err := layout.SymlinkManifestKey(r.t.Name())
	if err != nil {
		return err
	}
	if put.IsZero() {
		body := symlinkBody(r.lake, m.Objects)
		old, err := objstore.ReadSmall(ctx, r.lake, symlink, maxManifest)
		switch {
		case err == nil && string(old) == string(body):
			// In place already: the replaced objects stopped being listed
			// when it was written (S3's Last-Modified is in whole seconds,
			// truncated: rounded up).
			info, err := r.lake.Stat(ctx, symlink)
			if err != nil {
				return err
			}
			put = info.Modified.Truncate(time.Second).Add(time.Second)
		case err == nil || errors.Is(err, objstore.ErrNotExist):
			if err := f.Check(); err != nil {
				return err
			}
			if err := objstore.PutSmall(ctx, r.lake, symlink, body); err != nil {
				return fmt.Errorf("write the symlink manifest: %w", err)
			}
			put = time.Now()
			r.opts.CrashHook("after-symlink")
		default:
			return err
		}
	}
	garbage, err := r.garbage(m)
	if err != nil {
		return err
	}
	var keys []string
	dirs := map[string]bool{}
	for _, o := range garbage {
		if layout.CheckKey(o.Key) != nil || o.Irregular {
			dirs[path.Dir(o.Key)+"/"] = true // a temporary file, or a stranger: never deleted by name
			continue
		}
		keys = append(keys, o.Key)
	}
	if len(keys) > 0 {
		if wait := time.Until(put.Add(r.opts.DeleteGrace)); wait > 0 {
			r.log.Info("the replaced snapshot's objects stay until their grace is over (queries planned on the previous snapshot may still read them)", "objects", len(keys), "seconds", wait.Seconds())
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return context.Cause(ctx)
			}
		}
		if err := f.Check(); err != nil {
			return err
		}
		if err := r.lake.Delete(ctx, keys[0]); err != nil {
			return err
		}
		r.opts.CrashHook("between-deletes")
		if err := parallelDo(ctx, keys[1:], r.lake.Delete); err != nil {
			return err
		}
		r.sum.Deleted += len(keys)
	}
	for dir := range dirs {
		if layout.IsPartitionPrefix(dir) {
			if err := r.cleanTemp(dir); err != nil {
				return err
			}
		}
	}
	for _, old := range r.manifests {
		if old != m && old.State != statePending {
			if err := r.lake.Delete(ctx, old.key); err != nil {
				return err
			}
		}
	}
	r.opts.CrashHook("before-done")
	if err := f.Check(); err != nil {
		return err
	}
	m.State = stateDone
	if err := m.write(ctx, r.lake); err != nil {
		return err
	}
	r.manifests = []*manifest{m}
	return nil
}

// input is an object a refresh reads: the previous snapshot's, or a
// history object.
type input struct {
	object
	history bool
	dt      string
}

// refresh builds and commits a new snapshot: the previous snapshot's rows
// and the new history objects' rows, newest of each finding, retention,
// sorted by the table's sort keys.
func (r *refresher) refresh(f *objstore.Fence, history map[string]*partition, asOf time.Time) error {
	ctx, t := r.ctx, r.t
	start := time.Now()
	prev := r.committed
	folded := prev.folded()
	keyer, err := newNewestKeyer(t)
	if err != nil {
		return err
	}
	ret, err := newRetainer(t, r.opts.Retention)
	if err != nil {
		return err
	}
	sortCols, err := extsort.ResolveColumns(t.Schema(), t.SortKeys())
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(r.opts.TempDir, "hublake-current-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)

	// The new history objects, less compacted ones whose inputs are all
	// read already (their rows are exactly their inputs').
	var inputs []input
	var newInputs []object
	if prev != nil {
		for _, o := range prev.Objects {
			inputs = append(inputs, input{object: o})
		}
	}
	read := map[string]bool{} // history keys read or skipped by this run
	choose := func(dt string, objs map[string]objstore.ObjectInfo) error {
		for _, key := range slices.Sorted(maps.Keys(objs)) {
			if etag, ok := folded[key]; (ok && etag == objs[key].ETag) || read[key] {
				continue
			}
			read[key] = true
			skip, err := r.absorbedAlready(dt, key, folded)
			if err != nil {
				return err
			}
			if skip {
				r.sum.ObjectsSkipped++
				continue
			}
			o := object{Key: key, Size: objs[key].Size}
			inputs = append(inputs, input{object: o, history: true, dt: dt})
			newInputs = append(newInputs, o)
		}
		return nil
	}
	for _, dt := range slices.Sorted(maps.Keys(history)) {
		if err := choose(dt, history[dt].objects); err != nil {
			return err
		}
	}

	// Sort 1: by finding, newest first.
	newest := extsort.NewSorter(keyer, r.opts.SortBuffer, tmp)
	defer newest.Discard()
	for round := 0; ; round++ {
		gone, err := r.readInputs(inputs, newest)
		if err != nil {
			return err
		}
		if len(gone) == 0 {
			break
		}
		// A history object went between the listing and its read: a
		// compaction finished meanwhile, and its rows are in the objects
		// that replaced it. List its partition again and read what is new.
		if round == 5 {
			return fmt.Errorf("objects keep disappearing while they are read (%d in the last round); try again", len(gone))
		}
		inputs = inputs[:0]
		dts := map[string]bool{}
		for _, in := range gone {
			dts[in.dt] = true
			delete(history[in.dt].objects, in.Key)
		}
		for _, dt := range slices.Sorted(maps.Keys(dts)) {
			r.sum.Relisted++
			p := &partition{objects: map[string]objstore.ObjectInfo{}}
			for o, err := range r.lake.List(ctx, layout.PartitionPrefix(t.Name(), dt)) {
				if err != nil {
					return err
				}
				if k, err := layout.ParseKey(o.Key); err == nil && !o.Irregular && k.Table == t.Name() {
					p.objects[o.Key] = o
				}
			}
			history[dt] = p
			if err := choose(dt, p.objects); err != nil {
				return err
			}
		}
	}
	src, err := newest.Finish()
	if err != nil {
		return err
	}
	defer src.Close()

	// The newest row of each finding, unless retention drops it; sort 2:
	// by the table's sort keys.
	out := extsort.NewSorter(sortCols, r.opts.SortBuffer, tmp)
	defer out.Discard()
	var last []parquet.Value
	var nextExpiry time.Time
	for {
		row, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		key := keyer.Key(row, false)
		if last != nil && keyer.compareKey(key, last) == 0 {
			continue // an older row of the same finding
		}
		last = keyer.keyOnly(key)
		if at, ok := ret.expires(row); ok {
			if !asOf.Before(at) {
				r.sum.Expired++
				continue
			}
			if nextExpiry.IsZero() || at.Before(nextExpiry) {
				nextExpiry = at
			}
		}
		if err := out.Add(row); err != nil {
			return err
		}
	}
	sorted, err := out.Finish()
	if err != nil {
		return err
	}
	defer sorted.Close()
	r.sum.Spilled = newest.Spilled() + out.Spilled()

	// Everything is read: now the lake is written.
	newFolded := map[string]string{}
	for _, p := range history {
		for key, o := range p.objects {
			if etag, ok := folded[key]; (ok && etag == o.ETag) || read[key] {
				newFolded[key] = o.ETag
			}
		}
	}
	m := &manifest{
		Version: manifestVersion, Table: t.Name(), State: statePending, Holder: r.opts.Holder,
		Started: time.Now().UTC(), AsOf: asOf, Settings: r.opts.settings(),
	}
	if prev != nil {
		m.Previous = prev.ID
	}
	m.ID = refreshID(t.Name(), m.Settings, m.Previous, asOf, newInputs)
	if m.key, err = layout.RefreshKey(t.Name(), m.ID); err != nil {
		return err
	}
	if err := f.Check(); err != nil {
		return err
	}
	if err := m.write(ctx, r.lake); err != nil {
		return err
	}
	r.opts.CrashHook("after-manifest")
	opts := append(encode.WriterOptions(t, r.opts.Encode), parquet.MaxRowsPerRowGroup(math.MaxInt64), extsort.SortingColumns(t.SortKeys()))
	ow := &extsort.OutputWriter{
		Ctx: ctx, Store: r.lake, Table: t, Options: opts,
		ObjectKey: func(k int) (string, error) { return layout.SnapshotObjectKey(t.Name(), m.ID, k) },
		GroupRows: r.opts.Encode.RowGroupRowsOrDefault(), GroupBytes: r.opts.Encode.RowGroupBytesOrDefault(), Target: r.opts.TargetSize,
		AtLeastOne: true,
		Written: func(key string, size int64) error {
			m.Objects = append(m.Objects, object{Key: key, Size: size})
			r.sum.ObjectsWritten++
			r.sum.BytesWritten += size
			r.opts.CrashHook("after-object")
			return f.Check()
		},
	}
	err = ow.WriteAll(sorted)
	if err != nil {
		if rerr := r.rollback(m); rerr != nil {
			r.log.Error("could not roll back the failed refresh; the next run will", "refresh", m.ID, "err", rerr)
		}
		return err
	}

	// Commit: from here on the refresh is finished, never undone. The lock
	// is renewed first (by a conditional write on S3): a holder whose lock
	// was taken over learns it here, before it changes what it cannot
	// undo.
	if err := f.RenewNow(ctx); err != nil {
		return err
	}
	m.State, m.Committed, m.Rows, m.NextExpiry = stateCommitted, time.Now().UTC(), ow.Rows(), nextExpiry
	m.Folded = foldedOf(t.Name(), newFolded)
	if err := m.write(ctx, r.lake); err != nil {
		return err
	}
	r.opts.CrashHook("after-commit")
	symlink, err := layout.SymlinkManifestKey(t.Name())
	if err != nil {
		return err
	}
	if err := objstore.PutSmall(ctx, r.lake, symlink, symlinkBody(r.lake, m.Objects)); err != nil {
		return fmt.Errorf("write the symlink manifest: %w", err)
	}
	put := time.Now()
	r.opts.CrashHook("after-symlink")
	r.manifests = append(r.manifests, m)
	r.committed = m
	r.sum.Outcome = Refreshed
	r.sum.Snapshot, r.sum.Rows, r.sum.Committed, r.sum.Fresh = m.ID, m.Rows, m.Committed, asOf
	r.log.Info("snapshot committed", "snapshot", m.ID, "rows", m.Rows, "objects", len(m.Objects), "bytes", r.sum.BytesWritten,
		"history_objects_read", r.sum.ObjectsRead, "skipped", r.sum.ObjectsSkipped, "rows_read", r.sum.RowsRead, "expired", r.sum.Expired,
		"spilled_runs", r.sum.Spilled, "seconds", time.Since(start).Seconds())
	return r.finish(f, m, put)
}

// absorbedAlready reports whether the history object at key is a compacted
// object whose compaction's inputs were all read by an earlier refresh.
func (r *refresher) absorbedAlready(dt, key string, folded map[string]string) (bool, error) {
	if len(folded) == 0 {
		return false, nil
	}
	k, err := layout.ParseKey(key)
	if err != nil {
		return false, nil
	}
	run, _, ok := layout.ParseCompactedName(k.Name)
	if !ok {
		return false, nil
	}
	ins, ok, err := compact.RunInputs(r.ctx, r.lake, r.t.Name(), dt, run)
	if err != nil || !ok || len(ins) == 0 {
		return false, err
	}
	for in, etag := range ins {
		if got, ok := folded[in]; !ok || (etag != "" && got != etag) {
			return false, nil
		}
	}
	return true, nil
}

// readInputs reads every input's rows into s, and returns the history
// inputs that were gone when read.
func (r *refresher) readInputs(inputs []input, s *extsort.Sorter) ([]input, error) {
	sch := r.t.Schema()
	keys := r.keyer()
	var mu sync.Mutex
	var gone []input
	markGone := func(in input, err error) error {
		if in.history && errors.Is(err, objstore.ErrNotExist) {
			mu.Lock()
			gone = append(gone, in)
			mu.Unlock()
			return nil
		}
		return err
	}
	prepare := func(ctx context.Context, in input) (*extsort.Decoded, error) {
		obj, err := r.lake.Open(ctx, in.Key)
		if err != nil {
			if markGone(in, err) == nil {
				return &extsort.Decoded{}, nil
			}
			return nil, err
		}
		if obj.Size() > extsort.WholeRead {
			return &extsort.Decoded{Obj: obj}, nil
		}
		defer obj.Close()
		d, err := extsort.DecodeInput(obj, in.Key, sch, keys)
		if err != nil {
			if markGone(in, err) == nil {
				return &extsort.Decoded{}, nil
			}
			return nil, err
		}
		return d, nil
	}
	consume := func(in input, d *extsort.Decoded) error {
		if in.history {
			r.sum.ObjectsRead++
		}
		r.sum.BytesRead += in.Size
		if d.Obj != nil {
			defer d.Obj.Close()
			n, err := extsort.ForEachRow(d.Obj, in.Key, sch, s.Add)
			r.sum.RowsRead += n
			return markGone(in, err)
		}
		r.sum.RowsRead += int64(d.Rows())
		return s.Adopt(d)
	}
	release := func(d *extsort.Decoded) {
		if d.Obj != nil {
			d.Obj.Close()
		}
	}
	err := extsort.Prefetch(r.ctx, inputs, func(in input) int64 { return in.Size }, extsort.DecodeInFlight, prepare, consume, release)
	return gone, err
}

func (r *refresher) keyer() extsort.Keyer {
	k, _ := newNewestKeyer(r.t)
	return k
}

// parallelDo calls fn for every item, at most parallel at once.
func parallelDo(ctx context.Context, items []string, fn func(context.Context, string) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, it := range items {
		g.Go(func() error { return fn(gctx, it) })
	}
	return g.Wait()
}
