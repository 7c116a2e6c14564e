package pipeline

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Policy is the flush policy: when a batch is cut. Every limit is a quantity
// of the input (units, input bytes before dedup, record time), never of the
// output or of the wall clock, so that the same input always gives the same
// batches and therefore the same object names (docs/design.md, claim 2).
// The rules themselves are cuts' methods, below.
type Policy struct {
	// MaxUnits cuts a batch once it holds this many units.
	MaxUnits int
	// MaxBytes cuts a batch before a unit that would take its input bytes over
	// this. It is also what bounds a batch's memory (see MemoryBudget).
	MaxBytes int64
	// Window cuts a batch before a unit whose time lies at or past the end of
	// the window (aligned to Window) that the batch's first unit opened; the
	// stream uses ApproximateArrivalTimestamp, files the event time. 0: none.
	Window time.Duration
	// MaxUnitBytes: a larger unit is not decoded but dead-lettered.
	MaxUnitBytes int64
	// DedupWindow is how many recent finding keys a source partition remembers.
	DedupWindow int
}

// Default limits. The commands' flags take their defaults from these.
const (
	DefaultMaxUnits     = 100_000
	DefaultMaxBytes     = 16 << 20
	DefaultMaxUnitBytes = 16 << 20
	DefaultDedupWindow  = 1 << 16
	// DefaultStreamWindow is the stream's flush window: events are
	// queryable within about a minute.
	DefaultStreamWindow = 60 * time.Second
)

// DefaultPolicy is the policy whose limits are the defaults above (without a
// window: backfill's; the stream's is DefaultStreamWindow). A zero limit of
// any Policy is the default's.
func DefaultPolicy() Policy { return Policy{}.withDefaults() }

// Validate refuses limits the defaults cannot mend: batch limits whose
// memory budget (MemoryBudget) does not fit in 64 bits.
func (p Policy) Validate() error {
	p = p.withDefaults()
	if batch := max(p.MaxBytes, p.MaxUnitBytes); batch > maxBatchBytes {
		return fmt.Errorf("batch limits of %d bytes (--flush-bytes, --max-unit-bytes) are too large: at most %d, their memory budget must fit in 64 bits", batch, int64(maxBatchBytes))
	}
	return nil
}

// maxBatchBytes is the largest batch limit whose budget, for one batch,
// fits in an int64: (factor + 2) times it, plus the fixed parts.
const maxBatchBytes = (math.MaxInt64 - BudgetBase - BudgetBatchFixed) / (BudgetBatchFactor + 2)

func (p Policy) withDefaults() Policy {
	if p.MaxUnits <= 0 {
		p.MaxUnits = DefaultMaxUnits
	}
	if p.MaxBytes <= 0 {
		p.MaxBytes = DefaultMaxBytes
	}
	if p.MaxUnitBytes <= 0 {
		p.MaxUnitBytes = DefaultMaxUnitBytes
	}
	if p.DedupWindow <= 0 {
		p.DedupWindow = DefaultDedupWindow
	}
	return p
}

// The memory budget, in one place: GOMEMLIMIT (backfill and consume), the
// flag help, docs/operating.md ("Sizing") and the memory tests all use MemoryBudget.
const (
	// BudgetBase is the process beyond its batches: the runtime, read
	// buffers, the dedup windows' maps at their largest, slack.
	BudgetBase = 64 << 20
	// BudgetBatchFixed is what each batch in flight holds whatever its
	// limits: a Parquet writer's fixed buffers, the S3 upload manager's part
	// buffers (Concurrency+1 parts of at most 8 MiB), and the units decoded
	// ahead of the batcher in a parallel pipeline (pipeline.go: decodeAhead
	// of input and the rows decoded from it).
	BudgetBatchFixed = 32 << 20
	// BudgetBatchFactor is the heap per byte of a batch's input while the
	// batch is flushed: the input, the rows that point into it and the
	// Parquet writer's copies of one row group's values (encode bounds a row
	// group to 4 MiB of input), their plain encoding and compressed pages.
	// Real findings, spread over days, whose text compresses, cost about 3;
	// megabytes of text that does not compress (secrets, hashes, an
	// attacker's padding), all in one partition, cost about 7, measured by
	// the memory tests (description and raw_finding hold the text twice).
	// The budget takes the worst case.
	BudgetBatchFactor = 8
)

