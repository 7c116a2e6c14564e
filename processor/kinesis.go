package processor

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kcl "github.com/vmware/vmware-go-kcl-v2/clientlibrary/interfaces"

	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/sinks"
)

// The stream source: a KCL record processor per shard feeds Kinesis records
// into a Batcher. What makes it exactly-once, together with Leases:
//
//   - Batches are cut on input-derived quantities only (records, input
//     bytes, ApproximateArrivalTimestamp windows; an idle shard's window is
//     cut once it is read to its tip and the clock is past the window), so a
//     replay of the same records cuts the same batches.
//   - Objects are named <stream>-<shard>-<first sequence number>, so a
//     replayed batch overwrites its own objects.
//   - Before uploading, the batch's extent is recorded in the lease row
//     (conditional on owning the lease); a new owner that finds it rebuilds
//     exactly that batch. This also covers the cuts that are not
//     input-derived: shutdown and shard end.
//   - The checkpoint is written after every object of the batch is durable,
//     conditional on owning the lease; a failed condition drops the buffer.
//   - A batch that cannot be stored is retried, blocking the shard, never
//     skipped: the shard stops until the store takes it (or the worker stops,
//     and the next owner reads the records again).

// ConsumerConfig configures the stream source.
type ConsumerConfig struct {
	Stream string
	Policy Policy
	Encode sinks.EncodeOptions
	Store  sinks.Store
	Stats  *Stats
	Logger *slog.Logger
	// IdleGrace is how long past a window's end an idle shard waits before
	// flushing it, to absorb clock skew with Kinesis' arrival timestamps.
	IdleGrace time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to store a
	// batch (defaults 1 s and 30 s).
	RetryMin, RetryMax time.Duration
	// OnBehind reports MillisBehindLatest per shard after each read.
	OnBehind func(shard string, millis int64)
	// CrashHook is for tests (see WithCrashHook).
	CrashHook func(string)
}

// PendingStore records the extent of the batch a shard is about to write
// (Leases keeps it in the lease row; benchmarks use an in-memory one).
type PendingStore interface {
	Pending(shardID string) (PendingExtent, bool, error)
	SetPending(shardID string, p PendingExtent) error
}

// Consumer creates the per-shard record processors of a KCL worker and
// tracks them. It is the worker's IRecordProcessorFactory.
type Consumer struct {
	cfg    ConsumerConfig
	leases PendingStore

	mu     sync.Mutex
	shards map[string]*shardProcessor
	// poison holds the records GuardAggregated took out of the KCL's way,
	// by sequence number, until their shard's processor takes them.
	poison sync.Map

	stopping atomic.Bool
	// flushCtx bounds flushes; it is cancelled when shutdown runs out of time.
	flushCtx    context.Context
	cancelFlush context.CancelFunc
}

// NewConsumer returns the factory for a worker's record processors. Call
// SetLeases before the worker starts.
func NewConsumer(cfg ConsumerConfig) *Consumer {
	if cfg.Stats == nil {
		cfg.Stats = &Stats{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.IdleGrace <= 0 {
		cfg.IdleGrace = 3 * time.Second
	}
	if cfg.RetryMin <= 0 {
		cfg.RetryMin = time.Second
	}
	if cfg.RetryMax < cfg.RetryMin {
		cfg.RetryMax = 30 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Consumer{cfg: cfg, shards: map[string]*shardProcessor{}, flushCtx: ctx, cancelFlush: cancel}
}

// SetBehind sets the callback that receives MillisBehindLatest per shard.
func (c *Consumer) SetBehind(f func(shard string, millis int64)) { c.cfg.OnBehind = f }

// SetLeases gives the consumer the lease table it records pending batches in.
func (c *Consumer) SetLeases(l PendingStore) { c.leases = l }

// CreateProcessor implements kcl.IRecordProcessorFactory.
func (c *Consumer) CreateProcessor() kcl.IRecordProcessor {
	return &shardProcessor{c: c, done: make(chan struct{})}
}

// LeaseLost drops the processor of shardID: the lease is gone (or its
// consumer ended), and whatever it buffered will be read again by the next
// owner from the last checkpoint.
func (c *Consumer) LeaseLost(shardID string) {
	c.mu.Lock()
	sp := c.shards[shardID]
	delete(c.shards, shardID)
	c.mu.Unlock()
	if sp != nil && sp.lost.CompareAndSwap(false, true) {
		c.cfg.Logger.Warn("lease lost; dropping the shard's unflushed records", "shard", shardID)
		sp.finish()
	}
}

// Shards returns the shards this worker is processing now.
func (c *Consumer) Shards() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.shards))
	for id := range c.shards {
		out = append(out, id)
	}
	return out
}

// Buffered returns the records read but not yet durable, over all shards.
func (c *Consumer) Buffered() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, sp := range c.shards {
		n += sp.buffered.Load()
	}
	return n
}

// Stop makes every processor stop taking records; the KCL then shuts each
// one down (Shutdown REQUESTED), which flushes and checkpoints.
func (c *Consumer) Stop() { c.stopping.Store(true) }

