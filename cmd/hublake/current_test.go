package main

import (
	"database/sql"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/schema"
)

// The current-state tables' tests run the real binary: `hublake current`
// on lakes `hublake backfill` wrote from a daily history (gen.Daily: live
// findings re-sent every day, some resolved, archived or closed, new ones,
// some not re-sent on the last day, a late event into an old partition),
// in a directory and on versitygw. Each current table is compared (count
// and a hash of every row) with the newest-of over the history computed
// here, independently, in DuckDB SQL: the latest view's key and order, the
// tiebreak, Security Hub's retention.

// currentNow is the refreshes' clock (--now): retention is judged against
// it, a day after the history ends.
const currentNow = "2026-11-02T00:00:00Z"

// currentCorpus writes the history once per test binary: base (days 0-29)
// and more (day 30, and late events into days 3, 10 and 20).
var currentCorpus = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "hublake-current-corpus-")
	if err != nil {
		return "", err
	}
	d, err := gen.NewDaily(gen.Config{Seed: 23, Accounts: 8, Regions: 4, Days: 31, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), OCSFRatio: 0.4}, 60)
	if err != nil {
		return "", err
	}
	write := func(sub, name string, units [][]byte) error {
		p := filepath.Join(dir, sub, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		var b []byte
		for _, u := range units {
			b = append(append(b, u...), '\n')
		}
		return os.WriteFile(p, b, 0o644)
	}
	for day := range d.Days() - 1 {
		if err := write("base", fmt.Sprintf("day-%02d.json", day), d.Day(day)); err != nil {
			return "", err
		}
	}
	late := [][]byte{d.Late(3), d.Late(10), d.Late(20)}
	if err := write("more", "day-30.json", append(d.Day(d.Days()-1), late...)); err != nil {
		return "", err
	}
	return dir, nil
})

func corpusPart(t *testing.T, part string) string {
	t.Helper()
	dir, err := currentCorpus()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, part)
}

// current runs `hublake current` on the lake (a fixed clock, no grace) and
// returns its exit status and output.
func (l lakeTarget) current(t *testing.T, env []string, flags ...string) (int, string) {
	t.Helper()
	args := append(append([]string{"current", "--now", currentNow, "--delete-grace", "0s", "--progress", "none", "--log-level", "warn", "--target-size", "256KiB"}, l.out...), flags...)
	return hublake(t, append([]string{"HUBLAKE_RECORD_AWS_OPS=" + currentOpsFile}, env...), args...)
}

func (l lakeTarget) mustCurrent(t *testing.T, flags ...string) string {
	t.Helper()
	code, out := l.current(t, nil, flags...)
	if code != 0 {
		t.Fatalf("%s: hublake current exited %d:\n%s", l.name, code, tail(out, 40))
	}
	return out
}

// newestSQL is each finding table's newest row per finding in DuckDB SQL,
// written here from docs/tables.md's definitions (not from the code):
// key, order and tiebreak, and Security Hub's retention at currentNow.
var newestSQL = map[string]struct{ key, order, keep string }{
	"findings": {
		key:   "product_arn, id",
		order: "updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST, source DESC, finding_index DESC",
		keep: "coalesce(updated_at, event_time) IS NULL OR coalesce(updated_at, event_time) + " +
			"CASE WHEN record_state = 'ARCHIVED' THEN INTERVAL 720 HOUR ELSE INTERVAL 2160 HOUR END > TIMESTAMPTZ '" + currentNow + "'",
	},
	"ocsf_findings": {
		key:   "coalesce(metadata_uid, coalesce(account_uid, '') || '/' || coalesce(product_uid, '') || '/' || finding_uid)",
		order: "modified_time DESC NULLS LAST, event_time DESC NULLS LAST, source DESC, finding_index DESC",
		keep: "coalesce(modified_time, event_time) IS NULL OR coalesce(modified_time, event_time) + " +
			"CASE WHEN lower(activity_name) = 'close' OR activity_id = 3 THEN INTERVAL 336 HOUR ELSE INTERVAL 2160 HOUR END > TIMESTAMPTZ '" + currentNow + "'",
	},
}

// rowHash is the count and the sum of a hash of every column of table's
// rows in source (a FROM clause).
func rowHash(t *testing.T, db *sql.DB, table, from string) lakecheck.Digest {
	t.Helper()
	var cols []string
	for _, c := range schema.Columns(table) {
		cols = append(cols, `"`+c.Name+`"`)
	}
	var d lakecheck.Digest
	q := "SELECT count(*), coalesce(sum(hash(" + strings.Join(cols, ", ") + ")::HUGEINT), 0)::VARCHAR FROM " + from
	if err := db.QueryRow(q).Scan(&d.Rows, &d.Sum); err != nil {
		t.Fatalf("%s: %v\n%s", table, err, q)
	}
	return d
}

