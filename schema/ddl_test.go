package schema

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// contractColumns are the columns TABLES.md lists, with the Hive types it
// gives them. Columns may be added; none of these may change.
var contractColumns = map[string]map[string]string{
	TableFindings: {
		"event_id": "string", "event_time": "timestamp", "event_detail_type": "string",
		"event_region": "string", "event_account": "string", "event_resources": "array<string>",
		"action_name": "string", "action_description": "string", "action_arn": "string",
		"finding_index": "int", "id": "string", "product_arn": "string", "product_name": "string",
		"company_name": "string", "generator_id": "string", "aws_account_id": "string", "region": "string",
		"schema_version": "string", "types": "array<string>",
		"created_at": "timestamp", "updated_at": "timestamp", "first_observed_at": "timestamp",
		"last_observed_at": "timestamp", "processed_at": "timestamp",
		"severity_label": "string", "severity_normalized": "int", "severity_original": "string",
		"title": "string", "description": "string", "record_state": "string", "workflow_status": "string",
		"compliance_status": "string", "compliance_security_control_id": "string",
		"compliance_related_requirements": "array<string>", "remediation_text": "string", "remediation_url": "string",
		"resource_type": "string", "resource_id": "string", "resource_region": "string",
		"resource_types": "array<string>", "resource_ids": "array<string>",
		"resources":      "array<struct<type:string,id:string,partition:string,region:string,tags:map<string,string>,details_json:string>>",
		"product_fields": "map<string,string>", "user_defined_fields": "map<string,string>",
		"raw_finding": "string", "source": "string",
	},
	TableInsightResults: {
		"event_id": "string", "event_time": "timestamp", "event_region": "string", "event_account": "string",
		"action_name": "string", "action_description": "string", "action_arn": "string",
		"insight_arn": "string", "insight_name": "string", "result_type": "string",
		"result_value": "string", "result_count": "bigint", "number_of_results": "string",
		"raw_detail": "string", "source": "string",
	},
	TableOCSFFindings: {
		"event_id": "string", "event_time": "timestamp", "event_detail_type": "string",
		"event_region": "string", "event_account": "string", "event_resources": "array<string>",
		"finding_index": "int", "metadata_uid": "string", "finding_uid": "string",
		"product_uid": "string", "product_name": "string", "vendor_name": "string", "product_feature": "string",
		"ocsf_version": "string", "profiles": "array<string>",
		"class_uid": "int", "category_uid": "int", "activity_id": "int",
		"class_name": "string", "category_name": "string", "activity_name": "string", "type_name": "string",
		"type_uid": "bigint", "severity": "string", "severity_id": "int", "status": "string", "status_id": "int",
		"confidence_score": "int", "title": "string", "description": "string", "types": "array<string>",
		"time": "timestamp", "created_time": "timestamp", "modified_time": "timestamp",
		"first_seen_time": "timestamp", "last_seen_time": "timestamp",
		"cloud_provider": "string", "account_uid": "string", "region": "string",
		"compliance_control": "string", "compliance_status": "string", "compliance_status_id": "int",
		"compliance_standards": "array<string>", "compliance_requirements": "array<string>",
		"remediation_desc": "string", "remediation_references": "array<string>",
		"resource_type": "string", "resource_uid": "string", "resource_region": "string",
		"resource_types": "array<string>", "resource_uids": "array<string>",
		"resources": "array<struct<type:string,uid:string,uid_alt:string,name:string,region:string,cloud_partition:string,owner_account_uid:string,tags:map<string,string>,data_json:string>>",
		"vulnerabilities": "array<struct<cve_uid:string,title:string,severity:string,cvss_base_score:double,cvss_vector:string,epss_score:double," +
			"is_fix_available:boolean,is_exploit_available:boolean,fix_coverage:string," +
			"affected_packages:array<struct<name:string,version:string,fixed_in_version:string,package_manager:string,architecture:string>>,references:array<string>>>",
		"comment": "string", "evidences_json": "string", "unmapped_json": "string",
		"raw_finding": "string", "source": "string",
	},
}

