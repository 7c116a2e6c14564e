// Command gencolumns regenerates the parts of the CloudFormation template
// that come from the code: the Glue table columns (schema.Columns) and the
// saved queries of the views of schema.Views (see package columns):
//
//	go run ./deploy/internal/gencolumns            # rewrite deploy/cloudformation/hublake.yaml
//	go run ./deploy/internal/gencolumns -check     # exit 1 when the template is stale
//
// `go generate ./deploy/` runs it. deploy/'s tests fail when the template
// and the code disagree.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/hublake/hublake/deploy/internal/columns"
)

func main() {
	path := flag.String("template", "deploy/cloudformation/hublake.yaml", "the CloudFormation template to update")
	check := flag.Bool("check", false, "only check that the template is up to date")
	flag.Parse()
	if err := run(*path, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gencolumns:", err)
		os.Exit(1)
	}
}

func run(path string, check bool) error {
	old, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated, err := columns.Rewrite(old)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if bytes.Equal(old, updated) {
		return nil
	}
	if check {
		return fmt.Errorf("%s: the generated Glue columns or queries differ from the schema package; run `go generate ./deploy/`", path)
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, updated, info.Mode().Perm())
}
