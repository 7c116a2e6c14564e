package pipeline

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/schema"
)

// unitAt is one unit fed to the cut rules: its position, input bytes and time.
type unitAt struct {
	pos  string
	size int64
	t    time.Time
}

// cutsOf feeds units to cuts under p (forced end first, when given) and
// returns the batches they make, each as "first..last" positions.
func cutsOf(p Policy, forced string, in []unitAt) []string {
	c := cuts{policy: p.withDefaults()}
	if forced != "" {
		c.force(forced)
	}
	var out []string
	first, last := "", ""
	for _, u := range in {
		if c.before(u.pos, u.size, u.t) {
			out = append(out, first+".."+last)
			c.flushed()
		}
		if c.units == 0 {
			first = u.pos
		}
		last = u.pos
		c.add(u.pos, u.size, u.t)
	}
	if c.units > 0 {
		out = append(out, first+".."+last)
	}
	return out
}

func seqUnits(n int, size int64, start time.Time, step time.Duration) []unitAt {
	out := make([]unitAt, n)
	for i := range out {
		var t time.Time
		if !start.IsZero() {
			t = start.Add(time.Duration(i) * step)
		}
		out[i] = unitAt{pos: fmt.Sprint(100 + i), size: size, t: t}
	}
	return out
}

// TestCutRules: every rule of cuts, as a table. Each case fails if its rule
// is changed (the names say which).
func TestCutRules(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	kpl := []unitAt{{"100", 10, t0}, {"101", 10, t0}, {"101", 10, t0}, {"101", 10, t0}, {"102", 10, t0}}
	for _, tc := range []struct {
		name   string
		policy Policy
		forced string
		in     []unitAt
		want   string
	}{
		{"units: full at MaxUnits", Policy{MaxUnits: 3}, "", seqUnits(7, 1, time.Time{}, 0), "100..102 103..105 106..106"},
		{"units: one batch below the limit", Policy{MaxUnits: 10}, "", seqUnits(7, 1, time.Time{}, 0), "100..106"},
		{"bytes: cut before the Unit that overflows", Policy{MaxBytes: 25}, "", seqUnits(6, 10, time.Time{}, 0), "100..101 102..103 104..105"},
		{"bytes: exactly at the limit stays", Policy{MaxBytes: 30}, "", seqUnits(6, 10, time.Time{}, 0), "100..102 103..105"},
		{"bytes: a Unit larger than the limit is a batch of its own", Policy{MaxBytes: 25}, "", []unitAt{{"1", 5, time.Time{}}, {"2", 40, time.Time{}}, {"3", 5, time.Time{}}}, "1..1 2..2 3..3"},
		{"window: cut at the aligned window's end", Policy{Window: time.Minute}, "", seqUnits(5, 1, t0.Add(30*time.Second), 20*time.Second), "100..101 102..104"},
		{"window: untimed units never cut", Policy{Window: time.Minute}, "", seqUnits(5, 1, time.Time{}, 0), "100..104"},
		{"window: 0 means no time cuts", Policy{}, "", seqUnits(5, 1, t0, time.Hour), "100..104"},
		{"window: a Unit before the window's end stays (out of order)", Policy{Window: time.Minute}, "", []unitAt{{"1", 1, t0.Add(50 * time.Second)}, {"2", 1, t0}, {"3", 1, t0.Add(61 * time.Second)}}, "1..2 3..3"},
		{"KPL: sub-records sharing a position are never split (units)", Policy{MaxUnits: 2}, "", kpl, "100..101 102..102"},
		{"KPL: never split by bytes either", Policy{MaxBytes: 15}, "", kpl, "100..100 101..101 102..102"},
		{"forced: no other rule cuts before the forced end", Policy{MaxUnits: 2, MaxBytes: 15}, "104", seqUnits(7, 10, time.Time{}, 0), "100..104 105..105 106..106"},
		{"forced: the window does not cut it either", Policy{Window: time.Minute}, "103", seqUnits(6, 1, t0, time.Minute), "100..103 104..104 105..105"},
		{"forced: trimmed by retention, the batch ends where the input resumes", Policy{MaxUnits: 100}, "103", []unitAt{{"100", 1, t0}, {"101", 1, t0}, {"105", 1, t0}, {"106", 1, t0}}, "100..101 105..106"},
		{"forced: sub-records of the forced end stay in the batch", Policy{}, "101", kpl, "100..101 102..102"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := strings.Join(cutsOf(tc.policy, tc.forced, tc.in), " ")
			if got != tc.want {
				t.Errorf("batches %s, want %s", got, tc.want)
			}
		})
	}
}

