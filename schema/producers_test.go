package schema

import (
	"testing"
	"time"
)

// The cases below are the shapes real producers write that the decoder
// reads by the rules of README.md's table section: each in a finding of our
// own, in the shape of the producer's (see the names).

// TestOCSFEpochSeconds: an OCSF *_time below 10^11 is epoch seconds
// (Prowler ≥ 5 writes time and finding_info.created_time so; its *_dt twins
// are naive local times, which the integer beats); anything else is
// milliseconds, as OCSF says.
func TestOCSFEpochSeconds(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "prowler 5: seconds, naive twins", ocsf: 1, unreadable: 0,
			in: `{"message":"Access Analyzer is not enabled","metadata":{"event_code":"accessanalyzer_enabled","product":{"name":"Prowler","uid":"prowler","vendor_name":"Prowler"},"version":"1.4.0"},` +
				`"severity_id":2,"severity":"Low","status":"New","status_id":1,"class_uid":2004,"class_name":"Detection Finding",` +
				`"finding_info":{"created_time":1739539623,"created_time_dt":"2025-02-14T14:27:03.913874","uid":"prowler-aws-accessanalyzer_enabled-111122223333-eu-west-1-analyzer"},` +
				`"time":1739539623,"time_dt":"2025-02-14T14:27:03.913874"}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "time (seconds)", f.Time, time.Unix(1739539623, 0).UTC())
				eqTime(t, "created_time (seconds)", f.CreatedTime, time.Unix(1739539623, 0).UTC())
				eq(t, "dt", f.Date, "2025-02-14")
			},
		},
		{
			name: "the boundary, fractions, strings and negative values", ocsf: 1, unreadable: 0,
			in: ocsfMinimal(`"finding_info":{"uid":"f","created_time":99999999999,"modified_time":100000000000,` +
				`"first_seen_time":1739539623.9135,"last_seen_time":"1739539623"},"time":"1758273439594.7"`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "10^11 - 1 is seconds (year 5138)", f.CreatedTime, time.Unix(99999999999, 0).UTC())
				eqTime(t, "10^11 is milliseconds (1973-03-03)", f.ModifiedTime, time.UnixMilli(100000000000).UTC())
				eqTime(t, "fractional seconds keep their milliseconds", f.FirstSeenTime, time.UnixMilli(1739539623914).UTC())
				eqTime(t, "seconds in a string", f.LastSeenTime, time.Unix(1739539623, 0).UTC())
				eqTime(t, "fractional milliseconds are cut", f.Time, time.UnixMilli(1758273439594).UTC())
			},
		},
		{
			name: "seconds outside the years 1-9999 are no time", ocsf: 1,
			in: ocsfMinimal(`"finding_info":{"uid":"f","created_time":-99999999999,"created_time_dt":"2025-01-01T00:00:00Z"}`),
			check: func(t *testing.T, in string, out *Output) {
				eqTime(t, "the twin", out.OCSF[0].CreatedTime, utc("2025-01-01T00:00:00Z"))
			},
		},
		{
			name: "a bare prowler 5 finding is a row in its own partition, not a 1970 dead letter", ocsf: 1,
			in:    `{"metadata":{"product":{"name":"Prowler"}},"finding_info":{"uid":"p-1"},"time":1739539623}`,
			check: func(t *testing.T, in string, out *Output) { eq(t, "dt", out.OCSF[0].Date, "2025-02-14") },
		},
	})
}

// TestOCSFVersions: OCSF 1.0's Security Finding (class 2001: finding,
// state, packages, fix_available, cve.cvss an object, remediation inside
// finding), OCSF 1.1–1.2's single resource, a product feature with only a
// uid (Security Lake's mapping of Security Hub findings).
func TestOCSFVersions(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "ocsf 1.0 security finding", ocsf: 1, unreadable: 0,
			in: `{"activity_id":1,"category_uid":2,"class_name":"Security Finding","class_uid":2001,"cloud":{"account_uid":"111122223333","provider":"AWS","region":"us-east-1"},` +
				`"compliance":{"requirements":["NIST.800-53.r5 CM-2"],"status":"PASSED"},` +
				`"finding":{"created_time":1690000000000,"desc":"Checks whether security groups allow unrestricted incoming traffic","first_seen_time":1690000000000,` +
				`"last_seen_time":1690100000000,"modified_time":1690100000123,"title":"EC2.19 Security groups should not allow unrestricted access to ports with high risk",` +
				`"types":["Software and Configuration Checks/Industry and Regulatory Standards"],"uid":"arn:aws:securityhub:us-east-1:111122223333:subscription/fsbp/v/1.0.0/EC2.19/finding/abc",` +
				`"remediation":{"desc":"Restrict the ports","kb_articles":["https://docs.aws.amazon.com/console/securityhub/EC2.19/remediation"]}},` +
				`"metadata":{"product":{"feature":{"uid":"aws-foundational-security-best-practices/v/1.0.0/EC2.19"},"name":"Security Hub","uid":"arn:aws:securityhub:us-east-1::product/aws/securityhub","vendor_name":"AWS"},"version":"1.0.0-rc.2"},` +
				`"resources":[{"type":"AwsEc2SecurityGroup","uid":"arn:aws:ec2:us-east-1:111122223333:security-group/sg-1","details":"{\"GroupId\":\"sg-1\"}"}],` +
				`"severity":"Informational","severity_id":1,"state":"Resolved","state_id":4,"status":"Success","status_id":1,"time":1690100000123,` +
				`"vulnerabilities":[{"cve":{"uid":"CVE-2023-1","cvss":{"base_score":7.5,"vector_string":"AV:N"}},"packages":[{"name":"openssl","version":"1.0","epoch":1}],"fix_available":true}]}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "finding_uid (finding.uid)", f.FindingUID, "arn:aws:securityhub:us-east-1:111122223333:subscription/fsbp/v/1.0.0/EC2.19/finding/abc")
				eq(t, "title", f.Title, "EC2.19 Security groups should not allow unrestricted access to ports with high risk")
				eq(t, "description", f.Description, "Checks whether security groups allow unrestricted incoming traffic")
				eq(t, "types", f.Types, []string{"Software and Configuration Checks/Industry and Regulatory Standards"})
				eqTime(t, "modified_time", f.ModifiedTime, time.UnixMilli(1690100000123).UTC())
				eqTime(t, "first_seen_time", f.FirstSeenTime, time.UnixMilli(1690000000000).UTC())
				eq(t, "status (state)", f.Status, "Resolved")
				eq(t, "status_id (state_id)", f.StatusID, ptr(int32(4)))
				eq(t, "remediation (finding.remediation)", f.RemediationDesc, "Restrict the ports")
				eq(t, "references (kb_articles)", f.RemediationReferences, []string{"https://docs.aws.amazon.com/console/securityhub/EC2.19/remediation"})
				eq(t, "product_feature (feature.uid)", f.ProductFeature, "aws-foundational-security-best-practices/v/1.0.0/EC2.19")
				eq(t, "compliance_status as sent", f.ComplianceStatus, "PASSED")
				v := f.Vulnerabilities[0]
				eq(t, "cvss_base_score (cvss an object)", v.CVSSBaseScore, ptr(7.5))
				eq(t, "cvss_vector", v.CVSSVector, "AV:N")
				eq(t, "is_fix_available (fix_available)", v.IsFixAvailable, ptr(true))
				eq(t, "affected_packages (packages)", v.AffectedPackages, []OCSFPackage{{Name: "openssl", Version: "1.0"}})
			},
		},
		{
			name: "ocsf 1.1 compliance finding with one resource", ocsf: 1, unreadable: 0,
			in: `{"class_uid":2003,"compliance":{"control":"Config.1","standards":["standards/pci-dss/v/3.2.1"],"status":"FAILED"},` +
				`"finding_info":{"uid":"arn:aws:securityhub:us-east-1:111122223333:security-control/Config.1/finding/x","created_time_dt":"2024-03-10T01:59:59.123-05:00","modified_time_dt":"2024-03-10T03:00:01-04:00"},` +
				`"metadata":{"product":{"feature":{"uid":"pci-dss/v/3.2.1/PCI.Config.1"},"name":"Security Hub"},"version":"1.1.0"},` +
				`"resource":{"type":"AwsAccount","uid":"AWS::::Account:111122223333","region":"us-east-1","cloud_partition":"aws","owner":{"account":{"uid":"111122223333"}}},` +
				`"status":"New","time":1710054001000}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "resource_type", f.ResourceType, "AwsAccount")
				eq(t, "resource_uid", f.ResourceUID, "AWS::::Account:111122223333")
				eq(t, "resource_uids", f.ResourceUIDs, []string{"AWS::::Account:111122223333"})
				eq(t, "resources[0].owner_account_uid", f.Resources[0].OwnerAccountUID, "111122223333")
				eq(t, "product_feature", f.ProductFeature, "pci-dss/v/3.2.1/PCI.Config.1")
				eqTime(t, "created_time across a DST change", f.CreatedTime, utc("2024-03-10T06:59:59.123Z"))
				eqTime(t, "modified_time", f.ModifiedTime, utc("2024-03-10T07:00:01Z"))
				eq(t, "status", f.Status, "New")
			},
		},
		{
			name: "resources win over resource; finding_info over finding; feature name over uid", ocsf: 1,
			in: ocsfMinimal(`"resources":[{"uid":"a"}],"resource":{"uid":"b"},"finding":{"uid":"old","title":"old"},"metadata":{"uid":"m","product":{"feature":{"name":"n","uid":"u"}}}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eq(t, "resource_uids", f.ResourceUIDs, []string{"a"})
				eq(t, "title", f.Title, "")
				eq(t, "product_feature", f.ProductFeature, "n")
			},
		},
	})
}

