package lakecheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/tidwall/gjson"
)

// CoreColumns are the findings columns TABLES.md lists, which every test
// compares value by value.
var CoreColumns = []string{
	"event_id", "event_time", "event_detail_type", "event_region", "event_account", "event_resources",
	"action_name", "action_description", "action_arn", "finding_index",
	"id", "product_arn", "product_name", "company_name", "generator_id", "aws_account_id", "region",
	"schema_version", "types", "created_at", "updated_at", "first_observed_at", "last_observed_at",
	"processed_at", "severity_label", "severity_normalized", "severity_original", "title", "description",
	"record_state", "workflow_status", "compliance_status", "compliance_security_control_id",
	"compliance_related_requirements", "remediation_text", "remediation_url", "resource_type",
	"resource_id", "resource_region", "resource_types", "resource_ids", "resources", "product_fields",
	"user_defined_fields", "raw_finding", "source",
}

// InsightColumns are the insight_results columns of TABLES.md.
var InsightColumns = []string{
	"event_id", "event_time", "event_region", "event_account", "action_name", "action_description",
	"action_arn", "insight_arn", "insight_name", "result_type", "result_value", "result_count",
	"number_of_results", "raw_detail", "source",
}

// docFinding is one finding of a source document with the columns every
// finding table shares: the envelope, finding_index, source and the kind.
type docFinding struct {
	f      gjson.Result
	common map[string]any
}

// documentFindings walks a source document read from a file named path, as
// the file source and the decoder do: an EventBridge event (its
// detail.findings), a bare finding, a JSON array of findings or a
// {"Findings": [...]} document. Elements of arrays and documents are units
// of their own (finding_index 0, source at the element's byte offset).
func documentFindings(path string, data []byte) []docFinding {
	root := gjson.ParseBytes(data)
	var env gjson.Result
	var findings []gjson.Result
	kind := "backfill"
	perElementUnits := false
	switch {
	case root.IsArray():
		findings, perElementUnits = root.Array(), true
	case root.Get("detail-type").Exists():
		env = root
		kind = env.Get("detail-type").String()
		findings = root.Get("detail.findings").Array()
	case root.Get("Findings").Exists():
		findings, perElementUnits = root.Get("Findings").Array(), true
	default:
		// A bare finding: the file's first JSON value (a file may carry junk
		// after it, like the invalid Health sample's stray "]}").
		dec := json.NewDecoder(bytes.NewReader(data))
		var first json.RawMessage
		if dec.Decode(&first) == nil {
			root = gjson.ParseBytes(first)
		}
		findings = []gjson.Result{root}
	}
	var out []docFinding
	for i, f := range findings {
		m := map[string]any{}
		if env.Exists() {
			m["event_id"] = str(env.Get("id"))
			m["event_time"] = ts(env.Get("time"))
			m["event_region"] = str(env.Get("region"))
			m["event_account"] = str(env.Get("account"))
			m["event_resources"] = strList(env.Get("resources"))
			m["action_name"] = str(env.Get("detail.actionName"))
			m["action_description"] = str(env.Get("detail.actionDescription"))
			var action any
			for _, r := range env.Get("resources").Array() {
				if strings.Contains(r.String(), ":action/custom/") {
					action = r.String()
					break
				}
			}
			m["action_arn"] = action
			m["finding_index"] = int32(i)
			m["source"] = fmt.Sprintf("file:%s#0", path)
		} else {
			for _, c := range []string{"event_id", "event_time", "event_region", "event_account", "action_name", "action_description", "action_arn"} {
				m[c] = nil
			}
			m["event_resources"] = []any{}
			m["finding_index"] = int32(0)
			off := 0
			if perElementUnits {
				off = f.Index
			}
			m["source"] = fmt.Sprintf("file:%s#%d", path, off)
		}
		m["event_detail_type"] = kind
		out = append(out, docFinding{f: f, common: m})
	}
	return out
}

