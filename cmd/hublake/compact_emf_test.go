package main

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/hublake/hublake/compact"
)

// TestCompactEMF: the run's metrics are one Embedded Metric Format line
// (namespace hublake, by Lake) with the four documented metrics.
func TestCompactEMF(t *testing.T) {
	var b bytes.Buffer
	s := &compact.Summary{Compacted: 3, ObjectsIn: 120, BytesIn: 1 << 20, Failed: 1}
	if err := writeCompactEMF(&b, s, "s3://bucket/lake", time.UnixMilli(1700000000000)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b.String())
	}
	want := map[string]float64{"CompactionRuns": 3, "CompactedObjects": 120, "CompactionBytes": 1 << 20, "CompactionErrors": 1}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %v", k, line[k], v)
		}
	}
	cw := line["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)
	if cw["Namespace"] != "hublake" || line["Lake"] != "s3://bucket/lake" || !reflect.DeepEqual(cw["Dimensions"], []any{[]any{"Lake"}}) || len(cw["Metrics"].([]any)) != 4 {
		t.Errorf("metric directive %v", cw)
	}
}
