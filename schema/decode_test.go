package schema

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/tidwall/gjson"
)

// The cases below are small hand-made inputs in the shapes of the AWS Security
// Finding Format and of the EventBridge events on the Security Hub seed page
// (/work/shared/seed/securityhub-cloudwatch-events.ja.txt). Each case states
// what Decode must produce; the generic checks in checkOutput hold for every
// case.

const testSource = "kinesis:stream/shardId-000000000001/4960"

var (
	testRecordTime = time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	testNotAfter   = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	testOrigin     = Origin{Source: testSource, RecordTime: testRecordTime, NotAfter: testNotAfter}
)

// event wraps detail in an EventBridge envelope from aws.securityhub.
func event(detailType, time, resources, detail string) string {
	return `{"version":"0","id":"1a1111a1-b22b-3c33-444d-5555e5ee5555","detail-type":"` + detailType +
		`","source":"aws.securityhub","account":"111122223333","time":"` + time +
		`","region":"us-west-2","resources":[` + resources + `],"detail":` + detail + `}`
}

// imported wraps findings in a "Security Hub Findings - Imported" event.
func imported(findings ...string) string {
	return event(DetailImported, "2019-04-11T21:52:17Z", "", `{"findings":[`+strings.Join(findings, ",")+`]}`)
}

// minimal is the smallest finding that becomes a row, plus extra members.
func minimal(extra string) string {
	f := `{"Id":"f-1","ProductArn":"arn:aws:securityhub:us-west-2::product/aws/guardduty","UpdatedAt":"2024-05-06T07:08:09Z"`
	if extra != "" {
		f += "," + extra
	}
	return f + "}"
}

type decodeCase struct {
	name     string
	in       string
	origin   *Origin
	findings int
	insights int
	ocsf     int
	// dead lists one reason fragment per expected dead letter, in order.
	dead       []string
	unreadable int // -1: don't care
	check      func(t *testing.T, in string, out *Output)
}

func runDecodeCases(t *testing.T, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := testOrigin
			if tc.origin != nil {
				o = *tc.origin
			}
			in := []byte(tc.in)
			var out Output
			Decode(in, o, &out)
			if len(out.Findings) != tc.findings || len(out.Insights) != tc.insights || len(out.OCSF) != tc.ocsf || len(out.Dead) != len(tc.dead) {
				t.Fatalf("got %d findings, %d insights, %d OCSF findings, %d dead letters %q; want %d, %d, %d, %d",
					len(out.Findings), len(out.Insights), len(out.OCSF), len(out.Dead), reasons(&out), tc.findings, tc.insights, tc.ocsf, len(tc.dead))
			}
			for i, want := range tc.dead {
				if !strings.Contains(out.Dead[i].Reason, want) {
					t.Errorf("dead letter %d: reason %q does not say %q", i, out.Dead[i].Reason, want)
				}
			}
			if tc.unreadable >= 0 && out.Unreadable != tc.unreadable {
				t.Errorf("Unreadable = %d, want %d", out.Unreadable, tc.unreadable)
			}
			checkOutput(t, in, o, &out)
			if tc.check != nil {
				tc.check(t, tc.in, &out)
			}
		})
	}
}

func reasons(out *Output) []string {
	var r []string
	for _, d := range out.Dead {
		r = append(r, d.Reason)
	}
	return r
}

// subSlice reports whether sub lies inside whole's memory (shares it).
func subSlice(sub, whole []byte) bool {
	if len(sub) == 0 {
		return true
	}
	if len(whole) == 0 {
		return false
	}
	s := uintptr(unsafe.Pointer(unsafe.SliceData(sub)))
	w := uintptr(unsafe.Pointer(unsafe.SliceData(whole)))
	return s >= w && s+uintptr(len(sub)) <= w+uintptr(len(whole))
}

func subString(sub string, whole []byte) bool {
	return subSlice(unsafe.Slice(unsafe.StringData(sub), len(sub)), whole)
}

// holdsNothing reports whether in is an empty array or an empty Findings
// document (also inside a placebo recording), read with gjson: the only
// units that decode to nothing at all. It does not validate: the decoder's
// JSON reader, like gjson, lets control characters in strings pass.
func holdsNothing(in []byte) bool {
	r := gjson.ParseBytes(in)
	if r.IsArray() {
		return len(r.Array()) == 0
	}
	if !r.IsObject() || r.Get("detail-type").Exists() || r.Get("detail").Exists() {
		return false
	}
	for _, doc := range []gjson.Result{r, r.Get("data")} {
		f, lower := doc.Get("Findings"), doc.Get("findings")
		if (f.IsArray() || lower.IsArray()) && len(f.Array())+len(lower.Array()) == 0 {
			return true
		}
	}
	return false
}

// checkOutput asserts what holds for any input: rows carry the origin and a
// valid partition date, raw text and dead letter data point into the input,
// and reasons are short readable text.
func checkOutput(t testing.TB, in []byte, o Origin, out *Output) {
	t.Helper()
	if len(out.Findings)+len(out.Insights)+len(out.OCSF)+len(out.Dead) == 0 && !holdsNothing(in) {
		t.Errorf("input %.80q produced neither rows nor dead letters", in)
	}
	minDate := "2015-01-01"
	maxDate := "9999-12-31"
	if !o.NotAfter.IsZero() {
		maxDate = o.NotAfter.UTC().Format(time.DateOnly)
	}
	checkDate := func(what, d string) {
		t.Helper()
		if !isDate(d) || d < minDate || d > maxDate {
			t.Errorf("%s: dt %q is not a date in [%s, %s]", what, d, minDate, maxDate)
		}
	}
	// What every finding row of either table must be.
	checkFindingRow := func(what, source, raw string, index int32, kind, dt string) {
		t.Helper()
		if source != o.Source {
			t.Errorf("%s: source %q, want %q", what, source, o.Source)
		}
		if !subString(raw, in) {
			t.Errorf("%s: raw_finding is not a piece of the input", what)
		}
		if index < 0 {
			t.Errorf("%s: finding_index %d", what, index)
		}
		switch kind {
		case DetailImported, DetailCustomAction, DetailImportedV2, KindBackfill:
		default:
			t.Errorf("%s: event_detail_type %q", what, kind)
		}
		checkDate(what, dt)
	}
	for i, f := range out.Findings {
		what := fmt.Sprintf("finding row %d", i)
		if f.ID == "" || f.ProductARN == "" {
			t.Errorf("%s: a row needs Id and ProductArn, got %q, %q", what, f.ID, f.ProductARN)
		}
		checkFindingRow(what, f.Source, f.RawFinding, f.FindingIndex, f.EventDetailType, f.Date)
	}
	for i, f := range out.OCSF {
		what := fmt.Sprintf("OCSF row %d", i)
		if f.MetadataUID == "" && f.FindingUID == "" {
			t.Errorf("%s: a row needs metadata.uid or finding_info.uid", what)
		}
		for _, ts := range []time.Time{f.EventTime, f.Time, f.CreatedTime, f.ModifiedTime, f.FirstSeenTime, f.LastSeenTime} {
			if !ts.IsZero() && (ts.Location() != time.UTC || ts.Year() < 1 || ts.Year() > 9999) {
				t.Errorf("%s: timestamp %v is not a UTC time of years 1 to 9999", what, ts)
			}
		}
		checkFindingRow(what, f.Source, f.RawFinding, f.FindingIndex, f.EventDetailType, f.Date)
	}
	for i, r := range out.Insights {
		what := fmt.Sprintf("insight row %d", i)
		if r.InsightARN == "" {
			t.Errorf("%s: a row needs insightArn", what)
		}
		if r.Source != o.Source {
			t.Errorf("%s: source %q, want %q", what, r.Source, o.Source)
		}
		if !subString(r.RawDetail, in) {
			t.Errorf("%s: raw_detail is not a piece of the input", what)
		}
		checkDate(what, r.Date)
	}
	for i, d := range out.Dead {
		what := fmt.Sprintf("dead letter %d", i)
		if d.Source != o.Source {
			t.Errorf("%s: source %q, want %q", what, d.Source, o.Source)
		}
		if !subSlice(d.Data, in) {
			t.Errorf("%s: data is not a piece of the input", what)
		}
		if len(in) > 0 && len(d.Data) == 0 {
			t.Errorf("%s: empty data for a non-empty input", what)
		}
		if d.Reason == "" || len(d.Reason) > 600 || !utf8.ValidString(d.Reason) || strings.ContainsAny(d.Reason, "\n\r") {
			t.Errorf("%s: reason %q must be one short line of valid UTF-8", what, d.Reason)
		}
	}
}

