package schema

import (
	"fmt"
	"sort"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Column is one column of a lake table as Athena and Glue see it.
type Column struct {
	Name string
	// Type is the Hive type string (string, bigint, timestamp,
	// array<string>, struct<a:string,...>), as Glue stores it.
	Type string
}

// DeadLetterColumns are the fields of a dead letter's JSON line
// (encode.DeadLetterLine, whose tests keep the two equal): where the unit
// came from, why it is not a row, and its bytes as text (valid UTF-8) or
// base64 (anything else, and units over the size limit).
var DeadLetterColumns = []Column{
	{Name: "source", Type: "string"},
	{Name: "error", Type: "string"},
	{Name: "data", Type: "string"},
	{Name: "data_base64", Type: "string"},
}

// DDLTables returns the names of every table Athena reads: the Parquet
// tables (Tables) and the dead letters, last.
func DDLTables() []string { return AllTableNames() }

// Storage is how Athena reads a table's objects.
type Storage struct {
	InputFormat, OutputFormat, SerDe string
	// Classification is Glue's name of the format (parquet, json).
	Classification string
}

// TableStorage returns the storage of a table of DDLTables: Parquet, or
// for dead letters JSON lines (gzip, which Athena reads by the .gz
// extension).
func TableStorage(table string) Storage {
	if table == TableDeadLetters {
		return Storage{
			InputFormat:    "org.apache.hadoop.mapred.TextInputFormat",
			OutputFormat:   "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
			SerDe:          "org.openx.data.jsonserde.JsonSerDe",
			Classification: "json",
		}
	}
	return Storage{
		InputFormat:    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
		OutputFormat:   "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
		SerDe:          "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		Classification: "parquet",
	}
}

// Columns returns the table's columns, derived from its Parquet schema (for
// dead letters, DeadLetterColumns).
func Columns(table string) []Column {
	if table == TableDeadLetters {
		return append([]Column(nil), DeadLetterColumns...)
	}
	s := ParquetSchema(table)
	var cols []Column
	for _, f := range s.Fields() {
		cols = append(cols, Column{Name: f.Name(), Type: hiveType(f, false)})
	}
	return cols
}

// hiveType renders a Parquet node as a Hive/Athena type. quote puts backticks
// around struct field names, which Athena's DDL parser needs for reserved
// words such as "partition"; Glue stores them bare.
func hiveType(n parquet.Node, quote bool) string {
	lt := n.Type().LogicalType()
	if lt != nil {
		switch lt.Value.(type) {
		case *format.ListType:
			elem := n.Fields()[0].Fields()[0]
			return "array<" + hiveType(elem, quote) + ">"
		case *format.MapType:
			kv := n.Fields()[0].Fields()
			return "map<" + hiveType(kv[0], quote) + "," + hiveType(kv[1], quote) + ">"
		case *format.TimestampType:
			return "timestamp"
		case *format.StringType, *format.EnumType, *format.JsonType:
			return "string"
		case *format.DateType:
			return "date"
		case *format.IntType:
			if n.Type().Kind() == parquet.Int64 {
				return "bigint"
			}
			return "int"
		}
	}
	if !n.Leaf() {
		parts := make([]string, 0, len(n.Fields()))
		for _, f := range n.Fields() {
			name := f.Name()
			if quote {
				name = "`" + name + "`"
			}
			parts = append(parts, name+":"+hiveType(f, quote))
		}
		return "struct<" + strings.Join(parts, ",") + ">"
	}
	switch n.Type().Kind() {
	case parquet.Boolean:
		return "boolean"
	case parquet.Int32:
		return "int"
	case parquet.Int64:
		return "bigint"
	case parquet.Float:
		return "float"
	case parquet.Double:
		return "double"
	case parquet.ByteArray:
		return "binary"
	}
	panic(fmt.Sprintf("schema: no Hive type for %v", n))
}

// DDLOptions says where the tables live and what they are called.
type DDLOptions struct {
	// Location is the lake root, s3://bucket/prefix (no trailing slash needed).
	Location string
	// Database qualifies table names when not empty.
	Database string
}

// qualified quotes a table name for Hive DDL (backticks).
func (o DDLOptions) qualified(name string) string {
	if o.Database == "" {
		return "`" + name + "`"
	}
	return "`" + o.Database + "`.`" + name + "`"
}

// qualifiedSQL quotes a name for Athena's SQL engine (SELECT, CREATE VIEW),
// which takes double quotes; backticks are for DDL only.
func (o DDLOptions) qualifiedSQL(name string) string {
	if o.Database == "" {
		return `"` + name + `"`
	}
	return `"` + o.Database + `"."` + name + `"`
}

// TableLocation returns the S3 location of a table under the lake root.
func TableLocation(root, table string) string {
	return strings.TrimRight(root, "/") + "/" + table + "/"
}

// PartitionProjection returns the table properties that let Athena find the
// dt partitions without a crawler or MSCK REPAIR: a date projection from
// PartitionRangeStart to PartitionRangeAhead after now (for dead letters,
// from UndatedPartition: those with no usable date are there), the location
// template, and the format's classification.
func PartitionProjection(root, table string) map[string]string {
	dtRange := ProjectionRange()
	if table == TableDeadLetters {
		dtRange = UndatedPartition + dtRange[strings.Index(dtRange, ","):]
	}
	return map[string]string{
		"projection.enabled":          "true",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.dt.range":         dtRange,
		"projection.dt.interval":      "1",
		"projection.dt.interval.unit": "DAYS",
		"storage.location.template":   TableLocation(root, table) + "dt=${dt}/",
		"classification":              TableStorage(table).Classification,
	}
}

// AthenaDDL returns CREATE EXTERNAL TABLE statements for every table of
// DDLTables, then for every current-state table (CurrentNames), and
// CREATE VIEW statements for every view (Views), separated by blank lines,
// each ending with ";".
func AthenaDDL(o DDLOptions) string {
	var b strings.Builder
	for _, t := range DDLTables() {
		fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", o.qualified(t))
		var cols []string
		if t == TableDeadLetters {
			for _, c := range DeadLetterColumns {
				cols = append(cols, fmt.Sprintf("`%s` %s", c.Name, c.Type))
			}
		} else {
			for _, f := range ParquetSchema(t).Fields() {
				cols = append(cols, fmt.Sprintf("`%s` %s", f.Name(), hiveType(f, true)))
			}
		}
		b.WriteString("  " + strings.Join(cols, ",\n  ") + "\n")
		b.WriteString(")\nPARTITIONED BY (`dt` string)\n")
		if st := TableStorage(t); st.Classification == "parquet" {
			b.WriteString("STORED AS PARQUET\n")
		} else {
			fmt.Fprintf(&b, "ROW FORMAT SERDE '%s'\nSTORED AS INPUTFORMAT '%s'\nOUTPUTFORMAT '%s'\n", st.SerDe, st.InputFormat, st.OutputFormat)
		}
		fmt.Fprintf(&b, "LOCATION '%s'\nTBLPROPERTIES (\n", TableLocation(o.Location, t))
		props := PartitionProjection(o.Location, t)
		keys := make([]string, 0, len(props))
		for k := range props {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			sep := ","
			if i == len(keys)-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  '%s' = '%s'%s\n", k, props[k], sep)
		}
		b.WriteString(");\n\n")
	}
	for _, t := range CurrentTableNames() {
		b.WriteString(currentTableDDL(o, t) + "\n")
	}
	for i, v := range Views() {
		if i > 0 {
			b.WriteString("\n")
		}
		b.WriteString(v.DDL(o))
	}
	return b.String()
}

// View is one view of the lake: a name and the SELECT behind it, quoted for
// Athena's SQL engine (double quotes; backticks are for DDL only).
type View struct {
	Name  string
	Query func(DDLOptions) string
	// Tables are the tables the view reads (a reader creates the view only
	// where they exist).
	Tables []string
}

// DDL returns the CREATE OR REPLACE VIEW statement of the view.
func (v View) DDL(o DDLOptions) string {
	return "CREATE OR REPLACE VIEW " + o.qualifiedSQL(v.Name) + " AS\n" + v.Query(o) + ";\n"
}

// Names of the views.
const (
	// LatestViewName keeps the latest state of each ASFF finding.
	LatestViewName = "findings_latest"
	// OCSFLatestViewName keeps the latest state of each OCSF finding.
	OCSFLatestViewName = "ocsf_findings_latest"
	// AllFindingsViewName is findings and ocsf_findings under shared names.
	AllFindingsViewName = "findings_all"
)

// Views returns the lake's views in a stable order: over the history, then
// over the current-state tables (findings_all_current).
func Views() []View {
	return []View{
		{LatestViewName, LatestViewQuery, []string{TableFindings}},
		{OCSFLatestViewName, OCSFLatestViewQuery, []string{TableOCSFFindings}},
		{AllFindingsViewName, AllFindingsViewQuery, []string{TableFindings, TableOCSFFindings}},
		{AllCurrentViewName, AllCurrentViewQuery, []string{FindingsCurrentName, OCSFFindingsCurrentName}},
	}
}

// LatestViewQuery is the SELECT behind findings_latest: the newest row per
// (product_arn, id) by updated_at, then processed_at, then event_time, then
// the tiebreak (Tiebreak: source, finding_index), as docs/tables.md defines
// it: the table's Newest, which the current-state table keeps too.
// BatchUpdateFindings changes (workflow, notes) keep UpdatedAt but arrive in
// later events, hence event_time after them.
func LatestViewQuery(o DDLOptions) string { return latestQuery(o, TableFindings) }

// OCSFLatestViewQuery is the SELECT behind ocsf_findings_latest: the newest
// row per finding (metadata.uid, which Security Hub keeps for the life of a
// finding; else account, product and finding_info.uid) by
// finding_info.modified_time, then event_time, then the tiebreak, as
// docs/tables.md defines it (the table's Newest).
// BatchUpdateFindingsV2 and automation rules change status, severity and
// comment without moving modified_time; their events are later.
//
// A missing account or product uid counts as empty in the key, where
// docs/tables.md's concatenation would make the whole key NULL: findings without
// metadata.uid whose producer names no account (Prowler's Kubernetes
// findings, Falco) or no product uid (Prowler 4.0–4.4) would all share the
// one NULL key, and the view would keep one of them. For findings that
// have all three (every Security Hub finding) the key is docs/tables.md's.
func OCSFLatestViewQuery(o DDLOptions) string { return latestQuery(o, TableOCSFFindings) }

// OCSFLatestKey is the SQL (Trino's and DuckDB's) of ocsf_findings_latest's
// partition key.
const OCSFLatestKey = "coalesce(metadata_uid, coalesce(account_uid, '') || '/' || coalesce(product_uid, '') || '/' || finding_uid)"

// latestQuery selects every column of table (and dt) from the first row of
// each finding by the table's Newest: its key and its total order.
func latestQuery(o DDLOptions, table string) string {
	t, ok := Lookup(table)
	if !ok || t.Newest() == nil {
		panic("schema: no latest view for " + table)
	}
	partitionBy, orderBy := t.Newest().KeySQL, t.Newest().OrderSQL()
	names := []string{}
	for _, c := range Columns(table) {
		names = append(names, `"`+c.Name+`"`)
	}
	names = append(names, `"dt"`)
	return "SELECT " + strings.Join(names, ", ") + "\nFROM (\n  SELECT *, row_number() OVER (\n" +
		"    PARTITION BY " + partitionBy + "\n" +
		"    ORDER BY " + orderBy + "\n" +
		"  ) AS rn\n  FROM " + o.qualifiedSQL(table) + "\n)\nWHERE rn = 1"
}

// AllFindingsColumns are the columns of findings_all, in order, with the
// expression each takes from findings (ASFF) and from ocsf_findings (OCSF).
// Severity and status are upper case with "_" for spaces (OCSF's "In
// Progress" is IN_PROGRESS, its Fatal is CRITICAL); OCSF's compliance
// statuses Pass and Fail read PASSED and FAILED, as in ASFF.
var AllFindingsColumns = []struct{ Name, ASFF, OCSF string }{
	{"format", "'asff'", "'ocsf'"},
	{"finding_id", `"id"`, `"finding_uid"`},
	{"product_name", `"product_name"`, `"product_name"`},
	{"account_id", `"aws_account_id"`, `"account_uid"`},
	{"region", `"region"`, `"region"`},
	{"severity", `upper("severity_label")`, `CASE upper("severity") WHEN 'FATAL' THEN 'CRITICAL' ELSE upper("severity") END`},
	{"status", `upper(replace("workflow_status", ' ', '_'))`, `upper(replace("status", ' ', '_'))`},
	{"compliance_status", `upper(replace("compliance_status", ' ', '_'))`,
		`CASE upper(replace("compliance_status", ' ', '_')) WHEN 'PASS' THEN 'PASSED' WHEN 'FAIL' THEN 'FAILED' ELSE upper(replace("compliance_status", ' ', '_')) END`},
	{"compliance_control", `"compliance_security_control_id"`, `"compliance_control"`},
	{"title", `"title"`, `"title"`},
	{"resource_type", `"resource_type"`, `"resource_type"`},
	{"resource_id", `"resource_id"`, `"resource_uid"`},
	{"created_at", `"created_at"`, `"created_time"`},
	{"updated_at", `"updated_at"`, `"modified_time"`},
	{"event_time", `"event_time"`, `"event_time"`},
	{"dt", `"dt"`, `"dt"`},
}

// AllFindingsViewQuery is the SELECT behind findings_all: every row of both
// tables (the history, like the tables; the latest views are per format)
// with the columns docs/tables.md lists.
func AllFindingsViewQuery(o DDLOptions) string {
	return allFindingsQuery(o, TableFindings, TableOCSFFindings, true)
}

// allFindingsQuery applies AllFindingsColumns to an ASFF and an OCSF table
// (dt left out when withDT is false).
func allFindingsQuery(o DDLOptions, asffTable, ocsfTable string, withDT bool) string {
	var asff, ocsf []string
	as := func(expr, name string) string {
		if expr == `"`+name+`"` {
			return expr
		}
		return expr + ` AS "` + name + `"`
	}
	for _, c := range AllFindingsColumns {
		if c.Name == "dt" && !withDT {
			continue
		}
		asff, ocsf = append(asff, as(c.ASFF, c.Name)), append(ocsf, as(c.OCSF, c.Name))
	}
	return "SELECT " + strings.Join(asff, ",\n  ") + "\nFROM " + o.qualifiedSQL(asffTable) +
		"\nUNION ALL\nSELECT " + strings.Join(ocsf, ",\n  ") + "\nFROM " + o.qualifiedSQL(ocsfTable)
}

// GlueColumnsYAML renders a table's columns as the Columns list of an
// AWS::Glue::Table's StorageDescriptor, indented by indent spaces. The
// CloudFormation template embeds this output; a test keeps them equal.
func GlueColumnsYAML(table string, indent int) string {
	pad := strings.Repeat(" ", indent)
	var b strings.Builder
	for _, c := range Columns(table) {
		fmt.Fprintf(&b, "%s- Name: %s\n%s  Type: \"%s\"\n", pad, c.Name, pad, c.Type)
	}
	return b.String()
}
