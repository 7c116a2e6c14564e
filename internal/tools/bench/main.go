// Command bench is `make bench`: hublake against DuckDB on the same corpus
// in the same run, and the stream consumer on the local stack.
//
//  1. Generates a corpus of realistic events (hublake gen; deterministic).
//  2. Runs `hublake backfill` and the DuckDB reference (duckref) on it (as
//     files of 16 MiB and as one file of the same events),
//     alternating which goes first, over several rounds, and reports for
//     each: MB/s of input, findings/s, CPU seconds, peak RSS, output bytes,
//     and the median of the per-round hublake/DuckDB throughput ratios. The
//     two lakes must hold the same rows: counts per table and partition are
//     compared with DuckDB.
//  3. A scaling table (-scale): both tools once on 0.1, 0.4 and 1.6 GB,
//     many files and one file each: wall, CPU seconds (and per GB), peak
//     RSS.
//  4. Measures the consumer from a loaded kinesis-mock stream (records/s,
//     MB/s, MB/s per CPU second of the consumer, and the emulator's own CPU),
//     and event-to-object latency at the default flush settings.
//  5. Measures compaction (compact.go): a day of a four-shard stream at the
//     default window before and after `hublake compact`, against the same
//     events written in one pass; objects, bytes, DuckDB query times,
//     compaction's throughput and peak RSS, and a study of sort keys.
//  6. Runs the in-process Go benchmarks (decode, dedup, Parquet encoding,
//     the consumer's processing path without an emulator, the writers'
//     absorbed-name check).
//
// It is a development tool (cgo, DuckDB); nothing here times tests.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/hublake/hublake/internal/localstack"
)

type options struct {
	bytes, consumerBytes   string
	rounds                 int
	work, hublake, duckref string
	tools                  string
	consumer, latency, gob bool
	backfill               bool
	compact, sortStudy     bool
	compactBytes           string
	scale                  string
	current                bool
	currentLive            int
	currentRSSRows         int
}

