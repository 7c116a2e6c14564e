// Command hublake turns the AWS Security Hub event stream into a queryable
// data lake of Hive-partitioned Parquet. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alecthomas/kong"

	"github.com/hublake/hublake/compact"
	"github.com/hublake/hublake/current"
	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/stream"
)

// version and revision are set at build time with -ldflags "-X
// main.version=... -X main.revision=..." (the image's build does: its
// context has no .git for Go to stamp the revision from); empty, they come
// from the binary's build information (see buildVersion).
var version, revision string

// globals are the flags every subcommand shares.
type globals struct {
	LogLevel   string `help:"Log level: debug, info, warn or error. Finding contents are only ever logged at debug." default:"info" enum:"debug,info,warn,error"`
	LogFormat  string `help:"Log format on stderr: json (one JSON object a line), text (key=value) or auto (text on a terminal, else json)." default:"auto" enum:"auto,json,text"`
	CPUProfile string `name:"cpu-profile" help:"Write a CPU profile to this file (for performance work)." type:"path"`
	logger     *slog.Logger
}

type cli struct {
	globals
	Version kong.VersionFlag `help:"Print the version (module version, VCS revision, Go version) and exit." env:"-"`

	Backfill    backfillCmd    `cmd:"" help:"Read Security Hub events or findings from files, S3 or stdin into the lake."`
	Consume     consumeCmd     `cmd:"" help:"Consume the Kinesis stream into the lake (the long-running ECS service)."`
	Compact     compactCmd     `cmd:"" help:"Replace the lake's many small batch objects with few large sorted ones, exactly once (the scheduled ECS task)."`
	Current     currentCmd     `cmd:"" help:"Refresh findings_current and ocsf_findings_current: one row per finding, the row the latest views pick, at the cost of what changed since the last refresh."`
	Check       checkCmd       `cmd:"" help:"Check a consume, backfill or compact configuration before running it: credentials, stream, lease table, a probe write in the lake."`
	Publish     publishCmd     `cmd:"" help:"Put events into a Kinesis stream as an EventBridge rule target does."`
	Ddl         ddlCmd         `cmd:"" help:"Print the Athena DDL (or the Glue columns) of the lake's tables."`
	Gen         genCmd         `cmd:"" help:"Generate realistic Security Hub events (demo and benchmark corpus)."`
	Healthcheck healthcheckCmd `cmd:"" help:"Call a running consumer's /healthz; exit 0 when healthy (the container health check)."`
	Help        helpCmd        `cmd:"" help:"Show the help of a command: hublake help backfill."`
}

// Exit statuses (docs/operating.md, "Exit status"). A run stopped by a signal exits
// 128 + the signal's number, as a shell reports it: 130 for SIGINT (Ctrl-C),
// 143 for SIGTERM; but a command that stops cleanly on SIGTERM (consume, as
// ECS stops it) exits 0.
const (
	exitOK      = 0
	exitFailure = 1 // the command ran and failed: an input, the store, the stream
	exitUsage   = 2 // the command line or the environment is wrong; nothing was done
)

func main() { os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr)) }

// kongExit carries an exit status out of kong (help, --version) through
// runMain's deferred functions.
type kongExit int

// usageError is an error of the command line found once a command runs
// (flags that disagree): it exits 2 as kong's own parse errors do.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// usagef returns a usage error.
func usagef(format string, a ...any) error { return usageError{fmt.Errorf(format, a...)} }

// runMain parses the command line and runs the command; deferred work (the
// signal handler, a CPU profile) finishes before the exit status is returned.
func runMain(args []string, stdout, stderr io.Writer) (code int) {
	var c cli
	defer func() {
		if r := recover(); r != nil {
			e, ok := r.(kongExit)
			if !ok {
				panic(r)
			}
			code = int(e)
		}
	}()
	parser, err := kong.New(&c,
		kong.Name("hublake"),
		kong.Description(`Security Hub events into a Parquet data lake for Athena.

Examples:

  hublake backfill --out ./lake findings.json.gz
  hublake check consume --stream security-hub --app hublake --out s3://my-lake/lake
  hublake help backfill

Every flag is also read from the environment (shown with each flag). Exit status: 0 success, 1 failure, 2 usage error, 130 interrupted.`),
		flagDefaults(),
		envars("HUBLAKE"),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(kongExit(code)) }),
	)
	if err != nil {
		fmt.Fprintf(stderr, "hublake: %v\n", err)
		return exitFailure
	}
	kctx, err := parser.Parse(args)
	if err != nil {
		return usage(stderr, args, err)
	}
	c.logger = newLogger(stderr, c.LogLevel, c.LogFormat)
	routeLibraryLogs(c.logger)

	ctx, stop := context.WithCancelCause(context.Background())
	defer stop(nil)
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)
	var got os.Signal
	received := make(chan struct{})
	go func() {
		s, ok := <-signals
		if !ok {
			return
		}
		got = s
		close(received)
		stop(interrupted{s})
		// A second signal does not wait for the first's clean stop.
		if s, ok := <-signals; ok {
			c.logger.Warn("second signal: exiting at once", "signal", s.String())
			os.Exit(signalStatus(s))
		}
	}()
	kctx.BindTo(ctx, (*context.Context)(nil))
	if c.CPUProfile != "" {
		stopProfile, err := startCPUProfile(c.CPUProfile)
		if err != nil {
			c.logger.Error("hublake failed", "err", err)
			return exitFailure
		}
		defer stopProfile()
	}
	err = kctx.Run(&c.globals)
	var sig os.Signal
	select {
	case <-received:
		sig = got
	default:
	}
	return exitStatus(c.logger, commandWords(kctx.Command()), sig, err, stderr, args)
}

