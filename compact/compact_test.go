package compact

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// The in-process tests of the protocol and the merge. cmd/hublake's tests run
// the real binary against the local stack (kill -9 at every step, zombies,
// replays, concurrent runs, a consumer writing meanwhile).

// corpus writes a generated corpus of n units over days days ending at end.
func corpus(t *testing.T, n int64, days int, end time.Time, bad float64) string {
	t.Helper()
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.Days, cfg.End, cfg.BadRatio = 0, n, days, end, bad
	dir := filepath.Join(t.TempDir(), "corpus")
	if _, err := gen.WriteDir(context.Background(), dir, cfg, gen.WriteOptions{FileBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// backfill writes the corpus into the lake at root in small batches (many
// objects per partition, as the stream writes them).
func backfill(t *testing.T, root, corpus string, units int, counts *encode.AbsorbedCounts) *dirlake.Lake {
	t.Helper()
	lk, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	inputs := files.Inputs(context.Background(), []string{corpus}, nil, nil)
	err = files.Backfill(context.Background(), inputs, files.BackfillOptions{
		Policy: pipeline.Policy{MaxUnits: units}, Store: lk, Encode: encode.Options{Absorbed: counts},
		NotAfter: time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return lk
}

// newLake writes a lake of n generated units over days days before
// 2026-11-01 in batches of units, and returns its root, the store and the
// directories of its findings partitions.
func newLake(t *testing.T, n int64, days, units int) (string, *dirlake.Lake, []string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "lake")
	lk := backfill(t, root, corpus(t, n, days, past, 0), units, nil)
	parts, _ := filepath.Glob(filepath.Join(root, "findings", "dt=*"))
	return root, lk, parts
}

// dateOf is the dt of a partition directory.
func dateOf(part string) string { return strings.TrimPrefix(filepath.Base(part), "dt=") }

// objects lists the files of each partition directory of the lake's tables.
func objects(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, table := range schema.AllTableNames() {
		dirs, _ := filepath.Glob(filepath.Join(root, table, "dt=*"))
		for _, d := range dirs {
			entries, err := os.ReadDir(d)
			if err != nil {
				t.Fatal(err)
			}
			key := table + "/" + filepath.Base(d)
			for _, e := range entries {
				out[key] = append(out[key], e.Name())
			}
		}
	}
	return out
}

// onlyCompacted checks that every partition of the lake holds compacted
// objects only.
func onlyCompacted(t *testing.T, root string) {
	t.Helper()
	for part, names := range objects(t, root) {
		for _, n := range names {
			if !strings.HasPrefix(n, "compacted-") {
				t.Errorf("%s still holds %s", part, n)
			}
		}
	}
}

func run(t *testing.T, lk objstore.Lake, o Options) *Summary {
	t.Helper()
	if o.DeleteGrace == 0 {
		o.DeleteGrace = -1
	}
	sum, err := Run(context.Background(), lk, o)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 0 {
		t.Fatalf("%d partitions failed: %+v", sum.Failed, sum)
	}
	return sum
}

var past = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// TestCompactKeepsRows: a lake of many small objects compacts into one
// object per partition with the same multiset of rows (count and hash of
// every row, per table and partition), sorted by the table's sort keys; a
// second run does nothing; a backfill re-run over the same input afterwards
// writes nothing (every name is absorbed) and the lake is unchanged.
func TestCompactKeepsRows(t *testing.T) {
	t.Parallel()
	src := corpus(t, 1500, 3, past, 0.02)
	root := filepath.Join(t.TempDir(), "lake")
	lk := backfill(t, root, src, 15, nil)
	db := lakecheck.Open(t)
	before := lakecheck.LakeDigest(t, db, root)
	objsBefore := objects(t, root)
	var batchObjects int
	for _, names := range objsBefore {
		batchObjects += len(names)
	}

	sum := run(t, lk, Options{})
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}
	for part, names := range objects(t, root) {
		if len(names) != 1 || !strings.HasPrefix(names[0], "compacted-") {
			t.Errorf("%s holds %v, want one compacted object", part, names)
		}
	}
	if sum.Compacted != len(objsBefore) || sum.ObjectsIn != batchObjects || sum.ObjectsOut != len(objsBefore) {
		t.Errorf("summary %+v: want %d partitions compacted, %d objects in", sum, len(objsBefore), batchObjects)
	}
	checkSorted(t, db, root)

	again := run(t, lk, Options{})
	if again.Compacted != 0 || again.UpToDate != again.Partitions {
		t.Errorf("a second run: %+v, want every partition up to date", again)
	}

	// The same input again, as a backfill re-run weeks later: every object
	// it writes was absorbed, so it writes none and adds no row.
	var counts encode.AbsorbedCounts
	backfill(t, root, src, 15, &counts)
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("a backfill re-run changed the rows:\nbefore %v\nafter  %v", before, got)
	}
	if int(counts.Skipped.Load()) != batchObjects {
		t.Errorf("the re-run skipped %d objects, want all %d", counts.Skipped.Load(), batchObjects)
	}
	for part, names := range objects(t, root) {
		if len(names) != 1 {
			t.Errorf("after the re-run %s holds %v", part, names)
		}
	}
}

// checkSorted checks that each compacted findings object's rows are in sort
// key order.
func checkSorted(t *testing.T, db *sql.DB, root string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "findings", "dt=*", "compacted-*.parquet"))
	if len(files) == 0 {
		t.Fatal("no compacted findings objects")
	}
	keys := strings.Join(schema.Findings.SortKeys(), ", ")
	for _, f := range files {
		q := fmt.Sprintf(`SELECT count(*) FROM (
			SELECT file_row_number AS n, row_number() OVER (ORDER BY %s, file_row_number) - 1 AS want
			FROM read_parquet('%s', file_row_number = true)) WHERE n <> want`, sortOrder(keys), f)
		if n := lakecheck.Int(t, db, q); n != 0 {
			t.Errorf("%s: %d rows out of sort order", f, n)
		}
	}
}

