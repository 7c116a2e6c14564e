package extsort

import (
	"fmt"
	"sort"

	"github.com/parquet-go/parquet-go"
)

// Keyer extracts a row's sort key and compares keys: the order a Sorter
// sorts by. Columns is the Keyer of a table's sort keys; package current
// has one of its own (the latest views' key and ordering).
type Keyer interface {
	// Key returns row's sort key values; with clone, copies that do not
	// point into the row.
	Key(row parquet.Row, clone bool) []parquet.Value
	// Compare compares two keys Key returned.
	Compare(a, b []parquet.Value) int
}

// Column is one sort key resolved against a table's schema: ascending,
// NULLs last.
type Column struct {
	Name    string
	Index   int // leaf column index in a row
	compare func(a, b parquet.Value) int
}

// Columns are sort keys resolved against a table's schema (ResolveColumns):
// the Keyer of compaction's order, each column ascending, NULLs last.
type Columns []Column

// ResolveColumns resolves keys against s: each must be a top-level,
// non-repeated leaf column, so that a row holds exactly one value of it.
func ResolveColumns(s *parquet.Schema, keys []string) (Columns, error) {
	var out Columns
	for _, k := range keys {
		leaf, ok := s.Lookup(k)
		if !ok || leaf.MaxRepetitionLevel > 0 || !leaf.Node.Leaf() {
			return nil, fmt.Errorf("sort key %q is not a top-level column of %s", k, s.Name())
		}
		out = append(out, Column{Name: k, Index: leaf.ColumnIndex, compare: parquet.CompareNullsLast(leaf.Node.Type().Compare)})
	}
	return out, nil
}

// SortingColumns declares an object's order by keys in its row groups'
// sorting_columns: ascending, NULLs last (parquet.CompareNullsLast, as
// Columns sort). A table without sort keys declares none.
func SortingColumns(keys []string) parquet.WriterOption {
	var cols []parquet.SortingColumn
	for _, k := range keys {
		cols = append(cols, parquet.Ascending(k))
	}
	return parquet.SortingWriterConfig(parquet.SortingColumns(cols...))
}

// Value returns row's value of the top-level leaf column index (values are
// in column order; a top-level column has one value), and false when the
// row has none.
func Value(row parquet.Row, index int) (parquet.Value, bool) {
	j := sort.Search(len(row), func(j int) bool { return row[j].Column() >= index })
	if j < len(row) && row[j].Column() == index {
		return row[j], true
	}
	return parquet.Value{}, false
}

// Key implements Keyer.
func (k Columns) Key(row parquet.Row, clone bool) []parquet.Value {
	if len(k) == 0 {
		return nil
	}
	out := make([]parquet.Value, len(k))
	for i, c := range k {
		if v, ok := Value(row, c.Index); ok {
			out[i] = v
			if clone { // the key outlives the row it was read from
				out[i] = v.Clone()
			}
		}
	}
	return out
}

// Compare implements Keyer.
func (k Columns) Compare(a, b []parquet.Value) int {
	for i, c := range k {
		if d := c.compare(a[i], b[i]); d != 0 {
			return d
		}
	}
	return 0
}
