package pipeline

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/schema"
)

// Batcher is the pipeline of one source partition (one file, one shard):
// decode → dedup → batch per (table, dt) → flush. Where batches end is
// decided by cuts (policy.go); this file does what the cuts decide. It is
// not safe for concurrent use; each source partition has its own.
type Batcher struct {
	policy   Policy
	enc      *encode.Encoder
	name     Namer
	progress Progress
	stats    *Stats
	dedup    *dedupWindow
	crash    func(point string)

	slots   *semaphore.Weighted
	keyer   *schema.Keyer
	isNew   func(schema.DedupKey) bool // dedup.add
	scratch decoded
	cuts    cuts
	cur     batch
}

// batch is what has been read since the last flush.
type batch struct {
	first, last Unit
	// rows are each table's rows (schema.Tables' order).
	rows       []schema.Rows
	dead       []schema.DeadLetter
	dups       int64
	unreadable int64
}

// objectWrite writes one object of a batch and returns its size.
type objectWrite func(ctx context.Context) (int64, error)

// Option configures a batcher.
type Option func(*Batcher)

// WithProgress sets the source's progress hooks (default: none).
func WithProgress(p Progress) Option { return func(b *Batcher) { b.progress = p } }

// WithStats sets the counters to add to (default: private ones).
func WithStats(s *Stats) Option { return func(b *Batcher) { b.stats = s } }

// WithFlushSlots lets a flush write the batch's objects side by side, each
// holding one of slots while it is encoded and stored (several batchers may
// share the slots, which bound the encoders working at once, hence their
// memory). Without slots, a batch's objects are written one after another.
// The objects are the same either way.
func WithFlushSlots(slots *semaphore.Weighted) Option {
	return func(b *Batcher) { b.slots = slots }
}

// NewFlushSlots returns n flush slots (see WithFlushSlots).
func NewFlushSlots(n int) *semaphore.Weighted { return semaphore.NewWeighted(int64(n)) }

// WithCrashHook calls f at named points of a flush; tests use it to kill the
// process there ("before-upload", "between-objects", "before-checkpoint",
// "after-checkpoint").
func WithCrashHook(f func(point string)) Option { return func(b *Batcher) { b.crash = f } }

// NewBatcher returns the pipeline for one source partition.
func NewBatcher(p Policy, enc *encode.Encoder, name Namer, opts ...Option) *Batcher {
	b := &Batcher{policy: p.withDefaults(), enc: enc, name: name}
	for _, o := range opts {
		o(b)
	}
	if b.stats == nil {
		b.stats = &Stats{}
	}
	if b.progress == nil {
		b.progress = noProgress{}
	}
	if b.crash == nil {
		b.crash = func(string) {}
	}
	b.dedup = newDedupWindow(b.policy.DedupWindow)
	b.isNew = b.dedup.add
	b.keyer = schema.NewKeyer()
	b.cuts = cuts{policy: b.policy}
	b.reset()
	return b
}

type noProgress struct{}

func (noProgress) Begin(context.Context, BatchInfo) error { return nil }
func (noProgress) Done(context.Context, BatchInfo) error  { return nil }

// ForceCutAfter makes the current batch end exactly after the unit at pos,
// whatever the policy says, and forbids flushing it any earlier: the stream
// uses it to rebuild a batch that a previous owner of the shard recorded as
// pending before it crashed, so that the replay writes the same objects.
func (b *Batcher) ForceCutAfter(pos string) { b.cuts.force(pos) }

// Policy returns the batcher's policy, defaults applied.
func (b *Batcher) Policy() Policy { return b.policy }

// Pending returns the number of units in the current batch.
func (b *Batcher) Pending() int { return b.cuts.units }

// Add feeds one unit. It may flush the current batch first, when the cuts
// say the batch ends before u. An error means a flush failed: the batch
// (without u) is kept, and the caller must not go on (the stream retries the
// flush; backfill gives up on the input).
func (b *Batcher) Add(ctx context.Context, u Unit) error {
	decodeUnit(&u, b.policy.MaxUnitBytes, b.keyer, &b.scratch)
	return b.addDecoded(ctx, &u, &b.scratch)
}

// decoded is what one unit decodes to: its rows and dead letters, the time
// it counts at for windows, and the dedup key of each row (keys[i] are the
// keys of schema.Tables()[i]'s rows). It is a pure function of the unit
// (decodeUnit), so the file source computes it on several goroutines and
// hands the results to the batcher in input order.
type decoded struct {
	out  schema.Output
	t    time.Time
	keys [][]schema.DedupKey
}

