// Package stream is the Kinesis consumer: the KCL worker's configuration,
// run and shutdown (Consumer), the record processor of each shard lease that
// feeds the pipeline and checkpoints a batch once it is durable (shard.go),
// and the guard that keeps KPL records the KCL cannot de-aggregate out of
// its way (kpl.go). The lease table it runs on is package lease's.
package stream

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/kinesis"
	kclcfg "github.com/vmware/vmware-go-kcl-v2/clientlibrary/config"
	"github.com/vmware/vmware-go-kcl-v2/clientlibrary/worker"
	kcllog "github.com/vmware/vmware-go-kcl-v2/logger"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/lease"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// Consumer is the stream consumer: a KCL worker whose shard leases live in
// DynamoDB (package lease), one record processor per lease (shard.go)
// feeding a pipeline.Batcher, and the shutdown sequence. New + Run is all a
// caller needs; cancelling Run's context is the stop signal.
//
// One Kinesis record's path: the KCL's polling shard consumer calls
// shardProcessor.ProcessRecords (shard.go) → pipeline.Batcher.Add →
// schema.Decode → dedup and rows per (table, dt) → a cut (pipeline/policy.go)
// → Batcher.Flush: lease.Table.SetPending (the extent) → the encoder writes
// an object per partition (encode/encoder.go) → objstore.Store Create/Commit
// (objstore/dirlake, objstore/s3lake) → lease.Table.Checkpoint.
type Consumer struct {
	cfg    Config
	kcfg   *kclcfg.KinesisClientLibConfiguration
	kc     *kinesis.Client
	leases *lease.Table
	shards *shards
}

// Config configures a Consumer. Zero durations take the Default*
// values below.
type Config struct {
	Stream string // the Kinesis stream
	App    string // KCL application name; it names the DynamoDB lease table
	// WorkerID is this worker's unique id.
	WorkerID string
	// AWS is the process's one AWS configuration (awsconf.Load).
	AWS              aws.Config
	KinesisEndpoint  string // local stacks
	DynamoDBEndpoint string

	// InitialPosition is where a shard without a checkpoint starts:
	// TRIM_HORIZON (default), LATEST or AT_TIMESTAMP (InitialTimestamp).
	InitialPosition  string
	InitialTimestamp time.Time

	Policy pipeline.Policy
	Encode encode.Options
	Store  objstore.Store
	Stats  *pipeline.Stats
	Logger *slog.Logger
	// Observer receives what the pipeline's counters cannot say (per-shard
	// lag, released shards); nil: none.
	Observer Observer

	ShardSync       time.Duration // between shard syncs; at most one new lease per sync
	LeaseDuration   time.Duration // a worker that stops renewing loses its shards after this
	LeaseStealing   bool          // balance shards across workers
	LeaseSync       time.Duration // between lease table syncs for stealing
	MaxLeases       int           // 0: no limit
	EnhancedFanOut  bool          // SubscribeToShard instead of polling (untested)
	ShutdownTimeout time.Duration // how long Run waits for batches after ctx ends

	// CrashHook is for tests: the batcher calls it at named flush points.
	CrashHook func(string)
}

// Defaults of the stream's settings; the consume command's flags take
// theirs from these.
const (
	DefaultShardSync       = 10 * time.Second
	DefaultLeaseDuration   = 20 * time.Second
	DefaultLeaseSync       = 30 * time.Second
	DefaultShutdownTimeout = 20 * time.Second
	// DefaultInitialPosition is where a shard without a checkpoint starts
	// when Config.InitialPosition is empty.
	DefaultInitialPosition = "TRIM_HORIZON"
)

// Observer is told what only the stream knows, for metrics.
type Observer interface {
	// ShardBehind reports MillisBehindLatest of a shard after each read.
	ShardBehind(shard string, millis int64)
	// ShardReleased reports that this worker stopped processing a shard.
	ShardReleased(shard string)
}

type noObserver struct{}

func (noObserver) ShardBehind(string, int64) {}
func (noObserver) ShardReleased(string)      {}