// MemoryBudget is the heap that batches open at once (backfill: one per
// worker; the stream: one per lease held) may use under policy p: per batch,
// at most MaxBytes of input, or one unit of up to MaxUnitBytes when that is
// larger (a batch is cut before a unit that would overflow it), times
// BudgetBatchFactor, plus the unit being read (up to MaxUnitBytes, twice
// while its buffer grows) and BudgetBatchFixed; plus BudgetBase. The number
// of partitions a batch touches does not count: its objects are written one
// after another. A budget larger than an int64 (limits Validate refuses, or
// batches without number) is math.MaxInt64: no limit.
func MemoryBudget(batches int, p Policy) int64 {
	p = p.withDefaults()
	batch := max(p.MaxBytes, p.MaxUnitBytes)
	if batch > maxBatchBytes {
		return math.MaxInt64
	}
	perBatch := BudgetBatchFactor*batch + 2*p.MaxUnitBytes + BudgetBatchFixed
	n := int64(max(batches, 1))
	if n > (math.MaxInt64-BudgetBase)/perBatch {
		return math.MaxInt64
	}
	return n*perBatch + BudgetBase
}

// cuts decides where the batches of one source partition end. It does no
// I/O and reads no clock (the idle rule is given the time): the same units
// in the same order always get the same cuts, which is what makes object
// names deterministic (docs/design.md, claim 2). The rules:
//
//   - A batch is only ever cut between units of different positions: the
//     sub-records of one KPL-aggregated Kinesis record share a sequence
//     number, and a checkpoint cannot split them.
//   - Units: a batch that holds MaxUnits units is full; it is cut before
//     the next unit of another position.
//   - Bytes: a batch is cut before a unit that would take its input bytes
//     (before dedup) over MaxBytes.
//   - Window: a batch is cut before a unit whose time is at or past the end
//     of the Window-aligned window its first timed unit opened.
//   - Forced end: a batch that a previous owner of the shard recorded as
//     pending ends exactly after that extent's last position; until then
//     no other rule cuts it, and it is not flushed on stop. When the input
//     resumes after that position (the end was trimmed by the stream's
//     retention), the batch ends where the input resumes.
//   - Idle: a batch whose window has closed (the clock is past its end plus
//     a grace) is cut once the source has been read to its tip: a record
//     arriving later has a later arrival time, so the window rule would cut
//     there anyway. A full batch is cut too. A forced batch never is.
//   - Stop (SIGTERM): a batch is cut, unless it is forced and incomplete.
//   - Shard end and end of file: whatever is left is one batch.
type cuts struct {
	policy     Policy
	units      int
	bytes      int64
	lastPos    string
	windowEnd  time.Time
	full       bool   // a cut is due before the next Unit of another position
	forcedLast string // the forced end, "" when none
}

// force makes the current batch end exactly after the unit at pos.
func (c *cuts) force(pos string) { c.forcedLast = pos }

// before reports whether the current batch must be cut before a unit at pos
// of size input bytes and time t (zero: untimed).
func (c *cuts) before(pos string, size int64, t time.Time) bool {
	if c.units == 0 || pos == c.lastPos {
		return false
	}
	if c.forcedLast != "" {
		// Past the forced end: it is not in the input any more.
		return c.full || posAfter(pos, c.forcedLast)
	}
	if c.full || c.bytes+size > c.policy.MaxBytes {
		return true
	}
	return c.policy.Window > 0 && !t.IsZero() && !c.windowEnd.IsZero() && !t.Before(c.windowEnd)
}

// add records a unit appended to the current batch.
func (c *cuts) add(pos string, size int64, t time.Time) {
	c.units++
	c.bytes += size
	c.lastPos = pos
	if c.policy.Window > 0 && c.windowEnd.IsZero() && !t.IsZero() {
		c.windowEnd = t.Truncate(c.policy.Window).Add(c.policy.Window)
	}
	if c.forcedLast != "" {
		c.full = pos == c.forcedLast
	} else if c.units >= c.policy.MaxUnits {
		c.full = true
	}
}

// idle reports whether an idle source's batch is due at now: see the idle
// rule above.
func (c *cuts) idle(now time.Time, grace time.Duration, atTip bool) bool {
	if c.units == 0 {
		return false
	}
	if c.full {
		return true
	}
	if c.forcedLast != "" || !atTip || c.windowEnd.IsZero() {
		return false
	}
	return !now.Before(c.windowEnd.Add(grace))
}

// onStop reports whether the batch may be flushed on shutdown.
func (c *cuts) onStop() bool { return c.units > 0 && (c.forcedLast == "" || c.full) }

// flushed starts the next batch after a flush (the forced end is done).
func (c *cuts) flushed() {
	*c = cuts{policy: c.policy}
}

// discard starts over after the batch was dropped (a lost lease).
func (c *cuts) discard() { c.flushed() }

// posAfter reports whether position a comes after b. Positions are decimal
// numbers (sequence numbers, zero-padded offsets) of any length.
func posAfter(a, b string) bool {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return len(a) > len(b)
	}
	return a > b
}
