package main

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/schema"
)

// The current tables' section of `make bench`: daily histories of 7, 30 and
// 90 days of the same live set (gen.Daily: every live finding re-sent each
// day), written by backfill and compacted as the hourly task would; on each,
// a full build of the current tables, an incremental refresh after one
// more day, and a refresh with nothing new; and the typical question ("open
// critical and high findings by account") through findings_latest (a
// window over the whole history) against findings_current. The
// incremental refresh must cost the live set, not the history: its ratio
// at 90 days against 7 is printed.

func benchCurrent(o options, rep *strings.Builder) error {
	if os.Getenv("BENCH_CURRENT_MEMORY_ONLY") != "" { // the memory measurement alone
		return benchCurrentMemory(o, o.currentRSSRows, rep)
	}
	fmt.Fprintf(rep, "## Current tables (%d live findings, re-sent daily)\n\n", o.currentLive)
	fmt.Fprintln(rep, "| history | history rows | history bytes | current rows | full build s | incremental s | incremental CPU s | incremental peak RSS | nothing new s | via findings_latest ms | via findings_current ms |")
	fmt.Fprintln(rep, "|---|---|---|---|---|---|---|---|---|---|---|")
	var inc []float64
	var live []int64
	for _, days := range []int{7, 30, 90} {
		row, err := benchCurrentHistory(o, days)
		if err != nil {
			return fmt.Errorf("%d days: %w", days, err)
		}
		inc = append(inc, row.incremental.wall.Seconds())
		live = append(live, row.currentRows)
		fmt.Fprintf(rep, "| %d days | %d | %s | %d | %.2f | %.2f | %.2f | %s | %.2f | %.1f | %.1f |\n", days, row.historyRows, human(row.historyBytes), row.currentRows,
			row.full.wall.Seconds(), row.incremental.wall.Seconds(), row.incremental.cpu.Seconds(), human(row.incremental.maxRSS),
			row.nothing.wall.Seconds(), ms(row.viaLatest), ms(row.viaCurrent))
	}
	fmt.Fprintf(rep, "\nIncremental refresh at 90 days against 7 days: **%.2f×** (the history is %.1f× as long, the live set %.1f×).\n\n", inc[2]/inc[0], 90.0/7, float64(live[2])/float64(live[0]))
	if o.currentRSSRows > 0 {
		return benchCurrentMemory(o, o.currentRSSRows, rep)
	}
	return nil
}

type currentRow struct {
	historyRows, currentRows   int64
	historyBytes               int64
	full, incremental, nothing result
	viaLatest, viaCurrent      time.Duration
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func benchCurrentHistory(o options, days int) (currentRow, error) {
	var row currentRow
	dir := filepath.Join(o.work, "current", strconv.Itoa(days))
	_ = os.RemoveAll(dir)
	corpus, last := filepath.Join(dir, "corpus"), filepath.Join(dir, "last")
	d, err := gen.NewDaily(gen.Config{Seed: 7, Accounts: 40, Regions: 8, Days: days + 1, End: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), OCSFRatio: gen.DefaultOCSFRatio}, o.currentLive)
	if err != nil {
		return row, err
	}
	for day := range days + 1 {
		out := corpus
		if day == days {
			out = last
		}
		if err := writeUnits(filepath.Join(out, fmt.Sprintf("day-%03d.json", day)), d.Day(day)); err != nil {
			return row, err
		}
	}
	lake := filepath.Join(dir, "lake")
	now := "--now=2026-11-01T12:00:00Z"
	steps := [][]string{
		{"backfill", "--progress", "none", "--log-level", "warn", "--flush-records", "2000", "--out", lake, corpus},
		{"compact", "--progress", "none", "--log-level", "warn", "--older-than", "0s", "--delete-grace", "0s", "--out", lake},
	}
	for _, s := range steps {
		if _, err := runMeasured(o.hublake, s...); err != nil {
			return row, err
		}
	}
	cur := []string{"current", "--progress", "none", "--log-level", "warn", "--delete-grace", "0s", now, "--out", lake}
	if row.full, err = runMeasuredRSS(o.hublake, cur...); err != nil {
		return row, err
	}
	if _, err := runMeasured(o.hublake, "backfill", "--progress", "none", "--log-level", "warn", "--flush-records", "2000", "--out", lake, last); err != nil {
		return row, err
	}
	if row.incremental, err = runMeasuredRSS(o.hublake, cur...); err != nil {
		return row, err
	}
	if row.nothing, err = runMeasuredRSS(o.hublake, cur...); err != nil {
		return row, err
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return row, err
	}
	defer db.Close()
	history := fmt.Sprintf("read_parquet('%s/findings/*/*.parquet', hive_partitioning=true)", lake)
	manifest, err := os.ReadFile(filepath.Join(lake, "findings_current", "_symlink_format_manifest", "manifest"))
	if err != nil {
		return row, err
	}
	current := "read_parquet(['" + strings.Join(strings.Fields(string(manifest)), "', '") + "'])"
	if err := db.QueryRow("SELECT count(*), (SELECT count(*) FROM "+current+") FROM "+history).Scan(&row.historyRows, &row.currentRows); err != nil {
		return row, err
	}
	row.historyBytes = dirSize(filepath.Join(lake, "findings"))
	const q = `SELECT aws_account_id, severity_label, count(*) FROM %s WHERE record_state = 'ACTIVE' AND severity_label IN ('CRITICAL', 'HIGH') AND (workflow_status IS NULL OR workflow_status IN ('NEW', 'NOTIFIED')) GROUP BY 1, 2`
	latest := "(SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY product_arn, id ORDER BY updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST, source DESC, finding_index DESC) AS rn FROM " + history + ") WHERE rn = 1)"
	best := func(from string) (time.Duration, error) {
		var b time.Duration
		for i := range 5 {
			start := time.Now()
			rows, err := db.Query(fmt.Sprintf(q, from))
			if err != nil {
				return 0, err
			}
			for rows.Next() {
			}
			rows.Close()
			if el := time.Since(start); i == 0 || el < b {
				b = el
			}
		}
		return b, nil
	}
	if row.viaLatest, err = best(latest); err != nil {
		return row, err
	}
	row.viaCurrent, err = best(current)
	return row, err
}

