package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hublake/hublake/processor"
)

// TestMemoryBudgetDocumented: the README and the flag help state the
// formula processor.MemoryBudget computes, with its constants.
func TestMemoryBudgetDocumented(t *testing.T) {
	perBatch := fmt.Sprintf("%d × --flush-bytes + 2 × --max-unit-bytes + %d MiB", processor.BudgetBatchFactor, processor.BudgetBatchFixed>>20)
	base := fmt.Sprintf("plus %d MiB", processor.BudgetBase>>20)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(readme)), " ")
	for _, want := range []string{perBatch, base} {
		if !strings.Contains(text, want) {
			t.Errorf("README.md does not state the memory budget as %q", want)
		}
	}
	p := policyFor(16<<20, 16<<20)
	if got, want := processor.MemoryBudget(2, p), int64(2*(processor.BudgetBatchFactor*16+2*16+processor.BudgetBatchFixed>>20)+processor.BudgetBase>>20)<<20; got != want {
		t.Errorf("MemoryBudget(2, 16 MiB) = %d, want %d as documented", got, want)
	}
	for _, cmd := range []string{"backfill", "consume"} {
		out := helpOf(t, cmd)
		want := fmt.Sprintf("(%d × this + 2 × --max-unit-bytes + %d MiB) + %d MiB", processor.BudgetBatchFactor, processor.BudgetBatchFixed>>20, processor.BudgetBase>>20)
		if !strings.Contains(strings.Join(strings.Fields(out), " "), want) {
			t.Errorf("hublake %s --help does not state the memory budget as %q:\n%s", cmd, want, out)
		}
	}
}

func policyFor(batch, unit int64) processor.Policy {
	return processor.Policy{MaxBytes: batch, MaxUnitBytes: unit}
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
