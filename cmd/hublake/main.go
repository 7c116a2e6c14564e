// Command hublake turns the AWS Security Hub event stream into a queryable
// data lake of Hive-partitioned Parquet. See README.md.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/hublake/hublake/processor"
	"github.com/hublake/hublake/sinks"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// globals are the flags every subcommand shares.
type globals struct {
	LogLevel   string `help:"Log level: debug, info, warn or error. Finding contents are only ever logged at debug." default:"info" enum:"debug,info,warn,error"`
	CPUProfile string `name:"cpu-profile" help:"Write a CPU profile to this file (for performance work)." type:"path"`
	logger     *slog.Logger
}

type cli struct {
	globals
	Version kong.VersionFlag `help:"Print the version and exit." env:"-"`

	Backfill    backfillCmd    `cmd:"" help:"Read Security Hub events or findings from files, S3 or stdin into the lake."`
	Consume     consumeCmd     `cmd:"" help:"Consume the Kinesis stream into the lake (the long-running ECS service)."`
	Compact     compactCmd     `cmd:"" help:"Replace the lake's many small batch objects with few large sorted ones, exactly once (the scheduled ECS task)."`
	Publish     publishCmd     `cmd:"" help:"Put events into a Kinesis stream as an EventBridge rule target does."`
	Ddl         ddlCmd         `cmd:"" help:"Print the Athena DDL (or the Glue columns) of the lake's tables."`
	Gen         genCmd         `cmd:"" help:"Generate realistic Security Hub events (demo and benchmark corpus)."`
	Healthcheck healthcheckCmd `cmd:"" help:"Call a running consumer's /healthz; exit 0 when healthy (the container health check)."`
}

func main() { os.Exit(runMain()) }

// runMain parses the command line and runs the command; deferred work (the
// signal handler, a CPU profile) finishes before the exit status is returned.
func runMain() int {
	var c cli
	parser := kong.Parse(&c,
		kong.Name("hublake"),
		kong.Description("Security Hub events into a Parquet data lake for Athena."),
		flagDefaults(),
		kong.DefaultEnvars("HUBLAKE"),
		kong.UsageOnError(),
	)
	c.logger = newLogger(c.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	parser.BindTo(ctx, (*context.Context)(nil))
	if c.CPUProfile != "" {
		stopProfile, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "hublake: %v\n", err)
			return 1
		}
		defer stopProfile()
	}
	if err := parser.Run(&c.globals); err != nil {
		c.logger.Error("hublake failed", "command", parser.Command(), "err", err)
		fmt.Fprintf(os.Stderr, "hublake: %v\n", err)
		return 1
	}
	return 0
}

// flagDefaults are the defaults the flags take (${name} in their tags): each
// is declared once, as a constant of the package whose configuration it is.
func flagDefaults() kong.Vars {
	return kong.Vars{
		"version":          version,
		"flush_records":    strconv.Itoa(processor.DefaultMaxUnits),
		"flush_bytes":      byteSize(processor.DefaultMaxBytes).String(),
		"max_unit_bytes":   byteSize(processor.DefaultMaxUnitBytes).String(),
		"dedup_window":     strconv.Itoa(processor.DefaultDedupWindow),
		"default_codec":    sinks.DefaultCodec,
		"stream_codec":     sinks.StreamCodec,
		"batch_factor":     strconv.Itoa(processor.BudgetBatchFactor),
		"budget_fixed_mib": strconv.Itoa(processor.BudgetBatchFixed >> 20),
		"budget_base_mib":  strconv.Itoa(processor.BudgetBase >> 20),
		"stream_window":    seconds(processor.DefaultStreamWindow),
		"shard_sync":       seconds(processor.DefaultShardSync),
		"lease_duration":   seconds(processor.DefaultLeaseDuration),
		"lease_sync":       seconds(processor.DefaultLeaseSync),
		"shutdown_timeout": seconds(processor.DefaultShutdownTimeout),
	}
}

// seconds renders a whole number of seconds as "60s" (time.Duration's
// String says "1m0s"), anything else as Duration does.
func seconds(d time.Duration) string {
	if d%time.Second == 0 {
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

// String renders b as UnmarshalText reads it, in the largest binary unit
// that divides it.
func (b byteSize) String() string {
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && int64(b)%u.mult == 0 {
			return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// byteSize is a flag value in bytes that also accepts KiB, MiB, GiB (and KB,
// MB, GB as powers of 1000).
type byteSize int64

func (b *byteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("invalid size %q (want bytes, or a number with KiB, MiB or GiB)", string(text))
	}
	*b = byteSize(n * mult)
	return nil
}