// exitStatus logs how the command ended (one line in the chosen format)
// and returns the process's exit status.
func exitStatus(log *slog.Logger, command string, sig os.Signal, err error, stderr io.Writer, args []string) int {
	var ue usageError
	switch {
	case sig != nil && (err != nil || sig != syscall.SIGTERM):
		// In-flight inputs fail with the cancellation: one line, not one
		// per input.
		log.Warn("interrupted", "command", command, "signal", sig.String())
		return signalStatus(sig)
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return usage(stderr, args, ue.error)
	default:
		log.Error("hublake failed", "command", command, "err", err)
		return exitFailure
	}
}

// interrupted is the cause of the context's cancellation on a signal.
type interrupted struct{ sig os.Signal }

func (i interrupted) Error() string { return "interrupted by " + i.sig.String() }

// signalStatus is a shell's exit status of a process ended by s.
func signalStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitFailure
}

// usage prints a usage error the short way (aws-cli, git): the error and
// where the help is, on stderr, and returns 2.
func usage(stderr io.Writer, args []string, err error) int {
	var pe *kong.ParseError
	cmd := "hublake"
	if !errors.As(err, &pe) {
		pe = nil
	}
	if pe != nil && pe.Context != nil {
		if s := pe.Context.Command(); s != "" {
			cmd += " " + commandWords(s)
		}
	} else if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd += " " + args[0]
	}
	fmt.Fprintf(stderr, "hublake: error: %v%s\nRun '%s --help' for usage.\n", err, fromEnvironment(pe, err.Error(), args), cmd)
	return exitUsage
}

// fromEnvironment says which environment variable gave the bad value a
// parse error names, when kong does not (it does for values it cannot
// convert, not for those outside a flag's choices).
func fromEnvironment(pe *kong.ParseError, msg string, args []string) string {
	if pe == nil || pe.Context == nil || strings.Contains(msg, "envar") {
		return ""
	}
	for _, f := range pe.Context.Flags() {
		name := "--" + f.Name
		if !strings.Contains(msg, name+" ") && !strings.Contains(msg, name+":") {
			continue
		}
		if slices.ContainsFunc(args, func(a string) bool { return a == name || strings.HasPrefix(a, name+"=") }) {
			continue
		}
		for _, env := range f.Envs {
			if v, ok := os.LookupEnv(env); ok {
				return fmt.Sprintf(" (from the environment: %s=%q)", env, v)
			}
		}
	}
	return ""
}

// commandWords drops the positional placeholders of kong's command path
// ("backfill <source>" → "backfill").
func commandWords(s string) string {
	var words []string
	for _, w := range strings.Fields(s) {
		if !strings.HasPrefix(w, "<") {
			words = append(words, w)
		}
	}
	return strings.Join(words, " ")
}

// helpCmd is `hublake help [COMMAND...]`: the command's --help.
type helpCmd struct {
	Command []string `arg:"" optional:"" help:"The command (for example: backfill, or check consume)."`
}

func (h *helpCmd) Run(kctx *kong.Context) error {
	_, err := kctx.Kong.Parse(append(append([]string(nil), h.Command...), "--help"))
	if err != nil {
		return usageError{err}
	}
	return nil
}

