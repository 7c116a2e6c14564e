// Command lakequery reads a local hublake lake with DuckDB, as Athena would
// (hive partitioning, dt as text), and prints what a security engineer wants
// to see first. It is a development tool for `make demo`: it needs cgo,
// which the hublake binary does not.
//
//	go run ./internal/tools/lakequery -lake ./lake [-s3-root s3://lake] [-count]
//
// The current-state tables (hublake current) are read through their symlink
// manifests; -s3-root names the S3 location the directory mirrors (the
// demo's bucket), so that the manifest's s3:// URLs are read from it.
package main

import (
	"bufio"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/hublake/hublake/schema"
)

func main() {
	lake := flag.String("lake", "lake", "lake root directory")
	count := flag.Bool("count", false, "print only the number of finding rows")
	s3Root := flag.String("s3-root", "", "the S3 location the lake directory mirrors (s3://bucket[/prefix]): URLs under it in the current tables' manifests are read from the directory")
	flag.Parse()
	if err := run(*lake, *s3Root, *count); err != nil {
		fmt.Fprintln(os.Stderr, "lakequery:", err)
		os.Exit(1)
	}
}

func table(lake, name string) (string, bool) {
	glob := filepath.Join(lake, name, "*", "*.parquet")
	if m, _ := filepath.Glob(glob); len(m) == 0 {
		return "", false
	}
	return fmt.Sprintf("read_parquet('%s', hive_partitioning=true, hive_types={'dt': VARCHAR})", filepath.ToSlash(glob)), true
}

type step struct{ title, q string }

func run(lake, s3Root string, countOnly bool) error {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return err
	}
	defer db.Close()
	findings, ok := table(lake, "findings")
	if countOnly {
		var n int64
		if ok {
			if err := db.QueryRow("SELECT count(*) FROM " + findings).Scan(&n); err != nil {
				return err
			}
		}
		fmt.Println(n)
		return nil
	}
	ocsf, hasOCSF := table(lake, "ocsf_findings")
	if !ok && !hasOCSF {
		return fmt.Errorf("no findings under %s", lake)
	}
	have, err := createViews(db, lake, s3Root)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(os.Stdout, 2, 4, 2, ' ', 0)
	section := func(title, q string) error {
		fmt.Fprintf(w, "\n== %s\n", title)
		rows, err := db.Query(q)
		if err != nil {
			return fmt.Errorf("%s: %w", title, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		fmt.Fprintln(w, strings.Join(cols, "\t"))
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				return err
			}
			cells := make([]string, len(vals))
			for i, v := range vals {
				cells[i] = clip(fmt.Sprint(v), 70)
				if v == nil {
					cells[i] = "∅"
				}
			}
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
		w.Flush()
		return rows.Err()
	}
	var steps []step
	var counts []string
	for _, t := range schema.TableNames() {
		if q, ok := table(lake, t); ok {
			counts = append(counts, "SELECT '"+t+"' AS table_name, count(*) AS rows, count(DISTINCT dt) AS partitions, min(dt) AS first_dt, max(dt) AS last_dt FROM "+q)
		}
	}
	steps = append(steps, step{"rows per table", strings.Join(counts, " UNION ALL ")})
	if ok {
		steps = append(steps,
			step{"findings by severity", "SELECT coalesce(severity_label, '∅') AS severity, count(*) AS rows, count(DISTINCT product_arn || id) AS distinct_findings FROM " + findings + " GROUP BY 1 ORDER BY rows DESC"},
			step{"findings by product", "SELECT coalesce(product_name, '∅') AS product, count(*) AS rows, count(DISTINCT aws_account_id) AS accounts FROM " + findings + " GROUP BY 1 ORDER BY rows DESC"},
			step{"busiest partitions", "SELECT dt, count(*) AS rows FROM " + findings + " GROUP BY dt ORDER BY rows DESC, dt LIMIT 5"},
			step{"open critical findings, latest state (top accounts)", openCriticals("findings_latest")},
			step{"sent by custom actions", "SELECT action_name, count(*) AS findings, min(event_time) AS first_sent FROM " + findings + " WHERE action_arn IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5"},
			step{"latest critical and high findings", "SELECT updated_at, severity_label, product_name, aws_account_id, title FROM " + findings + " WHERE severity_label IN ('CRITICAL', 'HIGH') ORDER BY updated_at DESC NULLS LAST, id LIMIT 6"},
		)
	}
	if hasOCSF {
		steps = append(steps,
			step{"OCSF findings (Findings Imported V2) by class and severity", "SELECT class_uid, class_name, severity, count(*) AS rows, count(DISTINCT metadata_uid) AS distinct_findings FROM " + ocsf + " GROUP BY ALL ORDER BY class_uid, max(severity_id) DESC"},
			step{"OCSF findings by status, latest state (an analyst's or automation rule's later change wins)", "SELECT status, count(*) AS findings, count(comment) AS with_comment FROM ocsf_findings_latest GROUP BY 1 ORDER BY 2 DESC"},
			step{"OCSF: failed controls by standard, latest state", "SELECT s.standard, count(*) AS failed FROM (SELECT unnest(compliance_standards) AS standard FROM ocsf_findings_latest WHERE compliance_status = 'Fail') s GROUP BY 1 ORDER BY 2 DESC LIMIT 5"},
			step{"OCSF: exploitable vulnerabilities with a fix, latest state", "SELECT v.cve_uid, max(v.cvss_base_score) AS cvss, max(v.epss_score) AS epss, count(*) AS findings FROM (SELECT unnest(vulnerabilities) AS v FROM ocsf_findings_latest WHERE status NOT IN ('Resolved', 'Suppressed')) WHERE v.is_exploit_available AND v.is_fix_available GROUP BY 1 ORDER BY cvss DESC, epss DESC, 1 LIMIT 5"},
		)
	}
	if ok && hasOCSF {
		steps = append(steps,
			step{"findings_all: both formats under shared names, by severity", "SELECT severity, count(*) FILTER (format = 'asff') AS asff, count(*) FILTER (format = 'ocsf') AS ocsf, count(*) AS rows FROM findings_all GROUP BY 1 ORDER BY rows DESC"},
			step{"findings_all: the same CSPM control finding from both feeds", "SELECT count(*) AS findings, min(a.compliance_control) AS example_control FROM (SELECT DISTINCT finding_id, compliance_control FROM findings_all WHERE format = 'asff') a JOIN (SELECT DISTINCT finding_id FROM findings_all WHERE format = 'ocsf') o USING (finding_id)"},
		)
	}
	steps = append(steps, currentSteps(have)...)
	if insights, ok := table(lake, "insight_results"); ok {
		steps = append(steps, step{"insight results", "SELECT insight_name, result_type, count(*) AS results, sum(result_count) AS total FROM " + insights + " GROUP BY 1, 2 ORDER BY results DESC LIMIT 5"})
	}
	for _, s := range steps {
		if err := section(s.title, s.q); err != nil {
			return err
		}
	}
	return deadLetters(lake)
}

