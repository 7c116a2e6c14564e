// Package lakecheck reads a lake back the way Athena would, with DuckDB, and
// computes what each row should hold from the source JSON with gjson: two
// pieces of code nobody in this project wrote and that share nothing with the
// decoder under test. It is imported by tests only, so the hublake binary
// stays free of cgo.
package lakecheck

import (
	"bufio"
	"compress/gzip"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver "duckdb"
	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/internal/repo"
	"github.com/hublake/hublake/schema"
)

// Open returns an in-memory DuckDB.
func Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatalf("open duckdb: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TableGlob returns the read_parquet source for a table under a local lake
// root, with hive partitioning and dt kept as text (hive_types), as Athena
// declares it.
func TableGlob(root, table string) string {
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=true, hive_types={'dt': VARCHAR})",
		filepath.ToSlash(filepath.Join(root, table, "*", "*.parquet")))
}

// CreateViews makes each table of the lake under root a DuckDB view of its
// name (a table without objects is left out), each current-state table
// with a committed snapshot too (its symlink manifest read as
// schema.DuckDBCurrentStatements reads it), and creates the views
// `hublake ddl` prints over them (findings_latest, ocsf_findings_latest,
// findings_all, findings_all_current) where the tables each reads exist.
func CreateViews(t testing.TB, db *sql.DB, root string) {
	t.Helper()
	have := map[string]bool{}
	for _, table := range schema.TableNames() {
		if !HasTable(root, table) {
			continue
		}
		have[table] = true
		if _, err := db.Exec(`CREATE OR REPLACE VIEW "` + table + `" AS SELECT * FROM ` + TableGlob(root, table)); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
	}
	for _, table := range schema.CurrentNames() {
		if !HasCurrent(root, table) {
			continue
		}
		have[table] = true
		for _, stmt := range schema.DuckDBCurrentStatements(root, table) {
			if _, err := db.Exec(stmt); err != nil {
				t.Fatalf("%s: %v\n%s", table, err, stmt)
			}
		}
	}
views:
	for _, v := range schema.Views() {
		for _, table := range v.Tables {
			if !have[table] {
				continue views
			}
		}
		if _, err := db.Exec(v.DDL(schema.DDLOptions{})); err != nil {
			t.Fatalf("create view %s: %v\n%s", v.Name, err, v.DDL(schema.DDLOptions{}))
		}
	}
}

// HasCurrent reports whether the lake under root has a committed snapshot
// of the current-state table (its symlink manifest).
func HasCurrent(root, table string) bool {
	_, err := os.Stat(schema.CurrentManifestURL(root, table))
	return err == nil
}

// HasTable reports whether the lake holds any object of table.
func HasTable(root, table string) bool {
	m, _ := filepath.Glob(filepath.Join(root, table, "*", "*.parquet"))
	return len(m) > 0
}

// ColumnTypes returns DuckDB's type name of every column of table.
func ColumnTypes(t testing.TB, db *sql.DB, root, table string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, r := range Rows(t, db, "DESCRIBE SELECT * FROM "+TableGlob(root, table)) {
		out[fmt.Sprint(r["column_name"])] = fmt.Sprint(r["column_type"])
	}
	return out
}

// Rows returns every row of a query as column → value maps.
func Rows(t testing.TB, db *sql.DB, query string, args ...any) []map[string]any {
	t.Helper()
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("scan %q: %v", query, err)
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			m[c] = vals[i]
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return out
}

// Int returns the single integer a query yields.
func Int(t testing.TB, db *sql.DB, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	return n
}

// RowsBySource returns the number of rows of table per source column value
// (empty when the lake has no object of table).
func RowsBySource(t testing.TB, db *sql.DB, root, table string) map[string]int {
	t.Helper()
	out := map[string]int{}
	if !HasTable(root, table) {
		return out
	}
	for _, r := range Rows(t, db, "SELECT source, count(*) AS n FROM "+TableGlob(root, table)+" GROUP BY source") {
		out[r["source"].(string)] = int(r["n"].(int64))
	}
	return out
}

// Total adds up the values of m.
func Total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// Files returns every regular file under root (relative, slash-separated)
// with its contents, for byte-for-byte comparisons of two lakes.
func Files(t testing.TB, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// SamplesDir returns ../shared/samples relative to the repository root
// (HUBLAKE_SAMPLES overrides it). Tests that need it skip with a clear
// message when it is absent, since a user's clone has no ../shared.
func SamplesDir(t testing.TB) string {
	t.Helper()
	s := repo.Samples()
	if s == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("shared samples not found (CI must have ../shared beside the repository)")
		}
		t.Skip("shared samples not found (../shared/samples beside the repository)")
	}
	return s
}

// SampleFiles lists the sample files (not SOURCES.md), skipping the test
// (failing it under CI) when there are none, as SamplesDir does.
func SampleFiles(t testing.TB) []string {
	t.Helper()
	SamplesDir(t)
	files, err := repo.SampleFiles()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// OCSFSampleFiles lists the OCSF sample files (samples/ocsf, not
// SOURCES.md), skipping or failing as SampleFiles does.
func OCSFSampleFiles(t testing.TB) []string {
	t.Helper()
	SamplesDir(t)
	files, err := repo.OCSFSampleFiles()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no OCSF samples in " + repo.OCSFSamplesDir + "/ of the shared samples")
	}
	return files
}

