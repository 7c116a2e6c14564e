// Package pipeline is the path from units to durable batches, the same for
// both sources (files in backfill, Kinesis shards in the consumer): a
// Batcher decodes each unit (schema.Decode, on several cores in input order
// when the source can read ahead: ordered.go), drops duplicates (dedup.go),
// groups rows by (table, dt), cuts batches on input-derived quantities only
// (policy.go, which also holds the memory budget), and flushes a batch by
// having the encoder write one object per (table, dt), then telling the
// source's Progress that the batch is durable. It counts what it does in
// Stats. It knows neither AWS nor a store: only schema and encode.
package pipeline

import (
	"context"

	"github.com/hublake/hublake/schema"
)

// Unit is one input record with its position.
type Unit struct {
	// Data is the unit's bytes. The batcher keeps them (rows point into them)
	// until the batch is flushed: the source must not reuse them.
	Data []byte
	// Origin is the decoding context (source column, record time, date bound).
	Origin schema.Origin
	// Pos is the unit's position in its source partition: the sequence number
	// in a shard, the decimal byte offset in a file. Batch names use it.
	Pos string
	// Offset is, for files, the unit's byte offset (Pos is its text).
	Offset int64
	// Digest is, for files, the hex SHA-256 of the input from its start to the
	// end of this unit; a batch's name uses its last unit's digest.
	Digest string
	// Reject, when set, is why the source already knows the unit cannot be
	// decoded (truncated input, too large); it becomes a dead letter as is.
	Reject string
}

// BatchInfo describes a batch to the source's progress.
type BatchInfo struct {
	// Name is the object name every object of the batch gets.
	Name string
	// First and Last are the positions of the batch's first and last unit.
	First, Last string
	// Units is the number of units in the batch.
	Units int
}

// Progress is the source's side of a flush. Begin is called before the
// first object of a batch is written (the stream records the batch's extent
// there), Done after every object is durable (the stream checkpoints Last).
// An error from either stops the flush; the batch is kept.
type Progress interface {
	Begin(ctx context.Context, b BatchInfo) error
	Done(ctx context.Context, b BatchInfo) error
}

// Namer names a batch from its first and last unit.
type Namer func(first, last *Unit) string