// TestOCSFColumnsExactly: ocsf_findings has exactly TABLES.md's columns, in
// its order (no column beyond the contract, unlike findings' recommended
// extras).
func TestOCSFColumnsExactly(t *testing.T) {
	want := []string{
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
	var got []string
	for _, c := range Columns(TableOCSFFindings) {
		got = append(got, c.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ocsf_findings columns\n  %v\nTABLES.md\n  %v", got, want)
	}
}

var columnName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func TestColumnsFollowTheContract(t *testing.T) {
	for _, table := range TableNames() {
		t.Run(table, func(t *testing.T) {
			cols := Columns(table)
			got := map[string]string{}
			for _, c := range cols {
				if !columnName.MatchString(c.Name) {
					t.Errorf("column %q is not lower snake_case", c.Name)
				}
				if _, dup := got[c.Name]; dup {
					t.Errorf("column %q appears twice", c.Name)
				}
				if c.Name == "dt" {
					t.Errorf("dt is the partition key and must not be a column of the files")
				}
				if (strings.HasSuffix(c.Name, "_at") || strings.HasSuffix(c.Name, "_time") || c.Name == "time") && c.Type != "timestamp" {
					t.Errorf("column %s is %s, want timestamp", c.Name, c.Type)
				}
				if strings.ContainsAny(c.Type, "`\" ") {
					t.Errorf("column %s: Glue type %q must be bare", c.Name, c.Type)
				}
				got[c.Name] = c.Type
			}
			for name, want := range contractColumns[table] {
				if g, ok := got[name]; !ok {
					t.Errorf("column %s of TABLES.md is missing", name)
				} else if g != want {
					t.Errorf("column %s is %s, TABLES.md says %s", name, g, want)
				}
			}
		})
	}
	if got := Columns(TableFindings)[0].Name; got != "event_id" {
		t.Errorf("first findings column is %s", got)
	}
}

// ddlTable is one CREATE EXTERNAL TABLE statement taken apart.
type ddlTable struct {
	name        string
	columns     []Column
	partitioned string
	storage     string
	location    string
	props       map[string]string
}

var (
	createRe = regexp.MustCompile("(?s)^CREATE EXTERNAL TABLE IF NOT EXISTS (\\S+) \\(\n(.*)\n\\)\nPARTITIONED BY \\((.*)\\)\n" +
		"(STORED AS PARQUET|ROW FORMAT SERDE '[^']+'\nSTORED AS INPUTFORMAT '[^']+'\nOUTPUTFORMAT '[^']+')\nLOCATION '([^']*)'\nTBLPROPERTIES \\(\n(.*)\n\\)$")
	currentRe = regexp.MustCompile("(?s)^CREATE EXTERNAL TABLE IF NOT EXISTS (\\S+) \\(\n(.*)\n\\)\n" +
		"ROW FORMAT SERDE '([^']+)'\nSTORED AS INPUTFORMAT '([^']+)'\nOUTPUTFORMAT '([^']+)'\nLOCATION '([^']*)'\nTBLPROPERTIES \\(\n(.*)\n\\)$")
	colRe   = regexp.MustCompile("^  `([a-z0-9_]+)` (\\S+?),?$")
	propRe  = regexp.MustCompile(`^  '([^']+)' = '([^']*)',?$`)
	fieldRe = regexp.MustCompile("[<,]([^<>,:]*):")
)

// parseColumns parses the column lines of a CREATE EXTERNAL TABLE.
func parseColumns(t *testing.T, table, body string) []Column {
	t.Helper()
	var cols []Column
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		c := colRe.FindStringSubmatch(l)
		if c == nil {
			t.Fatalf("%s: column line %q", table, l)
		}
		if last := i == len(lines)-1; last == strings.HasSuffix(l, ",") {
			t.Errorf("%s: column line %q: commas must separate columns", table, l)
		}
		cols = append(cols, Column{Name: c[1], Type: c[2]})
	}
	return cols
}

// parseProps parses the TBLPROPERTIES lines of a CREATE EXTERNAL TABLE.
func parseProps(t *testing.T, table, body string) map[string]string {
	t.Helper()
	props := map[string]string{}
	for _, l := range strings.Split(body, "\n") {
		p := propRe.FindStringSubmatch(l)
		if p == nil {
			t.Fatalf("%s: property line %q", table, l)
		}
		props[p[1]] = p[2]
	}
	return props
}

// parseDDL takes AthenaDDL apart: the partitioned tables (DDLTables), the
// current tables (CurrentTables: storage holds the SerDe, input and output
// formats, one a line) and the views' statements.
func parseDDL(t *testing.T, ddl string) (tables, current []ddlTable, views []string) {
	t.Helper()
	if !strings.HasSuffix(ddl, ";\n") {
		t.Fatalf("DDL does not end with a statement terminator: %q", ddl[max(0, len(ddl)-40):])
	}
	stmts := strings.Split(strings.TrimSuffix(ddl, ";\n"), ";\n\n")
	nt, nc, nv := len(DDLTables()), len(CurrentTables()), len(Views())
	if len(stmts) != nt+nc+nv {
		t.Fatalf("want %d tables, %d current tables and %d views, got %d statements", nt, nc, nv, len(stmts))
	}
	for _, s := range stmts[:nt] {
		m := createRe.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("not a CREATE EXTERNAL TABLE statement of the expected form:\n%s", s)
		}
		tables = append(tables, ddlTable{name: m[1], partitioned: m[3], storage: m[4], location: m[5],
			columns: parseColumns(t, m[1], m[2]), props: parseProps(t, m[1], m[6])})
	}
	for _, s := range stmts[nt : nt+nc] {
		m := currentRe.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("not an unpartitioned CREATE EXTERNAL TABLE statement of the symlink form:\n%s", s)
		}
		current = append(current, ddlTable{name: m[1], storage: m[3] + "\n" + m[4] + "\n" + m[5], location: m[6],
			columns: parseColumns(t, m[1], m[2]), props: parseProps(t, m[1], m[7])})
	}
	return tables, current, stmts[nt+nc:]
}

