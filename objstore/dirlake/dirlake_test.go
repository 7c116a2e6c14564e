package dirlake_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/encode"
	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore/dirlake"
	"github.com/hublake/hublake/schema"
)

// TestDirCleanTemp: a temporary file a live writer holds is never removed,
// however old; a dead writer's is, once older than the minimum age; a
// young one is left. A writer whose file was removed while it was paused
// fails its commit (the batch is written again), it does not publish a
// partial object.
func TestDirCleanTemp(t *testing.T) {
	t.Parallel()
	d, err := dirlake.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prefix := layout.PartitionPrefix("findings", "2024-01-02")
	live, err := d.Create(ctx, prefix+"live.parquet")
	if err != nil {
		t.Fatal(err)
	}
	live.Write([]byte("half"))
	dir := filepath.Join(dirlake.Root(d), filepath.FromSlash(prefix))
	old := time.Now().Add(-time.Hour)
	dead := filepath.Join(dir, ".dead.parquet.tmp-1")
	young := filepath.Join(dir, ".young.parquet.tmp-2")
	for _, p := range []string{dead, young} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	temps, _ := filepath.Glob(filepath.Join(dir, ".*"))
	for _, p := range temps {
		if p != young {
			os.Chtimes(p, old, old)
		}
	}
	n, err := d.CleanTemp(ctx, prefix, time.Minute)
	if err != nil || n != 1 {
		t.Fatalf("CleanTemp = %d, %v; want the dead writer's file only", n, err)
	}
	if _, err := os.Stat(dead); err == nil {
		t.Error("the dead writer's file is still there")
	}
	if _, err := os.Stat(young); err != nil {
		t.Error("the young file was removed")
	}
	if err := live.Commit(); err != nil {
		t.Fatalf("the live writer's commit: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "live.parquet")); string(b) != "half" {
		t.Errorf("the live writer's object holds %q", b)
	}

	paused, err := d.Create(ctx, prefix+"paused.parquet")
	if err != nil {
		t.Fatal(err)
	}
	tmp, _ := filepath.Glob(filepath.Join(dir, ".paused.parquet.tmp-*"))
	os.Remove(tmp[0]) // as a cleaner would have, had the writer not locked it yet
	if err := paused.Commit(); err == nil {
		t.Error("a writer whose temporary file was removed committed")
	}
	if _, err := os.Stat(filepath.Join(dir, "paused.parquet")); err == nil {
		t.Error("a partial object was published")
	}
	if _, err := d.CleanTemp(ctx, "findings/", time.Minute); err == nil {
		t.Error("CleanTemp of a table prefix was not refused")
	}
}

// TestDirDeferSync: a store whose durability is deferred commits objects
// the same way (in place, whole, no temporary file left) and makes them
// durable with Sync; the store it came from still syncs every commit.
func TestDirDeferSync(t *testing.T) {
	root := t.TempDir()
	d, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	lazy := d.DeferSync().(*dirlake.Lake)
	if dirlake.DefersSync(d) || !dirlake.DefersSync(lazy) {
		t.Fatalf("DeferSync changed the original store (%v) or not the copy (%v)", dirlake.DefersSync(d), dirlake.DefersSync(lazy))
	}
	ctx := context.Background()
	for i, s := range []*dirlake.Lake{d, lazy} {
		key := fmt.Sprintf("findings/dt=2026-01-01/o%d.parquet", i)
		w, err := s.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if want := s == d; dirlake.SyncsOnCommit(w) != want {
			t.Errorf("store %d: the object syncs on commit: %v, want %v", i, !want, want)
		}
		if _, err := w.Write([]byte("PAR1 body PAR1")); err != nil {
			t.Fatal(err)
		}
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(key)))
		if err != nil || string(b) != "PAR1 body PAR1" {
			t.Fatalf("store %d: object reads %q, %v", i, b, err)
		}
	}
	if err := lazy.Sync(); err != nil {
		t.Fatal(err)
	}
	tmp, _ := filepath.Glob(filepath.Join(root, "findings", "dt=2026-01-01", ".*"))
	if len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestDirRefusesHostileKeys: the directory store refuses every hostile key
// and creates nothing, anywhere under the root's parent.
func TestDirRefusesHostileKeys(t *testing.T) {
	t.Parallel()
	parent := t.TempDir()
	root := filepath.Join(parent, "lake")
	d, err := dirlake.New(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range hostile.Keys {
		if w, err := d.Create(context.Background(), k); err == nil {
			_, _ = w.Write([]byte("escaped"))
			_ = w.Commit()
			t.Errorf("Dir.Create(%q) accepted it", k)
		}
	}
	// The same through the encoder: every hostile dt or name is refused.
	enc := encode.New(d, encode.Options{})
	for _, v := range hostile.NameParts {
		if _, err := enc.WriteDeadLetters(context.Background(), v, "name", []schema.DeadLetter{{Reason: "r", Data: []byte("x")}}); err == nil {
			t.Errorf("WriteDeadLetters(dt=%q) accepted it", v)
		}
		if _, err := encode.WriteTable(context.Background(), enc, schema.Findings, "2024-01-01", v, []schema.Finding{{ID: "i", ProductARN: "p"}}); err == nil && !layout.ValidName(v) {
			t.Errorf("WriteFindings(name=%q) accepted it", v)
		}
	}
	err = filepath.Walk(parent, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, "..") || layout.CheckKey(filepath.ToSlash(rel)) != nil {
			t.Errorf("file outside the lake's layout: %s", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