// Wait waits until every processor has finished (flushed and checkpointed,
// or dropped), or ctx ends; then it cancels any flush still running.
func (c *Consumer) Wait(ctx context.Context) bool {
	defer c.cancelFlush()
	for {
		c.mu.Lock()
		var pending []*shardProcessor
		for _, sp := range c.shards {
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

func (c *Consumer) register(sp *shardProcessor) {
	c.mu.Lock()
	old := c.shards[sp.shardID]
	c.shards[sp.shardID] = sp
	c.mu.Unlock()
	if old != nil && old.lost.CompareAndSwap(false, true) {
		old.finish()
	}
}

func (c *Consumer) deregister(sp *shardProcessor) {
	c.mu.Lock()
	if c.shards[sp.shardID] == sp {
		delete(c.shards, sp.shardID)
	}
	c.mu.Unlock()
	sp.finish()
}

// shardProcessor is the KCL record processor of one shard lease.
type shardProcessor struct {
	c       *Consumer
	shardID string
	batcher *Batcher
	ready   bool   // pending extent read
	after   string // the shard's checkpoint: the batch in progress follows it
	cp      kcl.IRecordProcessorCheckpointer
	lost    atomic.Bool
	// buffered mirrors batcher.Pending() for other goroutines.
	buffered atomic.Int64
	once     sync.Once
	done     chan struct{}
}

func (sp *shardProcessor) finish() { sp.once.Do(func() { close(sp.done) }) }

func (sp *shardProcessor) log() *slog.Logger {
	return sp.c.cfg.Logger.With("shard", sp.shardID)
}

// Initialize implements kcl.IRecordProcessor.
func (sp *shardProcessor) Initialize(in *kcl.InitializationInput) {
	sp.shardID = in.ShardId
	if in.ExtendedSequenceNumber != nil {
		sp.after = aws.ToString(in.ExtendedSequenceNumber.SequenceNumber)
	}
	c := sp.c
	namer := func(first, _ *Unit) string { return sinks.StreamBatchName(c.cfg.Stream, sp.shardID, first.Pos) }
	sp.batcher = NewBatcher(c.cfg.Policy, sinks.NewEncoder(c.cfg.Store, c.cfg.Encode), namer,
		WithProgress(sp), WithStats(c.cfg.Stats), WithCrashHook(c.cfg.CrashHook))
	c.register(sp)
	sp.log().Info("shard lease taken", "checkpoint", sp.after)
}

// prepare reads the pending extent once, retrying until it can.
func (sp *shardProcessor) prepare() bool {
	for !sp.ready {
		if sp.lost.Load() || sp.c.stopping.Load() {
			return false
		}
		p, ok, err := sp.c.leases.Pending(sp.shardID)
		if err != nil {
			sp.log().Error("cannot read the pending batch; retrying", "err", err)
			sp.sleep(1)
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
	sp.cp = in.Checkpointer
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
		u := Unit{
			Data: r.Data,
			Origin: schema.Origin{
				Source:     "kinesis:" + c.cfg.Stream + "/" + sp.shardID + "/" + seq,
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
	if c.cfg.OnBehind != nil {
		c.cfg.OnBehind(sp.shardID, in.MillisBehindLatest)
	}
	sp.retry(func(ctx context.Context) error {
		return sp.batcher.FlushIfIdle(ctx, time.Now(), c.cfg.IdleGrace, in.MillisBehindLatest == 0)
	})
	sp.buffered.Store(int64(sp.batcher.Pending()))
}

// Shutdown implements kcl.IRecordProcessor.
func (sp *shardProcessor) Shutdown(in *kcl.ShutdownInput) {
	defer sp.c.deregister(sp)
	if sp.batcher == nil || sp.lost.Load() {
		return
	}
	sp.cp = in.Checkpointer
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
		sp.retry(func(context.Context) error { return in.Checkpointer.Checkpoint(nil) })
		sp.log().Info("shard ended; checkpointed SHARD_END")
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
func (sp *shardProcessor) Begin(_ context.Context, b BatchInfo) error {
	return sp.c.leases.SetPending(sp.shardID, PendingExtent{First: b.First, Last: b.Last, After: sp.after})
}

// Done implements Progress: checkpoint the batch's last record.
func (sp *shardProcessor) Done(_ context.Context, b BatchInfo) error {
	last := b.Last
	if err := sp.cp.Checkpoint(&last); err != nil {
		return err
	}
	sp.after = last
	sp.log().Debug("batch stored and checkpointed", "name", b.Name, "records", b.Units)
	return nil
}

// retry runs f until it succeeds, the lease is lost, or shutdown runs out of
// time. A lost lease drops the buffer. It reports whether f succeeded.
func (sp *shardProcessor) retry(f func(ctx context.Context) error) bool {
	for attempt := 0; ; attempt++ {
		err := f(sp.c.flushCtx)
		if err == nil {
			return true
		}
		if errors.Is(err, ErrLeaseLost) || sp.lost.Load() {
			sp.batcher.Discard()
			sp.c.LeaseLost(sp.shardID)
			return false
		}
		if sp.c.flushCtx.Err() != nil {
			sp.log().Error("giving up on the shard's batch at shutdown; it will be read again", "err", err)
			return false
		}
		sp.log().Error("cannot store the batch; the shard waits and retries", "err", err, "attempt", attempt+1)
		sp.sleep(attempt)
	}
}

// sleep waits an exponentially growing, jittered time, or until shutdown
// runs out of time.
func (sp *shardProcessor) sleep(attempt int) {
	cfg := sp.c.cfg
	d := cfg.RetryMin << min(attempt, 10)
	if d > cfg.RetryMax || d <= 0 {
		d = cfg.RetryMax
	}
	d = d/2 + rand.N(d/2+1)
	select {
	case <-time.After(d):
	case <-sp.c.flushCtx.Done():
	}
}
