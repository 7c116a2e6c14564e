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

// Columns returns the table's columns, derived from its Parquet schema.
func Columns(table string) []Column {
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
// PartitionRangeStart to PartitionRangeAhead after now, and the location
// template.
func PartitionProjection(root, table string) map[string]string {
	return map[string]string{
		"projection.enabled":          "true",
		"projection.dt.type":          "date",
		"projection.dt.format":        "yyyy-MM-dd",
		"projection.dt.range":         ProjectionRange(),
		"projection.dt.interval":      "1",
		"projection.dt.interval.unit": "DAYS",
		"storage.location.template":   TableLocation(root, table) + "dt=${dt}/",
		"classification":              "parquet",
	}
}

// AthenaDDL returns CREATE EXTERNAL TABLE statements for both tables and the
// latest-state view, separated by blank lines, each ending with ";".
func AthenaDDL(o DDLOptions) string {
	var b strings.Builder
	for _, t := range Tables() {
		fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", o.qualified(t))
		s := ParquetSchema(t)
		for i, f := range s.Fields() {
			sep := ","
			if i == len(s.Fields())-1 {
				sep = ""
			}
			fmt.Fprintf(&b, "  `%s` %s%s\n", f.Name(), hiveType(f, true), sep)
		}
		b.WriteString(")\nPARTITIONED BY (`dt` string)\nSTORED AS PARQUET\n")
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
	b.WriteString(LatestViewDDL(o))
	return b.String()
}

// LatestViewName is the name of the view that keeps the latest state of each
// finding.
const LatestViewName = "findings_latest"

// LatestViewQuery is the SELECT behind the latest-state view, quoted for
// Athena's SQL engine (double quotes): the newest row
// per (product_arn, id) by updated_at, then processed_at, then event_time, as
// TABLES.md defines it. BatchUpdateFindings changes (workflow, notes) keep
// UpdatedAt but arrive in later events, hence event_time as the last key.
func LatestViewQuery(o DDLOptions) string {
	names := []string{}
	for _, c := range Columns(TableFindings) {
		names = append(names, `"`+c.Name+`"`)
	}
	names = append(names, `"dt"`)
	return "SELECT " + strings.Join(names, ", ") + "\nFROM (\n  SELECT *, row_number() OVER (\n" +
		"    PARTITION BY product_arn, id\n" +
		"    ORDER BY updated_at DESC NULLS LAST, processed_at DESC NULLS LAST, event_time DESC NULLS LAST\n" +
		"  ) AS rn\n  FROM " + o.qualifiedSQL(TableFindings) + "\n)\nWHERE rn = 1"
}

// LatestViewDDL returns the CREATE VIEW statement for the latest-state view.
func LatestViewDDL(o DDLOptions) string {
	return "CREATE OR REPLACE VIEW " + o.qualifiedSQL(LatestViewName) + " AS\n" + LatestViewQuery(o) + ";\n"
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
