package schema

import (
	"strings"
	"testing"
	"time"
)

// TestBigTextColumnsExist: every big-text path names a leaf column of its
// table's Parquet schema (a renamed column must not silently get statistics
// back, and a typo must not go unnoticed).
func TestBigTextColumnsExist(t *testing.T) {
	for _, tb := range AllTables() {
		if !tb.Parquet {
			if tb.Schema() != nil || len(tb.BigText) > 0 {
				t.Errorf("%s: not a Parquet table, but has a schema or big-text columns", tb.Name)
			}
			continue
		}
		s := tb.Schema()
		for _, path := range tb.BigText {
			leaf, ok := s.Lookup(path...)
			if !ok {
				t.Errorf("%s: big-text column %s is not in the schema", tb.Name, strings.Join(path, "."))
				continue
			}
			if leaf.Node.Type().Kind().String() != "BYTE_ARRAY" {
				t.Errorf("%s: big-text column %s is %v, not text", tb.Name, strings.Join(path, "."), leaf.Node.Type().Kind())
			}
		}
	}
}

func TestTableList(t *testing.T) {
	seen := map[string]bool{}
	all := AllTables()
	for i, tb := range all {
		if seen[tb.Name] {
			t.Errorf("table %s declared twice", tb.Name)
		}
		seen[tb.Name] = true
		if got, ok := LookupTable(tb.Name); !ok || got.Name != tb.Name {
			t.Errorf("LookupTable(%q) = %v, %v", tb.Name, got.Name, ok)
		}
		if tb.Name == TableDeadLetters && i != len(all)-1 {
			t.Errorf("dead letters must be the last table")
		}
	}
	if _, ok := LookupTable("nope"); ok {
		t.Error("LookupTable found a table that does not exist")
	}
	if got := strings.Join(Tables(), ","); got != "findings,insight_results,ocsf_findings" {
		t.Errorf("Tables() = %s", got)
	}
}

func TestPartitionRange(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		t    time.Time
		want string
		ok   bool
	}{
		{time.Date(2014, 12, 31, 23, 59, 59, 0, time.UTC), "", false},
		{time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), "2015-01-01", true},
		{time.Date(2015, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600)), "", false}, // 2014-12-31T23:00Z
		{now.Add(PartitionRangeAhead), "2026-12-02", true},
		{now.Add(PartitionRangeAhead + time.Millisecond), "", false},
		{time.Date(999, 1, 1, 0, 0, 0, 0, time.UTC), "", false},
		{time.Time{}, "", false},
	} {
		got, ok := PartitionDate(tc.t, NotAfter(now))
		if got != tc.want || ok != tc.ok {
			t.Errorf("PartitionDate(%v) = %q, %v; want %q, %v", tc.t, got, ok, tc.want, tc.ok)
		}
	}
	if got := ProjectionRange(); got != "2015-01-01,NOW+1DAYS" {
		t.Errorf("ProjectionRange() = %q", got)
	}
}
