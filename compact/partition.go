package compact

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// partition runs the protocol (package documentation) on partition dt of
// table t: lock, recover, classify, and compact what there is to compact.
func (c *compactor) partition(ctx context.Context, t table, dt string) error {
	log := c.log.With("table", t.name, "dt", dt)
	start := time.Now()
	lockKey, err := layout.LockKey(t.name, dt)
	if err != nil {
		return err
	}
	lock, err := c.lake.TryLock(ctx, lockKey, c.opts.Holder, c.opts.LockTTL)
	if errors.Is(err, objstore.ErrLocked) {
		c.sum.Locked++
		log.Info("partition skipped: another compaction holds its lock", "lock", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("lock: %w", err)
	}
	f := objstore.NewFence(ctx, lock, c.opts.LockTTL, log)
	defer f.Release()
	p := &partRun{c: c, t: t, dt: dt, log: log, fence: f, ctx: f.Ctx(), prefix: layout.PartitionPrefix(t.name, dt)}
	if err := p.run(); err != nil {
		return err
	}
	if p.compacted {
		log.Info("partition compacted", "inputs", p.objectsIn, "outputs", p.objectsOut, "bytes_in", p.bytesIn, "bytes_out", p.bytesOut,
			"rows", p.rows, "spilled_runs", p.spilled, "seconds", time.Since(start).Seconds())
	}
	return nil
}

// partRun is one visit of one partition, under its lock.
type partRun struct {
	c      *compactor
	t      table
	dt     string
	prefix string
	log    *slog.Logger
	fence  *objstore.Fence
	ctx    context.Context

	listing map[string]objstore.ObjectInfo // the partition's objects
	// gone: objects of the listing this visit has deleted or queued for
	// deletion (absorbed names whose grace is not over yet): no longer
	// the partition's, though still in it for a while.
	gone map[string]bool

	compacted               bool
	objectsIn, objectsOut   int
	bytesIn, bytesOut, rows int64
	spilled                 int
}

func (p *partRun) run() error {
	ctx, c := p.ctx, p.c
	removed, err := c.lake.CleanTemp(ctx, p.prefix, tempMinAge)
	if err != nil {
		return err
	}
	c.sum.TempRemoved += removed
	if removed > 0 {
		p.log.Info("removed dead writers' temporary files", "files", removed)
	}
	if err := p.list(); err != nil {
		return err
	}

	// Recover first: a run a crash interrupted is rolled back (pending) or
	// finished (committed). Only the lock holder acts on a partition, so
	// nothing races these steps.
	manifests, err := p.manifests()
	if err != nil {
		return err
	}
	known := map[string]bool{} // compacted objects: outputs of finished runs
	var finished, records []*manifest
	live := map[string]bool{}   // runs that are not rolled back
	rolled := map[string]bool{} // runs rolled back just now
	for _, m := range manifests {
		switch m.State {
		case stateRolledBack:
			records = append(records, m)
			continue
		case statePending:
			if err := p.rollback(m); err != nil {
				return err
			}
			rolled[m.Run] = true
			c.sum.Recovered++
			p.log.Info("rolled back a compaction a crash interrupted before it committed", "run", m.Run)
			continue
		case stateCommitted:
			if missing := p.missingOutputs(m); missing > 0 {
				// A committed run's outputs are written before its commit
				// and leave only once absorbed by a later run, which only
				// a finished (done) run's outputs can be. Outputs missing
				// mean the commit is not what the run left: its manifest
				// PUT was held up on the way and landed after the run had
				// been rolled back (its lock expired, its outputs
				// deleted). Finishing it would delete inputs whose rows
				// are in no output; it is rolled back again instead, its
				// inputs kept (docs/design.md, claim 12).
				if err := p.rollback(m); err != nil {
					return err
				}
				rolled[m.Run] = true
				c.sum.Recovered++
				p.log.Warn("rolled back a committed compaction whose outputs are missing (its commit landed after its rollback); its inputs are kept", "run", m.Run, "missing", missing)
				continue
			}
			if err := p.finish(m); err != nil {
				return err
			}
			c.sum.Recovered++
			p.log.Info("finished a compaction a crash interrupted after it committed", "run", m.Run)
		}
		finished = append(finished, m)
		live[m.Run] = true
		for _, o := range m.Outputs {
			known[o.Key] = true
		}
	}
	// Rolled-back runs: an output that landed after the rollback goes (its
	// rows are in the run's inputs, or in what absorbed them). A record is
	// forgotten once no upload of the dead run can land any more, or once a
	// later run of the same inputs (the same id, names and bytes) has
	// finished.
	for _, r := range records {
		if rolled[r.Run] {
			continue // its record was written again just now
		}
		if live[r.Run] {
			if err := c.lake.Delete(ctx, r.key); err != nil {
				return err
			}
			continue
		}
		n, err := p.dropOutputs(r.Run)
		if err != nil {
			return err
		}
		if n > 0 {
			c.sum.Recovered++
			p.log.Info("removed outputs of a rolled-back compaction that landed after its rollback", "run", r.Run, "objects", n)
		}
		if time.Since(r.RolledBack) > rolledBackKeep {
			if err := c.lake.Delete(ctx, r.key); err != nil {
				return err
			}
		}
	}

	// Classify.
	var batches, compacted, orphans []objstore.ObjectInfo
	for _, key := range slices.Sorted(maps.Keys(p.listing)) {
		o := p.listing[key]
		file := strings.TrimPrefix(key, p.prefix)
		switch k, err := layout.ParseKey(key); {
		case p.gone[key]:
			// An input of a run finished above: deleted once its grace is over.
		case o.Irregular:
			c.unrecognised(o, "not a regular file")
		case err != nil && layout.IsTempName(file):
			// A live writer's object in the making (dead writers' ones were
			// removed above).
		case err != nil:
			c.unrecognised(o, "not a key of this table")
		case known[key]:
			compacted = append(compacted, o)
		default:
			if _, _, ok := layout.ParseCompactedName(k.Name); ok {
				orphans = append(orphans, o)
				continue
			}
			batches = append(batches, o)
		}
	}
	// An object whose name a compaction absorbed is in the partition again:
	// a late or replayed write (a writer killed between its commit and its
	// second marker check, one that bypassed the check, or one that left it
	// to compaction), or an input a run died before deleting (batch or
	// compacted, even one whose manifest a later run already forgot). Its
	// rows are in a compacted object, so it goes, once its marker is older
	// than the grace.
	batches, err = p.dropAbsorbed(batches)
	if err != nil {
		return err
	}
	if compacted, err = p.dropAbsorbed(compacted); err != nil {
		return err
	}
	if orphans, err = p.dropAbsorbed(orphans); err != nil {
		return err
	}
	for _, o := range orphans {
		c.unrecognised(o, "named like a compacted object, but no manifest names it")
	}
	// Forget finished runs none of whose outputs is left (a later run
	// absorbed them all and they are deleted, not only queued for deletion):
	// the markers are the durable record.
	for _, m := range finished {
		if !slices.ContainsFunc(m.Outputs, func(o object) bool { _, ok := p.listing[o.Key]; return ok }) {
			if err := c.lake.Delete(ctx, m.key); err != nil {
				return err
			}
		}
	}

	var inputs []object
	young := 0
	cutoff := c.opts.Now().Add(-c.opts.OlderThan)
	for _, o := range batches {
		if o.Modified.After(cutoff) {
			young++
			continue
		}
		inputs = append(inputs, object{Key: o.Key, Size: o.Size, ETag: o.ETag})
	}
	if c.recent(p.dt) {
		for _, o := range compacted {
			if o.Size < c.opts.TargetSize/2 {
				inputs = append(inputs, object{Key: o.Key, Size: o.Size, ETag: o.ETag})
			}
		}
	}
	switch {
	case len(inputs) == 0 && young > 0:
		c.sum.TooRecent++
		return nil
	case len(inputs) == 0, len(inputs) == 1 && known[inputs[0].Key]:
		c.sum.UpToDate++
		return nil
	}
	slices.SortFunc(inputs, func(a, b object) int { return strings.Compare(a.Key, b.Key) })
	return p.compact(inputs)
}

// dropAbsorbed deletes the objects that have a marker, each once its marker
// is older than the grace (now, or queued for the deleter), and returns the
// others.
func (p *partRun) dropAbsorbed(objs []objstore.ObjectInfo) ([]objstore.ObjectInfo, error) {
	c := p.c
	since := make([]time.Time, len(objs))
	isAbsorbed := make([]bool, len(objs))
	err := parallelDo(p.ctx, indexes(objs), func(ctx context.Context, i int) error {
		var err error
		since[i], isAbsorbed[i], err = encode.AbsorbedSince(ctx, c.lake, objs[i].Key)
		return err
	})
	if err != nil {
		return nil, err
	}
	var keep []objstore.ObjectInfo
	for i, o := range objs {
		if !isAbsorbed[i] {
			keep = append(keep, o)
			continue
		}
		c.sum.Reappeared++
		if due := since[i].Add(c.opts.DeleteGrace); c.opts.DeleteGrace > 0 && time.Now().Before(due) {
			// Absorbed moments ago (by a run that ran just before or beside
			// this one, or a writer's object committed while it ran): a
			// reader may be listing the partition still.
			c.deletes.add([]string{o.Key}, due)
			p.gone[o.Key] = true
			p.log.Info("an object whose name a compaction has just absorbed will be removed once its grace is over", "key", o.Key, "at", due)
			continue
		}
		if err := c.lake.Delete(p.ctx, o.Key); err != nil {
			return nil, err
		}
		delete(p.listing, o.Key)
		p.log.Info("removed an object whose name a compaction had absorbed (its rows are in a compacted object): a late or replayed write, or an input of an interrupted run", "key", o.Key)
	}
	return keep, nil
}

// list reads the partition's listing.
func (p *partRun) list() error {
	p.listing, p.gone = map[string]objstore.ObjectInfo{}, map[string]bool{}
	for o, err := range p.c.lake.List(p.ctx, p.prefix) {
		if err != nil {
			return err
		}
		p.listing[o.Key] = o
	}
	return nil
}

// manifests reads the partition's manifests, oldest first. A manifest that
// does not describe a run of this partition stops the visit: acting on it
// could touch what it names, and skipping it could lose a run to recover.
func (p *partRun) manifests() ([]*manifest, error) {
	var out []*manifest
	for o, err := range p.c.lake.List(p.ctx, layout.ManifestPrefix(p.t.name, p.dt)) {
		if err != nil {
			return nil, err
		}
		m, err := readManifest(p.ctx, p.c.lake, o.Key, p.t.name, p.dt)
		if err != nil {
			return nil, fmt.Errorf("refusing to act on the partition: %w", err)
		}
		out = append(out, m)
	}
	slices.SortStableFunc(out, func(a, b *manifest) int { return a.Started.Compare(b.Started) })
	return out, nil
}

// missingOutputs counts the outputs m names that the partition's listing
// does not hold.
func (p *partRun) missingOutputs(m *manifest) int {
	n := 0
	for _, o := range m.Outputs {
		if _, ok := p.listing[o.Key]; !ok {
			n++
		}
	}
	return n
}

// rollback undoes a run that had not committed: its outputs (any object of
// its name) are deleted, then its manifest is replaced by a record of the
// rollback (see manifest). The inputs are all still there: nothing is
// deleted before a run commits.
func (p *partRun) rollback(m *manifest) error {
	if _, err := p.dropOutputs(m.Run); err != nil {
		return err
	}
	return markRolledBack(p.ctx, p.c.lake, m)
}

// dropOutputs deletes every object of the partition named after run and
// returns how many.
func (p *partRun) dropOutputs(run string) (int, error) {
	n := 0
	for _, key := range slices.Sorted(maps.Keys(p.listing)) {
		k, err := layout.ParseKey(key)
		if err != nil {
			continue
		}
		if r, _, ok := layout.ParseCompactedName(k.Name); ok && r == run {
			if err := p.c.lake.Delete(p.ctx, key); err != nil {
				return n, err
			}
			delete(p.listing, key)
			n++
		}
	}
	return n, nil
}

// markRolledBack writes the record of m's rollback, then deletes m's
// manifest. A crash between the two leaves the manifest pending: it is
// rolled back again.
func markRolledBack(ctx context.Context, lk objstore.Lake, m *manifest) error {
	key, err := layout.RolledBackKey(m.Table, m.Date, m.Run)
	if err != nil {
		return err
	}
	r := *m
	r.State, r.Outputs, r.RolledBack, r.key = stateRolledBack, nil, time.Now().UTC(), key
	if err := r.write(ctx, lk); err != nil {
		return err
	}
	return lk.Delete(ctx, m.key)
}

// finish is the part of a run after its commit: the markers of every input,
// then the manifest marked done, then the inputs' deletion (DeleteGrace
// after the last marker: see deleter). Each step is idempotent, so a run
// that dies anywhere here is finished by the next.
func (p *partRun) finish(m *manifest) error {
	ctx, c := p.ctx, p.c
	if err := p.fence.Check(); err != nil {
		return err
	}
	body, _ := json.Marshal(marker{Run: m.Run, Manifest: m.key})
	// The first marker alone, then the rest side by side: a crash "between"
	// the markers leaves some written, some not.
	inTwo := func(point string, fn func(context.Context, object) error) error {
		if len(m.Inputs) == 0 {
			return nil
		}
		if err := fn(ctx, m.Inputs[0]); err != nil {
			return err
		}
		c.opts.CrashHook(point)
		return parallelDo(ctx, m.Inputs[1:], fn)
	}
	err := inTwo("between-markers", func(ctx context.Context, in object) error {
		key, err := layout.AbsorbedKey(in.Key)
		if err != nil {
			return err
		}
		if err := objstore.PutSmall(ctx, c.lake, key, body); err != nil {
			return fmt.Errorf("write marker: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Done before the deletes: from here on, an input that is still there
	// has a marker, so whoever finds it deletes it as an absorbed name;
	// nothing else is left to do.
	c.opts.CrashHook("before-done")
	m.State = stateDone
	if err := m.write(ctx, c.lake); err != nil {
		return err
	}
	var keys []string
	for _, in := range m.Inputs {
		keys = append(keys, in.Key)
		p.gone[in.Key] = true
	}
	c.deletes.add(keys, time.Now().Add(c.opts.DeleteGrace))
	return nil
}

// compact replaces inputs (in key order) with compacted objects.
func (p *partRun) compact(inputs []object) error {
	ctx, c := p.ctx, p.c
	sortKeys := c.sortKeys(p.t)
	settings := fmt.Sprintf("codec=%s target=%d rowgroup=%d/%d", c.opts.Encode.Codec, c.opts.TargetSize, c.opts.Encode.RowGroupRows, c.opts.Encode.RowGroupBytesOrDefault())
	run := runID(p.t.name, p.dt, inputs, sortKeys, settings)
	key, err := layout.ManifestKey(p.t.name, p.dt, run)
	if err != nil {
		return err
	}
	m := &manifest{
		Version: manifestVersion, Run: run, Table: p.t.name, Date: p.dt, State: statePending,
		Holder: c.opts.Holder, Started: c.opts.Now().UTC(), Inputs: inputs, key: key,
	}
	if p.t.rows != nil {
		m.Sort = sortKeys
	}
	for _, in := range inputs {
		p.bytesIn += in.Size
	}

	// Read everything before writing anything: a damaged input fails the
	// run while the lake is untouched.
	started := time.Now()
	tmp, err := os.MkdirTemp(c.opts.TempDir, "hublake-compact-")
	if err != nil {
		return fmt.Errorf("temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	var writeOutputs func(written func(object) error) error
	if p.t.rows != nil {
		w, rows, err := p.readParquet(inputs, sortKeys, tmp, run)
		if err != nil {
			return err
		}
		writeOutputs, m.Rows = w, rows
	} else {
		spool, spooled, lines, err := spoolDeadLetters(ctx, c.lake, inputs, tmp)
		if err != nil {
			return err
		}
		defer spool.Close()
		m.Rows = lines
		writeOutputs = func(written func(object) error) error {
			return writeDeadLetters(ctx, c.lake, p.t.name, p.dt, run, spool, spooled, c.opts.TargetSize, written)
		}
	}

	p.log.Debug("inputs read", "inputs", len(inputs), "rows", m.Rows, "spilled_runs", p.spilled, "seconds", time.Since(started).Seconds())

	// The manifest before any output: a crash from here on leaves a record
	// that recovery acts on.
	if err := p.fence.Check(); err != nil {
		return err
	}
	if err := m.write(ctx, c.lake); err != nil {
		return err
	}
	c.opts.CrashHook("after-manifest")
	err = writeOutputs(func(o object) error {
		m.Outputs = append(m.Outputs, o)
		c.opts.CrashHook("after-output")
		return p.fence.Check()
	})
	if err != nil {
		// Undo now rather than at the next run (which would, too).
		if rerr := p.rollbackAfterError(m); rerr != nil {
			p.log.Error("could not roll back the failed run; the next run will", "run", run, "err", rerr)
		}
		return err
	}

	p.log.Debug("outputs written", "outputs", len(m.Outputs), "seconds", time.Since(started).Seconds())

	// Commit: from here on the run is finished, never undone. The lock is
	// renewed first, by a conditional write on S3: a holder whose lock was
	// taken over (it was paused for longer than the lock's lifetime) learns
	// it here, before it changes anything it cannot undo.
	if err := p.fence.RenewNow(ctx); err != nil {
		return err
	}
	m.State = stateCommitted
	for _, o := range m.Outputs {
		p.bytesOut += o.Size
	}
	if err := m.write(ctx, c.lake); err != nil {
		return err
	}
	c.opts.CrashHook("after-commit")
	if err := p.finish(m); err != nil {
		return err
	}
	p.log.Debug("markers written, run done", "seconds", time.Since(started).Seconds())
	p.compacted = true
	p.objectsIn, p.objectsOut = len(inputs), len(m.Outputs)
	c.sum.Compacted++
	c.sum.ObjectsIn += p.objectsIn
	c.sum.ObjectsOut += p.objectsOut
	c.sum.BytesIn += p.bytesIn
	c.sum.BytesOut += p.bytesOut
	c.sum.Rows += m.Rows
	c.sum.Spilled += p.spilled
	p.rows = m.Rows
	return nil
}

// rollbackAfterError deletes the outputs a failed run wrote, then replaces
// its manifest by a record of the rollback (an upload of the run may still
// land: see manifest).
func (p *partRun) rollbackAfterError(m *manifest) error {
	ctx := context.WithoutCancel(p.ctx)
	for _, o := range m.Outputs {
		if err := p.c.lake.Delete(ctx, o.Key); err != nil {
			return err
		}
	}
	return markRolledBack(ctx, p.c.lake, m)
}

// readParquet reads and sorts the inputs' rows, and returns the function
// that writes them as run's outputs and the number of rows.
func (p *partRun) readParquet(inputs []object, sortKeys []string, tmp, run string) (func(func(object) error) error, int64, error) {
	ctx, c := p.ctx, p.c
	s := p.t.rows.Schema()
	cols, err := extsort.ResolveColumns(s, sortKeys)
	if err != nil {
		return nil, 0, err
	}
	srt := extsort.NewSorter(cols, c.opts.SortBuffer, tmp)
	var rows int64
	// Small inputs (batch objects) are decoded side by side, on every core;
	// a large one is streamed into the sorter as it is read.
	prepare := func(ctx context.Context, in object) (*extsort.Decoded, error) {
		obj, err := c.lake.Open(ctx, in.Key)
		if err != nil {
			return nil, err
		}
		if obj.Size() > extsort.WholeRead {
			return &extsort.Decoded{Obj: obj}, nil
		}
		defer obj.Close()
		return extsort.DecodeInput(obj, in.Key, s, cols)
	}
	consume := func(in object, d *extsort.Decoded) error {
		if d.Obj != nil {
			defer d.Obj.Close()
			n, err := extsort.ForEachRow(d.Obj, in.Key, s, srt.Add)
			rows += n
			return err
		}
		rows += int64(d.Rows())
		return srt.Adopt(d)
	}
	release := func(d *extsort.Decoded) {
		if d.Obj != nil {
			d.Obj.Close()
		}
	}
	err = extsort.Prefetch(ctx, inputs, func(o object) int64 { return o.Size }, extsort.DecodeInFlight, prepare, consume, release)
	if err != nil {
		srt.Discard()
		return nil, 0, err
	}
	src, err := srt.Finish()
	if err != nil {
		srt.Discard()
		return nil, 0, err
	}
	p.spilled = srt.Spilled()
	// The row groups are cut here (rows and bytes, as the writer cuts them),
	// so that an output ends on a row group's end.
	opts := append(encode.WriterOptions(p.t.rows, c.opts.Encode), parquet.MaxRowsPerRowGroup(math.MaxInt64), extsort.SortingColumns(sortKeys))
	return func(written func(object) error) error {
		defer src.Close()
		ow := &extsort.OutputWriter{
			Ctx: ctx, Store: c.lake, Table: p.t.rows, Options: opts,
			ObjectKey: func(k int) (string, error) {
				return layout.ObjectKey(p.t.rows.Name(), p.dt, layout.CompactedName(run, k))
			},
			GroupRows: c.opts.Encode.RowGroupRowsOrDefault(), GroupBytes: c.opts.Encode.RowGroupBytesOrDefault(), Target: c.opts.TargetSize,
			Written: func(key string, size int64) error { return written(object{Key: key, Size: size}) },
		}
		return ow.WriteAll(src)
	}, rows, nil
}

func indexes[T any](s []T) []int {
	out := make([]int, len(s))
	for i := range out {
		out[i] = i
	}
	return out
}