// New builds the consumer: the KCL configuration, the Kinesis client
// (with the KPL guard), the lease table and the processors' factory.
func New(cfg Config) (*Consumer, error) {
	if cfg.Stream == "" || cfg.App == "" || cfg.WorkerID == "" {
		return nil, errors.New("stream consumer: stream, app and worker id are required")
	}
	if cfg.Store == nil {
		return nil, errors.New("stream consumer: no store")
	}
	if cfg.AWS.Region == "" {
		return nil, errors.New("stream consumer: no AWS region")
	}
	if cfg.Stats == nil {
		cfg.Stats = &pipeline.Stats{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	cfg.ShardSync = orDefault(cfg.ShardSync, DefaultShardSync)
	cfg.LeaseDuration = orDefault(cfg.LeaseDuration, DefaultLeaseDuration)
	cfg.LeaseSync = orDefault(cfg.LeaseSync, DefaultLeaseSync)
	cfg.ShutdownTimeout = orDefault(cfg.ShutdownTimeout, DefaultShutdownTimeout)
	if cfg.Policy.Window == 0 {
		cfg.Policy.Window = pipeline.DefaultStreamWindow
	}
	kcfg, err := kclConfig(&cfg)
	if err != nil {
		return nil, err
	}
	st := &Consumer{cfg: cfg, kcfg: kcfg}
	db := dynamodb.NewFromConfig(cfg.AWS, func(o *dynamodb.Options) {
		if cfg.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.DynamoDBEndpoint)
		}
	})
	st.shards = newShards(cfg.Stream, cfg.Policy, encode.New(cfg.Store, cfg.Encode), cfg.Stats, cfg.Logger, cfg.Observer, nil)
	// The lease table tells the shards' processors when a lease ends.
	st.leases = lease.NewTable(db, kcfg, cfg.Logger, st.shards.leaseEnded)
	st.shards.leases = st.leases
	if cfg.CrashHook != nil {
		st.shards.crash = cfg.CrashHook
	}
	// The KCL reads through this client; the guard keeps records it cannot
	// de-aggregate from costing the page they came in (or a panic).
	st.kc = kinesis.NewFromConfig(cfg.AWS, func(o *kinesis.Options) {
		if cfg.KinesisEndpoint != "" {
			o.BaseEndpoint = aws.String(cfg.KinesisEndpoint)
		}
	}, st.shards.guardAggregated)
	return st, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Leases returns the number of shards this worker is processing.
func (st *Consumer) Leases() int { return st.shards.count() }

// Buffered returns the records read but not yet durable, over all shards.
func (st *Consumer) Buffered() int64 { return st.shards.buffered() }

// Run consumes the stream until ctx ends, then stops taking records,
// flushes and checkpoints what the shards hold, and returns within
// ShutdownTimeout. started is called once the worker runs (readiness).
func (st *Consumer) Run(ctx context.Context, started func()) error {
	w := worker.NewWorker(st.shards, st.kcfg).WithKinesis(st.kc).WithCheckpointer(st.leases)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start the KCL worker: %w", err)
	}
	if started != nil {
		started()
	}
	log := st.cfg.Logger
	<-ctx.Done()
	start := time.Now()
	log.Info("stopping: no new records; flushing and checkpointing the shards' batches", "timeout", st.cfg.ShutdownTimeout.String())
	st.shards.stop()
	// The KCL's Shutdown waits for every shard consumer, and one waiting for
	// a parent shard never returns: do not wait for it, wait for the batches.
	go w.Shutdown()
	waitCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), st.cfg.ShutdownTimeout)
	defer cancel()
	clean := st.shards.wait(waitCtx)
	s := st.cfg.Stats
	log.Info("stopped", "clean", clean, "seconds", time.Since(start).Seconds(),
		"records", s.Units.Load(), "findings", s.Rows(schema.Findings).Load(), "dead_letters", s.DeadLetters.Load())
	return nil
}

// kclConfig is the KCL worker's configuration.
func kclConfig(cfg *Config) (*kclcfg.KinesisClientLibConfiguration, error) {
	creds := cfg.AWS.Credentials
	k := kclcfg.NewKinesisClientLibConfigWithCredentials(cfg.App, cfg.Stream, cfg.AWS.Region, cfg.WorkerID, creds, creds).
		WithTableName(cfg.App).
		WithCallProcessRecordsEvenForEmptyRecordList(true).
		WithShardSyncIntervalMillis(int(cfg.ShardSync.Milliseconds())).
		WithFailoverTimeMillis(int(cfg.LeaseDuration.Milliseconds())).
		WithLeaseRefreshWaitTime(int(cfg.LeaseDuration.Milliseconds() / 4)).
		WithLeaseStealing(cfg.LeaseStealing).
		WithLeaseSyncingIntervalMillis(int(cfg.LeaseSync.Milliseconds())).
		WithIdleTimeBetweenReadsInMillis(1000).
		WithMaxRecords(10000).
		WithLogger(kclLogger{log: cfg.Logger.With("component", "kcl")})
	// Children of a split or merged shard start once their parent is
	// checkpointed at SHARD_END; look for that every 2 s, not 10 s.
	k.ParentShardPollIntervalMillis = 2000
	// A worker that claims a shard (lease stealing) takes it within a few
	// seconds of its owner giving it up; a claim left by a worker that died
	// in between must not keep the shard from everyone else for the KCL's
	// default two minutes: it expires two lease durations after the lease.
	k.LeaseStealingClaimTimeoutMillis = int(2 * cfg.LeaseDuration.Milliseconds())
	if cfg.MaxLeases > 0 {
		k = k.WithMaxLeasesForWorker(cfg.MaxLeases)
	}
	switch cfg.InitialPosition {
	case "", DefaultInitialPosition:
		k = k.WithInitialPositionInStream(kclcfg.TRIM_HORIZON)
	case "LATEST":
		k = k.WithInitialPositionInStream(kclcfg.LATEST)
	case "AT_TIMESTAMP":
		if cfg.InitialTimestamp.IsZero() {
			return nil, errors.New("AT_TIMESTAMP needs an initial timestamp")
		}
		t := cfg.InitialTimestamp
		k = k.WithTimestampAtInitialPositionInStream(&t)
	default:
		return nil, fmt.Errorf("unknown initial position %q", cfg.InitialPosition)
	}
	if cfg.EnhancedFanOut {
		k = k.WithEnhancedFanOutConsumer(true)
	}
	return k, nil
}

// kclLogger routes the KCL's logging to slog. Its Info level is chatty
// (e.g. its own 5 calls/s/shard limiter) and goes to debug.
type kclLogger struct{ log *slog.Logger }

func (l kclLogger) Debugf(f string, a ...any) { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l kclLogger) Infof(f string, a ...any)  { l.log.Debug(fmt.Sprintf(f, a...)) }
func (l kclLogger) Warnf(f string, a ...any)  { l.log.Info(fmt.Sprintf(f, a...)) }
func (l kclLogger) Errorf(f string, a ...any) { l.log.Error(fmt.Sprintf(f, a...)) }
func (l kclLogger) Fatalf(f string, a ...any) {
	l.log.Error(fmt.Sprintf(f, a...))
	os.Exit(1)
}
func (l kclLogger) Panicf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (l kclLogger) WithFields(fields kcllog.Fields) kcllog.Logger {
	args := make([]any, 0, 2*len(fields))
	for k, v := range fields {
		args = append(args, k, v)
	}
	return kclLogger{log: l.log.With(args...)}
}
