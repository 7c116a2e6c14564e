package stream

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	"github.com/awslabs/kinesis-aggregation/go/v2/deaggregator"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// poisonRecords are records the KCL's de-aggregator cannot handle, by name.
func poisonRecords(testing.TB) map[string][]byte { return hostile.KPLPoison() }

// KPLAggregate is a valid aggregate of the user records data.
func KPLAggregate(_ testing.TB, data ...[]byte) []byte { return hostile.KPLAggregate(data...) }

// TestKPLGuard: records the KCL would take for KPL aggregates and fail on
// are found; everything else (valid aggregates, JSON, a magic number with a
// wrong checksum) is left to the KCL. After the guard, the KCL's own
// de-aggregator neither fails, nor drops the page, nor panics.
func TestKPLGuard(t *testing.T) {
	t.Parallel()
	fine := map[string][]byte{
		"JSON":                   []byte(hostile.Imported("e", hostile.Time, hostile.Finding("f"))),
		"valid aggregate":        KPLAggregate(t, []byte(`{"a":1}`), []byte(`{"b":2}`)),
		"magic, wrong checksum":  append(append([]byte{}, hostile.KPLMagic...), bytes.Repeat([]byte("x"), 40)...),
		"magic only":             hostile.KPLMagic,
		"magic and a short body": append(append([]byte{}, hostile.KPLMagic...), 1, 2, 3),
	}
	for name, data := range fine {
		if p := units.KPLProblem(data); p != "" {
			t.Errorf("%s: %q, want it left to the KCL", name, p)
		}
	}
	poison := poisonRecords(t)
	for name, data := range poison {
		if p := units.KPLProblem(data); !strings.Contains(p, name) {
			t.Errorf("%s: problem %q", name, p)
		}
		// Without the guard the KCL loses the page, or dies.
		page := []types.Record{{Data: []byte(`{"good":1}`), SequenceNumber: aws.String("1")}, {Data: data, SequenceNumber: aws.String("2")}}
		func() {
			defer func() { _ = recover() }()
			out, err := deaggregator.DeaggregateRecords(page)
			if err == nil && len(out) == 2 {
				t.Errorf("%s: the de-aggregator copes without the guard; the guard is not needed for it", name)
			}
		}()
	}

	c := newTestShards("s", nil, &pipeline.Stats{}, pipeline.Policy{}, lease.NewMemory(nil))
	var page []types.Record
	var names []string
	seq := 0
	add := func(name string, data []byte) {
		seq++
		page = append(page, types.Record{Data: data, SequenceNumber: aws.String(fmt.Sprint(seq))})
		names = append(names, name)
	}
	for name, data := range fine {
		add(name, data)
	}
	for name, data := range poison {
		add(name, data)
	}
	c.guardRecords(page)
	out, err := deaggregator.DeaggregateRecords(page)
	if err != nil {
		t.Fatalf("after the guard, the de-aggregator fails: %v", err)
	}
	if len(out) != len(page)+1 { // the valid aggregate holds two
		t.Errorf("after the guard, %d records from a page of %d with one aggregate of two", len(out), len(page))
	}
	for i, r := range page {
		data, reason, ok := c.takePoisoned(aws.ToString(r.SequenceNumber), r.Data)
		_, isPoison := poison[names[i]]
		if ok != isPoison {
			t.Errorf("%s: taken aside %v, want %v", names[i], ok, isPoison)
			continue
		}
		if ok && (!bytes.Equal(data, poison[names[i]]) || reason == "") {
			t.Errorf("%s: kept %q (%s), want the original bytes and a reason", names[i], data, reason)
		}
	}
}

// TestConsumerHostileStreamAndShard drives the stream source as the KCL
// does, with a stream name and a shard id full of path syntax and a page
// with records the KCL's de-aggregator cannot handle (passed through the
// guard and the real de-aggregator): every record lands, as rows or a dead
// letter with its original bytes, in objects whose names stay in the lake.
func TestConsumerHostileStreamAndShard(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "lake")
	store, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	stats := &pipeline.Stats{}
	const stream, shard = "../../_evil/..stream", "shardId-../../../x"
	ml := lease.NewMemory(nil)
	c := newTestShards(stream, store, stats, pipeline.Policy{MaxUnits: 3}, ml)
	sp := c.CreateProcessor()
	sp.Initialize(&kcl.InitializationInput{ShardId: shard})

	arrival := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	var page []types.Record
	poison := poisonRecords(t)
	var poisonSeqs []string
	add := func(data []byte) string {
		seq := fmt.Sprintf("4968%020d", len(page)+1)
		page = append(page, types.Record{Data: data, SequenceNumber: aws.String(seq), ApproximateArrivalTimestamp: aws.Time(arrival), PartitionKey: aws.String("pk")})
		return seq
	}
	add([]byte(hostile.Imported("e1", hostile.Time, hostile.Finding("f1"))))
	for _, name := range []string{"body does not decode", "no valid partition key index", "without user records"} {
		poisonSeqs = append(poisonSeqs, add(poison[name]))
	}
	add(KPLAggregate(t, []byte(hostile.Imported("e2", hostile.Time, hostile.Finding("f2"))), []byte(hostile.Imported("e3", hostile.Time, hostile.Finding("f3")))))
	add([]byte(hostile.Imported("e4", hostile.Time, hostile.Finding("f4"))))

	c.guardRecords(page) // what GuardAggregated does to a GetRecords response
	records, err := deaggregator.DeaggregateRecords(page)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sp.ProcessRecords(&kcl.ProcessRecordsInput{Records: records, MillisBehindLatest: 0})
		sp.Shutdown(&kcl.ShutdownInput{ShutdownReason: kcl.TERMINATE})
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		// A flush that fails whatever the store does is retried forever:
		// the shard is stuck (an object name the store refuses, say).
		c.cancelFlush()
		<-done
		t.Fatal("the shard never got its batches stored")
	}

	if got := stats.Rows(schema.Findings).Load(); got != 4 {
		t.Errorf("%d findings, want 4 (two plain, two from the valid aggregate)", got)
	}
	dead := lakecheck.DeadLetters(t, root)
	if len(dead) != len(poisonSeqs) {
		t.Fatalf("%d dead letters, want %d: %+v", len(dead), len(poisonSeqs), dead)
	}
	for _, d := range dead {
		ok := false
		for _, data := range poison {
			ok = ok || bytes.Equal(d.Data, data)
		}
		if !ok || !strings.Contains(d.Reason, "KPL aggregated record") || !d.Base64 {
			t.Errorf("dead letter %q: %q, want a KPL reason and the original bytes", d.Reason, d.Data)
		}
		if !strings.HasPrefix(d.Source, "kinesis:"+stream+"/"+shard+"/") {
			t.Errorf("dead letter source %q", d.Source)
		}
	}
	if cps := ml.Checkpoints(shard); len(cps) == 0 || cps[len(cps)-1] != chk.ShardEnd {
		t.Errorf("checkpoints %q, want SHARD_END last", cps)
	}
	var objects int
	err = filepath.Walk(parent, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		objects++
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "..") || layout.CheckKey(filepath.ToSlash(rel)) != nil {
			t.Errorf("object outside the lake's layout: %s", p)
		}
		if name := filepath.Base(p); !strings.HasPrefix(name, layout.SafeNamePart(stream)+"-"+layout.SafeNamePart(shard)+"-4968") {
			t.Errorf("object name %q", name)
		}
		return nil
	})
	if err != nil || objects == 0 {
		t.Fatalf("walk: %v, %d objects", err, objects)
	}
}