func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, c := range []byte(s) {
		if i != 4 && i != 7 && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

func eqTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// A finding with every core field, pretty-printed the way producers write
// them (the raw text must keep this layout byte for byte).
const fullFinding = `{
    "SchemaVersion": "2018-10-08",
    "Id": "arn:aws:securityhub:us-west-2:111122223333:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.2/finding/0001",
    "ProductArn": "arn:aws:securityhub:us-west-2::product/aws/securityhub",
    "ProductName": "Security Hub",
    "CompanyName": "AWS",
    "GeneratorId": "aws-foundational-security-best-practices/v/1.0.0/S3.2",
    "AwsAccountId": "011122223333",
    "Region": "us-west-2",
    "Types": ["Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices"],
    "FirstObservedAt": "2024-05-01T10:00:00.000Z",
    "LastObservedAt": "2024-05-06T07:08:09.123Z",
    "CreatedAt": "2024-05-01T10:00:00.000Z",
    "UpdatedAt": "2024-05-06T07:08:09.123Z",
    "Severity": {"Label": "HIGH", "Normalized": 70, "Original": "HIGH"},
    "Title": "S3.2 S3 buckets should prohibit public read access",
    "Description": "This AWS control checks whether your S3 buckets allow public read access.",
    "Remediation": {"Recommendation": {"Text": "For directions on how to fix this issue, consult the documentation.", "Url": "https://docs.aws.amazon.com/console/securityhub/S3.2/remediation"}},
    "ProductFields": {"StandardsArn": "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0", "aws/securityhub/ProductName": "Security Hub"},
    "Resources": [
        {"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::example-bucket", "Partition": "aws", "Region": "us-west-2", "Tags": {"env": "prod"}, "Details": {"AwsS3Bucket": {"OwnerId": "abc", "CreatedAt": "2020-01-01T00:00:00.000Z"}}},
        {"Type": "AwsAccount", "Id": "AWS::::Account:111122223333", "Partition": "aws", "Region": "us-west-2"}
    ],
    "Compliance": {"Status": "FAILED", "SecurityControlId": "S3.2", "RelatedRequirements": ["NIST.800-53.r5 AC-3", "PCI DSS 1.2.1"]},
    "WorkflowState": "NEW",
    "Workflow": {"Status": "NEW"},
    "RecordState": "ACTIVE",
    "UserDefinedFields": {"team": "storage"}
}`

func TestDecodeShapes(t *testing.T) {
	customAction := event(DetailCustomAction, "2019-04-11T18:43:48Z",
		`"arn:aws:securityhub:us-west-1::product/aws/macie", "arn:aws:securityhub:us-west-1:111122223333:action/custom/send_to_ticketing"`,
		`{"actionName":"send_to_ticketing","actionDescription":"Send to the ticketing system","findings":[`+
			minimal(`"Title":"one"`)+`,  `+"\n  "+`{ "Id" : "f-2", "ProductArn" : "arn:aws:securityhub:us-west-1::product/aws/macie" , "UpdatedAt":"2024-05-06T07:08:09Z" }`+`]}`)
	// The insight event exactly as the seed page shows it.
	seedInsight := `{ "version": "0", "id": "1a1111a1-b22b-3c33-444d-5555e5ee5555", "detail-type": "Security Hub Insight Results", "source": "aws.securityhub", "account": "111122223333", "time": "2017-12-22T18:43:48Z", "region": "us-west-1", "resources": [ "arn:aws:securityhub:us-west-1:111122223333::product/aws/macie:us-west-1:222233334444:test/trigger/1ec9cf700ef6be062b19584e0b7d84ec/alert/f2893b211841" ], "detail": { "actionName":"name of the action", "actionDescription":"description of the action", "insightArn":"ARN of the insight", "insightName":"Name of the insight", "resultType":"ResourceAwsIamAccessKeyUserName", "number of results":"number of results, max of 100", "insightResults": [ {"result 1": 5}, {"result 2": 6} ] } }`

	runDecodeCases(t, []decodeCase{
		{
			name: "imported event", in: imported(fullFinding), findings: 1,
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "event_id", f.EventID, "1a1111a1-b22b-3c33-444d-5555e5ee5555")
				eqTime(t, "event_time", f.EventTime, utc("2019-04-11T21:52:17Z"))
				eq(t, "event_detail_type", f.EventDetailType, DetailImported)
				eq(t, "event_region", f.EventRegion, "us-west-2")
				eq(t, "event_account", f.EventAccount, "111122223333")
				eq(t, "event_resources", f.EventResources, []string{})
				eq(t, "action_arn", f.ActionARN, "")
				eq(t, "action_name", f.ActionName, "")
				eq(t, "finding_index", f.FindingIndex, int32(0))
				eq(t, "id", f.ID, "arn:aws:securityhub:us-west-2:111122223333:subscription/aws-foundational-security-best-practices/v/1.0.0/S3.2/finding/0001")
				eq(t, "product_arn", f.ProductARN, "arn:aws:securityhub:us-west-2::product/aws/securityhub")
				eq(t, "product_name", f.ProductName, "Security Hub")
				eq(t, "company_name", f.CompanyName, "AWS")
				eq(t, "generator_id", f.GeneratorID, "aws-foundational-security-best-practices/v/1.0.0/S3.2")
				eq(t, "aws_account_id", f.AwsAccountID, "011122223333")
				eq(t, "region", f.Region, "us-west-2")
				eq(t, "schema_version", f.SchemaVersion, "2018-10-08")
				eq(t, "types", f.Types, []string{"Software and Configuration Checks/Industry and Regulatory Standards/AWS-Foundational-Security-Best-Practices"})
				eqTime(t, "created_at", f.CreatedAt, utc("2024-05-01T10:00:00Z"))
				eqTime(t, "updated_at", f.UpdatedAt, utc("2024-05-06T07:08:09.123Z"))
				eqTime(t, "first_observed_at", f.FirstObservedAt, utc("2024-05-01T10:00:00Z"))
				eqTime(t, "last_observed_at", f.LastObservedAt, utc("2024-05-06T07:08:09.123Z"))
				eqTime(t, "processed_at", f.ProcessedAt, time.Time{})
				eq(t, "severity_label", f.SeverityLabel, "HIGH")
				eq(t, "severity_normalized", f.SeverityNormalized, ptr(int32(70)))
				eq(t, "severity_original", f.SeverityOriginal, "HIGH")
				eq(t, "title", f.Title, "S3.2 S3 buckets should prohibit public read access")
				eq(t, "description", f.Description, "This AWS control checks whether your S3 buckets allow public read access.")
				eq(t, "record_state", f.RecordState, "ACTIVE")
				eq(t, "workflow_status", f.WorkflowStatus, "NEW")
				eq(t, "compliance_status", f.ComplianceStatus, "FAILED")
				eq(t, "compliance_security_control_id", f.ComplianceSecurityControlID, "S3.2")
				eq(t, "compliance_related_requirements", f.ComplianceRelatedRequirements, []string{"NIST.800-53.r5 AC-3", "PCI DSS 1.2.1"})
				eq(t, "remediation_text", f.RemediationText, "For directions on how to fix this issue, consult the documentation.")
				eq(t, "remediation_url", f.RemediationURL, "https://docs.aws.amazon.com/console/securityhub/S3.2/remediation")
				eq(t, "resource_type", f.ResourceType, "AwsS3Bucket")
				eq(t, "resource_id", f.ResourceID, "arn:aws:s3:::example-bucket")
				eq(t, "resource_region", f.ResourceRegion, "us-west-2")
				eq(t, "resource_types", f.ResourceTypes, []string{"AwsS3Bucket", "AwsAccount"})
				eq(t, "resource_ids", f.ResourceIDs, []string{"arn:aws:s3:::example-bucket", "AWS::::Account:111122223333"})
				eq(t, "resources", f.Resources, []Resource{
					{Type: "AwsS3Bucket", ID: "arn:aws:s3:::example-bucket", Partition: "aws", Region: "us-west-2", Tags: map[string]string{"env": "prod"},
						DetailsJSON: `{"AwsS3Bucket": {"OwnerId": "abc", "CreatedAt": "2020-01-01T00:00:00.000Z"}}`},
					{Type: "AwsAccount", ID: "AWS::::Account:111122223333", Partition: "aws", Region: "us-west-2"},
				})
				eq(t, "product_fields", f.ProductFields, map[string]string{
					"StandardsArn":                "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0",
					"aws/securityhub/ProductName": "Security Hub",
				})
				eq(t, "user_defined_fields", f.UserDefinedFields, map[string]string{"team": "storage"})
				eq(t, "raw_finding", f.RawFinding, fullFinding)
				eq(t, "source", f.Source, testSource)
				eq(t, "dt", f.Date, "2019-04-11")
			},
		},
		{
			name: "custom action event with two findings", in: customAction, findings: 2,
			check: func(t *testing.T, in string, out *Output) {
				for i, f := range out.Findings {
					eq(t, "event_detail_type", f.EventDetailType, DetailCustomAction)
					eq(t, "action_name", f.ActionName, "send_to_ticketing")
					eq(t, "action_description", f.ActionDescription, "Send to the ticketing system")
					eq(t, "action_arn", f.ActionARN, "arn:aws:securityhub:us-west-1:111122223333:action/custom/send_to_ticketing")
					eq(t, "event_resources", f.EventResources, []string{"arn:aws:securityhub:us-west-1::product/aws/macie", "arn:aws:securityhub:us-west-1:111122223333:action/custom/send_to_ticketing"})
					eq(t, "finding_index", f.FindingIndex, int32(i))
					eq(t, "dt", f.Date, "2019-04-11")
				}
				eq(t, "id 0", out.Findings[0].ID, "f-1")
				eq(t, "title 0", out.Findings[0].Title, "one")
				eq(t, "raw 0", out.Findings[0].RawFinding, minimal(`"Title":"one"`))
				eq(t, "id 1", out.Findings[1].ID, "f-2")
				eq(t, "raw 1", out.Findings[1].RawFinding, `{ "Id" : "f-2", "ProductArn" : "arn:aws:securityhub:us-west-1::product/aws/macie" , "UpdatedAt":"2024-05-06T07:08:09Z" }`)
			},
		},
		{
			name: "insight results event from the seed page", in: seedInsight, insights: 2,
			check: func(t *testing.T, in string, out *Output) {
				wantDetail := in[strings.Index(in, `{ "actionName"`) : len(in)-2]
				for i, r := range out.Insights {
					eq(t, "event_id", r.EventID, "1a1111a1-b22b-3c33-444d-5555e5ee5555")
					eqTime(t, "event_time", r.EventTime, utc("2017-12-22T18:43:48Z"))
					eq(t, "event_region", r.EventRegion, "us-west-1")
					eq(t, "event_account", r.EventAccount, "111122223333")
					eq(t, "action_name", r.ActionName, "name of the action")
					eq(t, "action_description", r.ActionDescription, "description of the action")
					eq(t, "action_arn (resources hold no custom action)", r.ActionARN, "")
					eq(t, "insight_arn", r.InsightARN, "ARN of the insight")
					eq(t, "insight_name", r.InsightName, "Name of the insight")
					eq(t, "result_type", r.ResultType, "ResourceAwsIamAccessKeyUserName")
					eq(t, "number_of_results", r.NumberOfResults, "number of results, max of 100")
					eq(t, "raw_detail", r.RawDetail, wantDetail)
					eq(t, "result_index", r.ResultIndex, int32(i))
					eq(t, "dt", r.Date, "2017-12-22")
				}
				eq(t, "result_value 0", out.Insights[0].ResultValue, "result 1")
				eq(t, "result_count 0", out.Insights[0].ResultCount, ptr(int64(5)))
				eq(t, "result_value 1", out.Insights[1].ResultValue, "result 2")
				eq(t, "result_count 1", out.Insights[1].ResultCount, ptr(int64(6)))
			},
		},
		{
			name: "bare finding", in: "\n" + minimal(`"Title":"bare"`) + "\n", findings: 1,
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "event_detail_type", f.EventDetailType, KindBackfill)
				eq(t, "event_id", f.EventID, "")
				eqTime(t, "event_time", f.EventTime, time.Time{})
				eq(t, "event_resources", f.EventResources, []string(nil))
				eq(t, "title", f.Title, "bare")
				eq(t, "dt (from UpdatedAt)", f.Date, "2024-05-06")
				if strings.TrimSpace(f.RawFinding) != minimal(`"Title":"bare"`) {
					t.Errorf("raw_finding = %q", f.RawFinding)
				}
			},
		},
		{
			name: "Findings document", findings: 2,
			in: `{"Findings": [` + minimal(`"Title":"a"`) + `, {"Id":"f-2","ProductArn":"p","UpdatedAt":"2023-01-02T00:00:00Z"}], "NextToken": "abc"}`,
			check: func(t *testing.T, in string, out *Output) {
				for i, f := range out.Findings {
					eq(t, "event_detail_type", f.EventDetailType, KindBackfill)
					eq(t, "finding_index", f.FindingIndex, int32(i))
				}
				eq(t, "raw 0", out.Findings[0].RawFinding, minimal(`"Title":"a"`))
				eq(t, "raw 1", out.Findings[1].RawFinding, `{"Id":"f-2","ProductArn":"p","UpdatedAt":"2023-01-02T00:00:00Z"}`)
				eq(t, "dt 0", out.Findings[0].Date, "2024-05-06")
				eq(t, "dt 1", out.Findings[1].Date, "2023-01-02")
			},
		},
		{
			name: "JSON array of findings", findings: 2,
			in: "[\n  " + minimal(`"Title":"a"`) + ",\n  " + minimal(`"Title":"b"`) + "\n]",
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "titles", []string{out.Findings[0].Title, out.Findings[1].Title}, []string{"a", "b"})
				eq(t, "indexes", []int32{out.Findings[0].FindingIndex, out.Findings[1].FindingIndex}, []int32{0, 1})
				eq(t, "raw 1", out.Findings[1].RawFinding, minimal(`"Title":"b"`))
				eq(t, "kind", out.Findings[1].EventDetailType, KindBackfill)
			},
		},
	})
}

