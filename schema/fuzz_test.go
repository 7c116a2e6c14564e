package schema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/hublake/hublake/internal/repo"
)

// Fuzz targets for every entry into the decoder. Each is seeded from the
// hand-made inputs of decode_test.go and, when the checkout has them, from
// the real samples in ../shared/samples. The invariants are those of
// checkOutput plus what each entry point promises on top.

// sampleFindings returns the findings inside the samples: the bare ones, the
// elements of arrays and Findings documents, and detail.findings of events.
func sampleFindings(limit int) [][]byte {
	var out [][]byte
	for _, b := range repo.SampleSeeds(limit) {
		var doc struct {
			Detail *struct {
				Findings []json.RawMessage `json:"findings"`
			} `json:"detail"`
			Findings []json.RawMessage `json:"Findings"`
		}
		var arr []json.RawMessage
		switch {
		case json.Unmarshal(b, &arr) == nil:
			out = append(out, rawAll(arr, 8)...)
		case json.Unmarshal(b, &doc) == nil && doc.Detail != nil:
			out = append(out, rawAll(doc.Detail.Findings, 8)...)
		case doc.Findings != nil:
			out = append(out, rawAll(doc.Findings, 8)...)
		default:
			out = append(out, b) // a bare finding, or one that is not valid JSON
		}
	}
	return out
}

func rawAll(in []json.RawMessage, most int) [][]byte {
	var out [][]byte
	for i, r := range in {
		if i == most {
			break
		}
		out = append(out, r)
	}
	return out
}

// fuzzOrigin bounds partition dates for about half the inputs, so both the
// bounded and the unbounded path are fuzzed.
func fuzzOrigin(data []byte) Origin {
	o := Origin{Source: "file:fuzz.json#0", RecordTime: testRecordTime}
	if len(data)%2 == 0 {
		o.NotAfter = testNotAfter
	}
	return o
}

// decodeSeeds are hand-written inputs of every shape Decode knows.
func decodeSeeds() []string {
	return []string{
		imported(fullFinding),
		imported(minimal(`"Title":"one"`), minimal(`"Title":"two"`)),
		event(DetailCustomAction, "2019-04-11T18:43:48Z", `"arn:aws:securityhub:us-west-1:111122223333:action/custom/x"`,
			`{"actionName":"x","actionDescription":"d","findings":[`+minimal("")+`]}`),
		event(DetailInsight, "2017-12-22T18:43:48Z", "", `{"actionName":"a","insightArn":"arn:i","insightName":"n","resultType":"ResourceId","number of results":"2","insightResults":[{"result 1": 5},{"result 2": "6"}]}`),
		minimal(`"Severity":{"Normalized":"40"},"Network":{"DestinationPort":"80"},"AwsAccountId":123456789012,"Types":[]`),
		`{"Findings":[` + minimal("") + `,` + minimal(`"Title":7`) + `],"NextToken":"t"}`,
		`[` + minimal(`"CreatedAt":"2024-02-29T23:59:59.123456789+09:00"`) + `]`,
		`{"Id":"f","ProductArn":"p","UpdatedAt":"9999-12-31T23:30:00-01:00"}`,
		`{"Id":"f","ProductArn":"p","UpdatedAt":"2015-01-01T08:00:00+09:00","Compliance":{"Status":"INFOED"}}`,
		event(DetailImported, "not a time", "", `{"findings":[`+minimal("")+`]}`),
		`{"source":"aws.ec2","detail-type":"x","detail":{}}`,
		`{"Id":"a","ProductArn":"p","Title":"SECRET-TOKEN-123","UpdatedAt":"2024-01-02T00:00:00Z"`,
		"{\"Id\":\"\xff\"}",
		`42`, ``, `[]`, `[[[[`,
		// Real producers' shapes (producers_test.go): epoch milliseconds in
		// *At (a pandas export), a product ARN of another partition and the
		// documentation's misspelt one, an empty page in any key order, an
		// array of pages, placebo recordings.
		`{"Id":"f","ProductArn":"arn:aws-us-gov:securityhub:us-gov-west-1:1:product/1/default","CreatedAt":1716510417123,"UpdatedAt":"1716510417123","Note":{"UpdatedAt":1716510417.5}}`,
		`{"Id":"f","ProductArn":"arn:aws::securityhub:us-west-1::product/aws/guardduty","UpdatedAt":99999999999,"Process":{"LaunchedAt":"1e12"}}`,
		`{"ResponseMetadata":{"RequestId":"r","HTTPStatusCode":200},"Findings":[]}`, `{"NextToken":"t","findings":[ ]}`,
		`[{"ResponseMetadata":{},"Findings":[` + minimal("") + `],"NextToken":"t"},{"Findings":[]}]`,
		`{"status_code":200,"data":{"ResponseMetadata":{},"Findings":[` + minimal("") + `,` + minimal(`"Id":"f-2"`) + `]}}`,
		`{"data":{"Findings":[]},"status_code":"200"}`, `{"status_code":400,"data":{"Error":{"Code":"x"}}}`, `{"status_code":200,"data":null}`,
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add([]byte(s))
	}
	for _, b := range append(repo.SampleSeeds(32<<10), repo.OCSFSampleSeeds(32<<10)...) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		o := fuzzOrigin(data)
		orig := bytes.Clone(data)
		var out Output
		Decode(data, o, &out)
		if !bytes.Equal(orig, data) {
			t.Fatal("Decode changed its input")
		}
		checkOutput(t, data, o, &out)
		checkValidJSONAccepted(t, data, &out)
	})
}

