package schema

import "strings"

// Newest is how one row per finding is picked from a finding table's
// history: the rows of a finding share its key, and the first of them by
// the order is the finding's state. The latest views (findings_latest,
// ocsf_findings_latest: LatestViewQuery, OCSFLatestViewQuery) and the
// current-state tables (package current: findings_current,
// ocsf_findings_current) pick the same row; this declaration is the one
// place both cite.
//
// The order is total: after the times the views order by come source and
// finding_index, which together are unique per row of the history (a
// delivery and a finding's place in it), so two rows that tie on every
// time are ranked the same way by every engine and every run. Rows equal
// in all of these are copies of one delivery (a replay, an object and its
// compacted successor during compaction's grace): the same row.
type Newest struct {
	// Key are the columns the key is made of; KeySQL is the key in SQL
	// (the views' PARTITION BY).
	Key    []string
	KeySQL string
	// Combine, when set, makes the key one value out of the key columns'
	// values (present false: NULL), exactly as KeySQL does; nil: the key is
	// the tuple of the columns' values.
	Combine func(values []string, present []bool) (string, bool)
	// Order are the columns of the order, every one descending with NULLs
	// last: the newest first.
	Order []string
}

// OrderSQL is the order in SQL (Trino's and DuckDB's): every column of
// Order DESC NULLS LAST.
func (n *Newest) OrderSQL() string {
	var parts []string
	for _, c := range n.Order {
		parts = append(parts, c+" DESC NULLS LAST")
	}
	return strings.Join(parts, ", ")
}

// Tiebreak are the last columns of every finding table's order: unique per
// row of the history.
var Tiebreak = []string{"source", "finding_index"}

var (
	// findingsNewest is findings_latest's: per (product_arn, id), by
	// updated_at, then processed_at, then event_time (BatchUpdateFindings
	// changes keep UpdatedAt but arrive in later events).
	findingsNewest = &Newest{
		Key:    []string{"product_arn", "id"},
		KeySQL: "product_arn, id",
		Order:  append([]string{"updated_at", "processed_at", "event_time"}, Tiebreak...),
	}
	// ocsfNewest is ocsf_findings_latest's: per OCSFLatestKey, by
	// modified_time, then event_time.
	ocsfNewest = &Newest{
		Key:    []string{"metadata_uid", "account_uid", "product_uid", "finding_uid"},
		KeySQL: OCSFLatestKey,
		Combine: func(v []string, ok []bool) (string, bool) {
			// coalesce(metadata_uid, coalesce(account_uid, '') || '/' ||
			// coalesce(product_uid, '') || '/' || finding_uid)
			if ok[0] {
				return v[0], true
			}
			if !ok[3] {
				return "", false
			}
			return v[1] + "/" + v[2] + "/" + v[3], true
		},
		Order: append([]string{"modified_time", "event_time"}, Tiebreak...),
	}
)

// CurrentTables returns the tables that have a current-state table
// (Newest is set), in the order of Tables.
func CurrentTables() []AnyTable {
	var out []AnyTable
	for _, t := range tables {
		if t.Newest() != nil {
			out = append(out, t)
		}
	}
	return out
}

// CurrentTableNames returns the names of CurrentTables.
func CurrentTableNames() []string {
	var out []string
	for _, t := range CurrentTables() {
		out = append(out, t.Name())
	}
	return out
}

// CurrentSuffix ends the name of a table's current-state table:
// findings_current.
const CurrentSuffix = "_current"
