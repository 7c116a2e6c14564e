package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/hublake/hublake/internal/faults"
	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/layout"
)

// newEnvStream is newEnv with a stream name of the test's choosing.
func newEnvStream(t *testing.T, shards int32, stream string) *env {
	t.Helper()
	e := newEnv(t, 1)
	if stream == e.name {
		return e
	}
	e.name = stream
	if _, err := e.kc.CreateStream(context.Background(), &kinesis.CreateStreamInput{StreamName: aws.String(stream), ShardCount: aws.Int32(shards)}); err != nil {
		t.Fatalf("create stream %q: %v", stream, err)
	}
	w := kinesis.NewStreamExistsWaiter(e.kc, func(o *kinesis.StreamExistsWaiterOptions) { o.MinDelay = 100 * time.Millisecond })
	if err := w.Wait(context.Background(), &kinesis.DescribeStreamInput{StreamName: aws.String(stream)}, time.Minute); err != nil {
		t.Fatalf("wait for stream: %v", err)
	}
	return e
}

// put puts one record into the env's stream and returns its source.
func (e *env) put(data []byte, key string) string {
	e.t.Helper()
	out, err := e.kc.PutRecord(context.Background(), &kinesis.PutRecordInput{StreamName: aws.String(e.name), Data: data, PartitionKey: aws.String(key)})
	if err != nil {
		e.t.Fatalf("put record: %v", err)
	}
	return "kinesis:" + e.name + "/" + aws.ToString(out.ShardId) + "/" + aws.ToString(out.SequenceNumber)
}

