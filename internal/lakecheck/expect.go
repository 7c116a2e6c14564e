package lakecheck

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/tidwall/gjson"
)

// CoreColumns are the findings columns docs/tables.md lists, which every test
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

// InsightColumns are the insight_results columns of docs/tables.md.
var InsightColumns = []string{
	"event_id", "event_time", "event_region", "event_account", "action_name", "action_description",
	"action_arn", "insight_arn", "insight_name", "result_type", "result_value", "result_count",
	"number_of_results", "raw_detail", "source",
}

// docFinding is one finding of a source document with the columns every
// finding table shares: the envelope, finding_index, source and the kind;
// ocsf says which table it belongs to.
type docFinding struct {
	f      gjson.Result
	common map[string]any
	ocsf   bool
}

// documentFindings walks a source document read from a file named path, as
// the file source and the decoder do: an EventBridge event (its
// detail.findings), a bare finding, a JSON array of findings, events or
// Findings documents, a {"Findings": [...]} document or a placebo
// recording of one. Elements of arrays and findings of documents are units
// of their own (source at the element's byte offset); a document that is
// an element of an array, and a placebo recording, are one unit (its
// findings told apart by finding_index).
func documentFindings(path string, data []byte) []docFinding {
	return documentFindingsAt(path, 0, data)
}

// isOCSF tells a finding's table as docs/tables.md states it: by the first of
// its top-level keys that names a format (class_uid, finding_info or
// metadata: OCSF; SchemaVersion or ProductArn: ASFF), else by its container
// (dflt: OCSF in a Findings Imported V2 event).
func isOCSF(f gjson.Result, dflt bool) bool {
	out := dflt
	f.ForEach(func(k, _ gjson.Result) bool {
		switch k.String() {
		case "class_uid", "finding_info", "metadata":
			out = true
			return false
		case "SchemaVersion", "ProductArn":
			out = false
			return false
		}
		return true
	})
	return out
}

// Expected computes the rows of both finding tables that the unit data,
// found at byte offset base of the file named path, should become, each
// finding in its own table (documentFindings, isOCSF).
func Expected(path string, base int64, data []byte) (asff, ocsf []map[string]any) {
	for _, d := range documentFindingsAt(path, base, data) {
		if d.ocsf {
			ocsf = append(ocsf, expectedOCSF(d))
		} else {
			asff = append(asff, expectedFinding(d))
		}
	}
	return asff, ocsf
}

// documentFindingsAt is documentFindings for a document at byte offset
// base: a file, or a unit the splitter cut from one.
func documentFindingsAt(path string, base int64, data []byte) []docFinding {
	return unitFindings(path, base, data, true)
}

// unitFindings is documentFindingsAt; split says that data is split by the
// splitter (a file, or a document the splitter cuts: its array's elements
// and its Findings document's findings are units of their own), else it is
// one unit decoded whole (an element of an array).
func unitFindings(path string, base int64, data []byte, split bool) []docFinding {
	root := gjson.ParseBytes(data)
	if split && root.IsArray() {
		// Each element is a unit decoded whole: a finding, an event, a
		// page (json.dump of a paginator's pages).
		var out []docFinding
		for _, e := range root.Array() {
			out = append(out, unitFindings(path, base+int64(e.Index), []byte(e.Raw), false)...)
		}
		return out
	}
	var env gjson.Result
	var findings []gjson.Result
	kind := "backfill"
	perElementUnits := false
	indexInUnit := false // the findings share the unit's source; finding_index tells them apart
	switch {
	case root.IsArray():
		// An array decoded whole (a line, a record) of findings.
		findings, indexInUnit = root.Array(), true
	case root.Get("detail-type").Exists():
		env = root
		kind = env.Get("detail-type").String()
		findings = root.Get("detail.findings").Array()
	case root.Get("Findings").Exists() || root.Get("findings").IsArray():
		findings = root.Get("Findings").Array()
		if len(findings) == 0 {
			findings = root.Get("findings").Array()
		}
		perElementUnits, indexInUnit = split, !split
	case int64OrNil(root.Get("status_code")) != nil && (root.Get("data.Findings").IsArray() || root.Get("data.findings").IsArray()):
		// A Cloud Custodian placebo recording of get_findings: one unit.
		indexInUnit = true
		findings = root.Get("data.Findings").Array()
		if len(findings) == 0 {
			findings = root.Get("data.findings").Array()
		}
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
			m["event_id"] = text(env.Get("id"))
			m["event_time"] = rfc3339(env.Get("time"))
			m["event_region"] = str(env.Get("region"))
			m["event_account"] = text(env.Get("account"))
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
			m["source"] = fmt.Sprintf("file:%s#%d", path, base)
		} else {
			for _, c := range []string{"event_id", "event_time", "event_region", "event_account", "action_name", "action_description", "action_arn"} {
				m[c] = nil
			}
			m["event_resources"] = []any{}
			m["finding_index"] = int32(0)
			if indexInUnit {
				m["finding_index"] = int32(i)
			}
			off := base
			if perElementUnits {
				off += int64(f.Index)
			}
			m["source"] = fmt.Sprintf("file:%s#%d", path, off)
		}
		m["event_detail_type"] = kind
		out = append(out, docFinding{f: f, common: m, ocsf: isOCSF(f, kind == "Findings Imported V2")})
	}
	return out
}

