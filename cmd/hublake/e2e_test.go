package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
)

// The end-to-end tests run the real hublake binary against the local stack
// (kinesis-mock, dynalite, versitygw), started once for the package, and read
// the lake back with DuckDB from versitygw's directory.

var (
	hublakeBin string
	stack      *localstack.Stack
	stackErr   error
	// opsFile collects "<service>:<Operation>" of every AWS call the
	// consumers make (HUBLAKE_RECORD_AWS_OPS), backfillOpsFile those of
	// the backfills over S3, compactOpsFile those of `hublake compact`.
	opsFile, backfillOpsFile, compactOpsFile, currentOpsFile string
)

// opsGolden lists the AWS operations `hublake consume` calls,
// backfillOpsGolden those of `hublake backfill` from S3 into S3 and
// compactOpsGolden those of `hublake compact` (currentOpsGolden of `hublake
// current`); deploy/'s tests check the
// task role's, the Batch job role's and the compaction task role's
// permissions against them. A full run of this package compares what it observed with them;
// HUBLAKE_UPDATE_GOLDEN=1 rewrites them.
const (
	opsGolden         = "../../deploy/testdata/consume-aws-operations.txt"
	backfillOpsGolden = "../../deploy/testdata/backfill-aws-operations.txt"
	compactOpsGolden  = "../../deploy/testdata/compact-aws-operations.txt"
	currentOpsGolden  = "../../deploy/testdata/current-aws-operations.txt"
)

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "hublake-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		hublakeBin = filepath.Join(dir, "hublake")
		build := exec.Command("go", "build", "-o", hublakeBin, ".")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build hublake:", err)
			return 1
		}
		tools := os.Getenv("HUBLAKE_TOOLS_DIR")
		if tools == "" {
			tools = filepath.Join("..", "..", ".tools")
		}
		// Object metadata (ETags) on: compaction's locks are conditional writes.
		opts := localstack.Options{Kinesis: true, DynamoDB: true, S3: true, S3Metadata: true}
		// The test process itself talks to the stack too (compaction's lock
		// tests); child processes get the same from stack.Env.
		for _, kv := range (&localstack.Stack{}).Env() {
			k, v, _ := strings.Cut(kv, "=")
			os.Setenv(k, v)
		}
		if missing := opts.Missing(tools); len(missing) > 0 {
			stackErr = fmt.Errorf("local stack tools missing (run `make tools`): %v", missing)
		} else {
			s, err := localstack.New(opts, tools, dir)
			if s != nil {
				defer s.Stop()
			}
			if err != nil {
				stackErr = err
				fmt.Fprintln(os.Stderr, "local stack:", err)
			} else {
				stack = s
			}
		}
		opsFile = filepath.Join(dir, "aws-operations.txt")
		backfillOpsFile = filepath.Join(dir, "backfill-aws-operations.txt")
		compactOpsFile = filepath.Join(dir, "compact-aws-operations.txt")
		currentOpsFile = filepath.Join(dir, "current-aws-operations.txt")
		code := m.Run()
		if code != 0 && stack != nil {
			fmt.Fprintf(os.Stderr, "local stack logs:\n%s\n", stack.Logs())
		}
		if code == 0 && stack != nil && flag.Lookup("test.run").Value.String() == "" {
			for _, c := range []struct{ file, golden, cmd, role string }{
				{opsFile, opsGolden, "consume", "the task role"},
				{backfillOpsFile, backfillOpsGolden, "backfill", "the Batch job role"},
				{compactOpsFile, compactOpsGolden, "compact", "the compaction task role"},
				{currentOpsFile, currentOpsGolden, "current", "the current tables' refresh (the compaction task role, or its own)"},
			} {
				if err := checkOperations(c.file, c.golden, c.cmd, c.role); err != nil {
					fmt.Fprintln(os.Stderr, err)
					return 1
				}
			}
		}
		return code
	}()
	os.Exit(code)
}

// env is one test's corner of the shared stack: its own stream, lease table
// and lake prefix.
type env struct {
	t      *testing.T
	name   string
	kc     *kinesis.Client
	bucket string
	prefix string
}

