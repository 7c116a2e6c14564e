package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// emfMetricRef is one metric an EMF line defines: its namespace, name and
// the dimension set (names, sorted and joined with ",") it is published by,
// with the line's values of those dimensions.
type emfMetricRef struct {
	Namespace, Name, Dims string
	DimValues             map[string]string
}

// parseEMF reads the EMF lines among a process's output lines (JSON lines
// with an _aws member; log lines are skipped) and checks each against the
// Embedded Metric Format specification: a Timestamp, CloudWatchMetrics
// directives with a Namespace, dimension sets whose members are strings of
// the line, and metrics whose members are numbers or arrays of at most 100
// numbers. It returns every metric the lines define.
func parseEMF(t *testing.T, out []byte) []emfMetricRef {
	t.Helper()
	var refs []emfMetricRef
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		raw := sc.Bytes()
		if !bytes.Contains(raw, []byte(`"_aws"`)) {
			continue
		}
		var line map[string]any
		if err := json.Unmarshal(raw, &line); err != nil {
			t.Errorf("an EMF line is not JSON: %v\n%s", err, raw)
			continue
		}
		aws, _ := line["_aws"].(map[string]any)
		if ts, ok := aws["Timestamp"].(float64); !ok || ts <= 0 {
			t.Errorf("EMF line without a Timestamp: %s", raw)
		}
		directives, _ := aws["CloudWatchMetrics"].([]any)
		if len(directives) == 0 {
			t.Errorf("EMF line without CloudWatchMetrics: %s", raw)
		}
		for _, d := range directives {
			dir, _ := d.(map[string]any)
			ns, _ := dir["Namespace"].(string)
			if ns == "" {
				t.Errorf("EMF directive without a Namespace: %s", raw)
			}
			sets, _ := dir["Dimensions"].([]any)
			metrics, _ := dir["Metrics"].([]any)
			if len(sets) == 0 || len(metrics) == 0 {
				t.Errorf("EMF directive without dimensions or metrics: %s", raw)
			}
			for _, m := range metrics {
				def, _ := m.(map[string]any)
				name, _ := def["Name"].(string)
				switch v := line[name].(type) {
				case float64:
				case []any:
					if len(v) == 0 || len(v) > emfMaxValues {
						t.Errorf("EMF metric %s has %d values (1 to %d allowed)", name, len(v), emfMaxValues)
					}
					for _, x := range v {
						if _, ok := x.(float64); !ok {
							t.Errorf("EMF metric %s has a value that is not a number: %v", name, x)
						}
					}
				default:
					t.Errorf("EMF metric %q has no numeric member in the line: %s", name, raw)
				}
				for _, s := range sets {
					names, _ := s.([]any)
					var dims []string
					values := map[string]string{}
					for _, n := range names {
						dn, _ := n.(string)
						v, ok := line[dn].(string)
						if !ok || v == "" {
							t.Errorf("EMF dimension %q has no string value in the line: %s", dn, raw)
						}
						dims = append(dims, dn)
						values[dn] = v
					}
					slices.Sort(dims)
					refs = append(refs, emfMetricRef{Namespace: ns, Name: name, Dims: strings.Join(dims, ","), DimValues: values})
				}
			}
		}
	}
	return refs
}

type fakeStream struct {
	leases   int
	buffered int64
}

func (f fakeStream) Leases() int     { return f.leases }
func (f fakeStream) Buffered() int64 { return f.buffered }

// TestTableRowsCoverEveryTable: every table of the lake has a row counter in
// the metrics (hublake_rows_written_total{table}, EMF RowsWritten by Table).
func TestTableRowsCoverEveryTable(t *testing.T) {
	families, err := newMetrics(&pipeline.Stats{}).reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range families {
		if f.GetName() != "hublake_rows_written_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "table" {
					got = append(got, l.GetValue())
				}
			}
		}
	}
	if !slices.Equal(got, schema.TableNames()) {
		t.Errorf("row counters for %v, the lake's tables are %v", got, schema.TableNames())
	}
}

