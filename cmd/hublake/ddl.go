package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hublake/hublake/schema"
)

type ddlCmd struct {
	Location string `help:"Lake root the tables point at." default:"s3://YOUR-BUCKET/lake"`
	Database string `help:"Database to qualify the table names with (optional)."`
	Format   string `help:"athena: CREATE TABLE and CREATE VIEW statements; cloudformation: the Glue table columns as CloudFormation YAML." default:"athena" enum:"athena,cloudformation"`
	Table    string `help:"With --format cloudformation: the table (findings, insight_results or ocsf_findings)." default:"findings"`
	Indent   int    `help:"With --format cloudformation: indentation of the column list." default:"10"`
}

func (c *ddlCmd) Run(_ context.Context, _ *globals) error {
	if !strings.HasPrefix(c.Location, "s3://") {
		return fmt.Errorf("--location must be s3://bucket/prefix, not %q", c.Location)
	}
	switch c.Format {
	case "cloudformation":
		found := false
		for _, t := range schema.Tables() {
			found = found || t == c.Table
		}
		if !found {
			return fmt.Errorf("unknown table %q", c.Table)
		}
		_, err := os.Stdout.WriteString(schema.GlueColumnsYAML(c.Table, c.Indent))
		return err
	default:
		_, err := os.Stdout.WriteString(schema.AthenaDDL(schema.DDLOptions{Location: c.Location, Database: c.Database}))
		return err
	}
}
