package current

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/compact"
	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/schema"
)

var day0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func findingRow(f schema.Finding) parquet.Row { return schema.Findings.Schema().Deconstruct(nil, &f) }
func ocsfRow(f schema.OCSFFinding) parquet.Row {
	return schema.OCSFFindings.Schema().Deconstruct(nil, &f)
}
func i32(v int32) *int32 { return &v }

// newLake is an empty directory lake for a test.
func newLake(t *testing.T) *dirlake.Lake {
	t.Helper()
	lk, err := dirlake.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// TestRetentionRules: Security Hub's rules, each judged on a finding's
// newest row against the refresh's clock.
func TestRetentionRules(t *testing.T) {
	t.Parallel()
	now := day0
	sh := DefaultRetention()
	custom := Retention{Active: 48 * time.Hour, Archived: 24 * time.Hour, Closed: time.Hour}
	for _, c := range []struct {
		name  string
		table schema.AnyTable
		row   parquet.Row
		r     Retention
		keep  bool
		at    time.Time // zero: never expires
	}{
		{"active, updated 89 days ago", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-89 * 24 * time.Hour), RecordState: "ACTIVE"}), sh, true, now.Add(24 * time.Hour)},
		{"active, updated exactly 90 days ago", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-90 * 24 * time.Hour), RecordState: "ACTIVE"}), sh, false, now},
		{"archived, updated 29 days ago", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-29 * 24 * time.Hour), RecordState: "ARCHIVED"}), sh, true, now.Add(24 * time.Hour)},
		{"archived, updated 31 days ago", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-31 * 24 * time.Hour), RecordState: "ARCHIVED"}), sh, false, now.Add(-24 * time.Hour)},
		{"record state lower case is not archived", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-31 * 24 * time.Hour), RecordState: "archived"}), sh, true, now.Add(59 * 24 * time.Hour)},
		{"no updated_at: event_time counts", schema.Findings, findingRow(schema.Finding{EventTime: now.Add(-91 * 24 * time.Hour)}), sh, false, now.Add(-24 * time.Hour)},
		{"no time at all: kept", schema.Findings, findingRow(schema.Finding{RecordState: "ARCHIVED"}), sh, true, time.Time{}},
		{"none keeps everything", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-900 * 24 * time.Hour)}), Retention{None: true}, true, time.Time{}},
		{"custom archived", schema.Findings, findingRow(schema.Finding{UpdatedAt: now.Add(-23 * time.Hour), RecordState: "ARCHIVED"}), custom, true, now.Add(time.Hour)},
		{"ocsf active, modified 91 days ago", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{ModifiedTime: now.Add(-91 * 24 * time.Hour), ActivityName: "Update", ActivityID: i32(2)}), sh, false, now.Add(-24 * time.Hour)},
		{"ocsf closed by name, 13 days", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{ModifiedTime: now.Add(-13 * 24 * time.Hour), ActivityName: "Close"}), sh, true, now.Add(24 * time.Hour)},
		{"ocsf closed by name, any case, 15 days", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{ModifiedTime: now.Add(-15 * 24 * time.Hour), ActivityName: "CLOSE"}), sh, false, now.Add(-24 * time.Hour)},
		{"ocsf closed by id 3, 15 days", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{ModifiedTime: now.Add(-15 * 24 * time.Hour), ActivityID: i32(3)}), sh, false, now.Add(-24 * time.Hour)},
		{"ocsf no modified_time: event_time counts", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{EventTime: now.Add(-10 * 24 * time.Hour), ActivityName: "Close"}), sh, true, now.Add(4 * 24 * time.Hour)},
		{"ocsf custom closed", schema.OCSFFindings, ocsfRow(schema.OCSFFinding{ModifiedTime: now.Add(-2 * time.Hour), ActivityName: "Close"}), custom, false, now.Add(-time.Hour)},
	} {
		t.Run(c.name, func(t *testing.T) {
			ret, err := newRetainer(c.table, c.r)
			if err != nil {
				t.Fatal(err)
			}
			at, ok := ret.expires(c.row)
			keep := !ok || now.Before(at)
			if keep != c.keep || !at.Equal(c.at) {
				t.Errorf("keep %v expires %v (%v), want keep %v expires %v", keep, at, ok, c.keep, c.at)
			}
		})
	}
}

