package current

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/files"
	"github.com/hublake/hublake/internal/gen"
	"github.com/hublake/hublake/internal/pqconform"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/pipeline"
)

// TestCurrentParquetConformance refreshes the current tables of a lake of
// many small objects (a generated corpus and pqconform's edge events) and
// holds the snapshots' objects to pqconform.CheckLake: what they say of
// themselves, two independent readers, page-index lookups, rows against
// their raw_finding, and the sort order they declare.
func TestCurrentParquetConformance(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	src := filepath.Join(t.TempDir(), "corpus")
	cfg := gen.DefaultConfig()
	cfg.Bytes, cfg.Events, cfg.Days, cfg.End = 0, 600, 2, end
	if _, err := gen.WriteDir(ctx, src, cfg, gen.WriteOptions{FileBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	pqconform.WriteEdgeCorpus(t, src, end)
	root := filepath.Join(t.TempDir(), "lake")
	lk, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	err = files.Backfill(ctx, files.Inputs(ctx, []string{src}, nil, nil), files.BackfillOptions{
		Policy: pipeline.Policy{MaxUnits: 20}, Store: lk, Encode: encode.Options{}, NotAfter: time.Now().Add(48 * time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	sums, err := Run(ctx, lk, Options{DeleteGrace: -1, Retention: Retention{None: true}, TargetSize: 512 << 10, Now: func() time.Time { return end }})
	if err != nil {
		t.Fatal(err)
	}
	// The snapshots' objects, laid out as a lake's tables for CheckLake.
	check := filepath.Join(t.TempDir(), "check")
	for _, s := range sums {
		for _, f := range (&refresher{lake: lk}).mustObjects(t, s.Table, s.Snapshot) {
			dst := filepath.Join(check, s.Table, "dt=2026-11-01", filepath.Base(filepath.Dir(f))+"-"+filepath.Base(f))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(f, dst); err != nil {
				t.Fatal(err)
			}
		}
	}
	rep := pqconform.CheckLake(t, check, pqconform.LakeOptions{Sorted: func(string) bool { return true }})
	t.Logf("%d objects, %d rows, %d lookups, %d multi-page chunks", rep.Files, rep.Rows, rep.Probes, rep.MultiPage)
}

// mustObjects returns the local paths of the objects of a committed
// snapshot.
func (r *refresher) mustObjects(t *testing.T, table, id string) []string {
	t.Helper()
	key, err := layout.RefreshKey(table, id)
	if err != nil {
		t.Fatal(err)
	}
	m, err := readManifest(context.Background(), r.lake, key, table)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, o := range m.Objects {
		out = append(out, r.lake.URL(o.Key))
	}
	if len(out) == 0 {
		t.Fatalf("%s: an empty snapshot", table)
	}
	return out
}