func main() {
	var o options
	flag.StringVar(&o.bytes, "bytes", "200MB", "corpus size")
	flag.IntVar(&o.rounds, "rounds", 3, "A/B rounds")
	flag.StringVar(&o.work, "work", ".bench", "working directory (corpus, lakes, report)")
	flag.StringVar(&o.hublake, "hublake", "bin/hublake", "hublake binary")
	flag.StringVar(&o.duckref, "duckref", "bin/duckref", "DuckDB reference binary")
	flag.StringVar(&o.tools, "tools", ".tools", "local stack tools")
	flag.BoolVar(&o.consumer, "consumer", true, "measure the consumer on the local stack")
	flag.StringVar(&o.consumerBytes, "consumer-bytes", "48MB", "input published to the stream for the consumer measurement")
	flag.BoolVar(&o.latency, "latency", true, "measure event-to-object latency at default flush settings (about a minute)")
	flag.BoolVar(&o.gob, "go-bench", true, "run the in-process Go benchmarks")
	flag.BoolVar(&o.backfill, "backfill", true, "measure backfill against DuckDB")
	flag.BoolVar(&o.compact, "compact", true, "measure compaction: a day of a 4-shard stream before and after, and written in one pass")
	flag.BoolVar(&o.sortStudy, "sort-study", true, "with -compact: compare sort keys of findings")
	flag.StringVar(&o.compactBytes, "compact-bytes", "100MB", "size of the generated day for the compaction measurement")
	flag.StringVar(&o.scale, "scale", "100MB,400MB,1600MB", "input sizes of the scaling table (many files and one file each); empty: no scaling table")
	flag.BoolVar(&o.current, "current", true, "measure the current tables: refreshes over 7, 30 and 90 days of history, and their queries against the latest views")
	flag.IntVar(&o.currentLive, "current-live", 3000, "with -current: the live findings re-sent daily")
	flag.IntVar(&o.currentRSSRows, "current-rss-rows", 1000000, "with -current: the live findings of the synthetic history whose full build's peak RSS is measured (0: none)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// result is one run of one tool.
type result struct {
	wall, cpu time.Duration
	maxRSS    int64 // bytes
	outBytes  int64
}

func (r result) mbps(in int64) float64 { return float64(in) / 1e6 / r.wall.Seconds() }

// runMeasured runs a command and returns its wall time, CPU time and peak RSS.
func runMeasured(name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Stdout = io.Discard
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%s: %w\n%s", name, err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{
		wall:   time.Since(start),
		cpu:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		maxRSS: ru.Maxrss * 1024,
	}, nil
}

func dirSize(dir string) (n int64) {
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}

func run(o options) error {
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	corpus, err := manyFiles(o, o.bytes)
	if err != nil {
		return err
	}
	in := dirSize(corpus)
	var rep strings.Builder
	fmt.Fprintf(&rep, "## Run of %s\n\nMachine: %d CPUs (%s), %s, Go %s. Corpus: %s in %s (generated, seed 1).\n\n",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), cpuModel(), memTotal(), strings.TrimPrefix(runtime.Version(), "go"), human(in), corpus)

	if o.backfill {
		if err := benchBackfill(o, "many files", corpus, in, &rep); err != nil {
			return err
		}
		single, err := singleFile(corpus)
		if err != nil {
			return err
		}
		if err := benchBackfill(o, "one file", single, in, &rep); err != nil {
			return err
		}
	}
	if o.scale != "" {
		if err := benchScaling(o, &rep); err != nil {
			return fmt.Errorf("scaling: %w", err)
		}
	}

	if o.consumer {
		if err := benchConsumer(o, corpus, &rep); err != nil {
			return fmt.Errorf("consumer: %w", err)
		}
	}
	if o.compact {
		if err := benchCompaction(o, &rep); err != nil {
			return fmt.Errorf("compaction: %w", err)
		}
	}
	if o.current {
		if err := benchCurrent(o, &rep); err != nil {
			return fmt.Errorf("current: %w", err)
		}
	}
	if o.gob {
		if err := goBenchmarks(&rep); err != nil {
			return err
		}
	}
	report := filepath.Join(o.work, "report.md")
	if err := os.WriteFile(report, []byte(rep.String()), 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Print(rep.String())
	fmt.Printf("(written to %s)\n", report)
	return nil
}

// manyFiles generates (once) the many-file corpus of size bytes: NDJSON files
// of 16 MiB, 130 days, ASFF and OCSF events (hublake gen's defaults).
func manyFiles(o options, size string) (string, error) {
	corpus := filepath.Join(o.work, "corpus-"+size)
	if _, err := os.Stat(filepath.Join(corpus, ".done")); err == nil {
		return corpus, nil
	}
	fmt.Printf("generating a %s corpus…\n", size)
	_ = os.RemoveAll(corpus)
	if out, err := exec.Command(o.hublake, "gen", "--bytes", size, "--out", corpus).CombinedOutput(); err != nil {
		return "", fmt.Errorf("gen: %w\n%s", err, out)
	}
	return corpus, os.WriteFile(filepath.Join(corpus, ".done"), nil, 0o644)
}

// singleFile is the same events as the many-file corpus, in its order, as
// one NDJSON file (an export, a concatenated archive): a directory holding
// all.json, which both tools read as one input. Both deduplicate per input
// file, so the two lakes still hold the same rows as each other.
func singleFile(corpus string) (string, error) {
	dir := corpus + "-single"
	if _, err := os.Stat(filepath.Join(dir, ".done")); err == nil {
		return dir, nil
	}
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.json"))
	slices.Sort(files)
	out, err := os.Create(filepath.Join(dir, "all.json"))
	if err != nil {
		return "", err
	}
	for _, f := range files {
		in, err := os.Open(f)
		if err != nil {
			out.Close()
			return "", err
		}
		_, err = io.Copy(out, in)
		in.Close()
		if err != nil {
			out.Close()
			return "", err
		}
	}
	if err := out.Close(); err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, ".done"), nil, 0o644)
}

