package lakecheck

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// OCSFColumns are the ocsf_findings columns of docs/tables.md, all of them.
var OCSFColumns = []string{
	"event_id", "event_time", "event_detail_type", "event_region", "event_account", "event_resources",
	"finding_index", "metadata_uid", "finding_uid", "product_uid", "product_name", "vendor_name", "product_feature",
	"ocsf_version", "profiles", "class_uid", "category_uid", "activity_id", "class_name", "category_name",
	"activity_name", "type_name", "type_uid", "severity", "severity_id", "status", "status_id", "confidence_score",
	"title", "description", "types", "time", "created_time", "modified_time", "first_seen_time", "last_seen_time",
	"cloud_provider", "account_uid", "region", "compliance_control", "compliance_status", "compliance_status_id",
	"compliance_standards", "compliance_requirements", "remediation_desc", "remediation_references",
	"resource_type", "resource_uid", "resource_region", "resource_types", "resource_uids", "resources",
	"vulnerabilities", "comment", "evidences_json", "unmapped_json", "raw_finding", "source",
}

// ocsfSeverities are OCSF's severity_id captions.
var ocsfSeverities = map[int64]string{0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High", 5: "Critical", 6: "Fatal", 99: "Other"}

// ExpectedOCSF computes, with gjson, the ocsf_findings row each OCSF finding
// of one source document should become when read from a file named path
// (see documentFindings; every finding of the document is taken as OCSF).
func ExpectedOCSF(path string, data []byte) []map[string]any {
	var out []map[string]any
	for _, d := range documentFindings(path, data) {
		out = append(out, expectedOCSF(d))
	}
	return out
}

// expectedOCSF is the ocsf_findings row of one OCSF finding.
func expectedOCSF(d docFinding) map[string]any {
	f, m := d.f, d.common
	for _, c := range []string{"action_name", "action_description", "action_arn"} {
		delete(m, c)
	}
	// finding_info, or OCSF 1.0's finding object.
	info := f.Get("finding_info")
	if !info.IsObject() {
		info = f.Get("finding")
	}
	m["metadata_uid"] = text(f.Get("metadata.uid"))
	m["finding_uid"] = text(info.Get("uid"))
	m["product_uid"] = text(f.Get("metadata.product.uid"))
	m["product_name"] = str(f.Get("metadata.product.name"))
	m["vendor_name"] = str(f.Get("metadata.product.vendor_name"))
	m["product_feature"] = str(f.Get("metadata.product.feature.name"))
	if m["product_feature"] == nil {
		m["product_feature"] = text(f.Get("metadata.product.feature.uid"))
	}
	m["ocsf_version"] = str(f.Get("metadata.version"))
	m["profiles"] = strList(f.Get("metadata.profiles"))
	for _, c := range []string{"class_uid", "category_uid", "activity_id", "severity_id", "status_id", "confidence_score"} {
		m[c] = int32OrNil(f.Get(c))
	}
	for _, c := range []string{"class_name", "category_name", "activity_name", "type_name", "status", "comment"} {
		m[c] = str(f.Get(c))
	}
	if n := int64OrNil(f.Get("type_uid")); n != nil {
		m["type_uid"] = *n
	} else {
		m["type_uid"] = nil
	}
	// OCSF 1.0's Security Finding: state is the status.
	if state, id := str(f.Get("state")), int64OrNil(f.Get("state_id")); state != nil || id != nil {
		m["status"], m["status_id"] = state, int32OrNil(f.Get("state_id"))
	}
	m["severity"] = str(f.Get("severity"))
	if m["severity"] == nil && m["severity_id"] != nil {
		if s, ok := ocsfSeverities[int64(m["severity_id"].(int32))]; ok {
			m["severity"] = s
		}
	}
	m["title"] = str(info.Get("title"))
	m["description"] = str(info.Get("desc"))
	m["types"] = strList(info.Get("types"))
	m["time"] = ocsfTime(f, "time")
	if m["time"] == nil {
		m["time"] = ts(f.Get("event_time")) // Prowler 4.0–4.4's time
	}
	for _, c := range []string{"created_time", "modified_time", "first_seen_time", "last_seen_time"} {
		m[c] = ocsfTime(info, c)
	}
	m["cloud_provider"] = str(f.Get("cloud.provider"))
	m["account_uid"] = firstNonNil(text(f.Get("cloud.account.uid")), text(f.Get("cloud.account_uid"))) // the latter OCSF 1.0.0-rc.2's
	m["region"] = str(f.Get("cloud.region"))
	m["compliance_control"] = str(f.Get("compliance.control"))
	m["compliance_status"] = str(f.Get("compliance.status"))
	m["compliance_status_id"] = int32OrNil(f.Get("compliance.status_id"))
	m["compliance_standards"] = strList(f.Get("compliance.standards"))
	m["compliance_requirements"] = strList(f.Get("compliance.requirements"))
	m["remediation_desc"] = firstStr(f.Get("remediation.desc"), info.Get("remediation.desc"))
	m["remediation_references"] = []any{}
	for _, l := range [][]any{strList(f.Get("remediation.references")), strList(f.Get("remediation.kb_articles")),
		strList(info.Get("remediation.references")), strList(info.Get("remediation.kb_articles"))} {
		if len(l) > 0 {
			m["remediation_references"] = l
			break
		}
	}

	// resources, or OCSF 1.1–1.2's one resource.
	res := f.Get("resources").Array()
	if r := f.Get("resource"); len(res) == 0 && r.IsObject() {
		res = []gjson.Result{r}
	}
	m["resource_type"], m["resource_uid"], m["resource_region"] = nil, nil, nil
	if len(res) > 0 {
		m["resource_type"], m["resource_uid"], m["resource_region"] = str(res[0].Get("type")), str(res[0].Get("uid")), str(res[0].Get("region"))
	}
	types, uids, structs := []any{}, []any{}, []any{}
	for _, r := range res {
		types = append(types, str(r.Get("type")))
		uids = append(uids, text(r.Get("uid")))
		tags := map[string]string{}
		for _, tag := range r.Get("tags").Array() {
			if name, _ := text(tag.Get("name")).(string); name != "" {
				value, _ := text(tag.Get("value")).(string)
				tags[name] = value
			}
		}
		structs = append(structs, map[string]any{
			"type": str(r.Get("type")), "uid": text(r.Get("uid")), "uid_alt": text(r.Get("uid_alt")),
			"name": str(r.Get("name")), "region": str(r.Get("region")), "cloud_partition": str(r.Get("cloud_partition")),
			"owner_account_uid": text(r.Get("owner.account.uid")), "tags": tags, "data_json": firstNonNil(rawOrNil(r.Get("data")), rawOrNil(r.Get("details"))), // the latter OCSF 1.0.0-rc.2's
		})
	}
	m["resource_types"], m["resource_uids"], m["resources"] = types, uids, structs

	vulns := []any{}
	for _, v := range f.Get("vulnerabilities").Array() {
		var best any
		var vector any
		top := math.Inf(-1)
		cvss := v.Get("cve.cvss")
		scores := cvss.Array() // an array, or OCSF 1.0's one object
		if cvss.IsObject() {
			scores = []gjson.Result{cvss}
		}
		for _, c := range scores {
			if s, ok := floatOrNil(c.Get("base_score")).(float64); ok && s > top {
				top, best, vector = s, s, str(c.Get("vector_string"))
			}
		}
		epss := floatOrNil(v.Get("cve.epss.score"))
		title := str(v.Get("title"))
		if title == nil {
			title = str(v.Get("cve.title"))
		}
		pkgs := []any{}
		packages := v.Get("affected_packages").Array()
		if len(packages) == 0 {
			packages = v.Get("packages").Array() // OCSF 1.0
		}
		for _, p := range packages {
			pkgs = append(pkgs, map[string]any{
				"name": str(p.Get("name")), "version": str(p.Get("version")), "fixed_in_version": str(p.Get("fixed_in_version")),
				"package_manager": str(p.Get("package_manager")), "architecture": str(p.Get("architecture")),
			})
		}
		vulns = append(vulns, map[string]any{
			"cve_uid": str(v.Get("cve.uid")), "title": title, "severity": str(v.Get("severity")),
			"cvss_base_score": best, "cvss_vector": vector, "epss_score": epss,
			"is_fix_available": firstNonNil(boolOrNil(v.Get("is_fix_available")), boolOrNil(v.Get("fix_available"))), "is_exploit_available": boolOrNil(v.Get("is_exploit_available")),
			"fix_coverage": str(v.Get("fix_coverage")), "affected_packages": pkgs, "references": strList(v.Get("references")),
		})
	}
	m["vulnerabilities"] = vulns
	m["evidences_json"] = rawOrNil(f.Get("evidences"))
	m["unmapped_json"] = rawOrNil(f.Get("unmapped"))
	m["raw_finding"] = strings.TrimSpace(f.Raw)
	return m
}

// ocsfTime reads the OCSF timestamp attr of obj: epoch seconds when below
// 10^11, else milliseconds (a number, or a string of one), an RFC 3339
// string in the attribute, else its attr_dt twin.
func ocsfTime(obj gjson.Result, attr string) any {
	if t := ts(obj.Get(attr)); t != nil {
		return t
	}
	return rfc3339(obj.Get(attr + "_dt"))
}

// epoch reads raw, the text of a number, as epoch seconds when below 10^11,
// else milliseconds (fractions: seconds keep their milliseconds,
// milliseconds lose the rest); false when raw is no number or the time is
// outside the years 1 to 9999.
func epoch(raw string) (time.Time, bool) {
	if raw == "" {
		return time.Time{}, false
	}
	ms, ok := int64(0), false
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		ms, ok = n, true
		if n < 1e11 {
			ms = n * 1000
			ok = n > -1e11 // far below the year 1 either way
		}
	} else if f, err := strconv.ParseFloat(raw, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) && math.Abs(f) < 1e15 {
		ok = true
		if f < 1e11 {
			ms = int64(math.Round(f * 1000))
		} else {
			ms = int64(math.Floor(f))
		}
	}
	if !ok {
		return time.Time{}, false
	}
	t := time.UnixMilli(ms).UTC()
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, false
	}
	return t, true
}