// ExpectedFindings computes, with gjson, the findings row each (ASFF)
// finding of one source document should become when the document is read
// from a file named path (see documentFindings): every column, at every
// depth, by the rules docs/tables.md states.
func ExpectedFindings(path string, data []byte) []map[string]any {
	var out []map[string]any
	for _, d := range documentFindings(path, data) {
		out = append(out, expectedFinding(d))
	}
	return out
}

// expectedFinding is the findings row of one ASFF finding.
func expectedFinding(d docFinding) map[string]any {
	f, m := d.f, d.common
	fpf := f.Get("FindingProviderFields")
	hasFPF := fpf.IsObject()
	pf := f.Get("ProductFields")
	m["id"] = str(f.Get("Id"))
	m["product_arn"] = str(f.Get("ProductArn"))
	// The last resort for product, company and region: the ProductArn,
	// arn:<partition>:securityhub:<region>:<account>:product/<company>/<product>
	// (or the documentation's arn:<partition>::securityhub:<region>:...).
	var arnRegion, arnCompany, arnProduct any
	if p := productARN.FindStringSubmatch(f.Get("ProductArn").String()); p != nil {
		arnRegion, arnCompany, arnProduct = nonEmpty(p[1]), nonEmpty(p[2]), nonEmpty(p[3])
	} else if p := securityHubARN.FindStringSubmatch(f.Get("ProductArn").String()); p != nil {
		arnRegion = nonEmpty(p[1])
	}
	m["product_name"] = firstNonNil(firstStr(f.Get("ProductName"), pf.Get(escapeKey("aws/securityhub/ProductName"))), arnProduct)
	m["company_name"] = firstNonNil(firstStr(f.Get("CompanyName"), pf.Get(escapeKey("aws/securityhub/CompanyName"))), arnCompany)
	m["generator_id"] = str(f.Get("GeneratorId"))
	m["aws_account_id"] = text(f.Get("AwsAccountId"))
	m["region"] = firstNonNil(str(f.Get("Region")), arnRegion)
	m["schema_version"] = str(f.Get("SchemaVersion"))
	m["types"] = strList(f.Get("Types"))
	if len(m["types"].([]any)) == 0 && hasFPF {
		m["types"] = strList(fpf.Get("Types"))
	}
	m["created_at"] = ts(f.Get("CreatedAt"))
	m["updated_at"] = ts(f.Get("UpdatedAt"))
	m["first_observed_at"] = ts(f.Get("FirstObservedAt"))
	m["last_observed_at"] = ts(f.Get("LastObservedAt"))
	m["processed_at"] = ts(f.Get("ProcessedAt"))

	// Severity: Label, else Normalized's band, else (nothing of the two
	// sent) FindingProviderFields' Label, else its Normalized's band.
	label := str(f.Get("Severity.Label"))
	norm := int64OrNil(f.Get("Severity.Normalized"))
	if label == nil && norm != nil {
		label = band(*norm)
	}
	if label == nil && norm == nil && hasFPF {
		label = str(fpf.Get("Severity.Label"))
		if n := int64OrNil(fpf.Get("Severity.Normalized")); label == nil && n != nil {
			label = band(*n)
		}
	}
	m["severity_label"] = label
	m["severity_normalized"] = int32OrNil(f.Get("Severity.Normalized"))
	if m["severity_normalized"] == nil && hasFPF {
		m["severity_normalized"] = int32OrNil(fpf.Get("Severity.Normalized"))
	}
	m["severity_original"] = text(f.Get("Severity.Original"))
	if m["severity_original"] == nil && hasFPF {
		m["severity_original"] = text(fpf.Get("Severity.Original"))
	}
	m["title"] = str(f.Get("Title"))
	m["description"] = str(f.Get("Description"))
	m["record_state"] = str(f.Get("RecordState"))
	m["workflow_status"] = firstStr(f.Get("Workflow.Status"), f.Get("WorkflowState"))
	m["compliance_status"] = str(f.Get("Compliance.Status"))
	m["compliance_security_control_id"] = firstStr(f.Get("Compliance.SecurityControlId"), pf.Get("ControlId"), pf.Get("RuleId"))
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
	m["product_fields"] = strMap(pf)
	m["user_defined_fields"] = strMap(f.Get("UserDefinedFields"))

	m["confidence"] = int32OrNil(f.Get("Confidence"))
	m["criticality"] = int32OrNil(f.Get("Criticality"))
	if hasFPF && m["confidence"] == nil {
		m["confidence"] = int32OrNil(fpf.Get("Confidence"))
	}
	if hasFPF && m["criticality"] == nil {
		m["criticality"] = int32OrNil(fpf.Get("Criticality"))
	}
	m["verification_state"] = str(f.Get("VerificationState"))
	m["source_url"] = str(f.Get("SourceUrl"))
	m["sample"] = boolOrNil(f.Get("Sample"))
	note := f.Get("Note")
	m["note_text"] = str(note.Get("Text"))
	m["note_updated_by"] = str(note.Get("UpdatedBy"))
	m["note_updated_at"] = ts(note.Get("UpdatedAt"))
	m["compliance_status_reasons"] = structList(f.Get("Compliance.StatusReasons"), func(r gjson.Result) any {
		return map[string]any{"reason_code": str(r.Get("ReasonCode")), "description": str(r.Get("Description"))}
	})
	standards := []any{}
	for _, s := range f.Get("Compliance.AssociatedStandards").Array() {
		standards = append(standards, s.Get("StandardsId").String())
	}
	if len(standards) == 0 {
		if id := legacyStandard(pf); id != "" {
			standards = []any{id}
		}
	}
	m["compliance_associated_standards"] = standards
	m["network"] = structOrNil(f.Get("Network"), func(n gjson.Result) map[string]any {
		return map[string]any{
			"direction": str(n.Get("Direction")), "protocol": str(n.Get("Protocol")),
			"source_ip_v4": str(n.Get("SourceIpV4")), "source_ip_v6": str(n.Get("SourceIpV6")),
			"source_port": int32OrNil(n.Get("SourcePort")), "source_domain": str(n.Get("SourceDomain")),
			"destination_ip_v4": str(n.Get("DestinationIpV4")), "destination_ip_v6": str(n.Get("DestinationIpV6")),
			"destination_port": int32OrNil(n.Get("DestinationPort")), "destination_domain": str(n.Get("DestinationDomain")),
		}
	})
	m["process"] = structOrNil(f.Get("Process"), func(p gjson.Result) map[string]any {
		return map[string]any{
			"name": str(p.Get("Name")), "path": str(p.Get("Path")),
			"pid": int32OrNil(p.Get("Pid")), "parent_pid": int32OrNil(p.Get("ParentPid")),
			"launched_at": ts(p.Get("LaunchedAt")), "terminated_at": ts(p.Get("TerminatedAt")),
		}
	})
	m["malware"] = structList(f.Get("Malware"), func(x gjson.Result) any {
		return map[string]any{"name": str(x.Get("Name")), "type": str(x.Get("Type")), "path": str(x.Get("Path")), "state": str(x.Get("State"))}
	})
	m["vulnerabilities"] = structList(f.Get("Vulnerabilities"), expectedVulnerability)
	m["threats"] = structList(f.Get("Threats"), func(x gjson.Result) any {
		return map[string]any{"name": str(x.Get("Name")), "severity": str(x.Get("Severity")), "item_count": int32OrNil(x.Get("ItemCount"))}
	})
	m["threat_intel_indicators"] = structList(f.Get("ThreatIntelIndicators"), func(x gjson.Result) any {
		return map[string]any{
			"type": str(x.Get("Type")), "value": str(x.Get("Value")), "category": str(x.Get("Category")),
			"source": str(x.Get("Source")), "source_url": str(x.Get("SourceUrl")), "last_observed_at": ts(x.Get("LastObservedAt")),
		}
	})
	m["related_findings"] = relatedList(f.Get("RelatedFindings"))
	if len(m["related_findings"].([]any)) == 0 && hasFPF {
		m["related_findings"] = relatedList(fpf.Get("RelatedFindings"))
	}
	m["finding_provider_fields"] = structOrNil(fpf, func(p gjson.Result) map[string]any {
		return map[string]any{
			"confidence": int32OrNil(p.Get("Confidence")), "criticality": int32OrNil(p.Get("Criticality")),
			"severity_label": str(p.Get("Severity.Label")), "severity_original": text(p.Get("Severity.Original")),
			"types": strList(p.Get("Types")), "related_findings": relatedList(p.Get("RelatedFindings")),
		}
	})
	m["raw_finding"] = strings.TrimSpace(f.Raw)
	return m
}