func TestAthenaDDL(t *testing.T) {
	for _, o := range []DDLOptions{
		{Location: "s3://lake-bucket/security/hublake", Database: "security_lake"},
		{Location: "s3://lake-bucket/security/hublake/"},
	} {
		t.Run(fmt.Sprintf("%s %s", o.Location, o.Database), func(t *testing.T) {
			root := strings.TrimSuffix(o.Location, "/")
			tables, current, views := parseDDL(t, AthenaDDL(o))
			checkCurrentDDL(t, o, current)
			for i, table := range DDLTables() {
				tb := tables[i]
				if wantName := ddlName(o, table); tb.name != wantName {
					t.Errorf("table name %s, want %s", tb.name, ddlName(o, table))
				}
				cols := Columns(table)
				if len(tb.columns) != len(cols) {
					t.Fatalf("%s: %d columns in the DDL, %d in the schema", table, len(tb.columns), len(cols))
				}
				for j, c := range cols {
					d := tb.columns[j]
					if d.Name != c.Name {
						t.Errorf("%s column %d: DDL has %s, schema %s", table, j, d.Name, c.Name)
						continue
					}
					// Athena needs struct field names backticked (partition
					// is a reserved word); otherwise the type is Glue's.
					if strings.ReplaceAll(d.Type, "`", "") != c.Type {
						t.Errorf("%s.%s: DDL type %s, schema type %s", table, c.Name, d.Type, c.Type)
					}
					for _, f := range fieldRe.FindAllStringSubmatch(d.Type, -1) {
						if !regexp.MustCompile("^`[a-z0-9_]+`$").MatchString(f[1]) {
							t.Errorf("%s.%s: struct field %s is not backticked", table, c.Name, f[1])
						}
					}
					if strings.Count(d.Type, "<") != strings.Count(d.Type, ">") {
						t.Errorf("%s.%s: unbalanced type %s", table, c.Name, d.Type)
					}
				}
				if tb.partitioned != "`dt` string" {
					t.Errorf("%s: PARTITIONED BY (%s), want (`dt` string)", table, tb.partitioned)
				}
				if want := root + "/" + table + "/"; tb.location != want {
					t.Errorf("%s: LOCATION %s, want %s", table, tb.location, want)
				}
				wantStorage, wantRange, wantClass := "STORED AS PARQUET", "2015-01-01,NOW+1DAYS", "parquet"
				if table == TableDeadLetters {
					// Gzipped JSON lines; the undated ones are in 1970-01-01.
					wantStorage = "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'\nSTORED AS INPUTFORMAT 'org.apache.hadoop.mapred.TextInputFormat'\nOUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'"
					wantRange, wantClass = "1970-01-01,NOW+1DAYS", "json"
				}
				if tb.storage != wantStorage {
					t.Errorf("%s: storage %q, want %q", table, tb.storage, wantStorage)
				}
				for k, v := range map[string]string{
					"classification":              wantClass,
					"projection.enabled":          "true",
					"projection.dt.type":          "date",
					"projection.dt.format":        "yyyy-MM-dd",
					"projection.dt.range":         wantRange,
					"projection.dt.interval":      "1",
					"projection.dt.interval.unit": "DAYS",
					"storage.location.template":   root + "/" + table + "/dt=${dt}/",
				} {
					if tb.props[k] != v {
						t.Errorf("%s: TBLPROPERTIES %s = %q, want %q", table, k, tb.props[k], v)
					}
				}
			}
			findings := map[string]string{}
			for _, c := range tables[0].columns {
				findings[c.Name] = c.Type
			}
			for name, want := range map[string]string{
				"created_at": "timestamp", "updated_at": "timestamp", "event_time": "timestamp",
				"types": "array<string>", "product_fields": "map<string,string>",
				"resources": "array<struct<`type`:string,`id`:string,`partition`:string,`region`:string,`tags`:map<string,string>,`details_json`:string>>",
			} {
				if findings[name] != want {
					t.Errorf("findings.%s is %s in the DDL, want %s", name, findings[name], want)
				}
			}

			// The views are SQL, not DDL: Athena's engine takes double quotes.
			sqlName := func(name string) string {
				if o.Database == "" {
					return `"` + name + `"`
				}
				return `"` + o.Database + `"."` + name + `"`
			}
			frags := map[string][]string{
				LatestViewName: {
					"PARTITION BY product_arn, id",
					"ORDER BY updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST, source DESC NULLS LAST, finding_index DESC NULLS LAST\n",
					"FROM " + sqlName("findings") + "\n", "WHERE rn = 1", `, "dt"` + "\nFROM",
				},
				OCSFLatestViewName: {
					"PARTITION BY coalesce(metadata_uid, coalesce(account_uid, '') || '/' || coalesce(product_uid, '') || '/' || finding_uid)",
					"ORDER BY modified_time DESC NULLS LAST, event_time DESC NULLS LAST, source DESC NULLS LAST, finding_index DESC NULLS LAST\n",
					"FROM " + sqlName("ocsf_findings") + "\n", "WHERE rn = 1", `, "dt"` + "\nFROM",
				},
				AllFindingsViewName: {
					"SELECT 'asff' AS \"format\",", "FROM " + sqlName("findings") + "\nUNION ALL\nSELECT 'ocsf' AS \"format\",",
					"\nFROM " + sqlName("ocsf_findings"),
				},
				AllCurrentViewName: {
					"SELECT 'asff' AS \"format\",", "FROM " + sqlName("findings_current") + "\nUNION ALL\nSELECT 'ocsf' AS \"format\",",
					"\nFROM " + sqlName("ocsf_findings_current") + "", "\"event_time\"\nFROM",
				},
			}
			selects := map[string]string{LatestViewName: TableFindings, OCSFLatestViewName: TableOCSFFindings}
			for i, v := range Views() {
				view := views[i]
				if want := "CREATE OR REPLACE VIEW " + sqlName(v.Name) + " AS\n"; !strings.HasPrefix(view, want) {
					t.Errorf("view statement starts %.80q, want %q", view, want)
				}
				if len(frags[v.Name]) == 0 {
					t.Errorf("view %s is not tested", v.Name)
				}
				for _, frag := range frags[v.Name] {
					if !strings.Contains(view, frag) {
						t.Errorf("view %s lacks %q", v.Name, frag)
					}
				}
				if table, ok := selects[v.Name]; ok {
					for _, c := range Columns(table) {
						if !strings.Contains(view, `"`+c.Name+`",`) {
							t.Errorf("view %s does not select %s", v.Name, c.Name)
						}
					}
				}
				if strings.Contains(view, "`") {
					t.Errorf("view %s quotes with backticks, which Athena's SQL engine rejects", v.Name)
				}
			}
		})
	}
}