// TestEMFLines: one interval's lines are valid EMF, carry the counters as
// deltas since the previous interval, the gauges as they are, every flush
// duration (in lines of at most 100 values), and the rows of each table.
func TestEMFLines(t *testing.T) {
	stats := &pipeline.Stats{}
	m := newMetrics(stats)
	m.bind(fakeStream{leases: 3, buffered: 42})
	m.setBehind("shardId-0", 1500)
	m.setBehind("shardId-1", 9000)
	var buf bytes.Buffer
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e := newEMF(&buf, "s", "w-1", m)
	stats.CheckpointFailures.Add(2)
	e.lastAt = start
	stats.Units.Add(10)
	stats.Rows(schema.Findings).Add(7)
	stats.StoreRetries.Add(4)
	for i := range 250 {
		stats.OnFlushDuration(time.Duration(i+1) * time.Millisecond)
	}
	if err := e.emit(start.Add(60 * time.Second)); err != nil {
		t.Fatal(err)
	}
	first := buf.String()
	stats.Units.Add(5)
	buf.Reset()
	if err := e.emit(start.Add(120 * time.Second)); err != nil {
		t.Fatal(err)
	}
	second := buf.String()

	refs := parseEMF(t, []byte(first))
	seen := map[string]bool{}
	for _, r := range refs {
		if r.Namespace != emfNamespace || r.DimValues["Stream"] != "s" {
			t.Errorf("%s is published as %s with %v", r.Name, r.Namespace, r.DimValues)
		}
		seen[r.Name+"/"+r.Dims] = true
	}
	for _, want := range []string{"Records/Stream", "InputBytes/Stream", "BytesWritten/Stream", "Duplicates/Stream", "DeadLetters/Stream",
		"CheckpointFailures/Stream", "StoreErrors/Stream", "StoreRetries/Stream", "MillisBehindLatest/Stream", "BufferedRecords/Stream",
		"LeasesHeld/Stream", "LeasesHeld/Stream,Worker", "WorkerSeconds/Stream", "FlushDuration/Stream", "RowsWritten/Stream,Table"} {
		if !seen[want] {
			t.Errorf("the EMF lines do not define %s", want)
		}
	}
	values := func(out string) (vals map[string][]any) {
		vals = map[string][]any{}
		for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
			var line map[string]any
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
			for k, v := range line {
				if k == "Table" {
					k = "Table=" + v.(string)
				}
				vals[k] = append(vals[k], v)
			}
			if tbl, ok := line["Table"].(string); ok {
				vals["RowsWritten/"+tbl] = append(vals["RowsWritten/"+tbl], line["RowsWritten"])
			}
		}
		return vals
	}
	v1, v2 := values(first), values(second)
	check := func(what string, got []any, want ...any) {
		t.Helper()
		if fmt.Sprint(got...) != fmt.Sprint(want...) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}
	check("Records", v1["Records"], 10)
	check("Records of the second interval", v2["Records"], 5)
	check("StoreRetries", v1["StoreRetries"], 4)
	check("CheckpointFailures", v1["CheckpointFailures"], 2)
	check("MillisBehindLatest", v1["MillisBehindLatest"], 9000)
	check("BufferedRecords", v1["BufferedRecords"], 42)
	check("LeasesHeld", v1["LeasesHeld"], 3)
	check("WorkerSeconds", v2["WorkerSeconds"], 60)
	check("findings rows", v1["RowsWritten/findings"], 7)
	check("findings rows of the second interval", v2["RowsWritten/findings"], 0)
	check("insight result rows", v1["RowsWritten/insight_results"], 0)
	var durations []float64
	for _, chunk := range v1["FlushDuration"] {
		for _, d := range chunk.([]any) {
			durations = append(durations, d.(float64))
		}
	}
	if len(v1["FlushDuration"]) != 3 || len(durations) != 250 || durations[0] != 1 || durations[249] != 250 {
		t.Errorf("flush durations in %d lines: %d values from %v; want 250 in 3 lines, 1 to 250 ms",
			len(v1["FlushDuration"]), len(durations), durations[:min(3, len(durations))])
	}
	if _, ok := v2["FlushDuration"]; ok {
		t.Error("the second interval repeats flush durations")
	}
}
