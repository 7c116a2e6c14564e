// Package hostile is the list of hostile records the tests feed through
// both sources (backfill files and the Kinesis consumer): what each one is,
// and what hublake must make of it — dead letters with which reasons, or rows
// with NULLs. SECURITY.md's table is this list. Tests only.
//
// Many cases carry secret-looking values (Secrets) in finding contents, so
// that the same runs prove that logs and metrics never show them.
package hostile

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Secrets are the secret-looking values planted in finding contents: an AWS
// access key id (the documentation's example), a private key header and a
// password in a tag. Logs and metrics must never contain them.
var Secrets = []string{"AKIAIOSFODNN7EXAMPLE", "-----BEGIN RSA PRIVATE KEY-----", "password=hunter2"}

// Case is one hostile unit: one line of a file, one Kinesis record.
type Case struct {
	Name string
	Data []byte
	// Dead are fragments of the reasons of the dead letters the unit makes,
	// in order; DeadData their data when it is not the whole unit.
	Dead     []string
	DeadData []string
	// Findings, Insights and OCSF are the rows the unit makes (findings,
	// insight_results, ocsf_findings).
	Findings, Insights, OCSF int
	// Undated: the dead letters have no usable date (dt=1970-01-01) in
	// backfill, where no record arrival time dates them.
	Undated bool
}

const (
	// Time is the event time of the well-formed parts of the cases.
	Time = "2025-03-04T05:06:07Z"
	// Date is its partition.
	Date          = "2025-03-04"
	productArn    = "arn:aws:securityhub:us-east-1::product/aws/guardduty"
	secretTitle   = "Access key AKIAIOSFODNN7EXAMPLE exposed"
	secretDetails = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq\n-----END RSA PRIVATE KEY-----"
)

// Finding returns a finding that becomes a row, carrying the secrets, with
// extra members (JSON text without braces) replacing or adding fields.
func Finding(id string, extra ...string) string {
	f := map[string]any{
		"SchemaVersion": "2018-10-08",
		"Id":            id,
		"ProductArn":    productArn,
		"GeneratorId":   "secret-scanner",
		"AwsAccountId":  "111122223333",
		"Region":        "us-east-1",
		"Types":         []string{"Sensitive Data Identifications/Passwords"},
		"CreatedAt":     "2025-03-04T05:00:00Z",
		"UpdatedAt":     "2025-03-04T05:06:00Z",
		"Severity":      map[string]any{"Label": "CRITICAL"},
		"Title":         secretTitle,
		"Description":   secretDetails,
		"Resources": []any{map[string]any{
			"Type": "Container", "Id": "registry/app:1.0", "Region": "us-east-1",
			"Tags": map[string]string{"config": "password=hunter2"},
		}},
	}
	return withMembers(f, extra)
}

// withMembers renders f with extra members (JSON text without braces)
// replacing or adding fields; an extra that is not valid on its own is
// appended verbatim.
func withMembers(f map[string]any, extra []string) string {
	drop := map[string]bool{}
	var add []string
	for _, e := range extra {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte("{"+e+"}"), &m); err != nil {
			add = append(add, e) // not valid on its own: appended verbatim
			continue
		}
		for k := range m {
			drop[k] = true
		}
		add = append(add, e)
	}
	for k := range drop {
		delete(f, k)
	}
	b, err := json.Marshal(f)
	if err != nil {
		panic(err)
	}
	s := string(b)
	for _, e := range add {
		if strings.TrimSpace(e) == "" {
			continue
		}
		if s == "{}" {
			s = "{" + e + "}"
		} else {
			s = s[:len(s)-1] + "," + e + "}"
		}
	}
	return s
}

// Event wraps detail in an EventBridge event from aws.securityhub.
func Event(id, detailType, time, detail string) string {
	return fmt.Sprintf(`{"version":"0","id":%q,"detail-type":%q,"source":"aws.securityhub","account":"111122223333","time":%q,"region":"us-east-1","resources":[],"detail":%s}`,
		id, detailType, time, detail)
}

