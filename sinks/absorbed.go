package sinks

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// The writers' side of compaction's exactly-once argument (package compact
// has the whole of it), kept here so that every writer gets it: the stream
// consumer, backfill and anything else that writes through an Encoder.
//
// A compaction that replaces a batch object records the object's key first
// (AbsorbedKey, a marker outside the table) and only then deletes it. The
// same batch can be written again at any later time — a zombie worker that
// lost its lease uploading late, a shard replayed from before its checkpoint,
// a backfill re-run over the same input — and it would write the same name
// with the same rows (or a superset of logical duplicates), which are
// already in a compacted object. So before creating an object, a writer
// checks for its marker and, if there is one, does not write it (its rows are
// in the lake); after committing it, the writer checks again and removes its
// object if the marker appeared meanwhile (a compaction ran between the
// check and the commit and may have listed the partition before the object
// was there). What slips through — a writer killed between its commit and
// the second check — is removed by the next compaction, which deletes any
// object whose name has a marker.
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
	// compaction absorbed their name meanwhile.
	Removed atomic.Int64
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

// errAbsorbed is what createGuarded returns for an object that must not be
// written; the Encoder's writes turn it into "written, 0 bytes".
var errAbsorbed = errors.New("absorbed by a compaction")

// absorbed reports whether a compaction absorbed the object at key.
func absorbed(ctx context.Context, store Store, key string) (bool, error) {
	marker, err := AbsorbedKey(key)
	if err != nil {
		return false, err
	}
	_, err = store.Stat(ctx, marker)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotExist):
		return false, nil
	}
	return false, fmt.Errorf("check whether %s was compacted: %w", key, err)
}

// createGuarded creates the table object at key unless a compaction absorbed
// it (errAbsorbed), and returns a writer whose Commit checks again.
func createGuarded(ctx context.Context, store Store, key string, counts *AbsorbedCounts) (ObjectWriter, error) {
	done, err := absorbed(ctx, store, key)
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
	ObjectWriter
	ctx    context.Context
	store  Store
	key    string
	counts *AbsorbedCounts
}

// Commit commits the object, then removes it again if a compaction absorbed
// its name meanwhile. An error of the second check fails the commit: the
// batch is written again, which is harmless.
func (g *guardedObject) Commit() error {
	if err := g.ObjectWriter.Commit(); err != nil {
		return err
	}
	done, err := absorbed(g.ctx, g.store, g.key)
	if err != nil {
		return err
	}
	if !done {
		return nil
	}
	if err := g.store.Delete(g.ctx, g.key); err != nil {
		return fmt.Errorf("remove %s, absorbed by a compaction while it was written: %w", g.key, err)
	}
	g.counts.removed()
	return nil
}