// scrape returns a running consumer's /metrics.
func (p *proc) scrape(t *testing.T) string {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape /metrics: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// assertNoSecrets fails when text (a run's logs or metrics) holds a secret
// planted in the findings, or the AWS secret access key the run used.
func assertNoSecrets(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range append([]string{localstack.SecretKey}, hostile.Secrets...) {
		if i := strings.Index(text, s); i >= 0 {
			t.Errorf("%s contains %q: …%s…", where, s, text[max(0, i-200):min(len(text), i+100)])
		}
	}
}

// TestConsumeHostile publishes every hostile unit of internal/hostile as a
// record, plus a record over --max-unit-bytes, a retry of a record, records
// the KCL's KPL de-aggregator cannot handle and a valid KPL aggregate, into a
// stream whose name starts with "_" and holds "..", and runs the real
// consumer: it stays up, every record ends up as rows, dead letters (with a
// reason and the original bytes) or a counted duplicate, and neither its
// logs nor its metrics show the secrets the findings carry.
func TestConsumeHostile(t *testing.T) {
	t.Parallel()
	e := newEnvStream(t, 1, "_hostile..stream")
	start := time.Now().UTC()
	type sent struct {
		c      hostile.Case
		source string
	}
	var all []sent
	for i, c := range hostile.Cases() {
		all = append(all, sent{c, e.put(c.Data, fmt.Sprint(i))})
	}
	control := all[0].c
	all = append(all, sent{hostile.Case{Name: "retry of the control event"}, e.put(control.Data, "0")})
	big := []byte(hostile.Imported("big", hostile.Time, hostile.Finding("finding/big", `"Description":"`+strings.Repeat("B", 200<<10)+`"`)))
	all = append(all, sent{hostile.Case{Name: "a record over --max-unit-bytes", Data: big, Dead: []string{"exceeds the 65536 byte limit"}}, e.put(big, "big")})
	for name, data := range hostile.KPLPoison() {
		all = append(all, sent{hostile.Case{Name: "KPL: " + name, Data: data, Dead: []string{"KPL aggregated record"}}, e.put(data, "kpl")})
	}
	agg := hostile.KPLAggregate([]byte(hostile.Imported("agg-1", hostile.Time, hostile.Finding("finding/agg-1"))), []byte(hostile.Imported("agg-2", hostile.Time, hostile.Finding("finding/agg-2"))))
	all = append(all, sent{hostile.Case{Name: "a valid KPL aggregate of two events", Findings: 2}, e.put(agg, "agg")})

	var wantFindings, wantInsights, wantOCSF, wantDead, wantUnits int
	for _, s := range all {
		wantFindings += s.c.Findings
		wantInsights += s.c.Insights
		wantOCSF += s.c.OCSF
		wantDead += len(s.c.Dead)
		wantUnits++
	}
	wantUnits++ // the aggregate is two units

	p := e.consume("w1", nil, "--max-unit-bytes", "64KiB")
	const findingsRows, insightRows = `hublake_rows_written_total{table="findings"}`, `hublake_rows_written_total{table="insight_results"}`
	deadline := time.Now().Add(90 * time.Second)
	// Every record read and none buffered: OCSF rows are durable too (the
	// consumer has no metric of its own for them yet).
	for p.metric("hublake_dead_letters_total") < float64(wantDead) || p.metric(findingsRows) < float64(wantFindings) ||
		p.metric(insightRows) < float64(wantInsights) ||
		p.metric("hublake_records_total") < float64(wantUnits) || p.metric("hublake_buffered_records") != 0 {
		if time.Now().After(deadline) || !p.running() {
			t.Fatalf("consumer running: %v; %v dead letters, %v findings, %v insight results; want %d, %d, %d", p.running(),
				p.metric("hublake_dead_letters_total"), p.metric(findingsRows), p.metric(insightRows), wantDead, wantFindings, wantInsights)
		}
		time.Sleep(300 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // nothing more may come
	metrics := p.scrape(t)
	for name, want := range map[string]int{
		"hublake_records_total": wantUnits, findingsRows: wantFindings, insightRows: wantInsights,
		"hublake_dead_letters_total": wantDead, "hublake_duplicates_total": 1, "hublake_buffered_records": 0, "hublake_checkpoint_failures_total": 0,
	} {
		if got := p.metric(name); got != float64(want) {
			t.Errorf("%s = %v, want %d", name, got, want)
		}
	}

	db := lakecheck.Open(t)
	rowsBySource := func(table string) map[string]int { return lakecheck.RowsBySource(t, db, e.lakeDir(), table) }
	findings, insights, ocsf := rowsBySource("findings"), rowsBySource("insight_results"), rowsBySource("ocsf_findings")
	if n := lakecheck.Total(ocsf); n != wantOCSF || wantOCSF < 4 {
		t.Errorf("%d OCSF rows, want %d", n, wantOCSF)
	}
	dead := map[string][]lakecheck.DeadLetter{}
	for _, d := range lakecheck.DeadLetters(t, e.lakeDir()) {
		dead[d.Source] = append(dead[d.Source], d)
	}
	end := time.Now().UTC()
	for _, s := range all {
		c := s.c
		t.Run(c.Name, func(t *testing.T) {
			if findings[s.source] != c.Findings || insights[s.source] != c.Insights || ocsf[s.source] != c.OCSF {
				t.Errorf("%d finding rows, %d insight rows, %d OCSF rows; want %d, %d, %d", findings[s.source], insights[s.source], ocsf[s.source], c.Findings, c.Insights, c.OCSF)
			}
			got := dead[s.source]
			if len(got) != len(c.Dead) {
				t.Fatalf("%d dead letters, want %d", len(got), len(c.Dead))
			}
			for i, d := range got {
				want := c.Data
				if c.DeadData != nil {
					want = []byte(c.DeadData[i])
				}
				if !strings.Contains(d.Reason, c.Dead[i]) || !bytes.Equal(d.Data, want) {
					t.Errorf("dead letter %d: reason %q, data %.100q; want %q and the original bytes %.100q", i, d.Reason, d.Data, c.Dead[i], want)
				}
				// Without a date of its own, a record is dated by its arrival.
				if d.Dt != hostile.Date && (d.Dt < start.Format(time.DateOnly) || d.Dt > end.Format(time.DateOnly)) {
					t.Errorf("dead letter %d in dt=%s", i, d.Dt)
				}
			}
		})
	}
	// Object names begin with a letter: "_hostile..stream" became x_hostile__stream.
	objects, _ := filepath.Glob(filepath.Join(e.lakeDir(), "*", "dt=*", "*"))
	for _, o := range objects {
		if rel, _ := filepath.Rel(e.lakeDir(), o); layout.CheckKey(filepath.ToSlash(rel)) != nil || !strings.HasPrefix(filepath.Base(o), "x_hostile__stream-shardId-") {
			t.Errorf("object %s", rel)
		}
	}
	if len(objects) == 0 {
		t.Error("no objects in the lake")
	}

	assertNoSecrets(t, "/metrics", metrics)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("consume exited %d after SIGTERM, want 0", code)
	}
	assertNoSecrets(t, "the consumer's output", p.output())
}

// TestBackfillLogsHideSecrets runs `hublake backfill` at --log-level info
// over the hostile units (secrets in titles, descriptions, tags and in
// records that become dead letters): into a directory, and into S3 through
// a proxy that fails every upload so that SDK errors are logged. Neither
// stdout nor stderr shows a secret or the AWS secret key.
func TestBackfillLogsHideSecrets(t *testing.T) {
	t.Parallel()
	if stack == nil {
		newEnv(t, 1) // skips or fails as the other e2e tests do
	}
	in := filepath.Join(t.TempDir(), "hostile.json")
	var lines bytes.Buffer
	for _, c := range hostile.Cases() {
		lines.Write(c.Data)
		lines.WriteByte('\n')
	}
	if err := os.WriteFile(in, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(env []string, args ...string) (string, error) {
		cmd := exec.Command(hublakeBin, append([]string{"backfill", "--log-level", "info", "--progress", "lines"}, args...)...)
		cmd.Env = append(append(os.Environ(), stack.Env()...), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	out, err := run(nil, "--out", t.TempDir(), in)
	if err != nil {
		t.Fatalf("backfill: %v\n%s", err, out)
	}
	if !strings.Contains(out, "dead letters") {
		t.Errorf("no summary in the output:\n%s", out)
	}
	assertNoSecrets(t, "backfill's output", out)

	proxy, err := faults.NewReverse(stack.S3)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { proxy.Close(); srv.Close() })
	stack.Bucket(t, "secrets")
	proxy.Add(faults.Rule{Ops: []string{"PutObject", "UploadPart"}, Faults: []faults.Fault{faults.InternalError, faults.SlowDown, faults.Drop}})
	out, err = run([]string{"AWS_MAX_ATTEMPTS=2"}, "--out", "s3://secrets/lake", "--s3-endpoint", srv.URL, in)
	if err == nil {
		t.Fatalf("backfill into a failing store succeeded:\n%s", out)
	}
	// Which object fails first, and with which of the faults, depends on
	// how the batch's objects are written side by side; the SDK's verdict
	// is the same.
	if !strings.Contains(out, "exceeded maximum number of attempts") {
		t.Errorf("the SDK's errors are not in the output:\n%s", out)
	}
	assertNoSecrets(t, "backfill's output with store errors", out)
}

// TestConsumeStoreOutage: S3 (versitygw behind a proxy) fails every write
// for a while — 500, 503 SlowDown, dropped connections — beyond the SDK's
// attempts. The consumer stays up, its shard waits and retries, no
// checkpoint is written past data that is not durable and nothing is half
// written; once S3 recovers, every record lands exactly once.
func TestConsumeStoreOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	proxy, err := faults.NewReverse(stack.S3)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(func() { proxy.Close(); srv.Close() })

	p := e.consume("w1", []string{"AWS_MAX_ATTEMPTS=2"}, "--s3-endpoint", srv.URL, "--flush-records", "40")
	waitMetric(t, p, "hublake_leases_held", 2, 60*time.Second)
	proxy.Add(faults.Rule{Ops: []string{"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"},
		Faults: []faults.Fault{faults.InternalError, faults.SlowDown, faults.Drop}})
	var events [][]byte
	for i := range 120 {
		events = append(events, []byte(hostile.Imported(fmt.Sprintf("outage-%d", i), hostile.Time, hostile.Finding(fmt.Sprintf("finding/outage/%d", i)))))
	}
	e.publish(e.writeEvents(events))

	// The outage: records are read and held, writes fail and are retried,
	// by the SDK and then by the shard, which reads no further meanwhile.
	const retried = "cannot store the batch; the shard waits and retries"
	deadline := time.Now().Add(90 * time.Second)
	for p.metric("hublake_records_total") == 0 || proxy.Faulted("") < 12 || strings.Count(p.output(), retried) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("records read %v, faults injected %d, batches retried %d", p.metric("hublake_records_total"), proxy.Faulted(""), strings.Count(p.output(), retried))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if !p.running() {
		t.Fatal("the consumer exited during the outage")
	}
	if held := p.metric("hublake_buffered_records"); held == 0 {
		t.Error("no records held during the outage")
	}
	if objects, _ := filepath.Glob(filepath.Join(e.lakeDir(), "*", "*", "*")); len(objects) != 0 {
		t.Errorf("objects in the lake during the outage: %v", objects)
	}
	cps := checkpoints(t, e.name+"-app")
	for shard, cp := range cps {
		if cp != "" {
			t.Errorf("shard %s checkpointed at %s while nothing was durable", shard, cp)
		}
	}
	if p.metric("hublake_batches_total") != 0 {
		t.Errorf("%v batches counted as flushed during the outage", p.metric("hublake_batches_total"))
	}
	if proxy.Retried("PutObject") == 0 {
		t.Error("the SDK did not retry a single PutObject")
	}

	proxy.Heal()
	e.waitRows(db, int64(len(events)), 120*time.Second)
	if rows, sources := e.count(db); rows != sources {
		t.Fatalf("rows %d != distinct sources %d: some record landed twice", rows, sources)
	}
	if !p.running() {
		t.Fatal("the consumer exited")
	}
	for shard, cp := range checkpoints(t, e.name+"-app") {
		if cp == "" {
			t.Errorf("shard %s has no checkpoint after recovery", shard)
		}
	}
	assertNoSecrets(t, "/metrics", p.scrape(t))
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("consume exited %d after SIGTERM", code)
	}
	assertNoSecrets(t, "the consumer's output (with S3 errors)", p.output())
}

// checkpoints returns the Checkpoint attribute of every lease row.
func checkpoints(t *testing.T, table string) map[string]string {
	t.Helper()
	db := dynamodb.New(dynamodb.Options{
		Region: localstack.Region, BaseEndpoint: aws.String(stack.DynamoDB),
		Credentials: credentials.NewStaticCredentialsProvider(localstack.AccessKey, localstack.SecretKey, ""),
	})
	out, err := db.Scan(context.Background(), &dynamodb.ScanInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatalf("scan lease table: %v", err)
	}
	cps := map[string]string{}
	for _, item := range out.Items {
		str := func(k string) string {
			v, _ := item[k].(*ddbtypes.AttributeValueMemberS)
			if v == nil {
				return ""
			}
			return v.Value
		}
		cps[str("ShardID")] = str("Checkpoint")
	}
	return cps
}

// TestConsumeThrottled: DynamoDB (dynalite) and Kinesis (kinesis-mock)
// answer some requests with ProvisionedThroughputExceededException, as AWS
// does under load. The SDK's retryer retries them (the same call's next
// attempt goes through), no checkpoint fails, and every record lands
// exactly once.
func TestConsumeThrottled(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	dproxy, err := faults.NewReverse(stack.DynamoDB)
	if err != nil {
		t.Fatal(err)
	}
	kproxy, err := faults.NewReverse(stack.Kinesis)
	if err != nil {
		t.Fatal(err)
	}
	dsrv, ksrv := httptest.NewServer(dproxy), httptest.NewServer(kproxy)
	t.Cleanup(func() { dproxy.Close(); kproxy.Close(); dsrv.Close(); ksrv.Close() })
	dproxy.Add(faults.Rule{Ops: []string{"GetItem", "UpdateItem", "Scan"}, Faults: []faults.Fault{faults.Throttle}, Every: 3, Limit: 12,
		ErrorType: "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException"})
	kproxy.Add(faults.Rule{Ops: []string{"GetRecords", "GetShardIterator", "ListShards"}, Faults: []faults.Fault{faults.Throttle}, Every: 2, Limit: 8,
		ErrorType: "ProvisionedThroughputExceededException"})
	events := syntheticEvents(150, "throttled")
	e.publish(e.writeEvents(events))
	p := e.consume("w1", nil, "--dynamodb-endpoint", dsrv.URL, "--kinesis-endpoint", ksrv.URL, "--flush-records", "40")
	e.waitRows(db, int64(len(events)), 120*time.Second)
	if rows, sources := e.count(db); rows != sources {
		t.Fatalf("rows %d != distinct sources %d", rows, sources)
	}
	if n := dproxy.Faulted(""); n < 12 {
		t.Errorf("%d DynamoDB throttles injected, want 12", n)
	}
	if n := kproxy.Faulted(""); n < 8 {
		t.Errorf("%d Kinesis throttles injected, want 8", n)
	}
	recovered := 0
	for _, op := range []string{"GetItem", "UpdateItem", "Scan"} {
		recovered += dproxy.RecoveredAfterFault(op)
	}
	if recovered == 0 {
		t.Error("no throttled DynamoDB call was retried to success by the SDK")
	}
	recovered = 0
	for _, op := range []string{"GetRecords", "GetShardIterator", "ListShards"} {
		recovered += kproxy.RecoveredAfterFault(op)
	}
	if recovered == 0 {
		t.Error("no throttled Kinesis call was retried to success by the SDK")
	}
	// A throttle the SDK retried to success never reaches hublake: no
	// checkpoint fails of it. A checkpoint can still fail for a lease the
	// KCL gave up (its renewals throttled and backed off past the lease's
	// duration on a loaded machine): that is the fence working (the rows
	// are checked above), and the log says so.
	if f := p.metric("hublake_checkpoint_failures_total"); f != 0 {
		out := p.output()
		switch {
		case strings.Contains(out, "cannot store the batch"):
			t.Errorf("%v checkpoint failures, and a throttle reached hublake as a failed batch:\n%s", f, tail(out, 30))
		case !strings.Contains(out, "lease lost") && !strings.Contains(out, "giving the shard's lease up"):
			t.Errorf("%v checkpoint failures without a lost lease: a throttle reached hublake:\n%s", f, tail(out, 30))
		default:
			t.Logf("%v checkpoint failures, of a lease lost while renewals were throttled", f)
		}
	}
	if !p.running() {
		t.Fatal("the consumer exited")
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Errorf("consume exited %d after SIGTERM", code)
	}
}
