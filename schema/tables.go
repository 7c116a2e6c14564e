package schema

import (
	"slices"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Table names, as they appear in object keys and DDL.
const (
	TableFindings       = "findings"
	TableInsightResults = "insight_results"
	TableOCSFFindings   = "ocsf_findings"
	TableDeadLetters    = "dead_letters"
)

// Table describes one table of the lake. The list returned by AllTables is
// the one place a table is declared: object keys and extensions (package lake's
// layout), the Parquet writer's schema and statistics settings, the stores'
// key checks and the DDL all read it.
type Table struct {
	// Name is the table's directory under the lake root and its name in
	// Athena and Glue.
	Name string
	// Parquet is true for the queryable tables (one Parquet schema from a Go
	// row type); dead letters are gzipped JSON lines.
	Parquet bool
	// BigText lists the columns whose values are JSON documents: bounds on
	// them would all read '{"…' and help no query, so files give them none
	// (no ColumnIndex, no row-group min/max; null counts only). Every other
	// column has true bounds (encode's finisher; BENCHMARKS.md, "Page index
	// and statistics"). Paths are Parquet column paths.
	BigText [][]string

	row any // a zero row of the table's Go type (nil for dead letters)
}

// AllTables returns every table that has objects in the lake, the dead
// letters last, in a stable order.
func AllTables() []Table {
	return []Table{
		{
			Name: TableFindings, Parquet: true, row: Finding{},
			BigText: [][]string{{"raw_finding"}, {"resources", "list", "element", "details_json"}},
		},
		{
			Name: TableInsightResults, Parquet: true, row: InsightResult{},
			BigText: [][]string{{"raw_detail"}},
		},
		{
			Name: TableOCSFFindings, Parquet: true, row: OCSFFinding{},
			BigText: [][]string{
				{"raw_finding"}, {"evidences_json"}, {"unmapped_json"}, {"resources", "list", "element", "data_json"},
			},
		},
		{Name: TableDeadLetters},
	}
}

// Tables returns the names of the queryable (Parquet) tables, in a stable
// order.
func Tables() []string {
	var out []string
	for _, t := range AllTables() {
		if t.Parquet {
			out = append(out, t.Name)
		}
	}
	return out
}

// LookupTable returns the table called name.
func LookupTable(name string) (Table, bool) {
	all := AllTables()
	i := slices.IndexFunc(all, func(t Table) bool { return t.Name == name })
	if i < 0 {
		return Table{}, false
	}
	return all[i], true
}

// Schema returns the Parquet schema of the table's files: the one the writer
// uses and the one the DDL is derived from. It is nil for dead letters.
func (t Table) Schema() *parquet.Schema {
	if t.row == nil {
		return nil
	}
	return parquet.SchemaOf(t.row)
}

// ParquetSchema returns the Parquet schema of a queryable table. It panics on
// a name that is not one (a programming error).
func ParquetSchema(table string) *parquet.Schema {
	t, ok := LookupTable(table)
	if !ok || !t.Parquet {
		panic("schema: unknown table " + table)
	}
	return t.Schema()
}

// BigTextColumns returns the BigText columns of table (see Table).
func BigTextColumns(table string) [][]string {
	t, _ := LookupTable(table)
	return t.BigText
}

// The dt partition range: Athena's partition projection reads 2015-01-01
// (Security Hub did not exist before) to one day after now, and a row whose
// date lies outside it is not usable (Athena would never read it). Every
// bound in the code derives from these two values.
const (
	// PartitionRangeStart is the first dt, as the projection writes it.
	PartitionRangeStart = "2015-01-01"
	// PartitionRangeAhead is how far after now (or after a record's arrival
	// in the stream) the last dt lies.
	PartitionRangeAhead = 24 * time.Hour
	// UndatedPartition is the dt of dead letters that carry no usable time
	// at all (for example a line of a file that is not JSON). It is outside
	// the projection range on purpose: such records are not table rows.
	UndatedPartition = "1970-01-01"
)

// NotAfter returns the last acceptable partition time for data read at t
// (see Origin.NotAfter).
func NotAfter(t time.Time) time.Time { return t.UTC().Add(PartitionRangeAhead) }

// ProjectionRange is the projection.dt.range table property.
func ProjectionRange() string {
	return PartitionRangeStart + ",NOW+" + strconv.Itoa(int(PartitionRangeAhead/(24*time.Hour))) + "DAYS"
}