// Imported is a "Findings - Imported" event around findings.
func Imported(id, time string, findings ...string) string {
	return Event(id, "Security Hub Findings - Imported", time, `{"findings":[`+strings.Join(findings, ",")+`]}`)
}

// OCSFFinding returns an OCSF finding (Security Hub's Findings Imported V2
// shape: a CSPM control finding) that becomes an ocsf_findings row, carrying
// the secrets, with extra members replacing or adding fields.
func OCSFFinding(uid string, extra ...string) string {
	f := map[string]any{
		"activity_id": 1, "activity_name": "Create", "category_name": "Findings", "category_uid": 2,
		"class_name": "Compliance Finding", "class_uid": 2003,
		"cloud":      map[string]any{"account": map[string]any{"uid": "111122223333"}, "provider": "AWS", "region": "us-east-1"},
		"compliance": map[string]any{"control": "SecretsManager.1", "status": "Fail", "status_id": 3},
		"finding_info": map[string]any{
			"created_time": 1741064400000, "modified_time": 1741064760000, "desc": secretDetails, "title": secretTitle,
			"uid": "arn:aws:securityhub:us-east-1:111122223333:security-control/SecretsManager.1/finding/" + uid,
		},
		"metadata": map[string]any{"product": map[string]any{"name": "Security Hub", "uid": "arn:aws:securityhub:us-east-1::productv2/aws/securityhub"}, "uid": uid, "version": "1.6.0"},
		"resources": []any{map[string]any{
			"type": "AWS::SecretsManager::Secret", "uid": "arn:aws:secretsmanager:us-east-1:111122223333:secret:app", "region": "us-east-1",
			"tags": []any{map[string]string{"name": "config", "value": "password=hunter2"}},
		}},
		"severity": "Critical", "severity_id": 5, "status": "New", "status_id": 1,
		"time": 1741064760000, "type_uid": 200301,
	}
	return withMembers(f, extra)
}

// OCSFEvent is a "Findings Imported V2" event around OCSF findings.
func OCSFEvent(id, time string, findings ...string) string {
	return Event(id, "Findings Imported V2", time, `{"findings":[`+strings.Join(findings, ",")+`]}`)
}

// Insight is an "Insight Results" event with the given detail members.
func Insight(id, time, members string) string {
	return Event(id, "Security Hub Insight Results", time, `{"actionName":"share","actionDescription":"send","insightName":"secrets `+Secrets[0]+`","resultType":"ResourceId",`+members+`}`)
}

