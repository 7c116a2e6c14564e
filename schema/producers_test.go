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
		{name: "empty", in: `{"findings":[]}`, dead: []string{"Findings document with no findings"}},
	})
}
