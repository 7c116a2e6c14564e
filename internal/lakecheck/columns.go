package lakecheck

import (
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/hublake/hublake/schema"
)

// Columns are the top-level columns of a table's files, from the Parquet
// schema of its row type (not a list written by hand: a column added to the
// row type is a column every read-back compares, and one Expected* does not
// compute fails the comparison).
func Columns(table string) []string {
	var out []string
	for _, f := range schema.ParquetSchema(table).Fields() {
		out = append(out, f.Name())
	}
	return out
}

// Leaves lists every leaf of a table's Parquet schema as a path: struct
// fields joined by ".", a list's element as "[]", a map as "{}" (a map of
// strings is one leaf). For example "vulnerabilities[].cvss[].base_score".
func Leaves(table string) []string {
	var out []string
	var walk func(n parquet.Node, path string)
	walk = func(n parquet.Node, path string) {
		if lt := n.Type().LogicalType(); lt != nil {
			switch lt.Value.(type) {
			case *format.ListType:
				walk(n.Fields()[0].Fields()[0], path+"[]")
				return
			case *format.MapType:
				out = append(out, path+"{}")
				return
			}
		}
		if n.Leaf() {
			out = append(out, path)
			return
		}
		for _, f := range n.Fields() {
			p := f.Name()
			if path != "" {
				p = path + "." + p
			}
			walk(f, p)
		}
	}
	walk(schema.ParquetSchema(table), "")
	return out
}

// Covered adds to seen the path (as Leaves writes them) of every value that
// is set in row: not NULL, and for maps not empty. A leaf that no expected
// row sets is one the comparison never tests.
func Covered(row map[string]any, seen map[string]bool) {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case nil:
		case map[string]any:
			for k, e := range x {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(e, p)
			}
		case []any:
			for _, e := range x {
				walk(e, path+"[]")
			}
		case map[string]string:
			if len(x) > 0 {
				seen[path+"{}"] = true
			}
		default:
			seen[path] = true
		}
	}
	walk(row, "")
}

// Uncovered returns the leaves of table that no row in rows sets.
func Uncovered(table string, rows []map[string]any) []string {
	seen := map[string]bool{}
	for _, r := range rows {
		Covered(r, seen)
	}
	var out []string
	for _, l := range Leaves(table) {
		if !seen[l] {
			out = append(out, l)
		}
	}
	return out
}
