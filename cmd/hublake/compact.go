package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hublake/hublake/compact"
)

// compactCmd is `hublake compact`: see package compact.
type compactCmd struct {
	lakeFlags   `set:"codec=${default_codec}"`
	Table       []string      `help:"Tables to compact (default: all)." placeholder:"TABLE"`
	OlderThan   time.Duration `help:"Compact only batch objects written longer ago than this." default:"${older_than}"`
	TargetSize  byteSize      `help:"Largest compacted object." default:"${target_size}"`
	LockTTL     time.Duration `name:"lock-ttl" help:"A partition's lock expires this long after its holder last renewed it (every third of it)." default:"${lock_ttl}"`
	DeleteGrace time.Duration `help:"How long replaced objects stay after their compacted objects are in place, so that a reader listing the partition meanwhile sees one or the other." default:"${delete_grace}"`
	Progress    string        `help:"Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none." default:"auto" enum:"auto,bar,lines,none"`
	TempDir     string        `name:"temp-dir" help:"Directory for the sorted runs that do not fit in memory (default: the system's)."`
	EMF         bool          `name:"emf" help:"Write the run's metrics as a CloudWatch Embedded Metric Format line to stdout at the end."`
	// For experiments and tests.
	Sort       []string `help:"Override a table's sort keys: table=col,col,... (repeatable)." sep:"none" hidden:""`
	SortBuffer byteSize `name:"sort-buffer" help:"Rows sorted in memory before spilling to disk." default:"${sort_buffer}" hidden:""`
}

func (c *compactCmd) Run(ctx context.Context, g *globals) error {
	log := g.logger
	sortKeys := map[string][]string{}
	for _, s := range c.Sort {
		table, cols, ok := strings.Cut(s, "=")
		if !ok {
			return usagef("--sort %q: want table=column,column", s)
		}
		sortKeys[table] = nil
		if cols != "" {
			sortKeys[table] = strings.Split(cols, ",")
		}
	}
	awsConf, err := c.awsConfig(ctx, log)
	if err != nil {
		return err
	}
	lk, err := c.open(ctx, awsConf, true)
	if err != nil {
		return err
	}
	prog := newProgress(c.Progress, "compact", "partitions", -1, log)
	opts := compact.Options{
		Tables:      c.Table,
		OlderThan:   c.OlderThan,
		TargetSize:  int64(c.TargetSize),
		Encode:      c.encodeOptions(),
		SortBuffer:  int64(c.SortBuffer),
		TempDir:     c.TempDir,
		LockTTL:     c.LockTTL,
		DeleteGrace: graceOption(c.DeleteGrace),
		Holder:      defaultWorkerID(ctx),
		SortKeys:    sortKeys,
		Logger:      log,
		Progress:    prog.counter,
		CrashHook:   crashHookFromEnv(),
	}
	// Compaction stays inside its budget however large a partition is (its
	// sort buffer, the inputs decoded ahead, the merge's readers, one row
	// group being encoded).
	tuneMemory(log, compact.MemoryBudget(opts), "compaction's limits")
	start := time.Now()
	sum, err := compact.Run(ctx, lk, opts)
	prog.finish()
	elapsed := time.Since(start)
	printCompactSummary(os.Stdout, sum, elapsed, lk.String())
	log.Info("compact finished",
		"partitions", sum.Partitions, "compacted", sum.Compacted, "up_to_date", sum.UpToDate, "too_recent", sum.TooRecent,
		"locked", sum.Locked, "failed", sum.Failed, "objects_in", sum.ObjectsIn, "objects_out", sum.ObjectsOut,
		"bytes_in", sum.BytesIn, "bytes_out", sum.BytesOut, "rows", sum.Rows, "spilled_runs", sum.Spilled,
		"recovered", sum.Recovered, "reappeared_removed", sum.Reappeared, "unrecognised", sum.Unrecognised,
		"temp_removed", sum.TempRemoved, "seconds", elapsed.Seconds())
	if c.EMF {
		if werr := writeCompactEMF(os.Stdout, sum, err, lk.String(), time.Now()); werr != nil {
			log.Warn("could not write the EMF line", "err", werr)
		}
	}
	if err != nil {
		return fmt.Errorf("compact did not complete: %w", err)
	}
	return nil
}