// numText is the text of a number sent as a JSON number or a string.
func numText(r gjson.Result) string {
	switch r.Type {
	case gjson.Number:
		return r.Raw
	case gjson.String:
		return strings.TrimSpace(r.String())
	}
	return ""
}

// int64OrNil reads an integer column's value: a number, or a string of
// one; an integral float is its integer.
func int64OrNil(r gjson.Result) *int64 {
	s := numText(r)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return &n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
		n := int64(f)
		return &n
	}
	return nil
}

// int32OrNil is an INTEGER column's value, nil outside its range.
func int32OrNil(r gjson.Result) any {
	n := int64OrNil(r)
	if n == nil || *n < math.MinInt32 || *n > math.MaxInt32 {
		return nil
	}
	return int32(*n)
}

// floatOrNil is a DOUBLE column's value: a number or a string of one.
func floatOrNil(r gjson.Result) any {
	f, err := strconv.ParseFloat(numText(r), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return f
}

// boolOrNil is a BOOLEAN column's value: true or false, or their text.
func boolOrNil(r gjson.Result) any {
	var s string
	switch r.Type {
	case gjson.True, gjson.False, gjson.Number:
		s = r.Raw
	case gjson.String:
		s = strings.TrimSpace(r.String())
	default:
		return nil
	}
	if b, err := strconv.ParseBool(strings.ToLower(s)); err == nil {
		return b
	}
	return nil
}

// rawOrNil is a value as JSON text, nil when absent or null.
func rawOrNil(r gjson.Result) any {
	if !r.Exists() || r.Type == gjson.Null {
		return nil
	}
	return r.Raw
}

func firstNonNil(vs ...any) any {
	for _, v := range vs {
		if v != nil {
			return v
		}
	}
	return nil
}
