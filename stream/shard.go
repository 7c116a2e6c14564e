package stream

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	chk "github.com/vmware/vmware-go-kcl-v2/clientlibrary/checkpoint"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/awsconf"
	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// shards creates the per-shard record processors of a KCL worker and
// tracks them. It is the worker's IRecordProcessorFactory.
type shards struct {
	stream    string
	policy    pipeline.Policy
	enc       *encode.Encoder
	stats     *pipeline.Stats
	log       *slog.Logger
	observer  Observer
	leases    lease.Leases
	idleGrace time.Duration
	backoff   awsconf.Backoff
	crash     func(string)

	mu     sync.Mutex
	active map[string]*shardProcessor
	// poison holds the records GuardAggregated took out of the KCL's way,
	// by sequence number, until their shard's processor takes them.
	poison sync.Map

	stopping atomic.Bool
	// flushCtx bounds flushes; it is cancelled when shutdown runs out of time.
	flushCtx    context.Context
	cancelFlush context.CancelFunc
}

func newShards(stream string, p pipeline.Policy, enc *encode.Encoder, stats *pipeline.Stats, log *slog.Logger, obs Observer, leases lease.Leases) *shards {
	ctx, cancel := context.WithCancel(context.Background())
	return &shards{
		stream: stream, policy: p, enc: enc, stats: stats, log: log, observer: obs, leases: leases,
		idleGrace: defaultIdleGrace, backoff: awsconf.NewBackoff(30 * time.Second), crash: func(string) {},
		active: map[string]*shardProcessor{}, flushCtx: ctx, cancelFlush: cancel,
	}
}

// defaultIdleGrace is how long past a window's end an idle shard waits
// before flushing it, to absorb clock skew with Kinesis' arrival timestamps.
const defaultIdleGrace = 3 * time.Second

// CreateProcessor implements kcl.IRecordProcessorFactory.
func (c *shards) CreateProcessor() kcl.IRecordProcessor {
	return &shardProcessor{c: c, done: make(chan struct{})}
}

// leaseEnded drops the processor of shardID if it runs under token: the
// lease is gone (or its consumer ended), and whatever it buffered will be
// read again by the next owner from the last checkpoint. It is the lease
// table's lease.Ended.
func (c *shards) leaseEnded(shardID string, token int64) {
	c.mu.Lock()
	sp := c.active[shardID]
	if sp != nil && sp.token == token {
		delete(c.active, shardID)
	} else {
		sp = nil
	}
	c.mu.Unlock()
	c.observer.ShardReleased(shardID)
	if sp != nil && sp.lost.CompareAndSwap(false, true) {
		if sp.buffered.Load() > 0 {
			c.log.Warn("lease lost; dropping the shard's unflushed records", "shard", shardID, "records", sp.buffered.Load())
		}
		sp.finish()
	}
}

// count returns the shards this worker is processing now.
func (c *shards) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.active)
}

// buffered returns the records read but not yet durable, over all shards.
func (c *shards) buffered() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, sp := range c.active {
		n += sp.buffered.Load()
	}
	return n
}

// stop makes every processor stop taking records; the KCL then shuts each
// one down (Shutdown REQUESTED), which flushes and checkpoints.
func (c *shards) stop() { c.stopping.Store(true) }

// wait waits until every processor has finished (flushed and checkpointed,
// or dropped), or ctx ends; then it cancels any flush still running.
func (c *shards) wait(ctx context.Context) bool {
	defer c.cancelFlush()
	for {
		c.mu.Lock()
		var pending []*shardProcessor
		for _, sp := range c.active {
			pending = append(pending, sp)
		}
		c.mu.Unlock()
		if len(pending) == 0 {
			return true
		}
		select {
		case <-pending[0].done:
		case <-ctx.Done():
			return false
		}
	}
}

func (c *shards) register(sp *shardProcessor) {
	c.mu.Lock()
	old := c.active[sp.shardID]
	c.active[sp.shardID] = sp
	c.mu.Unlock()
	if old != nil && old.lost.CompareAndSwap(false, true) {
		old.finish()
	}
}

func (c *shards) deregister(sp *shardProcessor) {
	c.mu.Lock()
	if c.active[sp.shardID] == sp {
		delete(c.active, sp.shardID)
	}
	c.mu.Unlock()
	sp.finish()
}

