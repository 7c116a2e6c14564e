package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hublake/hublake/pipeline"
)

// TestMemoryBudgetDocumented: docs/operating.md and the flag help state the
// formula pipeline.MemoryBudget computes, with its constants (every other
// statement of it in the docs: TestDocsMemoryFormula).
func TestMemoryBudgetDocumented(t *testing.T) {
	formula := fmt.Sprintf("(%d × max(--flush-bytes, --max-unit-bytes) + 2 × --max-unit-bytes + %d MiB) + %d MiB", pipeline.BudgetBatchFactor, pipeline.BudgetBatchFixed>>20, pipeline.BudgetBase>>20)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "operating.md"))
	if err != nil {
		t.Fatal(err)
	}
	if text := strings.Join(strings.Fields(string(doc)), " "); !strings.Contains(text, formula) {
		t.Errorf("docs/operating.md does not state the memory budget as %q", formula)
	}
	p := policyFor(16<<20, 16<<20)
	if got, want := pipeline.MemoryBudget(2, p), int64(2*(pipeline.BudgetBatchFactor*16+2*16+pipeline.BudgetBatchFixed>>20)+pipeline.BudgetBase>>20)<<20; got != want {
		t.Errorf("MemoryBudget(2, 16 MiB) = %d, want %d as documented", got, want)
	}
	for _, cmd := range []string{"backfill", "consume"} {
		out := helpOf(t, cmd)
		want := fmt.Sprintf("(%d × this + 2 × --max-unit-bytes + %d MiB) + %d MiB", pipeline.BudgetBatchFactor, pipeline.BudgetBatchFixed>>20, pipeline.BudgetBase>>20)
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("hublake %s --help does not state the memory budget as %q:\n%s", cmd, want, out)
		}
	}
}

func policyFor(batch, unit int64) pipeline.Policy {
	return pipeline.Policy{MaxBytes: batch, MaxUnitBytes: unit}
}

// helpOf returns what `hublake <cmd> --help` prints.
func helpOf(t *testing.T, cmd string) string {
	t.Helper()
	out, err := exec.Command(hublakeBin, cmd, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("hublake %s --help: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// TestLicenceTable: hublake has a LICENSE (Apache-2.0), and CONTRIBUTING.md's
// table of dependencies names every direct requirement of go.mod with its
// licence (an AWS SDK module as a part of the SDK's row: `config`,
// `service/s3`).
func TestLicenceTable(t *testing.T) {
	lic, err := os.ReadFile(filepath.Join("..", "..", "LICENSE"))
	if err != nil || !strings.Contains(string(lic), "Apache License") || !strings.Contains(string(lic), "Version 2.0, January 2004") {
		t.Errorf("no Apache License 2.0 in LICENSE: %v", err)
	}
	mod, err := os.ReadFile(filepath.Join("..", "..", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var direct []string
	inRequire := false
	for _, line := range strings.Split(string(mod), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "require ("):
			inRequire = true
		case line == ")":
			inRequire = false
		case inRequire && line != "" && !strings.Contains(line, "// indirect"):
			direct = append(direct, strings.Fields(line)[0])
		}
	}
	contributing, err := os.ReadFile(filepath.Join("..", "..", "CONTRIBUTING.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, deps, ok := strings.Cut(string(contributing), "## Dependencies\n")
	if !ok {
		t.Fatal("CONTRIBUTING.md has no Dependencies section")
	}
	var rows [][]string
	for _, line := range strings.Split(deps, "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if !strings.HasPrefix(line, "| `") || len(cells) != 3 {
			continue
		}
		if strings.TrimSpace(cells[2]) == "" {
			t.Errorf("CONTRIBUTING.md: no licence for %s", cells[0])
		}
		rows = append(rows, cells)
	}
	const sdk = "github.com/aws/aws-sdk-go-v2"
	for _, m := range direct {
		found := false
		for _, r := range rows {
			found = found || strings.Contains(r[0], "`"+m+"`") ||
				strings.HasPrefix(m, sdk+"/") && strings.Contains(r[0], "`"+sdk+"`") && strings.Contains(r[0], "`"+strings.TrimPrefix(m, sdk+"/")+"`")
		}
		if !found {
			t.Errorf("CONTRIBUTING.md's table of dependencies does not name %s (a direct requirement of go.mod) and its licence", m)
		}
	}
	if len(direct) < 20 {
		t.Errorf("read only %d direct requirements from go.mod", len(direct))
	}
}
