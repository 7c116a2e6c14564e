package files

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/schema"
)

// ocsfEvent builds a Findings Imported V2 event around one OCSF finding.
func ocsfEvent(t testing.TB, id, at string, finding map[string]any) []byte {
	t.Helper()
	ev := map[string]any{
		"version": "0", "id": id, "detail-type": "Findings Imported V2", "source": "aws.securityhub",
		"account": "111122223333", "time": at, "region": "us-east-1",
		"resources": []string{finding["metadata"].(map[string]any)["uid"].(string)},
		"detail":    map[string]any{"findings": []any{finding}},
	}
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ocsfFinding is a CSPM control finding as Security Hub sends it, in the
// state an analyst left it: modified is finding_info.modified_time (and
// time), which BatchUpdateFindingsV2 does not move.
func ocsfFinding(uid string, modified time.Time, status, severity, comment string) map[string]any {
	ms := modified.UnixMilli()
	sevID := map[string]int{"Informational": 1, "Low": 2, "Medium": 3, "High": 4, "Critical": 5}[severity]
	f := map[string]any{
		"activity_id": 2, "activity_name": "Update", "category_name": "Findings", "category_uid": 2,
		"class_name": "Compliance Finding", "class_uid": 2003,
		"cloud":      map[string]any{"account": map[string]any{"uid": "111122223333"}, "provider": "AWS", "region": "us-east-1"},
		"compliance": map[string]any{"control": "S3.8", "standards": []string{"standards/aws-foundational-security-best-practices/v/1.0.0"}, "status": "Fail", "status_id": 3},
		"finding_info": map[string]any{
			"created_time": ms - 86400000, "modified_time": ms, "modified_time_dt": modified.UTC().Format("2006-01-02T15:04:05.000Z"),
			"title": "S3 general purpose buckets should block public access", "types": []string{"Posture Management"},
			"uid": "arn:aws:securityhub:us-east-1:111122223333:security-control/S3.8/finding/" + uid,
		},
		"metadata": map[string]any{
			"product":  map[string]any{"name": "Security Hub", "uid": "arn:aws:securityhub:us-east-1::productv2/aws/securityhub", "vendor_name": "AWS"},
			"profiles": []string{"cloud", "datetime"}, "uid": "meta-" + uid, "version": "1.6.0",
		},
		"resources": []any{map[string]any{"type": "AWS::S3::Bucket", "uid": "arn:aws:s3:::bucket-" + uid, "region": "us-east-1"}},
		"severity":  severity, "severity_id": sevID, "status": status, "status_id": map[string]int{"New": 1, "In Progress": 2, "Suppressed": 3, "Resolved": 4}[status],
		"time": ms, "type_name": "Compliance Finding: Update", "type_uid": 200302,
	}
	if comment != "" {
		f["comment"] = comment
	}
	return f
}

// TestDedupOCSF: OCSF findings are keyed like ASFF ones (event kind and
// content): a redelivery collapses, while a status, severity or comment
// change that keeps time and modified_time (BatchUpdateFindingsV2, an
// automation rule) is a row of its own.
func TestDedupOCSF(t *testing.T) {
	mod := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	e1 := ocsfEvent(t, "e1", "2025-06-01T09:00:05Z", ocsfFinding("a", mod, "New", "High", ""))
	in := writeLines(t,
		e1,
		e1, // EventBridge retry: same bytes
		ocsfEvent(t, "e2", "2025-06-01T10:00:00Z", ocsfFinding("a", mod, "In Progress", "High", "")),                      // status, same modified_time
		ocsfEvent(t, "e3", "2025-06-01T11:00:00Z", ocsfFinding("a", mod, "In Progress", "Critical", "")),                  // severity
		ocsfEvent(t, "e4", "2025-06-01T12:00:00Z", ocsfFinding("a", mod, "In Progress", "Critical", "accepted by alice")), // comment
		ocsfEvent(t, "e5", "2025-06-01T12:00:00Z", ocsfFinding("a", mod, "In Progress", "Critical", "accepted by alice")), // another event, same content
	)
	root := t.TempDir()
	stats := backfillDir(t, root, BackfillOptions{}, in)
	db := lakecheck.Open(t)
	rows := lakecheck.Rows(t, db, "SELECT event_id, status, severity, comment FROM "+lakecheck.TableGlob(root, "ocsf_findings")+" ORDER BY source")
	var got []string
	for _, r := range rows {
		got = append(got, fmt.Sprint(r["event_id"], " ", r["status"], " ", r["severity"], " ", r["comment"]))
	}
	want := []string{"e1 New High <nil>", "e2 In Progress High <nil>", "e3 In Progress Critical <nil>", "e4 In Progress Critical accepted by alice"}
	if !slices.Equal(got, want) {
		t.Fatalf("rows %q, want %q", got, want)
	}
	if stats.Duplicates.Load() != 2 || stats.Rows(schema.OCSFFindings).Load() != 4 {
		t.Errorf("duplicates %d, OCSF rows %d; want 2 (the retry of e1, e5 with e4's content) and 4", stats.Duplicates.Load(), stats.Rows(schema.OCSFFindings).Load())
	}
}

// lakeViews makes a local lake queryable in DuckDB under the Athena names
// (findings, insight_results, ocsf_findings as views over the Parquet
// objects) and creates the lake's views with the very statements `hublake
// ddl` prints.
func lakeViews(t testing.TB, db *sql.DB, root string) { lakecheck.CreateViews(t, db, root) }

// TestViewsInDuckDB runs the views `hublake ddl` prints over a lake that
// holds both formats (every ASFF and OCSF sample, and an OCSF finding an
// analyst changed): findings_all returns the rows of both tables with the
// shared columns filled in one vocabulary, and the latest views keep one row
// per finding, the analyst's change among them.
func TestViewsInDuckDB(t *testing.T) {
	samples := lakecheck.SampleFiles(t)
	var inputs []string
	for _, f := range samples {
		if !strings.Contains(f, "batch__") { // 731 Prowler findings add nothing here
			inputs = append(inputs, f)
		}
	}
	inputs = append(inputs, lakecheck.OCSFSampleFiles(t)...)
	mod := time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)
	inputs = append(inputs, writeLines(t,
		ocsfEvent(t, "analyst-1", "2025-06-01T09:00:05Z", ocsfFinding("changed", mod, "New", "High", "")),
		ocsfEvent(t, "analyst-2", "2025-06-02T08:00:00Z", ocsfFinding("changed", mod, "Suppressed", "High", "false positive: test bucket")),
		ocsfEvent(t, "other-1", "2025-06-01T09:00:05Z", ocsfFinding("other", mod, "In Progress", "Low", "")),
	))
	root := t.TempDir()
	stats := backfillDir(t, root, BackfillOptions{}, inputs...)
	db := lakecheck.Open(t)
	lakeViews(t, db, root)

	nASFF, nOCSF := stats.Rows(schema.Findings).Load(), stats.Rows(schema.OCSFFindings).Load()
	if nASFF < 20 || nOCSF != int64(len(ocsfSampleCounts))+3 {
		t.Fatalf("the lake holds %d ASFF and %d OCSF rows; the test needs both (want %d OCSF)", nASFF, nOCSF, len(ocsfSampleCounts)+3)
	}
	cols := lakecheck.ColumnTypes(t, db, root, "ocsf_findings") // the table; the view's below
	if cols["modified_time"] != "TIMESTAMP WITH TIME ZONE" {
		t.Errorf("ocsf_findings.modified_time is %s", cols["modified_time"])
	}
	var names []string
	viewTypes := map[string]string{}
	for _, r := range lakecheck.Rows(t, db, "DESCRIBE SELECT * FROM findings_all") {
		names = append(names, fmt.Sprint(r["column_name"]))
		viewTypes[fmt.Sprint(r["column_name"])] = fmt.Sprint(r["column_type"])
	}
	if want := "format,finding_id,product_name,account_id,region,severity,status,compliance_status,compliance_control,title,resource_type,resource_id,created_at,updated_at,event_time,dt"; strings.Join(names, ",") != want {
		t.Errorf("findings_all columns %v, want %s", names, want)
	}
	for _, c := range []string{"created_at", "updated_at", "event_time"} {
		if viewTypes[c] != "TIMESTAMP WITH TIME ZONE" {
			t.Errorf("findings_all.%s is %s", c, viewTypes[c])
		}
	}

	// Every row of each table is in the view, with the shared columns taken
	// from its own columns, severity and status in one vocabulary: the two
	// multisets of rows are equal.
	check := func(format, table, q string) {
		t.Helper()
		view := `SELECT * EXCLUDE (format) FROM findings_all WHERE format = '` + format + `'`
		for _, diff := range []string{view + " EXCEPT ALL " + q, q + " EXCEPT ALL " + view} {
			if rows := lakecheck.Rows(t, db, diff); len(rows) > 0 {
				t.Errorf("findings_all %s rows and %s differ: %s\n%v", format, table, diff, rows)
			}
		}
		if n, want := lakecheck.Int(t, db, `SELECT count(*) FROM (`+view+`)`), lakecheck.Int(t, db, `SELECT count(*) FROM `+table); n != want {
			t.Errorf("findings_all has %d %s rows, %s %d", n, format, table, want)
		}
	}
	check("asff", "findings", `SELECT id, product_name, aws_account_id, region, severity_label, workflow_status, compliance_status,
		compliance_security_control_id, title, resource_type, resource_id, created_at, updated_at, event_time, dt FROM findings`)
	check("ocsf", "ocsf_findings", `SELECT finding_uid, product_name, account_uid, region, upper(severity), upper(replace(status, ' ', '_')),
		CASE compliance_status WHEN 'Pass' THEN 'PASSED' WHEN 'Fail' THEN 'FAILED' ELSE upper(compliance_status) END,
		compliance_control, title, resource_type, resource_uid, created_time, modified_time, event_time, dt FROM ocsf_findings`)

	// Filled: the samples carry these, in both formats.
	for _, c := range []string{"format", "finding_id", "product_name", "region", "severity", "title", "resource_type", "resource_id", "updated_at", "dt"} {
		for _, format := range []string{"asff", "ocsf"} {
			if n := lakecheck.Int(t, db, `SELECT count(*) FROM findings_all WHERE format = ? AND "`+c+`" IS NOT NULL`, format); n == 0 {
				t.Errorf("findings_all.%s is never filled for %s rows", c, format)
			}
		}
	}
	if bad := lakecheck.Rows(t, db, `SELECT format, finding_id, severity FROM findings_all WHERE severity NOT IN ('CRITICAL', 'HIGH', 'MEDIUM', 'LOW', 'INFORMATIONAL')`); len(bad) > 0 {
		t.Errorf("severities outside the five: %v", bad)
	}
	sample := lakecheck.Rows(t, db, `SELECT severity, status, compliance_status, compliance_control, account_id, resource_type FROM findings_all
		WHERE finding_id = 'arn:aws:securityhub:us-east-1:123456789012:subscription/cis-aws-foundations-benchmark/v/1.2.0/2.5/finding/aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa'`)
	if want := []map[string]any{{"severity": "CRITICAL", "status": "NEW", "compliance_status": "FAILED", "compliance_control": "Config.1",
		"account_id": "123456789012", "resource_type": "AWS::::Account"}}; fmt.Sprint(sample) != fmt.Sprint(want) {
		t.Errorf("the CSPM Config.1 sample in findings_all: %v, want %v", sample, want)
	}
	if got := lakecheck.Int(t, db, `SELECT count(*) FROM findings_all WHERE format = 'ocsf' AND status = 'SUPPRESSED'`); got != 2 {
		t.Errorf("%d OCSF rows SUPPRESSED (the sample and the analyst's change), want 2", got)
	}

	// The latest views: one row per finding; the analyst's later event wins
	// though modified_time did not move.
	latest := lakecheck.Rows(t, db, `SELECT event_id, status, comment FROM ocsf_findings_latest WHERE metadata_uid = 'meta-changed'`)
	if len(latest) != 1 || latest[0]["event_id"] != "analyst-2" || latest[0]["status"] != "Suppressed" || latest[0]["comment"] != "false positive: test bucket" {
		t.Errorf("ocsf_findings_latest for the changed finding: %v, want the analyst's Suppressed row", latest)
	}
	if n, want := lakecheck.Int(t, db, `SELECT count(*) FROM ocsf_findings_latest`), lakecheck.Int(t, db,
		`SELECT count(DISTINCT coalesce(metadata_uid, account_uid || '/' || product_uid || '/' || finding_uid)) FROM ocsf_findings`); n != want || n != nOCSF-1 {
		t.Errorf("ocsf_findings_latest has %d rows, want one per finding (%d, the table less the superseded one: %d)", n, want, nOCSF-1)
	}
	if n, want := lakecheck.Int(t, db, `SELECT count(*) FROM findings_latest`), lakecheck.Int(t, db, `SELECT count(DISTINCT (product_arn, id)) FROM findings`); n != want {
		t.Errorf("findings_latest has %d rows, want one per finding (%d)", n, want)
	}
}