// envars names the environment variable of every flag that does not name
// its own: HUBLAKE_<FLAG> for the lake commands and the global flags, so
// that one task environment configures consume, backfill, compact and check
// alike; the commands that are not lake commands read names of their own
// (HUBLAKE_GEN_OUT, HUBLAKE_PUBLISH_STREAM, HUBLAKE_DDL_FORMAT, ...), so
// that the lake's HUBLAKE_OUT cannot make `hublake gen` write to
// ./s3:/bucket/... and one name never means two things. TestEnvNames
// checks it.
func envars(prefix string) kong.Option {
	own := map[string]bool{"gen": true, "publish": true, "ddl": true, "healthcheck": true}
	var walk func(n *kong.Node, prefix string)
	walk = func(n *kong.Node, prefix string) {
		if n.Type == kong.CommandNode && own[n.Name] {
			prefix += "_" + strings.ToUpper(n.Name)
		}
		for _, f := range n.Flags {
			switch {
			case f.Name == "help":
			case len(f.Envs) == 1 && f.Envs[0] == "-":
				f.Envs, f.Tag.Envs = nil, nil
			case len(f.Envs) == 0:
				name := prefix + "_" + strings.ToUpper(strings.NewReplacer("-", "_", ".", "_").Replace(f.Name))
				f.Envs = []string{name}
				f.Tag.Envs = []string{name}
			}
		}
		for _, child := range n.Children {
			walk(child, prefix)
		}
	}
	return kong.PostBuild(func(k *kong.Kong) error {
		walk(k.Model.Node, prefix)
		return nil
	})
}

// defaultMetricsAddr is the consumer's HTTP address for /metrics, /healthz
// and /readyz. Prometheus exporters take their ports from the project's
// allocation list (9100-9999, long full) and 9090 is Prometheus' own; 8977
// is neither, nor the port of anything that runs beside a consumer
// (Pushgateway 9091, Alertmanager 9093, the OpenTelemetry and ADOT
// collectors 4317, 4318, 8888, 9464, 13133, the CloudWatch agent 25888,
// Envoy 9901, Vector 8686).
const defaultMetricsAddr = ":8977"

// flagDefaults are the defaults the flags take (${name} in their tags): each
// is declared once, in the configuration of the package whose it is
// (pipeline.DefaultPolicy, encode's codecs, stream's and compact's
// defaults, the memory budget's constants).
func flagDefaults() kong.Vars {
	policy := pipeline.DefaultPolicy()
	return kong.Vars{
		"version":              buildVersion().String(),
		"metrics_addr":         defaultMetricsAddr,
		"flush_records":        strconv.Itoa(policy.MaxUnits),
		"flush_bytes":          byteSize(policy.MaxBytes).String(),
		"max_unit_bytes":       byteSize(policy.MaxUnitBytes).String(),
		"dedup_window":         strconv.Itoa(policy.DedupWindow),
		"default_codec":        encode.DefaultCodec,
		"stream_codec":         encode.StreamCodec,
		"batch_factor":         strconv.Itoa(pipeline.BudgetBatchFactor),
		"budget_fixed_mib":     strconv.Itoa(pipeline.BudgetBatchFixed >> 20),
		"budget_base_mib":      strconv.Itoa(pipeline.BudgetBase >> 20),
		"stream_window":        seconds(pipeline.DefaultStreamWindow),
		"shard_sync":           seconds(stream.DefaultShardSync),
		"lease_duration":       seconds(stream.DefaultLeaseDuration),
		"lease_sync":           seconds(stream.DefaultLeaseSync),
		"shutdown_timeout":     seconds(stream.DefaultShutdownTimeout),
		"initial_position":     stream.DefaultInitialPosition,
		"older_than":           minutes(compact.DefaultOlderThan),
		"target_size":          byteSize(compact.DefaultTargetSize).String(),
		"lock_ttl":             minutes(compact.DefaultLockTTL),
		"delete_grace":         seconds(compact.DefaultDeleteGrace),
		"sort_buffer":          byteSize(compact.DefaultSortBuffer).String(),
		"current_active":       hours(current.DefaultActive),
		"current_archived":     hours(current.DefaultArchived),
		"current_closed":       hours(current.DefaultClosed),
		"current_delete_grace": minutes(current.DefaultDeleteGrace),
		"current_sort_buffer":  byteSize(current.DefaultSortBuffer).String(),
	}
}

// minutes renders a whole number of minutes as "15m" (time.Duration's
// String says "15m0s"), anything else as Duration does.
func minutes(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	}
	return d.String()
}

// hours renders a whole number of hours as "2160h" (time.Duration's
// String says "2160h0m0s"), anything else as Duration does.
func hours(d time.Duration) string {
	if d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
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
	if n > math.MaxInt64/mult {
		return fmt.Errorf("invalid size %q: more than %d bytes", string(text), int64(math.MaxInt64))
	}
	*b = byteSize(n * mult)
	return nil
}