// expectedCurrent is the newest-of over the lake's history of table.
func expectedCurrent(t *testing.T, db *sql.DB, root, table string) lakecheck.Digest {
	t.Helper()
	n := newestSQL[table]
	from := "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY " + n.key + " ORDER BY " + n.order + ") AS rn FROM " +
		lakecheck.TableGlob(root, table) + ") WHERE rn = 1 AND (" + n.keep + "))"
	return rowHash(t, db, table, from)
}

// snapshotFiles reads table's symlink manifest and returns the local paths
// of the committed snapshot's objects.
func (l lakeTarget) snapshotFiles(t *testing.T, table string) []string {
	t.Helper()
	key, _ := layout.SymlinkManifestKey(table)
	b, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(key)))
	if err != nil {
		t.Fatalf("%s: %v", l.name, err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "s3://"); ok {
			line = filepath.Join(stack.S3Root, filepath.FromSlash(rest)) // versitygw keeps a bucket as a directory
		}
		out = append(out, line)
	}
	return out
}

// checkCurrent compares each current table with the newest-of over the
// history, and checks that the current table's directory holds exactly the
// committed snapshot and its manifest.
func (l lakeTarget) checkCurrent(t *testing.T, db *sql.DB, when string) map[string]lakecheck.Digest {
	t.Helper()
	got := map[string]lakecheck.Digest{}
	for _, table := range schema.CurrentTableNames() {
		want := expectedCurrent(t, db, l.dir, table)
		files := l.snapshotFiles(t, table)
		d := lakecheck.Digest{Sum: "0"}
		if len(files) > 0 {
			d = rowHash(t, db, table, "read_parquet(['"+strings.Join(files, "', '")+"'])")
		}
		if d != want {
			t.Errorf("%s, %s: %s_current holds %+v, the newest-of over the history %+v", l.name, when, table, d, want)
		}
		if want.Rows == 0 {
			t.Errorf("%s, %s: no %s rows: the test proves nothing", l.name, when, table)
		}
		got[table] = d
		// Exactly the snapshot and the manifest under the table.
		var under []string
		root := filepath.Join(l.dir, layout.CurrentTable(table))
		_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err == nil && !e.IsDir() {
				under = append(under, p)
			}
			return nil
		})
		key, _ := layout.SymlinkManifestKey(table)
		wantFiles := append(slices.Clone(files), filepath.Join(l.dir, filepath.FromSlash(key)))
		slices.Sort(under)
		slices.Sort(wantFiles)
		if !slices.Equal(under, wantFiles) {
			t.Errorf("%s, %s: under %s_current: %v, want the snapshot and its manifest %v", l.name, when, table, under, wantFiles)
		}
		for _, f := range files {
			checkSnapshotFile(t, f, table)
		}
	}
	return got
}

// checkSnapshotFile: a snapshot object is ZSTD and declares the table's sort
// keys as its sorting columns.
func checkSnapshotFile(t *testing.T, path, table string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	tab, _ := schema.Lookup(table)
	for _, rg := range pf.RowGroups() {
		var names []string
		for _, sc := range rg.SortingColumns() {
			names = append(names, strings.Join(sc.Path(), "."))
		}
		if !slices.Equal(names, tab.SortKeys()) {
			t.Errorf("%s: sorting columns %v, want %v", path, names, tab.SortKeys())
		}
	}
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			if codec := c.MetaData.Codec.String(); codec != "ZSTD" {
				t.Fatalf("%s: column %v codec %s, want ZSTD", path, c.MetaData.PathInSchema, codec)
			}
		}
	}
}

var currentLine = regexp.MustCompile(`(?m)^    ([a-z][a-z ]*[a-z]) *([0-9]+)`)

// currentSummary adds up the figures of every table in `hublake current`'s
// summary ("history objects read" → n).
func currentSummary(out string) map[string]int {
	m := map[string]int{}
	for _, s := range currentLine.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(s[2])
		m[s[1]] += n
	}
	return m
}

// lakeState is every file of a lake with its size and modification time.
func lakeState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	_ = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if info, err := e.Info(); err == nil {
				out[p] = fmt.Sprint(info.Size(), info.ModTime().UnixNano())
			}
		}
		return nil
	})
	return out
}