func writeUnits(path string, units [][]byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var b []byte
	for _, u := range units {
		b = append(append(b, u...), '\n')
	}
	return os.WriteFile(path, b, 0o644)
}

// benchCurrentMemory measures a full build of findings_current over a
// synthetic history of n live findings (each once, in objects of 50,000
// rows, a raw_finding of 512 hex digits, which compresses about as JSON
// does, 2 to 3 times): the refresh's peak RSS when the live set is far
// larger than its sort buffers.
func benchCurrentMemory(o options, n int, rep *strings.Builder) error {
	dir := filepath.Join(o.work, "current", "memory")
	_ = os.RemoveAll(dir)
	lake := filepath.Join(dir, "lake")
	const perObject = 50000
	severities := []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "INFORMATIONAL"}
	start := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	hexRaw := func(i int) string {
		var b strings.Builder
		x := uint64(i)*0x9e3779b97f4a7c15 + 1
		for b.Len() < 512 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			fmt.Fprintf(&b, "%016x", x)
		}
		return b.String()
	}
	for k := 0; k*perObject < n; k++ {
		rows := make([]schema.Finding, 0, perObject)
		for i := k * perObject; i < min(n, (k+1)*perObject); i++ {
			t := start.Add(time.Duration(i%(30*24*60)) * time.Minute)
			rows = append(rows, schema.Finding{
				EventTime: t, EventDetailType: "Security Hub Findings - Imported", FindingIndex: 0,
				ID:         fmt.Sprintf("arn:aws:securityhub:eu-west-1:%012d:subscription/aws-foundational-security-best-practices/v/1.0.0/EC2.%d/finding/%08x", i%500, i%60, i),
				ProductARN: "arn:aws:securityhub:eu-west-1::product/aws/securityhub", ProductName: "Security Hub",
				AwsAccountID: fmt.Sprintf("%012d", i%500), Region: "eu-west-1", UpdatedAt: t, ProcessedAt: t, CreatedAt: start,
				SeverityLabel: severities[i%len(severities)], Title: fmt.Sprintf("EC2.%d control", i%60), RecordState: "ACTIVE",
				WorkflowStatus: "NEW", ComplianceStatus: "FAILED", ComplianceSecurityControlID: fmt.Sprintf("EC2.%d", i%60),
				RawFinding: hexRaw(i), Source: fmt.Sprintf("bench:%d", i),
			})
		}
		dt := start.AddDate(0, 0, k%30).Format(time.DateOnly)
		p := filepath.Join(lake, "findings", "dt="+dt, fmt.Sprintf("bench-%04d.parquet", k))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		// Row groups of 2,000 rows, about the writer's (4 MiB of values).
		w := parquet.NewGenericWriter[schema.Finding](f, parquet.Compression(&parquet.Zstd))
		for j := 0; j < len(rows); j += 2000 {
			if _, err := w.Write(rows[j:min(j+2000, len(rows))]); err != nil {
				f.Close()
				return err
			}
			if err := w.Flush(); err != nil {
				f.Close()
				return err
			}
		}
		if err := w.Close(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	r, err := runMeasuredRSS(o.hublake, "current", "--progress", "none", "--log-level", "warn", "--delete-grace", "0s", "--retention", "none", "--table", "findings", "--temp-dir", dir, "--out", lake)
	if err != nil {
		return err
	}
	fmt.Fprintf(rep, "Full build of findings_current over %d live findings (synthetic, %s of history objects): %.1fs wall, %.1f CPU s, **peak RSS %s**.\n\n",
		n, human(dirSize(filepath.Join(lake, "findings"))), r.wall.Seconds(), r.cpu.Seconds(), human(r.maxRSS))
	return nil
}

// runMeasuredRSS is runMeasured, with the peak RSS measured by
// /usr/bin/time: Linux keeps a process's peak RSS across exec, and a child
// this process starts shares its memory until it execs (os/exec's vfork),
// so runMeasured's figure is at least this process's own RSS (DuckDB's
// memory, rows just generated: 353 MiB against 127 MiB in the child's
// /proc/PID/status). /usr/bin/time's child is forked from a small process.
func runMeasuredRSS(name string, args ...string) (result, error) {
	tm, err := exec.LookPath("/usr/bin/time")
	if err != nil {
		return runMeasured(name, args...)
	}
	cmd := exec.Command(tm, append([]string{"-f", "hublake-maxrss-kb %M", name}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", name, err, stderr.String())
	}
	r := result{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	m := regexp.MustCompile(`hublake-maxrss-kb ([0-9]+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		return r, fmt.Errorf("no peak RSS from /usr/bin/time: %s", stderr.String())
	}
	kb, _ := strconv.ParseInt(m[1], 10, 64)
	r.maxRSS = kb * 1024
	return r, nil
}