// TestCutRulesIdleAndStop: the rules that depend on the clock and on the
// source's state, not on the next unit.
func TestCutRulesIdleAndStop(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 10, 0, time.UTC) // window 12:00–12:01
	grace := 3 * time.Second
	end := time.Date(2026, 3, 1, 12, 1, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		policy       Policy
		forced       string
		in           []unitAt
		now          time.Time
		atTip        bool
		idle, onStop bool
	}{
		{"empty: nothing to cut", Policy{Window: time.Minute}, "", nil, end.Add(time.Hour), true, false, false},
		{"idle: window closed, at the tip, past grace", Policy{Window: time.Minute}, "", seqUnits(2, 1, t0, time.Second), end.Add(grace), true, true, true},
		{"idle: within the grace", Policy{Window: time.Minute}, "", seqUnits(2, 1, t0, time.Second), end.Add(grace - time.Millisecond), true, false, true},
		{"idle: not at the tip (records of the window may follow)", Policy{Window: time.Minute}, "", seqUnits(2, 1, t0, time.Second), end.Add(time.Hour), false, false, true},
		{"idle: no window, never idle-cut", Policy{}, "", seqUnits(2, 1, t0, time.Second), end.Add(time.Hour), true, false, true},
		{"idle: untimed units open no window", Policy{Window: time.Minute}, "", seqUnits(2, 1, time.Time{}, 0), end.Add(time.Hour), true, false, true},
		{"idle: a full batch is cut whatever the clock", Policy{MaxUnits: 2}, "", seqUnits(2, 1, t0, time.Second), t0, false, true, true},
		{"forced incomplete: neither idle nor on stop", Policy{Window: time.Minute}, "105", seqUnits(2, 1, t0, time.Second), end.Add(time.Hour), true, false, false},
		{"forced complete: both", Policy{Window: time.Minute}, "101", seqUnits(2, 1, t0, time.Second), end.Add(time.Hour), true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cuts{policy: tc.policy.withDefaults()}
			if tc.forced != "" {
				c.force(tc.forced)
			}
			for _, u := range tc.in {
				if c.before(u.pos, u.size, u.t) {
					t.Fatalf("unexpected cut before %s", u.pos)
				}
				c.add(u.pos, u.size, u.t)
			}
			if got := c.idle(tc.now, grace, tc.atTip); got != tc.idle {
				t.Errorf("idle = %v, want %v", got, tc.idle)
			}
			if got := c.onStop(); got != tc.onStop {
				t.Errorf("onStop = %v, want %v", got, tc.onStop)
			}
		})
	}
}

// TestCutsFlushedClearsForcedEnd: after the forced batch is flushed, the
// policy applies again.
func TestCutsFlushedClearsForcedEnd(t *testing.T) {
	got := strings.Join(cutsOf(Policy{MaxUnits: 2}, "104", seqUnits(9, 1, time.Time{}, 0)), " ")
	if want := "100..104 105..106 107..108"; got != want {
		t.Errorf("batches %s, want %s", got, want)
	}
}

func TestPosAfter(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"2", "1", true}, {"1", "2", false}, {"10", "9", true}, {"0009", "10", false},
		{"49590338271490256608559692538361571095921575989136588898", "49590338271490256608559692538361571095921575989136588897", true},
		{"5", "5", false},
	} {
		if got := posAfter(tc.a, tc.b); got != tc.want {
			t.Errorf("posAfter(%s, %s) = %v", tc.a, tc.b, got)
		}
	}
}