// createViews makes the lake's tables queryable under their Athena names,
// the current-state tables too where a refresh has committed a snapshot
// (read through their symlink manifests as docs/tables.md shows), and
// creates the views `hublake ddl` prints, with the very same statements,
// where the tables each reads exist. It returns the tables it made.
func createViews(db *sql.DB, lake, s3Root string) (map[string]bool, error) {
	have := map[string]bool{}
	for _, t := range schema.TableNames() {
		q, ok := table(lake, t)
		if !ok {
			continue
		}
		have[t] = true
		if _, err := db.Exec(`CREATE VIEW "` + t + `" AS SELECT * FROM ` + q); err != nil {
			return nil, fmt.Errorf("view %s: %w", t, err)
		}
	}
	for _, t := range schema.CurrentNames() {
		ok, err := createCurrent(db, lake, s3Root, t)
		if err != nil {
			return nil, fmt.Errorf("current table %s: %w", t, err)
		}
		have[t] = ok
	}
views:
	for _, v := range schema.Views() {
		for _, t := range v.Tables {
			if !have[t] {
				continue views
			}
		}
		if _, err := db.Exec(v.DDL(schema.DDLOptions{})); err != nil {
			return nil, fmt.Errorf("view %s: %w", v.Name, err)
		}
	}
	return have, nil
}

