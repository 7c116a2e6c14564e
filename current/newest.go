package current

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/extsort"
	"github.com/hublake/hublake/schema"
)

// newestKeyer orders a finding table's rows by its schema.Newest: the
// finding's key (ascending: any total order puts a finding's rows
// together, NULL keys last and together, as SQL's PARTITION BY groups
// them), then the order, every column descending with NULLs last. The
// first row of each key is the finding's state, the very row the latest
// view picks.
type newestKeyer struct {
	keyCols []int // leaf column indexes of Newest.Key
	combine func([]string, []bool) (string, bool)
	nkey    int // values of the key in a sort key: 1 when combined
	order   []orderColumn
}

type orderColumn struct {
	index   int
	compare func(a, b parquet.Value) int
}

func newNewestKeyer(t schema.AnyTable) (*newestKeyer, error) {
	n := t.Newest()
	if n == nil {
		return nil, fmt.Errorf("table %s has no current-state table (tables: %s)", t.Name(), strings.Join(schema.CurrentTableNames(), ", "))
	}
	s := t.Schema()
	k := &newestKeyer{combine: n.Combine}
	for _, c := range n.Key {
		cols, err := extsort.ResolveColumns(s, []string{c})
		if err != nil {
			return nil, err
		}
		if !isString(s, c) {
			return nil, fmt.Errorf("key column %s of %s is not a string", c, t.Name())
		}
		k.keyCols = append(k.keyCols, cols[0].Index)
	}
	k.nkey = len(k.keyCols)
	if k.combine != nil {
		k.nkey = 1
	}
	for _, c := range n.Order {
		leaf, ok := s.Lookup(c)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			return nil, fmt.Errorf("order column %q is not a top-level column of %s", c, t.Name())
		}
		k.order = append(k.order, orderColumn{index: leaf.ColumnIndex, compare: leaf.Node.Type().Compare})
	}
	return k, nil
}

func isString(s *parquet.Schema, col string) bool {
	leaf, ok := s.Lookup(col)
	return ok && leaf.Node.Type().Kind() == parquet.ByteArray
}

// Key implements extsort.Keyer: the key's values, then the order's.
func (k *newestKeyer) Key(row parquet.Row, clone bool) []parquet.Value {
	out := make([]parquet.Value, 0, k.nkey+len(k.order))
	if k.combine != nil {
		vals := make([]string, len(k.keyCols))
		ok := make([]bool, len(k.keyCols))
		for i, c := range k.keyCols {
			if v, found := extsort.Value(row, c); found && !v.IsNull() {
				vals[i], ok[i] = string(v.ByteArray()), true
			}
		}
		if s, present := k.combine(vals, ok); present {
			out = append(out, parquet.ByteArrayValue([]byte(s)))
		} else {
			out = append(out, parquet.NullValue())
		}
	} else {
		for _, c := range k.keyCols {
			out = append(out, value(row, c, clone))
		}
	}
	for _, c := range k.order {
		out = append(out, value(row, c.index, clone))
	}
	return out
}

func value(row parquet.Row, index int, clone bool) parquet.Value {
	v, ok := extsort.Value(row, index)
	if !ok {
		return parquet.NullValue()
	}
	if clone {
		return v.Clone()
	}
	return v
}

// Compare implements extsort.Keyer.
func (k *newestKeyer) Compare(a, b []parquet.Value) int {
	if d := k.compareKey(a, b); d != 0 {
		return d
	}
	for i, c := range k.order {
		x, y := a[k.nkey+i], b[k.nkey+i]
		switch {
		case x.IsNull() && y.IsNull():
			continue
		case x.IsNull():
			return 1 // NULLs last
		case y.IsNull():
			return -1
		}
		if d := c.compare(x, y); d != 0 {
			return -d // descending
		}
	}
	return 0
}

// compareKey compares the keys of two sort keys only.
func (k *newestKeyer) compareKey(a, b []parquet.Value) int {
	for i := range k.nkey {
		x, y := a[i], b[i]
		switch {
		case x.IsNull() && y.IsNull():
			continue
		case x.IsNull():
			return 1
		case y.IsNull():
			return -1
		}
		if d := bytes.Compare(x.ByteArray(), y.ByteArray()); d != 0 {
			return d
		}
	}
	return 0
}

// keyOnly returns a copy of the key part of a sort key.
func (k *newestKeyer) keyOnly(key []parquet.Value) []parquet.Value {
	out := make([]parquet.Value, k.nkey)
	for i := range out {
		out[i] = key[i].Clone()
	}
	return out
}