// TestAllFindingsViewColumns: findings_all has TABLES.md's columns in its
// order, and every column it reads exists in its table.
func TestAllFindingsViewColumns(t *testing.T) {
	want := []string{"format", "finding_id", "product_name", "account_id", "region", "severity", "status",
		"compliance_status", "compliance_control", "title", "resource_type", "resource_id", "created_at",
		"updated_at", "event_time", "dt"}
	var got []string
	for _, c := range AllFindingsColumns {
		got = append(got, c.Name)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("findings_all columns %v, TABLES.md %v", got, want)
	}
	quoted := regexp.MustCompile(`"([a-z_]+)"`)
	for _, side := range []struct {
		table string
		expr  func(i int) string
	}{
		{TableFindings, func(i int) string { return AllFindingsColumns[i].ASFF }},
		{TableOCSFFindings, func(i int) string { return AllFindingsColumns[i].OCSF }},
	} {
		cols := map[string]bool{"dt": true}
		for _, c := range Columns(side.table) {
			cols[c.Name] = true
		}
		for i := range AllFindingsColumns {
			for _, m := range quoted.FindAllStringSubmatch(side.expr(i), -1) {
				if !cols[m[1]] {
					t.Errorf("findings_all.%s reads %s, which %s does not have", AllFindingsColumns[i].Name, m[1], side.table)
				}
			}
		}
	}
}