// checkValidJSONAccepted: input that encoding/json accepts must never be
// called invalid, except for nesting deeper than the decoder allows.
func checkValidJSONAccepted(t *testing.T, data []byte, out *Output) {
	t.Helper()
	if !json.Valid(data) || !utf8.Valid(data) {
		return
	}
	for _, d := range out.Dead {
		if strings.Contains(d.Reason, "invalid") && !strings.Contains(d.Reason, "depth") {
			t.Errorf("valid JSON dead-lettered as %q", d.Reason)
		}
	}
}

// decodeInEvent decodes finding inside a fixed event (prefix, finding,
// suffix) and on its own, checking the invariants of checkOutput and
// checkValidJSONAccepted for both, and that a dead letter of the event holds
// either the whole event or bytes inside the finding. It returns the
// finding's bytes inside the event and the two outputs.
func decodeInEvent(t *testing.T, prefix string, finding []byte, suffix string) (part []byte, out, bare *Output) {
	t.Helper()
	in := make([]byte, 0, len(prefix)+len(finding)+len(suffix))
	in = append(append(append(in, prefix...), finding...), suffix...)
	part = in[len(prefix) : len(in)-len(suffix)]
	o := fuzzOrigin(finding)
	out, bare = &Output{}, &Output{}
	Decode(in, o, out)
	checkOutput(t, in, o, out)
	checkValidJSONAccepted(t, in, out)
	for _, d := range out.Dead {
		if len(d.Data) != len(in) && !subSlice(d.Data, part) {
			t.Errorf("dead letter %q: data is neither the event nor inside the finding", d.Reason)
		}
	}
	Decode(finding, o, bare)
	checkOutput(t, finding, o, bare)
	checkValidJSONAccepted(t, finding, bare)
	return part, out, bare
}

const (
	findingPrefix = `{"version":"0","id":"e-1","detail-type":"Security Hub Findings - Imported","source":"aws.securityhub","account":"111122223333","time":"2024-01-02T03:04:05Z","region":"us-east-1","resources":[],"detail":{"findings":[`
	findingSuffix = `]}}`
)

