package schema

import (
	"strings"
	"testing"
	"time"
)

// The cases below are small hand-made OCSF findings in the shape of the
// samples in ../shared/samples/ocsf (Security Hub's Findings Imported V2
// events and GetFindingsV2 output), each with one quirk real producers show.

// v2Event wraps findings in a "Findings Imported V2" event.
func v2Event(time string, findings ...string) string {
	return event(DetailImportedV2, time, `"1d24e917"`, `{"findings":[`+strings.Join(findings, ",")+`]}`)
}

// ocsfMinimal is the smallest OCSF finding that becomes a row, plus extra
// members (JSON text without braces) after the required ones.
func ocsfMinimal(extra string) string {
	f := `{"class_uid":2003,"finding_info":{"uid":"arn:aws:securityhub:us-east-2:123456789012:security-control/SQS.3/finding/1"},"metadata":{"uid":"m-1","version":"1.6.0"},"time":1758273439594`
	if extra != "" {
		f += "," + extra
	}
	return f + "}"
}

// A finding with every column, pretty-printed (raw_finding keeps the layout)
// and with fields no column names, which only raw_finding keeps.
const fullOCSF = `{
  "activity_id": 2,
  "activity_name": "Update",
  "category_name": "Findings",
  "category_uid": 2,
  "class_name": "Vulnerability Finding",
  "class_uid": 2002,
  "cloud": {"account": {"type": "AWS Account", "type_id": 10, "uid": "012345678901"}, "provider": "AWS", "region": "us-east-2"},
  "comment": "Risk accepted until 2026-01 (ticket SEC-42)",
  "compliance": {"control": "Inspector.1", "requirements": ["PCI DSS 6.3.3"], "standards": ["standards/aws-foundational-security-best-practices/v/1.0.0"], "status": "Fail", "status_id": 3},
  "confidence_score": 85,
  "count": 3,
  "evidences": [{"data": {"affected_resource": {"AWS::EC2::Instance": "i-1"}, "k.with.dots": 1}}],
  "finding_info": {
    "created_time": 1757557651926, "created_time_dt": "2025-09-11T02:27:31.926Z",
    "desc": "There is a defect in the CPython \u201ctarfile\u201d module.\n\nPatch it.",
    "first_seen_time": 1755692788521, "first_seen_time_dt": "2025-08-20T12:26:28.521Z",
    "last_seen_time": 1758903843057, "last_seen_time_dt": "2025-09-26T16:24:03.057Z",
    "modified_time": 1758903843057, "modified_time_dt": "2025-09-26T16:24:03.057Z",
    "title": "CVE-2025-8194 - python, python-devel and 3 more",
    "types": ["Software and Configuration Checks/Vulnerabilities/CVE", "Vulnerabilities"],
    "uid": "arn:aws:inspector2:us-east-2:012345678901:finding/9abc"
  },
  "metadata": {
    "product": {"feature": {"name": "EC2Scanning"}, "name": "Inspector", "uid": "arn:aws:securityhub:us-east-2::productv2/aws/inspector", "vendor_name": "AWS"},
    "profiles": ["cloud", "datetime"],
    "uid": "d1bc4b01234567890123456789abcdef",
    "version": "1.6.0"
  },
  "remediation": {"desc": "yum update python", "references": ["https://alas.aws.amazon.com/AL2/ALAS2-2025-2961.html"]},
  "resources": [
    {"cloud_partition": "aws", "data": {"awsEc2InstanceDetails": {"imageId": "ami-1", "ipV4Addresses": ["10.0.0.1"]}},
     "name": "web-1", "owner": {"account": {"uid": "012345678901"}}, "region": "us-east-2",
     "tags": [{"name": "env", "value": "prod"}, {"name": "aws:ec2:fleet-id", "value": "fleet-1"}, {"name": "empty"}],
     "type": "AWS::EC2::Instance", "uid": "i-abcd1235cdef1234", "uid_alt": "arn:aws:ec2:us-east-2:012345678901:instance/i-abcd1235cdef1234"},
    {"region": "global", "type": "AWS::IAM::Role", "uid": "AROAEXAMPLE"}
  ],
  "severity": "High",
  "severity_id": 4,
  "status": "In Progress",
  "status_id": 2,
  "time": 1758903843057,
  "time_dt": "2025-09-26T16:24:03.057Z",
  "type_name": "Vulnerability Finding: Update",
  "type_uid": 200202,
  "unmapped": {"aws::inspector::note": "x"},
  "vendor_attributes": {"severity": "High", "severity_id": 4},
  "vulnerabilities": [
    {"affected_packages": [
       {"architecture": "X86_64", "epoch": 0, "fixed_in_version": "0:2.7.18-1.amzn2.0.14", "name": "python", "package_manager": "OS", "release": "1.amzn2.0.12", "version": "2.7.18"},
       {"name": "python-devel", "version": "2.7.18"}],
     "cve": {"cvss": [
        {"base_score": 7.5, "adjusted_score": 7.1, "vector_string": "CVSS:3.1/AV:N/low", "vendor_name": "NVD", "version": "3.1"},
        {"base_score": "9.1", "vector_string": "CVSS:3.1/AV:N/high", "vendor_name": "AMAZON_CVE", "version": "3.1"},
        {"base_score": 9.1, "vector_string": "CVSS:3.1/AV:N/tie", "version": "3.1"}],
       "epss": {"score": "0.00198"}, "title": "tarfile infinite loop", "uid": "CVE-2025-8194"},
     "fix_coverage": "Complete", "is_exploit_available": false, "is_fix_available": true,
     "references": ["https://nvd.nist.gov/vuln/detail/CVE-2025-8194"], "severity": "Important"},
    {"cve": {"uid": "CVE-2025-0001"}, "title": "own title", "is_fix_available": "false"}
  ]
}`

