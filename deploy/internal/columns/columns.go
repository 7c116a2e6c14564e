// Package columns keeps the parts of the CloudFormation template that are
// derived from the code equal to it: the Glue table columns (from the lake's
// row types, schema.GlueColumnsYAML; a current-state table has its history
// table's) and the saved queries of the views (schema.Views:
// findings_latest, ocsf_findings_latest, findings_all, findings_all_current). The template holds each such
// block between marker comments,
//
//	# BEGIN generated columns: findings
//	...
//	# END generated columns: findings
//
// and Rewrite regenerates what is between the markers.
package columns

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strings"

	"github.com/hublake/hublake/schema"
)

// The marker lines. The indentation of the BEGIN line is the indentation of
// the generated YAML.
var (
	beginRE = regexp.MustCompile(`^( *)# BEGIN generated (columns|query): ([a-z_-]+)\s*$`)
	endRE   = regexp.MustCompile(`^ *# END generated (columns|query): ([a-z_-]+)\s*$`)
)

// Queries derived from the views of schema.Views (quoted for Athena's SQL
// engine), by the name their markers use: each view's SELECT and its CREATE
// VIEW statement.
var Queries = map[string]func() string{
	"latest":                   viewQuery(schema.LatestViewName),
	"create-latest-view":       viewDDL(schema.LatestViewName),
	"ocsf-latest":              viewQuery(schema.OCSFLatestViewName),
	"create-ocsf-latest-view":  viewDDL(schema.OCSFLatestViewName),
	"findings-all":             viewQuery(schema.AllFindingsViewName),
	"create-findings-all-view": viewDDL(schema.AllFindingsViewName),

	"findings-all-current":             viewQuery(schema.AllCurrentViewName),
	"create-findings-all-current-view": viewDDL(schema.AllCurrentViewName),
}

// GlueTables are the tables the template declares in Glue: those of
// schema.DDLTables and the current-state tables (schema.CurrentNames).
func GlueTables() []string { return append(schema.DDLTables(), schema.CurrentNames()...) }

// columnsOf returns the Glue columns of a table of GlueTables: a current
// table has its history table's.
func columnsOf(name string) (string, bool) {
	if h, ok := schema.HistoryOf(name); ok {
		return h, true
	}
	for _, t := range schema.DDLTables() {
		if t == name {
			return t, true
		}
	}
	return "", false
}

func view(name string) schema.View {
	for _, v := range schema.Views() {
		if v.Name == name {
			return v
		}
	}
	panic("columns: no view " + name)
}

func viewQuery(name string) func() string {
	return func() string { return view(name).Query(schema.DDLOptions{}) }
}

func viewDDL(name string) func() string {
	return func() string { return strings.TrimSuffix(view(name).DDL(schema.DDLOptions{}), ";\n") }
}

// Block returns the generated YAML of one marked block.
func Block(kind, name string, indent int) (string, error) {
	switch kind {
	case "columns":
		if t, ok := columnsOf(name); ok {
			return schema.GlueColumnsYAML(t, indent), nil
		}
		return "", fmt.Errorf("unknown table %q (tables: %v)", name, GlueTables())
	case "query":
		q, ok := Queries[name]
		if !ok {
			return "", fmt.Errorf("unknown query %q", name)
		}
		pad := strings.Repeat(" ", indent)
		var b strings.Builder
		b.WriteString(pad + "QueryString: |-\n")
		for _, line := range strings.Split(q(), "\n") {
			b.WriteString(pad + "  " + line + "\n")
		}
		return b.String(), nil
	}
	return "", fmt.Errorf("unknown kind %q", kind)
}

// Rewrite returns template with every marked block regenerated. Every table
// of GlueTables must be marked exactly once, and so must every query.
func Rewrite(template []byte) ([]byte, error) {
	var out bytes.Buffer
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(template))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	open := "" // "kind: name" of the block we are in
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if open != "" {
			if m := endRE.FindStringSubmatch(line); m != nil {
				if id := m[1] + ": " + m[2]; id != open {
					return nil, fmt.Errorf("line %d: END marker of %q inside the block of %q", n, id, open)
				}
				open = ""
				out.WriteString(line + "\n")
			}
			continue // the old generated lines are dropped
		}
		if m := beginRE.FindStringSubmatch(line); m != nil {
			id := m[2] + ": " + m[3]
			if seen[id] {
				return nil, fmt.Errorf("line %d: %q marked twice", n, id)
			}
			block, err := Block(m[2], m[3], len(m[1]))
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
			seen[id] = true
			open = id
			out.WriteString(line + "\n")
			out.WriteString(block)
			continue
		}
		if m := endRE.FindStringSubmatch(line); m != nil {
			return nil, fmt.Errorf("line %d: END marker of %q without BEGIN", n, m[1]+": "+m[2])
		}
		out.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if open != "" {
		return nil, fmt.Errorf("no END marker for %q", open)
	}
	for _, t := range GlueTables() {
		if !seen["columns: "+t] {
			return nil, fmt.Errorf("no generated column block for table %q", t)
		}
	}
	for q := range Queries {
		if !seen["query: "+q] {
			return nil, fmt.Errorf("no generated block for query %q", q)
		}
	}
	return out.Bytes(), nil
}
