package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hublake/hublake/current"
	"github.com/hublake/hublake/schema"
)

// currentCmd is `hublake current`: see package current. Its flags that
// compact also has with the same meaning read the same environment
// (HUBLAKE_OUT, HUBLAKE_TARGET_SIZE, HUBLAKE_LOCK_TTL, HUBLAKE_TEMP_DIR,
// HUBLAKE_EMF, HUBLAKE_PROGRESS, the S3 flags), so one task environment
// serves both; the two whose meaning differs read names of their own:
// HUBLAKE_CURRENT_TABLE (compact's HUBLAKE_TABLE may name tables without a
// current table) and HUBLAKE_CURRENT_DELETE_GRACE (compaction's grace is
// seconds, this one outlasts a query).
type currentCmd struct {
	lakeFlags         `set:"codec=${default_codec}"`
	Table             []string      `env:"HUBLAKE_CURRENT_TABLE" help:"Tables whose current table to refresh: findings, ocsf_findings, or the current tables' names (default: both)." placeholder:"TABLE"`
	Retention         string        `help:"What the current tables keep: securityhub (Security Hub's rules, durations below) or none (every finding, however old)." default:"securityhub" enum:"securityhub,none"`
	RetentionActive   time.Duration `name:"retention-active" help:"A finding leaves the current table this long after its last update (updated_at; OCSF: modified_time; else event_time)." default:"${current_active}"`
	RetentionArchived time.Duration `name:"retention-archived" help:"findings: an ARCHIVED finding leaves this long after its last update." default:"${current_archived}"`
	RetentionClosed   time.Duration `name:"retention-closed" help:"ocsf_findings: a closed finding (activity Close) leaves this long after its last update." default:"${current_closed}"`
	TargetSize        byteSize      `help:"Largest snapshot object." default:"${target_size}"`
	LockTTL           time.Duration `name:"lock-ttl" help:"A table's refresh lock expires this long after its holder last renewed it (every third of it)." default:"${lock_ttl}"`
	DeleteGrace       time.Duration `env:"HUBLAKE_CURRENT_DELETE_GRACE" help:"How long the replaced snapshot's objects stay once the new one is committed, so that a query planned on the old one can finish; the refresh waits for it before it returns (0: none)." default:"${current_delete_grace}"`
	Progress          string        `help:"Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none." default:"auto" enum:"auto,bar,lines,none"`
	TempDir           string        `name:"temp-dir" help:"Directory for the sorted runs that do not fit in memory (default: the system's)."`
	EMF               bool          `name:"emf" help:"Write a CloudWatch Embedded Metric Format line per table to stdout at the end (namespace hublake, dimensions Lake and Table): CurrentSnapshotAgeSeconds, CurrentRows, CurrentRefreshErrors."`
	// For tests and experiments.
	SortBuffer byteSize `name:"sort-buffer" help:"Rows sorted in memory before spilling to disk (each of two sorts)." default:"${current_sort_buffer}" hidden:""`
	Now        string   `help:"The refresh's clock, RFC 3339 (retention is judged against it)." hidden:""`
}

func (c *currentCmd) Run(ctx context.Context, g *globals) error {
	log := g.logger
	for i, t := range c.Table {
		// The current table's own name (findings_current) names it too:
		// the name an analyst knows from Athena.
		t = strings.TrimSuffix(t, schema.CurrentSuffix)
		if !slices.Contains(schema.CurrentTableNames(), t) {
			return usagef("--table %q: no current table (tables: %s)", c.Table[i], strings.Join(schema.CurrentTableNames(), ", "))
		}
		c.Table[i] = t
	}
	now := time.Now
	if c.Now != "" {
		at, err := time.Parse(time.RFC3339, c.Now)
		if err != nil {
			return usagef("--now %q: %v", c.Now, err)
		}
		now = func() time.Time { return at }
	}
	ret := current.Retention{Active: c.RetentionActive, Archived: c.RetentionArchived, Closed: c.RetentionClosed, None: c.Retention == "none"}
	if !ret.None && (ret.Active <= 0 || ret.Archived <= 0 || ret.Closed <= 0) {
		return usagef("--retention-active, --retention-archived and --retention-closed must be positive (or --retention none)")
	}
	if c.DeleteGrace < 0 {
		return usagef("--delete-grace %s: negative", c.DeleteGrace)
	}
	awsConf, err := c.awsConfig(ctx, log)
	if err != nil {
		return err
	}
	lk, err := c.open(ctx, awsConf, true)
	if err != nil {
		return err
	}
	prog := newProgress(c.Progress, "current", "tables", -1, log)
	opts := current.Options{
		Tables:      c.Table,
		Retention:   ret,
		TargetSize:  int64(c.TargetSize),
		Encode:      c.encodeOptions(),
		SortBuffer:  int64(c.SortBuffer),
		TempDir:     c.TempDir,
		LockTTL:     c.LockTTL,
		DeleteGrace: graceOption(c.DeleteGrace),
		Holder:      defaultWorkerID(ctx),
		Logger:      log,
		Progress:    prog.counter,
		CrashHook:   crashHookFromEnv(),
		Now:         now,
	}
	tuneMemory(log, current.MemoryBudget(opts), "the refresh's limits")
	start := time.Now()
	sums, err := current.Run(ctx, lk, opts)
	prog.finish()
	elapsed := time.Since(start)
	printCurrentSummary(os.Stdout, sums, elapsed, lk.String())
	for _, s := range sums {
		log.Info("current finished", "table", s.Table, "outcome", string(s.Outcome), "snapshot", s.Snapshot, "rows", s.Rows,
			"objects_read", s.ObjectsRead, "objects_skipped", s.ObjectsSkipped, "rows_read", s.RowsRead, "bytes_read", s.BytesRead,
			"expired", s.Expired, "objects_written", s.ObjectsWritten, "bytes_written", s.BytesWritten, "spilled_runs", s.Spilled,
			"recovered", s.Recovered, "deleted", s.Deleted, "relisted", s.Relisted)
	}
	if c.EMF {
		tables := c.Table
		if len(tables) == 0 {
			tables = schema.CurrentTableNames()
		}
		if werr := writeCurrentEMF(os.Stdout, tables, sums, err, lk.String(), time.Now()); werr != nil {
			log.Warn("could not write the EMF line", "err", werr)
		}
	}
	if err != nil {
		return fmt.Errorf("current did not complete: %w", err)
	}
	return nil
}