// TestNewestOrder: rows sort by finding, then newest first by the views'
// order, NULL times last, the tiebreak last; the OCSF key is the view's
// coalesce (a missing account or product uid counts as ”, a missing
// finding uid without metadata uid is the NULL key).
func TestNewestOrder(t *testing.T) {
	t.Parallel()
	k, err := newNewestKeyer(schema.Findings)
	if err != nil {
		t.Fatal(err)
	}
	f := func(id string, upd, proc time.Time, src string, idx int32) parquet.Row {
		return findingRow(schema.Finding{ProductARN: "p", ID: id, UpdatedAt: upd, ProcessedAt: proc, Source: src, FindingIndex: idx})
	}
	rows := []parquet.Row{
		f("a", day0, day0, "s1", 0),                  // 4: ties but the tiebreak
		f("a", time.Time{}, day0, "s9", 0),           // 6: no updated_at: last
		f("a", day0.Add(time.Hour), day0, "s0", 0),   // 0: newest
		f("a", day0, day0.Add(time.Minute), "s0", 0), // 1: processed later
		f("a", day0, day0, "s1", 1),                  // 3: finding_index higher
		f("a", day0, day0, "s2", 0),                  // 2: source higher
		f("a", day0, time.Time{}, "s1", 0),           // 5: no processed_at
		f("b", day0.Add(-time.Hour), day0, "s0", 0),  // 7: another finding
	}
	want := []int{2, 3, 5, 4, 0, 6, 1, 7}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return k.Compare(k.Key(rows[a], false), k.Key(rows[b], false)) })
	if !slices.Equal(idx, want) {
		t.Errorf("order %v, want %v", idx, want)
	}

	o, err := newNewestKeyer(schema.OCSFFindings)
	if err != nil {
		t.Fatal(err)
	}
	key := func(f schema.OCSFFinding) string {
		v := o.Key(ocsfRow(f), false)[0]
		if v.IsNull() {
			return "NULL"
		}
		return string(v.ByteArray())
	}
	for _, c := range []struct {
		f    schema.OCSFFinding
		want string
	}{
		{schema.OCSFFinding{MetadataUID: "m", AccountUID: "a", ProductUID: "p", FindingUID: "f"}, "m"},
		{schema.OCSFFinding{AccountUID: "a", ProductUID: "p", FindingUID: "f"}, "a/p/f"},
		{schema.OCSFFinding{ProductUID: "p", FindingUID: "f"}, "/p/f"},
		{schema.OCSFFinding{FindingUID: "f"}, "//f"},
		{schema.OCSFFinding{AccountUID: "a"}, "NULL"},
	} {
		if got := key(c.f); got != c.want {
			t.Errorf("key of %+v: %q, want %q", c.f, got, c.want)
		}
	}
}

// putRows writes rows of a table as one Parquet object at key.
func putRows[T any](t *testing.T, lk objstore.Lake, key string, rows ...T) {
	t.Helper()
	var b bytes.Buffer
	w := parquet.NewGenericWriter[T](&b)
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := objstore.PutSmall(context.Background(), lk, key, b.Bytes()); err != nil {
		t.Fatal(err)
	}
}

// snapshotRows reads the committed snapshot of table's current table.
func snapshotRows(t *testing.T, lk objstore.Lake, table string) []schema.Finding {
	t.Helper()
	key, _ := layout.SymlinkManifestKey(table)
	b, err := objstore.ReadSmall(context.Background(), lk, key, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out []schema.Finding
	for _, line := range strings.Fields(string(b)) {
		k := strings.TrimPrefix(line, strings.TrimSuffix(lk.URL("x"), "x"))
		obj, err := lk.Open(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := parquet.Read[schema.Finding](obj, obj.Size())
		obj.Close()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return out
}

// TestRefreshLocked: a refresh that finds the table's lock held skips the
// table and says so; once the lock is free it refreshes.
func TestRefreshLocked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := newLake(t)
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s"})
	lockKey, _ := layout.CurrentLockKey("findings")
	lock, err := lk.TryLock(ctx, lockKey, "someone", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }}
	sums, err := Run(ctx, lk, opts)
	if err != nil || len(sums) != 1 || sums[0].Outcome != Locked {
		t.Fatalf("with the lock held: %+v, %v", sums, err)
	}
	if _, err := lk.Stat(ctx, "findings_current/_symlink_format_manifest/manifest"); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("a skipped refresh wrote the symlink manifest: %v", err)
	}
	if err := lock.Release(ctx); err != nil {
		t.Fatal(err)
	}
	sums, err = Run(ctx, lk, opts)
	if err != nil || sums[0].Outcome != Refreshed || sums[0].Rows != 1 {
		t.Fatalf("with the lock free: %+v, %v", sums, err)
	}
}

