package gen

// Daily generates the history Security Hub sends for a set of live
// findings: every day it re-evaluates each live finding and re-sends it (a
// new import with a new UpdatedAt, or a workflow or note change), some
// findings are resolved (a control passes), some archived (ASFF) or closed
// (OCSF: activity Close) and then never sent again, and new ones appear. On
// the last day some live findings are not re-sent. It is the history the
// current-state tables are for (package current): the lake grows by the live
// set every day, the current tables stay the size of the live set.
//
// Day(d) returns the units of day d, from the Config's start (End minus
// Days); like the rest of the generator, everything is a function of the
// Config and the calls.
type Daily struct {
	g    *Generator
	live []finding
}

// NewDaily returns a daily history of cfg (its ratios are not used: every
// unit is an Imported or a V2 event) starting with live findings.
func NewDaily(cfg Config, live int) (*Daily, error) {
	if cfg.Events <= 0 && cfg.Bytes <= 0 {
		cfg.Events = 1 // unused: Day decides what is sent
	}
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	d := &Daily{g: g}
	for range live {
		d.live = append(d.live, *g.newFinding(g.start, true))
	}
	return d, nil
}

// Days is the number of days of the history.
func (d *Daily) Days() int { return d.g.cfg.Days }

// Live is how many findings are live (sent every day).
func (d *Daily) Live() int { return len(d.live) }

// Day returns the units of day day (0 to Days-1; the last day is
// Days-1): each live finding once (both feeds: twice), a twentieth of the
// live set's size new findings, and, on the last day, a tenth of the live
// findings not sent.
func (d *Daily) Day(day int) [][]byte {
	g := d.g
	start := g.start + int64(day)*86400e9
	at := func() int64 { return min(start+g.rng.Int64N(86400)*1e9, g.end-1e9) }
	last := day == g.cfg.Days-1
	var out [][]byte
	emit := func(b []byte) {
		out = append(out, append([]byte(nil), b...))
		if g.hasPending {
			g.hasPending = false
			out = append(out, append([]byte(nil), g.pending.b...))
			g.count(g.pending.b)
			g.tally(kindV2, 1, 0)
		}
	}
	kept := d.live[:0]
	for i := range d.live {
		f := d.live[i]
		if last && g.rng.IntN(10) == 0 {
			kept = append(kept, f)
			continue
		}
		t := max(at(), f.evt+60e9)
		if day > 0 {
			g.changeFinding(&f, t)
		} else {
			f.evt = t
		}
		if f.archived && f.feed != feedASFF {
			f.closed = true
		}
		emit(g.findingEvent(&f, t))
		if !f.archived {
			kept = append(kept, f)
		}
	}
	d.live = kept
	for range max(1, len(d.live)/20) {
		t := at()
		f := *g.newFinding(t, true)
		emit(g.findingEvent(&f, t))
		d.live = append(d.live, f)
	}
	return out
}

// Late returns an event of a new finding at a time of day day: a late
// event (a producer that sends weeks late, a backfill) into an old
// partition.
func (d *Daily) Late(day int) []byte {
	g := d.g
	t := g.start + int64(day)*86400e9 + 43200e9
	f := *g.newFinding(t, false)
	b := append([]byte(nil), g.findingEvent(&f, t)...)
	return b
}
