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
	// Findings and Insights are the rows the unit makes.
	Findings, Insights int
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

// Insight is an "Insight Results" event with the given detail members.
func Insight(id, time, members string) string {
	return Event(id, "Security Hub Insight Results", time, `{"actionName":"share","actionDescription":"send","insightName":"secrets `+Secrets[0]+`","resultType":"ResourceId",`+members+`}`)
}

// Cases returns the hostile units. None is larger than a few hundred KiB:
// units over the size limit are made by the tests for their own limit.
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
	}
	return cases
}
