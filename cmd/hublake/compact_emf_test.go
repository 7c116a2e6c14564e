package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/hublake/hublake/compact"
)

// TestCompactEMF: the run's metrics are one Embedded Metric Format line
// (namespace hublake, by Lake) with the five documented metrics;
// CompactionRuns is 1 in every run's line, one that compacted nothing
// included, and a run that could not complete counts as an error.
func TestCompactEMF(t *testing.T) {
	line := func(s *compact.Summary, runErr error) map[string]any {
		t.Helper()
		var b bytes.Buffer
		if err := writeCompactEMF(&b, s, runErr, "s3://bucket/lake", time.UnixMilli(1700000000000)); err != nil {
			t.Fatal(err)
		}
		if bytes.Count(b.Bytes(), []byte("\n")) != 1 {
			t.Fatalf("not one line:\n%s", b.String())
		}
		var m map[string]any
		if err := json.Unmarshal(b.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, b.String())
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		s      *compact.Summary
		runErr error
		want   map[string]float64
	}{
		{"compacted", &compact.Summary{Partitions: 5, Compacted: 3, ObjectsIn: 120, BytesIn: 1 << 20, Failed: 1}, nil,
			map[string]float64{"CompactionRuns": 1, "CompactedPartitions": 3, "CompactedObjects": 120, "CompactionBytes": 1 << 20, "CompactionErrors": 1}},
		{"nothing to do", &compact.Summary{Partitions: 4, UpToDate: 4}, nil,
			map[string]float64{"CompactionRuns": 1, "CompactedPartitions": 0, "CompactedObjects": 0, "CompactionBytes": 0, "CompactionErrors": 0}},
		{"did not complete", &compact.Summary{Compacted: 1, ObjectsIn: 7, BytesIn: 700}, errors.New("list findings: AccessDenied"),
			map[string]float64{"CompactionRuns": 1, "CompactedPartitions": 1, "CompactedObjects": 7, "CompactionBytes": 700, "CompactionErrors": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := line(tc.s, tc.runErr)
			for k, v := range tc.want {
				if m[k] != v {
					t.Errorf("%s = %v, want %v", k, m[k], v)
				}
			}
			cw := m["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
			var names []any
			for _, d := range cw["Metrics"].([]any) {
				names = append(names, d.(map[string]any)["Name"])
			}
			if cw["Namespace"] != "hublake" || m["Lake"] != "s3://bucket/lake" || !reflect.DeepEqual(cw["Dimensions"], []any{[]any{"Lake"}}) ||
				!reflect.DeepEqual(names, []any{"CompactionRuns", "CompactedPartitions", "CompactedObjects", "CompactionBytes", "CompactionErrors"}) {
				t.Errorf("metric directive %v", cw)
			}
		})
	}
}