// decodeUnit decodes u into d (reusing d's memory).
func decodeUnit(u *Unit, maxUnitBytes int64, k *schema.Keyer, d *decoded) {
	out := &d.out
	out.Reset()
	switch {
	case u.Reject != "":
		out.Dead = append(out.Dead, schema.DeadLetter{Source: u.Origin.Source, Reason: u.Reject, Data: u.Data, Time: u.Origin.RecordTime})
	case int64(len(u.Data)) > maxUnitBytes:
		out.Dead = append(out.Dead, schema.DeadLetter{
			Source: u.Origin.Source, Data: u.Data, Time: u.Origin.RecordTime,
			Reason: fmt.Sprintf("unit of %d bytes exceeds the %d byte limit (--max-unit-bytes)", len(u.Data), maxUnitBytes),
		})
	default:
		schema.Decode(u.Data, u.Origin, out)
	}
	d.t = unitTime(u, out)
	tables := schema.Tables()
	if d.keys == nil {
		d.keys = make([][]schema.DedupKey, len(tables))
	}
	for i, t := range tables {
		d.keys[i] = t.AppendKeys(k, out, d.keys[i][:0])
	}
}

// addDecoded is Add for a unit decoded already.
func (b *Batcher) addDecoded(ctx context.Context, u *Unit, d *decoded) error {
	size := int64(len(u.Data))
	if b.cuts.before(u.Pos, size, d.t) {
		if err := b.Flush(ctx); err != nil {
			return err
		}
	}
	b.stats.Units.Add(1)
	b.stats.BytesIn.Add(size)
	b.append(u, d)
	b.cuts.add(u.Pos, size, d.t)
	return nil
}

// FlushOnStop flushes on shutdown, unless the batch is being rebuilt to a
// forced end it has not reached: then nothing is written (the next owner of
// the shard rebuilds it) and false is returned.
func (b *Batcher) FlushOnStop(ctx context.Context) (bool, error) {
	if !b.cuts.onStop() {
		return b.cuts.units == 0, nil
	}
	return true, b.Flush(ctx)
}

// unitTime is the time a unit counts at for windows: its record time in the
// stream, else the time of its first row (schema.UnitTime).
func unitTime(u *Unit, out *schema.Output) time.Time {
	if !u.Origin.RecordTime.IsZero() {
		return u.Origin.RecordTime
	}
	return schema.UnitTime(out)
}

// FlushIfIdle flushes the current batch when the idle rule says so (see
// cuts.idle): its window has closed at now plus grace and the source has been
// read to its tip, or it is full.
func (b *Batcher) FlushIfIdle(ctx context.Context, now time.Time, grace time.Duration, atTip bool) error {
	if !b.cuts.idle(now, grace, atTip) {
		return nil
	}
	return b.Flush(ctx)
}

func (b *Batcher) append(u *Unit, d *decoded) {
	c := &b.cur
	out := &d.out
	if b.cuts.units == 0 {
		c.first = *u
		c.first.Data = nil
	}
	c.last = *u
	c.last.Data = nil
	c.unreadable += int64(out.Unreadable)
	for _, t := range schema.TakeOrder() {
		i := t.Index()
		c.dups += c.rows[i].Add(out, d.keys[i], b.isNew)
	}
	c.dead = append(c.dead, out.Dead...)
}

// Flush makes the current batch durable: one object per (table, dt), named
// after the batch's source position, then progress.Done. On error the batch
// is kept; a later Flush writes the same objects again.
func (b *Batcher) Flush(ctx context.Context) error {
	c := &b.cur
	if b.cuts.units == 0 {
		return nil
	}
	start := time.Now()
	info := BatchInfo{Name: b.name(&c.first, &c.last), First: c.first.Pos, Last: c.last.Pos, Units: b.cuts.units}
	if err := b.progress.Begin(ctx, info); err != nil {
		return fmt.Errorf("begin batch %s: %w", info.Name, err)
	}
	b.crash("before-upload")
	var writes []objectWrite
	for _, rows := range c.rows {
		for _, dt := range rows.Dates() {
			writes = append(writes, func(ctx context.Context) (int64, error) {
				return b.enc.WriteRows(ctx, rows, dt, info.Name)
			})
		}
	}
	dead := groupDead(c.dead, c.first.Origin.NotAfter)
	for _, dt := range sortedKeys(dead) {
		letters := dead[dt]
		writes = append(writes, func(ctx context.Context) (int64, error) {
			return b.enc.WriteDeadLetters(ctx, dt, info.Name, letters)
		})
	}
	objects, bytes, err := b.writeObjects(ctx, writes)
	if err != nil {
		return err
	}
	b.crash("before-checkpoint")
	if err := b.progress.Done(ctx, info); err != nil {
		return fmt.Errorf("complete batch %s: %w", info.Name, err)
	}
	b.crash("after-checkpoint")

	s := b.stats
	for _, rows := range c.rows {
		s.Rows(rows.Table()).Add(rows.Len())
	}
	s.DeadLetters.Add(int64(len(c.dead)))
	s.Duplicates.Add(c.dups)
	s.Unreadable.Add(c.unreadable)
	s.Objects.Add(objects)
	s.BytesOut.Add(bytes)
	s.Batches.Add(1)
	d := time.Since(start)
	s.FlushNanos.Add(int64(d))
	if s.OnFlushDuration != nil {
		s.OnFlushDuration(d)
	}
	b.cuts.flushed()
	b.reset()
	return nil
}