func expectedVulnerability(v gjson.Result) any {
	return map[string]any{
		"id": str(v.Get("Id")), "vendor_name": str(v.Get("Vendor.Name")), "vendor_url": str(v.Get("Vendor.Url")),
		"vendor_severity":   str(v.Get("Vendor.VendorSeverity")),
		"vendor_created_at": ts(v.Get("Vendor.VendorCreatedAt")), "vendor_updated_at": ts(v.Get("Vendor.VendorUpdatedAt")),
		"cvss": structList(v.Get("Cvss"), func(c gjson.Result) any {
			return map[string]any{"version": str(c.Get("Version")), "base_score": floatOrNil(c.Get("BaseScore")), "base_vector": str(c.Get("BaseVector")), "source": str(c.Get("Source"))}
		}),
		"vulnerable_packages": structList(v.Get("VulnerablePackages"), func(p gjson.Result) any {
			return map[string]any{
				"name": str(p.Get("Name")), "version": str(p.Get("Version")), "epoch": str(p.Get("Epoch")), "release": str(p.Get("Release")),
				"architecture": str(p.Get("Architecture")), "package_manager": str(p.Get("PackageManager")), "file_path": str(p.Get("FilePath")),
				"fixed_in_version": str(p.Get("FixedInVersion")), "remediation": str(p.Get("Remediation")),
			}
		}),
		"fix_available": str(v.Get("FixAvailable")), "exploit_available": str(v.Get("ExploitAvailable")),
		"epss_score": floatOrNil(v.Get("EpssScore")), "reference_urls": strList(v.Get("ReferenceUrls")),
		"related_vulnerabilities": strList(v.Get("RelatedVulnerabilities")),
	}
}