var (
	yamlName = regexp.MustCompile(`^( *)- Name: ([a-z][a-z0-9_]*)$`)
	yamlType = regexp.MustCompile(`^( *)  Type: "([^"\\]*)"$`)
)

// TestGlueColumnsYAML checks the output by hand, line by line, as a YAML
// block sequence of two-key mappings (no YAML library is in go.mod).
func TestGlueColumnsYAML(t *testing.T) {
	for _, table := range DDLTables() {
		for _, indent := range []int{0, 8} {
			t.Run(fmt.Sprintf("%s indent %d", table, indent), func(t *testing.T) {
				y := GlueColumnsYAML(table, indent)
				if !strings.HasSuffix(y, "\n") {
					t.Fatal("no final newline")
				}
				lines := strings.Split(strings.TrimSuffix(y, "\n"), "\n")
				cols := Columns(table)
				if len(lines) != 2*len(cols) {
					t.Fatalf("%d lines for %d columns", len(lines), len(cols))
				}
				pad := strings.Repeat(" ", indent)
				for i, c := range cols {
					n := yamlName.FindStringSubmatch(lines[2*i])
					ty := yamlType.FindStringSubmatch(lines[2*i+1])
					if n == nil || ty == nil {
						t.Fatalf("column %d: not a YAML list item with Name and Type:\n%s\n%s", i, lines[2*i], lines[2*i+1])
					}
					if n[1] != pad || ty[1] != pad {
						t.Errorf("column %d: indented by %d and %d, want %d", i, len(n[1]), len(ty[1]), indent)
					}
					if n[2] != c.Name || ty[2] != c.Type {
						t.Errorf("column %d: YAML says %s %s, schema %s %s", i, n[2], ty[2], c.Name, c.Type)
					}
					if strings.Contains(ty[2], "`") {
						t.Errorf("column %s: Glue types carry no backticks: %s", c.Name, ty[2])
					}
				}
			})
		}
	}
}