func TestDecodeTolerance(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "numbers as strings", findings: 1,
			in: imported(minimal(`"Severity":{"Normalized":"40"},"Network":{"Direction":"IN","DestinationPort":"80","SourcePort":443},"Confidence":" 7 ","Process":{"Pid":"1234"}`)),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "severity_normalized", f.SeverityNormalized, ptr(int32(40)))
				eq(t, "severity_label (derived)", f.SeverityLabel, "MEDIUM")
				if f.Network == nil {
					t.Fatal("network is NULL")
				}
				eq(t, "network.destination_port", f.Network.DestinationPort, ptr(int32(80)))
				eq(t, "network.source_port", f.Network.SourcePort, ptr(int32(443)))
				eq(t, "network.direction", f.Network.Direction, "IN")
				eq(t, "confidence", f.Confidence, ptr(int32(7)))
				eq(t, "process.pid", f.Process.Pid, ptr(int32(1234)))
			},
		},
		{
			name: "unreadable numbers are NULL", findings: 1,
			in: imported(minimal(`"Severity":{"Normalized":"forty"},"Network":{"DestinationPort":"http"},"Criticality":1e40`)),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "severity_normalized", f.SeverityNormalized, (*int32)(nil))
				eq(t, "severity_label", f.SeverityLabel, "")
				eq(t, "network.destination_port", f.Network.DestinationPort, (*int32)(nil))
				eq(t, "criticality", f.Criticality, (*int32)(nil))
			},
		},
		{
			name: "account id as a number is text", findings: 1,
			in: `{"version":"0","id":"e","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":111122223333,"time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{"findings":[` +
				minimal(`"AwsAccountId":123456789012`) + `]}}`,
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "aws_account_id", out.Findings[0].AwsAccountID, "123456789012")
				eq(t, "event_account", out.Findings[0].EventAccount, "111122223333")
			},
		},
		{
			name: "account ids that are not 12 digits", findings: 3,
			in: imported(minimal(`"AwsAccountId":"1234567"`), minimal(`"AwsAccountId":"ACCOUNT_ID"`), minimal(`"AwsAccountId":"000000000001"`)),
			check: func(t *testing.T, in string, out *Output) {
				var got []string
				for _, f := range out.Findings {
					got = append(got, f.AwsAccountID)
				}
				eq(t, "aws_account_id", got, []string{"1234567", "ACCOUNT_ID", "000000000001"})
			},
		},
		{
			name: "a number where a string belongs", findings: 1, unreadable: 1,
			in: imported(`{"Title":12345,"Id":"f-1","ProductArn":"arn:p","UpdatedAt":"2024-05-06T07:08:09Z","Description":"kept","Region":"eu-west-1"}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "title", f.Title, "")
				eq(t, "id (after the bad value)", f.ID, "f-1")
				eq(t, "description", f.Description, "kept")
				eq(t, "region", f.Region, "eu-west-1")
				if !strings.Contains(f.RawFinding, `"Title":12345`) {
					t.Errorf("raw_finding lost the original value: %s", f.RawFinding)
				}
			},
		},
		{
			name: "an object where a string belongs", findings: 1, unreadable: 1,
			in: imported(minimal(`"Severity":"HIGH","Title":"t"`)),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "severity_label", out.Findings[0].SeverityLabel, "")
				eq(t, "title", out.Findings[0].Title, "t")
			},
		},
		{
			name: "unknown top-level fields", findings: 1, unreadable: 0,
			in: imported(minimal(`"EpssScore":0.0123,"FutureField":{"Nested":[1,{"x":null}]},"Action":{"ActionType":"PORT_PROBE"},"Title":"kept"`)),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "title", out.Findings[0].Title, "kept")
				if !strings.Contains(out.Findings[0].RawFinding, `"FutureField":{"Nested":[1,{"x":null}]}`) {
					t.Errorf("raw_finding lost an unknown field: %s", out.Findings[0].RawFinding)
				}
			},
		},
		{
			name: "empty Types", findings: 1, unreadable: 0,
			in: imported(minimal(`"Types":[]`)),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "len(types)", len(out.Findings[0].Types), 0)
			},
		},
		{
			name: "missing Region and ProductName", findings: 2, unreadable: 0,
			in: imported(
				minimal(`"ProductFields":{"aws/securityhub/ProductName":"GuardDuty","aws/securityhub/CompanyName":"Amazon"}`),
				minimal(`"ProductName":"Inspector","Region":"eu-west-1","ProductFields":{"aws/securityhub/ProductName":"GuardDuty"}`)),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "region (from ProductArn)", out.Findings[0].Region, "us-west-2")
				eq(t, "product_name (from ProductFields)", out.Findings[0].ProductName, "GuardDuty")
				eq(t, "company_name (from ProductFields)", out.Findings[0].CompanyName, "Amazon")
				eq(t, "product_name (given)", out.Findings[1].ProductName, "Inspector")
				eq(t, "region (given)", out.Findings[1].Region, "eu-west-1")
				eq(t, "company_name (from ProductArn)", out.Findings[1].CompanyName, "aws")
			},
		},
		{
			name: "enum values outside the documented sets", findings: 1, unreadable: 0,
			in: imported(minimal(`"Compliance":{"Status":"INFOED"},"RecordState":"DELETED","Workflow":{"Status":"TRIAGED"},"Severity":{"Label":"SEVERE"}`)),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "compliance_status", f.ComplianceStatus, "INFOED")
				eq(t, "record_state", f.RecordState, "DELETED")
				eq(t, "workflow_status", f.WorkflowStatus, "TRIAGED")
				eq(t, "severity_label", f.SeverityLabel, "SEVERE")
			},
		},
		{
			name: "nanosecond timestamps and offsets are UTC", findings: 1,
			in: event(DetailImported, "2024-03-01T05:00:00.5+09:00", "",
				`{"findings":[{"Id":"f","ProductArn":"p","CreatedAt":"2024-02-29T23:59:59.123456789+09:00","UpdatedAt":"2024-02-29T15:00:00.000000001Z","FirstObservedAt":"2024-02-29T10:00:00-05:30","ProcessedAt":"2024-02-29 15:00:00Z","LastObservedAt":"yesterday"}]}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eqTime(t, "event_time", f.EventTime, time.Date(2024, 2, 29, 20, 0, 0, 5e8, time.UTC))
				eqTime(t, "created_at", f.CreatedAt, time.Date(2024, 2, 29, 14, 59, 59, 123456789, time.UTC))
				eqTime(t, "updated_at", f.UpdatedAt, time.Date(2024, 2, 29, 15, 0, 0, 1, time.UTC))
				eqTime(t, "first_observed_at", f.FirstObservedAt, time.Date(2024, 2, 29, 15, 30, 0, 0, time.UTC))
				eqTime(t, "processed_at", f.ProcessedAt, time.Date(2024, 2, 29, 15, 0, 0, 0, time.UTC))
				eqTime(t, "last_observed_at (unparseable)", f.LastObservedAt, time.Time{})
				eq(t, "dt (UTC date of the event time)", f.Date, "2024-02-29")
			},
		},
		{
			name: "severity label derived by bands", findings: 11,
			in: imported(
				minimal(`"Severity":{"Normalized":0}`), minimal(`"Severity":{"Normalized":1}`),
				minimal(`"Severity":{"Normalized":39}`), minimal(`"Severity":{"Normalized":40}`),
				minimal(`"Severity":{"Normalized":69}`), minimal(`"Severity":{"Normalized":70}`),
				minimal(`"Severity":{"Normalized":89}`), minimal(`"Severity":{"Normalized":90}`),
				minimal(`"Severity":{"Normalized":100}`), minimal(`"Severity":{"Normalized":101}`),
				minimal(`"Severity":{"Normalized":90,"Label":"LOW"}`)),
			check: func(t *testing.T, in string, out *Output) {
				var got []string
				for _, f := range out.Findings {
					got = append(got, f.SeverityLabel)
				}
				eq(t, "labels", got, []string{"INFORMATIONAL", "LOW", "LOW", "MEDIUM", "MEDIUM", "HIGH", "HIGH", "CRITICAL", "CRITICAL", "", "LOW"})
			},
		},
		{
			name: "action_arn picked from resources", findings: 1,
			in: event(DetailCustomAction, "2024-01-01T00:00:00Z",
				`"arn:aws:securityhub:us-west-2::product/aws/guardduty", "arn:aws:securityhub:us-west-2:111122223333:action/custom/remediate", "arn:aws:securityhub:us-west-2:111122223333:action/custom/other"`,
				`{"actionName":"remediate","findings":[`+minimal("")+`]}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "action_arn", out.Findings[0].ActionARN, "arn:aws:securityhub:us-west-2:111122223333:action/custom/remediate")
			},
		},
		{
			name: "custom action without an action arn", findings: 1,
			in: event(DetailCustomAction, "2024-01-01T00:00:00Z", `"arn:aws:securityhub:us-west-2::product/aws/guardduty"`,
				`{"actionName":"remediate","findings":[`+minimal("")+`]}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "action_arn", out.Findings[0].ActionARN, "")
				eq(t, "action_name", out.Findings[0].ActionName, "remediate")
			},
		},
	})
}