func TestDecodeOCSFShapes(t *testing.T) {
	ms := func(v int64) time.Time { return time.UnixMilli(v).UTC() }
	runDecodeCases(t, []decodeCase{
		{
			name: "Findings Imported V2 event, every column", in: v2Event("2025-09-26T16:25:00Z", fullOCSF), ocsf: 1,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "event_id", f.EventID, "1a1111a1-b22b-3c33-444d-5555e5ee5555")
				eqTime(t, "event_time", f.EventTime, utc("2025-09-26T16:25:00Z"))
				eq(t, "event_detail_type", f.EventDetailType, DetailImportedV2)
				eq(t, "event_region", f.EventRegion, "us-west-2")
				eq(t, "event_account", f.EventAccount, "111122223333")
				eq(t, "event_resources", f.EventResources, []string{"1d24e917"})
				eq(t, "finding_index", f.FindingIndex, int32(0))
				eq(t, "metadata_uid", f.MetadataUID, "d1bc4b01234567890123456789abcdef")
				eq(t, "finding_uid", f.FindingUID, "arn:aws:inspector2:us-east-2:012345678901:finding/9abc")
				eq(t, "product_uid", f.ProductUID, "arn:aws:securityhub:us-east-2::productv2/aws/inspector")
				eq(t, "product_name", f.ProductName, "Inspector")
				eq(t, "vendor_name", f.VendorName, "AWS")
				eq(t, "product_feature", f.ProductFeature, "EC2Scanning")
				eq(t, "ocsf_version", f.OCSFVersion, "1.6.0")
				eq(t, "profiles", f.Profiles, []string{"cloud", "datetime"})
				eq(t, "class_uid", f.ClassUID, ptr(int32(2002)))
				eq(t, "category_uid", f.CategoryUID, ptr(int32(2)))
				eq(t, "activity_id", f.ActivityID, ptr(int32(2)))
				eq(t, "class_name", f.ClassName, "Vulnerability Finding")
				eq(t, "category_name", f.CategoryName, "Findings")
				eq(t, "activity_name", f.ActivityName, "Update")
				eq(t, "type_name", f.TypeName, "Vulnerability Finding: Update")
				eq(t, "type_uid", f.TypeUID, ptr(int64(200202)))
				eq(t, "severity", f.Severity, "High")
				eq(t, "severity_id", f.SeverityID, ptr(int32(4)))
				eq(t, "status", f.Status, "In Progress")
				eq(t, "status_id", f.StatusID, ptr(int32(2)))
				eq(t, "confidence_score", f.ConfidenceScore, ptr(int32(85)))
				eq(t, "title", f.Title, "CVE-2025-8194 - python, python-devel and 3 more")
				eq(t, "description", f.Description, "There is a defect in the CPython \u201ctarfile\u201d module.\n\nPatch it.")
				eq(t, "types", f.Types, []string{"Software and Configuration Checks/Vulnerabilities/CVE", "Vulnerabilities"})
				eqTime(t, "time", f.Time, ms(1758903843057))
				eqTime(t, "created_time", f.CreatedTime, ms(1757557651926))
				eqTime(t, "modified_time", f.ModifiedTime, ms(1758903843057))
				eqTime(t, "first_seen_time", f.FirstSeenTime, ms(1755692788521))
				eqTime(t, "last_seen_time", f.LastSeenTime, ms(1758903843057))
				eq(t, "cloud_provider", f.CloudProvider, "AWS")
				eq(t, "account_uid (leading zero kept)", f.AccountUID, "012345678901")
				eq(t, "region", f.Region, "us-east-2")
				eq(t, "compliance_control", f.ComplianceControl, "Inspector.1")
				eq(t, "compliance_status", f.ComplianceStatus, "Fail")
				eq(t, "compliance_status_id", f.ComplianceStatusID, ptr(int32(3)))
				eq(t, "compliance_standards", f.ComplianceStandards, []string{"standards/aws-foundational-security-best-practices/v/1.0.0"})
				eq(t, "compliance_requirements", f.ComplianceRequirements, []string{"PCI DSS 6.3.3"})
				eq(t, "remediation_desc", f.RemediationDesc, "yum update python")
				eq(t, "remediation_references", f.RemediationReferences, []string{"https://alas.aws.amazon.com/AL2/ALAS2-2025-2961.html"})
				eq(t, "resource_type", f.ResourceType, "AWS::EC2::Instance")
				eq(t, "resource_uid", f.ResourceUID, "i-abcd1235cdef1234")
				eq(t, "resource_region", f.ResourceRegion, "us-east-2")
				eq(t, "resource_types", f.ResourceTypes, []string{"AWS::EC2::Instance", "AWS::IAM::Role"})
				eq(t, "resource_uids", f.ResourceUIDs, []string{"i-abcd1235cdef1234", "AROAEXAMPLE"})
				eq(t, "resources", f.Resources, []OCSFResource{
					{Type: "AWS::EC2::Instance", UID: "i-abcd1235cdef1234", UIDAlt: "arn:aws:ec2:us-east-2:012345678901:instance/i-abcd1235cdef1234",
						Name: "web-1", Region: "us-east-2", CloudPartition: "aws", OwnerAccountUID: "012345678901",
						Tags:     map[string]string{"env": "prod", "aws:ec2:fleet-id": "fleet-1", "empty": ""},
						DataJSON: `{"awsEc2InstanceDetails": {"imageId": "ami-1", "ipV4Addresses": ["10.0.0.1"]}}`},
					{Type: "AWS::IAM::Role", UID: "AROAEXAMPLE", Region: "global"},
				})
				eq(t, "vulnerabilities", f.Vulnerabilities, []OCSFVulnerability{
					{CVEUID: "CVE-2025-8194", Title: "tarfile infinite loop", Severity: "Important",
						CVSSBaseScore: ptr(9.1), CVSSVector: "CVSS:3.1/AV:N/high", EPSSScore: ptr(0.00198),
						IsFixAvailable: ptr(true), IsExploitAvailable: ptr(false), FixCoverage: "Complete",
						AffectedPackages: []OCSFPackage{
							{Name: "python", Version: "2.7.18", FixedInVersion: "0:2.7.18-1.amzn2.0.14", PackageManager: "OS", Architecture: "X86_64"},
							{Name: "python-devel", Version: "2.7.18"},
						},
						References: []string{"https://nvd.nist.gov/vuln/detail/CVE-2025-8194"}},
					{CVEUID: "CVE-2025-0001", Title: "own title", IsFixAvailable: ptr(false)},
				})
				eq(t, "comment", f.Comment, "Risk accepted until 2026-01 (ticket SEC-42)")
				eq(t, "evidences_json", f.EvidencesJSON, `[{"data": {"affected_resource": {"AWS::EC2::Instance": "i-1"}, "k.with.dots": 1}}]`)
				eq(t, "unmapped_json", f.UnmappedJSON, `{"aws::inspector::note": "x"}`)
				eq(t, "raw_finding", f.RawFinding, fullOCSF)
				eq(t, "source", f.Source, testSource)
				eq(t, "dt (event time)", f.Date, "2025-09-26")
			},
		},
		{
			name: "bare OCSF finding", in: "\n" + ocsfMinimal(`"title":"bare"`) + "\n", ocsf: 1, unreadable: 0,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "event_detail_type", f.EventDetailType, KindBackfill)
				eq(t, "event_id", f.EventID, "")
				eqTime(t, "event_time", f.EventTime, time.Time{})
				eq(t, "event_resources", f.EventResources, []string(nil))
				eq(t, "dt (from time)", f.Date, "2025-09-19")
				eq(t, "raw_finding", strings.TrimSpace(f.RawFinding), ocsfMinimal(`"title":"bare"`))
			},
		},
		{
			name: "GetFindingsV2 output", ocsf: 2,
			in: `{"Findings": [` + ocsfMinimal("") + `, ` + ocsfMinimal(`"metadata":{"uid":"m-2"}`) + `], "NextToken": "abc"}`,
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "metadata_uid", []string{out.OCSF[0].MetadataUID, out.OCSF[1].MetadataUID}, []string{"m-1", "m-2"})
				eq(t, "finding_index", []int32{out.OCSF[0].FindingIndex, out.OCSF[1].FindingIndex}, []int32{0, 1})
				eq(t, "kind", out.OCSF[1].EventDetailType, KindBackfill)
			},
		},
		{
			name: "an array mixing both formats", findings: 1, ocsf: 1,
			in: "[" + minimal("") + ",\n" + ocsfMinimal("") + "]",
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "ASFF row", out.Findings[0].ID, "f-1")
				eq(t, "OCSF row", out.OCSF[0].MetadataUID, "m-1")
				eq(t, "OCSF finding_index", out.OCSF[0].FindingIndex, int32(1))
			},
		},
		{
			name: "a Findings document mixing both formats", findings: 1, ocsf: 2,
			in: `{"Findings":[` + ocsfMinimal("") + `,` + minimal("") + `,` + ocsfMinimal(`"metadata":{"uid":"m-3"}`) + `]}`,
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "indexes", []int32{out.OCSF[0].FindingIndex, out.Findings[0].FindingIndex, out.OCSF[1].FindingIndex}, []int32{0, 1, 2})
			},
		},
		{
			name: "an OCSF finding in an ASFF event goes by its shape", ocsf: 1, findings: 1,
			in: imported(minimal(""), ocsfMinimal("")),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "event_detail_type", out.OCSF[0].EventDetailType, DetailImported)
				eq(t, "finding_index", out.OCSF[0].FindingIndex, int32(1))
			},
		},
		{
			name: "an ASFF finding in a V2 event goes by its shape", ocsf: 1, findings: 1,
			in: v2Event("2025-09-26T16:25:00Z", ocsfMinimal(""), minimal("")),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "event_detail_type", out.Findings[0].EventDetailType, DetailImportedV2)
			},
		},
		{
			name: "several findings in one V2 event", ocsf: 3,
			in: v2Event("2025-09-26T16:25:00Z", ocsfMinimal(""), ocsfMinimal(`"comment":"b"`), ocsfMinimal(`"comment":"c"`)),
			check: func(t *testing.T, in string, out *Output) {
				for i, f := range out.OCSF {
					eq(t, "finding_index", f.FindingIndex, int32(i))
					eq(t, "dt", f.Date, "2025-09-26")
				}
			},
		},
	})
}