// goneLake is a lake whose first Open of one key finds it gone, as when a
// compaction deletes an object between a refresh's listing and its read
// (its replacement is already there).
type goneLake struct {
	objstore.Lake
	gone   string
	opened bool
	before func()
}

func (g *goneLake) Open(ctx context.Context, key string) (objstore.ReadObject, error) {
	if key == g.gone && !g.opened {
		g.opened = true
		g.before()
		return nil, objstore.ErrNotExist
	}
	return g.Lake.Open(ctx, key)
}

// TestRefreshRelists: an object gone between the listing and its read
// makes the refresh list its partition again and read what replaced it.
func TestRefreshRelists(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newLake(t)
	newer := schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0.Add(time.Hour), Source: "s2", Title: "newer"}
	putRows(t, d, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s1"})
	putRows(t, d, "findings/dt=2026-11-01/b.parquet", newer)
	lk := &goneLake{Lake: d, gone: "findings/dt=2026-11-01/b.parquet", before: func() {
		// A compaction replaced a and b with one object, then deleted b.
		putRows(t, d, "findings/dt=2026-11-01/"+layout.CompactedName("0123456789abcdef0123456789abcdef", 0)+".parquet",
			schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s1"}, newer)
		if err := d.Delete(ctx, "findings/dt=2026-11-01/b.parquet"); err != nil {
			t.Error(err)
		}
	}}
	sums, err := Run(ctx, lk, Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }})
	if err != nil || sums[0].Relisted != 1 {
		t.Fatalf("%+v, %v", sums, err)
	}
	got := snapshotRows(t, d, "findings")
	if len(got) != 1 || got[0].Title != "newer" {
		t.Errorf("snapshot %+v, want the newer row", got)
	}
}

// TestRefreshBoundedSort: a snapshot larger than the sort buffers goes
// through spilled runs and comes out the same.
func TestRefreshBoundedSort(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := newLake(t)
	var rows []schema.Finding
	for i := range 6000 {
		rows = append(rows, schema.Finding{ProductARN: "p", ID: strings.Repeat("x", i%7) + string(rune('a'+i%26)) + time.Duration(i).String(),
			UpdatedAt: day0.Add(time.Duration(i%5) * time.Minute), Source: "s", FindingIndex: int32(i), Description: strings.Repeat("d", 200)})
	}
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", rows[:3000]...)
	putRows(t, lk, "findings/dt=2026-11-02/b.parquet", rows[3000:]...)
	sums, err := Run(ctx, lk, Options{Tables: []string{"findings"}, DeleteGrace: -1, SortBuffer: 64 << 10, TargetSize: 256 << 10,
		Encode: encode.Options{RowGroupRows: 500}, Now: func() time.Time { return day0 }})
	if err != nil {
		t.Fatal(err)
	}
	if sums[0].Spilled < 2*extsort.MergeFanIn || sums[0].ObjectsWritten < 2 {
		t.Errorf("spilled %d runs, wrote %d objects: the test proves nothing", sums[0].Spilled, sums[0].ObjectsWritten)
	}
	got := snapshotRows(t, lk, "findings")
	if int64(len(got)) != sums[0].Rows || len(got) != 6000 {
		t.Fatalf("%d rows, summary %d, want 6000", len(got), sums[0].Rows)
	}
	ids := map[string]bool{}
	for _, r := range got {
		ids[r.ID] = true
	}
	if len(ids) != 6000 {
		t.Errorf("%d distinct findings, want 6000", len(ids))
	}
}

// TestMemoryBudget: with the defaults, a refresh's budget is compaction's
// (DefaultSortBuffer is chosen so).
func TestMemoryBudget(t *testing.T) {
	t.Parallel()
	if got, want := MemoryBudget(Options{}), compact.MemoryBudget(compact.Options{}); got > want {
		t.Errorf("a refresh's budget %d MiB, compaction's %d MiB", got>>20, want>>20)
	}
}

