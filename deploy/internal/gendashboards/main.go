// Command gendashboards writes the operator's dashboards from
// internal/dashboards: the CloudWatch dashboard body in the CloudFormation
// template (between its marker comments) and the Grafana dashboard JSON:
//
//	go run ./deploy/internal/gendashboards            # rewrite both
//	go run ./deploy/internal/gendashboards -check     # exit 1 when either is stale
//
// `go generate ./deploy/` runs it. deploy/'s tests fail when they are stale.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"github.com/hublake/hublake/internal/dashboards"
)

func main() {
	tpl := flag.String("template", "deploy/cloudformation/hublake.yaml", "the CloudFormation template to update")
	grafana := flag.String("grafana", "deploy/grafana/hublake.json", "the Grafana dashboard to write")
	check := flag.Bool("check", false, "only check that both are up to date")
	flag.Parse()
	if err := run(*tpl, *grafana, *check); err != nil {
		fmt.Fprintln(os.Stderr, "gendashboards:", err)
		os.Exit(1)
	}
}

func run(tplPath, grafanaPath string, check bool) error {
	old, err := os.ReadFile(tplPath)
	if err != nil {
		return err
	}
	updated, err := dashboards.Rewrite(old)
	if err != nil {
		return fmt.Errorf("%s: %w", tplPath, err)
	}
	if err := write(tplPath, old, updated, check); err != nil {
		return err
	}
	oldGrafana, err := os.ReadFile(grafanaPath)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	return write(grafanaPath, oldGrafana, dashboards.Grafana(), check)
}

func write(path string, old, updated []byte, check bool) error {
	if bytes.Equal(old, updated) {
		return nil
	}
	if check {
		return fmt.Errorf("%s differs from internal/dashboards; run `go generate ./deploy/`", path)
	}
	return os.WriteFile(path, updated, 0o644)
}