// Cases returns the hostile units. None is larger than 64 KiB (the limit the
// consumer's test runs with): units over a size limit, and huge ones under
// the default limit, are made by the tests for their own limit.
func Cases() []Case {
	deep := strings.Repeat(`{"a":[`, 5000) + strings.Repeat(`]}`, 5000)
	valid := Imported("hostile-valid", Time, Finding("finding/valid"))
	cases := []Case{
		{Name: "a valid event (control)", Data: []byte(valid), Findings: 1},
		{Name: "invalid JSON", Data: []byte(`{"Id": "` + Secrets[0] + `", "ProductArn": }`), Dead: []string{"invalid JSON"}, Undated: true},
		{Name: "truncated JSON", Data: []byte(valid[:len(valid)/2]), Dead: []string{"invalid JSON"}, Undated: true},
		{Name: "invalid UTF-8", Data: []byte(Imported("hostile-utf8", Time, Finding("finding/utf8", `"Title":"caf`+"\xe9 "+Secrets[0]+`"`))), Dead: []string{"invalid UTF-8"}, Undated: true},
		{Name: "JSON that is not an object: a number", Data: []byte(`42`), Dead: []string{"not a JSON object: a number"}, Undated: true},
		{Name: "JSON that is not an object: a string", Data: []byte(`"` + Secrets[2] + `"`), Dead: []string{"not a JSON object: a string"}, Undated: true},
		{Name: "JSON that is not an object: an array of scalars", Data: []byte(`[1,"` + Secrets[0] + `"]`),
			Dead: []string{"array element 0 is not a JSON object", "array element 1 is not a JSON object"}, DeadData: []string{`1`, `"` + Secrets[0] + `"`}, Undated: true},
		{Name: "an event from another source", Data: []byte(`{"version":"0","id":"ec2","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"111122223333","time":"` + Time + `","region":"us-east-1","resources":[],"detail":{"state":"running","note":"` + Secrets[0] + `"}}`),
			Dead: []string{`unsupported event source "aws.ec2"`}},
		{Name: "an unsupported detail-type", Data: []byte(Event("hostile-dt", "Security Hub Findings - Exported", Time, `{"findings":[`+Finding("finding/exported")+`]}`)),
			Dead: []string{`unsupported detail-type "Security Hub Findings - Exported"`}},
		{Name: "detail of the wrong shape: an array", Data: []byte(Event("hostile-detail", "Security Hub Findings - Imported", Time, `[`+Finding("finding/detail")+`]`)),
			Dead: []string{"event detail is not a JSON object"}},
		{Name: "detail of the wrong shape: findings not an array", Data: []byte(Event("hostile-findings", "Security Hub Findings - Imported", Time, `{"findings":`+Finding("finding/notarray")+`}`)),
			Dead: []string{"event detail has no findings array"}},
		{Name: "a finding without Id, beside a good one", Data: []byte(Imported("hostile-noid", Time, Finding("finding/beside-noid"), Finding("", `"Id":null`))),
			Findings: 1, Dead: []string{"finding 1 has no Id"}, DeadData: []string{Finding("", `"Id":null`)}},
		{Name: "a finding without ProductArn", Data: []byte(Imported("hostile-noarn", Time, Finding("finding/noarn", `"ProductArn":""`))),
			Dead: []string{"finding 0 has no ProductArn"}, DeadData: []string{Finding("finding/noarn", `"ProductArn":""`)}},
		{Name: "a finding that is not an object", Data: []byte(Imported("hostile-scalar", Time, `"`+Secrets[0]+`"`)),
			Dead: []string{"finding 0 is not a JSON object"}, DeadData: []string{`"` + Secrets[0] + `"`}},
		{Name: "an insight without insightArn", Data: []byte(Insight("hostile-noinsight", Time, `"insightResults":[{"i-1":3}]`)),
			Dead: []string{"insight event has no insightArn"}},
		{Name: "nesting thousands deep", Data: []byte(deep), Dead: []string{"invalid JSON"}, Undated: true},
		{Name: "nesting thousands deep inside a finding", Data: []byte(Imported("hostile-deep", Time, Finding("finding/deep", `"ProductFields":{"x":`+deep+`}`))),
			Dead: []string{"invalid JSON"}, Undated: true},
		{Name: "time not a time, no usable UpdatedAt", Data: []byte(Imported("hostile-notime", "../../..", Finding("finding/notime", `"UpdatedAt":"yesterday `+Secrets[0]+`"`))),
			Dead: []string{"finding 0: no usable date"}, DeadData: []string{Finding("finding/notime", `"UpdatedAt":"yesterday `+Secrets[0]+`"`)}, Undated: true},
		{Name: "insight with a time that is not a time", Data: []byte(Insight("hostile-insight-notime", "not a time", `"insightArn":"arn:aws:securityhub:us-east-1:111122223333:insight/x","insightResults":[{"i-1":3}]`)),
			Dead: []string{"insight event has no usable date"}, Undated: true},
		{Name: "time not a time, UpdatedAt usable: a row", Data: []byte(Imported("hostile-badtime", "../../..", Finding("finding/badtime"))), Findings: 1},
		{Name: "an insight count that is not a number: NULL in a kept row", Data: []byte(Insight("hostile-count", Time, `"insightArn":"arn:aws:securityhub:us-east-1:111122223333:insight/y","number of results":"many","insightResults":[{"i-1":"lots"},{"i-2":7}]`)),
			Insights: 2},
		{Name: "a malformed CreatedAt: NULL in a kept row", Data: []byte(Imported("hostile-createdat", Time, Finding("finding/createdat", `"CreatedAt":"2025-02-30T25:61:00Z"`))), Findings: 1},
		{Name: "path-like account, region and ids: a row, written inside the lake", Data: []byte(Imported("../../../../tmp/x", Time, Finding("../../../etc/passwd", `"AwsAccountId":"../../x"`, `"Region":"us-east-1/../../../x"`))), Findings: 1},

		// OCSF (Findings Imported V2).
		{Name: "OCSF: a valid V2 event", Data: []byte(OCSFEvent("hostile-ocsf-valid", Time, OCSFFinding("ocsf/valid"))), OCSF: 1},
		{Name: "OCSF: a V2 event mixing a good finding, one without a key and one that is not an object",
			Data: []byte(OCSFEvent("hostile-ocsf-nokey", Time, OCSFFinding("ocsf/beside-nokey"), OCSFFinding("", `"metadata":{"version":"1.6.0"}`, `"finding_info":{"title":"`+Secrets[0]+`"}`), `"`+Secrets[0]+`"`)),
			OCSF: 1, Dead: []string{"OCSF finding 1 has neither metadata.uid nor finding_info.uid", "finding 2 is not a JSON object"},
			DeadData: []string{OCSFFinding("", `"metadata":{"version":"1.6.0"}`, `"finding_info":{"title":"`+Secrets[0]+`"}`), `"` + Secrets[0] + `"`}},
		{Name: "OCSF: nesting thousands deep inside a finding", Data: []byte(OCSFEvent("hostile-ocsf-deep", Time, OCSFFinding("ocsf/deep", `"unmapped":`+deep))),
			Dead: []string{"invalid JSON"}, Undated: true},
		{Name: "OCSF: a large resources[].data (a row; data_json holds it)", Data: []byte(OCSFEvent("hostile-ocsf-large", Time, OCSFFinding("ocsf/large",
			`"resources":[{"type":"AWS::EC2::Instance","uid":"i-1","data":{"blob":"`+strings.Repeat("D", 40<<10)+`","tags":[`+strings.Repeat(`{"key":"k"},`, 1000)+`{"key":"k"}]}}]`))), OCSF: 1},
		{Name: "OCSF: wrong types everywhere (NULLs in a kept row)", Data: []byte(OCSFEvent("hostile-ocsf-types", Time, OCSFFinding("ocsf/types",
			`"class_uid":"two thousand"`, `"cloud":["aws"]`, `"compliance":"Fail"`, `"resources":{"uid":7}`, `"vulnerabilities":{"cve":1}`,
			`"severity":{"label":"`+Secrets[0]+`"}`, `"severity_id":true`, `"status":404`, `"time":"yesterday"`, `"comment":["`+Secrets[2]+`"]`))), OCSF: 1},
		{Name: "OCSF: event time not a time, no usable time of its own", Data: []byte(OCSFEvent("hostile-ocsf-notime", "../../..",
			OCSFFinding("ocsf/notime", `"time":"later `+Secrets[0]+`"`, `"finding_info":{"uid":"f","modified_time_dt":"never"}`))),
			Dead: []string{"OCSF finding 0: no usable date"}, DeadData: []string{OCSFFinding("ocsf/notime", `"time":"later `+Secrets[0]+`"`, `"finding_info":{"uid":"f","modified_time_dt":"never"}`)}, Undated: true},
		{Name: "OCSF: path-like account, region and ids (a row, written inside the lake)", Data: []byte(OCSFEvent("../../../tmp/y", "../x",
			OCSFFinding("../../../etc/shadow", `"cloud":{"account":{"uid":"../../x"},"region":"us-east-1/../../../x"}`))), OCSF: 1},
	}
	return cases
}