// TestRefreshClearsLeftovers: an object of another snapshot under the
// current table (a rolled-back refresh's upload that landed later) is
// deleted by the next refresh even with nothing new; a stranger's file is
// kept, and costs no write.
func TestRefreshClearsLeftovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	lk, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s"})
	opts := Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }}
	if sums, err := Run(ctx, lk, opts); err != nil || sums[0].Outcome != Refreshed {
		t.Fatalf("%+v, %v", sums, err)
	}
	late, _ := layout.SnapshotObjectKey("findings", "0123456789abcdef0123456789abcdef", 0)
	putRows(t, lk, late, schema.Finding{ProductARN: "p", ID: "2", Source: "s"})
	stranger := filepath.Join(root, "findings_current", "README.txt")
	if err := os.WriteFile(stranger, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	sums, err := Run(ctx, lk, opts)
	if err != nil || sums[0].Outcome != UpToDate || sums[0].Deleted != 1 {
		t.Fatalf("%+v, %v", sums, err)
	}
	if _, err := lk.Stat(ctx, late); !errors.Is(err, objstore.ErrNotExist) {
		t.Errorf("the late upload is still there: %v", err)
	}
	before := tree(t, root)
	sums, err = Run(ctx, lk, opts)
	if err != nil || sums[0].Outcome != UpToDate || sums[0].Deleted != 0 {
		t.Fatalf("%+v, %v", sums, err)
	}
	if after := tree(t, root); !maps.Equal(before, after) {
		t.Errorf("a refresh with nothing to do wrote:\nbefore %v\nafter  %v", before, after)
	}
	if _, err := os.Stat(stranger); err != nil {
		t.Errorf("the stranger's file: %v", err)
	}
}

// tree is every file under root with its size and modification time.
func tree(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		out[p] = info.ModTime().String() + " " + strconv.FormatInt(info.Size(), 10)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRefreshRereadsRewrittenObject: an object written again under its
// name with other bytes (a replayed batch holding one more logical
// duplicate) is read again: the state keeps names with their ETags.
func TestRefreshRereadsRewrittenObject(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := newLake(t)
	first := schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s1"}
	dup := schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s2", Title: "the replay's copy"}
	key := "findings/dt=2026-11-01/a.parquet"
	putRows(t, lk, key, first)
	opts := Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }}
	if _, err := Run(ctx, lk, opts); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond) // a directory's ETag is size and modification time
	putRows(t, lk, key, first, dup)
	sums, err := Run(ctx, lk, opts)
	if err != nil || sums[0].Outcome != Refreshed || sums[0].ObjectsRead != 1 {
		t.Fatalf("%+v, %v", sums, err)
	}
	if got := snapshotRows(t, lk, "findings"); len(got) != 1 || got[0].Source != "s2" {
		t.Errorf("snapshot %+v, want the row the tiebreak picks (source s2)", got)
	}
}

// TestRefreshEmptyLiveSet: when retention drops every finding, the
// committed snapshot is one object without rows, not an empty manifest
// (which readers that take the manifest's list refuse: DuckDB's
// read_parquet of an empty list is an error); the object is valid Parquet
// with the table's schema.
func TestRefreshEmptyLiveSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := newLake(t)
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s"})
	later := func() time.Time { return day0.Add(365 * 24 * time.Hour) }
	sums, err := Run(ctx, lk, Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: later})
	if err != nil || sums[0].Outcome != Refreshed || sums[0].Rows != 0 {
		t.Fatalf("%+v, %v", sums, err)
	}
	key, _ := layout.SymlinkManifestKey("findings")
	b, err := objstore.ReadSmall(ctx, lk, key, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	if len(lines) != 1 {
		t.Fatalf("the manifest lists %d objects, want one without rows: %q", len(lines), b)
	}
	obj, err := lk.Open(ctx, strings.TrimPrefix(lines[0], strings.TrimSuffix(lk.URL("x"), "x")))
	if err != nil {
		t.Fatal(err)
	}
	defer obj.Close()
	f, err := parquet.OpenFile(obj, obj.Size())
	if err != nil {
		t.Fatalf("the empty snapshot's object: %v", err)
	}
	if f.NumRows() != 0 || !parquet.SameNodes(f.Schema(), schema.Findings.Schema()) {
		t.Errorf("%d rows, schema %v; want 0 rows and the table's schema", f.NumRows(), f.Schema())
	}
}

// errTestCrash stops a refresh at a crash point (recovered by crashAt).
var errTestCrash = errors.New("crash")

