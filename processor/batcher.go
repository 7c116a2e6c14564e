package processor

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/hublake/hublake/schema"
	"github.com/hublake/hublake/sinks"
)

// Batcher is the pipeline of one source partition (one file, one shard):
// decode → dedup → batch per (table, dt) → flush. It is not safe for
// concurrent use; each source partition has its own.
type Batcher struct {
	policy   Policy
	enc      *sinks.Encoder
	name     Namer
	progress Progress
	stats    *Stats
	dedup    *dedupWindow
	crash    func(point string)

	scratch schema.Output
	cur     batch

	// forcedLast, when set, is the position at which the current batch must
	// end: a batch another worker began to write before it crashed. Until it
	// is reached no other cut applies, and nothing is flushed on shutdown.
	forcedLast string
}

// batch is what has been read since the last flush.
type batch struct {
	first, last Unit
	units       int
	bytes       int64
	full        bool // a cut is due before the next unit of another position
	windowEnd   time.Time
	findings    map[string][]schema.Finding
	insights    map[string][]schema.InsightResult
	dead        []schema.DeadLetter
	dups        int64
	unreadable  int64
}

// BatcherOption configures a Batcher.
type BatcherOption func(*Batcher)

// WithProgress sets the source's progress hooks (default: none).
func WithProgress(p Progress) BatcherOption { return func(b *Batcher) { b.progress = p } }

// WithStats sets the counters to add to (default: private ones).
func WithStats(s *Stats) BatcherOption { return func(b *Batcher) { b.stats = s } }

// WithCrashHook calls f at named points of a flush; tests use it to kill the
// process there ("before-upload", "between-objects", "before-checkpoint",
// "after-checkpoint").
func WithCrashHook(f func(point string)) BatcherOption { return func(b *Batcher) { b.crash = f } }

// NewBatcher returns the pipeline for one source partition.
func NewBatcher(p Policy, enc *sinks.Encoder, name Namer, opts ...BatcherOption) *Batcher {
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
func (b *Batcher) ForceCutAfter(pos string) { b.forcedLast = pos }

// Pending returns the number of units in the current batch.
func (b *Batcher) Pending() int { return b.cur.units }

// Forced reports whether the current batch is being rebuilt to a forced end.
func (b *Batcher) Forced() bool { return b.forcedLast != "" }

// Add feeds one unit. It may flush the current batch first, when u does not
// fit in it or the batch is full. A batch is only ever cut between units of
// different positions: the sub-records of one KPL-aggregated Kinesis record
// share a sequence number, and a checkpoint cannot split them. An error means
// a flush failed: the batch (without u) is kept, and the caller must not go on
// (the stream retries the flush; backfill gives up on the input).
func (b *Batcher) Add(ctx context.Context, u Unit) error {
	out := &b.scratch
	out.Reset()
	switch {
	case u.Reject != "":
		out.Dead = append(out.Dead, schema.DeadLetter{Source: u.Origin.Source, Reason: u.Reject, Data: u.Data, Time: u.Origin.RecordTime})
	case int64(len(u.Data)) > b.policy.MaxUnitBytes:
		out.Dead = append(out.Dead, schema.DeadLetter{
			Source: u.Origin.Source, Data: u.Data, Time: u.Origin.RecordTime,
			Reason: fmt.Sprintf("unit of %d bytes exceeds the %d byte limit (--max-unit-bytes)", len(u.Data), b.policy.MaxUnitBytes),
		})
	default:
		schema.Decode(u.Data, u.Origin, out)
	}
	t := unitTime(&u, out)

	c := &b.cur
	if b.forcedLast != "" && c.units > 0 && posAfter(u.Pos, b.forcedLast) {
		// The forced end is not in the input any more (trimmed by retention):
		// end the batch where the input now resumes.
		c.full = true
	}
	if c.units > 0 && u.Pos != c.last.Pos && (c.full || (b.forcedLast == "" && b.cutBefore(int64(len(u.Data)), t))) {
		if err := b.Flush(ctx); err != nil {
			return err
		}
	}
	b.stats.Units.Add(1)
	b.stats.BytesIn.Add(int64(len(u.Data)))
	b.append(&u, out, t)
	switch {
	case b.forcedLast != "":
		c.full = u.Pos == b.forcedLast
	case c.units >= b.policy.MaxUnits:
		c.full = true
	}
	return nil
}

// FlushIfFull flushes the current batch if a cut is due after its last unit
// (it reached MaxUnits, or the forced end). The stream calls it after each
// GetRecords response, whose sub-records of an aggregated record all arrive
// together; files flush at the next unit or at their end.
func (b *Batcher) FlushIfFull(ctx context.Context) error {
	if b.cur.full {
		return b.Flush(ctx)
	}
	return nil
}

// FlushOnStop flushes on shutdown or shard end, unless the batch is being
// rebuilt to a forced end it has not reached: then nothing is written (the
// next owner of the shard rebuilds it) and false is returned.
func (b *Batcher) FlushOnStop(ctx context.Context) (bool, error) {
	if b.forcedLast != "" && !b.cur.full {
		return false, nil
	}
	return true, b.Flush(ctx)
}

// posAfter reports whether position a comes after b. Positions are decimal
// numbers (sequence numbers, zero-padded offsets) of any length.
func posAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}

// unitTime is the time a unit counts at for windows: its record time in the
// stream, else the time of its first row.
func unitTime(u *Unit, out *schema.Output) time.Time {
	if !u.Origin.RecordTime.IsZero() {
		return u.Origin.RecordTime
	}
	if len(out.Findings) > 0 {
		if f := &out.Findings[0]; !f.EventTime.IsZero() {
			return f.EventTime
		} else {
			return f.UpdatedAt
		}
	}
	if len(out.Insights) > 0 {
		return out.Insights[0].EventTime
	}
	return time.Time{}
}