// hubBackfill and duckBackfill run one backfill of corpus into out.
func hubBackfill(o options, corpus, out string) (result, error) {
	_ = os.RemoveAll(out)
	r, err := runMeasured(o.hublake, "backfill", "--progress", "none", "--log-level", "warn", "--out", out, corpus)
	r.outBytes = dirSize(out)
	return r, err
}

func duckBackfill(o options, corpus, out string) (result, error) {
	_ = os.RemoveAll(out)
	r, err := runMeasured(o.duckref, "-in", corpus, "-out", out, "-threads", strconv.Itoa(runtime.NumCPU()))
	r.outBytes = dirSize(out)
	return r, err
}

// cpuPerGB is CPU seconds per GB (10^9 bytes) of input.
func cpuPerGB(r result, in int64) float64 { return r.cpu.Seconds() / (float64(in) / 1e9) }

// benchBackfill runs hublake backfill and the DuckDB reference on the
// corpus, alternating, and reports both.
func benchBackfill(o options, name, corpus string, in int64, rep *strings.Builder) error {
	hubOut, duckOut := filepath.Join(o.work, "lake-hublake"), filepath.Join(o.work, "lake-duckdb")
	var hub, duck []result
	var ratios []float64
	for round := range o.rounds {
		runHub := func() error {
			r, err := hubBackfill(o, corpus, hubOut)
			hub = append(hub, r)
			return err
		}
		runDuck := func() error {
			r, err := duckBackfill(o, corpus, duckOut)
			duck = append(duck, r)
			return err
		}
		first, second := runHub, runDuck
		if round%2 == 1 {
			first, second = runDuck, runHub
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
		h, d := hub[len(hub)-1], duck[len(duck)-1]
		ratios = append(ratios, h.mbps(in)/d.mbps(in))
		fmt.Printf("%s, round %d: hublake %.1f MB/s (%.1fs), DuckDB %.1f MB/s (%.1fs), ratio %.2f\n",
			name, round+1, h.mbps(in), h.wall.Seconds(), d.mbps(in), d.wall.Seconds(), ratios[len(ratios)-1])
	}
	counts, kept, err := compareLakes(hubOut, duckOut)
	if err != nil {
		return err
	}
	findings := counts["findings"] + counts["ocsf_findings"] // rows of both formats
	fmt.Fprintf(rep, "### Backfill, %s: hublake against DuckDB (%d rounds, alternating A/B)\n\n", name, o.rounds)
	fmt.Fprintf(rep, "Input: %s in %s. Both lakes hold the same rows: %d findings, %d OCSF findings and %d insight results in %d partitions, equal per table and partition.%s\n\n",
		human(in), corpus, counts["findings"], counts["ocsf_findings"], counts["insight_results"], counts["partitions"], windowNote(kept))
	fmt.Fprintln(rep, "| | MB/s of input (median) | finding rows/s (both formats) | wall s | CPU s | CPU s per GB | peak RSS | output | output/input |")
	fmt.Fprintln(rep, "|---|---|---|---|---|---|---|---|---|")
	for _, t := range []struct {
		name string
		rs   []result
	}{{"hublake backfill", hub}, {"DuckDB reference", duck}} {
		mb := median(mapSlice(t.rs, func(r result) float64 { return r.mbps(in) }))
		wall := median(mapSlice(t.rs, func(r result) float64 { return r.wall.Seconds() }))
		cpu := median(mapSlice(t.rs, func(r result) float64 { return r.cpu.Seconds() }))
		rss := slices.Max(mapSlice(t.rs, func(r result) float64 { return float64(r.maxRSS) }))
		out := t.rs[len(t.rs)-1].outBytes
		fmt.Fprintf(rep, "| %s | %.1f | %.0f | %.2f | %.1f | %.1f | %s | %s | %.2f |\n", t.name, mb, float64(findings)/wall, wall, cpu, cpu/(float64(in)/1e9),
			human(int64(rss)), human(out), float64(out)/float64(in))
	}
	fmt.Fprintf(rep, "\n**hublake / DuckDB throughput, %s: %.2f×** (median of per-round ratios %s).\n\n", name, median(ratios), fmtList(ratios))
	return nil
}

// benchScaling runs both tools once per size of o.scale, on the many-file
// corpus of that size and on the same events as one file, and reports wall
// time, CPU seconds (and per GB) and peak RSS: cost should grow with the
// input, memory should not.
func benchScaling(o options, rep *strings.Builder) error {
	fmt.Fprintf(rep, "### Scaling: one run of each tool per input (hublake first)\n\n")
	fmt.Fprintln(rep, "| input | layout | hublake wall s | CPU s | CPU s per GB | peak RSS | DuckDB wall s | CPU s | CPU s per GB | peak RSS | hublake / DuckDB |")
	fmt.Fprintln(rep, "|---|---|---|---|---|---|---|---|---|---|---|")
	hubOut, duckOut := filepath.Join(o.work, "lake-hublake"), filepath.Join(o.work, "lake-duckdb")
	var notes []string
	for _, size := range strings.Split(o.scale, ",") {
		many, err := manyFiles(o, strings.TrimSpace(size))
		if err != nil {
			return err
		}
		single, err := singleFile(many)
		if err != nil {
			return err
		}
		for _, layout := range []struct{ name, dir string }{{"many files", many}, {"one file", single}} {
			in := dirSize(layout.dir)
			h, err := hubBackfill(o, layout.dir, hubOut)
			if err != nil {
				return err
			}
			d, err := duckBackfill(o, layout.dir, duckOut)
			if err != nil {
				return err
			}
			_, kept, err := compareLakes(hubOut, duckOut)
			if err != nil {
				return err
			}
			if kept > 0 {
				notes = append(notes, fmt.Sprintf("%s, %s:%s", human(in), layout.name, windowNote(kept)))
			}
			fmt.Printf("scaling %s %s: hublake %.1fs, DuckDB %.1fs\n", human(in), layout.name, h.wall.Seconds(), d.wall.Seconds())
			fmt.Fprintf(rep, "| %s | %s | %.1f | %.1f | %.1f | %s | %.1f | %.1f | %.1f | %s | %.2f× |\n", human(in), layout.name,
				h.wall.Seconds(), h.cpu.Seconds(), cpuPerGB(h, in), human(h.maxRSS),
				d.wall.Seconds(), d.cpu.Seconds(), cpuPerGB(d, in), human(d.maxRSS), d.wall.Seconds()/h.wall.Seconds())
		}
	}
	fmt.Fprintln(rep)
	if len(notes) == 0 {
		fmt.Fprintln(rep, "Both lakes hold the same rows per table and partition at every size.")
	}
	for _, n := range notes {
		fmt.Fprintln(rep, "- "+n)
	}
	fmt.Fprintln(rep)
	return nil
}

// dedupKeys are the tables' dedup keys over a lake's columns (docs/tables.md,
// "Deduplication"; the source without its #offset is the input file).
var dedupKeys = map[string]string{
	"findings":        "split_part(source, '#', 1), event_detail_type, coalesce(action_arn, ''), md5(raw_finding)",
	"ocsf_findings":   "split_part(source, '#', 1), event_detail_type, md5(raw_finding)",
	"insight_results": "split_part(source, '#', 1), md5(raw_detail), result_index",
}

// compareLakes checks that both lakes hold the same number of rows per table
// and partition. hublake deduplicates within the most recent --dedup-window
// keys of an input, the reference over the whole input: when the counts
// differ, hublake's lake is compared again with the copies of a key that
// came after its first one dropped (the reference keeps the earliest
// event's copy too), and windowKept says how many rows that took. Equal
// then, the difference is the documented window, and the report says so.
func compareLakes(a, b string) (totals map[string]int64, windowKept int64, err error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, 0, err
	}
	defer db.Close()
	totals = map[string]int64{}
	for _, table := range []string{"findings", "insight_results", "ocsf_findings"} {
		per := func(query string) (map[string]int64, error) {
			rows, err := db.Query(query)
			if err != nil {
				return nil, err
			}
			defer rows.Close()
			m := map[string]int64{}
			for rows.Next() {
				var dt string
				var n int64
				if err := rows.Scan(&dt, &n); err != nil {
					return nil, err
				}
				m[dt] = n
			}
			return m, rows.Err()
		}
		scan := func(root string) string {
			return fmt.Sprintf("read_parquet('%s', hive_partitioning = true, hive_types = {'dt': VARCHAR})",
				filepath.ToSlash(filepath.Join(root, table, "*", "*.parquet")))
		}
		x, err := per("SELECT dt, count(*) FROM " + scan(a) + " GROUP BY dt")
		if err != nil {
			return nil, 0, err
		}
		y, err := per("SELECT dt, count(*) FROM " + scan(b) + " GROUP BY dt")
		if err != nil {
			return nil, 0, err
		}
		if differ(x, y) != "" {
			key := dedupKeys[table]
			z, err := per("SELECT dt, count(*) FROM (SELECT DISTINCT ON (" + key + ") dt FROM " + scan(a) + " ORDER BY " + key + ", event_time) GROUP BY dt")
			if err != nil {
				return nil, 0, err
			}
			if d := differ(z, y); d != "" {
				return nil, 0, fmt.Errorf("%s %s: the reference does not match", table, d)
			}
			windowKept += sum(x) - sum(z)
		}
		totals[table] += sum(y)
		if table == "findings" {
			totals["partitions"] = int64(len(y))
		}
	}
	return totals, windowKept, nil
}