// shardProcessor is the KCL record processor of one take of a shard lease: Kinesis records in, a batcher,
// pending extents and checkpoints out. What makes it exactly-once, together
// with the lease table (package lease):
//
//   - Batches are cut on input-derived quantities only (cuts, pipeline/policy.go), so
//     a replay of the same records cuts the same batches.
//   - Objects are named <stream>-<shard>-<first sequence number>
//     (layout.StreamBatchName), so a replayed batch overwrites its own
//     objects.
//   - Before uploading, the batch's extent is recorded in the lease row
//     (conditional on holding the lease under this processor's token, and
//     on the checkpoint being the one the batch follows); a new owner that
//     finds it rebuilds exactly that batch. This also covers the cuts that
//     are not input-derived: shutdown and shard end.
//   - The checkpoint is written after every object of the batch is durable,
//     under the same token, and never backwards; a failed condition means
//     the lease is gone: the buffer is dropped and the lease revoked.
//   - A batch that cannot be stored is retried, blocking the shard, never
//     skipped: the shard stops until the store takes it (or the worker
//     stops, and the next owner reads the records again).
//   - A processor serves one take of a lease (one token). The lease table
//     never renews a lease for it after an interruption; the shard is taken
//     again and gets a new processor, which reads the checkpoint and the
//     pending extent afresh.
type shardProcessor struct {
	c       *shards
	shardID string
	token   int64
	batcher *pipeline.Batcher
	ready   bool   // pending extent read
	after   string // the shard's checkpoint: the batch in progress follows it
	lost    atomic.Bool
	// buffered mirrors batcher.Pending() for other goroutines.
	buffered atomic.Int64
	once     sync.Once
	done     chan struct{}
}

func (sp *shardProcessor) finish() { sp.once.Do(func() { close(sp.done) }) }

func (sp *shardProcessor) log() *slog.Logger {
	return sp.c.log.With("shard", sp.shardID)
}

// Initialize implements kcl.IRecordProcessor. The KCL read the checkpoint
// just before (after taking the lease): the processor starts from it.
func (sp *shardProcessor) Initialize(in *kcl.InitializationInput) {
	sp.shardID = in.ShardId
	if in.ExtendedSequenceNumber != nil {
		sp.after = aws.ToString(in.ExtendedSequenceNumber.SequenceNumber)
	}
	c := sp.c
	token, ok := c.leases.Started(sp.shardID)
	if !ok {
		// No fresh take behind this processor: it must not write. Its
		// shard consumer's next renewal fails and ends it.
		sp.lost.Store(true)
		sp.finish()
		sp.log().Warn("no lease behind the new processor; the shard will be taken again")
		return
	}
	sp.token = token
	namer := func(first, _ *pipeline.Unit) string { return layout.StreamBatchName(c.stream, sp.shardID, first.Pos) }
	sp.batcher = pipeline.NewBatcher(c.policy, c.enc, namer, pipeline.WithProgress(sp), pipeline.WithStats(c.stats), pipeline.WithCrashHook(c.crash))
	c.register(sp)
	sp.log().Info("shard lease taken", "checkpoint", sp.after, "token", token)
}

// prepare reads the pending extent once, retrying until it can.
func (sp *shardProcessor) prepare() bool {
	for attempt := 1; !sp.ready; attempt++ {
		if sp.lost.Load() || sp.c.stopping.Load() {
			return false
		}
		p, ok, err := sp.c.leases.Pending(sp.c.flushCtx, sp.shardID)
		if err != nil {
			sp.log().Error("cannot read the pending batch; retrying", "err", err)
			sp.sleep(attempt, err)
			continue
		}
		if ok {
			sp.log().Info("rebuilding the batch a previous owner began to write", "first", p.First, "last", p.Last)
			sp.batcher.ForceCutAfter(p.Last)
		}
		sp.ready = true
	}
	return true
}

// ProcessRecords implements kcl.IRecordProcessor.
func (sp *shardProcessor) ProcessRecords(in *kcl.ProcessRecordsInput) {
	if sp.lost.Load() || sp.c.stopping.Load() || !sp.prepare() {
		return
	}
	c := sp.c
	for i := range in.Records {
		if c.stopping.Load() || sp.lost.Load() {
			// Not added, not checkpointed: the next owner reads them again.
			return
		}
		r := &in.Records[i]
		seq := aws.ToString(r.SequenceNumber)
		arrival := aws.ToTime(r.ApproximateArrivalTimestamp).UTC()
		if arrival.IsZero() {
			// Kinesis always sets it; a record without one is dated now
			// rather than refused (its date bound would be year 1).
			arrival = time.Now().UTC()
		}
		u := pipeline.Unit{
			Data: r.Data,
			Origin: schema.Origin{
				Source:     "kinesis:" + c.stream + "/" + sp.shardID + "/" + seq,
				RecordTime: arrival,
				NotAfter:   schema.NotAfter(arrival),
			},
			Pos: seq,
		}
		if data, reason, ok := c.takePoisoned(seq, r.Data); ok {
			u.Data, u.Reject = data, reason
		}
		if !sp.retry(func(ctx context.Context) error { return sp.batcher.Add(ctx, u) }) {
			return
		}
		sp.buffered.Store(int64(sp.batcher.Pending()))
	}
	c.observer.ShardBehind(sp.shardID, in.MillisBehindLatest)
	sp.retry(func(ctx context.Context) error {
		return sp.batcher.FlushIfIdle(ctx, time.Now(), c.idleGrace, in.MillisBehindLatest == 0)
	})
	sp.buffered.Store(int64(sp.batcher.Pending()))
}