func (b *Batcher) cutBefore(size int64, t time.Time) bool {
	if b.cur.bytes+size > b.policy.MaxBytes {
		return true
	}
	return b.policy.Window > 0 && !t.IsZero() && !b.cur.windowEnd.IsZero() && !t.Before(b.cur.windowEnd)
}

// FlushIfIdle flushes the current batch when its window has closed: the
// clock is past the window's end plus grace, and the source has been read to
// its tip (no record that still belongs to the window can arrive). Because a
// record arriving later gets a later arrival time, this cut is where the
// window rule would have cut anyway, so it stays input-derived.
func (b *Batcher) FlushIfIdle(ctx context.Context, now time.Time, grace time.Duration, atTip bool) error {
	if b.cur.full {
		return b.Flush(ctx)
	}
	if b.cur.units == 0 || b.forcedLast != "" || !atTip || b.cur.windowEnd.IsZero() {
		return nil
	}
	if now.Before(b.cur.windowEnd.Add(grace)) {
		return nil
	}
	return b.Flush(ctx)
}

func (b *Batcher) append(u *Unit, out *schema.Output, t time.Time) {
	c := &b.cur
	if c.units == 0 {
		c.first = *u
	}
	c.last = *u
	c.last.Data = nil
	c.first.Data = nil
	c.units++
	c.bytes += int64(len(u.Data))
	if b.policy.Window > 0 && c.windowEnd.IsZero() && !t.IsZero() {
		c.windowEnd = t.Truncate(b.policy.Window).Add(b.policy.Window)
	}
	c.unreadable += int64(out.Unreadable)
	for i := range out.Findings {
		f := &out.Findings[i]
		if !b.dedup.add(b.dedup.findingKey(f.EventDetailType, f.ActionARN, f.RawFinding)) {
			c.dups++
			continue
		}
		c.findings[f.Date] = append(c.findings[f.Date], *f)
	}
	var detailSum [sha256.Size]byte
	var detailPtr *byte
	for i := range out.Insights {
		r := &out.Insights[i]
		if p := unsafe.StringData(r.RawDetail); p != detailPtr || i == 0 {
			detailPtr, detailSum = p, sha256.Sum256(unsafe.Slice(p, len(r.RawDetail)))
		}
		if !b.dedup.add(insightKey(detailSum, r.ResultIndex)) {
			c.dups++
			continue
		}
		c.insights[r.Date] = append(c.insights[r.Date], *r)
	}
	c.dead = append(c.dead, out.Dead...)
}

// Flush makes the current batch durable: one object per (table, dt), named
// after the batch's source position, then Progress.Done. On error the batch
// is kept; a later Flush writes the same objects again.
func (b *Batcher) Flush(ctx context.Context) error {
	c := &b.cur
	if c.units == 0 {
		return nil
	}
	start := time.Now()
	info := BatchInfo{Name: b.name(&c.first, &c.last), First: c.first.Pos, Last: c.last.Pos, Units: c.units}
	if err := b.progress.Begin(ctx, info); err != nil {
		return fmt.Errorf("begin batch %s: %w", info.Name, err)
	}
	b.crash("before-upload")
	var objects, bytes int64
	written := func(n int64, err error) error {
		if err != nil {
			return err
		}
		if objects > 0 {
			b.crash("between-objects")
		}
		objects++
		bytes += n
		return nil
	}
	for _, dt := range sortedKeys(c.findings) {
		if err := written(b.enc.WriteFindings(ctx, dt, info.Name, c.findings[dt])); err != nil {
			return err
		}
	}
	for _, dt := range sortedKeys(c.insights) {
		if err := written(b.enc.WriteInsights(ctx, dt, info.Name, c.insights[dt])); err != nil {
			return err
		}
	}
	dead := groupDead(c.dead, c.first.Origin.NotAfter)
	for _, dt := range sortedKeys(dead) {
		if err := written(b.enc.WriteDeadLetters(ctx, dt, info.Name, dead[dt])); err != nil {
			return err
		}
	}
	b.crash("before-checkpoint")
	if err := b.progress.Done(ctx, info); err != nil {
		return fmt.Errorf("complete batch %s: %w", info.Name, err)
	}
	b.crash("after-checkpoint")
	b.forcedLast = ""

	s := b.stats
	for _, rows := range c.findings {
		s.Findings.Add(int64(len(rows)))
	}
	for _, rows := range c.insights {
		s.InsightResults.Add(int64(len(rows)))
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
	b.reset()
	return nil
}

// Discard drops the current batch without writing it: the stream does this
// when it has lost the shard's lease (the new owner replays the records).
func (b *Batcher) Discard() {
	b.reset()
	b.forcedLast = ""
}

func (b *Batcher) reset() {
	// Fresh maps rather than truncated slices: a batch's row slices can be
	// large, and keeping their capacity would pin that memory between batches.
	b.cur = batch{findings: map[string][]schema.Finding{}, insights: map[string][]schema.InsightResult{}}
}

// groupDead sorts dead letters into partitions by their own time; those with
// none usable go to UndatedPartition.
func groupDead(dead []schema.DeadLetter, notAfter time.Time) map[string][]schema.DeadLetter {
	out := map[string][]schema.DeadLetter{}
	for _, d := range dead {
		dt, ok := schema.PartitionDate(d.Time, notAfter)
		if !ok {
			dt = sinks.UndatedPartition
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