func TestDecodeOCSFTolerance(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "only the *_dt twins, up to nine fraction digits and any offset", ocsf: 1,
			in: `{"class_uid":2004,"metadata":{"uid":"m"},"time_dt":"2025-07-22T12:02:34.123456789+09:00",` +
				`"finding_info":{"uid":"f","created_time_dt":"2024-10-24T10:37:06Z","modified_time_dt":"2025-07-22T03:02:34.272Z",` +
				`"first_seen_time_dt":"2024-10-24T10:21:26.5-05:00","last_seen_time_dt":"not a time"}}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "time", f.Time, time.Date(2025, 7, 22, 3, 2, 34, 123456789, time.UTC))
				eqTime(t, "created_time", f.CreatedTime, utc("2024-10-24T10:37:06Z"))
				eqTime(t, "modified_time", f.ModifiedTime, utc("2025-07-22T03:02:34.272Z"))
				eqTime(t, "first_seen_time", f.FirstSeenTime, utc("2024-10-24T15:21:26.5Z"))
				eqTime(t, "last_seen_time (unparseable)", f.LastSeenTime, time.Time{})
				eq(t, "dt (UTC date of time)", f.Date, "2025-07-22")
			},
		},
		{
			name: "the integer wins over its twin; numbers as strings and floats", ocsf: 1, unreadable: 0,
			in: ocsfMinimal(`"time":"1758273439594","time_dt":"2020-01-01T00:00:00Z","severity_id":"5","status_id":1.0,"type_uid":"200301",` +
				`"finding_info":{"uid":"f","created_time":1.758273439e12,"modified_time":"2025-09-19T09:17:19.594Z","first_seen_time":"soon","first_seen_time_dt":"2025-09-19T09:17:17.503Z"}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "time (digits in a string)", f.Time, time.UnixMilli(1758273439594).UTC())
				eqTime(t, "created_time (an integral float)", f.CreatedTime, time.UnixMilli(1758273439000).UTC())
				eqTime(t, "modified_time (RFC 3339 in the integer attribute)", f.ModifiedTime, utc("2025-09-19T09:17:19.594Z"))
				eqTime(t, "first_seen_time (unreadable integer: the twin)", f.FirstSeenTime, utc("2025-09-19T09:17:17.503Z"))
				eq(t, "severity_id", f.SeverityID, ptr(int32(5)))
				eq(t, "severity (derived)", f.Severity, "Critical")
				eq(t, "status_id", f.StatusID, ptr(int32(1)))
				eq(t, "type_uid", f.TypeUID, ptr(int64(200301)))
			},
		},
		{
			name: "severity derived from severity_id by OCSF's table", ocsf: 10,
			in: v2Event("2025-01-01T00:00:00Z",
				ocsfMinimal(`"severity_id":0`), ocsfMinimal(`"severity_id":1`), ocsfMinimal(`"severity_id":2`),
				ocsfMinimal(`"severity_id":3`), ocsfMinimal(`"severity_id":4`), ocsfMinimal(`"severity_id":5`),
				ocsfMinimal(`"severity_id":6`), ocsfMinimal(`"severity_id":99`), ocsfMinimal(`"severity_id":7`),
				ocsfMinimal(`"severity_id":5,"severity":"High"`)),
			check: func(t *testing.T, in string, out *Output) {
				var got []string
				for _, f := range out.OCSF {
					got = append(got, f.Severity)
				}
				eq(t, "severities", got, []string{"Unknown", "Informational", "Low", "Medium", "High", "Critical", "Fatal", "Other", "", "High"})
			},
		},
		{
			name: "EPSS as a string, CVSS scores as strings, the highest wins", ocsf: 1,
			in: ocsfMinimal(`"vulnerabilities":[{"cve":{"uid":"CVE-1","epss":{"score":" 0.5 "},"cvss":[{"base_score":"4.0","vector_string":"a"},{"base_score":"x","vector_string":"b"},{"vector_string":"c"},{"base_score":6,"vector_string":"d"}]}},` +
				`{"cve":{"uid":"CVE-2","epss":{"score":"n/a"},"cvss":[]}}]`),
			check: func(t *testing.T, in string, out *Output) {
				v := out.OCSF[0].Vulnerabilities
				eq(t, "cvss_base_score", v[0].CVSSBaseScore, ptr(6.0))
				eq(t, "cvss_vector", v[0].CVSSVector, "d")
				eq(t, "epss_score", v[0].EPSSScore, ptr(0.5))
				eq(t, "no cvss", v[1].CVSSBaseScore, (*float64)(nil))
				eq(t, "no vector", v[1].CVSSVector, "")
				eq(t, "unreadable epss", v[1].EPSSScore, (*float64)(nil))
			},
		},
		{
			name: "OCSF versions and classes hublake does not know", ocsf: 3, unreadable: 1,
			in: v2Event("2025-01-01T00:00:00Z",
				`{"class_uid":2006,"class_name":"Data Security Finding","metadata":{"uid":"a","version":"1.9.0"},"time":1758273439594}`,
				`{"class_uid":9999,"metadata":{"uid":"b","version":"2.0.0-rc.1"},"brand_new":{"x":[1]},"time":1758273439594}`,
				`{"class_uid":"2002","metadata":{"uid":"c","version":1.5},"time":1758273439594}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "class_uid", []*int32{out.OCSF[0].ClassUID, out.OCSF[1].ClassUID, out.OCSF[2].ClassUID}, []*int32{ptr(int32(2006)), ptr(int32(9999)), ptr(int32(2002))})
				eq(t, "ocsf_version", []string{out.OCSF[0].OCSFVersion, out.OCSF[1].OCSFVersion, out.OCSF[2].OCSFVersion}, []string{"1.9.0", "2.0.0-rc.1", ""})
				if !strings.Contains(out.OCSF[1].RawFinding, `"brand_new":{"x":[1]}`) {
					t.Error("raw_finding lost an unknown field")
				}
			},
		},
		{
			name: "missing metadata.uid: keyed by finding_info.uid", ocsf: 2,
			in: v2Event("2025-01-01T00:00:00Z",
				`{"class_uid":2003,"finding_info":{"uid":"only-finding-uid"},"metadata":{"version":"1.6.0"}}`,
				`{"class_uid":2003,"metadata":{"uid":"only-metadata-uid"}}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "metadata_uid", out.OCSF[0].MetadataUID, "")
				eq(t, "finding_uid", out.OCSF[0].FindingUID, "only-finding-uid")
				eq(t, "finding_uid", out.OCSF[1].FindingUID, "")
			},
		},
		{
			name: "tags: value missing, a number, no name, a name twice", ocsf: 1, unreadable: 0,
			in: ocsfMinimal(`"resources":[{"uid":"r","tags":[{"name":"a"},{"name":"b","value":7},{"value":"orphan"},{"name":"c","value":"1"},{"name":"c","value":"2"},{"name":"d","value":null}]}]`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "tags", out.OCSF[0].Resources[0].Tags, map[string]string{"a": "", "b": "7", "c": "2", "d": ""})
			},
		},
		{
			name: "keys with dots and ::, region global, account ids that are not 12 digits", ocsf: 3,
			in: v2Event("2025-01-01T00:00:00Z",
				ocsfMinimal(`"cloud":{"account":{"uid":"1234567"},"region":"global"},"resources":[{"uid":"r","region":"global","data":{"a.b":{"AWS::S3::Bucket":"x"}}}]`),
				ocsfMinimal(`"cloud":{"account":{"uid":123456789012}},"metadata":{"uid":"n"}`),
				ocsfMinimal(`"cloud":{"account":{"uid":"ACCOUNT_ID"}},"metadata":{"uid":"o"}`)),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "region", f.Region, "global")
				eq(t, "resource_region", f.ResourceRegion, "global")
				eq(t, "data_json", f.Resources[0].DataJSON, `{"a.b":{"AWS::S3::Bucket":"x"}}`)
				eq(t, "account_uid", []string{f.AccountUID, out.OCSF[1].AccountUID, out.OCSF[2].AccountUID}, []string{"1234567", "123456789012", "ACCOUNT_ID"})
			},
		},
		{
			name: "wrong types everywhere: NULL where they are, the row kept", ocsf: 1, unreadable: 1,
			in: ocsfMinimal(`"title":7,"finding_info":{"uid":"f","title":{"x":1},"types":"not a list"},"resources":{"uid":"r"},"vulnerabilities":5,` +
				`"cloud":"aws","compliance":[],"severity":3,"profiles":"cloud","evidences":"text","severity_id":"high"`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "finding_uid", f.FindingUID, "f")
				eq(t, "title", f.Title, "")
				eq(t, "resources", len(f.Resources), 0)
				eq(t, "vulnerabilities", len(f.Vulnerabilities), 0)
				eq(t, "severity", f.Severity, "")
				eq(t, "severity_id", f.SeverityID, (*int32)(nil))
				eq(t, "evidences_json (any JSON is kept as text)", f.EvidencesJSON, `"text"`)
			},
		},
		{
			name: "null where objects belong", ocsf: 1, unreadable: 0,
			in: ocsfMinimal(`"cloud":null,"compliance":null,"resources":null,"vulnerabilities":[null],"evidences":null,"unmapped":null,"comment":null`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "evidences_json", f.EvidencesJSON, "")
				eq(t, "unmapped_json", f.UnmappedJSON, "")
				eq(t, "vulnerabilities", len(f.Vulnerabilities), 1)
			},
		},
		{
			name: "an escaped key still names the format", ocsf: 1,
			in: `{"class\u005fuid":2003,"metadata":{"uid":"m"},"time":1758273439594}`,
		},
	})
}