func relatedList(r gjson.Result) []any {
	return structList(r, func(x gjson.Result) any {
		return map[string]any{"product_arn": str(x.Get("ProductArn")), "id": str(x.Get("Id"))}
	})
}

// structList maps each element of an array with fn; [] when r is no array.
func structList(r gjson.Result, fn func(gjson.Result) any) []any {
	out := []any{}
	if r.IsArray() {
		for _, e := range r.Array() {
			out = append(out, fn(e))
		}
	}
	return out
}

// structOrNil is fn(r) when r is an object, else NULL.
func structOrNil(r gjson.Result, fn func(gjson.Result) map[string]any) any {
	if !r.IsObject() {
		return nil
	}
	return fn(r)
}

// legacyStandard is the standard a legacy control finding's ProductFields
// name: the resource part of StandardsArn or StandardsGuideArn (a Security
// Hub ARN: arn:aws:securityhub:::<resource>).
func legacyStandard(pf gjson.Result) string {
	arn := pf.Get("StandardsArn").String()
	if arn == "" {
		arn = pf.Get("StandardsGuideArn").String()
	}
	if p := securityHubARN.FindStringSubmatch(arn); p != nil {
		return p[2]
	}
	return ""
}

// securityHubARN is a Security Hub ARN of any partition, also as AWS's
// documentation once misspelled it (arn:aws::securityhub:<region>::...):
// its region and resource. productARN is one whose resource is a product:
// its region, company and product.
var (
	securityHubARN = regexp.MustCompile(`^arn:[^:]+:(?::)?securityhub:([^:]*):[^:]*:(.+)$`)
	productARN     = regexp.MustCompile(`^arn:[^:]+:(?::)?securityhub:([^:]*):[^:]*:product/([^/]+)/([^/]+)$`)
)