// differ describes the first difference of two row counts per partition
// (hublake's, the reference's), or returns "".
func differ(x, y map[string]int64) string {
	if len(x) != len(y) {
		return fmt.Sprintf("hublake wrote %d partitions, DuckDB %d", len(x), len(y))
	}
	for dt, n := range x {
		if y[dt] != n {
			return fmt.Sprintf("dt=%s: hublake %d rows, DuckDB %d", dt, n, y[dt])
		}
	}
	return ""
}

func sum(m map[string]int64) (n int64) {
	for _, v := range m {
		n += v
	}
	return n
}

// windowNote is the report's sentence for rows the dedup window kept.
func windowNote(kept int64) string {
	if kept == 0 {
		return ""
	}
	return fmt.Sprintf(" hublake kept %d rows whose earlier copy in the same input was more than its dedup window (`--dedup-window`, 65,536 keys) before them, as documented; with those dropped, the lakes are equal per table and partition.", kept)
}

// benchConsumer publishes part of the corpus to a 4-shard stream and
// measures `hublake consume` draining it, then the latency of a few events
// at the default flush settings.
func benchConsumer(o options, corpus string, rep *strings.Builder) error {
	dir, err := os.MkdirTemp("", "hublake-bench-stack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := localstack.New(localstack.Options{Kinesis: true, DynamoDB: true, S3: true}, o.tools, dir)
	if st != nil {
		defer st.Stop()
	}
	if err != nil {
		return err
	}
	env := append(os.Environ(), st.Env()...)
	if err := os.MkdirAll(filepath.Join(st.S3Root, "lake"), 0o755); err != nil {
		return err
	}
	kc := kinesis.New(kinesis.Options{Region: localstack.Region, BaseEndpoint: aws.String(st.Kinesis),
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")})

	// A subset of the corpus, as NDJSON files.
	limit, err := parseSize(o.consumerBytes)
	if err != nil {
		return err
	}
	files, _ := filepath.Glob(filepath.Join(corpus, "*.json"))
	slices.Sort(files)
	var pub []string
	var pubBytes int64
	for _, f := range files {
		if pubBytes >= limit {
			break
		}
		pub = append(pub, f)
		pubBytes += dirSize(f)
	}
	ctx := context.Background()
	create := func(name string, shards int32) error {
		if _, err := kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
			return err
		}
		return kinesis.NewStreamExistsWaiter(kc).Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute)
	}
	// startConsume starts `hublake consume` on stream, writing to
	// s3://lake/<stream>, with its metrics on a free port (the address
	// returned).
	startConsume := func(stream string) (*exec.Cmd, string, error) {
		addr := "127.0.0.1:" + strconv.Itoa(freePort())
		c := exec.Command(o.hublake, "consume", "--stream", stream, "--app", stream+"-app", "--out", "s3://lake/"+stream,
			"--kinesis-endpoint", st.Kinesis, "--dynamodb-endpoint", st.DynamoDB, "--s3-endpoint", st.S3,
			"--shard-sync", "1s", "--metrics-addr", addr, "--log-level", "warn")
		c.Env = env
		return c, addr, c.Start()
	}
	if err := create("bench", 4); err != nil {
		return err
	}
	pubStart := time.Now()
	cmd := exec.Command(o.hublake, append([]string{"publish", "--stream", "bench", "--kinesis-endpoint", st.Kinesis, "--log-level", "warn"}, pub...)...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("publish: %w\n%s", err, out)
	}
	pubTime := time.Since(pubStart)
	var records int64
	fmt.Sscanf(string(out), "published %d records", &records)

	kinesisPID := st.KinesisPID()
	kinesisCPU0 := procCPU(kinesisPID)
	consume, addr, err := startConsume("bench")
	if err != nil {
		return err
	}
	var first, drained time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for time.Now().Before(deadline) {
		n, buffered := metric(addr, "hublake_records_total"), metric(addr, "hublake_buffered_records")
		if n > 0 && first.IsZero() {
			first = time.Now()
		}
		if int64(n) >= records && buffered == 0 {
			drained = time.Now()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = consume.Process.Signal(syscall.SIGTERM)
	_ = consume.Wait()
	if drained.IsZero() {
		return errors.New("the consumer did not drain the stream in 10 minutes")
	}
	consumerCPU := consume.ProcessState.UserTime() + consume.ProcessState.SystemTime()
	kinesisCPU := procCPU(kinesisPID) - kinesisCPU0
	el := drained.Sub(first)
	fmt.Fprintf(rep, "### Consumer on the local stack\n\n")
	fmt.Fprintf(rep, "%d records (%s) published to a 4-shard kinesis-mock stream in %.1fs, then consumed with default settings "+
		"(flush window 60 s; an idle shard flushes once its window has passed, so the clock time includes up to a window of waiting):\n\n",
		records, human(pubBytes), pubTime.Seconds())
	fmt.Fprintln(rep, "| from first record read to all durable | records/s | MB/s | consumer CPU s | MB per consumer CPU second | kinesis-mock CPU s (same 2 cores) |")
	fmt.Fprintln(rep, "|---|---|---|---|---|---|")
	fmt.Fprintf(rep, "| %.1fs | %.0f | %.1f | %.1f | %.1f | %.1f |\n\n", el.Seconds(), float64(records)/el.Seconds(), float64(pubBytes)/1e6/el.Seconds(),
		consumerCPU.Seconds(), float64(pubBytes)/1e6/consumerCPU.Seconds(), kinesisCPU.Seconds())

	if o.latency {
		if err := create("latency", 1); err != nil {
			return err
		}
		lake := filepath.Join(st.S3Root, "lake", "latency")
		c, addr, err := startConsume("latency")
		if err != nil {
			return err
		}
		defer func() { _ = c.Process.Signal(syscall.SIGTERM); _ = c.Wait() }()
		for metric(addr, "hublake_leases_held") < 1 {
			time.Sleep(200 * time.Millisecond)
		}
		// Four events 13 s apart, the first just after a window boundary.
		time.Sleep(time.Until(time.Now().Truncate(time.Minute).Add(time.Minute + time.Second)))
		var sent []time.Time
		sample := firstLine(files[0])
		for range 4 {
			sent = append(sent, time.Now())
			if _, err := kc.PutRecord(ctx, &kinesis.PutRecordInput{StreamName: aws.String("latency"), Data: sample, PartitionKey: aws.String(strconv.Itoa(len(sent)))}); err != nil {
				return err
			}
			time.Sleep(13 * time.Second)
		}
		var landed time.Time
		for landed.IsZero() && time.Since(sent[0]) < 3*time.Minute {
			// The sample is the corpus's first event, ASFF or OCSF.
			a, _ := filepath.Glob(filepath.Join(lake, "findings", "*", "*.parquet"))
			o, _ := filepath.Glob(filepath.Join(lake, "ocsf_findings", "*", "*.parquet"))
			if len(a)+len(o) > 0 {
				landed = time.Now()
			}
			time.Sleep(100 * time.Millisecond)
		}
		if landed.IsZero() {
			return errors.New("latency events never landed")
		}
		var lat []float64
		for _, s := range sent {
			lat = append(lat, landed.Sub(s).Seconds())
		}
		fmt.Fprintf(rep, "Event-to-object latency at the default flush settings (window 60 s, 3 s grace), four events put 13 s apart in one window: %s s. "+
			"An event waits for the end of its arrival-time window, so latency is at most the window plus the grace and the flush, and about half a window on average.\n\n", fmtList(lat))
	}
	return nil
}

// goBenchmarks runs the in-process benchmarks and reports their lines.
func goBenchmarks(rep *strings.Builder) error {
	fmt.Fprintf(rep, "### In-process Go benchmarks (`go test -bench`)\n\n```\n")
	for _, b := range []struct{ pkg, pattern, time string }{
		{"./schema", "BenchmarkDecode|BenchmarkFlatten", "1s"}, // ASFF and OCSF
		{"./files", "BenchmarkSplitter|BenchmarkBackfill", "2x"},
		{"./stream", "BenchmarkConsumerPath", "2x"},
		{"./pipeline", "BenchmarkDedup", "1s"},
		{"./encode", "BenchmarkParquetEncode", "2x"},
		{"./encode", "BenchmarkParquetCodecs|BenchmarkPageCodecs", "5x"},
		{"./encode", "BenchmarkAbsorbedCheck", "1s"},
	} {
		out, err := exec.Command("go", "test", "-run", "^$", "-bench", b.pattern, "-benchtime", b.time, b.pkg).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go test -bench %s: %w\n%s", b.pkg, err, out)
		}
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "Benchmark") {
				fmt.Fprintln(rep, sc.Text())
			}
		}
	}
	fmt.Fprintf(rep, "```\n\n")
	return nil
}