func TestDecodeOCSFPartitionDate(t *testing.T) {
	notAfter := Origin{Source: testSource, RecordTime: testRecordTime, NotAfter: time.Date(2024, 6, 2, 0, 0, 0, 0, time.UTC)}
	dt := func(want string) func(t *testing.T, in string, out *Output) {
		return func(t *testing.T, in string, out *Output) {
			for _, f := range out.OCSF {
				eq(t, "dt", f.Date, want)
			}
		}
	}
	deadTime := func(want time.Time) func(t *testing.T, in string, out *Output) {
		return func(t *testing.T, in string, out *Output) { eqTime(t, "dead letter time", out.Dead[0].Time, want) }
	}
	const key = `"class_uid":2004,"metadata":{"uid":"m"}`
	runDecodeCases(t, []decodeCase{
		{name: "event time wins", ocsf: 1, check: dt("2020-02-02"),
			in: v2Event("2020-02-02T02:02:02Z", `{`+key+`,"time":1758273439594}`)},
		{name: "event time with an offset crosses midnight", ocsf: 1, check: dt("2020-02-01"),
			in: v2Event("2020-02-02T08:59:59+09:00", `{`+key+`,"time":1758273439594}`)},
		{name: "event time does not parse: the finding's time", ocsf: 1, check: dt("2025-09-19"),
			in: v2Event("11/04/2019", `{`+key+`,"time":1758273439594,"finding_info":{"modified_time":1600000000000}}`)},
		{name: "no time: finding_info.modified_time", ocsf: 1, check: dt("2020-09-13"),
			in: `{` + key + `,"finding_info":{"modified_time":1600000000000}}`},
		{name: "time unreadable and no twin: modified_time", ocsf: 1, check: dt("2020-09-13"),
			in: `{` + key + `,"time":"later","finding_info":{"modified_time_dt":"2020-09-13T12:26:40Z"}}`},
		{name: "last usable day", ocsf: 1, check: dt("2024-06-02"), origin: &notAfter,
			in: `{` + key + `,"time_dt":"2024-06-02T00:00:00.000Z"}`},
		{name: "no usable date at all", dead: []string{"OCSF finding 0: no usable date"}, check: deadTime(testRecordTime),
			in: v2Event("soon", `{`+key+`,"time":"later","finding_info":{"modified_time":"never"}}`)},
		{name: "bare finding without any time", dead: []string{"no usable date"}, check: deadTime(testRecordTime),
			in: `{` + key + `}`},
		{name: "event time before 2015", dead: []string{"event time 2014-12-31T23:59:59Z is outside the partition range"},
			check: deadTime(utc("2014-12-31T23:59:59Z")), in: v2Event("2014-12-31T23:59:59Z", ocsfMinimal(""))},
		{name: "time after NotAfter", dead: []string{"no event time and time 2024-06-03T00:00:00Z is outside the partition range"}, origin: &notAfter,
			in: `{` + key + `,"time":1717372800000}`},
		{name: "modified_time before 2015", dead: []string{"finding_info.modified_time 2014-01-01T00:00:00Z is outside the partition range"},
			in: `{` + key + `,"finding_info":{"modified_time_dt":"2014-01-01T00:00:00Z"}}`},
		{name: "milliseconds past the year 9999 are no time", dead: []string{"no usable date"},
			in: `{` + key + `,"time":253402300800000}`},
	})
}