func TestDecodePartitionDate(t *testing.T) {
	notAfter := Origin{Source: testSource, RecordTime: testRecordTime, NotAfter: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)}
	dt := func(want string) func(t *testing.T, in string, out *Output) {
		return func(t *testing.T, in string, out *Output) {
			for _, f := range out.Findings {
				eq(t, "dt", f.Date, want)
			}
			for _, r := range out.Insights {
				eq(t, "dt", r.Date, want)
			}
		}
	}
	deadTime := func(want time.Time) func(t *testing.T, in string, out *Output) {
		return func(t *testing.T, in string, out *Output) {
			eqTime(t, "dead letter time", out.Dead[0].Time, want)
		}
	}
	runDecodeCases(t, []decodeCase{
		{name: "event time in UTC", findings: 1, check: dt("2019-04-11"),
			in: event(DetailImported, "2019-04-11T23:59:59Z", "", `{"findings":[`+minimal("")+`]}`)},
		{name: "event time with an offset crosses midnight", findings: 1, check: dt("2019-04-10"),
			in: event(DetailImported, "2019-04-11T08:59:59+09:00", "", `{"findings":[`+minimal("")+`]}`)},
		{name: "event time wins over UpdatedAt", findings: 1, check: dt("2020-02-02"),
			in: event(DetailImported, "2020-02-02T02:02:02Z", "", `{"findings":[{"Id":"f","ProductArn":"p","UpdatedAt":"2021-03-03T00:00:00Z"}]}`)},
		{name: "event time does not parse: UpdatedAt", findings: 1, check: dt("2021-03-03"),
			in: event(DetailImported, "11/04/2019", "", `{"findings":[{"Id":"f","ProductArn":"p","UpdatedAt":"2021-03-03T00:00:00Z"}]}`)},
		{name: "event time missing: UpdatedAt", findings: 1, check: dt("2021-03-03"),
			in: `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","detail":{"findings":[{"Id":"f","ProductArn":"p","UpdatedAt":"2021-03-03T00:00:00Z"}]}}`},
		{name: "bare finding: UTC date of UpdatedAt", findings: 1, check: dt("2019-12-31"),
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2020-01-01T08:00:00+09:00"}`},
		{name: "no NotAfter: no upper bound", findings: 1, check: dt("2999-01-01"), origin: &Origin{Source: testSource},
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2999-01-01T00:00:00Z"}`},
		{name: "first usable day", findings: 1, check: dt("2015-01-01"),
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2015-01-01T00:00:00Z"}`},
		{name: "last usable day", findings: 1, check: dt("2024-06-02"), origin: &notAfter,
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2024-06-02T00:00:00Z"}`},
		{name: "neither event time nor UpdatedAt parses", dead: []string{"no usable date"}, check: deadTime(testRecordTime),
			in: event(DetailImported, "soon", "", `{"findings":[{"Id":"f","ProductArn":"p","UpdatedAt":"later"}]}`)},
		{name: "bare finding without UpdatedAt", dead: []string{"no usable date"}, check: deadTime(testRecordTime),
			in: `{"Id":"f","ProductArn":"p"}`},
		{name: "event time before 2015", dead: []string{"event time 2014-12-31T23:59:59Z is outside the partition range"},
			check: deadTime(utc("2014-12-31T23:59:59Z")),
			in:    event(DetailImported, "2014-12-31T23:59:59Z", "", `{"findings":[`+minimal("")+`]}`)},
		{name: "UpdatedAt before 2015 after offset", dead: []string{"UpdatedAt 2014-12-31T23:00:00Z is outside the partition range"},
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2015-01-01T08:00:00+09:00"}`},
		{name: "event time after NotAfter", dead: []string{"outside the partition range"}, origin: &notAfter,
			in: event(DetailImported, "2024-06-02T00:00:01Z", "", `{"findings":[`+minimal("")+`]}`)},
		{name: "no NotAfter: a year past 9999 in UTC is no date", dead: []string{"no usable date"}, origin: &Origin{Source: testSource},
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"9999-12-31T23:30:00-01:00"}`},
		{name: "UpdatedAt after NotAfter", dead: []string{"outside the partition range"}, origin: &notAfter,
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":"2099-01-01T00:00:00Z"}`},
		{name: "insight dt from the event time", insights: 1, check: dt("2023-12-31"),
			in: event(DetailInsight, "2024-01-01T08:00:00+09:00", "", `{"insightArn":"arn:i","insightResults":[{"a":1}]}`)},
		{name: "insight event time after NotAfter", dead: []string{"insight event time 2099-01-01T00:00:00Z is outside the partition range"}, origin: &notAfter,
			in: event(DetailInsight, "2099-01-01T00:00:00Z", "", `{"insightArn":"arn:i","insightResults":[{"a":1}]}`)},
	})
}

func TestDecodeDeadLetters(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 5000) + strings.Repeat(`]}`, 5000)
	wholeInput := func(t *testing.T, in string, out *Output) {
		if string(out.Dead[0].Data) != in {
			t.Errorf("dead letter data = %.80q, want the whole input", out.Dead[0].Data)
		}
	}
	runDecodeCases(t, []decodeCase{
		{name: "invalid JSON", in: `{"Id": "a", "ProductArn": }`, dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "trailing comma", in: `{"Id": "a",}`, dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "truncated JSON", in: imported(minimal(""))[:60], dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "truncated array", in: `[` + minimal(""), dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "two values in one unit", in: minimal("") + minimal(""), dead: []string{"invalid JSON"}, check: wholeInput},
		// A value of the wrong type stops sonic from checking what follows the
		// object (found by FuzzDecodeOCSF).
		{name: "trailing bytes after a bare finding with a value of the wrong type", in: minimal(`"time":5,"Types":"x"`) + "00", dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "trailing bytes after an event with a value of the wrong type", in: strings.Replace(imported(minimal("")), `"region":"us-west-2"`, `"region":5`, 1) + "00", dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "a second value after a bare finding with a value of the wrong type", in: minimal(`"time":5,"Types":"x"`) + minimal(""), dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "invalid UTF-8", in: "{\"Id\":\"f\xff\",\"ProductArn\":\"p\",\"UpdatedAt\":\"2024-01-01T00:00:00Z\"}", dead: []string{"invalid UTF-8"}, check: wholeInput},
		{name: "not JSON", in: "hello world", dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "JSON number", in: "42", dead: []string{"not a JSON object: a number"}},
		{name: "JSON string", in: ` "text" `, dead: []string{"not a JSON object: a string"}},
		{name: "JSON boolean", in: "true", dead: []string{"not a JSON object: a boolean"}},
		{name: "JSON null", in: "null", dead: []string{"not a JSON object: a null"}},
		{name: "empty input", in: "", dead: []string{"empty"}},
		{name: "blank input", in: " \r\n\t", dead: []string{"empty"}, check: wholeInput},
		{name: "event from another source", in: `{"version":"0","id":"x","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","time":"2024-01-01T00:00:00Z","detail":{"state":"running"}}`,
			dead: []string{`unsupported event source "aws.ec2"`}, check: wholeInput},
		{name: "unsupported detail-type", in: event("Security Hub Findings - Exported", "2024-01-01T00:00:00Z", "", `{"findings":[`+minimal("")+`]}`),
			dead: []string{`unsupported detail-type "Security Hub Findings - Exported"`}, check: wholeInput},
		{name: "detail is an array", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `[`+minimal("")+`]`),
			dead: []string{"detail is not a JSON object"}, check: wholeInput},
		{name: "detail is a string", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `"findings"`), dead: []string{"detail is not a JSON object"}},
		{name: "detail is null", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `null`), dead: []string{"detail is not a JSON object"}},
		{name: "detail missing", in: `{"detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","time":"2024-01-01T00:00:00Z"}`,
			dead: []string{"detail is not a JSON object"}},
		{name: "findings missing", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `{"actionName":"x"}`), dead: []string{"no findings array"}, check: wholeInput},
		{name: "findings not an array", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `{"findings":`+minimal("")+`}`), dead: []string{"no findings array"}},
		{name: "findings null", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `{"findings":null}`), dead: []string{"no findings array"}},
		{name: "empty findings", in: event(DetailImported, "2024-01-01T00:00:00Z", "", `{"findings":[]}`), dead: []string{"no findings"}, check: wholeInput},
		{
			name: "a finding that is not an object", in: imported(`"f-0"`, minimal(""), `[1]`, `null`), findings: 1,
			dead: []string{"finding 0 is not a JSON object", "finding 2 is not a JSON object", "finding 3 is not a JSON object"},
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "data", []string{string(out.Dead[0].Data), string(out.Dead[1].Data), string(out.Dead[2].Data)}, []string{`"f-0"`, `[1]`, `null`})
				eq(t, "finding_index of the row", out.Findings[0].FindingIndex, int32(1))
			},
		},
		{
			name: "finding without Id", in: imported(minimal(""), `{"ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z","Title":"no id"}`), findings: 1,
			dead: []string{"finding 1 has no Id"},
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "data", string(out.Dead[0].Data), `{"ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z","Title":"no id"}`)
				eqTime(t, "time (event time)", out.Dead[0].Time, utc("2019-04-11T21:52:17Z"))
			},
		},
		{name: "Id not a string", in: `{"Id":12,"ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z"}`, unreadable: -1, dead: []string{"finding 0 has no Id"}},
		{name: "empty Id", in: `{"Id":"","ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z"}`, dead: []string{"finding 0 has no Id"}},
		{
			name: "finding without ProductArn", in: `[{"Id":"f","UpdatedAt":"2024-01-01T00:00:00Z"}]`, dead: []string{"finding 0 has no ProductArn"},
			check: func(t *testing.T, in string, out *Output) {
				eqTime(t, "time (UpdatedAt of a bare finding)", out.Dead[0].Time, utc("2024-01-01T00:00:00Z"))
			},
		},
		{name: "ProductArn an object", in: `{"Id":"f","ProductArn":{"arn":"p"},"UpdatedAt":"2024-01-01T00:00:00Z"}`, unreadable: -1, dead: []string{"finding 0 has no ProductArn"}},
		{name: "insight without insightArn", in: event(DetailInsight, "2024-01-01T00:00:00Z", "", `{"insightName":"n","insightResults":[{"a":1}]}`),
			dead: []string{"no insightArn"}, check: wholeInput},
		{name: "insightArn not a string", in: event(DetailInsight, "2024-01-01T00:00:00Z", "", `{"insightArn":7,"insightResults":[{"a":1}]}`),
			unreadable: -1, dead: []string{"no insightArn"}},
		{name: "insight event time does not parse", in: event(DetailInsight, "2024-13-01T00:00:00Z", "", `{"insightArn":"arn:i","insightResults":[{"a":1}]}`),
			dead: []string{`time "2024-13-01T00:00:00Z" does not parse`}, check: wholeInput},
		{name: "insight event without time", in: `{"detail-type":"Security Hub Insight Results","source":"aws.securityhub","detail":{"insightArn":"arn:i","insightResults":[{"a":1}]}}`,
			dead: []string{"no usable date"}},
		{name: "nesting thousands deep", in: deep, dead: []string{"invalid JSON"}, check: wholeInput},
		{name: "unclosed nesting thousands deep", in: strings.Repeat("[", 100000), dead: []string{"invalid JSON"}},
		{name: "nesting thousands deep inside a finding", in: imported(minimal(`"Deep":` + deep)), dead: []string{"invalid JSON"}},
		{name: "nesting thousands deep inside insight results", in: event(DetailInsight, "2024-01-01T00:00:00Z", "", `{"insightArn":"arn:i","insightResults":[{"a":`+deep+`}]}`),
			dead: []string{"invalid JSON"}},
	})
}