// FuzzDecodeFinding fuzzes one finding inside a fixed Imported event, and the
// same bytes as a bare finding: a finding that is a row on its own must be
// the same row inside an event.
func FuzzDecodeFinding(f *testing.F) {
	for _, s := range []string{
		fullFinding, minimal(""), minimal(`"Title":12345,"Severity":{"Normalized":"40"}`),
		minimal(`"ProductFields":{"aws/securityhub/ProductName":"GuardDuty","n":5},"Resources":[{"Type":"Other","Id":"x","Details":{"Other":{"a":"b"}}}]`),
		minimal(`"Network":{"DestinationPort":"80","SourcePort":-1},"Process":{"Pid":1e3},"Sample":"true","Vulnerabilities":[{"Id":"CVE-1","Cvss":[{"BaseScore":"9.8"}],"EpssScore":"0.5"}]`),
		`{"ProductArn":"p","Title":"no id"}`, `"a string"`, `{"Id":"x"`, `{}`, ` {"Id":"i","ProductArn":"p","UpdatedAt":"2020-01-01T00:00:00Z"} `,
		minimal(`"CreatedAt":1716510417123,"FirstObservedAt":"1716510417","Confidence":80.0,"Note":null,"Vulnerabilities":[{"Id":"CVE-1","Vendor":{"VendorCreatedAt":1711749600000}}]`),
		`{"Id":"ci/deploy.sh","ProductArn":"arn:aws:securityhub:::product/aquasecurity/aquasecurity","UpdatedAt":"2023-11-02T09:15:44.70215-07:00","ProductFields":{"Product Name":"Trivy"}}`,
		`{"Id":"i","ProductArn":"arn:aws-cn:securityhub:cn-north-1::product/a/b/c","UpdatedAt":"2024-01-01 00:00:00"}`,
	} {
		f.Add([]byte(s))
	}
	for _, b := range sampleFindings(32 << 10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, finding []byte) {
		part, out, bare := decodeInEvent(t, findingPrefix, finding, findingSuffix)
		for _, r := range out.Findings {
			if r.EventID != "e-1" || r.EventDetailType != DetailImported || r.Date != "2024-01-02" || r.EventAccount != "111122223333" {
				t.Errorf("row lost its event: id %q type %q dt %q account %q", r.EventID, r.EventDetailType, r.Date, r.EventAccount)
			}
			if !subString(r.RawFinding, part) {
				t.Errorf("raw_finding %.60q is not inside the finding's bytes", r.RawFinding)
			}
		}
		if len(bare.Findings) != 1 || len(bare.Dead) != 0 || bare.Findings[0].RawFinding != string(finding) {
			return // not a lone bare finding that became a row
		}
		if len(out.Dead) == 1 && strings.Contains(out.Dead[0].Reason, "depth") {
			return // the event adds three levels of nesting
		}
		if len(out.Findings) != 1 || len(out.Dead) != 0 {
			t.Fatalf("a bare finding that is a row becomes %d rows and dead letters %q inside an event", len(out.Findings), reasons(out))
		}
		want, got := bare.Findings[0], out.Findings[0]
		if got.RawFinding != string(bytes.Trim(finding, " \t\r\n")) {
			t.Errorf("raw_finding inside the event %.60q, bare %.60q", got.RawFinding, want.RawFinding)
		}
		// Everything but the envelope columns must be equal.
		want.RawFinding, want.Date, want.EventID, want.EventTime, want.EventDetailType = got.RawFinding, got.Date, got.EventID, got.EventTime, got.EventDetailType
		want.EventRegion, want.EventAccount, want.EventResources = got.EventRegion, got.EventAccount, got.EventResources
		if !reflect.DeepEqual(want, got) {
			t.Errorf("the same finding decodes differently bare and inside an event:\nbare  %+v\nevent %+v", want, got)
		}
		if bare.Unreadable != out.Unreadable {
			t.Errorf("Unreadable: bare %d, in an event %d", bare.Unreadable, out.Unreadable)
		}
	})
}

const (
	insightPrefix   = `{"version":"0","id":"e-2","detail-type":"Security Hub Insight Results","source":"aws.securityhub","account":"111122223333","time":"2024-01-02T03:04:05Z","region":"us-east-1","resources":["arn:aws:securityhub:us-east-1:111122223333:action/custom/share"],"detail":{"actionName":"share","insightArn":"arn:aws:securityhub:::insight/1","insightName":"n","resultType":"ResourceId","number of results":"2","insightResults":`
	insightSuffix   = `}}`
	insightDetailAt = len(`{"version":"0","id":"e-2","detail-type":"Security Hub Insight Results","source":"aws.securityhub","account":"111122223333","time":"2024-01-02T03:04:05Z","region":"us-east-1","resources":["arn:aws:securityhub:us-east-1:111122223333:action/custom/share"],"detail":`)
)