// Retention is what the current tables keep: Security Hub's rules by
// default (DefaultRetention). A finding whose newest row (its state) is
// older than its rule's duration is dropped from the current table, as
// Security Hub deletes it; the history keeps every row.
//
//   - findings (Security Hub CSPM, ASFF): Archived after updated_at when
//     record_state is ARCHIVED, else Active after updated_at (Security Hub
//     CSPM deletes archived findings 30 days and active ones 90 days after
//     their last update);
//   - ocsf_findings (the Security Hub of 2025, OCSF): Closed after
//     modified_time when the finding was closed (activity_name Close, any
//     case, or activity_id 3), else Active after modified_time (active
//     findings 90 days, closed ones 14 days after their last update).
//
// A row without its update time counts from event_time; a row with neither
// is kept. None keeps everything. A row expires at (update time +
// duration), judged against the refresh's clock (Options.Now, to the
// second): it is kept while that time is later than the clock.
type Retention struct {
	None     bool
	Active   time.Duration
	Archived time.Duration // findings: record_state ARCHIVED
	Closed   time.Duration // ocsf_findings: activity Close
}

// Security Hub's retention (README.md, "Current tables").
const (
	DefaultActive   = 90 * 24 * time.Hour
	DefaultArchived = 30 * 24 * time.Hour
	DefaultClosed   = 14 * 24 * time.Hour
)

// DefaultRetention is Security Hub's.
func DefaultRetention() Retention {
	return Retention{Active: DefaultActive, Archived: DefaultArchived, Closed: DefaultClosed}
}

func (r Retention) String() string {
	if r.None {
		return "none"
	}
	return fmt.Sprintf("active=%s archived=%s closed=%s", r.Active, r.Archived, r.Closed)
}

// retainer judges a table's newest rows by a Retention.
type retainer struct {
	r Retention
	// updated and event are the leaf indexes of the update time and of
	// event_time; closedBy tells whether a row is archived (findings) or
	// closed (ocsf_findings).
	updated, event int
	closedBy       func(parquet.Row) bool
	closedTTL      time.Duration
}

func newRetainer(t schema.AnyTable, r Retention) (*retainer, error) {
	s := t.Schema()
	idx := func(c string) (int, error) {
		cols, err := extsort.ResolveColumns(s, []string{c})
		if err != nil {
			return 0, err
		}
		return cols[0].Index, nil
	}
	ret := &retainer{r: r}
	var err error
	if ret.event, err = idx("event_time"); err != nil {
		return nil, err
	}
	switch t.Name() {
	case schema.TableFindings:
		if ret.updated, err = idx("updated_at"); err != nil {
			return nil, err
		}
		state, err := idx("record_state")
		if err != nil {
			return nil, err
		}
		ret.closedTTL = r.Archived
		ret.closedBy = func(row parquet.Row) bool {
			v, ok := extsort.Value(row, state)
			return ok && !v.IsNull() && string(v.ByteArray()) == "ARCHIVED"
		}
	case schema.TableOCSFFindings:
		if ret.updated, err = idx("modified_time"); err != nil {
			return nil, err
		}
		name, err := idx("activity_name")
		if err != nil {
			return nil, err
		}
		id, err := idx("activity_id")
		if err != nil {
			return nil, err
		}
		ret.closedTTL = r.Closed
		ret.closedBy = func(row parquet.Row) bool {
			if v, ok := extsort.Value(row, name); ok && !v.IsNull() && strings.EqualFold(string(v.ByteArray()), "close") {
				return true
			}
			v, ok := extsort.Value(row, id)
			return ok && !v.IsNull() && v.Int32() == 3
		}
	default:
		return nil, fmt.Errorf("table %s: no retention rule", t.Name())
	}
	return ret, nil
}

// expires returns when row (a finding's newest) leaves the current table;
// ok is false when it never does.
func (r *retainer) expires(row parquet.Row) (at time.Time, ok bool) {
	if r.r.None {
		return time.Time{}, false
	}
	v, found := extsort.Value(row, r.updated)
	if !found || v.IsNull() {
		v, found = extsort.Value(row, r.event)
	}
	if !found || v.IsNull() {
		return time.Time{}, false
	}
	ttl := r.r.Active
	if r.closedBy(row) {
		ttl = r.closedTTL
	}
	return time.UnixMilli(v.Int64()).UTC().Add(ttl), true
}