// Shutdown implements kcl.IRecordProcessor.
func (sp *shardProcessor) Shutdown(in *kcl.ShutdownInput) {
	defer sp.c.deregister(sp)
	if sp.batcher == nil || sp.lost.Load() {
		return
	}
	switch in.ShutdownReason {
	case kcl.TERMINATE:
		// Shard end: every record has been delivered. Flush what is left and
		// mark the shard finished so its children can start.
		if !sp.prepare() {
			return
		}
		if !sp.retry(func(ctx context.Context) error { return sp.batcher.Flush(ctx) }) {
			return
		}
		if sp.retry(func(ctx context.Context) error { return sp.checkpoint(ctx, chk.ShardEnd) }) {
			sp.log().Info("shard ended; checkpointed SHARD_END")
		}
	case kcl.REQUESTED:
		if !sp.ready || sp.batcher.Pending() == 0 {
			return
		}
		var flushed bool
		ok := sp.retry(func(ctx context.Context) error {
			var err error
			flushed, err = sp.batcher.FlushOnStop(ctx)
			return err
		})
		if ok && !flushed {
			sp.log().Info("stopping before the rebuilt batch is complete; the next owner finishes it")
		}
	default: // ZOMBIE: another worker owns the shard now.
		sp.batcher.Discard()
	}
}

// Begin implements Progress: record the batch's extent in the lease row.
func (sp *shardProcessor) Begin(ctx context.Context, b pipeline.BatchInfo) error {
	return sp.c.leases.SetPending(ctx, sp.shardID, sp.token, lease.Extent{First: b.First, Last: b.Last, After: sp.after})
}

// Done implements Progress: checkpoint the batch's last record.
func (sp *shardProcessor) Done(ctx context.Context, b pipeline.BatchInfo) error {
	if err := sp.checkpoint(ctx, b.Last); err != nil {
		return err
	}
	sp.log().Debug("batch stored and checkpointed", "name", b.Name, "records", b.Units)
	return nil
}

func (sp *shardProcessor) checkpoint(ctx context.Context, cp string) error {
	if err := sp.c.leases.Checkpoint(ctx, sp.shardID, sp.token, cp); err != nil {
		sp.c.stats.CheckpointFailures.Add(1)
		return err
	}
	sp.after = cp
	return nil
}

// retry runs f until it succeeds, the lease is lost, or shutdown runs out of
// time. A lost lease drops the buffer. It reports whether f succeeded.
func (sp *shardProcessor) retry(f func(ctx context.Context) error) bool {
	for attempt := 1; ; attempt++ {
		err := f(sp.c.flushCtx)
		if err == nil {
			return true
		}
		if errors.Is(err, lease.ErrLost) || sp.lost.Load() {
			sp.drop()
			return false
		}
		if sp.c.flushCtx.Err() != nil {
			sp.log().Error("giving up on the shard's batch at shutdown; it will be read again", "err", err)
			return false
		}
		sp.log().Error("cannot store the batch; the shard waits and retries", "err", err, "attempt", attempt)
		sp.sleep(attempt, err)
	}
}

// drop discards the buffer and gives the lease up.
func (sp *shardProcessor) drop() {
	sp.batcher.Discard()
	sp.buffered.Store(0)
	// The lease table tells the shards the lease ended (leaseEnded), once:
	// here, or before, when it revoked the lease itself.
	sp.c.leases.Revoke(sp.shardID, sp.token, "the shard's processor lost its lease")
}

// sleep waits before attempt+1, or until shutdown runs out of time.
func (sp *shardProcessor) sleep(attempt int, err error) {
	sp.c.backoff.Sleep(sp.c.flushCtx, attempt, err)
}
