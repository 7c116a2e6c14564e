package lakecheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/schema"
)

func writeRows[T any](t *testing.T, path string, rows []T) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := parquet.WriteFile(path, rows); err != nil {
		t.Fatal(err)
	}
}

// tiedLake writes a history in which every finding has two rows equal on
// every time the latest views order by, differing only in source and
// finding_index; half the findings have the winner (the greater source)
// first in the file, half second, so an engine breaking ties by scan order
// picks wrong for some. It returns the number of findings per table.
func tiedLake(t *testing.T, root string) int {
	t.Helper()
	const n = 40
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var asff []schema.Finding
	var ocsf []schema.OCSFFinding
	for i := range n {
		for j := range 2 {
			k := j
			if i%2 == 1 {
				k = 1 - j // the winner second
			}
			src := fmt.Sprintf("s3://in/batch-%d.json", k) // batch-1 wins: source DESC
			asff = append(asff, schema.Finding{
				ID: fmt.Sprintf("f-%02d", i), ProductARN: "arn:aws:securityhub:us-east-1::product/aws/securityhub",
				EventTime: at, UpdatedAt: at, ProcessedAt: at, FindingIndex: int32(i), Source: src,
				Title: fmt.Sprintf("from %d", k), SeverityLabel: "CRITICAL", AwsAccountID: "111122223333",
			})
			ocsf = append(ocsf, schema.OCSFFinding{
				MetadataUID: fmt.Sprintf("m-%02d", i), FindingUID: fmt.Sprintf("f-%02d", i),
				EventTime: at, ModifiedTime: at, FindingIndex: int32(k), Source: "s3://in/one.json",
				Title: fmt.Sprintf("from %d", k), Severity: "Critical", AccountUID: "111122223333",
			})
		}
	}
	writeRows(t, filepath.Join(root, "findings", "dt=2026-03-01", "a.parquet"), asff)
	writeRows(t, filepath.Join(root, "ocsf_findings", "dt=2026-03-01", "a.parquet"), ocsf)
	return n
}

// TestLatestViewsBreakTies: rows equal on every time are ranked by source,
// then finding_index (schema.LatestTiebreak), descending, so the views keep
// the same row on every engine and run. Fails without the tiebreak (DuckDB
// then keeps the row it scanned first, the loser for half the findings).
func TestLatestViewsBreakTies(t *testing.T) {
	root := t.TempDir()
	n := tiedLake(t, root)
	db := Open(t)
	CreateViews(t, db, root)
	for _, view := range []string{schema.LatestViewName, schema.OCSFLatestViewName} {
		if got := Int(t, db, `SELECT count(*) FROM `+view+` WHERE title = 'from 1'`); got != int64(n) {
			t.Errorf("%s kept the tie's winner for %d of %d findings", view, got, n)
		}
	}
}

// TestCurrentTablesReadTheManifest: a current table is read through its
// symlink manifest with schema.DuckDBCurrentStatements: exactly the listed
// objects (an older snapshot beside it is not read), no snapshot column
// from the folder's name, the history's columns; findings_all_current is
// findings_all's mapping over both current tables.
func TestCurrentTablesReadTheManifest(t *testing.T) {
	root := t.TempDir()
	n := tiedLake(t, root)
	db := Open(t)
	CreateViews(t, db, root)
	for _, c := range currentTables() {
		dir := filepath.Join(root, c.Name)
		var listed []string
		for k := range 2 { // the snapshot in two objects
			p := filepath.Join(dir, "snapshot=new", fmt.Sprintf("part-%d.parquet", k))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			q := fmt.Sprintf(`COPY (SELECT * EXCLUDE (dt) FROM %s WHERE hash(title) %% 2 = %d OR %d = 1 AND hash(title) %% 2 <> 0) TO '%s' (FORMAT parquet)`, c.LatestView, k, k, p)
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			listed = append(listed, p)
		}
		// An old snapshot still within its delete grace: not listed, not read.
		old := filepath.Join(dir, "snapshot=old", "part-0.parquet")
		if err := os.MkdirAll(filepath.Dir(old), 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf(`COPY (SELECT * EXCLUDE (dt) FROM %s) TO '%s' (FORMAT parquet)`, c.History, old)); err != nil {
			t.Fatal(err)
		}
		manifest := schema.CurrentManifestURL(root, c.Name)
		if err := os.MkdirAll(filepath.Dir(manifest), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(manifest, []byte(strings.Join(listed, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	CreateViews(t, db, root)
	for _, c := range currentTables() {
		if got := Int(t, db, `SELECT count(*) FROM `+c.Name); got != int64(n) {
			t.Errorf("%s has %d rows, want %d (the latest view's)", c.Name, got, n)
		}
		if got := Int(t, db, `SELECT count(*) FROM (SELECT * EXCLUDE (dt) FROM `+c.LatestView+` EXCEPT SELECT * FROM `+c.Name+`)`); got != 0 {
			t.Errorf("%d rows of %s are not in %s", got, c.LatestView, c.Name)
		}
		var cols []string
		for _, r := range Rows(t, db, `DESCRIBE `+c.Name) {
			cols = append(cols, fmt.Sprint(r["column_name"]))
		}
		var want []string
		for _, col := range schema.Columns(c.History) {
			want = append(want, col.Name)
		}
		if strings.Join(cols, ",") != strings.Join(want, ",") {
			t.Errorf("%s columns\n  %v\nwant %s's\n  %v", c.Name, cols, c.History, want)
		}
	}
	if got := Int(t, db, `SELECT count(*) FROM findings_all_current WHERE severity = 'CRITICAL'`); got != int64(2*n) {
		t.Errorf("findings_all_current has %d critical rows, want %d", got, 2*n)
	}
}

type currentTable struct{ Name, History, LatestView string }

func currentTables() []currentTable {
	var out []currentTable
	for _, h := range schema.CurrentTableNames() {
		out = append(out, currentTable{schema.CurrentName(h), h, schema.LatestViewOf(h)})
	}
	return out
}
