package main

// The operator's first hour (issue 24), tried on the real binary: wrong
// turns refused before any work, environment names that cannot collide,
// conventional exit statuses and usage errors, one log format, versions,
// regions, metrics conventions, `hublake check`, the dead_letters table.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
)

// ran is one finished run of the binary.
type ran struct {
	code           int
	stdout, stderr string
	took           time.Duration
}

// cleanEnv is the test process's environment without HUBLAKE_* and AWS_*
// variables, plus the local stack's credentials and env.
func cleanEnv(env ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HUBLAKE_") && !strings.HasPrefix(kv, "AWS_") {
			out = append(out, kv)
		}
	}
	return append(append(out, (&localstack.Stack{}).Env()...), env...)
}

// run runs the binary in dir (the test's temporary directory when empty)
// with cleanEnv(env) and stdin, and waits for it.
func run(t *testing.T, dir string, env []string, stdin io.Reader, args ...string) ran {
	t.Helper()
	cmd := exec.Command(hublakeBin, args...)
	cmd.Dir = dir
	cmd.Env = cleanEnv(env...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := ran{stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	r.code = exitCode(t, err)
	return r
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	ee, ok := err.(*exec.ExitError)
	if !ok {
		t.Fatalf("run hublake: %v", err)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ee.ExitCode()
}

// eventsFile writes n synthetic events, and the lines extra, to a file.
func eventsFile(t *testing.T, n int, salt string, extra ...string) string {
	t.Helper()
	var b bytes.Buffer
	for _, e := range syntheticEvents(n, salt) {
		b.Write(e)
		b.WriteByte('\n')
	}
	for _, l := range extra {
		b.WriteString(l + "\n")
	}
	path := filepath.Join(t.TempDir(), salt+".json")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestUsageErrors: a wrong command line, a wrong value in the environment,
// and a destination or source that looks like a URL but is not
// s3://bucket/prefix with a valid bucket name exit 2 at once with a short
// message on stderr (nothing on stdout, no directory named after the URL);
// before, kong's 80 and 68 lines of usage on stdout, 1 for the environment,
// and 0 after writing ./s3:/bucket/x.
func TestUsageErrors(t *testing.T) {
	t.Parallel()
	src := eventsFile(t, 3, "usage")
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want string // in the message
	}{
		{"unknown flag", nil, []string{"backfill", "--bogus", src}, "unknown flag --bogus"},
		{"missing flag", nil, []string{"consume", "--out", "lake"}, "missing flags"},
		{"bad enum", nil, []string{"backfill", "--codec", "lz4", src}, "--codec"},
		{"bad size from the environment", []string{"HUBLAKE_FLUSH_BYTES=lots"}, []string{"backfill", src}, "HUBLAKE_FLUSH_BYTES"},
		{"bad enum from the environment", []string{"HUBLAKE_CODEC=lz4"}, []string{"backfill", src}, "HUBLAKE_CODEC"},
		{"s3 with one slash", nil, []string{"backfill", "--out", "s3:/bucket/x", src}, "s3://bucket/prefix"},
		{"https URL of a bucket", nil, []string{"backfill", "--out", "https://bucket.s3.amazonaws.com/x", src}, "s3://bucket/x"},
		{"invalid bucket name", nil, []string{"backfill", "--out", "s3://My_Bucket/x", src}, "not a valid S3 bucket name"},
		{"bucket name too short", nil, []string{"consume", "--stream", "s", "--app", "a", "--out", "s3://ab/x"}, "3 to 63 characters"},
		{"bucket name an IP address", nil, []string{"compact", "--out", "s3://192.168.1.10/x"}, "IP address"},
		{"source like a URL", nil, []string{"backfill", "--out", "lake", "s3:/archive/x"}, "s3://bucket/prefix"},
		{"source on https", nil, []string{"publish", "--stream", "s", "https://archive.s3.eu-west-1.amazonaws.com/firehose/"}, "s3://archive/firehose/"},
		{"gen to a URL", nil, []string{"gen", "--events", "1", "--out", "s3://bucket/x"}, "local directory"},
		{"parts that disagree", nil, []string{"backfill", "--part", "1/2", "--parts", "3", src}, "disagree"},
		{"a size past 64 bits", nil, []string{"backfill", "--flush-bytes", "99999999999GiB", src}, "--flush-bytes"},
		{"a batch whose memory budget is past 64 bits", nil, []string{"backfill", "--flush-bytes", "2000000000GiB", src}, "memory budget"},
		{"the consumer's too", []string{"HUBLAKE_MAX_UNIT_BYTES=2000000000GiB"}, []string{"consume", "--stream", "s", "--app", "a"}, "memory budget"},
		{"a KMS key without aws:kms", nil, []string{"backfill", "--sse-kms-key-id", "k", src}, "--sse aws:kms"},
		{"a table without a current table", nil, []string{"current", "--out", "lake", "--table", "insight_results"}, "no current table (tables: findings, ocsf_findings)"},
		{"current retention in days", nil, []string{"current", "--out", "lake", "--retention-active", "90d"}, "--retention-active"},
		{"publish's old --endpoint", nil, []string{"publish", "--stream", "s", "--endpoint", "http://127.0.0.1:1", src}, "unknown flag --endpoint"},
		{"help of no command", nil, []string{"help", "nosuch"}, "nosuch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			r := run(t, dir, c.env, nil, c.args...)
			if r.code != 2 {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, 2, r.stdout, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("a usage error printed %d lines on stdout:\n%s", strings.Count(r.stdout, "\n"), r.stdout)
			}
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if len(lines) > 2 || !strings.HasPrefix(lines[0], "hublake: error: ") || !strings.Contains(r.stderr, c.want) {
				t.Errorf("stderr is not a short usage error naming %q:\n%s", c.want, r.stderr)
			}
			if entries, _ := os.ReadDir(dir); len(entries) > 0 {
				t.Errorf("a usage error made %v in the working directory", entries)
			}
		})
	}
}

// TestHelpCommand: `hublake help CMD` is `hublake CMD --help` (exit 0, on
// stdout), and every command's help has examples.
func TestHelpCommand(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"backfill", "consume", "compact", "check", "check consume", "check backfill", "check compact",
		"publish", "ddl", "gen", "healthcheck"} {
		args := strings.Fields(cmd)
		h := run(t, "", nil, nil, append([]string{"help"}, args...)...)
		f := run(t, "", nil, nil, append(args, "--help")...)
		if h.code != 0 || f.code != 0 || h.stderr != "" {
			t.Errorf("hublake help %s: exit %d (--help: %d)\n%s", cmd, h.code, f.code, h.stderr)
			continue
		}
		if !strings.HasPrefix(h.stdout, "Usage: hublake "+cmd) || h.stdout != f.stdout {
			t.Errorf("hublake help %s is not hublake %s --help:\n%s", cmd, cmd, h.stdout)
		}
		if !strings.Contains(h.stdout, "Examples:") {
			t.Errorf("hublake help %s has no examples:\n%s", cmd, h.stdout)
		}
	}
	if r := run(t, "", nil, nil, "help"); r.code != 0 || !strings.Contains(r.stdout, "Commands:") || !strings.Contains(r.stdout, "Examples:") {
		t.Errorf("hublake help: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestCompactNeedsALake: compaction of a directory that is not there fails
// (exit 1, one log line) and creates nothing; before, it created the
// directory and reported 0 partitions.
func TestCompactNeedsALake(t *testing.T) {
	t.Parallel()
	lk := filepath.Join(t.TempDir(), "nonexistent", "lake")
	r := run(t, "", nil, nil, "compact", "--out", lk, "--log-format", "json")
	if r.code != 1 || !strings.Contains(r.stderr, "no lake at --out") {
		t.Errorf("compact --out %s: exit %d, want 1 with \"no lake\"\n%s", lk, r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Dir(lk)); !os.IsNotExist(err) {
		t.Errorf("compact created %s", filepath.Dir(lk))
	}
	if r := run(t, "", nil, nil, "check", "compact", "--out", lk); r.code != 1 || !strings.Contains(r.stdout, "FAIL  lake "+lk+": no lake here") {
		t.Errorf("check compact --out %s: exit %d\n%s%s", lk, r.code, r.stdout, r.stderr)
	}
}

// TestEnvNamesDoNotCollide: with the lake's environment set (as the ECS task
// sets it), `hublake gen` writes its own default directory, not
// ./s3:/bucket/lake, and `hublake ddl` ignores the lake commands' FORMAT
// and TABLE; the non-lake commands read names of their own.
func TestEnvNamesDoNotCollide(t *testing.T) {
	t.Parallel()
	lakeEnv := []string{"HUBLAKE_OUT=s3://mybucket/lake", "HUBLAKE_FORMAT=cloudformation", "HUBLAKE_TABLE=findings,ocsf_findings", "HUBLAKE_STREAM=prod"}
	dir := t.TempDir()
	if r := run(t, dir, lakeEnv, nil, "gen", "--events", "20"); r.code != 0 {
		t.Fatalf("gen with the lake's environment: exit %d\n%s", r.code, r.stderr)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "corpus" {
		t.Errorf("gen with HUBLAKE_OUT=s3://mybucket/lake wrote %v, want ./corpus only", entries)
	}
	if r := run(t, dir, append(lakeEnv, "HUBLAKE_GEN_OUT=mine"), nil, "gen", "--events", "5"); r.code != 0 {
		t.Errorf("gen with HUBLAKE_GEN_OUT: exit %d\n%s", r.code, r.stderr)
	} else if _, err := os.Stat(filepath.Join(dir, "mine")); err != nil {
		t.Errorf("gen does not read HUBLAKE_GEN_OUT: %v", err)
	}
	r := run(t, dir, append(lakeEnv, "HUBLAKE_FORMAT=concat"), nil, "ddl")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "CREATE EXTERNAL TABLE") {
		t.Errorf("ddl with HUBLAKE_FORMAT=concat (gen's) and HUBLAKE_TABLE (compact's): exit %d\n%s", r.code, r.stderr)
	}
	if r := run(t, dir, append(lakeEnv, "HUBLAKE_DDL_FORMAT=cloudformation", "HUBLAKE_DDL_TABLE=dead_letters"), nil, "ddl"); r.code != 0 || !strings.Contains(r.stdout, "- Name: data_base64") {
		t.Errorf("ddl does not read HUBLAKE_DDL_FORMAT and HUBLAKE_DDL_TABLE: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for cmd, want := range map[string]string{
		"publish": "--kinesis-endpoint=STRING       Kinesis endpoint URL (a local stack) ($HUBLAKE_PUBLISH_KINESIS_ENDPOINT)",
		"consume": "--kinesis-endpoint=STRING       Kinesis endpoint URL (a local stack) ($HUBLAKE_KINESIS_ENDPOINT)",
	} {
		r := run(t, "", nil, nil, cmd, "--help")
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("hublake %s --help does not offer %q:\n%s", cmd, want, r.stdout)
		}
	}
}

// TestInterrupt: Ctrl-C (SIGINT) stops a backfill with exit status 130 and
// one log line, not an ERROR line per input in flight; before, exit 1 after
// "input failed" for each.
func TestInterrupt(t *testing.T) {
	t.Parallel()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pw.Close()
	cmd := exec.Command(hublakeBin, "backfill", "--out", t.TempDir(), "--progress", "none", "--log-format", "json", "-")
	cmd.Env = cleanEnv()
	cmd.Stdin = pr
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pr.Close()
	// The input stays open: the backfill is in flight when the signal comes.
	for _, e := range syntheticEvents(50, "interrupt") {
		if _, err := pw.Write(append(e, '\n')); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("backfill did not stop within 20 s of SIGINT\n%s", stderr.String())
	}
	if code := exitCode(t, err); code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, stderr.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("not a JSON log line: %s", line)
		}
		if rec["level"] == "ERROR" {
			t.Errorf("an ERROR line after SIGINT: %s", line)
		}
	}
	if n := strings.Count(stderr.String(), `"msg":"interrupted"`); n != 1 {
		t.Errorf("%d \"interrupted\" lines, want 1:\n%s", n, stderr.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestVersion: --version names the module version, the VCS revision when
// the build has one, and the Go version, from the build information;
// before, a go build said "dev".
func TestVersion(t *testing.T) {
	t.Parallel()
	r := run(t, "", nil, nil, "--version")
	if r.code != 0 || !regexp.MustCompile(`^hublake \S+( \(revision [0-9a-f]+(, modified)?\))? go1\.[0-9.]+\n$`).MatchString(r.stdout) ||
		!strings.HasSuffix(r.stdout, " "+runtime.Version()+"\n") || strings.Contains(r.stdout, " dev ") {
		t.Errorf("hublake --version: exit %d %q, want the build's version and %s", r.code, r.stdout, runtime.Version())
	}
}

// logLine checks that a line of stderr is a record of the format.
var textLogRE = regexp.MustCompile(`^time=\S+ level=(DEBUG|INFO|WARN|ERROR) msg=`)

func checkLogLines(t *testing.T, what, format, stderr string) {
	t.Helper()
	for _, line := range strings.Split(stderr, "\n") {
		if line == "" {
			continue
		}
		switch format {
		case "json":
			var rec map[string]any
			if err := json.Unmarshal([]byte(line), &rec); err != nil || rec["time"] == nil || rec["level"] == nil || rec["msg"] == nil {
				t.Errorf("%s: a line that is no JSON log record:\n%s", what, line)
			}
		case "text":
			if !textLogRE.MatchString(line) {
				t.Errorf("%s: a line that is no text log record:\n%s", what, line)
			}
		}
		if strings.Contains(line, "DEBUG") {
			t.Errorf("%s: a debug line at --log-level info:\n%s", what, line)
		}
	}
}

// TestLogFormat runs every command of the binary with --log-format json and
// text (and the default, which is JSON when stderr is not a terminal) and
// finds no line on stderr that is not a record of that format: the SDK's
// own lines ("falling back to IMDSv1", the debug line of a response without
// a checksum), the KCL's and the transfer manager's included. Before: plain
// "SDK 2026/… WARN" lines, a DEBUG line at info, no text format.
func TestLogFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	corpus := t.TempDir()
	if r := run(t, "", nil, nil, "gen", "--events", "60", "--bad-ratio", "0.05", "--out", corpus); r.code != 0 {
		t.Fatalf("gen: %s", r.stderr)
	}
	// S3 sources on versitygw: its objects carry no checksum, and the SDK
	// says so at debug.
	stack.Bucket(t, "archive")
	files, err := os.ReadDir(corpus)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		body, err := os.ReadFile(filepath.Join(corpus, f.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rawS3().PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("archive"), Key: aws.String(e.prefix + "-src/" + f.Name()), Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	// An instance metadata service that refuses tokens: the SDK falls back
	// to IMDSv1 and says so, then finds no credentials.
	imds := httptest.NewServer(http.NotFoundHandler())
	defer imds.Close()
	noCreds := []string{"AWS_ACCESS_KEY_ID=", "AWS_SECRET_ACCESS_KEY=", "AWS_EC2_METADATA_DISABLED=false", "AWS_EC2_METADATA_SERVICE_ENDPOINT=" + imds.URL,
		"AWS_SHARED_CREDENTIALS_FILE=/nonexistent", "AWS_CONFIG_FILE=/nonexistent", "AWS_MAX_ATTEMPTS=1"}

	for _, format := range []string{"json", "text", ""} {
		t.Run("format="+format, func(t *testing.T) {
			want := format
			flags := []string{"--log-level", "info"}
			if format == "" {
				want = "json"
			} else {
				flags = append(flags, "--log-format", format)
			}
			lk := filepath.Join(t.TempDir(), "lake")
			s3lake := "s3://lake/" + e.prefix + "-format-" + strings.ReplaceAll(t.Name(), "/", "-")
			runs := []struct {
				name     string
				env      []string
				args     []string
				wantCode int
			}{
				{"gen", nil, []string{"gen", "--events", "30", "--out", t.TempDir()}, 0},
				{"backfill", nil, []string{"backfill", "--progress", "lines", "--out", lk, corpus}, 0},
				{"backfill from S3", nil, []string{"backfill", "--out", s3lake, "--s3-endpoint", stack.S3, "s3://archive/" + e.prefix + "-src/"}, 0},
				{"backfill without credentials", noCreds, []string{"backfill", "--out", s3lake, "--s3-endpoint", stack.S3, corpus}, 1},
				{"compact", nil, []string{"compact", "--out", lk, "--older-than", "0s", "--delete-grace", "0s", "--progress", "lines"}, 0},
				{"compact on S3", nil, []string{"compact", "--out", s3lake, "--s3-endpoint", stack.S3, "--older-than", "0s", "--delete-grace", "0s"}, 0},
				{"check compact", nil, []string{"check", "compact", "--out", lk}, 0},
				{"current", nil, []string{"current", "--out", lk, "--table", "findings_current", "--retention", "none", "--progress", "lines"}, 0},
				{"check consume", nil, []string{"check", "consume", "--stream", e.name, "--app", e.name + "-check", "--out", s3lake,
					"--s3-endpoint", stack.S3, "--kinesis-endpoint", stack.Kinesis, "--dynamodb-endpoint", stack.DynamoDB}, 0},
				{"publish", nil, []string{"publish", "--stream", e.name, "--kinesis-endpoint", stack.Kinesis, corpus}, 0},
				{"ddl", nil, []string{"ddl"}, 0},
				{"healthcheck of nothing", nil, []string{"healthcheck", "--url", "http://127.0.0.1:1/healthz"}, 1},
				{"help", nil, []string{"help", "backfill"}, 0},
			}
			imdsWarned := false
			for _, r := range runs {
				got := run(t, "", r.env, nil, append(r.args, flags...)...)
				if got.code != r.wantCode {
					t.Errorf("%s: exit %d, want %d\n%s", r.name, got.code, r.wantCode, got.stderr)
				}
				checkLogLines(t, r.name, want, got.stderr)
				imdsWarned = imdsWarned || strings.Contains(got.stderr, "falling back to IMDSv1")
			}
			if !imdsWarned {
				t.Error("the SDK's IMDSv1 warning is not in the log: the run without credentials did not reach the metadata service")
			}
			// The consumer, stopped as ECS stops it and as Ctrl-C does.
			switch format {
			case "json":
				consumeLogs(t, e, flags, want, syscall.SIGTERM)
			case "text":
				consumeLogs(t, e, flags, want, os.Interrupt)
			}
		})
	}
}

// consumeLogs runs the consumer (a lease table of its own, so that it reads
// the stream from its start) until it has read the stream, checks its
// metrics' conventions, stops it with sig (SIGTERM: exit 0; SIGINT: 130)
// and checks its log lines.
func consumeLogs(t *testing.T, e *env, flags []string, format string, sig os.Signal) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", localstack.FreePort(t))
	cmd := exec.Command(hublakeBin, append([]string{"consume",
		"--stream", e.name, "--app", e.name + "-logs-" + format, "--worker-id", "logs",
		"--out", "s3://lake/" + e.prefix, "--s3-endpoint", stack.S3, "--kinesis-endpoint", stack.Kinesis, "--dynamodb-endpoint", stack.DynamoDB,
		"--metrics-addr", addr, "--shard-sync", "1s", "--lease-sync", "1s", "--lease-duration", "6s", "--flush-window", "2s",
	}, flags...)...)
	cmd.Env = cleanEnv()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, addr: addr}
	deadline := time.Now().Add(60 * time.Second)
	for p.metric("hublake_records_total") <= 0 || p.metric("hublake_buffered_records") != 0 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("the consumer read nothing in 60 s\n%s", stderr.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	checkMetricConventions(t, p.scrape(t))
	_ = cmd.Process.Signal(sig)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("consume did not stop after %v", sig)
	}
	want := map[os.Signal]int{syscall.SIGTERM: 0, os.Interrupt: 130}[sig]
	if code := exitCode(t, err); code != want {
		t.Errorf("consume exited %d after %v, want %d\n%s", code, sig, want, stderr.String())
	}
	checkLogLines(t, "consume", format, stderr.String())
}

// checkMetricConventions: Prometheus' conventions on a running consumer's
// /metrics: base units (no milliseconds), counters end in _total, one
// series per quantity (no per-table row counters beside
// hublake_rows_written_total{table}), and hublake_build_info with the Go
// version; before, hublake_millis_behind_latest, hublake_findings_total and
// hublake_insight_results_total, and no build_info.
func checkMetricConventions(t *testing.T, text string) {
	t.Helper()
	exp := parseExposition(text)
	for name := range exp {
		if !strings.HasPrefix(name, "hublake_") {
			continue
		}
		if strings.Contains(name, "millis") || strings.Contains(name, "_ms") {
			t.Errorf("%s is not in base units", name)
		}
	}
	for _, gone := range []string{"hublake_millis_behind_latest", "hublake_findings_total", "hublake_insight_results_total"} {
		if _, ok := exp[gone]; ok {
			t.Errorf("%s is still exported", gone)
		}
	}
	if _, ok := exp["hublake_behind_latest_seconds"]; !ok {
		t.Errorf("no hublake_behind_latest_seconds after reading the stream")
	}
	if !regexp.MustCompile(`(?m)^hublake_build_info\{goversion="` + regexp.QuoteMeta(runtime.Version()) + `",revision="[0-9a-f]*(-modified)?",version="[^"]+"\} 1$`).MatchString(text) {
		t.Errorf("no hublake_build_info with the Go version %s in /metrics", runtime.Version())
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" && f[3] == "counter" &&
			strings.HasPrefix(f[2], "hublake_") && !strings.HasSuffix(f[2], "_total") {
			t.Errorf("counter %s does not end in _total", f[2])
		}
	}
}

// TestMetricsPort: the consumer's default port is not Prometheus' 9090, and
// the health check follows the consumer's HUBLAKE_METRICS_ADDR.
func TestMetricsPort(t *testing.T) {
	t.Parallel()
	r := run(t, "", nil, nil, "consume", "--help")
	if !strings.Contains(r.stdout, `--metrics-addr=":8977"`) || strings.Contains(r.stdout, "9090") {
		t.Errorf("the default --metrics-addr is not :8977:\n%s", r.stdout)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	if r := run(t, "", []string{"HUBLAKE_METRICS_ADDR=:" + port}, nil, "healthcheck"); r.code != 0 {
		t.Errorf("healthcheck with HUBLAKE_METRICS_ADDR=:%s: exit %d\n%s", port, r.code, r.stderr)
	}
}

// regionalS3 is an S3 server (gofakes3) that, like S3, serves each bucket
// in its region only: a request signed for another region is refused with
// 400 AuthorizationHeaderMalformed, and HeadBucket answers the bucket's
// region in x-amz-bucket-region, refused or not.
type regionalS3 struct {
	regions map[string]string
	next    http.Handler
	mu      sync.Mutex
	refused int
}

var credentialScopeRE = regexp.MustCompile(`Credential=[^/]+/[0-9]{8}/([a-z0-9-]+)/s3/aws4_request`)

func (s *regionalS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	region, ok := s.regions[bucket]
	if !ok {
		s.next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("X-Amz-Bucket-Region", region)
	m := credentialScopeRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil || m[1] != region {
		s.mu.Lock()
		s.refused++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusBadRequest)
		if r.Method != http.MethodHead {
			fmt.Fprintf(w, `<Error><Code>AuthorizationHeaderMalformed</Code><Message>the region is wrong; expecting '%s'</Message><Region>%s</Region></Error>`, region, region)
		}
		return
	}
	s.next.ServeHTTP(w, r)
}

// TestBucketRegions: a lake in eu-west-3 and an archive in us-west-2, the
// process configured for us-east-1: backfill asks each bucket's region and
// signs for it; with --s3-region it uses the one given. Before: every
// request refused.
func TestBucketRegions(t *testing.T) {
	t.Parallel()
	fake := &regionalS3{regions: map[string]string{"eu-lake": "eu-west-3", "us-archive": "us-west-2"}, next: gofakes3.New(s3mem.New()).Server()}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	client := func(region string) *s3.Client {
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, "")})
	}
	ctx := context.Background()
	for bucket, region := range fake.regions {
		if _, err := client(region).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
	}
	var body bytes.Buffer
	for _, ev := range syntheticEvents(20, "regions") {
		body.Write(append(ev, '\n'))
	}
	if _, err := client("us-west-2").PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("us-archive"), Key: aws.String("firehose/events.json"), Body: bytes.NewReader(body.Bytes())}); err != nil {
		t.Fatal(err)
	}
	fake.refused = 0

	args := []string{"backfill", "--out", "s3://eu-lake/lake", "--s3-endpoint", srv.URL, "--log-format", "json", "s3://us-archive/firehose/"}
	r := run(t, "", []string{"AWS_REGION=us-east-1"}, nil, args...)
	if r.code != 0 {
		t.Fatalf("backfill across regions: exit %d\n%s", r.code, r.stderr)
	}
	out, err := client("eu-west-3").ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("eu-lake"), Prefix: aws.String("lake/findings/")})
	if err != nil || len(out.Contents) == 0 {
		t.Errorf("no findings in the eu-west-3 lake: %v", err)
	}
	// Only the discovery itself was refused (HeadBucket signed for
	// us-east-1, once per bucket and client).
	if fake.refused > 4 {
		t.Errorf("%d requests were refused for their region", fake.refused)
	}
	r = run(t, "", []string{"AWS_REGION=us-east-1"}, nil, append(args, "--s3-region", "us-east-1", "--out", "s3://eu-lake/again")...)
	if r.code != 1 || !strings.Contains(r.stderr, "AuthorizationHeaderMalformed") {
		t.Errorf("backfill with --s3-region us-east-1: exit %d, want 1 refused by the eu-west-3 bucket\n%s", r.code, r.stderr)
	}
}

