package main

import (
	"context"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"

	"github.com/hublake/hublake/internal/lakecheck"
)

// TestConsumeSamples: one worker, two shards, a few hundred events including
// every shared sample event: every finding and insight result lands once, and
// the sample events' rows hold what gjson reads from the sample files.
func TestConsumeSamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	samples, _ := filepath.Glob(filepath.Join(lakecheck.SamplesDir(t), "event_*.json"))
	if len(samples) == 0 {
		t.Fatal("no sample events")
	}
	synthetic := syntheticEvents(250, "samples")
	e.publish(append(samples, e.writeEvents(synthetic))...)

	var want []map[string]any
	var wantInsights []map[string]any
	for _, f := range samples {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, lakecheck.ExpectedFindings(f, data)...)
		wantInsights = append(wantInsights, lakecheck.ExpectedInsights(f, data)...)
	}
	p := e.consume("w1", nil)
	e.waitRows(db, int64(len(synthetic)+len(want)), 90*time.Second)

	// The sample events' findings, column by column (source aside: it names
	// the Kinesis record here).
	var cols []string
	for _, c := range lakecheck.CoreColumns {
		if c != "source" {
			cols = append(cols, c)
		}
	}
	for _, w := range want {
		rows := lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(e.lakeDir(), "findings")+" WHERE id = ? AND event_id = ?", w["id"], w["event_id"])
		if len(rows) != 1 {
			t.Fatalf("finding %v: %d rows, want 1", w["id"], len(rows))
		}
		lakecheck.CompareRow(t, w["id"].(string), rows[0], w, cols)
		if src := rows[0]["source"].(string); !strings.HasPrefix(src, "kinesis:"+e.name+"/shardId-") {
			t.Errorf("source = %q, want kinesis:%s/<shard>/<sequence>", src, e.name)
		}
	}
	insights := lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(e.lakeDir(), "insight_results")+" ORDER BY result_index")
	if len(insights) != len(wantInsights) {
		t.Fatalf("insight rows: %d, want %d", len(insights), len(wantInsights))
	}
	for i := range wantInsights {
		var icols []string
		for _, c := range lakecheck.InsightColumns {
			if c != "source" {
				icols = append(icols, c)
			}
		}
		lakecheck.CompareRow(t, "insight", insights[i], wantInsights[i], icols)
	}
	records := int64(len(synthetic))
	for _, f := range samples {
		data, _ := os.ReadFile(f)
		if len(lakecheck.ExpectedFindings(f, data)) > 0 {
			records++
		}
	}
	if _, sources := e.count(db); sources != records {
		t.Errorf("findings came from %d records, want %d", sources, records)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("consume exited %d after SIGTERM, want 0", code)
	}
}

// TestConsumeCrashPoints kills the real binary (SIGKILL, by itself) at each
// named point of a flush, restarts a new worker, and checks that every
// published finding is in the lake exactly once.
func TestConsumeCrashPoints(t *testing.T) {
	t.Parallel()
	for _, point := range []string{"before-upload", "between-objects", "before-checkpoint", "after-checkpoint"} {
		t.Run(point, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, 2)
			db := lakecheck.Open(t)
			events := syntheticEvents(300, "crash-"+point)
			e.publish(e.writeEvents(events))

			first := e.consume("doomed", []string{"HUBLAKE_TEST_CRASH_AT=" + point + ":3"}, "--flush-records", "40")
			if code := first.wait(t, 90*time.Second); code != 128+int(syscall.SIGKILL) {
				t.Fatalf("the first worker exited %d, want to be killed at %s", code, point)
			}
			second := e.consume("survivor", nil, "--flush-records", "40")
			e.waitRows(db, int64(len(events)), 90*time.Second)
			if rows, sources := e.count(db); rows != sources {
				t.Fatalf("rows %d != distinct sources %d: some record landed twice", rows, sources)
			}
			second.cmd.Process.Signal(syscall.SIGTERM)
			if code := second.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("consume exited %d after SIGTERM", code)
			}
		})
	}
}

