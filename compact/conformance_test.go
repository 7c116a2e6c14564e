package compact

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/internal/pqconform"
	"github.com/hublake/hublake/layout"
)

// TestCompactParquetConformance compacts a lake of many small objects (a
// generated corpus and pqconform's edge events, in batches of 20 units) and
// holds the compacted objects to pqconform.CheckLake: what they say of
// themselves, two independent readers, page-index lookups, rows against
// their raw_finding, and the sort order they declare (sorting_columns,
// which must be there and true).
func TestCompactParquetConformance(t *testing.T) {
	t.Parallel()
	src := corpus(t, 1200, 2, past, 0)
	pqconform.WriteEdgeCorpus(t, src, past)
	root := filepath.Join(t.TempDir(), "lake")
	lk := backfill(t, root, src, 20, nil)
	db := lakecheck.Open(t)
	before := lakecheck.LakeDigest(t, db, root)
	run(t, lk, Options{})
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}
	compacted := func(path string) bool {
		_, _, ok := layout.ParseCompactedName(strings.TrimSuffix(filepath.Base(path), ".parquet"))
		return ok
	}
	rep := pqconform.CheckLake(t, root, pqconform.LakeOptions{Sorted: compacted})
	t.Logf("%d objects, %d rows, %d lookups, %d multi-page chunks", rep.Files, rep.Rows, rep.Probes, rep.MultiPage)
}