// writeObjects runs a batch's writes, side by side when the batcher has
// flush slots, and returns the objects and bytes written. On error it
// returns once no write is running any more, so that nothing of a failed
// flush is written after it (a retry writes the same objects again).
func (b *Batcher) writeObjects(ctx context.Context, writes []objectWrite) (objects, bytes int64, err error) {
	// wctx ends when the flush fails (or the caller's context does): the
	// writes still running then stop.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	done := func(n int64, werr error) error {
		mu.Lock()
		defer mu.Unlock()
		if werr != nil {
			// Not a shutdown, nor a write stopped by the failure of
			// another: the store refused the object.
			if wctx.Err() == nil {
				b.stats.StoreErrors.Add(1)
			}
			if err == nil {
				err = werr
			}
			return werr
		}
		if objects > 0 {
			b.crash("between-objects")
		}
		objects++
		bytes += n
		return nil
	}
	if b.slots == nil || len(writes) < 2 {
		for _, w := range writes {
			if done(w(ctx)) != nil {
				break
			}
		}
		return objects, bytes, err
	}
	var wg sync.WaitGroup
	for _, w := range writes {
		// A failed Acquire takes no slot; one that succeeds is given back
		// by its write, or here when the flush has failed meanwhile
		// (Acquire may succeed on a cancelled context).
		if b.slots.Acquire(wctx, 1) != nil {
			break
		}
		if wctx.Err() != nil {
			b.slots.Release(1)
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer b.slots.Release(1)
			if done(w(wctx)) != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	if err == nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	return objects, bytes, err
}

// Discard drops the current batch without writing it: the stream does this
// when it has lost the shard's lease (the new owner replays the records).
func (b *Batcher) Discard() {
	b.cuts.discard()
	b.reset()
}

func (b *Batcher) reset() {
	// Fresh maps rather than truncated slices: a batch's row slices can be
	// large, and keeping their capacity would pin that memory between batches.
	b.cur = batch{}
	for _, t := range schema.Tables() {
		b.cur.rows = append(b.cur.rows, t.NewRows())
	}
}

// groupDead sorts dead letters into partitions by their own time; those with
// none usable go to UndatedPartition.
func groupDead(dead []schema.DeadLetter, notAfter time.Time) map[string][]schema.DeadLetter {
	out := map[string][]schema.DeadLetter{}
	for _, d := range dead {
		dt, ok := schema.PartitionDate(d.Time, notAfter)
		if !ok {
			dt = schema.UndatedPartition
		}
		out[dt] = append(out[dt], d)
	}
	return out
}

func sortedKeys[V any](m map[string][]V) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		if len(v) > 0 {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// dedupWindow remembers the last n keys of one source partition (one file,
// one shard), first in first out. Scoping it to a source partition makes
// the output independent of how work is spread over cores and tasks;
// EventBridge and producer retries land on the same shard because the rule's
// partition key is the event id, and arrive close together.
type dedupWindow struct {
	seen map[schema.DedupKey]struct{}
	ring []schema.DedupKey
	next int
	full bool
}

func newDedupWindow(n int) *dedupWindow {
	return &dedupWindow{seen: make(map[schema.DedupKey]struct{}, min(n, 1<<12)), ring: make([]schema.DedupKey, n)}
}

// add records k and reports whether it was new.
func (w *dedupWindow) add(k schema.DedupKey) bool {
	if _, dup := w.seen[k]; dup {
		return false
	}
	if w.full {
		delete(w.seen, w.ring[w.next])
	}
	w.ring[w.next] = k
	w.seen[k] = struct{}{}
	w.next++
	if w.next == len(w.ring) {
		w.next, w.full = 0, true
	}
	return true
}