// FuzzInsightResults fuzzes the insightResults value of a fixed insight
// event, and checks the rows against an independent reading with gjson when
// the input is valid JSON.
func FuzzInsightResults(f *testing.F) {
	for _, s := range []string{
		`[{"result 1": 5}, {"result 2": 6}]`, `[]`, `[{"a": "7"}, {"b": "x"}, 3, {"c": null}]`,
		`[{"a": 1, "b": 2}, {}]`, `{"a": 1}`, `null`, `"x"`, `[{"\u00e9": 1.0}]`, `[{"a": 1}`, `[{"a": [1, {"b": 2}]}]`,
	} {
		f.Add([]byte(s))
	}
	for _, b := range repo.SampleSeeds(32 << 10) {
		if r := gjson.GetBytes(b, "detail.insightResults"); r.Exists() {
			f.Add([]byte(r.Raw))
		}
	}
	f.Fuzz(func(t *testing.T, results []byte) {
		in := make([]byte, 0, len(insightPrefix)+len(results)+len(insightSuffix))
		in = append(append(append(in, insightPrefix...), results...), insightSuffix...)
		part := in[len(insightPrefix) : len(in)-len(insightSuffix)]
		o := fuzzOrigin(results)
		var out Output
		Decode(in, o, &out)
		checkOutput(t, in, o, &out)
		checkValidJSONAccepted(t, in, &out)
		if len(out.Findings) != 0 {
			t.Fatalf("an insight event made %d finding rows", len(out.Findings))
		}
		if len(out.Dead) > 0 && len(out.Dead[0].Data) == len(in) {
			if len(out.Dead) != 1 || len(out.Insights) != 0 {
				t.Fatalf("a dead event also made rows or more dead letters: %q", reasons(&out))
			}
			return
		}
		if len(out.Insights) == 0 && len(out.Dead) == 0 {
			t.Fatal("an insight event that is not dead must make at least one row or dead letter")
		}
		detail := string(in[insightDetailAt : len(in)-1])
		for i, r := range out.Insights {
			if r.InsightARN != "arn:aws:securityhub:::insight/1" || r.Date != "2024-01-02" || r.EventID != "e-2" ||
				r.ActionARN != "arn:aws:securityhub:us-east-1:111122223333:action/custom/share" || r.NumberOfResults != "2" {
				t.Errorf("row %d lost its event: %+v", i, r)
			}
			if r.RawDetail != detail {
				t.Errorf("raw_detail %.80q is not the detail as sent", r.RawDetail)
			}
			if r.ResultIndex != int32(i) {
				t.Errorf("row %d has result_index %d", i, r.ResultIndex)
			}
		}
		for _, d := range out.Dead {
			if !subSlice(d.Data, part) || !strings.HasPrefix(d.Reason, "insightResults[") {
				t.Errorf("dead letter %q: data %.40q is not one element of insightResults", d.Reason, d.Data)
			}
		}
		if json.Valid(in) && utf8.Valid(in) {
			checkInsightsAgainstGJSON(t, results, &out)
		}
	})
}