// ExpectedFindings computes, with gjson, the findings row each (ASFF)
// finding of one source document should become when the document is read
// from a file named path (see documentFindings).
func ExpectedFindings(path string, data []byte) []map[string]any {
	var out []map[string]any
	for _, d := range documentFindings(path, data) {
		f, m := d.f, d.common
		m["id"] = str(f.Get("Id"))
		m["product_arn"] = str(f.Get("ProductArn"))
		m["product_name"] = firstStr(f.Get("ProductName"), f.Get(`ProductFields.aws/securityhub/ProductName`))
		m["company_name"] = firstStr(f.Get("CompanyName"), f.Get(`ProductFields.aws/securityhub/CompanyName`))
		m["generator_id"] = str(f.Get("GeneratorId"))
		m["aws_account_id"] = str(f.Get("AwsAccountId"))
		m["region"] = str(f.Get("Region"))
		m["schema_version"] = str(f.Get("SchemaVersion"))
		m["types"] = strList(f.Get("Types"))
		m["created_at"] = ts(f.Get("CreatedAt"))
		m["updated_at"] = ts(f.Get("UpdatedAt"))
		m["first_observed_at"] = ts(f.Get("FirstObservedAt"))
		m["last_observed_at"] = ts(f.Get("LastObservedAt"))
		m["processed_at"] = ts(f.Get("ProcessedAt"))
		label := str(f.Get("Severity.Label"))
		norm := f.Get("Severity.Normalized")
		if norm.Exists() {
			m["severity_normalized"] = int32(norm.Int())
			if label == nil {
				label = band(norm.Int())
			}
		} else {
			m["severity_normalized"] = nil
		}
		m["severity_label"] = label
		m["severity_original"] = str(f.Get("Severity.Original"))
		m["title"] = str(f.Get("Title"))
		m["description"] = str(f.Get("Description"))
		m["record_state"] = str(f.Get("RecordState"))
		m["workflow_status"] = str(f.Get("Workflow.Status"))
		m["compliance_status"] = str(f.Get("Compliance.Status"))
		m["compliance_security_control_id"] = str(f.Get("Compliance.SecurityControlId"))
		m["compliance_related_requirements"] = strList(f.Get("Compliance.RelatedRequirements"))
		m["remediation_text"] = str(f.Get("Remediation.Recommendation.Text"))
		m["remediation_url"] = str(f.Get("Remediation.Recommendation.Url"))
		res := f.Get("Resources").Array()
		if len(res) > 0 {
			m["resource_type"] = str(res[0].Get("Type"))
			m["resource_id"] = str(res[0].Get("Id"))
			m["resource_region"] = str(res[0].Get("Region"))
		} else {
			m["resource_type"], m["resource_id"], m["resource_region"] = nil, nil, nil
		}
		types, ids, structs := []any{}, []any{}, []any{}
		for _, r := range res {
			types = append(types, str(r.Get("Type")))
			ids = append(ids, str(r.Get("Id")))
			var details any
			if d := r.Get("Details"); d.Exists() && d.Type != gjson.Null {
				details = d.Raw
			}
			structs = append(structs, map[string]any{
				"type": str(r.Get("Type")), "id": str(r.Get("Id")), "partition": str(r.Get("Partition")),
				"region": str(r.Get("Region")), "tags": strMap(r.Get("Tags")), "details_json": details,
			})
		}
		m["resource_types"], m["resource_ids"], m["resources"] = types, ids, structs
		m["product_fields"] = strMap(f.Get("ProductFields"))
		m["user_defined_fields"] = strMap(f.Get("UserDefinedFields"))
		m["raw_finding"] = strings.TrimSpace(f.Raw)
		out = append(out, m)
	}
	return out
}