// nonEmpty is s, nil when empty.
func nonEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// escapeKey escapes a key for a gjson path (ProductFields keys hold "/").
func escapeKey(k string) string {
	r := strings.NewReplacer(".", `\.`, "*", `\*`, "?", `\?`, "|", `\|`, "#", `\#`, "@", `\@`)
	return r.Replace(k)
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
				"event_id": str(env.Get("id")), "event_time": rfc3339(env.Get("time")),
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

// str is a JSON string value, nil when absent, null, empty or not a
// string (a plain string column takes only strings).
func str(r gjson.Result) any {
	if r.Type != gjson.String || r.String() == "" {
		return nil
	}
	return r.String()
}

// text is a value of a column that takes numbers and booleans as their
// text (ids, account ids, Severity.Original): nil when absent, null, empty,
// an object or an array.
func text(r gjson.Result) any {
	switch r.Type {
	case gjson.String:
		return str(r)
	case gjson.Number, gjson.True, gjson.False:
		return r.Raw
	}
	return nil
}

func firstStr(rs ...gjson.Result) any {
	for _, r := range rs {
		if s := str(r); s != nil {
			return s
		}
	}
	return nil
}

// ts reads an ASFF *At value as the lake stores it (UTC, in
// milliseconds; nil outside the years 1 to 9999): an RFC 3339 string
// (rfc3339), else an epoch number, a JSON number or a string of one
// (epoch: seconds below 10^11, else milliseconds).
func ts(r gjson.Result) any {
	if t := rfc3339(r); t != nil {
		return t
	}
	if t, ok := epoch(numText(r)); ok {
		return t
	}
	return nil
}

// rfc3339 reads an RFC 3339 time (any offset, up to nine fraction digits; a
// space for the T and a missing zone, read as UTC, are accepted), the only
// form an EventBridge time takes.
func rfc3339(r gjson.Result) any {
	if r.Type != gjson.String {
		return nil
	}
	s := r.String()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		s = strings.Replace(s, " ", "T", 1)
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			if t, err = time.Parse("2006-01-02T15:04:05.999999999", s); err != nil {
				return nil
			}
		}
	}
	if y := t.UTC().Year(); y < 1 || y > 9999 {
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

// strMap is a map column's value: an object's members as text, empty for
// anything else (gjson's ForEach would give a scalar or null as one member
// with an empty key).
func strMap(r gjson.Result) map[string]string {
	out := map[string]string{}
	if !r.IsObject() {
		return out
	}
	r.ForEach(func(k, v gjson.Result) bool {
		out[k.String()] = v.String()
		return true
	})
	return out
}

func band(n int64) any {
	switch {
	case n < 0:
		return nil
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
			d := diff(c, g, w, nil)
			if len(d) > 8 {
				d = append(d[:8], fmt.Sprintf("… and %d more", len(d)-8))
			}
			t.Errorf("%s: column %s differs:\n  %s", what, c, strings.Join(d, "\n  "))
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

// diff lists where got and want differ, leaf by leaf, as "path: got X,
// want Y" (a whole value where their shapes differ).
func diff(path string, got, want any, out []string) []string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		for _, k := range SortedKeys(w) {
			out = diff(path+"."+k, g[k], w[k], out)
		}
		for _, k := range SortedKeys(g) {
			if _, ok := w[k]; !ok {
				out = append(out, fmt.Sprintf("%s.%s: got %#v, not expected", path, k, g[k]))
			}
		}
		return out
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			out = diff(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], out)
		}
		return out
	case time.Time:
		if g, ok := got.(time.Time); ok && g.Equal(w) {
			return out
		}
	}
	if !reflect.DeepEqual(got, want) {
		out = append(out, fmt.Sprintf("%s: got %s, want %s", path, clip(got), clip(want)))
	}
	return out
}

func clip(v any) string {
	s := fmt.Sprintf("%#v", v)
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