// TestASFFFallbacks: BatchImportFindings input with Severity and Types only
// in FindingProviderFields (JFrog Xray), a legacy per-standard control
// finding (ControlId / RuleId in ProductFields), and the deprecated
// WorkflowState alone.
func TestASFFFallbacks(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "severity, types, confidence, criticality and related findings from FindingProviderFields", findings: 1, unreadable: 0,
			in: minimal(`"Title":"op risk","FindingProviderFields":{"Severity":{"Label":"HIGH","Original":"High"},"Types":["Software and Configuration Checks/Vulnerabilities/CVE"],` +
				`"Confidence":80,"Criticality":"70","RelatedFindings":[{"ProductArn":"p","Id":"r"}]}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eq(t, "severity_label", f.SeverityLabel, "HIGH")
				eq(t, "severity_original", f.SeverityOriginal, "High")
				eq(t, "severity_normalized", f.SeverityNormalized, (*int32)(nil))
				eq(t, "types", f.Types, []string{"Software and Configuration Checks/Vulnerabilities/CVE"})
				eq(t, "confidence", f.Confidence, ptr(int32(80)))
				eq(t, "criticality", f.Criticality, ptr(int32(70)))
				eq(t, "related_findings", f.RelatedFindings, []Related{{ProductARN: "p", ID: "r"}})
				eq(t, "finding_provider_fields kept", f.FindingProviderFields.SeverityLabel, "HIGH")
			},
		},
		{
			name: "the top level wins; a normalized severity beats the provider's label", findings: 2,
			in: imported(
				minimal(`"Severity":{"Label":"LOW"},"Types":["a"],"FindingProviderFields":{"Severity":{"Label":"HIGH","Normalized":70},"Types":["b"]}`),
				`{"Id":"f-2","ProductArn":"p","UpdatedAt":"2024-05-06T07:08:09Z","Severity":{"Normalized":0},"FindingProviderFields":{"Severity":{"Label":"HIGH"}}}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "label", out.Findings[0].SeverityLabel, "LOW")
				eq(t, "normalized (the provider's)", out.Findings[0].SeverityNormalized, ptr(int32(70)))
				eq(t, "types", out.Findings[0].Types, []string{"a"})
				eq(t, "label of Normalized 0", out.Findings[1].SeverityLabel, "INFORMATIONAL")
			},
		},
		{
			name: "legacy control findings: ControlId, RuleId and their standard", findings: 3,
			in: imported(
				minimal(`"ProductFields":{"StandardsArn":"arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0","ControlId":"IAM.5"}`),
				`{"Id":"f-2","ProductArn":"p","UpdatedAt":"2019-04-11T21:52:17Z","ProductFields":{"StandardsGuideArn":"arn:aws:securityhub:::ruleset/cis-aws-foundations-benchmark/v/1.2.0","RuleId":"2.2"}}`,
				`{"Id":"f-3","ProductArn":"p","UpdatedAt":"2019-04-11T21:52:17Z","Compliance":{"SecurityControlId":"Config.1","AssociatedStandards":[{"StandardsId":"standards/pci-dss/v/3.2.1"}]},"ProductFields":{"ControlId":"PCI.Config.1","StandardsArn":"arn:aws:securityhub:::standards/pci-dss/v/3.2.1"}}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "FSBP", out.Findings[0].ComplianceSecurityControlID, "IAM.5")
				eq(t, "FSBP standard", out.Findings[0].ComplianceStandards, []string{"standards/aws-foundational-security-best-practices/v/1.0.0"})
				eq(t, "CIS 1.2", out.Findings[1].ComplianceSecurityControlID, "2.2")
				eq(t, "CIS standard", out.Findings[1].ComplianceStandards, []string{"ruleset/cis-aws-foundations-benchmark/v/1.2.0"})
				eq(t, "consolidated wins", out.Findings[2].ComplianceSecurityControlID, "Config.1")
				eq(t, "its standards", out.Findings[2].ComplianceStandards, []string{"standards/pci-dss/v/3.2.1"})
			},
		},
		{
			name: "WorkflowState alone, and Workflow.Status over it", findings: 2,
			in: imported(minimal(`"WorkflowState":"IN_PROGRESS"`),
				`{"Id":"f-2","ProductArn":"p","UpdatedAt":"2024-05-06T07:08:09Z","WorkflowState":"NEW","Workflow":{"Status":"RESOLVED"}}`),
			check: func(t *testing.T, in string, out *Output) {
				eq(t, "WorkflowState", out.Findings[0].WorkflowStatus, "IN_PROGRESS")
				eq(t, "Workflow.Status", out.Findings[1].WorkflowStatus, "RESOLVED")
			},
		},
	})
}

// TestFindingsDocumentLowerCase: {"findings": [...]}, an EventBridge detail
// saved on its own (a Lambda that logs event["detail"]) or DefectDojo's
// import format, is a Findings document: each finding a row.
func TestFindingsDocumentLowerCase(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "a saved detail", findings: 2, in: `{"actionName":"a","actionDescription":"b","findings":[` + minimal("") + `,` + minimal(`"Title":"t"`) + `]}`},
		{name: "empty", in: `{"findings":[]}`},
	})
}

// TestASFFEpochTimestamps: an ASFF *At field may hold an epoch number, as a
// JSON number or a string of one (a table of ASFF exported to JSON: pandas'
// to_json writes milliseconds), read by the OCSF rule: below 10^11 seconds,
// else milliseconds. Every *At field, nested ones too.
func TestASFFEpochTimestamps(t *testing.T) {
	const ms = 1716510417123 // 2024-05-24T00:26:57.123Z
	at := time.UnixMilli(ms).UTC()
	runDecodeCases(t, []decodeCase{
		{
			name: "milliseconds as numbers, as pandas writes them", findings: 1, unreadable: 0,
			in: `{"SchemaVersion":"2018-10-08","Id":"us-east-1/111122223333/5740/92b2","ProductArn":"arn:aws:securityhub:us-east-1::product/cloud-custodian/cloud-custodian",` +
				`"CreatedAt":1716510417123,"UpdatedAt":1716510417123,"FirstObservedAt":1716510417123,"LastObservedAt":1716510417123,"ProcessedAt":1716510417123,` +
				`"Note":{"Text":"n","UpdatedBy":"u","UpdatedAt":1716510417123},"Process":{"Name":"p","LaunchedAt":1716510417123,"TerminatedAt":1716510417123},` +
				`"ThreatIntelIndicators":[{"Type":"DOMAIN","LastObservedAt":1716510417123}],` +
				`"Vulnerabilities":[{"Id":"CVE-2024-1","Vendor":{"Name":"NVD","VendorCreatedAt":1716510417123,"VendorUpdatedAt":1716510417123}}]}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				for what, got := range map[string]time.Time{
					"created_at": f.CreatedAt, "updated_at": f.UpdatedAt, "first_observed_at": f.FirstObservedAt,
					"last_observed_at": f.LastObservedAt, "processed_at": f.ProcessedAt, "note_updated_at": f.NoteUpdatedAt,
					"process.launched_at": timeOf(f.Process.LaunchedAt), "process.terminated_at": timeOf(f.Process.TerminatedAt),
					"threat_intel_indicators[0].last_observed_at": timeOf(f.ThreatIntelIndicators[0].LastObservedAt),
					"vulnerabilities[0].vendor_created_at":        timeOf(f.Vulnerabilities[0].VendorCreatedAt),
					"vulnerabilities[0].vendor_updated_at":        timeOf(f.Vulnerabilities[0].VendorUpdatedAt),
				} {
					eqTime(t, what, got, at)
				}
				eq(t, "dt (from UpdatedAt, no event)", f.Date, "2024-05-24")
			},
		},
		{
			name: "numeric strings, seconds, fractions and the boundary", findings: 1, unreadable: 0,
			in: minimal(`"CreatedAt":"1716510417123","FirstObservedAt":1716510417,"LastObservedAt":"1716510417.5",` +
				`"ProcessedAt":99999999999,"Note":{"UpdatedAt":100000000000}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				eqTime(t, "milliseconds in a string", f.CreatedAt, at)
				eqTime(t, "seconds", f.FirstObservedAt, time.Unix(1716510417, 0).UTC())
				eqTime(t, "fractional seconds in a string", f.LastObservedAt, time.UnixMilli(1716510417500).UTC())
				eqTime(t, "10^11 - 1 is seconds (year 5138)", f.ProcessedAt, time.Unix(99999999999, 0).UTC())
				eqTime(t, "10^11 is milliseconds (1973-03-03)", f.NoteUpdatedAt, time.UnixMilli(100000000000).UTC())
				eqTime(t, "RFC 3339 as before", f.UpdatedAt, utc("2024-05-06T07:08:09Z"))
			},
		},
		{
			name: "what is no time is NULL", findings: 1, unreadable: 0,
			in: minimal(`"CreatedAt":1e300,"FirstObservedAt":true,"LastObservedAt":null,"ProcessedAt":"12 May","Note":{"UpdatedAt":{"ms":1}},"Process":{"LaunchedAt":-99999999999}`),
			check: func(t *testing.T, in string, out *Output) {
				f := out.Findings[0]
				for what, got := range map[string]time.Time{"1e300": f.CreatedAt, "true": f.FirstObservedAt, "null": f.LastObservedAt,
					"text": f.ProcessedAt, "an object": f.NoteUpdatedAt, "before the year 1": timeOf(f.Process.LaunchedAt)} {
					if !got.IsZero() {
						t.Errorf("%s read as %v", what, got)
					}
				}
			},
		},
		{
			name: "an UpdatedAt in milliseconds dates a bare finding", findings: 1,
			in:    `{"Id":"f","ProductArn":"p","UpdatedAt":1716510417123}`,
			check: func(t *testing.T, in string, out *Output) { eq(t, "dt", out.Findings[0].Date, "2024-05-24") },
		},
		{
			name: "an UpdatedAt in seconds before 2015 is outside the partition range", dead: []string{"UpdatedAt 1970-01-01T00:00:01Z is outside the partition range"},
			in: `{"Id":"f","ProductArn":"p","UpdatedAt":1}`,
		},
	})
}

// timeOf is *t, the zero time for nil (NULL).
func timeOf(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// TestASFFProductArn: a finding without ProductName, CompanyName or Region
// (a BatchImportFindings input before Security Hub enriched it: Trivy,
// Cloud Custodian; findings from before Region existed) takes them from its
// ProductArn, arn:<partition>:securityhub:<region>:<account>:product/
// <company>/<product>, after ProductFields' aws/securityhub/ProductName and
// CompanyName; what the finding sends always wins.
func TestASFFProductArn(t *testing.T) {
	cases := []struct {
		name, arn, extra         string
		region, company, product string
	}{
		{"trivy", "arn:aws:securityhub:eu-west-2::product/aquasecurity/aquasecurity", "", "eu-west-2", "aquasecurity", "aquasecurity"},
		{"china", "arn:aws-cn:securityhub:cn-north-1::product/aquasecurity/aquasecurity", "", "cn-north-1", "aquasecurity", "aquasecurity"},
		{"govcloud", "arn:aws-us-gov:securityhub:us-gov-west-1::product/aws/guardduty", "", "us-gov-west-1", "aws", "guardduty"},
		{"a custom integration's default product", "arn:aws:securityhub:us-east-2:111122223333:product/111122223333/default", "", "us-east-2", "111122223333", "default"},
		{"the documentation's typo", "arn:aws::securityhub:us-west-1::product/aws/guardduty", "", "us-west-1", "aws", "guardduty"},
		{"no region (Trivy's secrets before 0.49)", "arn:aws:securityhub:::product/aquasecurity/aquasecurity", "", "", "aquasecurity", "aquasecurity"},
		{"ProductFields first", "arn:aws:securityhub:us-east-1::product/cloud-custodian/cloud-custodian",
			`"ProductFields":{"aws/securityhub/ProductName":"Cloud Custodian","aws/securityhub/CompanyName":"Cloud Custodian"}`, "us-east-1", "Cloud Custodian", "Cloud Custodian"},
		{"the finding's own first", "arn:aws:securityhub:us-west-1:111122223333:product/111122223333/default",
			`"ProductName":"xray","CompanyName":"jfrog","Region":"eu-central-1"`, "eu-central-1", "jfrog", "xray"},
		{"not a product", "arn:aws:securityhub:us-east-1::standards/pci-dss/v/3.2.1", "", "us-east-1", "", ""},
		{"a product path too long", "arn:aws:securityhub:us-east-1::product/a/b/c", "", "us-east-1", "", ""},
		{"another service", "arn:aws:inspector2:us-east-1::product/aws/inspector", "", "", "", ""},
		{"not an ARN", "jfrog-xray", "", "", "", ""},
		{"no partition", "arn::securityhub:us-east-1::product/a/b", "", "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := `{"Id":"f-1","ProductArn":"` + c.arn + `","UpdatedAt":"2024-05-06T07:08:09Z"`
			if c.extra != "" {
				f += "," + c.extra
			}
			var out Output
			Decode([]byte(f+"}"), testOrigin, &out)
			if len(out.Findings) != 1 {
				t.Fatalf("%d rows, dead letters %q", len(out.Findings), reasons(&out))
			}
			r := out.Findings[0]
			eq(t, "region", r.Region, c.region)
			eq(t, "company_name", r.CompanyName, c.company)
			eq(t, "product_name", r.ProductName, c.product)
			eq(t, "product_arn as sent", r.ProductARN, c.arn)
		})
	}
}

// TestProwler4EventTime: Prowler 4.0–4.4's json-ocsf (OCSF 1.2.0) has no
// time: its time is event_time, a naive ISO string (read as UTC), and
// finding_info.created_time is an ISO string too. Any OCSF *_time may be an
// ISO string, with a zone or without.
func TestProwler4EventTime(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{
			name: "prowler 4.2", ocsf: 1, unreadable: 0,
			in: `{"metadata":{"event_code":"iam_root_mfa_enabled","product":{"name":"Prowler","vendor_name":"Prowler","version":"4.2.4"},"version":"1.2.0"},` +
				`"severity_id":5,"severity":"Critical","status":"New","status_code":"FAIL","status_id":1,"activity_name":"Create","activity_id":1,` +
				`"finding_info":{"created_time":"2024-07-09T08:30:12.640391","desc":"Ensure MFA is enabled for the root account","product_uid":"prowler",` +
				`"title":"Ensure MFA is enabled for the root account","uid":"prowler-aws-iam_root_mfa_enabled-222233334444-us-east-1-root"},` +
				`"category_name":"Findings","category_uid":2,"class_name":"DetectionFinding","class_uid":2004,` +
				`"cloud":{"account":{"name":"","type":"AWS_Account","type_id":10,"uid":"222233334444"},"provider":"aws","region":"us-east-1"},` +
				`"event_time":"2024-07-09T08:30:12.640391","type_uid":200401,"type_name":"Create"}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "time (event_time, naive: UTC)", f.Time, utc("2024-07-09T08:30:12.640391Z"))
				eqTime(t, "created_time (an ISO string)", f.CreatedTime, utc("2024-07-09T08:30:12.640391Z"))
				eq(t, "dt", f.Date, "2024-07-09")
				eqTime(t, "event_time is the event's, not Prowler's", f.EventTime, time.Time{})
			},
		},
		{
			name: "time, then time_dt, win over event_time", ocsf: 2,
			in: `[` + ocsfMinimal(`"event_time":"2020-01-01T00:00:00"`) + `,` +
				`{"finding_info":{"uid":"f"},"time_dt":"2024-01-02T03:04:05Z","event_time":"2020-01-01T00:00:00"}]`,
			check: func(t *testing.T, in string, out *Output) {
				eqTime(t, "time", out.OCSF[0].Time, time.UnixMilli(1758273439594).UTC())
				eqTime(t, "time_dt", out.OCSF[1].Time, utc("2024-01-02T03:04:05Z"))
			},
		},
		{
			name: "ISO strings in every *_time", ocsf: 1, unreadable: 0,
			in: `{"finding_info":{"uid":"f","created_time":"2024-03-10T01:59:59.123-05:00","modified_time":"2024-03-10 07:00:01",` +
				`"first_seen_time":"2024-03-10T07:00:01.123456789Z","last_seen_time":"2024-03-10T07:00:01+00:00"},"time":"2024-03-10T07:00:02"}`,
			check: func(t *testing.T, in string, out *Output) {
				f := out.OCSF[0]
				eqTime(t, "created_time with an offset", f.CreatedTime, utc("2024-03-10T06:59:59.123Z"))
				eqTime(t, "modified_time naive with a space", f.ModifiedTime, utc("2024-03-10T07:00:01Z"))
				eqTime(t, "first_seen_time with nine digits", f.FirstSeenTime, utc("2024-03-10T07:00:01.123456789Z"))
				eqTime(t, "last_seen_time +00:00", f.LastSeenTime, utc("2024-03-10T07:00:01Z"))
				eqTime(t, "time naive", f.Time, utc("2024-03-10T07:00:02Z"))
			},
		},
		{
			name: "no time of any kind", dead: []string{"no usable date (neither event time, time, Prowler 4's event_time nor finding_info.modified_time parses)"},
			in: `{"finding_info":{"uid":"f","created_time":"2024-07-09T08:30:12"},"event_time":"soon"}`,
		},
	})
}

