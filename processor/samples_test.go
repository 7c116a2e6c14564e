package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/sinks"
)

// backfillDir runs Backfill over sources into a fresh directory lake.
func backfillDir(t testing.TB, out string, opts BackfillOptions, sources ...string) *Stats {
	t.Helper()
	store, err := sinks.NewDir(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts.Store = store
	if opts.Stats == nil {
		opts.Stats = &Stats{}
	}
	if err := Backfill(ctx, Inputs(ctx, sources, nil, nil), opts); err != nil {
		t.Fatalf("backfill: %v", err)
	}
	return opts.Stats
}

// sampleCounts is what each shared sample must become. Every sample not
// listed holds exactly one finding that must become one row.
var sampleCounts = map[string]struct{ findings, insights, dead int }{
	// The finding itself is intact; the stray "]}" after it (left over from a
	// GetFindings response) is one dead letter.
	"asff__health__docs.INVALID.txt":                           {1, 0, 1},
	"asff__trivy_secrets__golden.json":                         {2, 0, 0},
	"batch__prowler_3.3.0_731_findings_1.6MB__defectdojo.json": {731, 0, 0},
	"event_custom_action__2findings_multiselect__asr.json":     {2, 0, 0},
	"event_insight_results__docs_TEMPLATE.json":                {0, 2, 0},
}

// TestSamplesReadBack puts every shared sample through backfill and reads the
// lake back with DuckDB: exact counts per sample, the column types Athena
// expects, and the value of every core column of every row against gjson's
// reading of the source file.
func TestSamplesReadBack(t *testing.T) {
	files := lakecheck.SampleFiles(t)
	db := lakecheck.Open(t)
	checkedTypes := false
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, ok := sampleCounts[name]
			if !ok {
				want.findings = 1
			}
			root := t.TempDir()
			stats := backfillDir(t, root, BackfillOptions{}, file)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}

			var got []map[string]any
			if lakecheck.HasTable(root, "findings") {
				got = lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(root, "findings"))
			}
			if len(got) != want.findings || stats.Findings.Load() != int64(want.findings) {
				t.Fatalf("findings rows: table has %d, stats %d, want %d", len(got), stats.Findings.Load(), want.findings)
			}
			if want.findings > 0 {
				expected := lakecheck.ExpectedFindings(file, data)
				if len(expected) != want.findings {
					t.Fatalf("gjson finds %d findings in the sample, the test expects %d", len(expected), want.findings)
				}
				lakecheck.SortRows(got, "source", "finding_index")
				lakecheck.SortRows(expected, "source", "finding_index")
				for i := range expected {
					lakecheck.CompareRow(t, expected[i]["id"].(string), got[i], expected[i], lakecheck.CoreColumns)
					var a, b any
					if err := json.Unmarshal([]byte(got[i]["raw_finding"].(string)), &a); err != nil {
						t.Fatalf("raw_finding does not parse: %v", err)
					}
					_ = json.Unmarshal([]byte(expected[i]["raw_finding"].(string)), &b)
					if !jsonEqual(a, b) {
						t.Errorf("raw_finding does not re-parse to the input finding")
					}
					if dt := got[i]["dt"]; dt != dateOf(expected[i]) {
						t.Errorf("dt = %v, want %v", dt, dateOf(expected[i]))
					}
				}
				if !checkedTypes {
					checkedTypes = true
					checkFindingTypes(t, lakecheck.ColumnTypes(t, db, root, "findings"))
				}
			}

			var insights []map[string]any
			if lakecheck.HasTable(root, "insight_results") {
				insights = lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(root, "insight_results"))
			}
			if len(insights) != want.insights {
				t.Fatalf("insight rows: %d, want %d", len(insights), want.insights)
			}
			if want.insights > 0 {
				expected := lakecheck.ExpectedInsights(file, data)
				lakecheck.SortRows(insights, "result_index")
				for i := range expected {
					lakecheck.CompareRow(t, "insight", insights[i], expected[i], lakecheck.InsightColumns)
				}
				types := lakecheck.ColumnTypes(t, db, root, "insight_results")
				for col, typ := range map[string]string{"event_time": "TIMESTAMP WITH TIME ZONE", "result_count": "BIGINT", "number_of_results": "VARCHAR", "dt": "VARCHAR"} {
					if types[col] != typ {
						t.Errorf("insight_results.%s is %s, want %s", col, types[col], typ)
					}
				}
			}

			dead := lakecheck.DeadLetters(t, root)
			if len(dead) != want.dead || stats.DeadLetters.Load() != int64(want.dead) {
				t.Fatalf("dead letters: %d in the lake, stats %d, want %d", len(dead), stats.DeadLetters.Load(), want.dead)
			}
			for _, d := range dead {
				if d.Reason == "" || len(d.Data) == 0 || !strings.HasPrefix(d.Source, "file:"+file+"#") {
					t.Errorf("dead letter lacks a reason, its data or its source: %+v", d)
				}
				if !bytes.Contains(data, d.Data) {
					t.Errorf("dead letter data is not the original bytes: %q", d.Data)
				}
			}
		})
	}
}

func checkFindingTypes(t *testing.T, types map[string]string) {
	t.Helper()
	want := map[string]string{
		"event_time": "TIMESTAMP WITH TIME ZONE", "created_at": "TIMESTAMP WITH TIME ZONE",
		"updated_at": "TIMESTAMP WITH TIME ZONE", "processed_at": "TIMESTAMP WITH TIME ZONE",
		"types": "VARCHAR[]", "event_resources": "VARCHAR[]", "resource_ids": "VARCHAR[]",
		"product_fields": "MAP(VARCHAR, VARCHAR)", "user_defined_fields": "MAP(VARCHAR, VARCHAR)",
		"severity_normalized": "INTEGER", "finding_index": "INTEGER",
		"aws_account_id": "VARCHAR", "raw_finding": "VARCHAR", "dt": "VARCHAR",
		"resources": `STRUCT("type" VARCHAR, id VARCHAR, "partition" VARCHAR, region VARCHAR, tags MAP(VARCHAR, VARCHAR), details_json VARCHAR)[]`,
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("findings.%s is %s, want %s", col, types[col], typ)
		}
	}
	for _, c := range lakecheck.CoreColumns {
		if _, ok := types[c]; !ok {
			t.Errorf("core column %s is missing", c)
		}
	}
}

// dateOf is the dt a row belongs in: the event's date, else UpdatedAt's.
func dateOf(row map[string]any) string {
	t, ok := row["event_time"].(time.Time)
	if !ok {
		t = row["updated_at"].(time.Time)
	}
	return t.UTC().Format(time.DateOnly)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// collect lists local sources into a slice.
func collect(ctx context.Context, sources []string) ([]Input, error) {
	var out []Input
	for in, err := range Inputs(ctx, sources, nil, nil) {
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}
