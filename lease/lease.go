// Package lease is the fence around the KCL (vmware-go-kcl-v2) that keeps a
// zombie worker from doing harm: the lease table in DynamoDB (Table: takes,
// renewals, tokens, revocation, pending extents, conditional checkpoints
// that never move back; the argument is on Table), the surface a shard's
// processor needs of it (Leases), and an in-memory Leases for the tests of
// the processors (Memory).
package lease

import (
	"context"
	"errors"
)

// Leases is what a shard's record processor needs of the lease table: the
// lease it runs under, the batch a previous owner began to write, and the
// writes that are conditional on still holding the lease. A write whose
// condition fails returns an error wrapping ErrLost and revokes the lease
// (its end is told to the table's Ended).
type Leases interface {
	// Started hands the lease just taken for shardID to a new processor and
	// returns its token; false when there is no such lease.
	Started(shardID string) (token int64, ok bool)
	// Pending returns the extent of the batch a previous owner recorded as
	// being written, if it follows the shard's current checkpoint.
	Pending(ctx context.Context, shardID string) (Extent, bool, error)
	// SetPending records the extent of the batch about to be written.
	SetPending(ctx context.Context, shardID string, token int64, p Extent) error
	// Checkpoint records cp as the shard's checkpoint and clears the
	// pending extent it completes.
	Checkpoint(ctx context.Context, shardID string, token int64, cp string) error
	// Revoke gives the lease up (the processor dropped its buffer). It is
	// idempotent.
	Revoke(shardID string, token int64, reason string)
}

// ErrLost means this worker no longer holds the shard's lease (a
// conditional write failed, or the lease expired or was revoked): it must
// stop processing the shard.
var ErrLost = errors.New("lease lost: the shard is owned by another worker")

var (
	_ Leases = (*Table)(nil)
	_ Leases = (*Memory)(nil)
)