// TestOCSFRC2Names: OCSF 1.0.0-rc.2's cloud object names the account
// account_uid (later versions: account.uid), and its resources carry
// details, a string (Security Lake's first version put the ASFF Details
// there), where later versions carry data; the later names win.
func TestOCSFRC2Names(t *testing.T) {
	runDecodeCases(t, []decodeCase{{
		name: "rc.2 and later", ocsf: 2,
		in: `[` + ocsfMinimal(`"cloud":{"account_uid":"111122223333","provider":"AWS"},"resources":[{"uid":"sg-1","details":"{\"GroupId\":\"sg-1\"}"}]`) + `,` +
			ocsfMinimal(`"cloud":{"account":{"uid":"444455556666"},"account_uid":"111122223333"},"resources":[{"uid":"sg-2","data":{"a":1},"details":"x"}]`) + `]`,
		check: func(t *testing.T, in string, out *Output) {
			eq(t, "account_uid (rc.2)", out.OCSF[0].AccountUID, "111122223333")
			eq(t, "account_uid (account.uid)", out.OCSF[1].AccountUID, "444455556666")
			eq(t, "data_json (rc.2's details, as sent)", out.OCSF[0].Resources[0].DataJSON, `"{\"GroupId\":\"sg-1\"}"`)
			eq(t, "data_json (data)", out.OCSF[1].Resources[0].DataJSON, `{"a":1}`)
		},
	}})
}

