package files

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
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
	"github.com/hublake/hublake/schema"
)

// backfillDir runs Backfill over sources into a fresh directory lake.
func backfillDir(t testing.TB, out string, opts BackfillOptions, sources ...string) *pipeline.Stats {
	t.Helper()
	store, err := dirlake.New(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	opts.Store = store
	if opts.Stats == nil {
		opts.Stats = &pipeline.Stats{}
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
			if len(got) != want.findings || stats.Rows(schema.Findings).Load() != int64(want.findings) {
				t.Fatalf("findings rows: table has %d, stats %d, want %d", len(got), stats.Rows(schema.Findings).Load(), want.findings)
			}
			if want.findings > 0 {
				expected := lakecheck.ExpectedFindings(file, data)
				if len(expected) != want.findings {
					t.Fatalf("gjson finds %d findings in the sample, the test expects %d", len(expected), want.findings)
				}
				lakecheck.SortRows(got, "source", "finding_index")
				lakecheck.SortRows(expected, "source", "finding_index")
				for i := range expected {
					compareAll(t, expected[i]["id"].(string), schema.TableFindings, got[i], expected[i])
					checkRawAndDate(t, got[i], expected[i], dateOf(expected[i]))
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

// compareAll compares every column of a row read back (every column of the
// table's Parquet schema, at every depth) with its expectation.
func compareAll(t *testing.T, what, table string, got, want map[string]any) {
	t.Helper()
	lakecheck.CompareRow(t, what, got, want, lakecheck.Columns(table))
}

// checkRawAndDate: a row's raw_finding re-parses to the input finding, and
// its dt is the date the row belongs in.
func checkRawAndDate(t *testing.T, got, want map[string]any, dt string) {
	t.Helper()
	var a, b any
	if err := json.Unmarshal([]byte(got["raw_finding"].(string)), &a); err != nil {
		t.Fatalf("raw_finding does not parse: %v", err)
	}
	_ = json.Unmarshal([]byte(want["raw_finding"].(string)), &b)
	if !jsonEqual(a, b) {
		t.Errorf("raw_finding does not re-parse to the input finding")
	}
	if got["dt"] != dt {
		t.Errorf("dt = %v, want %v", got["dt"], dt)
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

// ocsfSampleCounts is the number of ocsf_findings rows each OCSF sample must
// become (SOURCES.md: one finding per file). A sample not listed fails the
// test: whoever adds one states what it holds.
var ocsfSampleCounts = map[string]int{
	"compliance__securityhub-cspm__cruxstack-slack-go-fixtures-1.json":                            1,
	"compliance__securityhub-cspm__elastic-integrations-test-findings-L1-SQS3.json":               1,
	"compliance__securityhub-cspm__elastic-integrations-test-findings-L3-IAM1.json":               1,
	"compliance__securityhub-cspm__elastic-integrations-test-findings-L8-SSM1.json":               1,
	"detection-event__guardduty__sumologic-docs.json":                                             1,
	"detection__guardduty__cruxstack-slack-go-fixtures-0.json":                                    1,
	"vulnerability__inspector__elastic-integrations-test-findings-L10-CVE-2025-47906-lambda.json": 1,
	"vulnerability__inspector__elastic-integrations-test-findings-L6-CVE-2025-8194-ec2.json":      1,
}

// TestOCSFSamplesReadBack puts every OCSF sample through backfill and reads
// the lake back with DuckDB: the exact number of ocsf_findings rows per
// sample (and nothing in the other tables), the column types Athena
// expects, every column of every row against gjson's reading of the source
// file, raw_finding re-parsing to the input finding, and dt.
func TestOCSFSamplesReadBack(t *testing.T) {
	files := lakecheck.OCSFSampleFiles(t)
	db := lakecheck.Open(t)
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(name, func(t *testing.T) {
			want, ok := ocsfSampleCounts[name]
			if !ok {
				t.Fatalf("OCSF sample %s is not in ocsfSampleCounts", name)
			}
			root := t.TempDir()
			stats := backfillDir(t, root, BackfillOptions{}, file)
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Rows(schema.Findings).Load() != 0 || stats.Rows(schema.InsightResults).Load() != 0 || stats.DeadLetters.Load() != 0 ||
				lakecheck.HasTable(root, "findings") || lakecheck.HasTable(root, "insight_results") || len(lakecheck.DeadLetters(t, root)) != 0 {
				t.Fatalf("an OCSF sample made ASFF rows, insight rows or dead letters: stats %d, %d, %d", stats.Rows(schema.Findings).Load(), stats.Rows(schema.InsightResults).Load(), stats.DeadLetters.Load())
			}
			if !lakecheck.HasTable(root, "ocsf_findings") {
				t.Fatal("no ocsf_findings object")
			}
			got := lakecheck.Rows(t, db, "SELECT * FROM "+lakecheck.TableGlob(root, "ocsf_findings"))
			if len(got) != want || stats.Rows(schema.OCSFFindings).Load() != int64(want) {
				t.Fatalf("ocsf_findings rows: table has %d, stats %d, want %d", len(got), stats.Rows(schema.OCSFFindings).Load(), want)
			}
			expected := lakecheck.ExpectedOCSF(file, data)
			if len(expected) != want {
				t.Fatalf("gjson finds %d findings in the sample, the test expects %d", len(expected), want)
			}
			lakecheck.SortRows(got, "source", "finding_index")
			lakecheck.SortRows(expected, "source", "finding_index")
			for i := range expected {
				if len(got[i]) != len(lakecheck.OCSFColumns)+1 {
					t.Errorf("the table has %d columns, TABLES.md %d and dt", len(got[i]), len(lakecheck.OCSFColumns))
				}
				compareAll(t, name, schema.TableOCSFFindings, got[i], expected[i])
				checkRawAndDate(t, got[i], expected[i], ocsfDateOf(expected[i]))
			}
			checkOCSFTypes(t, lakecheck.ColumnTypes(t, db, root, "ocsf_findings"))
		})
	}
}

func checkOCSFTypes(t *testing.T, types map[string]string) {
	t.Helper()
	const tz = "TIMESTAMP WITH TIME ZONE"
	want := map[string]string{
		"event_time": tz, "time": tz, "created_time": tz, "modified_time": tz, "first_seen_time": tz, "last_seen_time": tz,
		"event_resources": "VARCHAR[]", "profiles": "VARCHAR[]", "types": "VARCHAR[]", "compliance_standards": "VARCHAR[]",
		"finding_index": "INTEGER", "class_uid": "INTEGER", "severity_id": "INTEGER", "status_id": "INTEGER", "type_uid": "BIGINT",
		"account_uid": "VARCHAR", "metadata_uid": "VARCHAR", "raw_finding": "VARCHAR", "dt": "VARCHAR",
		"resources": `STRUCT("type" VARCHAR, uid VARCHAR, uid_alt VARCHAR, "name" VARCHAR, region VARCHAR, cloud_partition VARCHAR, owner_account_uid VARCHAR, tags MAP(VARCHAR, VARCHAR), data_json VARCHAR)[]`,
		"vulnerabilities": "STRUCT(cve_uid VARCHAR, title VARCHAR, severity VARCHAR, cvss_base_score DOUBLE, cvss_vector VARCHAR, epss_score DOUBLE, " +
			"is_fix_available BOOLEAN, is_exploit_available BOOLEAN, fix_coverage VARCHAR, " +
			"affected_packages STRUCT(\"name\" VARCHAR, \"version\" VARCHAR, fixed_in_version VARCHAR, package_manager VARCHAR, architecture VARCHAR)[], \"references\" VARCHAR[])[]",
	}
	for col, typ := range want {
		if types[col] != typ {
			t.Errorf("ocsf_findings.%s is %s, want %s", col, types[col], typ)
		}
	}
}

// ocsfDateOf is the dt an OCSF row belongs in: the event's date, else the
// finding's time's, else its modified_time's.
func ocsfDateOf(row map[string]any) string {
	for _, c := range []string{"event_time", "time", "modified_time"} {
		if t, ok := row[c].(time.Time); ok {
			return t.UTC().Format(time.DateOnly)
		}
	}
	return ""
}