// sortOrder is keys as an ORDER BY with nulls last (as the merge orders).
func sortOrder(keys string) string {
	var parts []string
	for _, k := range strings.Split(keys, ", ") {
		parts = append(parts, k+" ASC NULLS LAST")
	}
	return strings.Join(parts, ", ")
}

// TestCompactSpillsAndSplits: with a sort buffer far smaller than the
// partition and a small target, the rows go through spilled runs (more than
// the merge's fan-in, so runs are merged in passes) into several objects;
// the rows are the same, sorted across the objects in their order, and the
// same lake compacted twice gives the same names and bytes.
func TestCompactSpillsAndSplits(t *testing.T) {
	t.Parallel()
	src := corpus(t, 1200, 1, past, 0)
	root := filepath.Join(t.TempDir(), "lake")
	lk := backfill(t, root, src, 40, nil)
	twin := lakecheck.CopyDir(t, root)
	db := lakecheck.Open(t)
	before := lakecheck.LakeDigest(t, db, root)
	opts := Options{SortBuffer: 64 << 10, TargetSize: 400 << 10, Encode: encode.Options{RowGroupBytes: 64 << 10}}
	sum := run(t, lk, opts)
	if sum.Spilled <= extsort.MergeFanIn {
		t.Errorf("%d runs spilled, want more than the fan-in %d", sum.Spilled, extsort.MergeFanIn)
	}
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}
	files, _ := filepath.Glob(filepath.Join(root, "findings", "dt=*", "compacted-*.parquet"))
	if len(files) < 3 {
		t.Fatalf("%d findings objects, want several", len(files))
	}
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() > opts.TargetSize {
			t.Errorf("%s: %d bytes, more than the target %d", f, st.Size(), opts.TargetSize)
		}
	}
	// In object order, the keys never go back.
	slices.Sort(files)
	var list []string
	for _, f := range files {
		list = append(list, "'"+f+"'")
	}
	keys := strings.Join(schema.Findings.SortKeys(), ", ")
	q := fmt.Sprintf(`SELECT count(*) FROM (
		SELECT filename, file_row_number, row_number() OVER (ORDER BY %s, filename, file_row_number) AS want,
		       row_number() OVER (ORDER BY filename, file_row_number) AS got
		FROM read_parquet([%s], filename = true, file_row_number = true)) WHERE got <> want`, sortOrder(keys), strings.Join(list, ", "))
	if n := lakecheck.Int(t, db, q); n != 0 {
		t.Errorf("%d rows out of order across the objects", n)
	}
	twinLake, _ := dirlake.New(twin)
	run(t, twinLake, opts)
	a, b := lakecheck.Files(t, filepath.Join(root, "findings")), lakecheck.Files(t, filepath.Join(twin, "findings"))
	if !reflect.DeepEqual(lakecheck.SortedKeys(a), lakecheck.SortedKeys(b)) {
		t.Fatalf("the same lake compacted twice gave different names:\n%v\n%v", lakecheck.SortedKeys(a), lakecheck.SortedKeys(b))
	}
	for k := range a {
		if !bytes.Equal(a[k], b[k]) {
			t.Errorf("%s differs between the two compactions", k)
		}
	}
}

