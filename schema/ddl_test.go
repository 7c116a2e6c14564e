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
}

var columnName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func TestColumnsFollowTheContract(t *testing.T) {
	for _, table := range Tables() {
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
				if strings.HasSuffix(c.Name, "_at") && c.Type != "timestamp" {
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
	location    string
	props       map[string]string
}

var (
	createRe = regexp.MustCompile("(?s)^CREATE EXTERNAL TABLE IF NOT EXISTS (\\S+) \\(\n(.*)\n\\)\nPARTITIONED BY \\((.*)\\)\nSTORED AS PARQUET\nLOCATION '([^']*)'\nTBLPROPERTIES \\(\n(.*)\n\\)$")
	colRe    = regexp.MustCompile("^  `([a-z0-9_]+)` (\\S+?),?$")
	propRe   = regexp.MustCompile(`^  '([^']+)' = '([^']*)',?$`)
	fieldRe  = regexp.MustCompile("[<,]([^<>,:]*):")
)

func parseDDL(t *testing.T, ddl string) (tables []ddlTable, view string) {
	t.Helper()
	if !strings.HasSuffix(ddl, ";\n") {
		t.Fatalf("DDL does not end with a statement terminator: %q", ddl[max(0, len(ddl)-40):])
	}
	stmts := strings.Split(strings.TrimSuffix(ddl, ";\n"), ";\n\n")
	if len(stmts) != 3 {
		t.Fatalf("want 2 tables and a view, got %d statements", len(stmts))
	}
	for _, s := range stmts[:2] {
		m := createRe.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("not a CREATE EXTERNAL TABLE statement of the expected form:\n%s", s)
		}
		tb := ddlTable{name: m[1], partitioned: m[3], location: m[4], props: map[string]string{}}
		lines := strings.Split(m[2], "\n")
		for i, l := range lines {
			c := colRe.FindStringSubmatch(l)
			if c == nil {
				t.Fatalf("%s: column line %q", tb.name, l)
			}
			if last := i == len(lines)-1; last == strings.HasSuffix(l, ",") {
				t.Errorf("%s: column line %q: commas must separate columns", tb.name, l)
			}
			tb.columns = append(tb.columns, Column{Name: c[1], Type: c[2]})
		}
		for _, l := range strings.Split(m[5], "\n") {
			p := propRe.FindStringSubmatch(l)
			if p == nil {
				t.Fatalf("%s: property line %q", tb.name, l)
			}
			tb.props[p[1]] = p[2]
		}
		tables = append(tables, tb)
	}
	return tables, stmts[2]
}

func TestAthenaDDL(t *testing.T) {
	for _, o := range []DDLOptions{
		{Location: "s3://lake-bucket/security/hublake", Database: "security_lake"},
		{Location: "s3://lake-bucket/security/hublake/"},
	} {
		t.Run(fmt.Sprintf("%s %s", o.Location, o.Database), func(t *testing.T) {
			root := strings.TrimSuffix(o.Location, "/")
			tables, view := parseDDL(t, AthenaDDL(o))
			for i, table := range Tables() {
				tb := tables[i]
				wantName := "`" + table + "`"
				if o.Database != "" {
					wantName = "`" + o.Database + "`." + wantName
				}
				if tb.name != wantName {
					t.Errorf("table name %s, want %s", tb.name, wantName)
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
				for k, v := range map[string]string{
					"projection.enabled":          "true",
					"projection.dt.type":          "date",
					"projection.dt.format":        "yyyy-MM-dd",
					"projection.dt.range":         "2015-01-01,NOW+1DAYS",
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

			// The view is SQL, not DDL: Athena's engine takes double quotes.
			sqlName := strings.ReplaceAll(tables[0].name, "`", `"`)
			wantView := "CREATE OR REPLACE VIEW " + strings.Replace(sqlName, "findings", LatestViewName, 1) + " AS\n"
			if !strings.HasPrefix(view, wantView) {
				t.Errorf("view statement starts %.80q, want %q", view, wantView)
			}
			for _, frag := range []string{
				"PARTITION BY product_arn, id",
				"ORDER BY updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST",
				"FROM " + sqlName + "\n", "WHERE rn = 1", `, "dt"` + "\nFROM",
			} {
				if !strings.Contains(view, frag) {
					t.Errorf("view lacks %q", frag)
				}
			}
			for _, c := range Columns(TableFindings) {
				if !strings.Contains(view, `"`+c.Name+`",`) {
					t.Errorf("view does not select %s", c.Name)
				}
			}
			if strings.Contains(view, "`") {
				t.Error("the view quotes with backticks, which Athena's SQL engine rejects")
			}
		})
	}
}

var (
	yamlName = regexp.MustCompile(`^( *)- Name: ([a-z][a-z0-9_]*)$`)
	yamlType = regexp.MustCompile(`^( *)  Type: "([^"\\]*)"$`)
)

// TestGlueColumnsYAML checks the output by hand, line by line, as a YAML
// block sequence of two-key mappings (no YAML library is in go.mod).
func TestGlueColumnsYAML(t *testing.T) {
	for _, table := range Tables() {
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