// checkInsightsAgainstGJSON reads the results with gjson and compares what
// it can read unambiguously.
func checkInsightsAgainstGJSON(t *testing.T, results []byte, out *Output) {
	t.Helper()
	type pair struct{ key, keyRaw, value string }
	var pairs []pair
	dead, elems := 0, 0
	r := gjson.ParseBytes(results)
	if r.IsArray() {
		r.ForEach(func(_, elem gjson.Result) bool {
			elems++
			// A non-object or an empty object is a dead letter of its own.
			if !elem.IsObject() || len(elem.Map()) == 0 && strings.TrimSpace(elem.Raw) != "" && !strings.Contains(elem.Raw, `"`) {
				dead++
				return true
			}
			elem.ForEach(func(k, v gjson.Result) bool {
				pairs = append(pairs, pair{k.String(), k.Raw, v.Raw})
				return true
			})
			return true
		})
	}
	if dead != len(out.Dead) {
		t.Errorf("%d elements are not objects, got %d dead letters", dead, len(out.Dead))
	}
	if elems == 0 {
		if len(out.Insights) != 1 || out.Insights[0].ResultValue != "" || out.Insights[0].ResultCount != nil {
			t.Errorf("no results must be one row with NULL value and count, got %+v", out.Insights)
		}
		return
	}
	if len(pairs) != len(out.Insights) {
		t.Fatalf("%d results, %d rows", len(pairs), len(out.Insights))
	}
	for i, p := range pairs {
		row := out.Insights[i]
		if !strings.Contains(p.keyRaw, `\`) && row.ResultValue != p.key {
			t.Errorf("result %d: value %q, want %q", i, row.ResultValue, p.key)
		}
		v := strings.TrimSpace(p.value)
		var want *int64
		known := true
		switch {
		case v == "" || v[0] == '{' || v[0] == '[' || v == "true" || v == "false" || v == "null":
		case v[0] == '"':
			s := v[1 : len(v)-1]
			if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && !strings.Contains(s, `\`) {
				want = &n
			} else {
				known = false
			}
		default:
			// Integral floats (7.0, 1e3) count too; not checked here.
			if n, err := strconv.ParseInt(v, 10, 64); err == nil {
				want = &n
			} else {
				known = false
			}
		}
		if known && !reflect.DeepEqual(row.ResultCount, want) {
			t.Errorf("result %d (%s): count %v, want %v", i, v, deref(row.ResultCount), deref(want))
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// FuzzTimestamp fuzzes an ASFF *At or OCSF *_time value: it never fails,
// its time is zero or a UTC time of the years 1 to 9999, an integer (a JSON
// number or a string of one) is epoch seconds below 10^11 and milliseconds
// from there, and a string that ParseTime reads is that time.
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{
		`1716510417123`, `"1716510417123"`, `1716510417`, `99999999999`, `100000000000`, `-62135596800`, `-62135596801`,
		`1716510417.5`, `"1716510417.5"`, `1.716510417123e12`, `1e300`, `253402300799999`, `253402300800000`,
		`"2024-05-24T00:26:57.123Z"`, `"2024-05-24 00:26:57.000000000"`, `"2024-07-09T08:30:12.640391"`, `"2024-06-11T16:42:09.3081-07:00"`,
		`" 1716510417 "`, `"2024-05-24T00:26:57\u002e123Z"`, `null`, `true`, `{}`, `[]`, `""`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ts Timestamp
		if err := ts.UnmarshalJSON(b); err != nil {
			t.Fatalf("UnmarshalJSON failed: %v", err)
		}
		if !ts.T.IsZero() && (ts.T.Location() != time.UTC || ts.T.Year() < 1 || ts.T.Year() > 9999) {
			t.Fatalf("%q: %v is not a UTC time of the years 1 to 9999", b, ts.T)
		}
		text := strings.TrimSpace(string(b))
		// A JSON string, unquoted by JSON's rules (Go's strconv.Unquote also
		// takes octal escapes such as \011, which JSON has not).
		var uq string
		if err := json.Unmarshal([]byte(text), &uq); err == nil && strings.HasPrefix(text, `"`) {
			if want, ok := ParseTime(uq); ok {
				if !ts.T.Equal(want) {
					t.Fatalf("%q: %v, ParseTime says %v", b, ts.T, want)
				}
				return
			}
			text = strings.TrimSpace(uq)
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return
		}
		var want time.Time
		switch {
		case n < -62135596800 && n < 1e11, n >= 1e11 && n > 253402300799999:
		case n < 1e11:
			want = time.Unix(n, 0).UTC()
		default:
			want = time.UnixMilli(n).UTC()
		}
		if !ts.T.Equal(want) {
			t.Fatalf("%q: %v, want %v", b, ts.T, want)
		}
	})
}

// TestFuzzSeedsDecode runs the seeds through the invariants in plain
// `go test` too, with the sample findings wrapped in events.
func TestFuzzSeedsDecode(t *testing.T) {
	for _, s := range decodeSeeds() {
		var out Output
		in := []byte(s)
		o := fuzzOrigin(in)
		Decode(in, o, &out)
		checkOutput(t, in, o, &out)
	}
	for _, b := range sampleFindings(1 << 30) {
		in := []byte(findingPrefix + string(b) + findingSuffix)
		var out Output
		Decode(in, testOrigin, &out)
		checkOutput(t, in, testOrigin, &out)
		if json.Valid(b) && len(out.Findings) != 1 {
			t.Errorf("sample finding %.60q: %d rows, dead letters %q", b, len(out.Findings), reasons(&out))
		}
	}
}