// crashAt runs a refresh that stops at point, calling at first.
func crashAt(t *testing.T, lk objstore.Lake, opts Options, point string, at func()) {
	t.Helper()
	defer func() {
		if r := recover(); r != errTestCrash {
			panic(r)
		}
	}()
	opts.CrashHook = func(p string) {
		if p == point {
			at()
			panic(errTestCrash)
		}
	}
	_, _ = Run(context.Background(), lk, opts)
	t.Fatalf("the refresh did not reach %s", point)
}

// TestRefreshLateCommitAfterRollback: a refresh's commit (its manifest's
// PUT) held up on the way lands after the next run rolled the refresh back
// and had not replaced it yet. The run after that must not finish it —
// readers would be pointed at objects that are gone, and the snapshot they
// read deleted — but roll it back again and refresh from the snapshot
// before it.
func TestRefreshLateCommitAfterRollback(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := t.TempDir()
	lk, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }}
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s1", Title: "old"})
	if _, err := Run(ctx, lk, opts); err != nil {
		t.Fatal(err)
	}
	putRows(t, lk, "findings/dt=2026-11-01/b.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0.Add(time.Hour), Source: "s2", Title: "new"},
		schema.Finding{ProductARN: "p", ID: "2", UpdatedAt: day0, Source: "s2", Title: "two"})

	// A refresh dies right after its commit; its committed manifest is what
	// the held-up PUT carries.
	var manifestPath string
	var committed []byte
	crashAt(t, lk, opts, "after-commit", func() {
		ms, _ := filepath.Glob(filepath.Join(root, "_hublake", "current", "findings", "*.json"))
		for _, m := range ms {
			b, _ := os.ReadFile(m)
			if bytes.Contains(b, []byte(`"state": "committed"`)) {
				manifestPath, committed = m, b
			}
		}
	})
	if committed == nil {
		t.Fatal("no committed manifest at the commit")
	}
	// As the lake would be had the commit not landed: pending. The next
	// run rolls it back, and dies before it has written its own snapshot.
	if err := os.WriteFile(manifestPath, bytes.Replace(committed, []byte(`"state": "committed"`), []byte(`"state": "pending"`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	crashAt(t, lk, opts, "after-manifest", func() {})
	// The held-up commit lands.
	if err := os.WriteFile(manifestPath, committed, 0o644); err != nil {
		t.Fatal(err)
	}
	sums, err := Run(ctx, lk, opts)
	if err != nil {
		t.Fatalf("the run after the late commit: %+v, %v", sums, err)
	}
	got := snapshotRows(t, lk, "findings")
	titles := map[string]string{}
	for _, r := range got {
		titles[r.ID] = r.Title
	}
	if len(got) != 2 || titles["1"] != "new" || titles["2"] != "two" {
		t.Errorf("snapshot %v, want finding 1 new and finding 2", titles)
	}
}

// TestRefreshRepairsSymlink: a symlink manifest that does not list the
// committed snapshot (an earlier refresh's PUT held up on the way that
// landed after a later one) is written again by the next run, even with
// nothing new in the history.
func TestRefreshRepairsSymlink(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	lk := newLake(t)
	opts := Options{Tables: []string{"findings"}, DeleteGrace: -1, Now: func() time.Time { return day0 }}
	putRows(t, lk, "findings/dt=2026-11-01/a.parquet", schema.Finding{ProductARN: "p", ID: "1", UpdatedAt: day0, Source: "s1"})
	if _, err := Run(ctx, lk, opts); err != nil {
		t.Fatal(err)
	}
	key, _ := layout.SymlinkManifestKey("findings")
	good, err := objstore.ReadSmall(ctx, lk, key, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if err := objstore.PutSmall(ctx, lk, key, []byte(lk.URL("findings_current/snapshot=00000000000000000000000000000000/part-0000.parquet")+"\n")); err != nil {
		t.Fatal(err)
	}
	sums, err := Run(ctx, lk, opts)
	if err != nil {
		t.Fatalf("%+v, %v", sums, err)
	}
	got, err := objstore.ReadSmall(ctx, lk, key, 1<<20)
	if err != nil || !bytes.Equal(got, good) {
		t.Errorf("the symlink manifest after the run: %q, %v; want %q", got, err, good)
	}
	if rows := snapshotRows(t, lk, "findings"); len(rows) != 1 {
		t.Errorf("%d rows, want 1", len(rows))
	}
}