// createCurrent makes a current-state table queryable under its name when
// it has a committed snapshot: with the statements docs/tables.md gives
// (schema.DuckDBCurrentStatements) for a directory lake; for a directory
// that mirrors an S3 location, from the manifest's URLs mapped into it.
func createCurrent(db *sql.DB, lake, s3Root, table string) (bool, error) {
	raw, err := os.ReadFile(schema.CurrentManifestURL(lake, table))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if s3Root == "" {
		for _, stmt := range schema.DuckDBCurrentStatements(lake, table) {
			if _, err := db.Exec(stmt); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	var objects []string
	for _, url := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		rel, ok := strings.CutPrefix(url, strings.TrimSuffix(s3Root, "/")+"/")
		if !ok {
			return false, fmt.Errorf("the manifest lists %q, outside %s", url, s3Root)
		}
		objects = append(objects, "'"+strings.ReplaceAll(filepath.ToSlash(filepath.Join(lake, filepath.FromSlash(rel))), "'", "''")+"'")
	}
	_, err = db.Exec(`CREATE VIEW "` + table + `" AS SELECT * FROM read_parquet([` + strings.Join(objects, ", ") + `], hive_partitioning = false)`)
	return err == nil, err
}

// openCriticals is "open critical findings by account" over findings_latest
// or findings_current: the same query, which is the current table's point.
func openCriticals(from string) string {
	return "SELECT aws_account_id, count(*) AS open_critical FROM " + from + " WHERE severity_label = 'CRITICAL' AND coalesce(workflow_status, 'NEW') IN ('NEW', 'NOTIFIED') AND coalesce(record_state, 'ACTIVE') = 'ACTIVE' GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 5"
}

// currentSteps reads the current-state tables `hublake current` keeps:
// each against its latest view (the same rows: the check prints 0 and 0),
// and the report's open criticals from the table.
func currentSteps(have map[string]bool) []step {
	var steps []step
	var checks []string
	for _, h := range schema.CurrentTableNames() {
		c := struct{ Name, History, LatestView string }{schema.CurrentName(h), h, schema.LatestViewOf(h)}
		if !have[c.Name] || !have[c.History] {
			continue
		}
		checks = append(checks, fmt.Sprintf("SELECT '%s' AS current_table, (SELECT count(*) FROM %s) AS rows, (SELECT count(*) FROM %s) AS latest_view_rows, "+
			"(SELECT count(*) FROM (SELECT * EXCLUDE (dt) FROM %s EXCEPT ALL SELECT * FROM %s)) AS only_in_view, "+
			"(SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * EXCLUDE (dt) FROM %s)) AS only_in_table",
			c.Name, c.Name, c.LatestView, c.LatestView, c.Name, c.Name, c.LatestView))
	}
	if len(checks) > 0 {
		steps = append(steps, step{"current-state tables (hublake current) against the latest views: the same rows, read without the history", strings.Join(checks, " UNION ALL ")})
	}
	if have[schema.FindingsCurrentName] {
		steps = append(steps, step{"open critical findings, from findings_current (the same query as over findings_latest above)", openCriticals(schema.FindingsCurrentName)})
	}
	if have[schema.FindingsCurrentName] && have[schema.OCSFFindingsCurrentName] {
		steps = append(steps, step{"findings_all_current: what is open now in both formats, by severity", "SELECT severity, count(*) FILTER (format = 'asff') AS asff, count(*) FILTER (format = 'ocsf') AS ocsf FROM findings_all_current WHERE coalesce(status, 'NEW') NOT IN ('RESOLVED', 'SUPPRESSED') GROUP BY 1 ORDER BY asff + ocsf DESC, 1"})
	}
	return steps
}

// deadLetters prints the dead letters' reasons, counted.
func deadLetters(lake string) error {
	files, _ := filepath.Glob(filepath.Join(lake, "dead_letters", "*", "*.jsonl.gz"))
	reasons := map[string]int{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return err
		}
		zr, err := gzip.NewReader(fh)
		if err != nil {
			fh.Close()
			return fmt.Errorf("%s: %w", f, err)
		}
		sc := bufio.NewScanner(zr)
		sc.Buffer(nil, 64<<20)
		for sc.Scan() {
			var l struct {
				Error string `json:"error"`
			}
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				reasons[l.Error]++
			}
		}
		fh.Close()
	}
	fmt.Printf("\n== dead letters: %d\n", sumValues(reasons))
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return reasons[keys[i]] > reasons[keys[j]] || reasons[keys[i]] == reasons[keys[j]] && keys[i] < keys[j]
	})
	for _, k := range keys {
		fmt.Printf("%6d  %s\n", reasons[k], clip(k, 110))
	}
	return nil
}

func sumValues(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}
