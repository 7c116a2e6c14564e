package schema

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestBigTextColumnsExist: every column without bounds names a text leaf
// column of its table's Parquet schema (a renamed column must not silently
// get statistics back, and a typo must not go unnoticed); the dead letters
// are no Parquet table.
func TestBigTextColumnsExist(t *testing.T) {
	for _, tb := range Tables() {
		s := tb.Schema()
		for _, path := range tb.NoBounds() {
			leaf, ok := s.Lookup(path...)
			if !ok {
				t.Errorf("%s: big-text column %s is not in the schema", tb.Name(), strings.Join(path, "."))
				continue
			}
			if leaf.Node.Type().Kind().String() != "BYTE_ARRAY" {
				t.Errorf("%s: big-text column %s is %v, not text", tb.Name(), strings.Join(path, "."), leaf.Node.Type().Kind())
			}
		}
	}
	if _, ok := Lookup(TableDeadLetters); ok {
		t.Errorf("%s: not a Parquet table, but declared as one", TableDeadLetters)
	}
}

func TestTableList(t *testing.T) {
	seen := map[string]bool{}
	all := AllTableNames()
	for i, name := range all {
		if seen[name] {
			t.Errorf("table %s declared twice", name)
		}
		seen[name] = true
		if name == TableDeadLetters {
			if i != len(all)-1 {
				t.Errorf("dead letters must be the last table")
			}
			continue
		}
		if got, ok := Lookup(name); !ok || got.Name() != name || Tables()[got.Index()] != got || got.Schema() == nil {
			t.Errorf("Lookup(%q) = %v, %v", name, got, ok)
		}
	}
	if _, ok := Lookup("nope"); ok {
		t.Error("Lookup found a table that does not exist")
	}
	if got := strings.Join(TableNames(), ","); got != "findings,insight_results,ocsf_findings" {
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

// TestUnitTimeTakeOrder: a unit's time is its first row's in the tables'
// take order (ASFF findings, OCSF findings, insight results), not in the
// order of Tables: the order the pipeline took rows in before the tables
// were declared, which decides cuts and dedup evictions of units that hold
// rows of several tables.
func TestUnitTimeTakeOrder(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 1, 1, h, 0, 0, 0, time.UTC) }
	out := Output{
		Insights: []InsightResult{{EventTime: at(1)}},
		OCSF:     []OCSFFinding{{Time: at(2), ModifiedTime: at(3)}},
	}
	if got := UnitTime(&out); !got.Equal(at(2)) {
		t.Errorf("insight results and OCSF findings: unit time %v, want the OCSF finding's %v", got, at(2))
	}
	out.Findings = []Finding{{UpdatedAt: at(4)}}
	if got := UnitTime(&out); !got.Equal(at(4)) {
		t.Errorf("with an ASFF finding: unit time %v, want its %v", got, at(4))
	}
	if got := UnitTime(&Output{}); !got.IsZero() {
		t.Errorf("no rows: unit time %v, want none", got)
	}
	var names []string
	for _, tb := range TakeOrder() {
		names = append(names, tb.Name())
	}
	if got := strings.Join(names, ","); got != "findings,ocsf_findings,insight_results" {
		t.Errorf("take order %s", got)
	}
}

// TestOutputReset: Reset leaves every field of an Output empty or zero (a
// field added to Output and not to Reset fails here), keeps the rows'
// memory, and allocates nothing.
func TestOutputReset(t *testing.T) {
	var out Output
	v := reflect.ValueOf(&out).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.Slice:
			f.Set(reflect.MakeSlice(f.Type(), 3, 3))
		case reflect.Int:
			f.SetInt(7)
		default:
			t.Fatalf("Output.%s is a %s: TestOutputReset does not know how to fill it", v.Type().Field(i).Name, f.Kind())
		}
	}
	capacity := cap(out.Findings)
	out.Reset()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() != 0 || f.Kind() == reflect.Int && f.Int() != 0 {
			t.Errorf("after Reset, Output.%s is %v", v.Type().Field(i).Name, f.Interface())
		}
	}
	if cap(out.Findings) != capacity {
		t.Errorf("Reset dropped the rows' memory: capacity %d, was %d", cap(out.Findings), capacity)
	}
	if n := testing.AllocsPerRun(100, out.Reset); n != 0 {
		t.Errorf("Reset allocates %.0f times", n)
	}
}