// TestCompactCrashPoints: a run that stops at each step (a panic from the
// crash hook, as close to kill -9 as a process can get without dying)
// leaves a lake that holds every row (a reader never misses one), and the
// next run converges: the same rows, once, one object per partition.
func TestCompactCrashPoints(t *testing.T) {
	t.Parallel()
	src := corpus(t, 600, 2, past, 0.02)
	for _, point := range []string{"after-manifest", "after-output", "after-commit", "between-markers", "between-deletes", "before-done"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "lake")
			lk := backfill(t, root, src, 10, nil)
			snapshot := lakecheck.CopyDir(t, root)
			db := lakecheck.Open(t)
			before := lakecheck.LakeDigest(t, db, root)
			crashed := func() (crashed bool) {
				defer func() { crashed = recover() == errCrash }()
				_, _ = Run(context.Background(), lk, Options{TargetSize: 64 << 10, DeleteGrace: -1, CrashHook: func(p string) {
					if p == point {
						panic(errCrash)
					}
				}})
				return false
			}()
			if !crashed {
				t.Fatalf("the run never reached %s", point)
			}
			for _, table := range schema.TableNames() {
				if n := lakecheck.Missing(t, db, snapshot, root, table); n != 0 {
					t.Errorf("after a crash at %s, %d %s rows are missing", point, n, table)
				}
			}
			sum := run(t, lk, Options{TargetSize: 64 << 10})
			if sum.Recovered+sum.Reappeared == 0 {
				t.Errorf("the next run recovered nothing: %+v", sum)
			}
			run(t, lk, Options{TargetSize: 64 << 10})
			if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
				t.Fatalf("after recovery the rows differ:\nbefore %v\nafter  %v", before, got)
			}
			onlyCompacted(t, root)
			manifests, _ := filepath.Glob(filepath.Join(root, "_hublake", "compactions", "*", "*", "*.json"))
			for _, m := range manifests {
				if b, _ := os.ReadFile(m); !bytes.Contains(b, []byte(`"state": "done"`)) {
					t.Errorf("manifest %s is not done:\n%s", m, b)
				}
			}
		})
	}
}

var errCrash = errors.New("crash")

// TestCompactKeepsWhatItDoesNotKnow: objects that are not batch or compacted
// objects are reported and kept, never read: another file, an object named
// like a compacted one that no manifest names, a nested directory, an object
// outside any partition, a symbolic link (to a file outside the lake). Dead
// writers' temporary files are removed; a live writer's is kept.
func TestCompactKeepsWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 300, 1, 50)
	part := parts[0]
	outside := filepath.Join(t.TempDir(), "secret.parquet")
	write := func(p string, age time.Duration) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("not for compaction"), 0o644); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	write(outside, 0)
	kept := []string{
		filepath.Join(part, "notes.txt"),
		filepath.Join(part, "compacted-0123456789abcdef0123456789abcdef-0000.parquet"),
		filepath.Join(part, "sub", "x.parquet"),
		filepath.Join(root, "findings", "junk", "x.parquet"),
	}
	for _, p := range kept {
		write(p, time.Hour)
	}
	link := filepath.Join(part, "link.parquet")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, link)
	young := filepath.Join(part, ".a.parquet.tmp-1")
	write(young, 0)
	dead := filepath.Join(part, ".b.parquet.tmp-2")
	write(dead, time.Hour)
	live := filepath.Join(part, ".c.parquet.tmp-3")
	write(live, time.Hour)
	f, err := os.Open(live)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, young, live)

	sum := run(t, lk, Options{})
	if sum.Unrecognised != 5 {
		t.Errorf("%d objects reported as unrecognised, want 5", sum.Unrecognised)
	}
	if sum.TempRemoved != 1 {
		t.Errorf("%d temporary files removed, want 1 (the dead writer's)", sum.TempRemoved)
	}
	for _, p := range kept {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s was not kept: %v", p, err)
		}
	}
	if _, err := os.Lstat(dead); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the dead writer's temporary file is still there: %v", err)
	}
	if b, _ := os.ReadFile(outside); string(b) != "not for compaction" {
		t.Errorf("the file outside the lake changed: %q", b)
	}
}

