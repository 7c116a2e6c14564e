package compact

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/lakecheck"
	"github.com/hublake/hublake/layout"
)

// TestCompactRemovesLateOutputs: a run killed while its outputs were on the
// way is rolled back by the next one, which compacts the partition anew
// (with an object that arrived meanwhile: another run id). An output of the
// dead run that lands after the rollback (an upload held up on the way) is
// not a stranger's object kept for ever, its rows there twice: the record of
// the rollback sends the next run to the partition, which removes it. The
// record is forgotten once no upload can land any more, and the partition
// then costs nothing again.
func TestCompactRemovesLateOutputs(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 300, 1, 20)
	part := parts[0]
	dt := dateOf(part)
	batches, _ := filepath.Glob(filepath.Join(part, "*.parquet"))
	late, err := os.ReadFile(batches[0]) // rows the lake holds already
	if err != nil {
		t.Fatal(err)
	}
	var dead string
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				panic(r)
			}
		}()
		_, _ = Run(context.Background(), lk, Options{Tables: []string{"findings"}, DeleteGrace: -1, CrashHook: func(p string) {
			if p == "after-manifest" {
				ms, _ := filepath.Glob(filepath.Join(root, "_hublake", "compactions", "findings", "dt="+dt, "*.json"))
				dead = strings.TrimSuffix(filepath.Base(ms[0]), ".json")
				panic(errCrash)
			}
		}})
	}()
	// An object arrives: the next run's inputs, hence its id, differ.
	if err := os.WriteFile(filepath.Join(part, "zz-late-batch.parquet"), late, 0o644); err != nil {
		t.Fatal(err)
	}
	db := lakecheck.Open(t)
	sum := run(t, lk, Options{Tables: []string{"findings"}})
	if sum.Recovered != 1 || sum.Compacted != 1 {
		t.Fatalf("the run after the kill: %+v", sum)
	}
	record, _ := layout.RolledBackKey("findings", dt, dead)
	if _, err := lk.Stat(context.Background(), record); err != nil {
		t.Errorf("no record of the rollback: %v", err)
	}
	before := lakecheck.LakeDigest(t, db, root)

	// The dead run's upload lands.
	lateKey, _ := layout.ObjectKey("findings", dt, layout.CompactedName(dead, 0))
	if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(lateKey)), late, 0o644); err != nil {
		t.Fatal(err)
	}
	sum = run(t, lk, Options{Tables: []string{"findings"}})
	if sum.Recovered != 1 || sum.Unrecognised != 0 {
		t.Errorf("the run after the late upload: %+v", sum)
	}
	if _, err := lk.Stat(context.Background(), lateKey); err == nil {
		t.Error("the late output is still there")
	}
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}

	// An hour on, the record goes, and the partition is left alone again.
	p := filepath.Join(root, filepath.FromSlash(record))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m := &manifest{}
	if err := json.Unmarshal(b, m); err != nil {
		t.Fatal(err)
	}
	old := m.RolledBack.Add(-rolledBackKeep - time.Minute).Format(time.RFC3339Nano)
	b = bytes.Replace(b, []byte(m.RolledBack.Format(time.RFC3339Nano)), []byte(old), 1)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, lk, Options{Tables: []string{"findings"}})
	if _, err := lk.Stat(context.Background(), record); err == nil {
		t.Error("the record outlived its keep")
	}
	if sum := run(t, lk, Options{Tables: []string{"findings"}}); sum.UpToDate != sum.Partitions {
		t.Errorf("a partition was visited again: %+v", sum)
	}
}

// TestCompactLateCommitAfterRollback: a run's commit (its manifest's PUT,
// state committed) held up on the way lands after the next run rolled the
// run back (deleted its outputs) and left the inputs alone (here: too
// recent for it). The run after that must not finish the resurrected run —
// that would delete inputs whose rows are in no output — but roll it back
// again, and then compact the partition with every row kept.
func TestCompactLateCommitAfterRollback(t *testing.T) {
	t.Parallel()
	root, lk, parts := newLake(t, 300, 1, 20)
	dt := dateOf(parts[0])
	db := lakecheck.Open(t)
	before := lakecheck.LakeDigest(t, db, root)

	// A run dies right after its commit; its committed manifest is what
	// the late PUT will carry.
	var manifestPath string
	var committed []byte
	func() {
		defer func() {
			if r := recover(); r != errCrash {
				panic(r)
			}
		}()
		_, _ = Run(context.Background(), lk, Options{Tables: []string{"findings"}, DeleteGrace: -1, CrashHook: func(p string) {
			if p != "after-commit" {
				return
			}
			ms, _ := filepath.Glob(filepath.Join(root, "_hublake", "compactions", "findings", "dt="+dt, "*.json"))
			manifestPath = ms[0]
			var err error
			if committed, err = os.ReadFile(manifestPath); err != nil {
				t.Error(err)
			}
			panic(errCrash)
		}})
	}()
	if !bytes.Contains(committed, []byte(`"committed"`)) {
		t.Fatalf("the manifest at the commit: %s", committed)
	}
	// As the lake would be had the commit not landed yet: pending.
	pending := bytes.Replace(committed, []byte(`"committed"`), []byte(`"pending"`), 1)
	if err := os.WriteFile(manifestPath, pending, 0o644); err != nil {
		t.Fatal(err)
	}
	// The next run rolls it back and compacts nothing (its inputs are too
	// recent for it).
	if sum := run(t, lk, Options{Tables: []string{"findings"}, OlderThan: 24 * time.Hour}); sum.Recovered != 1 || sum.Compacted != 0 {
		t.Fatalf("the run that rolled back: %+v", sum)
	}
	// The held-up commit lands.
	if err := os.WriteFile(manifestPath, committed, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := run(t, lk, Options{Tables: []string{"findings"}})
	if sum.Recovered != 1 || sum.Compacted != 1 {
		t.Errorf("the run after the late commit: %+v", sum)
	}
	if got := lakecheck.LakeDigest(t, db, root); !reflect.DeepEqual(got, before) {
		t.Fatalf("rows changed:\nbefore %v\nafter  %v", before, got)
	}
}
