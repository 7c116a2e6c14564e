package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/objstore/s3lake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// lakeFlags are the flags of every command that writes the lake: where it
// is, and how its objects are written.
type lakeFlags struct {
	Out         string `help:"Lake root: a directory or s3://bucket/prefix." default:"./lake"`
	S3Endpoint  string `name:"s3-endpoint" env:"HUBLAKE_S3_ENDPOINT" help:"S3 endpoint URL (a local S3 server); implies path-style addressing."`
	S3PathStyle bool   `name:"s3-path-style" env:"HUBLAKE_S3_PATH_STYLE" help:"Address buckets path-style (/bucket/key)."`
	Region      string `help:"AWS region (default: from the environment)."`
	S3Region    string `name:"s3-region" help:"Region of the S3 buckets, the lake's and the sources' (default: each bucket's own, asked of S3 once per bucket)."`
	SSE         string `name:"sse" help:"Ask S3 for server-side encryption: aws:kms or AES256. Default: send no header, so the bucket's default encryption applies." enum:",aws:kms,AES256" default:""`
	SSEKMSKeyID string `name:"sse-kms-key-id" help:"KMS key id or ARN for --sse aws:kms."`
	Codec       string `help:"Parquet compression: zstd or snappy." default:"${codec}" enum:"zstd,snappy"`
}

// Validate refuses, before any work, a lake that is neither a path nor a
// valid s3://bucket/prefix, and option combinations that cannot work (the
// S3 store's and the encoder's specs, checked once, here).
func (f *lakeFlags) Validate() error {
	if err := layout.CheckLocation("--out", f.Out); err != nil {
		return err
	}
	if err := f.encodeOptions().Validate(); err != nil {
		return err
	}
	return f.s3Options().Validate()
}

// validateSources checks every source argument as --out is checked.
func validateSources(what string, sources []string) error {
	for _, s := range sources {
		if s == "-" {
			continue
		}
		if err := layout.CheckLocation(what, s); err != nil {
			return err
		}
	}
	return nil
}

// storeFlags are the flags of the commands that turn input into the lake.
type storeFlags struct {
	lakeFlags
	MaxUnitBytes byteSize `help:"Units (records, lines, array elements) larger than this are not decoded but dead-lettered." default:"${max_unit_bytes}"`
	DedupWindow  int      `help:"Finding keys remembered per source partition (file or shard) for deduplication." default:"${dedup_window}"`
}

// policy is the batching policy of a command whose batch limits are these
// (their defaults differ between backfill and consume).
func (f *storeFlags) policy(records int, bytes byteSize, window time.Duration) pipeline.Policy {
	return pipeline.Policy{
		MaxUnits:     records,
		MaxBytes:     int64(bytes),
		Window:       window,
		MaxUnitBytes: int64(f.MaxUnitBytes),
		DedupWindow:  f.DedupWindow,
	}
}

func (f *lakeFlags) encodeOptions() encode.Options { return encode.Options{Codec: f.Codec} }

func (f *lakeFlags) s3Options() s3lake.Options {
	return s3lake.Options{
		Endpoint:       f.S3Endpoint,
		PathStyle:      f.S3PathStyle || f.S3Endpoint != "",
		SSE:            f.SSE,
		SSEKMSKeyID:    f.SSEKMSKeyID,
		Region:         f.S3Region,
		DiscoverRegion: f.S3Region == "",
	}
}

// awsConfig loads the process's one AWS configuration.
func (f *lakeFlags) awsConfig(ctx context.Context, log *slog.Logger) (aws.Config, error) {
	return awsconf.Load(ctx, awsconf.Options{Region: f.Region, Logger: log})
}

// open opens the lake and checks that it is reachable. existing: the lake
// must be there already (compaction: a directory that does not exist is a
// wrong --out, not an empty lake to create).
func (f *lakeFlags) open(ctx context.Context, cfg aws.Config, existing bool) (objstore.Lake, error) {
	if existing && !layout.IsS3URL(f.Out) {
		st, err := os.Stat(f.Out)
		if err != nil || !st.IsDir() {
			return nil, fmt.Errorf("no lake at --out %s: it is not a directory (%v)", f.Out, errOrNotDir(err))
		}
	}
	store, err := openLake(cfg, f.Out, f.s3Options())
	if err != nil {
		return nil, fmt.Errorf("open lake %s: %w", f.Out, err)
	}
	if err := store.Ping(ctx); err != nil {
		return nil, fmt.Errorf("lake %s is not reachable: %w", f.Out, err)
	}
	return store, nil
}