// checkCurrentDDL: each current table has its history table's columns and
// types, no partitions, the symlink storage Delta Lake's Athena integration
// uses (https://docs.delta.io/presto-integration) and the manifest's folder
// as LOCATION.
func checkCurrentDDL(t *testing.T, o DDLOptions, current []ddlTable) {
	t.Helper()
	root := strings.TrimSuffix(o.Location, "/")
	if len(current) != 2 {
		t.Fatalf("%d current tables in the DDL, want findings_current and ocsf_findings_current", len(current))
	}
	for i, history := range CurrentTableNames() {
		tb, name := current[i], CurrentName(history)
		if name != history+"_current" {
			t.Errorf("current table %s of %s: want the name %s_current", name, history, history)
		}
		if wantName := ddlName(o, name); tb.name != wantName {
			t.Errorf("current table name %s, want %s", tb.name, wantName)
		}
		hist := Columns(history)
		if len(tb.columns) != len(hist) {
			t.Fatalf("%s: %d columns, %s has %d", name, len(tb.columns), history, len(hist))
		}
		for j, h := range hist {
			if d := tb.columns[j]; d.Name != h.Name || strings.ReplaceAll(d.Type, "`", "") != h.Type {
				t.Errorf("%s column %d: %s %s, %s has %s %s", name, j, d.Name, d.Type, history, h.Name, h.Type)
			}
			if tb.columns[j].Name == "dt" {
				t.Errorf("%s: dt is a column; the current tables are not partitioned", name)
			}
		}
		want := "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe\n" +
			"org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat\norg.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
		if tb.storage != want {
			t.Errorf("%s: storage %q, want %q", name, tb.storage, want)
		}
		if want := root + "/" + name + "/_symlink_format_manifest/"; tb.location != want {
			t.Errorf("%s: LOCATION %s, want %s", name, tb.location, want)
		}
		if len(tb.props) != 1 || tb.props["classification"] != "parquet" {
			t.Errorf("%s: TBLPROPERTIES %v, want classification parquet only (no partition projection)", name, tb.props)
		}
		if got := CurrentManifestURL(o.Location, name); got != root+"/"+name+"/_symlink_format_manifest/manifest" {
			t.Errorf("%s: manifest %s", name, got)
		}
		if h, ok := HistoryOf(name); !ok || h != history {
			t.Errorf("HistoryOf(%s) = %s, %v", name, h, ok)
		}
	}
}

// TestAllCurrentViewHasNoDT: findings_all_current is findings_all's mapping
// without dt (the current tables have none), over the current tables only.
func TestAllCurrentViewHasNoDT(t *testing.T) {
	q := AllCurrentViewQuery(DDLOptions{})
	if strings.Contains(q, `"dt"`) {
		t.Errorf("findings_all_current selects dt:\n%s", q)
	}
	for _, name := range []string{`"findings"`, `"ocsf_findings"`} {
		if strings.Contains(q, "FROM "+name) {
			t.Errorf("findings_all_current reads the history table %s", name)
		}
	}
	all := AllFindingsViewQuery(DDLOptions{})
	if got, want := strings.Count(q, " AS \""), strings.Count(all, " AS \""); got != want {
		t.Errorf("findings_all_current renames %d columns, findings_all %d", got, want)
	}
	if got, want := strings.Count(q, ",\n"), strings.Count(all, ",\n")-2; got != want {
		t.Errorf("findings_all_current has %d column separators, want findings_all's less dt's (%d)", got, want)
	}
}

// TestLatestTiebreakIsUnique: the views end their order with the tiebreak,
// whose columns every history row has (required: never NULL), so the order
// is total.
func TestLatestTiebreakIsUnique(t *testing.T) {
	for _, table := range CurrentTableNames() {
		s := ParquetSchema(table)
		for _, col := range Tiebreak {
			f, ok := s.Lookup(col)
			if !ok {
				t.Errorf("%s has no column %s", table, col)
				continue
			}
			if !f.Node.Required() {
				t.Errorf("%s.%s is optional: a NULL would tie", table, col)
			}
		}
		view := map[string]string{TableFindings: LatestViewQuery(DDLOptions{}), TableOCSFFindings: OCSFLatestViewQuery(DDLOptions{})}[table]
		if !strings.Contains(view, "source DESC NULLS LAST, finding_index DESC NULLS LAST\n") {
			t.Errorf("the latest view of %s does not end its order with the tiebreak:\n%s", table, view)
		}
	}
}

// ddlName is a table's name as the DDL's statements quote it.
func ddlName(o DDLOptions, name string) string {
	if o.Database == "" {
		return "`" + name + "`"
	}
	return "`" + o.Database + "`.`" + name + "`"
}
