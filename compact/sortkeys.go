package compact

import (
	"fmt"

	"github.com/parquet-go/parquet-go"

	"github.com/hublake/hublake/schema"
)

// SortKeys are the columns compacted objects are sorted by, per table: the
// one line to add for a new table (a table without a line is compacted in
// input order, which is still correct, only less prunable). Compaction is
// otherwise generic over schema.AllTables: a new Parquet table's rows are
// read and written with its schema, and every other part (keys, markers,
// manifests, locks) comes from the table's name.
//
// Sorting lets Athena (and DuckDB) skip row groups by their min/max
// statistics, so the keys are columns that have statistics (not
// schema.Table.BigText), low-cardinality ones first. The choice for findings
// was measured on a generated day with the typical queries of README.md;
// BENCHMARKS.md ("Sort keys") has the figures.
var SortKeys = map[string][]string{
	schema.TableFindings: {"severity_label", "product_name", "compliance_security_control_id", "aws_account_id", "updated_at"},
	// An insight's results stay together (they share the event's raw_detail,
	// which then compresses as in the writer's objects).
	schema.TableInsightResults: {"insight_arn", "event_time"},
	// As findings, in OCSF's names.
	schema.TableOCSFFindings: {"severity", "product_name", "compliance_control", "account_uid", "modified_time"},
}

// sortColumn is one sort key resolved against a table's schema.
type sortColumn struct {
	name    string
	index   int // leaf column index in a row
	compare func(a, b parquet.Value) int
}

// sortColumns resolves keys against s: each must be a top-level,
// non-repeated leaf column, so that a row holds exactly one value of it.
func sortColumns(s *parquet.Schema, keys []string) ([]sortColumn, error) {
	var out []sortColumn
	for _, k := range keys {
		leaf, ok := s.Lookup(k)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			return nil, fmt.Errorf("sort key %q is not a top-level column of %s", k, s.Name())
		}
		out = append(out, sortColumn{name: k, index: leaf.ColumnIndex, compare: parquet.CompareNullsLast(leaf.Node.Type().Compare)})
	}
	return out, nil
}

// sortingColumns declares a compacted object's order in its row groups'
// sorting_columns: ascending, NULLs last (parquet.CompareNullsLast, as the
// merge sorts). A table without sort keys declares none.
func sortingColumns(table string) parquet.WriterOption {
	var cols []parquet.SortingColumn
	for _, k := range SortKeys[table] {
		cols = append(cols, parquet.Ascending(k))
	}
	return parquet.SortingWriterConfig(parquet.SortingColumns(cols...))
}
