package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/schema"
)

type ddlCmd struct {
	Location string `help:"Lake root the tables point at." default:"s3://your-bucket/lake"`
	Database string `help:"Database to qualify the table names with (optional)."`
	Format   string `help:"athena: CREATE TABLE and CREATE VIEW statements; cloudformation: the Glue table columns as CloudFormation YAML." default:"athena" enum:"athena,cloudformation"`
	Table    string `help:"With --format cloudformation: the table (findings, insight_results, ocsf_findings, dead_letters, findings_current or ocsf_findings_current)." default:"findings"`
	Indent   int    `help:"With --format cloudformation: indentation of the column list." default:"10"`
}

// Validate checks the location and the table before printing anything.
func (c *ddlCmd) Validate() error {
	if _, _, err := layout.ParseS3URL(c.Location); err != nil {
		return fmt.Errorf("--location must be s3://bucket/prefix: %w", err)
	}
	if tables := append(schema.DDLTables(), schema.CurrentNames()...); !slices.Contains(tables, c.Table) {
		return fmt.Errorf("--table: unknown table %q (tables: %s)", c.Table, strings.Join(tables, ", "))
	}
	return nil
}

func (c *ddlCmd) Run(_ context.Context, _ *globals) error {
	switch c.Format {
	case "cloudformation":
		table := c.Table
		if h, ok := schema.HistoryOf(table); ok {
			table = h // a current-state table has its history table's columns
		}
		_, err := os.Stdout.WriteString(schema.GlueColumnsYAML(table, c.Indent))
		return err
	default:
		_, err := os.Stdout.WriteString(schema.AthenaDDL(schema.DDLOptions{Location: c.Location, Database: c.Database}))
		return err
	}
}