// openLake returns the lake at dest: "s3://bucket/prefix" (its client built
// from cfg) or a directory.
func openLake(cfg aws.Config, dest string, o s3lake.Options) (objstore.Lake, error) {
	if strings.HasPrefix(dest, "s3://") {
		return s3lake.New(cfg, dest, o)
	}
	return dirlake.New(dest)
}

func errOrNotDir(err error) error {
	if err != nil {
		return err
	}
	return errors.New("a file")
}

type backfillCmd struct {
	storeFlags   `set:"codec=${default_codec}"`
	FlushRecords int           `help:"Cut a batch after this many units." default:"${flush_records}"`
	FlushBytes   byteSize      `help:"Cut a batch before it holds more than this much input; the memory budget is about workers × (${batch_factor} × this + 2 × --max-unit-bytes + ${budget_fixed_mib} MiB) + ${budget_base_mib} MiB." default:"${flush_bytes}"`
	FlushWindow  time.Duration `help:"Cut a batch when the event time leaves the window it opened (0: no time cuts)." default:"0"`
	Workers      int           `help:"Files processed at once (default: the number of CPUs)."`
	Progress     string        `help:"Progress display: auto (a bar on a terminal, lines otherwise), bar, lines or none." default:"auto" enum:"auto,bar,lines,none"`
	Part         partFlag      `help:"Read only part K of N of the inputs (K from 0 to N-1), chosen by a hash of each input's key (its path under the source directory, or its S3 key): N runs with the same sources and the parts 0/N … N-1/N read every input exactly once and together write what one run writes. Default: in an AWS Batch array job, part AWS_BATCH_JOB_ARRAY_INDEX of --parts." placeholder:"K/N"`
	Parts        int           `help:"The size of the AWS Batch array job this runs in (Batch does not tell a job): with AWS_BATCH_JOB_ARRAY_INDEX set, read part INDEX/N of the inputs (see --part)." placeholder:"N"`
	Sources      []string      `arg:"" name:"source" help:"Files, directories (recursive), s3://bucket/prefix, or - for stdin."`
}

// partFlag is --part K/N.
type partFlag struct{ files.Part }

func (p *partFlag) UnmarshalText(text []byte) error {
	part, err := files.ParsePart(string(text))
	if err != nil {
		return err
	}
	p.Part = part
	return nil
}

// batchArrayIndex is the variable AWS Batch sets in each child of an array
// job: its index, from 0 to the array's size - 1.
const batchArrayIndex = "AWS_BATCH_JOB_ARRAY_INDEX"

// resolvePart is the part to read: --part K/N, else the AWS Batch array
// index of --parts, else everything.
func resolvePart(flag files.Part, parts int, getenv func(string) string) (files.Part, error) {
	index := getenv(batchArrayIndex)
	switch {
	case flag.N > 0:
		if parts != 0 && parts != flag.N {
			return files.Part{}, fmt.Errorf("--part %s and --parts %d disagree", flag, parts)
		}
		return flag, nil
	case index != "":
		if parts < 1 {
			return files.Part{}, fmt.Errorf("%s is %s: give --parts (HUBLAKE_PARTS) the array job's size", batchArrayIndex, index)
		}
		k, err := strconv.Atoi(index)
		if err != nil {
			return files.Part{}, fmt.Errorf("%s %q is not a number", batchArrayIndex, index)
		}
		p := files.Part{K: k, N: parts}
		if err := p.Validate(); err != nil {
			return files.Part{}, fmt.Errorf("%s %d of --parts %d: %w", batchArrayIndex, k, parts, err)
		}
		return p, nil
	case parts > 1:
		return files.Part{}, fmt.Errorf("--parts %d without %s: say which part with --part K/%d", parts, batchArrayIndex, parts)
	}
	return files.Part{}, nil
}

// Validate checks the lake, the batch limits and the sources before any
// work.
func (c *backfillCmd) Validate() error {
	if err := c.lakeFlags.Validate(); err != nil {
		return err
	}
	if err := c.policy().Validate(); err != nil {
		return err
	}
	return validateSources("source", c.Sources)
}

func (c *backfillCmd) policy() pipeline.Policy {
	return c.storeFlags.policy(c.FlushRecords, c.FlushBytes, c.FlushWindow)
}