// TestCompactRefusesForeignManifests: a manifest that names objects of
// another partition, or keys outside the layout, stops the partition's
// compaction; nothing is deleted.
func TestCompactRefusesForeignManifests(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 300, 2, 50)
	dt, other := dateOf(parts[0]), dateOf(parts[1])
	victims, _ := filepath.Glob(filepath.Join(parts[1], "*.parquet"))
	victim := "findings/dt=" + other + "/" + filepath.Base(victims[0])
	lk.Delete(context.Background(), "x") // (refused: not a key)
	run := "0123456789abcdef0123456789abcdef"
	key, _ := layout.ManifestKey("findings", dt, run)
	for _, inputs := range []string{victim, "../../etc/passwd", "findings/dt=" + dt + "/../../x.parquet"} {
		body := fmt.Sprintf(`{"version":1,"run":%q,"table":"findings","dt":%q,"state":"committed","holder":"x","started":"2026-01-01T00:00:00Z","inputs":[{"key":%q,"size":1}]}`, run, dt, inputs)
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, key)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, key), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		db := lakecheck.Open(t)
		rows := lakecheck.LakeDigest(t, db, root)
		before := objects(t, root)["findings/dt="+dt]
		sum, err := Run(context.Background(), lk, Options{Tables: []string{"findings"}, DeleteGrace: -1})
		if err != nil {
			t.Fatal(err)
		}
		if sum.Failed != 1 {
			t.Errorf("manifest naming %q: %d partitions failed, want 1", inputs, sum.Failed)
		}
		if after := objects(t, root)["findings/dt="+dt]; !reflect.DeepEqual(before, after) {
			t.Errorf("manifest naming %q: the partition changed", inputs)
		}
		if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, rows) {
			t.Errorf("manifest naming %q: rows changed", inputs)
		}
	}
}

// TestCompactSkipsLockedPartitions: a partition whose lock another holder
// has is skipped and untouched; once it is released, it is compacted.
func TestCompactSkipsLockedPartitions(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 300, 1, 50)
	dt := dateOf(parts[0])
	key, _ := layout.LockKey("findings", dt)
	other, _ := dirlake.New(root)
	lock, err := other.TryLock(context.Background(), key, "someone else", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	before := objects(t, root)["findings/dt="+dt]
	sum := run(t, lk, Options{Tables: []string{"findings"}})
	if sum.Locked != 1 || !reflect.DeepEqual(objects(t, root)["findings/dt="+dt], before) {
		t.Errorf("locked partition: %+v, objects changed: %v", sum, !reflect.DeepEqual(objects(t, root)["findings/dt="+dt], before))
	}
	if err := lock.Release(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sum := run(t, lk, Options{Tables: []string{"findings"}}); sum.Compacted != 1 {
		t.Errorf("after the release: %+v", sum)
	}
}

// TestCompactRecentPartitions: in a partition that still receives objects
// (today's), a later run merges the compacted object with what arrived
// since, so the partition stays one object; in an old partition, late
// objects get a compacted object of their own and the old one is left as it
// was. Objects younger than OlderThan wait.
func TestCompactRecentPartitions(t *testing.T) {
	t.Parallel()
	tomorrow := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	for _, tc := range []struct {
		name   string
		end    time.Time
		remerg bool
	}{{"today", tomorrow, true}, {"old", past, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := filepath.Join(t.TempDir(), "lake")
			backfill(t, root, corpus(t, 200, 1, tc.end, 0), 20, nil)
			lk, _ := dirlake.New(root)
			if sum := run(t, lk, Options{OlderThan: time.Hour}); sum.TooRecent == 0 || sum.Compacted != 0 {
				t.Errorf("objects younger than --older-than: %+v, want them left", sum)
			}
			run(t, lk, Options{})
			db := lakecheck.Open(t)
			cfg := gen.DefaultConfig()
			cfg.Seed = 7
			more := filepath.Join(t.TempDir(), "more")
			cfg.Bytes, cfg.Events, cfg.Days, cfg.End = 0, 200, 1, tc.end
			if _, err := gen.WriteDir(context.Background(), more, cfg, gen.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			backfill(t, root, more, 20, nil)
			before := lakecheck.LakeDigest(t, db, root)
			run(t, lk, Options{})
			if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
				t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
			}
			want := 2
			if tc.remerg {
				want = 1
			}
			for part, names := range objects(t, root) {
				if strings.HasPrefix(part, "findings/") && len(names) != want {
					t.Errorf("%s holds %d objects, want %d: %v", part, len(names), want, names)
				}
			}
		})
	}
}

// oldFinding is a findings row as an older hublake could have written it:
// fewer columns (the table contract lets columns be added, never removed).
type oldFinding struct {
	EventID         string `parquet:"event_id,optional"`
	EventDetailType string `parquet:"event_detail_type,dict"`
	FindingIndex    int32  `parquet:"finding_index"`
	ID              string `parquet:"id"`
	ProductARN      string `parquet:"product_arn,dict"`
	RawFinding      string `parquet:"raw_finding"`
	Source          string `parquet:"source"`
}