func newEnv(t *testing.T, shards int32) *env {
	t.Helper()
	if stack == nil {
		if os.Getenv("CI") != "" || os.Getenv("HUBLAKE_REQUIRE_STACK") != "" {
			t.Fatalf("local stack unavailable: %v", stackErr)
		}
		t.Skipf("local stack unavailable: %v", stackErr)
	}
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	e := &env{t: t, name: name, bucket: "lake", prefix: name}
	if err := os.MkdirAll(filepath.Join(stack.S3Root, e.bucket), 0o755); err != nil {
		t.Fatal(err)
	}
	e.kc = kinesis.New(kinesis.Options{
		Region:       localstack.Region,
		BaseEndpoint: aws.String(stack.Kinesis),
		Credentials:  credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	ctx := context.Background()
	if _, err := e.kc.CreateStream(ctx, &kinesis.CreateStreamInput{StreamName: aws.String(name), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream: %v", err)
	}
	w := kinesis.NewStreamExistsWaiter(e.kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(ctx, &kinesis.DescribeStreamInput{StreamName: aws.String(name)}, time.Minute); err != nil {
		t.Fatalf("wait for stream: %v", err)
	}
	return e
}

// lakeDir is where versitygw keeps the objects of this test's lake.
func (e *env) lakeDir() string { return filepath.Join(stack.S3Root, e.bucket, e.prefix) }

// proc is a running hublake process.
type proc struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	mu   *sync.Mutex
	done chan struct{}
	err  error
	addr string
}

type syncBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (s syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

// consume starts `hublake consume` for this env with extra flags and
// environment (e.g. HUBLAKE_TEST_CRASH_AT).
func (e *env) consume(worker string, extraEnv []string, flags ...string) *proc {
	e.t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", localstack.FreePort(e.t))
	args := append([]string{"consume",
		"--stream", e.name, "--app", e.name + "-app", "--worker-id", worker,
		"--out", "s3://" + e.bucket + "/" + e.prefix,
		"--s3-endpoint", stack.S3, "--kinesis-endpoint", stack.Kinesis, "--dynamodb-endpoint", stack.DynamoDB,
		"--metrics-addr", addr, "--shard-sync", "1s", "--lease-sync", "1s", "--lease-duration", "6s",
		"--flush-window", "2s", "--log-level", "info",
	}, flags...)
	cmd := exec.Command(hublakeBin, args...)
	cmd.Env = append(append(os.Environ(), stack.Env()...), "HUBLAKE_RECORD_AWS_OPS="+opsFile)
	cmd.Env = append(cmd.Env, extraEnv...) // may override the above
	p := &proc{cmd: cmd, out: &bytes.Buffer{}, mu: &sync.Mutex{}, done: make(chan struct{}), addr: addr}
	cmd.Stdout, cmd.Stderr = syncBuf{p.mu, p.out}, syncBuf{p.mu, p.out}
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("start consume: %v", err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
		if e.t.Failed() {
			e.t.Logf("output of worker %s:\n%s", worker, tail(p.output(), 60))
		}
	})
	return p
}

func tail(s string, lines int) string {
	parts := strings.Split(s, "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, timeout time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(timeout):
		t.Fatalf("process did not exit within %s", timeout)
	}
	if p.err == nil {
		return 0
	}
	if ee, ok := p.err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	t.Fatalf("wait: %v", p.err)
	return -1
}

// metric reads one Prometheus metric of a running consumer (0 when absent).
func (p *proc) metric(name string) float64 {
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v float64
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, name+" ") {
			fmt.Sscanf(strings.TrimPrefix(line, name+" "), "%g", &v)
		}
	}
	return v
}

// publish puts files of events into this env's stream with `hublake publish`.
func (e *env) publish(files ...string) {
	e.t.Helper()
	cmd := exec.Command(hublakeBin, append([]string{"publish", "--stream", e.name, "--kinesis-endpoint", stack.Kinesis}, files...)...)
	cmd.Env = append(os.Environ(), stack.Env()...)
	if out, err := cmd.CombinedOutput(); err != nil {
		e.t.Fatalf("publish: %v\n%s", err, out)
	}
}

// writeEvents writes events as NDJSON into a temporary file.
func (e *env) writeEvents(events [][]byte) string {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), "events.json")
	if err := os.WriteFile(f, append(bytes.Join(events, []byte("\n")), '\n'), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return f
}

// count returns count(*) and count(DISTINCT source) of the findings table.
func (e *env) count(db *sql.DB) (rows, sources int64) { return e.countTable(db, "findings") }