// TestEmptyPages: an empty Findings document (the last page of a paginated
// get-findings saved whole, whatever its key order) or an empty array holds
// nothing to read: decoded as one unit (a Kinesis record, a line, an array
// element) it makes no row and no dead letter, as the splitter makes no
// unit of it in a file. An event that carries no findings is still a dead
// letter: EventBridge never sends one.
func TestEmptyPages(t *testing.T) {
	runDecodeCases(t, []decodeCase{
		{name: "ResponseMetadata first", in: `{"ResponseMetadata":{"RequestId":"5f1c","HTTPStatusCode":200,"RetryAttempts":0},"Findings":[]}`},
		{name: "NextToken first", in: `{"NextToken":"eyJ0b2tlbiI6IDJ9","Findings":[ ]}`},
		{name: "Findings first", in: `{"Findings":[],"ResponseMetadata":{"RequestId":"5f1c"}}`},
		{name: "lower case", in: `{"findings":[]}`},
		{name: "an empty array", in: `[ ]`},
		{name: "an array of pages", in: `[{"Findings":[]},` + `{"Findings":[` + minimal("") + `]}]`, findings: 1},
		{name: "Findings empty, findings not", in: `{"Findings":[],"findings":[` + minimal("") + `]}`, findings: 1},
		{name: "an event without findings", in: imported(), dead: []string{"event carries no findings"}},
	})
}

