package schema

import (
	"fmt"
	"strings"
)

// The current-state tables (docs/tables.md, "Current state"): one row per
// finding, exactly the row its latest view picks, as a snapshot that
// `hublake current` rewrites. They have the history table's columns (the
// same row type and Parquet schema) and no dt: they are not partitioned.
//
// Readers find the committed snapshot through one text object, the
// symlink manifest <root>/<table>/_symlink_format_manifest/manifest, which
// lists the snapshot's objects one URL a line. Hive's
// SymlinkTextInputFormat reads it (Athena, Trino's Hive connector, Spark
// with Hive support: the form Delta Lake's Presto and Athena integration
// uses, https://docs.delta.io/presto-integration); DuckDB reads it with
// read_text (DuckDBCurrentStatements). The refresh commits by one PUT of
// that object, so a query sees the old list or the new one, never a mix
// (docs/design.md, claims of the refresh).

// Names of the current-state tables and of the view over both.
const (
	// FindingsCurrentName is the current state of findings (ASFF).
	FindingsCurrentName = TableFindings + CurrentSuffix
	// OCSFFindingsCurrentName is the current state of ocsf_findings.
	OCSFFindingsCurrentName = TableOCSFFindings + CurrentSuffix
	// AllCurrentViewName is findings_all's mapping over the current tables.
	AllCurrentViewName = "findings_all_current"
)

// SymlinkManifestDir is the folder under a current table's root that holds
// its symlink manifest, and SymlinkManifestName the manifest's name in it
// (Delta Lake's names, so tools that know them find it); layout's keys
// (layout.SymlinkManifestKey) are the same, which a test keeps.
const (
	SymlinkManifestDir  = "_symlink_format_manifest"
	SymlinkManifestName = "manifest"
)

// CurrentName returns the name of table's current-state table
// (findings_current): also its folder under the lake root.
func CurrentName(table string) string { return table + CurrentSuffix }

// CurrentNames returns the names of the current-state tables, in the order
// of CurrentTables.
func CurrentNames() []string {
	var out []string
	for _, t := range CurrentTableNames() {
		out = append(out, CurrentName(t))
	}
	return out
}

// HistoryOf returns the history table of a current-state table's name
// (findings for findings_current).
func HistoryOf(current string) (string, bool) {
	for _, t := range CurrentTableNames() {
		if CurrentName(t) == current {
			return t, true
		}
	}
	return "", false
}

// LatestViewOf returns the name of the latest view over a finding table
// (findings_latest for findings), the view its current-state table
// answers as a table.
func LatestViewOf(table string) string {
	if table == TableOCSFFindings {
		return OCSFLatestViewName
	}
	return LatestViewName
}

// CurrentStorage is how Athena reads a current table: the symlink
// manifest (SymlinkTextInputFormat) naming Parquet objects (the Parquet
// SerDe).
func CurrentStorage() Storage {
	return Storage{
		InputFormat:    "org.apache.hadoop.hive.ql.io.SymlinkTextInputFormat",
		OutputFormat:   "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
		SerDe:          "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
		Classification: "parquet",
	}
}

// CurrentTableLocation returns a current table's LOCATION: the folder of
// its symlink manifest (never the snapshots': Athena would read every
// snapshot's objects as one table).
func CurrentTableLocation(root, table string) string {
	return TableLocation(root, table) + SymlinkManifestDir + "/"
}

// CurrentManifestURL returns the URL (or path) of a current table's
// symlink manifest.
func CurrentManifestURL(root, table string) string {
	return CurrentTableLocation(root, table) + SymlinkManifestName
}

// currentTableDDL is the CREATE EXTERNAL TABLE statement of table's
// current-state table: table's columns, no partitions, the symlink storage.
func currentTableDDL(o DDLOptions, table string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE EXTERNAL TABLE IF NOT EXISTS %s (\n", o.qualified(CurrentName(table)))
	var cols []string
	for _, f := range ParquetSchema(table).Fields() {
		cols = append(cols, fmt.Sprintf("`%s` %s", f.Name(), hiveType(f, true)))
	}
	b.WriteString("  " + strings.Join(cols, ",\n  ") + "\n)\n")
	st := CurrentStorage()
	fmt.Fprintf(&b, "ROW FORMAT SERDE '%s'\nSTORED AS INPUTFORMAT '%s'\nOUTPUTFORMAT '%s'\n", st.SerDe, st.InputFormat, st.OutputFormat)
	fmt.Fprintf(&b, "LOCATION '%s'\nTBLPROPERTIES (\n  'classification' = '%s'\n);\n", CurrentTableLocation(o.Location, CurrentName(table)), st.Classification)
	return b.String()
}

// AllCurrentViewQuery is the SELECT behind findings_all_current:
// findings_all's mapping (AllFindingsColumns) over the two current tables,
// without dt, which they do not have.
func AllCurrentViewQuery(o DDLOptions) string {
	return allFindingsQuery(o, FindingsCurrentName, OCSFFindingsCurrentName, false)
}

// DuckDBCurrentStatements returns the DuckDB statements that make a current
// table queryable under its name from the lake root (a directory or, with
// the httpfs extension, s3://bucket/prefix): a variable holding the
// objects its symlink manifest lists, read once, and a view reading them.
// DuckDB takes no subquery in a table function's arguments, hence the
// variable; run the SET again to see a newer snapshot (an old snapshot's
// objects are deleted after the refresh's --delete-grace).
// hive_partitioning is off: the snapshot=<id> folder is no column.
func DuckDBCurrentStatements(root, table string) []string {
	v := table + "_objects"
	return []string{
		fmt.Sprintf(`SET VARIABLE %s = (SELECT list(f) FILTER (f <> '') FROM (SELECT unnest(string_split(content, chr(10))) AS f FROM read_text('%s')))`,
			v, CurrentManifestURL(root, table)),
		fmt.Sprintf(`CREATE OR REPLACE VIEW "%s" AS SELECT * FROM read_parquet(getvariable('%s'), hive_partitioning = false)`, table, v),
	}
}