func (c *backfillCmd) Run(ctx context.Context, g *globals) error {
	log := g.logger
	workers := c.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	part, err := resolvePart(c.Part.Part, c.Parts, os.Getenv)
	if err != nil {
		return usageError{err}
	}
	tuneMemory(log, pipeline.MemoryBudget(workers, c.policy()), "the batch limits")
	awsConf, err := c.awsConfig(ctx, log)
	if err != nil {
		return err
	}
	store, err := c.open(ctx, awsConf, false)
	if err != nil {
		return err
	}
	if !part.Whole() {
		log = log.With("part", part.String())
		log.Info("backfill of one part of the inputs", "part", part.String())
	}
	stats := &pipeline.Stats{}
	var absorbed encode.AbsorbedCounts
	encodeOpts := c.encodeOptions()
	encodeOpts.Absorbed = &absorbed
	// The total is known once the listing is: at once for a source that
	// fits the look-ahead window, at the end of the listing otherwise.
	prog := newProgress(c.Progress, "backfill", "bytes", -1, log)
	start := time.Now()
	// The destination is never read back, even when a source holds it.
	err = files.Backfill(ctx, inputs(ctx, c.Sources, awsConf, c.s3Options(), c.Out), files.BackfillOptions{
		Policy:    c.policy(),
		Encode:    encodeOpts,
		Store:     store,
		Workers:   workers,
		Stats:     stats,
		Part:      part,
		Listed:    func(_, bytes int64) { prog.setTotal(bytes) },
		BytesRead: prog.update,
		Logger:    log,
		CrashHook: crashHookFromEnv(),
	})
	prog.finish()
	elapsed := time.Since(start)
	failed := files.FailedInputs(err)
	printSummary(os.Stdout, part, stats, &absorbed, elapsed, store.String(), failed)
	log.Info("backfill finished",
		"inputs", stats.Inputs.Load(), "inputs_failed", stats.InputsFailed.Load(), "units", stats.Units.Load(), "bytes_in", stats.BytesIn.Load(),
		tableRowsAttrs(stats),
		"duplicates", stats.Duplicates.Load(), "dead_letters", stats.DeadLetters.Load(),
		"objects", stats.Objects.Load(), "bytes_out", stats.BytesOut.Load(),
		"already_compacted", absorbed.Skipped.Load()+absorbed.Removed.Load(), "seconds", elapsed.Seconds())
	if err != nil {
		return fmt.Errorf("backfill did not complete: %w", err)
	}
	return nil
}

// inputs streams the sources' inputs, with an S3 client built from cfg,
// leaving out the tables of the lakes given (see files.Inputs).
func inputs(ctx context.Context, sources []string, cfg aws.Config, o s3lake.Options, lakes ...string) iter.Seq2[files.Input, error] {
	return files.Inputs(ctx, sources, s3lake.NewClient(cfg, o), interruptible(ctx, os.Stdin), lakes...)
}

// interruptible returns a reader of r whose Read returns ctx's error once
// ctx ends, even while r blocks: a read of stdin waits for its writer, and
// Ctrl-C must stop `producer | hublake backfill -` although the producer
// still holds the pipe open. r is read only once the reader is (the
// goroutine that reads it stays blocked until r returns: the process is
// ending).
func interruptible(ctx context.Context, r io.Reader) io.Reader {
	return &ctxReader{ctx: ctx, r: r}
}

type ctxReader struct {
	ctx  context.Context
	r    io.Reader
	once sync.Once
	pr   *io.PipeReader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	c.once.Do(func() {
		pr, pw := io.Pipe()
		c.pr = pr
		go func() {
			_, err := io.Copy(pw, c.r)
			pw.CloseWithError(err)
		}()
		go func() {
			<-c.ctx.Done()
			pr.CloseWithError(c.ctx.Err())
		}()
	})
	return c.pr.Read(p)
}

// tuneMemory sets GOMEMLIMIT to a command's memory budget (backfill:
// pipeline.MemoryBudget of its batches; compact: compact.MemoryBudget),
// unless the user set GOMEMLIMIT: the live heap stays below the budget (the
// memory tests prove it), and the collector works harder as the heap nears
// it instead of letting the process grow. from names the limits the budget
// comes from in the log. The budget is the worst case (text that does not
// compress); for a typical run the pacing decides, and it is GOGC=50 unless
// the user set GOGC: the heap grows to 1.5× the live data instead of 2×.
// Measured on the bench corpus (190 MiB in 12 files, both cores): peak RSS
// 309 and 265 MiB at the default 100, 226 and 228 MiB at 50, the same wall
// time, 5 % more CPU.
func tuneMemory(log interface{ Info(string, ...any) }, budget int64, from string) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(backfillGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(budget)
	log.Info("memory limit set from "+from, "gomemlimit_bytes", budget)
}