// TestDedupWindowEviction: the window remembers exactly the last n keys; a
// key evicted from it is new again.
func TestDedupWindowEviction(t *testing.T) {
	w, k := newDedupWindow(3), schema.NewKeyer()
	key := func(i int) schema.DedupKey { return k.Finding("k", "", fmt.Sprint(i)) }
	for i := range 3 {
		if !w.add(key(i)) {
			t.Fatalf("key %d reported as a duplicate", i)
		}
	}
	if w.add(key(0)) || w.add(key(2)) {
		t.Fatal("a key inside the window was not a duplicate")
	}
	if !w.add(key(3)) { // evicts 0
		t.Fatal("key 3 reported as a duplicate")
	}
	if w.add(key(1)) {
		t.Fatal("key 1, still inside the window, was not a duplicate")
	}
	if !w.add(key(0)) { // evicted, so new again; evicts 1
		t.Fatal("key 0 was evicted and must be new again")
	}
	if !w.add(key(1)) {
		t.Fatal("key 1 was evicted by key 0 and must be new again")
	}
	if len(w.seen) != 3 {
		t.Errorf("the window holds %d keys, want 3", len(w.seen))
	}
	// The kind and the action are part of the key.
	if k.Finding("a", "", "x") == k.Finding("b", "", "x") || k.Finding("a", "x", "") == k.Finding("a", "", "x") {
		t.Error("keys of different kinds or actions collide")
	}
}

// TestBatcherFlushOnStopForced: the batcher's shutdown path writes nothing
// for an incomplete forced batch and reports it.
func TestBatcherFlushOnStopForced(t *testing.T) {
	b := NewBatcher(Policy{}, nil, func(first, _ *Unit) string { return first.Pos })
	b.ForceCutAfter("105")
	ctx := context.Background()
	for _, pos := range []string{"100", "101"} {
		if err := b.Add(ctx, Unit{Pos: pos, Data: []byte("not json")}); err != nil {
			t.Fatal(err)
		}
	}
	flushed, err := b.FlushOnStop(ctx)
	if err != nil || flushed {
		t.Fatalf("FlushOnStop = %v, %v; want nothing flushed", flushed, err)
	}
	if b.Pending() != 2 {
		t.Errorf("pending %d, want 2", b.Pending())
	}
}

// TestPolicyValidate: limits whose memory budget does not fit in 64 bits are
// refused (--flush-bytes 2000000000GiB made a negative GOMEMLIMIT), the
// defaults and the largest accepted limits are not, and MemoryBudget never
// wraps: batches without number make no limit.
func TestPolicyValidate(t *testing.T) {
	if err := DefaultPolicy().Validate(); err != nil {
		t.Errorf("the default policy: %v", err)
	}
	if err := (Policy{}).Validate(); err != nil {
		t.Errorf("the zero policy: %v", err)
	}
	if err := (Policy{MaxBytes: maxBatchBytes, MaxUnitBytes: maxBatchBytes}).Validate(); err != nil {
		t.Errorf("the largest limits: %v", err)
	}
	if got := MemoryBudget(1, Policy{MaxBytes: maxBatchBytes, MaxUnitBytes: maxBatchBytes}); got <= 0 {
		t.Errorf("MemoryBudget of the largest limits = %d", got)
	}
	for _, p := range []Policy{{MaxBytes: 2000000000 << 30}, {MaxUnitBytes: maxBatchBytes + 1}, {MaxBytes: math.MaxInt64}} {
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "memory budget") {
			t.Errorf("%+v: %v, want the memory budget refused", p, err)
		}
		if got := MemoryBudget(1, p); got != math.MaxInt64 {
			t.Errorf("MemoryBudget(1, %+v) = %d, want no limit", p, got)
		}
	}
	if got := MemoryBudget(math.MaxInt, DefaultPolicy()); got != math.MaxInt64 {
		t.Errorf("MemoryBudget of MaxInt batches = %d, want no limit", got)
	}
}