func metric(addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			v, _ := strconv.ParseFloat(strings.TrimPrefix(line, name+" "), 64)
			return v
		}
	}
	return 0
}

// procCPU returns the user+system CPU time of a process from /proc.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(fields[11], 10, 64)
	k, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(u+k) * time.Second / 100
}

func firstLine(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	line, _ := r.ReadBytes('\n')
	return []byte(strings.TrimSpace(string(line)))
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mapSlice[T any](xs []T, f func(T) float64) []float64 {
	out := make([]float64, len(xs))
	for i, x := range xs {
		out[i] = f(x)
	}
	return out
}

func fmtList(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = strconv.FormatFloat(x, 'f', 2, 64)
	}
	return strings.Join(parts, ", ")
}

func human(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
}

var sizeRE = regexp.MustCompile(`^(\d+)\s*(KiB|MiB|GiB|KB|MB|GB)?$`)

func parseSize(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("bad size %q", s)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	mult := map[string]int64{"": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "KB": 1e3, "MB": 1e6, "GB": 1e9}[m[2]]
	return n * mult, nil
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			_, v, _ := strings.Cut(l, ":")
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(strings.TrimPrefix(l, "MemTotal:")), "%d", &kb)
			return human(kb*1024) + " RAM"
		}
	}
	return ""
}
