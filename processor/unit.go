// Package processor is hublake's pipeline and its two sources.
//
// A source (files in backfill, a Kinesis shard in the consumer) hands units to
// a batcher: one unit is one Kinesis record or one JSON value of a file. The
// batcher decodes each unit (schema.Decode), drops duplicates, groups rows by
// (table, dt), cuts batches on input-derived quantities only, and flushes a
// batch by asking the sinks to write one object per (table, dt) and then
// telling the source's progress that the batch is durable. The same batcher
// serves both sources; only naming and progress differ.
package processor

import (
	"context"

	"github.com/hublake/hublake/schema"
)

// unit is one input record with its position.
type unit struct {
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

// batchInfo describes a batch to the source's progress.
type batchInfo struct {
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
type progress interface {
	Begin(ctx context.Context, b batchInfo) error
	Done(ctx context.Context, b batchInfo) error
}

// namer names a batch from its first and last unit.
type namer func(first, last *unit) string