// backfillGCPercent is the collector's pacing for backfill and compaction
// (tuneMemory).
const backfillGCPercent = 50

// progress shows how far a command is: bytes of input read (backfill) or
// partitions visited (compact).
type progress struct {
	mu     sync.Mutex
	bar    *progressbar.ProgressBar
	lines  bool
	unit   string // "bytes" or "partitions"
	total  int64
	last   time.Time
	logger interface{ Info(string, ...any) }
}

func newProgress(mode, desc, unit string, total int64, log interface{ Info(string, ...any) }) *progress {
	p := &progress{total: total, unit: unit, logger: log}
	if mode == "auto" {
		mode = "lines"
		if term.IsTerminal(int(os.Stderr.Fd())) {
			mode = "bar"
		}
	}
	switch mode {
	case "bar":
		opts := []progressbar.Option{progressbar.OptionShowBytes(true)}
		if unit != "bytes" {
			opts = []progressbar.Option{progressbar.OptionShowCount()}
		}
		p.bar = progressbar.NewOptions64(total, append(opts,
			progressbar.OptionSetWriter(os.Stderr),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)...)
	case "lines":
		p.lines = true
	}
	return p
}

func (p *progress) update(n int64) {
	if p.bar == nil && !p.lines {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Set64(n)
		return
	}
	if time.Since(p.last) >= 5*time.Second {
		p.last = time.Now()
		done := p.unit + "_done"
		if p.unit == "bytes" {
			done = "bytes_read"
		}
		p.logger.Info("progress", done, n, p.unit+"_total", p.total)
	}
}

// setTotal sets the bytes to read (partitions to visit; -1: unknown), once
// the listing is done.
func (p *progress) setTotal(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
	if p.bar != nil {
		p.bar.ChangeMax64(n)
	}
}

// counter is the Progress callback of compaction and the refresh: done of
// total units (partitions, tables), the total known from the first call.
func (p *progress) counter(done, total int) {
	if done == 1 {
		p.setTotal(int64(total))
	}
	p.update(int64(done))
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}

// summaryFailedMax bounds the failed inputs the summary names one by one
// (the log has a line for each).
const summaryFailedMax = 20

func printSummary(w io.Writer, part files.Part, s *pipeline.Stats, absorbed *encode.AbsorbedCounts, elapsed time.Duration, dest string, failed []*files.InputError) {
	in := s.BytesIn.Load()
	secs := max(elapsed.Seconds(), 1e-9)
	fmt.Fprintf(w, "hublake backfill → %s\n", dest)
	if !part.Whole() {
		fmt.Fprintf(w, "  part             %12s\n", part)
	}
	fmt.Fprintf(w, "  inputs           %12d\n", s.Inputs.Load())
	if n := s.InputsFailed.Load(); n > 0 {
		fmt.Fprintf(w, "  inputs failed    %12d   (not read to their end: rows up to the break are kept; exit status 1)\n", n)
		for i, f := range failed {
			if i == summaryFailedMax {
				fmt.Fprintf(w, "    … and %d more (one \"input failed\" log line each)\n", len(failed)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	fmt.Fprintf(w, "  units read       %12d   (%s in, %.1f MB/s)\n", s.Units.Load(), humanBytes(in), float64(in)/1e6/secs)
	for _, t := range schema.Tables() {
		fmt.Fprintf(w, "  %-17s%12d rows\n", t.Title(), s.Rows(t).Load())
	}
	fmt.Fprintf(w, "  duplicates       %12d dropped\n", s.Duplicates.Load())
	fmt.Fprintf(w, "  dead letters     %12d\n", s.DeadLetters.Load())
	fmt.Fprintf(w, "  objects written  %12d   (%s)\n", s.Objects.Load(), humanBytes(s.BytesOut.Load()))
	if n := absorbed.Skipped.Load() + absorbed.Removed.Load(); n > 0 {
		fmt.Fprintf(w, "    of which       %12d   already compacted: not written again (their rows are in the lake)\n", n)
	}
	fmt.Fprintf(w, "  elapsed          %12.2fs\n", elapsed.Seconds())
}

// tableRowsAttrs are the rows written into each table, as log attributes
// named after the tables.
func tableRowsAttrs(s *pipeline.Stats) slog.Attr {
	var attrs []any
	for _, t := range schema.Tables() {
		attrs = append(attrs, t.Name(), s.Rows(t).Load())
	}
	return slog.Group("", attrs...)
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