func TestDecodeInsightResults(t *testing.T) {
	insight := func(extra, results string) string {
		return event(DetailInsight, "2024-01-02T03:04:05Z", `"arn:aws:securityhub:us-west-1:111122223333:action/custom/share"`,
			`{"actionName":"share","insightArn":"arn:aws:securityhub:us-west-1:111122223333:insight/111122223333/custom/abc","insightName":"top","resultType":"ResourceId"`+extra+`,"insightResults":`+results+`}`)
	}
	type vc struct {
		value string
		count *int64
	}
	values := func(want ...vc) func(t *testing.T, in string, out *Output) {
		return func(t *testing.T, in string, out *Output) {
			var got []vc
			for i, r := range out.Insights {
				got = append(got, vc{r.ResultValue, r.ResultCount})
				eq(t, "result_index", r.ResultIndex, int32(i))
				eq(t, "action_arn", r.ActionARN, "arn:aws:securityhub:us-west-1:111122223333:action/custom/share")
			}
			eq(t, "results", got, want)
		}
	}
	n := func(v int64) *int64 { return &v }
	runDecodeCases(t, []decodeCase{
		{name: "counts from numbers and numeric strings", insights: 5,
			in:    insight("", `[{"i-1": 5}, {"i-2": "6"}, {"i-3": 7.0}, {"i-4": " 8 "}, {"i-5": 0}]`),
			check: values(vc{"i-1", n(5)}, vc{"i-2", n(6)}, vc{"i-3", n(7)}, vc{"i-4", n(8)}, vc{"i-5", n(0)})},
		{name: "counts that are not integers are NULL", insights: 6,
			in:    insight("", `[{"a": "many"}, {"b": 1.5}, {"c": null}, {"d": true}, {"e": {"n": 1}}, {"f": [1]}]`),
			check: values(vc{"a", nil}, vc{"b", nil}, vc{"c", nil}, vc{"d", nil}, vc{"e", nil}, vc{"f", nil})},
		{name: "result values keep escapes decoded", insights: 1,
			in:    insight("", `[{"arn:aws:iam::1:user/\u00e9l\"x": 3}]`),
			check: values(vc{`arn:aws:iam::1:user/él"x`, n(3)})},
		{name: "number of results as a string", insights: 1, in: insight(`,"number of results":"1"`, `[{"a":1}]`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "number_of_results", out.Insights[0].NumberOfResults, "1")
			}},
		{name: "number of results as a number", insights: 1, in: insight(`,"number of results":1`, `[{"a":1}]`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "number_of_results", out.Insights[0].NumberOfResults, "1")
			}},
		{name: "number of results as sent", insights: 1, in: insight(`,"number of results":"number of results, max of 100"`, `[{"a":1}]`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "number_of_results", out.Insights[0].NumberOfResults, "number of results, max of 100")
			}},
		{name: "a non-object element is a dead letter, the others stay rows", insights: 2,
			in:   insight("", `[{"a": 1}, "SECRET-TOKEN-123", {"b": 2}]`),
			dead: []string{"insightResults[1]: not a JSON object"},
			check: func(t *testing.T, in string, out *Output) {
				values(vc{"a", n(1)}, vc{"b", n(2)})(t, in, out)
				eq(t, "dead letter data", string(out.Dead[0].Data), `"SECRET-TOKEN-123"`)
				eqTime(t, "dead letter time", out.Dead[0].Time, utc("2024-01-02T03:04:05Z"))
			}},
		{name: "an element with two members is two rows", insights: 2, in: insight("", `[{"a": 1, "b": 2}]`),
			check: values(vc{"a", n(1)}, vc{"b", n(2)})},
		{name: "no results is one row with NULL value and count", insights: 1, in: insight("", `[]`),
			check: values(vc{"", nil})},
		{name: "insightResults missing is one row", insights: 1,
			in:    event(DetailInsight, "2024-01-02T03:04:05Z", `"arn:aws:securityhub:us-west-1:111122223333:action/custom/share"`, `{"insightArn":"arn:i"}`),
			check: values(vc{"", nil})},
		{name: "raw detail is the detail as received", insights: 1, in: insight("", "[ {\"a\" :\n 1} ]"),
			check: func(t *testing.T, in string, out *Output) {
				want := in[strings.Index(in, `{"actionName"`) : len(in)-1]
				eq(t, "raw_detail", out.Insights[0].RawDetail, want)
			}},
	})
}

