// Command lakequery reads a local hublake lake with DuckDB, as Athena would
// (hive partitioning, dt as text), and prints what a security engineer wants
// to see first. It is a development tool for `make demo`: it needs cgo,
// which the hublake binary does not.
//
//	go run ./internal/tools/lakequery -lake ./lake [-count]
package main

import (
	"bufio"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	_ "github.com/duckdb/duckdb-go/v2"
)

func main() {
	lake := flag.String("lake", "lake", "lake root directory")
	count := flag.Bool("count", false, "print only the number of finding rows")
	flag.Parse()
	if err := run(*lake, *count); err != nil {
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

func run(lake string, countOnly bool) error {
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
	if !ok {
		return fmt.Errorf("no findings under %s", lake)
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
	steps := []struct{ title, q string }{
		{"rows per table", "SELECT 'findings' AS table_name, count(*) AS rows, count(DISTINCT dt) AS partitions, min(dt) AS first_dt, max(dt) AS last_dt FROM " + findings},
		{"findings by severity", "SELECT coalesce(severity_label, '∅') AS severity, count(*) AS rows, count(DISTINCT product_arn || id) AS distinct_findings FROM " + findings + " GROUP BY 1 ORDER BY rows DESC"},
		{"findings by product", "SELECT coalesce(product_name, '∅') AS product, count(*) AS rows, count(DISTINCT aws_account_id) AS accounts FROM " + findings + " GROUP BY 1 ORDER BY rows DESC"},
		{"busiest partitions", "SELECT dt, count(*) AS rows FROM " + findings + " GROUP BY dt ORDER BY rows DESC, dt LIMIT 5"},
		{"open critical findings, latest state (top accounts)", "WITH latest AS (SELECT *, row_number() OVER (PARTITION BY product_arn, id ORDER BY updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST) AS rn FROM " + findings + ") " +
			"SELECT aws_account_id, count(*) AS open_critical FROM latest WHERE rn = 1 AND severity_label = 'CRITICAL' AND coalesce(workflow_status, 'NEW') IN ('NEW', 'NOTIFIED') AND coalesce(record_state, 'ACTIVE') = 'ACTIVE' GROUP BY 1 ORDER BY 2 DESC LIMIT 5"},
		{"sent by custom actions", "SELECT action_name, count(*) AS findings, min(event_time) AS first_sent FROM " + findings + " WHERE action_arn IS NOT NULL GROUP BY 1 ORDER BY 2 DESC LIMIT 5"},
		{"latest critical and high findings", "SELECT updated_at, severity_label, product_name, aws_account_id, title FROM " + findings + " WHERE severity_label IN ('CRITICAL', 'HIGH') ORDER BY updated_at DESC NULLS LAST, id LIMIT 6"},
	}
	if insights, ok := table(lake, "insight_results"); ok {
		steps = append(steps, struct{ title, q string }{"insight results", "SELECT insight_name, result_type, count(*) AS results, sum(result_count) AS total FROM " + insights + " GROUP BY 1, 2 ORDER BY results DESC LIMIT 5"})
	}
	for _, s := range steps {
		if err := section(s.title, s.q); err != nil {
			return err
		}
	}
	return deadLetters(lake)
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