func printCompactSummary(w io.Writer, s *compact.Summary, elapsed time.Duration, dest string) {
	fmt.Fprintf(w, "hublake compact → %s\n", dest)
	fmt.Fprintf(w, "  partitions seen        %10d\n", s.Partitions)
	fmt.Fprintf(w, "  compacted              %10d\n", s.Compacted)
	fmt.Fprintf(w, "  up to date             %10d\n", s.UpToDate)
	fmt.Fprintf(w, "  too recent             %10d   (only objects younger than --older-than)\n", s.TooRecent)
	fmt.Fprintf(w, "  locked                 %10d   (another compaction was at them)\n", s.Locked)
	fmt.Fprintf(w, "  failed                 %10d\n", s.Failed)
	fmt.Fprintf(w, "  objects in → out       %10d → %d   (%s → %s)\n", s.ObjectsIn, s.ObjectsOut, humanBytes(s.BytesIn), humanBytes(s.BytesOut))
	fmt.Fprintf(w, "  rows                   %10d\n", s.Rows)
	fmt.Fprintf(w, "  recovered runs         %10d   (interrupted by a crash; rolled back or finished)\n", s.Recovered)
	fmt.Fprintf(w, "  absorbed names removed %10d   (late or replayed writes of compacted objects)\n", s.Reappeared)
	fmt.Fprintf(w, "  unrecognised objects   %10d   (kept; see the log)\n", s.Unrecognised)
	fmt.Fprintf(w, "  temporary files removed%10d\n", s.TempRemoved)
	fmt.Fprintf(w, "  elapsed                %10.2fs\n", elapsed.Seconds())
}

// writeCompactEMF writes one CloudWatch Embedded Metric Format line with the
// run's metrics (namespace hublake, dimension Lake = the lake's URL, as
// the store prints it: s3://bucket/prefix):
//   - CompactionRuns: 1, in every run's line, whether it found anything to
//     compact or not, so that its absence means compaction did not run;
//   - CompactedPartitions: partitions compacted;
//   - CompactedObjects: objects replaced, CompactionBytes: their bytes;
//   - CompactionErrors: partitions that failed, plus one when the run could
//     not complete (runErr: a table could not be listed, the run was
//     stopped).
func writeCompactEMF(w io.Writer, s *compact.Summary, runErr error, lk string, now time.Time) error {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	if s == nil {
		s = &compact.Summary{}
	}
	errs := s.Failed
	if runErr != nil {
		errs++
	}
	line := map[string]any{
		"Lake":                lk,
		"CompactionRuns":      1,
		"CompactedPartitions": s.Compacted,
		"CompactedObjects":    s.ObjectsIn,
		"CompactionBytes":     s.BytesIn,
		"CompactionErrors":    errs,
		"_aws": map[string]any{
			"Timestamp": now.UnixMilli(),
			"CloudWatchMetrics": []any{map[string]any{
				"Namespace":  "hublake",
				"Dimensions": [][]string{{"Lake"}},
				"Metrics": []metricDef{
					{"CompactionRuns", "Count"}, {"CompactedPartitions", "Count"}, {"CompactedObjects", "Count"},
					{"CompactionBytes", "Bytes"}, {"CompactionErrors", "Count"},
				},
			}},
		},
	}
	b, err := json.Marshal(line)
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// graceOption is a --delete-grace flag as compact.Options and
// current.Options take it: the flag's 0 is no grace, which the options
// spell as a negative value (their 0 is the default).
func graceOption(flag time.Duration) time.Duration {
	if flag <= 0 {
		return -1
	}
	return flag
}
