package lakecheck

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/tidwall/gjson"
)

// OCSFColumns are the ocsf_findings columns of TABLES.md, all of them.
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
		f, m := d.f, d.common
		for _, c := range []string{"action_name", "action_description", "action_arn"} {
			delete(m, c)
		}
		m["metadata_uid"] = str(f.Get("metadata.uid"))
		m["finding_uid"] = str(f.Get("finding_info.uid"))
		m["product_uid"] = str(f.Get("metadata.product.uid"))
		m["product_name"] = str(f.Get("metadata.product.name"))
		m["vendor_name"] = str(f.Get("metadata.product.vendor_name"))
		m["product_feature"] = str(f.Get("metadata.product.feature.name"))
		m["ocsf_version"] = str(f.Get("metadata.version"))
		m["profiles"] = strList(f.Get("metadata.profiles"))
		for _, c := range []string{"class_uid", "category_uid", "activity_id", "severity_id", "status_id", "confidence_score"} {
			m[c] = int32OrNil(f.Get(c))
		}
		for _, c := range []string{"class_name", "category_name", "activity_name", "type_name", "status", "comment"} {
			m[c] = str(f.Get(c))
		}
		if t := f.Get("type_uid"); t.Type == gjson.Number {
			m["type_uid"] = t.Int()
		} else {
			m["type_uid"] = nil
		}
		m["severity"] = str(f.Get("severity"))
		if m["severity"] == nil && m["severity_id"] != nil {
			if s, ok := ocsfSeverities[int64(m["severity_id"].(int32))]; ok {
				m["severity"] = s
			}
		}
		m["title"] = str(f.Get("finding_info.title"))
		m["description"] = str(f.Get("finding_info.desc"))
		m["types"] = strList(f.Get("finding_info.types"))
		m["time"] = ocsfTime(f, "time")
		for _, c := range []string{"created_time", "modified_time", "first_seen_time", "last_seen_time"} {
			m[c] = ocsfTime(f.Get("finding_info"), c)
		}
		m["cloud_provider"] = str(f.Get("cloud.provider"))
		m["account_uid"] = str(f.Get("cloud.account.uid"))
		m["region"] = str(f.Get("cloud.region"))
		m["compliance_control"] = str(f.Get("compliance.control"))
		m["compliance_status"] = str(f.Get("compliance.status"))
		m["compliance_status_id"] = int32OrNil(f.Get("compliance.status_id"))
		m["compliance_standards"] = strList(f.Get("compliance.standards"))
		m["compliance_requirements"] = strList(f.Get("compliance.requirements"))
		m["remediation_desc"] = str(f.Get("remediation.desc"))
		m["remediation_references"] = strList(f.Get("remediation.references"))

		res := f.Get("resources").Array()
		m["resource_type"], m["resource_uid"], m["resource_region"] = nil, nil, nil
		if len(res) > 0 {
			m["resource_type"], m["resource_uid"], m["resource_region"] = str(res[0].Get("type")), str(res[0].Get("uid")), str(res[0].Get("region"))
		}
		types, uids, structs := []any{}, []any{}, []any{}
		for _, r := range res {
			types = append(types, str(r.Get("type")))
			uids = append(uids, str(r.Get("uid")))
			tags := map[string]string{}
			for _, tag := range r.Get("tags").Array() {
				if name := tag.Get("name").String(); name != "" {
					tags[name] = tag.Get("value").String()
				}
			}
			structs = append(structs, map[string]any{
				"type": str(r.Get("type")), "uid": str(r.Get("uid")), "uid_alt": str(r.Get("uid_alt")),
				"name": str(r.Get("name")), "region": str(r.Get("region")), "cloud_partition": str(r.Get("cloud_partition")),
				"owner_account_uid": str(r.Get("owner.account.uid")), "tags": tags, "data_json": rawOrNil(r.Get("data")),
			})
		}
		m["resource_types"], m["resource_uids"], m["resources"] = types, uids, structs

		vulns := []any{}
		for _, v := range f.Get("vulnerabilities").Array() {
			var best any
			var vector any
			top := math.Inf(-1)
			for _, c := range v.Get("cve.cvss").Array() {
				s, err := strconv.ParseFloat(strings.TrimSpace(c.Get("base_score").String()), 64)
				if c.Get("base_score").Exists() && err == nil && s > top {
					top, best, vector = s, s, str(c.Get("vector_string"))
				}
			}
			var epss any
			if e, err := strconv.ParseFloat(strings.TrimSpace(v.Get("cve.epss.score").String()), 64); err == nil && v.Get("cve.epss.score").Exists() {
				epss = e
			}
			title := str(v.Get("title"))
			if title == nil {
				title = str(v.Get("cve.title"))
			}
			pkgs := []any{}
			for _, p := range v.Get("affected_packages").Array() {
				pkgs = append(pkgs, map[string]any{
					"name": str(p.Get("name")), "version": str(p.Get("version")), "fixed_in_version": str(p.Get("fixed_in_version")),
					"package_manager": str(p.Get("package_manager")), "architecture": str(p.Get("architecture")),
				})
			}
			vulns = append(vulns, map[string]any{
				"cve_uid": str(v.Get("cve.uid")), "title": title, "severity": str(v.Get("severity")),
				"cvss_base_score": best, "cvss_vector": vector, "epss_score": epss,
				"is_fix_available": boolOrNil(v.Get("is_fix_available")), "is_exploit_available": boolOrNil(v.Get("is_exploit_available")),
				"fix_coverage": str(v.Get("fix_coverage")), "affected_packages": pkgs, "references": strList(v.Get("references")),
			})
		}
		m["vulnerabilities"] = vulns
		m["evidences_json"] = rawOrNil(f.Get("evidences"))
		m["unmapped_json"] = rawOrNil(f.Get("unmapped"))
		m["raw_finding"] = strings.TrimSpace(f.Raw)
		out = append(out, m)
	}
	return out
}

// ocsfTime reads the OCSF timestamp attr of obj: epoch milliseconds (a
// number or a string of digits), an RFC 3339 string in the attribute, else
// its attr_dt twin.
func ocsfTime(obj gjson.Result, attr string) any {
	v := obj.Get(attr)
	switch {
	case v.Type == gjson.Number && v.Num == math.Trunc(v.Num):
		return time.UnixMilli(v.Int()).UTC()
	case v.Type == gjson.String:
		if n, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
			return time.UnixMilli(n).UTC()
		}
		if t := ts(v); t != nil {
			return t
		}
	}
	return ts(obj.Get(attr + "_dt"))
}

func int32OrNil(r gjson.Result) any {
	switch r.Type {
	case gjson.Number:
		return int32(r.Int())
	case gjson.String:
		if n, err := strconv.ParseInt(strings.TrimSpace(r.String()), 10, 32); err == nil {
			return int32(n)
		}
	}
	return nil
}

func boolOrNil(r gjson.Result) any {
	switch r.Type {
	case gjson.True, gjson.False:
		return r.Bool()
	case gjson.String:
		if b, err := strconv.ParseBool(strings.ToLower(r.String())); err == nil {
			return b
		}
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
