package stream

import (
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kinesis/types"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
)

// newTestShards returns the record processors' factory of a stream over
// store, with an in-memory lease table.
func newTestShards(stream string, store objstore.Store, stats *pipeline.Stats, p pipeline.Policy, leases *lease.Memory) *shards {
	var enc *encode.Encoder
	if store != nil {
		enc = encode.New(store, encode.Options{})
	}
	return memShards(stream, p, enc, stats, leases)
}

// memShards returns the record processors' factory of a stream writing
// through enc, on an in-memory lease table that tells the processors when a
// lease ends, as the DynamoDB one does.
func memShards(stream string, p pipeline.Policy, enc *encode.Encoder, stats *pipeline.Stats, leases *lease.Memory) *shards {
	c := newShards(stream, p, enc, stats, slog.New(slog.DiscardHandler), noObserver{}, leases)
	leases.SetEnded(c.leaseEnded)
	return c
}

// released counts the shards the processors released.
type released struct {
	noObserver
	mu sync.Mutex
	n  map[string]int
}

func (r *released) ShardReleased(shard string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[shard]++
}

// TestLostLeaseEndsOnce: a lease lost at the table's side (its write's
// condition fails) is announced once, by the lease table, and the
// processor is dropped without writing its batch or a checkpoint.
func TestLostLeaseEndsOnce(t *testing.T) {
	const shard = "shardId-000000000000"
	root := t.TempDir()
	store, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	leases := lease.NewMemory(nil)
	obs := &released{n: map[string]int{}}
	c := newShards("s", pipeline.Policy{MaxUnits: 1}, encode.New(store, encode.Options{}), &pipeline.Stats{}, slog.New(slog.DiscardHandler), obs, leases)
	leases.SetEnded(c.leaseEnded)
	p := c.CreateProcessor()
	p.Initialize(&kcl.InitializationInput{ShardId: shard})
	if c.count() != 1 {
		t.Fatalf("%d shards processed, want 1", c.count())
	}
	leases.Lose(shard)
	now := time.Now()
	record := func(seq string) types.Record {
		return types.Record{Data: []byte(`{}`), SequenceNumber: aws.String(seq), ApproximateArrivalTimestamp: &now}
	}
	// The second record cuts the first one's batch, whose flush finds the
	// lease lost.
	p.ProcessRecords(&kcl.ProcessRecordsInput{Records: []types.Record{record("1"), record("2")}})
	if got := obs.n[shard]; got != 1 {
		t.Errorf("the lost lease was announced %d times, want once", got)
	}
	if c.count() != 0 || c.buffered() != 0 {
		t.Errorf("after the lost lease: %d shards processed, %d records buffered; want none", c.count(), c.buffered())
	}
	if cps := leases.Checkpoints(shard); len(cps) != 0 {
		t.Errorf("checkpoints written under the lost lease: %v", cps)
	}
	if objs, _ := filepath.Glob(filepath.Join(root, "*", "*", "*")); len(objs) != 0 {
		t.Errorf("objects written under the lost lease: %v", objs)
	}
}
