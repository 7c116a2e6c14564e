package files

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/units"
)

// The file source: backfill reads files (local, S3 or stdin), splits each
// into units and runs one batcher per file, several files at a time. A file
// is a source partition: dedup and batch cuts depend only on its bytes, so the
// output is the same whatever the number of workers. Object names carry the
// digest of the file's bytes up to the end of the batch and the batch's first
// byte offset (a path is not an identity: files get renamed, and stdin has
// none), so a re-run overwrites the same objects.

// BackfillOptions configure Backfill.
type BackfillOptions struct {
	Policy  pipeline.Policy
	Encode  encode.Options
	Store   objstore.Store
	Workers int // default GOMAXPROCS
	// Decoders is how many goroutines decode the units of each input
	// (default GOMAXPROCS): the output does not depend on it (see
	// orderedDecode); 1 decodes on the input's own goroutine.
	Decoders int
	// flushSlots bound the objects encoded at once over all inputs
	// (GOMAXPROCS of them): a batch's objects are written side by side.
	flushSlots *semaphore.Weighted
	Stats      *pipeline.Stats
	// NotAfter bounds partition dates (default: now plus one day).
	NotAfter time.Time
	// BytesRead is called with the input bytes read so far (progress).
	BytesRead func(n int64)
	// Part takes only this part's share of the inputs (the zero Part takes
	// them all).
	Part Part
	// LookAhead bounds the inputs listed ahead of the workers (default
	// DefaultLookAhead).
	LookAhead int
	// Listed is called once the listing is complete, with the number of
	// inputs of this part and their total size (-1 when a size is unknown).
	Listed    func(inputs int64, bytes int64)
	Logger    *slog.Logger
	CrashHook func(string) // tests only
}

// Backfill reads every input through the pipeline into opts.Store, on
// opts.Workers workers. It returns an error when the listing failed, or an
// *InputError (FailedInputs lists them) for each input that could not be
// read to its end or whose rows the store refused: the other inputs are read
// all the same, and a failed input's rows up to its break are written. Bad
// records are dead letters, not errors.
//
// The inputs are consumed as they are listed (see Inputs): a window of at
// most opts.LookAhead inputs is read ahead, and the largest input of the
// window goes to the next free worker, so that long files start early and
// the workers finish together. A source that fits the window (the usual
// directory or prefix) is thus processed largest first, as if sorted; a
// larger one is sorted only within the window, the price of never holding
// its listing. The order changes no object: names and bytes depend on each
// input's content only.
func Backfill(ctx context.Context, inputs iter.Seq2[Input, error], opts BackfillOptions) error {
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if opts.Stats == nil {
		opts.Stats = &pipeline.Stats{}
	}
	if opts.Decoders <= 0 {
		opts.Decoders = runtime.GOMAXPROCS(0)
	}
	opts.flushSlots = pipeline.NewFlushSlots(runtime.GOMAXPROCS(0))
	if opts.NotAfter.IsZero() {
		opts.NotAfter = schema.NotAfter(time.Now())
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// A backfill is made durable once, at its end: a run that did not end is
	// run again and rewrites the same objects (objstore.DeferredSync: the
	// directory store's).
	dir, _ := opts.Store.(objstore.DeferredSync)
	if dir != nil {
		dir = dir.DeferSync()
		opts.Store = dir
	}
	var read atomic.Int64
	next := make(chan Input)
	var mu sync.Mutex
	var all []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enc := encode.New(opts.Store, opts.Encode)
			for in := range next {
				if err := backfillOne(ctx, in, enc, &opts, &read); err != nil {
					if ctx.Err() == nil { // stopped, not failed: the caller says so once
						opts.Stats.InputsFailed.Add(1)
						opts.Logger.Error("input failed", "input", in.Name, "err", err)
					}
					mu.Lock()
					all = append(all, &InputError{Name: in.Name, Err: err})
					mu.Unlock()
				}
			}
		}()
	}
	listErr := feed(ctx, inputs, next, &opts)
	close(next)
	wg.Wait()
	if listErr != nil {
		all = append(all, listErr)
	}
	if err := ctx.Err(); err != nil {
		all = append(all, err)
	}
	// What the inputs that succeeded wrote is kept, whatever the others did.
	if dir != nil {
		if err := dir.Sync(); err != nil {
			all = append(all, err)
		}
	}
	return errors.Join(all...)
}

// fileNamer names a file batch: the digest of the input up to the batch's
// end, and the batch's first byte offset.
func fileNamer(first, last *pipeline.Unit) string {
	return layout.FileBatchName(last.Digest, first.Offset)
}

