package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/current"
)

// TestCurrentEMF: one Embedded Metric Format line per table (namespace
// hublake, by Table) with CurrentSnapshotAgeSeconds (since the listing of
// the last refresh that left the snapshot up to date), CurrentRows and
// CurrentRefreshErrors; a table without a snapshot has only the errors; a
// table the run did not reach counts as an error.
func TestCurrentEMF(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	sums := []current.TableSummary{
		{Table: "findings", Outcome: current.UpToDate, Snapshot: "s1", Rows: 42, Fresh: now.Add(-90 * time.Second)},
		{Table: "ocsf_findings", Outcome: current.Failed, Err: errors.New("x")},
	}
	var b bytes.Buffer
	if err := writeCurrentEMF(&b, []string{"findings", "ocsf_findings"}, sums, errors.New("x"), "s3://bucket/lake", now); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two lines:\n%s", b.String())
	}
	want := []struct {
		metrics map[string]float64
		names   []any
	}{
		{map[string]float64{"CurrentSnapshotAgeSeconds": 90, "CurrentRows": 42, "CurrentRefreshErrors": 0}, []any{"CurrentRefreshErrors", "CurrentSnapshotAgeSeconds", "CurrentRows"}},
		{map[string]float64{"CurrentRefreshErrors": 1}, []any{"CurrentRefreshErrors"}},
	}
	for i, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		for k, v := range want[i].metrics {
			if m[k] != v {
				t.Errorf("line %d: %s = %v, want %v", i, k, m[k], v)
			}
		}
		cw := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
		var names []any
		for _, d := range cw["Metrics"].([]any) {
			names = append(names, d.(map[string]any)["Name"])
		}
		if cw["Namespace"] != "hublake" || m["Table"] != sums[i].Table || !reflect.DeepEqual(cw["Dimensions"], []any{[]any{"Lake", "Table"}}) || !reflect.DeepEqual(names, want[i].names) {
			t.Errorf("line %d: %v", i, m)
		}
	}
	b.Reset()
	if err := writeCurrentEMF(&b, []string{"findings", "ocsf_findings"}, sums[:1], errors.New("interrupted"), "l", now); err != nil || !strings.Contains(strings.Split(b.String(), "\n")[1], `"CurrentRefreshErrors":1`) {
		t.Errorf("a table the run did not reach: %v\n%s", err, b.String())
	}
}