// TestDeadLetterReasonsHideContents: a reason reaches logs and metrics
// labels; it may say what is wrong and where, never what the finding says.
func TestDeadLetterReasonsHideContents(t *testing.T) {
	const secret = "SECRET-TOKEN-123"
	f := `{"Title":"` + secret + `","Description":"` + secret + `"`
	inputs := map[string]string{
		"no Id":                     f + `,"ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z"}`,
		"Id not a string":           f + `,"Id":{"v":"` + secret + `"},"ProductArn":"p","UpdatedAt":"2024-01-01T00:00:00Z"}`,
		"no ProductArn":             f + `,"Id":"i","UpdatedAt":"2024-01-01T00:00:00Z"}`,
		"no date":                   f + `,"Id":"i","ProductArn":"p","UpdatedAt":"` + secret + `"}`,
		"date out of range":         f + `,"Id":"i","ProductArn":"p","UpdatedAt":"2001-01-01T00:00:00Z"}`,
		"syntax error after secret": f + ` "Id":"i"}`,
		"syntax error in secret":    `{"Title":"SECRET-\TOKEN-123"}`,
		"truncated after secret":    f + `,"Id":"i","ProductArn":"p`,
		"invalid UTF-8":             f + ",\"Id\":\"\xc3\x28\"}",
		"control character":         `{"Title":"SECRET-` + "\x01" + `TOKEN-123", "Id": [}`,
		"deep nesting":              f + `,"x":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`,
		"finding in event":          imported(f + `,"ProductArn":"p"}`),
		"invalid finding in event":  imported(f + `,"Id":`),
		"finding not an object":     imported(`"` + secret + `"`),
		"numbers as strings":        imported(`{"Id":"` + secret + `","ProductArn":7}`),
		"insight element":           event(DetailInsight, "2024-01-01T00:00:00Z", "", `{"insightArn":"a","insightResults":["`+secret+`"]}`),
		"insight without arn":       event(DetailInsight, "2024-01-01T00:00:00Z", "", `{"insightName":"`+secret+`","insightResults":[]}`),
		"scalar":                    `"` + secret + `"`,
		"array of scalars":          `["` + secret + `"]`,
		"placebo without findings":  `{"status_code":403,"data":{"Error":{"Message":"` + secret + `"}}}`,
	}
	for name, in := range inputs {
		t.Run(name, func(t *testing.T) {
			var out Output
			Decode([]byte(in), testOrigin, &out)
			if len(out.Dead) == 0 {
				t.Fatalf("want a dead letter, got %d findings and %d insights", len(out.Findings), len(out.Insights))
			}
			for _, d := range out.Dead {
				if strings.Contains(d.Reason, "SECRET") || strings.Contains(d.Reason, "TOKEN") {
					t.Errorf("reason %q shows finding contents", d.Reason)
				}
				if !bytes.Contains(d.Data, []byte("SECRET")) && !bytes.Contains(d.Data, []byte("TOKEN")) {
					t.Errorf("dead letter data %q lost the original bytes", d.Data)
				}
			}
		})
	}
}

