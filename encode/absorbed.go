package encode

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hublake/hublake/lake"
)

// The writers' side of compaction's exactly-once argument (package compact
// has the whole of it), kept here so that every writer gets it: the stream
// consumer, backfill and anything else that writes through an Encoder.
//
// A compaction that replaces a batch object records the object's key first
// (lake.AbsorbedKey, a marker outside the table) and only then deletes it. The
// same batch can be written again at any later time — a zombie worker that
// lost its lease uploading late, a shard replayed from before its checkpoint,
// a backfill re-run over the same input — and it would write the same name
// with the same rows (or a superset of logical duplicates), which are
// already in a compacted object. So before creating an object, a writer
// checks for its marker and, if there is one, does not write it (its rows are
// in the lake). After committing it, the writer checks again: a marker that
// appeared meanwhile means a compaction absorbed the name while the object
// was being written. Such an object is a deletion like any other, and every
// deletion of an absorbed name keeps the delete grace (package compact, "The
// delete grace"): a reader may be listing the partition the compaction just
// replaced, and this key may be where it finds those rows. A writer does not
// know the grace of the compaction that wrote the marker, only the bound
// every compaction keeps (lake.MaxDeleteGrace), so it removes its object only
// when the marker is older than that; a younger marker, the usual case (it
// appeared while the object was written), leaves the object to compaction:
// the absorbing run deletes that key its grace after the marker, and any
// later run deletes it once the marker is older than its grace. What slips
// through otherwise — a writer killed between its commit and the second
// check — is removed the same way by the next compaction.
//
// Cost per object written: one Stat of the marker before and one after (a
// HEAD each on S3; BENCHMARKS.md has the measured figures), and nothing else
// unless a marker exists.

// AbsorbedCounts counts what the writers' marker checks did. The zero value
// is ready; a nil *AbsorbedCounts counts nothing.
type AbsorbedCounts struct {
	// Skipped: objects not written because a compaction had absorbed their
	// name (their rows are in a compacted object).
	Skipped atomic.Int64
	// Removed: objects removed right after their commit because a
	// compaction had absorbed their name more than lake.MaxDeleteGrace before.
	Removed atomic.Int64
	// Left: objects committed while a compaction absorbed their name, left
	// for compaction to delete once the grace is over (see above).
	Left atomic.Int64
}

func (c *AbsorbedCounts) skipped() {
	if c != nil {
		c.Skipped.Add(1)
	}
}

func (c *AbsorbedCounts) removed() {
	if c != nil {
		c.Removed.Add(1)
	}
}

func (c *AbsorbedCounts) left() {
	if c != nil {
		c.Left.Add(1)
	}
}

// errAbsorbed is what createGuarded returns for an object that must not be
// written; the Encoder's writes turn it into "written, 0 bytes".
var errAbsorbed = errors.New("absorbed by a compaction")

// createGuarded creates the table object at key unless a compaction absorbed
// it (errAbsorbed), and returns a writer whose Commit checks again.
func createGuarded(ctx context.Context, store lake.Store, key string, counts *AbsorbedCounts) (lake.ObjectWriter, error) {
	_, done, err := lake.AbsorbedSince(ctx, store, key)
	if err != nil {
		return nil, err
	}
	if done {
		counts.skipped()
		return nil, errAbsorbed
	}
	obj, err := store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &guardedObject{ObjectWriter: obj, ctx: ctx, store: store, key: key, counts: counts}, nil
}

type guardedObject struct {
	lake.ObjectWriter
	ctx    context.Context
	store  lake.Store
	key    string
	counts *AbsorbedCounts
}

// Commit commits the object, then checks whether a compaction absorbed its
// name meanwhile: if the marker is older than lake.MaxDeleteGrace the object is
// removed, otherwise it is left for compaction (see above). An error of the
// second check fails the commit: the batch is written again, which is
// harmless.
func (g *guardedObject) Commit() error {
	if err := g.ObjectWriter.Commit(); err != nil {
		return err
	}
	since, done, err := lake.AbsorbedSince(g.ctx, g.store, g.key)
	if err != nil {
		return err
	}
	if !done {
		return nil
	}
	if time.Since(since) < lake.MaxDeleteGrace {
		g.counts.left()
		return nil
	}
	if err := g.store.Delete(g.ctx, g.key); err != nil {
		return fmt.Errorf("remove %s, absorbed by a compaction while it was written: %w", g.key, err)
	}
	g.counts.removed()
	return nil
}