// TestPlacebo: a Cloud Custodian placebo recording of get_findings,
// {"status_code": 200, "data": <the boto3 response>}, is read as its data:
// each finding a row of the one unit (finding_index tells them apart).
// Another recording is a dead letter that says what it is.
func TestPlacebo(t *testing.T) {
	page := `{"ResponseMetadata":{"RequestId":"a1"},"Findings":[` + minimal("") + `,` + minimal(`"Id":"f-2"`) + `],"NextToken":"t"}`
	runDecodeCases(t, []decodeCase{
		{
			name: "get_findings", findings: 2, in: `{"status_code": 200, "data": ` + page + `}`,
			check: func(t *testing.T, in string, out *Output) {
				for i, f := range out.Findings {
					eq(t, "finding_index", f.FindingIndex, int32(i))
					eq(t, "event_detail_type", f.EventDetailType, KindBackfill)
				}
				eq(t, "second id", out.Findings[1].ID, "f-2")
			},
		},
		{name: "data first, a status code as a string", findings: 2, in: `{"data": ` + page + `, "status_code": "200"}`},
		{name: "an empty page", in: `{"status_code": 200, "data": {"ResponseMetadata": {}, "Findings": []}}`},
		{name: "an OCSF page", ocsf: 1, in: `{"status_code": 200, "data": {"Findings": [` + ocsfMinimal("") + `]}}`},
		{name: "another API", in: `{"status_code": 200, "data": {"Reservations": []}}`,
			dead:  []string{`a placebo recording (Cloud Custodian's {"status_code": 200, "data": ...}) whose data is not a Findings document`},
			check: func(t *testing.T, in string, out *Output) { eq(t, "dead letter data", string(out.Dead[0].Data), in) }},
		{name: "a failed call", in: `{"status_code": 400, "data": {"Error": {"Code": "InvalidAccessException"}}}`, dead: []string{"status_code\": 400"}},
		{name: "data null", in: `{"status_code": 200, "data": null}`, dead: []string{"not a Findings document"}},
		{name: "no status code: a finding like any", in: `{"data": ` + page + `}`, dead: []string{"has no Id"}},
		{name: "Prowler's status_code is no placebo", ocsf: 1, in: ocsfMinimal(`"status_code":"FAIL","data":{"Findings":[]}`)},
	})
}
