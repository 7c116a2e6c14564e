package current

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/schema"
)

// Options configure a refresh.
type Options struct {
	// Tables to refresh (default: every table with a current table,
	// schema.CurrentTableNames).
	Tables []string
	// Retention is what the current tables keep (default: Security Hub's,
	// DefaultRetention; the zero value is the default).
	Retention Retention
	// TargetSize bounds a snapshot object's size (default 256 MiB).
	TargetSize int64
	// Encode are the Parquet settings: the writer's (encode.WriterOptions),
	// with row groups of DefaultRowGroupBytes unless RowGroupBytes is set.
	Encode encode.Options
	// SortBuffer bounds the rows each of the two sorts holds in memory
	// (default 24 MiB of estimated heap); more are spilled to TempDir.
	SortBuffer int64
	// TempDir holds spilled runs (default: the system's).
	TempDir string
	// LockTTL is how long a table's refresh lock lasts unrenewed (default
	// 10 minutes); it is renewed every third of that.
	LockTTL time.Duration
	// DeleteGrace is how long the objects of a replaced snapshot stay after
	// the new one's symlink manifest is in place (default 10 minutes;
	// negative: none). See the package documentation.
	DeleteGrace time.Duration
	// Holder names this refresh in locks and manifests.
	Holder string
	// Logger gets a line per table refreshed and per problem.
	Logger *slog.Logger
	// Progress is called after each table, with how many are done.
	Progress func(done, total int)
	// CrashHook is for tests: it is called at the named points of
	// CrashPoints.
	CrashHook func(point string)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// CrashPoints are the named points of a refresh where Options.CrashHook is
// called (the tests of the real binary kill it at each).
var CrashPoints = []string{"after-manifest", "after-object", "after-commit", "after-symlink", "between-deletes", "before-done"}

// Defaults.
const (
	DefaultTargetSize = 256 << 20
	// DefaultSortBuffer keeps MemoryBudget at compaction's
	// (compact.MemoryBudget with its defaults): three buffers are held at
	// once where compaction holds two.
	DefaultSortBuffer    = 24 << 20
	DefaultRowGroupBytes = 16 << 20
	DefaultLockTTL       = 10 * time.Minute
	// DefaultDeleteGrace is how long a replaced snapshot's objects stay
	// after the symlink manifest moved on: an Athena query reads the
	// manifest when it is planned and the objects afterwards, so a query
	// planned just before the commit reads the old objects for as long as
	// it runs. Athena's default DML query timeout is 30 minutes, but the
	// queries these tables are for (a glance at the open findings) take
	// seconds: 10 minutes covers them with a wide margin, and is what the
	// refresh waits before it returns. A longer query that began before the
	// commit fails with a missing object (it is re-run, never wrong).
	DefaultDeleteGrace = 10 * time.Minute
	// tempMinAge: a directory store's temporary file is a dead writer's
	// leftover only if no writer holds it and it is older than this.
	tempMinAge = time.Minute
	// parallel is how many deletes are in flight at once.
	parallel = 16
)

// The memory budget of a refresh, in one place: the current command's
// GOMEMLIMIT uses it.
const (
	// BudgetBase is the process beyond the sorts: the runtime, listings,
	// the folded names of the lake's objects (about a hundred bytes each),
	// slack.
	BudgetBase = 64 << 20
)

// MemoryBudget is the heap a refresh under o may use: at most three sort
// buffers at once (the first sort's last run, not spilled, while the second
// sort fills its buffer and spills it), the two merges' readers, the
// inputs decoded ahead, the row group being encoded, and BudgetBase.
// Tables are refreshed one after another.
func MemoryBudget(o Options) int64 {
	o = o.withDefaults()
	return 3*o.SortBuffer + 8*extsort.DecodeInFlight + 2*extsort.MergeFanIn*2*extsort.SpillBlock + 3*o.Encode.RowGroupBytes + BudgetBase
}

func (o Options) withDefaults() Options {
	if len(o.Tables) == 0 {
		o.Tables = schema.CurrentTableNames()
	}
	if o.Retention == (Retention{}) {
		o.Retention = DefaultRetention()
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
		o.Holder = "hublake current"
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

// settings are the options that shape a snapshot: a refresh whose settings
// differ from the committed snapshot's rewrites it.
func (o Options) settings() string {
	return fmt.Sprintf("codec=%s target=%d rowgroup=%d/%d retention=%s", o.Encode.Codec, o.TargetSize, o.Encode.RowGroupRows, o.Encode.RowGroupBytesOrDefault(), o.Retention)
}

// Validate refuses options that cannot work. Run calls it.
func (o Options) Validate() error {
	for _, name := range o.Tables {
		t, ok := schema.Lookup(name)
		if !ok || t.Newest() == nil {
			return fmt.Errorf("table %q has no current table (tables: %s)", name, strings.Join(schema.CurrentTableNames(), ", "))
		}
	}
	r := o.Retention
	if !r.None && r != (Retention{}) && (r.Active <= 0 || r.Archived <= 0 || r.Closed <= 0) {
		return fmt.Errorf("retention %s: every duration must be positive (or retention none)", r)
	}
	return o.Encode.Validate()
}

// Outcome is what a refresh did to a table.
type Outcome string

const (
	Refreshed Outcome = "refreshed"  // a new snapshot was committed
	UpToDate  Outcome = "up to date" // nothing new, nothing expiring: nothing written
	Locked    Outcome = "locked"     // another refresh held the table's lock: skipped
	Failed    Outcome = "failed"     // see Err; the committed snapshot is unchanged
)

// TableSummary is what a refresh did to one table.
type TableSummary struct {
	Table   string
	Outcome Outcome
	Err     error
	// The committed snapshot after the run: its id, rows, commit time, and
	// the time of the listing it holds the history of (a refresh that
	// found nothing new vouches for it again: Fresh is its listing's time).
	Snapshot  string
	Rows      int64
	Committed time.Time
	Fresh     time.Time

	ObjectsRead    int   // history objects read (new since the last refresh)
	ObjectsSkipped int   // new compacted objects whose inputs were read already
	Relisted       int   // partitions listed again: an object went while it was read
	RowsRead       int64 // rows read: the previous snapshot's and the new objects'
	BytesRead      int64
	Expired        int64 // findings dropped by retention
	ObjectsWritten int
	BytesWritten   int64
	Spilled        int // sorted runs spilled
	Recovered      int // refreshes a crash interrupted, rolled back or finished
	Deleted        int // objects of replaced snapshots deleted
}

// Run refreshes the current tables of lk, one after another. A table that
// fails is logged and reported in its summary and the others are still
// refreshed; the error joins the tables' errors.
func Run(ctx context.Context, lk objstore.Lake, opts Options) ([]TableSummary, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	var out []TableSummary
	var errs []error
	for i, name := range opts.Tables {
		t, _ := schema.Lookup(name)
		r := &refresher{lake: lk, opts: opts, t: t, log: opts.Logger.With("table", name), sum: TableSummary{Table: name}}
		err := r.run(ctx)
		if err != nil {
			r.sum.Outcome, r.sum.Err = Failed, err
			if ctx.Err() == nil {
				r.log.Error("refresh failed; the committed snapshot is unchanged", "err", err)
			}
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
		out = append(out, r.sum)
		opts.Progress(i+1, len(opts.Tables))
		if ctx.Err() != nil {
			return out, errors.Join(append(errs, ctx.Err())...)
		}
	}
	return out, errors.Join(errs...)
}
