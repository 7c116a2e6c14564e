package pipeline

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hublake/hublake/schema"
)

// Stats are the pipeline's counters, shared by every batcher of a process
// and safe for concurrent use. cmd/hublake exports them as metrics and prints
// them in summaries; the pipeline itself only adds.
type Stats struct {
	Inputs       atomic.Int64 // backfill: inputs (files, objects) read
	InputsFailed atomic.Int64 // backfill: inputs not read to their end (see InputError)
	Units        atomic.Int64 // input units read
	BytesIn      atomic.Int64 // input bytes of those units
	Duplicates   atomic.Int64 // rows dropped as duplicates
	DeadLetters  atomic.Int64 // dead letters written
	Unreadable   atomic.Int64 // values of the wrong JSON type, kept as NULL
	Objects      atomic.Int64 // objects written (Parquet and dead letters)
	BytesOut     atomic.Int64 // bytes of those objects
	Batches      atomic.Int64 // batches flushed
	FlushNanos   atomic.Int64 // time spent flushing
	// CheckpointFailures counts checkpoint writes that failed, lost leases
	// included (the stream only).
	CheckpointFailures atomic.Int64
	// StoreErrors counts batch writes the store refused after the SDK's own
	// retries: the batch is kept and written again (the stream's shard waits
	// meanwhile; backfill gives up on the input).
	StoreErrors atomic.Int64
	// StoreRetries counts S3 requests the AWS SDK retried (throttling, 5xx,
	// dropped connections); cmd/hublake counts them with awsconf.CountAttempts.
	StoreRetries atomic.Int64
	// KinesisThrottles counts Kinesis requests refused for throttling
	// (GetRecords' ProvisionedThroughputExceeded, ListShards'
	// LimitExceeded), the same way.
	KinesisThrottles atomic.Int64
	OnFlushDuration  func(time.Duration)

	// rows are the rows written, per table (Rows).
	rowsOnce sync.Once
	rows     []atomic.Int64
}

// Rows returns the counter of the rows written into table t.
func (s *Stats) Rows(t schema.AnyTable) *atomic.Int64 {
	s.rowsOnce.Do(func() { s.rows = make([]atomic.Int64, len(schema.Tables())) })
	return &s.rows[t.Index()]
}
