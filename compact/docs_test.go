package compact

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/encode"
)

// TestGraceDocumented: docs/operating.md, docs/design.md and the package
// documentation state the delete grace's default and bound, and how long a
// rolled-back run's record is kept, as the code has them.
func TestGraceDocumented(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	operating := read(filepath.Join("..", "docs", "operating.md"))
	design := read(filepath.Join("..", "docs", "design.md"))
	doc := strings.ReplaceAll(read("doc.go"), " // ", " ")
	grace := fmt.Sprintf("`--delete-grace` (default `%ds`; at most an hour)", DefaultDeleteGrace/time.Second)
	if !strings.Contains(operating, grace) {
		t.Errorf("docs/operating.md does not state %q", grace)
	}
	if want := "a larger `--delete-grace` (at most an hour)"; !strings.Contains(design, want) {
		t.Errorf("docs/design.md does not state %q", want)
	}
	if encode.MaxDeleteGrace != time.Hour || rolledBackKeep != time.Hour {
		t.Errorf("the docs and doc.go say an hour for MaxDeleteGrace (%s) and rolledBackKeep (%s)", encode.MaxDeleteGrace, rolledBackKeep)
	}
	for _, want := range []string{"older than encode.MaxDeleteGrace (an hour)", "while the record lasts: an hour"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc.go does not state %q", want)
		}
	}
	if !strings.Contains(operating, "is visited for an hour") {
		t.Error("docs/operating.md does not say how long a rolled-back run's partition is visited")
	}
}