func printCurrentSummary(w io.Writer, sums []current.TableSummary, elapsed time.Duration, dest string) {
	fmt.Fprintf(w, "hublake current → %s\n", dest)
	for _, s := range sums {
		fmt.Fprintf(w, "  %s%s: %s\n", s.Table, schema.CurrentSuffix, s.Outcome)
		fmt.Fprintf(w, "    rows                   %10d   (snapshot %s)\n", s.Rows, s.Snapshot)
		fmt.Fprintf(w, "    history objects read   %10d   (new since the last refresh; %d compacted ones skipped: their inputs were read)\n", s.ObjectsRead, s.ObjectsSkipped)
		fmt.Fprintf(w, "    rows read              %10d   (%s)\n", s.RowsRead, humanBytes(s.BytesRead))
		fmt.Fprintf(w, "    expired                %10d   (findings past their retention)\n", s.Expired)
		fmt.Fprintf(w, "    objects written        %10d   (%s)\n", s.ObjectsWritten, humanBytes(s.BytesWritten))
		fmt.Fprintf(w, "    recovered refreshes    %10d   (interrupted by a crash; rolled back or finished)\n", s.Recovered)
		fmt.Fprintf(w, "    replaced objects deleted%9d\n", s.Deleted)
	}
	fmt.Fprintf(w, "  elapsed                  %10.2fs\n", elapsed.Seconds())
}

// writeCurrentEMF writes one CloudWatch Embedded Metric Format line per
// table (namespace hublake, dimensions Lake, the lake's URL, and Table,
// the history table's name, as compaction's metrics are by Lake: two
// stacks in one account and region must not feed one alarm):
//   - CurrentSnapshotAgeSeconds: how old the history the committed snapshot
//     holds may be: the time since the listing of the last refresh that
//     left it up to date (this run's, when it succeeded, whether it wrote a
//     snapshot or found nothing new), so it grows only when refreshes fail
//     or stop running; absent while the table has no snapshot;
//   - CurrentRows: the committed snapshot's rows (absent likewise);
//   - CurrentRefreshErrors: 1 when the table's refresh failed (or the run
//     stopped before it), else 0.
func writeCurrentEMF(w io.Writer, tables []string, sums []current.TableSummary, runErr error, lk string, now time.Time) error {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	for _, table := range tables {
		i := slices.IndexFunc(sums, func(s current.TableSummary) bool { return s.Table == table })
		var s current.TableSummary
		errs := 0
		switch {
		case i >= 0:
			if s = sums[i]; s.Outcome == current.Failed {
				errs = 1
			}
		case runErr != nil:
			errs = 1 // not reached: the run stopped before this table
		}
		line := map[string]any{"Table": table, "Lake": lk, "CurrentRefreshErrors": errs}
		metrics := []metricDef{{"CurrentRefreshErrors", "Count"}}
		if s.Snapshot != "" {
			line["CurrentSnapshotAgeSeconds"] = max(0, now.Sub(s.Fresh).Seconds())
			line["CurrentRows"] = s.Rows
			metrics = append(metrics, metricDef{"CurrentSnapshotAgeSeconds", "Seconds"}, metricDef{"CurrentRows", "Count"})
		}
		line["_aws"] = map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "hublake",
				"Dimensions": [][]string{{"Lake", "Table"}},
				"Metrics":    metrics,
			}},
		}
		b, err := json.Marshal(line)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(b, '\n')); err != nil {
			return err
		}
	}
	return nil
}
