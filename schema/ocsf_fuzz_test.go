package schema

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/hublake/hublake/internal/repo"
)

const (
	v2Prefix = `{"version":"0","id":"e-3","detail-type":"Findings Imported V2","source":"aws.securityhub","account":"111122223333","time":"2024-01-02T03:04:05Z","region":"us-east-1","resources":["m-1"],"detail":{"findings":[`
	v2Suffix = `]}}`
)

// ocsfSampleFindings returns the OCSF findings of the samples: the bare
// ones, and detail.findings of the event.
func ocsfSampleFindings(limit int) [][]byte {
	var out [][]byte
	for _, b := range repo.OCSFSampleSeeds(limit) {
		if fs := gjson.GetBytes(b, "detail.findings"); fs.IsArray() {
			for _, f := range fs.Array() {
				out = append(out, []byte(f.Raw))
			}
			continue
		}
		out = append(out, b)
	}
	return out
}

// ocsfSeeds are hand-made OCSF findings: every quirk of ocsf_test.go and
// values of the wrong type in every attribute a column reads.
func ocsfSeeds() []string {
	return []string{
		fullOCSF, ocsfMinimal(""),
		ocsfMinimal(`"time":"1758273439594","severity_id":"5","finding_info":{"uid":"f","created_time_dt":"2025-07-22T12:02:34.123456789+09:00"}`),
		ocsfMinimal(`"vulnerabilities":[{"cve":{"epss":{"score":"0.1"},"cvss":[{"base_score":"9.8"},{"base_score":1e308}]},"is_fix_available":"TRUE"}]`),
		ocsfMinimal(`"resources":[{"uid":1,"tags":[{"name":"a"},{"value":2},{"name":{"x":1}}],"data":{"a.b::c":[]}}]`),
		`{"class_uid":2003,"finding_info":"x","metadata":[],"time":{},"resources":{},"vulnerabilities":5,"cloud":true,"compliance":"y"}`,
		`{"metadata":{"uid":"m"}}`, `{"class_uid":1}`, `{"finding_info":{"uid":"f"},"time":-62135596800001}`,
		`{"meta\u0064ata":{"uid":"m"},"time_dt":"9999-12-31T23:59:59.999999999-01:00"}`,
		`{"metadata":{"uid":"m"},"unmapped":` + strings.Repeat(`[`, 200) + strings.Repeat(`]`, 200) + `,"time":1}`,
		`{"class_uid":`, `{}`, `"x"`, ` {"metadata":{"uid":"m"},"time":1758273439594} `,
		// Prowler 4.0–4.4: no time, event_time and created_time naive ISO
		// strings; OCSF 1.0.0-rc.2's cloud.account_uid and resources'
		// details.
		`{"metadata":{"product":{"name":"Prowler"},"version":"1.2.0"},"finding_info":{"uid":"p","created_time":"2024-07-09T08:30:12.640391"},"class_name":"DetectionFinding","event_time":"2024-07-09T08:30:12.640391"}`,
		`{"finding_info":{"uid":"p"},"event_time":1720513812,"time_dt":"x"}`, `{"finding_info":{"uid":"p"},"event_time":{"t":1}}`,
		`{"finding":{"uid":"f","modified_time":1690100000123},"class_uid":2001,"cloud":{"account_uid":111122223333,"account":{"uid":""}},"resources":[{"details":"{\"a\":1}"},{"details":null,"data":null}]}`,
	}
}