// TestConsumeOCSF: a stream mixing ASFF events, Findings Imported V2 events
// (analysts' changes under an unchanged modified_time among them) and the
// OCSF sample event, consumed by a worker killed (SIGKILL) between the
// objects of a batch and a second one: both tables hold every row exactly
// once, and the sample's row holds what gjson reads from the sample file.
func TestConsumeOCSF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	sample := filepath.Join(lakecheck.SamplesDir(t), "ocsf", "detection-event__guardduty__sumologic-docs.json")
	data, err := os.ReadFile(sample)
	if err != nil {
		t.Fatal(err)
	}
	want := lakecheck.ExpectedOCSF(sample, data)
	if len(want) != 1 {
		t.Fatalf("the OCSF sample event holds %d findings, want 1", len(want))
	}
	asff, ocsf := syntheticEvents(100, "mixed"), syntheticOCSFEvents(150, "mixed")
	var mixed [][]byte
	for i := range ocsf {
		mixed = append(mixed, ocsf[i])
		if i%3 != 2 && len(asff) > 0 {
			mixed, asff = append(mixed, asff[0]), asff[1:]
		}
	}
	mixed = append(mixed, asff...)
	e.publish(e.writeEvents(mixed), sample)

	first := e.consume("doomed", []string{"HUBLAKE_TEST_CRASH_AT=between-objects:3"}, "--flush-records", "40")
	if code := first.wait(t, 90*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("the first worker exited %d, want to be killed between the objects of a batch", code)
	}
	second := e.consume("survivor", nil, "--flush-records", "40")
	e.waitTables(db, map[string]int64{"findings": 100, "ocsf_findings": int64(len(ocsf) + 1)}, 90*time.Second)
	for _, table := range []string{"findings", "ocsf_findings"} {
		if rows, sources := e.countTable(db, table); rows != sources {
			t.Errorf("%s: rows %d != distinct sources %d: some record landed twice", table, rows, sources)
		}
	}
	changed := lakecheck.Int(t, db, "SELECT count(*) FROM "+lakecheck.TableGlob(e.lakeDir(), "ocsf_findings")+" WHERE status = 'Suppressed' AND comment LIKE 'accepted risk%'")
	if changed != int64(len(ocsf)/5) {
		t.Errorf("%d rows carry an analyst's change, want %d", changed, len(ocsf)/5)
	}

	// The sample's row, column by column (source names the record here).
	var cols []string
	for _, c := range lakecheck.OCSFColumns {
		if c != "source" {
			cols = append(cols, c)
		}
	}
	rows := lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(e.lakeDir(), "ocsf_findings")+" WHERE metadata_uid = ?", want[0]["metadata_uid"])
	if len(rows) != 1 {
		t.Fatalf("the sample's finding: %d rows, want 1", len(rows))
	}
	lakecheck.CompareRow(t, "OCSF sample event", rows[0], want[0], cols)
	if src := rows[0]["source"].(string); !strings.HasPrefix(src, "kinesis:"+e.name+"/shardId-") {
		t.Errorf("source = %q, want kinesis:%s/<shard>/<sequence>", src, e.name)
	}
	second.cmd.Process.Signal(syscall.SIGTERM)
	if code := second.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("consume exited %d after SIGTERM", code)
	}
}

// longWindow is a flush window no test run crosses the end of.
const longWindow = "8760h"

// TestConsumeSIGTERM: SIGTERM with records read but not yet flushed exits 0
// within the ECS stop timeout, having flushed and checkpointed them; a
// restart neither loses nor doubles anything. Then the same, but the worker
// dies during its shutdown flush (after uploading, before checkpointing)
// and the next one runs with different batch limits: the batch recorded as
// pending is rebuilt exactly, so no stale object is left behind.
func TestConsumeSIGTERM(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 2)
	db := lakecheck.Open(t)
	batch1 := syntheticEvents(200, "sigterm-1")
	e.publish(e.writeEvents(batch1))

	// A long window: nothing is flushed until SIGTERM. Windows are aligned
	// (to the hour for 1h), and the idle rule cuts a batch whose window has
	// closed: a year's window keeps a run that crosses a wall-clock hour
	// from flushing early (seen at 23:00 with 1h).
	p := e.consume("w1", nil, "--flush-window", longWindow)
	waitMetric(t, p, "hublake_records_total", float64(len(batch1)), 60*time.Second)
	if rows, _ := e.count(db); rows != 0 {
		t.Fatalf("%d rows before SIGTERM, want none yet", rows)
	}
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM, want 0", code)
	}
	if d := time.Since(start); d > 25*time.Second {
		t.Fatalf("took %s to stop, more than the ECS stop timeout allows", d)
	}
	if rows, sources := e.count(db); rows != int64(len(batch1)) || sources != rows {
		t.Fatalf("after SIGTERM: %d rows, %d sources; want %d", rows, sources, len(batch1))
	}

	// Crash in the middle of the shutdown flush, then restart with other limits.
	batch2 := syntheticEvents(150, "sigterm-2")
	e.publish(e.writeEvents(batch2))
	p = e.consume("w2", []string{"HUBLAKE_TEST_CRASH_AT=before-checkpoint"}, "--flush-window", longWindow)
	waitMetric(t, p, "hublake_records_total", float64(len(batch2)), 60*time.Second)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 128+int(syscall.SIGKILL) {
		t.Fatalf("exit %d, want the crash hook's SIGKILL during the shutdown flush", code)
	}
	batch3 := syntheticEvents(100, "sigterm-3")
	e.publish(e.writeEvents(batch3))
	p = e.consume("w3", nil, "--flush-records", "25")
	total := int64(len(batch1) + len(batch2) + len(batch3))
	e.waitRows(db, total, 90*time.Second)
	if rows, sources := e.count(db); rows != sources {
		t.Fatalf("rows %d != distinct sources %d", rows, sources)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM", code)
	}
}