// TestCompactConvertsOlderObjects: an object written with an older schema
// (columns missing) is compacted with today's: its rows keep their values,
// the columns it lacks are empty.
func TestCompactConvertsOlderObjects(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 100, 1, 1000)
	db := lakecheck.Open(t)
	n := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "findings")+" WHERE dt = ?", dateOf(parts[0]))
	f, err := os.Create(filepath.Join(parts[0], "old-0000000000000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[oldFinding](f)
	if _, err := w.Write([]oldFinding{{EventID: "e-old", EventDetailType: "backfill", ID: "old-id", ProductARN: "arn:old", RawFinding: "{}", Source: "file:old#0"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, lk, Options{Tables: []string{"findings"}})
	rows := lakecheck.Rows(t, db, "SELECT id, product_arn, source, severity_label, len(types) AS types FROM "+lakecheck.TableGlob(root, "findings")+" WHERE id = 'old-id'")
	if len(rows) != 1 || rows[0]["product_arn"] != "arn:old" || rows[0]["source"] != "file:old#0" || rows[0]["severity_label"] != nil {
		t.Fatalf("the old row after compaction: %v", rows)
	}
	if got := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(root, "findings")+" WHERE dt = ?", dateOf(parts[0])); got != n+1 {
		t.Errorf("%d rows after compaction, want %d", got, n+1)
	}
}

// TestCompactMemoryBound: compacting a partition holds a bounded amount of
// memory, not the partition. With a 4 MiB sort buffer and 2 MiB row groups,
// the live heap of a compaction of a 24 MB day stays under what the pieces
// hold at most — the sort buffer (and the run being spilled), the inputs
// decoded ahead, the merge's readers, one row group being encoded, and a
// fixed part — where holding the partition's rows would take several times
// the corpus.
func TestCompactMemoryBound(t *testing.T) {
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Days, cfg.End = 24e6, 1, past
	src := filepath.Join(t.TempDir(), "corpus")
	if _, err := gen.WriteDir(context.Background(), src, cfg, gen.WriteOptions{FileBytes: 4 << 20}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "lake")
	lk := backfill(t, root, src, 200, nil)
	runtime.GC()
	runtime.GC() // and what sync.Pools kept from the backfill
	samples := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(samples)
	base := samples[0].Value.Uint64()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			metrics.Read(samples)
			if v := samples[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	sum := run(t, lk, Options{SortBuffer: 4 << 20, Encode: encode.Options{RowGroupBytes: 2 << 20}, Tables: []string{"findings"}})
	runtime.GC()
	time.Sleep(5 * time.Millisecond)
	close(stop)
	<-done
	live := int64(peak.Load()) - int64(base)
	t.Logf("live heap before %.1f MiB, peak %.1f MiB", float64(base)/(1<<20), float64(peak.Load())/(1<<20))
	// 2×4 MiB + 8×extsort.DecodeInFlight + extsort.MergeFanIn×2×extsort.SpillBlock + 3×2 MiB + 16 MiB
	bound := partitionBudget(Options{SortBuffer: 4 << 20, Encode: encode.Options{RowGroupBytes: 2 << 20}}.withDefaults())
	t.Logf("compacted %d objects, %d rows, %d runs spilled; peak live heap %.1f MiB (bound %d MiB)", sum.ObjectsIn, sum.Rows, sum.Spilled, float64(live)/(1<<20), bound>>20)
	if sum.Spilled < 3 {
		t.Errorf("only %d runs spilled: the partition fits the buffer, the test proves nothing", sum.Spilled)
	}
	if live > bound {
		t.Errorf("peak live heap %d MiB, more than the %d MiB the buffer and the row groups allow", live>>20, bound>>20)
	}
}

// TestOptionsValidate: a delete grace past the one writers keep is refused
// before anything is listed, with a summary to print; the defaults and the
// bound itself are not.
func TestOptionsValidate(t *testing.T) {
	for _, o := range []Options{{}, {DeleteGrace: encode.MaxDeleteGrace}, {DeleteGrace: -1}} {
		if err := o.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
	}
	lk, err := dirlake.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Run(context.Background(), lk, Options{DeleteGrace: encode.MaxDeleteGrace + time.Second})
	if err == nil || !strings.Contains(err.Error(), "encode.MaxDeleteGrace") || sum == nil || sum.Partitions != 0 {
		t.Errorf("Run with a grace past encode.MaxDeleteGrace: %+v, %v", sum, err)
	}
	if got, want := MemoryBudget(Options{}), int64(2*32+8*2+16*2/4+3*16+16+64)<<20; got != want {
		t.Errorf("MemoryBudget of the defaults = %d, want %d", got, want)
	}
}