// EachUnit calls fn with every unit of in, split as backfill splits it (every
// stream of the input: see eachStream). Units over maxUnit bytes are skipped
// and counted in the returned number.
func EachUnit(ctx context.Context, in Input, maxUnit int, fn func(offset int64, data []byte) error) (oversize int, err error) {
	err = eachStream(ctx, in, nil, nil, func(_ string, r io.Reader) error {
		broken, err := eachPiece(ctx, r, maxUnit, func(p units.Piece) error {
			if p.Oversize != nil {
				if _, err := io.Copy(io.Discard, p.Oversize); err != nil {
					return err
				}
				oversize++
				return nil
			}
			return fn(p.Offset, p.Data)
		})
		return cmp.Or(err, broken)
	})
	return oversize, err
}

// eachPiece cuts a stream of text into units (units.Splitter, units over
// maxUnit bytes handed out as streams) and calls fn with each, in input
// order, until the end of the stream, an error of fn, or the end of ctx,
// whose error it returns. A stream that could not be read to its end is
// broken: the read error is returned as broken once fn has had every unit
// before the break (an oversized unit the break cut short included, whose
// fn then failed with it).
func eachPiece(ctx context.Context, r io.Reader, maxUnit int, fn func(units.Piece) error) (broken, err error) {
	sp := units.NewSplitter(r, maxUnit)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p, err := sp.Next()
		if err == io.EOF { // the end; a read error that wraps io.EOF is not
			return nil, nil
		}
		if err != nil {
			if sp.ReadErr() != nil {
				return err, nil
			}
			return nil, err
		}
		if err := fn(p); err != nil {
			if p.Oversize != nil && sp.ReadErr() != nil {
				return sp.ReadErr(), nil
			}
			return nil, err
		}
	}
}

func backfillOne(ctx context.Context, in Input, enc *encode.Encoder, opts *BackfillOptions, read *atomic.Int64) error {
	return eachStream(ctx, in, read, opts.BytesRead, func(name string, r io.Reader) error {
		return backfillStream(ctx, name, r, enc, opts)
	})
}

// backfillStream runs one stream of JSON text (an input, or a member of an
// archive) through its own batcher. When the stream cannot be read to its
// end, the rows of the units before the break are written (they are
// correct) and the read error is returned: the input failed.
func backfillStream(ctx context.Context, name string, r io.Reader, enc *encode.Encoder, opts *BackfillOptions) error {
	b := pipeline.NewBatcher(opts.Policy, enc, fileNamer, pipeline.WithStats(opts.Stats), pipeline.WithCrashHook(opts.CrashHook), pipeline.WithFlushSlots(opts.flushSlots))
	limit := b.Policy().MaxUnitBytes
	prefix := "file:" + name + "#"
	var broken error
	produce := func(yield func(pipeline.Unit) error) (err error) {
		broken, err = eachPiece(ctx, r, int(limit), func(p units.Piece) error {
			source := prefix + strconv.FormatInt(p.Offset, 10)
			if p.Oversize != nil {
				return oversizeDeadLetter(ctx, enc, opts, source, p, limit)
			}
			return yield(pipeline.Unit{
				Data:   p.Data,
				Origin: schema.Origin{Source: source, NotAfter: opts.NotAfter},
				Pos:    layout.FileOffset(p.Offset),
				Offset: p.Offset,
				Digest: p.Digest,
				Reject: p.Reject,
			})
		})
		return err
	}
	if err := b.Feed(ctx, opts.Decoders, produce); err != nil {
		return err
	}
	if err := b.Flush(ctx); err != nil {
		return err
	}
	return broken
}

// oversizeDeadLetter streams a unit over the size limit to its own dead
// letter. The bytes pass through a temporary file so that the object name
// can carry the unit's own digest: two inputs that share a prefix but differ
// inside the oversized unit must not overwrite each other's dead letter.
func oversizeDeadLetter(ctx context.Context, enc *encode.Encoder, opts *BackfillOptions, source string, p units.Piece, limit int64) error {
	tmp, err := os.CreateTemp("", "hublake-oversize-*")
	if err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), p.Oversize)
	if err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("spool oversized unit: %w", err)
	}
	name := layout.FileBatchName(p.Digest, p.Offset) + "-" + hex.EncodeToString(h.Sum(nil))[:16]
	reason := fmt.Sprintf("unit of %d bytes exceeds the %d byte limit (--max-unit-bytes); not decoded", n, limit)
	written, err := enc.StreamDeadLetter(ctx, schema.UndatedPartition, name, source, reason, tmp)
	if err != nil {
		return err
	}
	opts.Stats.Units.Add(1)
	opts.Stats.BytesIn.Add(n)
	opts.Stats.DeadLetters.Add(1)
	opts.Stats.Objects.Add(1)
	opts.Stats.BytesOut.Add(written)
	return nil
}