// TestConsumeTwoWorkers: two workers with lease stealing share four shards;
// kill -9 one, the other takes its shards over, every row lands once.
func TestConsumeTwoWorkers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 4)
	db := lakecheck.Open(t)
	events := syntheticEvents(400, "two")
	e.publish(e.writeEvents(events[:200]))
	a := e.consume("a", nil, "--flush-records", "30")
	b := e.consume("b", nil, "--flush-records", "30")
	deadline := time.Now().Add(60 * time.Second)
	for a.metric("hublake_leases_held") < 1 || b.metric("hublake_leases_held") < 1 || a.metric("hublake_leases_held")+b.metric("hublake_leases_held") < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("leases: a holds %v, b holds %v; want both > 0 and 4 in all", a.metric("hublake_leases_held"), b.metric("hublake_leases_held"))
		}
		time.Sleep(500 * time.Millisecond)
	}
	_ = a.cmd.Process.Kill()
	a.wait(t, 10*time.Second)
	e.publish(e.writeEvents(events[200:]))
	e.waitRows(db, int64(len(events)), 120*time.Second)
	if rows, sources := e.count(db); rows != sources {
		t.Fatalf("rows %d != distinct sources %d", rows, sources)
	}
	if held := b.metric("hublake_leases_held"); held != 4 {
		t.Errorf("the survivor holds %v leases, want all 4", held)
	}
}

// TestConsumeShardSplit splits the shard while events flow: nothing is
// skipped, nothing doubled, and the parent is read to its end before its
// children.
func TestConsumeShardSplit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, 1)
	db := lakecheck.Open(t)
	events := syntheticEvents(300, "split")
	e.publish(e.writeEvents(events[:100]))
	p := e.consume("w", nil, "--flush-records", "30")
	waitMetric(t, p, "hublake_records_total", 50, 60*time.Second)

	ctx := context.Background()
	shards, err := e.kc.ListShards(ctx, &kinesis.ListShardsInput{StreamName: aws.String(e.name)})
	if err != nil {
		t.Fatal(err)
	}
	mid := new(big.Int).Rsh(new(big.Int).Lsh(big.NewInt(1), 128), 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 100; i < 200; i += 20 {
			e.publish(e.writeEvents(events[i : i+20]))
		}
	}()
	if _, err := e.kc.SplitShard(ctx, &kinesis.SplitShardInput{
		StreamName: aws.String(e.name), ShardToSplit: shards.Shards[0].ShardId, NewStartingHashKey: aws.String(mid.String()),
	}); err != nil {
		t.Fatalf("split shard: %v", err)
	}
	<-done
	e.publish(e.writeEvents(events[200:]))
	e.waitRows(db, int64(len(events)), 120*time.Second)
	if rows, sources := e.count(db); rows != sources {
		t.Fatalf("rows %d != distinct sources %d", rows, sources)
	}
	// Rows came from the parent and from both children.
	shardsSeen := lakecheck.Int(t, db, "SELECT count(DISTINCT split_part(source, '/', 2)) FROM "+lakecheck.TableGlob(e.lakeDir(), "findings"))
	if shardsSeen != 3 {
		t.Errorf("rows came from %d shards, want 3 (parent and two children)", shardsSeen)
	}
}

func waitMetric(t *testing.T, p *proc, name string, want float64, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for p.metric(name) < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %s, want %v", name, p.metric(name), timeout, want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