// ExpectedInsights computes the insight_results rows of an insight event.
func ExpectedInsights(path string, data []byte) []map[string]any {
	env := gjson.ParseBytes(data)
	if env.Get("detail-type").String() != "Security Hub Insight Results" {
		return nil
	}
	var out []map[string]any
	var action any
	for _, r := range env.Get("resources").Array() {
		if strings.Contains(r.String(), ":action/custom/") {
			action = r.String()
		}
	}
	env.Get("detail.insightResults").ForEach(func(_, elem gjson.Result) bool {
		elem.ForEach(func(k, v gjson.Result) bool {
			out = append(out, map[string]any{
				"event_id": str(env.Get("id")), "event_time": ts(env.Get("time")),
				"event_region": str(env.Get("region")), "event_account": str(env.Get("account")),
				"action_name": str(env.Get("detail.actionName")), "action_description": str(env.Get("detail.actionDescription")),
				"action_arn": action, "insight_arn": str(env.Get("detail.insightArn")),
				"insight_name": str(env.Get("detail.insightName")), "result_type": str(env.Get("detail.resultType")),
				"result_value": k.String(), "result_count": v.Int(),
				"number_of_results": str(env.Get(`detail.number of results`)),
				"raw_detail":        env.Get("detail").Raw, "source": fmt.Sprintf("file:%s#0", path),
			})
			return true
		})
		return true
	})
	return out
}

func str(r gjson.Result) any {
	if !r.Exists() || r.Type == gjson.Null || r.String() == "" {
		return nil
	}
	return r.String()
}

func firstStr(rs ...gjson.Result) any {
	for _, r := range rs {
		if s := str(r); s != nil {
			return s
		}
	}
	return nil
}

func ts(r gjson.Result) any {
	if !r.Exists() {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, r.String())
	if err != nil {
		return nil
	}
	return t.UTC().Truncate(time.Millisecond)
}

func strList(r gjson.Result) []any {
	out := []any{}
	for _, e := range r.Array() {
		out = append(out, e.String())
	}
	return out
}

func strMap(r gjson.Result) map[string]string {
	out := map[string]string{}
	r.ForEach(func(k, v gjson.Result) bool {
		out[k.String()] = v.String()
		return true
	})
	return out
}

func band(n int64) any {
	switch {
	case n == 0:
		return "INFORMATIONAL"
	case n < 40:
		return "LOW"
	case n < 70:
		return "MEDIUM"
	case n < 90:
		return "HIGH"
	case n <= 100:
		return "CRITICAL"
	}
	return nil
}

// Normalize turns a value scanned from DuckDB into the shapes Expected*
// uses: maps as map[string]string, struct lists as []any of map[string]any,
// timestamps in UTC.
func Normalize(v any) any {
	switch x := v.(type) {
	case duckdb.OrderedMap:
		out := map[string]string{}
		keys, vals := x.Keys(), x.Values()
		for i := range keys {
			out[fmt.Sprint(keys[i])] = fmt.Sprint(vals[i])
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = Normalize(e)
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			out[k] = Normalize(e)
		}
		return out
	case time.Time:
		return x.UTC()
	}
	return v
}

// CompareRow reports every column of want that differs in got.
func CompareRow(t testing.TB, what string, got, want map[string]any, columns []string) {
	t.Helper()
	for _, c := range columns {
		w, ok := want[c]
		if !ok {
			t.Errorf("%s: test has no expectation for column %s", what, c)
			continue
		}
		g, present := got[c]
		if !present {
			t.Errorf("%s: column %s missing from the table", what, c)
			continue
		}
		g = Normalize(g)
		if wt, ok := w.(time.Time); ok {
			if gt, ok := g.(time.Time); !ok || !gt.Equal(wt) {
				t.Errorf("%s: %s = %v, want %v", what, c, g, wt)
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: %s =\n  %#v\nwant\n  %#v", what, c, g, w)
		}
	}
}

// SortRows orders rows by the given columns' string forms, so that two
// lists of rows can be compared element by element.
func SortRows(rows []map[string]any, cols ...string) {
	key := func(m map[string]any) string {
		var b strings.Builder
		for _, c := range cols {
			fmt.Fprint(&b, m[c], "\x00")
		}
		return b.String()
	}
	sort.SliceStable(rows, func(i, j int) bool { return key(rows[i]) < key(rows[j]) })
}