// DeadLetter is one line of a dead_letters object, with its partition and
// its data decoded (from data or data_base64).
type DeadLetter struct {
	Dt, Object     string
	Source, Reason string
	Data           []byte
	Base64         bool
}

// DeadLetters reads every dead letter under a local lake root.
func DeadLetters(t testing.TB, root string) []DeadLetter {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "dead_letters", "dt=*", "*.jsonl.gz"))
	var out []DeadLetter
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 1<<30)
		for sc.Scan() {
			var l struct {
				Source     string  `json:"source"`
				Error      string  `json:"error"`
				Data       *string `json:"data"`
				DataBase64 *string `json:"data_base64"`
			}
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("%s: dead letter line is not JSON: %v", f, err)
			}
			d := DeadLetter{Dt: strings.TrimPrefix(filepath.Base(filepath.Dir(f)), "dt="), Object: f, Source: l.Source, Reason: l.Error}
			switch {
			case l.Data != nil && l.DataBase64 != nil:
				t.Errorf("%s: dead letter has both data and data_base64", f)
			case l.Data != nil:
				d.Data = []byte(*l.Data)
			case l.DataBase64 != nil:
				d.Base64 = true
				if d.Data, err = base64.StdEncoding.DecodeString(*l.DataBase64); err != nil {
					t.Fatalf("%s: data_base64: %v", f, err)
				}
			}
			out = append(out, d)
		}
		if err := sc.Err(); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		zr.Close()
		fh.Close()
	}
	return out
}

// Digest is the rows of one partition of one table as a multiset: how many,
// and a sum of a hash of each whole row (DuckDB's hash of the row as a
// struct for the Parquet tables; FNV-1a of each line for dead letters).
// Two lakes hold the same rows exactly when their digests are equal.
type Digest struct {
	Rows int64
	Sum  string
}

// LakeDigest returns the digest of every partition of every table under a
// local lake root, keyed "<table>/dt=<D>".
func LakeDigest(t testing.TB, db *sql.DB, root string) map[string]Digest {
	t.Helper()
	out := map[string]Digest{}
	for _, table := range schema.TableNames() {
		if !HasTable(root, table) {
			continue
		}
		q := "SELECT dt, count(*), sum(hash(t)::HUGEINT)::VARCHAR FROM " + TableGlob(root, table) + " t GROUP BY dt"
		for _, r := range Rows(t, db, q) {
			out[table+"/dt="+fmt.Sprint(r["dt"])] = Digest{Rows: r["count_star()"].(int64), Sum: fmt.Sprint(r[`CAST(sum(CAST(hash(t) AS "HUGEINT")) AS VARCHAR)`])}
		}
	}
	sums := map[string]*big.Int{}
	counts := map[string]int64{}
	for _, d := range DeadLetters(t, root) {
		k := schema.TableDeadLetters + "/dt=" + d.Dt
		h := fnv.New64a()
		fmt.Fprintf(h, "%q %q %v %q", d.Source, d.Reason, d.Base64, d.Data)
		if sums[k] == nil {
			sums[k] = new(big.Int)
		}
		sums[k].Add(sums[k], new(big.Int).SetUint64(h.Sum64()))
		counts[k]++
	}
	for k, s := range sums {
		out[k] = Digest{Rows: counts[k], Sum: s.String()}
	}
	return out
}

// Missing counts the rows of table in the lake at a that the lake at b
// lacks, as multisets (a row twice in a and once in b is one missing).
func Missing(t testing.TB, db *sql.DB, a, b, table string) int64 {
	t.Helper()
	if !HasTable(a, table) {
		return 0
	}
	if !HasTable(b, table) {
		return Int(t, db, "SELECT count(*) FROM "+TableGlob(a, table))
	}
	return Int(t, db, "SELECT count(*) FROM (SELECT * FROM "+TableGlob(a, table)+" EXCEPT ALL SELECT * FROM "+TableGlob(b, table)+")")
}

// CopyDir copies a lake (a snapshot to compare with later) into a new
// temporary directory and returns it.
func CopyDir(t testing.TB, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "copy")
	if out, err := exec.Command("cp", "-a", from, to).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", from, err, out)
	}
	return to
}

// Codecs counts the Parquet objects of the lake's tables under root by the
// codec of their column chunks ("ZSTD", "SNAPPY"); an object whose chunks do
// not all share one codec counts as "mixed".
func Codecs(t testing.TB, root string) map[string]int {
	t.Helper()
	out := map[string]int{}
	var files []string
	for _, table := range schema.TableNames() {
		f, _ := filepath.Glob(filepath.Join(root, table, "dt=*", "*.parquet"))
		files = append(files, f...)
	}
	for _, p := range files {
		if err := countCodec(p, out); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
	}
	return out
}

func countCodec(p string, out map[string]int) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, info.Size())
	if err != nil {
		return err
	}
	codec := ""
	for _, rg := range pf.Metadata().RowGroups {
		for _, c := range rg.Columns {
			name := c.MetaData.Codec.String()
			if codec != "" && codec != name {
				name = "mixed"
			}
			codec = name
		}
	}
	out[codec]++
	return nil
}