func TestDecodeOCSFDeadLetters(t *testing.T) {
	deep := strings.Repeat(`{"a":[`, 5000) + strings.Repeat(`]}`, 5000)
	runDecodeCases(t, []decodeCase{
		{name: "neither metadata.uid nor finding_info.uid", ocsf: 1,
			in:   v2Event("2025-01-01T00:00:00Z", `{"class_uid":2003,"metadata":{"version":"1.6.0"},"finding_info":{"title":"no key"}}`, ocsfMinimal("")),
			dead: []string{"OCSF finding 0 has neither metadata.uid nor finding_info.uid"},
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "data", string(out.Dead[0].Data), `{"class_uid":2003,"metadata":{"version":"1.6.0"},"finding_info":{"title":"no key"}}`)
				eqTime(t, "time", out.Dead[0].Time, utc("2025-01-01T00:00:00Z"))
				eq(t, "finding_index of the row", out.OCSF[0].FindingIndex, int32(1))
			}},
		{name: "empty uids", in: `{"class_uid":2003,"metadata":{"uid":""},"finding_info":{"uid":""},"time":1758273439594}`,
			dead: []string{"neither metadata.uid nor finding_info.uid"},
			check: func(t *testing.T, in string, out *Output) {
				eqTime(t, "time (the finding's)", out.Dead[0].Time, time.UnixMilli(1758273439594).UTC())
			}},
		{name: "a shapeless finding in a V2 event is OCSF", in: v2Event("2025-01-01T00:00:00Z", `{"foo":1}`),
			dead: []string{"OCSF finding 0 has neither metadata.uid nor finding_info.uid"}},
		{name: "a shapeless bare finding is ASFF", in: `{"foo":1}`, dead: []string{"finding 0 has no Id"}},
		{name: "a V2 finding that is not an object", in: v2Event("2025-01-01T00:00:00Z", `"m-1"`, `[1]`), dead: []string{"finding 0 is not a JSON object", "finding 1 is not a JSON object"}},
		{name: "a V2 event without findings", in: v2Event("2025-01-01T00:00:00Z"), dead: []string{"event carries no findings"}},
		{name: "a V2 event whose detail has no findings array", in: event(DetailImportedV2, "2025-01-01T00:00:00Z", "", `{"finding":{}}`), dead: []string{"no findings array"}},
		{name: "a V2 event whose detail is not an object", in: event(DetailImportedV2, "2025-01-01T00:00:00Z", "", `[]`), dead: []string{"detail is not a JSON object"}},
		{name: "nesting thousands deep inside an OCSF finding", in: ocsfMinimal(`"unmapped":` + deep), dead: []string{"invalid JSON"}},
		{name: "truncated OCSF finding", in: ocsfMinimal("")[:40], dead: []string{"invalid JSON"}},
	})
}

func TestFormatOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		dflt findingFormat
		want findingFormat
	}{
		{`{"class_uid":2003}`, formatASFF, formatOCSF},
		{` { "activity_id" : 1 , "activity_name":"Create","category_name":"x","category_uid":2,"class_name":"y","class_uid":2003}`, formatASFF, formatOCSF},
		{`{"cloud":{"SchemaVersion":"x"},"finding_info":{}}`, formatASFF, formatOCSF},
		{`{"unmapped":{"a":[{"ProductArn":"p"}],"b":"}]\"{"},"metadata":{}}`, formatASFF, formatOCSF},
		{`{"SchemaVersion":"2018-10-08","metadata":{}}`, formatOCSF, formatASFF},
		{`{"AwsAccountId":"1","CreatedAt":"x","Description":"d","ProductArn":"p"}`, formatOCSF, formatASFF},
		{`{"Id":"x"}`, formatOCSF, formatOCSF},
		{`{"Id":"x"}`, formatASFF, formatASFF},
		{`{"a":1,"b":true,"c":null,"d":-1.5e3,"e":[[],{}],"metadata":1}`, formatASFF, formatOCSF},
		{`{"meta\u0064ata":{}}`, formatASFF, formatOCSF},
		{`{"bad\x":{}, "metadata":{}}`, formatASFF, formatASFF},
		{`{"a":{"b":`, formatOCSF, formatOCSF},
		{`{"a" 1, "metadata":{}}`, formatASFF, formatASFF},
		{`{}`, formatOCSF, formatOCSF},
		{`[]`, formatASFF, formatASFF},
		{``, formatOCSF, formatOCSF},
	} {
		if got := formatOf([]byte(tc.in), tc.dflt); got != tc.want {
			t.Errorf("formatOf(%q, %d) = %d, want %d", tc.in, tc.dflt, got, tc.want)
		}
	}
}

// TestText: the tolerant string reads JSON strings (with or without
// escapes), keeps the text of numbers and booleans, and leaves objects,
// arrays and null empty.
func TestText(t *testing.T) {
	for in, want := range map[string]string{
		`"plain"`: "plain", `""`: "", `"a\"b"`: `a"b`, `"caf\u00e9 \\ /"`: `café \ /`, `"tab\tend"`: "tab\tend",
		` "spaced" `: "spaced", `123456789012`: "123456789012", `-1.5e3`: "-1.5e3", `true`: "true",
		`null`: "", `{"a":1}`: "", `[1]`: "", ``: "", `"unterminated`: "",
	} {
		var got Text
		if err := got.UnmarshalJSON([]byte(in)); err != nil || string(got) != want {
			t.Errorf("Text(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}