// TestCurrent: a full build, an incremental refresh after more history (a
// day and late events into old partitions), a refresh with nothing new
// (which writes nothing), a refresh after compaction (which reads none of
// the compacted objects: their inputs were read), each current table equal
// to the newest-of over the history, in a directory and on versitygw.
func TestCurrent(t *testing.T) {
	t.Parallel()
	needStack(t)
	for _, l := range targets(t) {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			db := lakecheck.Open(t)
			l.backfill(t, corpusPart(t, "base"), 100)
			first := currentSummary(l.mustCurrent(t))
			full := l.checkCurrent(t, db, "after a full build")
			if first["history objects read"] == 0 {
				t.Fatalf("the full build read nothing: %v", first)
			}

			l.backfill(t, corpusPart(t, "more"), 100)
			s := currentSummary(l.mustCurrent(t))
			inc := l.checkCurrent(t, db, "after an incremental refresh")
			if reflect.DeepEqual(inc, full) {
				t.Error("the incremental refresh changed nothing: the test proves nothing")
			}
			if s["history objects read"] == 0 || s["history objects read"] >= first["history objects read"] {
				t.Errorf("the incremental refresh read %d history objects (the full build %d): it must read only the new ones", s["history objects read"], first["history objects read"])
			}

			before := lakeState(t, l.dir)
			out := l.mustCurrent(t)
			if strings.Count(out, ": up to date") != 2 {
				t.Errorf("a refresh with nothing new:\n%s", out)
			}
			if after := lakeState(t, l.dir); !reflect.DeepEqual(after, before) {
				t.Errorf("a refresh with nothing new wrote to the lake")
			}
			l.checkCurrent(t, db, "after a refresh with nothing new")

			// Compaction replaces every batch object with compacted ones
			// whose inputs the refresh has read: none is read again.
			l.compact(t, nil, "--target-size", "1MiB")
			s = currentSummary(l.mustCurrent(t))
			if s["history objects read"] != 0 {
				t.Errorf("after compaction the refresh read %d history objects, want none (their inputs were read)", s["history objects read"])
			}
			l.checkCurrent(t, db, "after compaction")

			// Retention none keeps every finding: more rows.
			l.mustCurrent(t, "--retention", "none", "--table", "findings")
			if got := l.snapshotFiles(t, "findings"); len(got) == 0 {
				t.Error("no snapshot with --retention none")
			}
		})
	}
}

// TestCurrentCrashPoints kills `hublake current` (SIGKILL, by itself) at
// each step of an incremental refresh, in a directory and on versitygw:
// the next run recovers (a pending refresh rolled back, a committed one
// finished) and each current table equals the newest-of over the history,
// the table's directory holding exactly its snapshot.
func TestCurrentCrashPoints(t *testing.T) {
	t.Parallel()
	needStack(t)
	for _, point := range []string{"after-manifest", "after-object", "after-commit", "after-symlink", "between-deletes", "before-done"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			for _, l := range targets(t) {
				db := lakecheck.Open(t)
				l.backfill(t, corpusPart(t, "base"), 200)
				l.mustCurrent(t)
				l.backfill(t, corpusPart(t, "more"), 200)
				code, out := l.current(t, []string{"HUBLAKE_TEST_CRASH_AT=" + point}, "--lock-ttl", "2s")
				if code != 128+int(syscall.SIGKILL) {
					t.Fatalf("%s: current exited %d, want to be killed at %s:\n%s", l.name, code, point, tail(out, 20))
				}
				if l.name != "dir" {
					time.Sleep(2100 * time.Millisecond) // the killed run's lock expires
				}
				s := currentSummary(l.mustCurrent(t))
				if s["recovered refreshes"] == 0 && point != "before-done" {
					t.Errorf("%s: the run after a kill at %s recovered nothing: %v", l.name, point, s)
				}
				l.checkCurrent(t, db, "after a kill at "+point+" and a run")
			}
		})
	}
}

// TestCurrentWhileWriting: refreshes run while a backfill writes more
// history (new days, late events) and compactions replace its objects,
// and one more refresh afterwards: each current table equals the newest-of
// over the history; no refresh failed meanwhile (an object compacted away
// between a refresh's listing and its read is found again through its
// partition's new listing).
func TestCurrentWhileWriting(t *testing.T) {
	t.Parallel()
	needStack(t)
	for _, l := range targets(t) {
		t.Run(l.name, func(t *testing.T) {
			t.Parallel()
			db := lakecheck.Open(t)
			l.backfill(t, corpusPart(t, "base"), 100)
			l.mustCurrent(t)
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				l.backfill(t, corpusPart(t, "more"), 5)
			}()
			go func() {
				defer wg.Done()
				for range 3 {
					if code, out := l.compactCode(t, nil, "--target-size", "1MiB"); code != 0 {
						t.Errorf("%s: compact exited %d:\n%s", l.name, code, tail(out, 20))
					}
				}
			}()
			for range 3 {
				if code, out := l.current(t, nil); code != 0 {
					t.Errorf("%s: a refresh while writing exited %d:\n%s", l.name, code, tail(out, 20))
				}
			}
			wg.Wait()
			l.mustCurrent(t)
			l.checkCurrent(t, db, "after refreshes while writing and compacting")
		})
	}
}