// FuzzDecodeOCSF fuzzes one finding inside a fixed Findings Imported V2
// event, as a bare finding and as the only element of a GetFindingsV2
// document: the invariants of checkOutput hold for each, and a finding that
// is an OCSF row on its own is the same row in the other two places.
func FuzzDecodeOCSF(f *testing.F) {
	for _, s := range ocsfSeeds() {
		f.Add([]byte(s))
	}
	for _, b := range ocsfSampleFindings(32 << 10) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, finding []byte) {
		part, out, bare := decodeInEvent(t, v2Prefix, finding, v2Suffix)
		o := fuzzOrigin(finding)
		for _, r := range out.OCSF {
			if r.EventID != "e-3" || r.EventDetailType != DetailImportedV2 || r.Date != "2024-01-02" || !reflect.DeepEqual(r.EventResources, []string{"m-1"}) {
				t.Errorf("row lost its event: id %q type %q dt %q resources %q", r.EventID, r.EventDetailType, r.Date, r.EventResources)
			}
			if !subString(r.RawFinding, part) {
				t.Errorf("raw_finding %.60q is not inside the finding's bytes", r.RawFinding)
			}
		}
		if len(bare.OCSF) != 1 || len(bare.Dead) != 0 || bare.OCSF[0].RawFinding != string(finding) {
			return // not a lone bare OCSF finding that became a row
		}
		want := bare.OCSF[0]
		placedBy := want.Time
		if placedBy.IsZero() {
			placedBy = want.ModifiedTime
		}
		if want.Date != placedBy.Format("2006-01-02") {
			t.Errorf("a bare finding in dt=%s: its time is %v, its modified_time %v", want.Date, want.Time, want.ModifiedTime)
		}

		doc := []byte(`{"Findings":[` + string(finding) + `],"NextToken":"t"}`)
		var fromDoc Output
		Decode(doc, o, &fromDoc)
		checkOutput(t, doc, o, &fromDoc)
		deep := func(o *Output) bool { return len(o.Dead) == 1 && strings.Contains(o.Dead[0].Reason, "depth") }
		switch {
		case deep(&fromDoc): // the document adds two levels of nesting
		case len(fromDoc.OCSF) != 1 || len(fromDoc.Dead) != 0:
			t.Fatalf("a bare OCSF finding that is a row becomes %d rows and dead letters %q in a Findings document", len(fromDoc.OCSF), reasons(&fromDoc))
		default:
			d := fromDoc.OCSF[0]
			if d.RawFinding != string(bytes.Trim(finding, " \t\r\n")) {
				t.Errorf("raw_finding in the document %.60q, bare %.60q", d.RawFinding, want.RawFinding)
			}
			d.RawFinding = want.RawFinding
			if !reflect.DeepEqual(d, want) {
				t.Errorf("the same finding decodes differently bare and in a Findings document:\nbare %+v\ndoc  %+v", want, d)
			}
		}

		if deep(out) {
			return // the event adds three levels of nesting
		}
		if len(out.OCSF) != 1 || len(out.Dead) != 0 {
			t.Fatalf("a bare OCSF finding that is a row becomes %d rows and dead letters %q inside an event", len(out.OCSF), reasons(out))
		}
		got := out.OCSF[0]
		// Everything but the envelope columns and dt must be equal.
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

// TestOCSFFuzzSeeds runs the seeds and the sample findings through the
// invariants in plain `go test`: each sample finding is one row in an event.
func TestOCSFFuzzSeeds(t *testing.T) {
	for _, s := range ocsfSeeds() {
		in := []byte(v2Prefix + s + v2Suffix)
		var out Output
		o := fuzzOrigin(in)
		Decode(in, o, &out)
		checkOutput(t, in, o, &out)
	}
	samples := ocsfSampleFindings(1 << 30)
	for _, b := range samples {
		in := []byte(v2Prefix + string(b) + v2Suffix)
		var out Output
		Decode(in, testOrigin, &out)
		checkOutput(t, in, testOrigin, &out)
		if !json.Valid(b) || len(out.OCSF) != 1 || len(out.Dead) != 0 || out.Unreadable != 0 {
			t.Errorf("sample finding %.60q: %d OCSF rows, %d unreadable values, dead letters %q", b, len(out.OCSF), out.Unreadable, reasons(&out))
		}
	}
}
