package compact

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/lake"
)

// TestGraceDocumented: the README and the package documentation state the
// delete grace's default and bound, and how long a rolled-back run's record
// is kept, as the code has them.
func TestGraceDocumented(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(strings.Fields(string(b)), " ")
	}
	readme := read(filepath.Join("..", "README.md"))
	doc := strings.ReplaceAll(read("doc.go"), " // ", " ")
	grace := fmt.Sprintf("`--delete-grace` (%d s, at most %d h)", DefaultDeleteGrace/time.Second, lake.MaxDeleteGrace/time.Hour)
	if !strings.Contains(readme, grace) {
		t.Errorf("README.md does not state %q", grace)
	}
	if lake.MaxDeleteGrace != time.Hour || rolledBackKeep != time.Hour {
		t.Errorf("README.md and doc.go say an hour for MaxDeleteGrace (%s) and rolledBackKeep (%s)", lake.MaxDeleteGrace, rolledBackKeep)
	}
	for _, want := range []string{"older than lake.MaxDeleteGrace (an hour)", "while the record lasts: an hour"} {
		if !strings.Contains(doc, want) {
			t.Errorf("doc.go does not state %q", want)
		}
	}
	if !strings.Contains(readme, "is visited for an hour") {
		t.Error("README.md does not say how long a rolled-back run's partition is visited")
	}
}