// countTable returns count(*) and count(DISTINCT source) of a table.
func (e *env) countTable(db *sql.DB, table string) (rows, sources int64) {
	e.t.Helper()
	if !lakecheck.HasTable(e.lakeDir(), table) {
		return 0, 0
	}
	q := "SELECT count(*), count(DISTINCT source) FROM " + lakecheck.TableGlob(e.lakeDir(), table)
	if err := db.QueryRow(q).Scan(&rows, &sources); err != nil {
		// An object may be replaced while DuckDB reads the directory.
		return -1, -1
	}
	return rows, sources
}

// waitRows waits until the findings table holds want rows, then a little
// longer to see that no more appear.
func (e *env) waitRows(db *sql.DB, want int64, timeout time.Duration) {
	e.t.Helper()
	e.waitTables(db, map[string]int64{"findings": want}, timeout)
}

// waitTables waits until each table holds its number of rows, then a
// little longer to see that no more appear.
func (e *env) waitTables(db *sql.DB, want map[string]int64, timeout time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	got := func() (string, bool) {
		var b strings.Builder
		ok := true
		for _, table := range lakecheck.SortedKeys(want) {
			rows, _ := e.countTable(db, table)
			fmt.Fprintf(&b, "%s %d rows (want %d); ", table, rows, want[table])
			ok = ok && rows == want[table]
		}
		return b.String(), ok
	}
	for {
		msg, ok := got()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			e.dumpLake(db)
			e.t.Fatalf("after %s the lake has %s", timeout, msg)
		}
		time.Sleep(500 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if msg, ok := got(); !ok {
		e.dumpLake(db)
		e.t.Fatalf("the lake grew: %s", msg)
	}
}

// syntheticEvents returns n Imported events of one finding each, all
// distinct, spread over a few days.
func syntheticEvents(n int, salt string) [][]byte {
	out := make([][]byte, n)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sev := []string{"INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL"}
	for i := range out {
		t := base.Add(time.Duration(i) * 37 * time.Minute)
		account := fmt.Sprintf("%012d", 100000000000+i%7)
		finding := map[string]any{
			"SchemaVersion": "2018-10-08",
			"Id":            fmt.Sprintf("arn:aws:securityhub:us-east-1:%s:finding/%s-%05d", account, salt, i),
			"ProductArn":    "arn:aws:securityhub:us-east-1::product/aws/guardduty",
			"ProductName":   "GuardDuty",
			"CompanyName":   "Amazon",
			"GeneratorId":   "arn:aws:guardduty:detector/test",
			"AwsAccountId":  account,
			"Region":        "us-east-1",
			"Types":         []string{"TTPs/Discovery/Recon:EC2-PortProbeUnprotectedPort"},
			"CreatedAt":     t.Add(-time.Hour).Format(time.RFC3339Nano),
			"UpdatedAt":     t.Format(time.RFC3339Nano),
			"Severity":      map[string]any{"Label": sev[i%5], "Normalized": []int{0, 20, 50, 75, 95}[i%5]},
			"Title":         fmt.Sprintf("Unprotected port on EC2 instance i-%08x is being probed", i),
			"Description":   strings.Repeat("An EC2 instance has an unprotected port which is being probed by a known malicious host. ", 3),
			"Resources":     []any{map[string]any{"Type": "AwsEc2Instance", "Id": fmt.Sprintf("arn:aws:ec2:us-east-1:%s:instance/i-%08x", account, i), "Partition": "aws", "Region": "us-east-1"}},
			"Workflow":      map[string]any{"Status": "NEW"},
			"RecordState":   "ACTIVE",
		}
		out[i] = eventJSON(fmt.Sprintf("%s-%08d-0000-0000-000000000000", salt, i), "Security Hub Findings - Imported", account, t, finding["Id"].(string), finding)
	}
	return out
}

// eventJSON is an EventBridge event from aws.securityhub in us-east-1 at
// time t carrying one finding, with one resource.
func eventJSON(id, detailType, account string, t time.Time, resource string, finding map[string]any) []byte {
	b, err := json.Marshal(map[string]any{
		"version": "0", "id": id, "detail-type": detailType, "source": "aws.securityhub",
		"account": account, "time": t.Format(time.RFC3339), "region": "us-east-1",
		"resources": []string{resource},
		"detail":    map[string]any{"findings": []any{finding}},
	})
	if err != nil {
		panic(err)
	}
	return b
}

// syntheticOCSFEvents returns n Findings Imported V2 events of one OCSF
// finding each, all distinct, spread over a few days. Every fifth one is an
// analyst's change of the finding before it (a new status and comment,
// modified_time and time unchanged, a later event): content of its own.
func syntheticOCSFEvents(n int, salt string) [][]byte {
	out := make([][]byte, n)
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sev := []string{"Informational", "Low", "Medium", "High", "Critical"}
	var modified time.Time
	for i := range out {
		t := base.Add(time.Duration(i) * 37 * time.Minute)
		k, status, comment := i, "New", ""
		if i%5 == 4 {
			k, status, comment = i-1, "Suppressed", "accepted risk, ticket SEC-"+fmt.Sprint(i)
		} else {
			modified = t.Add(-20 * time.Second)
		}
		account := fmt.Sprintf("%012d", 200000000000+k%7)
		ms := modified.UnixMilli()
		finding := map[string]any{
			"activity_id": 1, "activity_name": "Create", "category_name": "Findings", "category_uid": 2,
			"class_name": "Compliance Finding", "class_uid": 2003,
			"cloud":      map[string]any{"account": map[string]any{"uid": account}, "provider": "AWS", "region": "us-east-1"},
			"compliance": map[string]any{"control": "S3.8", "standards": []string{"standards/aws-foundational-security-best-practices/v/1.0.0"}, "status": "Fail", "status_id": 3},
			"finding_info": map[string]any{
				"created_time": ms - 3600000, "modified_time": ms, "modified_time_dt": modified.Format("2006-01-02T15:04:05.000Z"),
				"title": "S3 general purpose buckets should block public access", "types": []string{"Posture Management"},
				"uid": fmt.Sprintf("arn:aws:securityhub:us-east-1:%s:security-control/S3.8/finding/%s-%05d", account, salt, k),
			},
			"metadata": map[string]any{
				"product":  map[string]any{"name": "Security Hub", "uid": "arn:aws:securityhub:us-east-1::productv2/aws/securityhub", "vendor_name": "AWS"},
				"profiles": []string{"cloud", "datetime"}, "uid": fmt.Sprintf("%s-meta-%05d", salt, k), "version": "1.6.0",
			},
			"resources": []any{map[string]any{"type": "AWS::S3::Bucket", "uid": fmt.Sprintf("bucket-%05d", k), "region": "us-east-1",
				"tags": []any{map[string]string{"name": "env", "value": "prod"}, map[string]string{"name": "owner"}}}},
			"severity": sev[k%5], "severity_id": 1 + k%5, "status": status, "status_id": map[string]int{"New": 1, "Suppressed": 3}[status],
			"time": ms, "time_dt": modified.Format("2006-01-02T15:04:05.000Z"), "type_name": "Compliance Finding: Create", "type_uid": 200301,
		}
		if comment != "" {
			finding["comment"] = comment
		}
		out[i] = eventJSON(fmt.Sprintf("%s-v2-%08d-0000-0000-000000000000", salt, i), "Findings Imported V2", account, t,
			finding["metadata"].(map[string]any)["uid"].(string), finding)
	}
	return out
}

// dumpLake logs each object's name and row range, to diagnose a failure.
func (e *env) dumpLake(db *sql.DB) {
	rows := lakecheck.Rows(e.t, db, "SELECT filename, count(*) AS n, min(source) AS first, max(source) AS last FROM read_parquet('"+
		filepath.Join(e.lakeDir(), "findings", "*", "*.parquet")+"', filename=true) GROUP BY filename ORDER BY first")
	for _, r := range rows {
		e.t.Logf("%v rows=%v first=%v last=%v", filepath.Base(fmt.Sprint(r["filename"])), r["n"], r["first"], r["last"])
	}
}

// checkOperations compares the AWS operations recorded in file during the
// whole run with the golden list.
func checkOperations(file, golden, cmd, role string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("no AWS operations were recorded in %s: %w", file, err)
	}
	seen := map[string]bool{}
	for _, l := range strings.Fields(string(b)) {
		seen[l] = true
	}
	got := strings.Join(lakecheck.SortedKeys(seen), "\n") + "\n"
	if os.Getenv("HUBLAKE_UPDATE_GOLDEN") != "" {
		return os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		return fmt.Errorf("read %s (HUBLAKE_UPDATE_GOLDEN=1 creates it): %w", golden, err)
	}
	if string(want) != got {
		return fmt.Errorf("the AWS operations hublake %s calls changed; review %s in deploy/ and run with HUBLAKE_UPDATE_GOLDEN=1.\nobserved:\n%s\ngolden:\n%s", cmd, role, got, want)
	}
	return nil
}