// TestCheck: `hublake check consume` with a good configuration says ok for
// each part and exits 0; with a stream that does not exist, a bucket that
// does not exist and a Kinesis endpoint that does not answer, one FAIL line
// each and exit 1, in seconds (no retries). Before: no check command.
func TestCheck(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	base := []string{"check", "consume", "--app", e.name + "-check", "--s3-endpoint", stack.S3, "--dynamodb-endpoint", stack.DynamoDB}
	good := run(t, "", nil, nil, append(base, "--stream", e.name, "--out", "s3://lake/"+e.prefix, "--kinesis-endpoint", stack.Kinesis)...)
	if good.code != 0 {
		t.Errorf("check of a good configuration: exit %d\n%s%s", good.code, good.stdout, good.stderr)
	}
	for _, want := range []string{"ok    AWS configuration: region us-east-1", "ok    credentials:", "ok    stream " + e.name + ": reachable",
		"ok    lease table " + e.name + "-check: does not exist yet", "ok    lake s3://lake/" + e.prefix + ": reachable",
		"ok    lake s3://lake/" + e.prefix + " (probe): wrote and deleted _hublake/check/"} {
		if !strings.Contains(good.stdout, want) {
			t.Errorf("check of a good configuration does not say %q:\n%s", want, good.stdout)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(e.lakeDir(), "_hublake", "check")); len(entries) > 0 {
		t.Errorf("the probe object is still there: %v", entries)
	}

	bad := run(t, "", nil, nil, append(base, "--stream", "no-such-stream", "--out", "s3://no-such-bucket/x", "--kinesis-endpoint", stack.Kinesis)...)
	if bad.code != 1 {
		t.Errorf("check of a bad configuration: exit %d, want 1\n%s%s", bad.code, bad.stdout, bad.stderr)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^FAIL  stream no-such-stream: ListShards: ResourceNotFoundException: .+$`),
		regexp.MustCompile(`(?m)^FAIL  lake s3://no-such-bucket/x: .*NoSuchBucket.*$`),
	} {
		if !want.MatchString(bad.stdout) {
			t.Errorf("check of a bad configuration does not say %s:\n%s", want, bad.stdout)
		}
	}
	down := run(t, "", nil, nil, append(base, "--stream", e.name, "--out", "s3://lake/"+e.prefix, "--kinesis-endpoint", "http://127.0.0.1:1")...)
	if down.code != 1 || !regexp.MustCompile(`(?m)^FAIL  stream `+e.name+`: ListShards: dial tcp 127.0.0.1:1: connect: connection refused$`).MatchString(down.stdout) {
		t.Errorf("check with Kinesis down: exit %d\n%s%s", down.code, down.stdout, down.stderr)
	}
	for _, r := range []ran{bad, down} {
		if r.took > 15*time.Second {
			t.Errorf("a failing check took %s", r.took)
		}
		for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
			if !strings.HasPrefix(line, "ok    ") && !strings.HasPrefix(line, "FAIL  ") {
				t.Errorf("a check line that is neither ok nor FAIL: %q", line)
			}
		}
	}
	src := eventsFile(t, 2, "check")
	if r := run(t, "", nil, nil, "check", "backfill", "--out", t.TempDir(), src, filepath.Join(t.TempDir(), "missing.json")); r.code != 1 ||
		!strings.Contains(r.stdout, "ok    source "+src+": a readable file") || !strings.Contains(r.stdout, "FAIL  source ") {
		t.Errorf("check backfill with a missing source: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestDeadLettersTable: `hublake ddl` declares the dead_letters table, and
// its columns read the dead letters a backfill wrote (DuckDB, as Athena
// reads the JSON lines); before, no such table.
func TestDeadLettersTable(t *testing.T) {
	t.Parallel()
	src := eventsFile(t, 3, "dead", `{"not": "an event"`, `[1, 2]`)
	lk := filepath.Join(t.TempDir(), "lake")
	if r := run(t, "", nil, nil, "backfill", "--out", lk, src); r.code != 0 {
		t.Fatalf("backfill: %s", r.stderr)
	}
	ddl := run(t, "", nil, nil, "ddl", "--location", "s3://my-lake/lake")
	if !strings.Contains(ddl.stdout, "CREATE EXTERNAL TABLE IF NOT EXISTS `dead_letters` (\n  `source` string,\n  `error` string,\n  `data` string,\n  `data_base64` string\n)") ||
		!strings.Contains(ddl.stdout, "LOCATION 's3://my-lake/lake/dead_letters/'") {
		t.Errorf("hublake ddl has no dead_letters table:\n%s", ddl.stdout)
	}
	cf := run(t, "", nil, nil, "ddl", "--format", "cloudformation", "--table", "dead_letters", "--indent", "0")
	var cols []string
	for _, m := range regexp.MustCompile(`(?m)^- Name: (\S+)$`).FindAllStringSubmatch(cf.stdout, -1) {
		cols = append(cols, m[1])
	}
	if !slices.Equal(cols, []string{"source", "error", "data", "data_base64"}) {
		t.Fatalf("dead_letters columns %v", cols)
	}
	db := lakecheck.Open(t)
	var n int
	var reasons string
	q := fmt.Sprintf(`SELECT count(*), string_agg(error, '|' ORDER BY error) FROM read_json('%s/dead_letters/*/*.jsonl.gz', format='newline_delimited',
		columns={source: 'VARCHAR', error: 'VARCHAR', data: 'VARCHAR', data_base64: 'VARCHAR'}) WHERE source LIKE 'file:%%' AND data IS NOT NULL`, lk)
	if err := db.QueryRow(q).Scan(&n, &reasons); err != nil {
		t.Fatal(err)
	}
	if n < 2 || !strings.Contains(reasons, "invalid JSON") || !strings.Contains(reasons, "not a JSON object") {
		t.Errorf("dead_letters read %d rows (%s), want the bad lines' letters", n, reasons)
	}
}
