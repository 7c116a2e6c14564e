package compact

// Compaction sorts a Parquet table's rows by the table's sort keys (schema's
// declaration of it, Table.sortKeys: BENCHMARKS.md, "Sort keys", has the
// study behind the findings' keys); it is otherwise generic over
// schema.Tables: a table's rows are read and written with its schema, and
// every other part (keys, markers, manifests, locks) comes from the table's
// name.

import (
	"fmt"

	"github.com/parquet-go/parquet-go"
)

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

// sortingColumns declares a compacted object's order by keys in its row
// groups' sorting_columns: ascending, NULLs last (parquet.CompareNullsLast,
// as the merge sorts). A table without sort keys declares none.
func sortingColumns(keys []string) parquet.WriterOption {
	var cols []parquet.SortingColumn
	for _, k := range keys {
		cols = append(cols, parquet.Ascending(k))
	}
	return parquet.SortingWriterConfig(parquet.SortingColumns(cols...))
}