func TestOutputAccumulatesAndResets(t *testing.T) {
	var out Output
	Decode([]byte(imported(minimal(""))), testOrigin, &out)
	Decode([]byte(`{"Id":"x"}`), testOrigin, &out)
	Decode([]byte(imported(minimal(`"Title":7`))), testOrigin, &out)
	if len(out.Findings) != 2 || len(out.Dead) != 1 || out.Unreadable != 1 {
		t.Fatalf("got %d findings, %d dead, %d unreadable; want 2, 1, 1", len(out.Findings), len(out.Dead), out.Unreadable)
	}
	out.Reset()
	if len(out.Findings) != 0 || len(out.Insights) != 0 || len(out.Dead) != 0 || out.Unreadable != 0 {
		t.Fatalf("Reset left %+v", out)
	}
	if cap(out.Findings) < 2 {
		t.Errorf("Reset dropped the capacity")
	}
}

func TestSeverityLabelBands(t *testing.T) {
	for n, want := range map[int64]string{
		-1: "", 0: "INFORMATIONAL", 1: "LOW", 39: "LOW", 40: "MEDIUM", 69: "MEDIUM",
		70: "HIGH", 89: "HIGH", 90: "CRITICAL", 100: "CRITICAL", 101: "",
	} {
		if got := SeverityLabel(n); got != want {
			t.Errorf("SeverityLabel(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseTime(t *testing.T) {
	for in, want := range map[string]time.Time{
		"2024-01-02T03:04:05Z":                time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02T03:04:05.123456789Z":      time.Date(2024, 1, 2, 3, 4, 5, 123456789, time.UTC),
		"2024-01-02T12:04:05.1+09:00":         time.Date(2024, 1, 2, 3, 4, 5, 1e8, time.UTC),
		"2024-01-01T22:04:05-05:00":           time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02 03:04:05Z":                time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC),
		"2024-01-02T03:04:05.5":               time.Date(2024, 1, 2, 3, 4, 5, 5e8, time.UTC),
		"":                                    {},
		"yesterday":                           {},
		"2024-02-30T00:00:00Z":                {},
		"1712345678":                          {},
		"2024-01-02T03:04:05Z trailing words": {},
		"9999-12-31T23:30:00-01:00":           {}, // year 10000 in UTC
		"0001-01-01T00:30:00+01:00":           {}, // year 0 in UTC
		"9999-12-31T23:30:00+01:00":           time.Date(9999, 12, 31, 22, 30, 0, 0, time.UTC),
	} {
		got, ok := ParseTime(in)
		if ok != !want.IsZero() || !got.Equal(want) {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", in, got, ok, want)
		}
		if ok && got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) is in %v", in, got.Location())
		}
	}
}
