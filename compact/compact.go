package compact

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// Options configure a compaction.
type Options struct {
	// Tables to compact (default: every table, schema.AllTableNames).
	Tables []string
	// OlderThan: only batch objects written longer ago than this are
	// compacted (default 15 minutes): a younger one may still be rewritten by
	// the batch that wrote it, and compacting it would only be undone by the
	// next batches.
	OlderThan time.Duration
	// TargetSize bounds an output's size (default 256 MiB).
	TargetSize int64
	// Encode are the Parquet settings: the writer's (encode.WriterOptions),
	// but row groups of DefaultRowGroupBytes unless RowGroupBytes is set.
	Encode encode.Options
	// SortBuffer bounds the rows held in memory for sorting (default 32 MiB
	// of estimated heap); more are spilled to TempDir.
	SortBuffer int64
	// TempDir holds spilled runs (default: the system's).
	TempDir string
	// LockTTL is how long a partition's lock lasts unrenewed (default 10
	// minutes); it is renewed every third of that.
	LockTTL time.Duration
	// DeleteGrace is how long an absorbed name stays after its marker was
	// written, whoever deletes it (package documentation, "The delete
	// grace"); negative: none (default 30 seconds, at most
	// encode.MaxDeleteGrace).
	DeleteGrace time.Duration
	// Holder names this run in locks and manifests.
	Holder string
	// SortKeys overrides the sort keys of some tables (see SortKeys).
	SortKeys map[string][]string
	// Logger gets a line per partition compacted and per problem.
	Logger *slog.Logger
	// Progress is called after each partition visited, with how many of
	// the partitions that need a visit are done.
	Progress func(done, total int)
	// CrashHook is for tests: it is called at named points of a run
	// ("after-manifest", "after-output", "after-commit", "between-markers",
	// "between-deletes", "before-done").
	CrashHook func(point string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Defaults.
const (
	DefaultOlderThan  = 15 * time.Minute
	DefaultTargetSize = 256 << 20
	DefaultSortBuffer = 32 << 20
	// DefaultRowGroupBytes bounds a compacted row group (bytes of values):
	// four times the writer's. A query engine pays per row group (DuckDB on
	// a generated day: 13.6 ms with the writer's bound, 36 row groups, 6.5 ms
	// with this one, 9), and the encoder holds one row group, about twice
	// this, which still fits the memory budget with the sort buffer.
	DefaultRowGroupBytes = 16 << 20
	DefaultLockTTL       = 10 * time.Minute
	// DefaultDeleteGrace outlasts a listing of a partition of many thousand
	// objects (a page of 1,000 keys in well under a second).
	DefaultDeleteGrace = 30 * time.Second
	// remergeDays: compacted objects of a partition whose date is at most
	// this many days before today are merged again with what arrives later
	// (when smaller than half the target); older partitions' compacted
	// objects are never rewritten, so the cost of a run does not grow with
	// the lake, and age-based lifecycle rules see their objects age.
	remergeDays = 2
	// tempMinAge: a directory store's temporary file is a dead writer's
	// leftover only if no writer holds it and it is older than this.
	tempMinAge = time.Minute
	// rolledBackKeep is how long the record of a rolled-back run is kept
	// (see manifest): an upload a dead run had sent cannot land later than
	// 15 minutes after it was signed (S3 refuses an older signature), and
	// the run is rolled back only after its lock expired.
	rolledBackKeep = time.Hour
	// parallel is how many markers, deletes or reads are in flight at once.
	parallel = 16
)

// Validate refuses options the defaults cannot mend: a delete grace longer
// than the grace writers keep. Run calls it.
func (o Options) Validate() error {
	if o.DeleteGrace > encode.MaxDeleteGrace {
		return fmt.Errorf("delete grace %s: at most %s (encode.MaxDeleteGrace: the grace writers keep)", o.DeleteGrace, encode.MaxDeleteGrace)
	}
	return nil
}

// The memory budget of a compaction, in one place: the compact command's
// GOMEMLIMIT and TestCompactMemoryBound use it.
const (
	// BudgetBase is the process beyond the partition being compacted: the
	// runtime, a listing page, the partitions a survey found, slack.
	BudgetBase = 64 << 20
	// budgetFixed is what compacting a partition holds whatever the
	// options: its listing and markers, manifests, parquet-go's readers'
	// fixed buffers.
	budgetFixed = 16 << 20
)

// MemoryBudget is the heap a compaction under o may use: what compacting
// one partition holds at most (partitions are compacted one after
// another), plus BudgetBase.
func MemoryBudget(o Options) int64 { return partitionBudget(o.withDefaults()) + BudgetBase }

// partitionBudget is what compacting one partition under o (defaults
// applied) holds at most, however large the partition: the sort buffer and
// the run being spilled (twice SortBuffer), the inputs decoded ahead (8 ×
// extsort.DecodeInFlight), the merge's readers (two spill blocks of each of
// extsort.MergeFanIn runs), the row group being encoded (its values, their encoding
// and its pages: 3 × RowGroupBytes), and budgetFixed.
func partitionBudget(o Options) int64 {
	return 2*o.SortBuffer + 8*extsort.DecodeInFlight + extsort.MergeFanIn*2*extsort.SpillBlock + 3*o.Encode.RowGroupBytes + budgetFixed
}

func (o Options) withDefaults() Options {
	if len(o.Tables) == 0 {
		o.Tables = schema.AllTableNames()
	}
	if o.OlderThan < 0 {
		o.OlderThan = 0
	}
	if o.TargetSize <= 0 {
		o.TargetSize = DefaultTargetSize
	}
	if o.SortBuffer <= 0 {
		o.SortBuffer = DefaultSortBuffer
	}
	if o.Encode.RowGroupBytes <= 0 {
		o.Encode.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.LockTTL <= 0 {
		o.LockTTL = DefaultLockTTL
	}
	switch {
	case o.DeleteGrace == 0:
		o.DeleteGrace = DefaultDeleteGrace
	case o.DeleteGrace < 0:
		o.DeleteGrace = 0
	}
	if o.Holder == "" {
		o.Holder = "hublake compact"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = func(int, int) {}
	}
	if o.CrashHook == nil {
		o.CrashHook = func(string) {}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Summary is what a compaction did.
type Summary struct {
	Partitions int // partitions seen
	Compacted  int // partitions compacted
	UpToDate   int // already compacted and untouched since: nothing to do
	TooRecent  int // only objects younger than OlderThan: left for a later run
	Locked     int // skipped: another compaction held the partition's lock
	Failed     int // partitions whose compaction failed (logged; nothing lost)

	ObjectsIn, ObjectsOut int   // objects replaced, objects written
	BytesIn, BytesOut     int64 // their bytes
	Rows                  int64 // rows written into compacted objects
	Spilled               int   // sorted runs spilled to temporary files

	Recovered    int // runs a crash had interrupted, rolled back or finished
	Reappeared   int // objects whose name a compaction had absorbed, found again and removed
	Unrecognised int // objects kept and reported: not a batch or compacted object
	TempRemoved  int // dead writers' temporary files removed
}

// Run compacts every partition of the chosen tables of lake. It returns an
// error only when it could not run (a table cannot be listed, an option is
// wrong); a partition that fails is logged, counted in Summary.Failed and
// left as it was, and the others are still compacted.
func Run(ctx context.Context, lk objstore.Lake, opts Options) (*Summary, error) {
	opts = opts.withDefaults()
	c := &compactor{lake: lk, opts: opts, log: opts.Logger, sum: &Summary{}}
	c.deletes = &deleter{lake: lk, crash: opts.CrashHook, log: opts.Logger}
	if err := opts.Validate(); err != nil {
		return c.sum, err
	}
	var tables []table
	for _, name := range opts.Tables {
		t := table{name: name}
		if name != schema.TableDeadLetters {
			rows, ok := schema.Lookup(name)
			if !ok {
				return c.sum, fmt.Errorf("unknown table %q (tables: %s)", name, strings.Join(schema.AllTableNames(), ", "))
			}
			t.rows = rows
			if _, err := extsort.ResolveColumns(rows.Schema(), c.sortKeys(t)); err != nil {
				return c.sum, err
			}
		}
		tables = append(tables, t)
	}
	// Pass 1: one listing of each table (a page per 1,000 objects) finds the
	// partitions that need a visit; a compacted, untouched partition costs
	// nothing more.
	type visit struct {
		table table
		dt    string
	}
	var visits []visit
	for _, t := range tables {
		dts, err := c.survey(ctx, t)
		if err != nil {
			return c.sum, err
		}
		for _, dt := range dts {
			visits = append(visits, visit{t, dt})
		}
	}
	// Pass 2: each partition under its lock, one after another (the memory
	// bound is per partition).
	for i, v := range visits {
		if err := ctx.Err(); err != nil {
			return c.sum, err
		}
		if err := c.partition(ctx, v.table, v.dt); err != nil {
			if ctx.Err() != nil {
				return c.sum, ctx.Err()
			}
			c.sum.Failed++
			c.log.Error("partition compaction failed; it is left as it was", "table", v.table.name, "dt", v.dt, "err", err)
		}
		opts.Progress(i+1, len(visits))
		if err := c.deletes.run(ctx, false); err != nil {
			return c.sum, err
		}
	}
	if err := c.deletes.run(ctx, true); err != nil {
		return c.sum, err
	}
	return c.sum, nil
}

// table is one table compaction visits: its name, and its declaration,
// nil for the dead letters (JSON lines, concatenated, not sorted).
type table struct {
	name string
	rows schema.AnyTable
}

// sortKeys are the columns t's compacted objects are sorted by: the
// table's (schema's declaration), unless Options.SortKeys overrides them.
func (c *compactor) sortKeys(t table) []string {
	if k, ok := c.opts.SortKeys[t.name]; ok {
		return k
	}
	if t.rows == nil {
		return nil
	}
	return t.rows.SortKeys()
}

type compactor struct {
	lake    objstore.Lake
	opts    Options
	log     *slog.Logger
	sum     *Summary
	deletes *deleter
}

// deleter deletes absorbed names once their grace is over — the inputs of
// this run's finished runs DeleteGrace after their markers, and absorbed
// names found again whose markers are younger than that, DeleteGrace after
// the marker — while the next partitions are compacted; at the end the run
// waits for the rest (at most DeleteGrace and a second). The deletes need no
// lock: every key has its marker, so any run would delete it as an absorbed
// name, keeping the same grace, and one killed before it got here leaves
// them to the next visit, which does exactly that.
type deleter struct {
	lake  objstore.Lake
	crash func(string)
	log   *slog.Logger
	queue []deferredDelete // by notBefore
	first bool
}

type deferredDelete struct {
	keys      []string
	notBefore time.Time
}

// add queues keys for deletion at notBefore.
func (d *deleter) add(keys []string, notBefore time.Time) {
	i, _ := slices.BinarySearchFunc(d.queue, notBefore, func(e deferredDelete, t time.Time) int {
		if e.notBefore.After(t) {
			return 1
		}
		return -1 // after every entry due at the same time
	})
	d.queue = slices.Insert(d.queue, i, deferredDelete{keys: keys, notBefore: notBefore})
}

// run deletes what is due; with all, it waits for the rest and deletes it.
func (d *deleter) run(ctx context.Context, all bool) error {
	for len(d.queue) > 0 {
		next := d.queue[0]
		if wait := time.Until(next.notBefore); wait > 0 {
			if !all {
				return nil
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			}
		}
		// The first delete alone, then the rest side by side: a crash
		// "between" the deletes leaves some done, some not.
		keys := next.keys
		if !d.first && len(keys) > 0 {
			if err := d.lake.Delete(ctx, keys[0]); err != nil {
				return err
			}
			d.first = true
			d.crash("between-deletes")
			keys = keys[1:]
		}
		if err := parallelDo(ctx, keys, d.lake.Delete); err != nil {
			return err
		}
		d.queue = d.queue[1:]
	}
	return nil
}

// survey lists table once and returns the partitions to visit: those holding
// anything but compacted objects (batch objects, temporary files, objects to
// report), and recent ones holding several small compacted objects. Objects
// outside any partition are reported here.
func (c *compactor) survey(ctx context.Context, t table) ([]string, error) {
	type partStats struct{ other, small int }
	parts := map[string]*partStats{}
	for o, err := range c.lake.List(ctx, t.name+"/") {
		if err != nil {
			return nil, fmt.Errorf("list table %s: %w", t.name, err)
		}
		rest := strings.TrimPrefix(o.Key, t.name+"/")
		part, file, ok := strings.Cut(rest, "/")
		dt, isDate := strings.CutPrefix(part, "dt=")
		if !ok || !isDate || !layout.ValidDate(dt) {
			c.unrecognised(o, "outside any partition")
			continue
		}
		p := parts[dt]
		if p == nil {
			p = &partStats{}
			parts[dt] = p
		}
		name, _ := strings.CutSuffix(file, layout.Extension(t.name))
		if _, _, ok := layout.ParseCompactedName(name); ok && !o.Irregular && !strings.Contains(file, "/") {
			if o.Size < c.opts.TargetSize/2 {
				p.small++
			}
			continue
		}
		p.other++
	}
	// Partitions with a rolled-back run's record: an output of that run may
	// have landed since (one listing of the table's manifests).
	rolledBack := map[string]bool{}
	for o, err := range c.lake.List(ctx, layout.MetaPrefix+"compactions/"+t.name+"/") {
		if err != nil {
			return nil, fmt.Errorf("list the compactions of table %s: %w", t.name, err)
		}
		rest, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, layout.MetaPrefix+"compactions/"+t.name+"/dt="), layout.RolledBackSuffix)
		if dt, _, found := strings.Cut(rest, "/"); ok && found && layout.ValidDate(dt) {
			rolledBack[dt] = true
		}
	}
	c.sum.Partitions += len(parts)
	var out []string
	for dt := range rolledBack {
		if parts[dt] == nil {
			out = append(out, dt)
		}
	}
	for dt, p := range parts {
		if p.other > 0 || (c.recent(dt) && p.small >= 2) || rolledBack[dt] {
			out = append(out, dt)
		} else {
			c.sum.UpToDate++
		}
	}
	slices.Sort(out)
	return out, nil
}

// recent reports whether partition dt may still receive objects and its
// compacted objects are merged again (see remergeDays).
func (c *compactor) recent(dt string) bool {
	return dt >= c.opts.Now().UTC().AddDate(0, 0, -remergeDays).Format(time.DateOnly)
}

// unrecognised reports an object that is neither a batch object nor a
// compacted one: it is kept, never read.
func (c *compactor) unrecognised(o objstore.ObjectInfo, why string) {
	c.sum.Unrecognised++
	c.log.Warn("unrecognised object kept (neither a batch object nor a compacted one; never read or deleted)", "key", fmt.Sprintf("%q", o.Key), "why", why, "bytes", o.Size)
}

// parallelDo calls fn for every item, at most parallel at once, and returns
// the first error (the others stop as soon as they see it), or the cause of
// ctx's end when it ended before every item was done.
func parallelDo[T any](ctx context.Context, items []T, fn func(context.Context, T) error) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	for _, it := range items {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error { return fn(gctx, it) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return context.Cause(ctx)
}
