package sinks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/hublake/hublake/internal/localstack"
	"github.com/hublake/hublake/schema"
)

// lakes returns the stores every Lake test runs against: a directory and
// versitygw (a real S3 server with conditional writes).
func lakes(t *testing.T) map[string]Lake {
	t.Helper()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stack := localstack.Start(t, localstack.Options{S3: true, S3Metadata: true})
	stack.Bucket(t, "lake")
	s := newTestS3(t, stack.S3, "s3://lake/root", S3Options{})
	return map[string]Lake{"dir": d, "versitygw": s}
}

func put(t *testing.T, s Store, key string, data []byte) {
	t.Helper()
	if err := writeObject(context.Background(), s, key, data); err != nil {
		t.Fatalf("write %s: %v", key, err)
	}
}

// TestLakeOperations: Stat, List, Open and Delete do what compaction needs
// on both stores, and refuse keys and prefixes outside the layout.
func TestLakeOperations(t *testing.T) {
	t.Parallel()
	for name, lake := range lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			big := randomBytes(t, 9<<20+12345) // past one whole read: ranged blocks
			put(t, lake, "findings/dt=2024-01-02/b.parquet", big)
			put(t, lake, "findings/dt=2024-01-02/a.parquet", []byte("aaaa"))
			put(t, lake, "findings/dt=2024-01-03/c.parquet", []byte("c"))
			put(t, lake, "insight_results/dt=2024-01-02/d.parquet", []byte("d"))
			put(t, lake, "_hublake/absorbed/findings/dt=2024-01-02/a.parquet", []byte("{}"))

			var keys []string
			for o, err := range lake.List(ctx, "findings/") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, fmt.Sprintf("%s:%d", o.Key, o.Size))
			}
			want := []string{"findings/dt=2024-01-02/a.parquet:4", fmt.Sprintf("findings/dt=2024-01-02/b.parquet:%d", len(big)), "findings/dt=2024-01-03/c.parquet:1"}
			if strings.Join(keys, " ") != strings.Join(want, " ") {
				t.Errorf("List(findings/) = %v, want %v", keys, want)
			}
			for o, err := range lake.List(ctx, AbsorbedPrefix("findings", "2024-01-02")) {
				if err != nil || o.Key != "_hublake/absorbed/findings/dt=2024-01-02/a.parquet" {
					t.Errorf("List(markers) = %v, %v", o.Key, err)
				}
			}

			st, err := lake.Stat(ctx, "findings/dt=2024-01-02/b.parquet")
			if err != nil || st.Size != int64(len(big)) || st.ETag == "" {
				t.Errorf("Stat = %+v, %v", st, err)
			}
			if _, err := lake.Stat(ctx, "findings/dt=2024-01-02/zz.parquet"); !errors.Is(err, ErrNotExist) {
				t.Errorf("Stat of a missing object: %v, want ErrNotExist", err)
			}

			r, err := lake.Open(ctx, "findings/dt=2024-01-02/b.parquet")
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != int64(len(big)) {
				t.Errorf("Size = %d", r.Size())
			}
			for _, at := range []struct{ off, n int }{{0, 10}, {1<<20 - 5, 10}, {8<<20 - 3, 1 << 20}, {len(big) - 7, 7}, {3 << 20, 5 << 20}} {
				p := make([]byte, at.n)
				if n, err := r.ReadAt(p, int64(at.off)); n != at.n || (err != nil && err != io.EOF) || !bytes.Equal(p, big[at.off:at.off+at.n]) {
					t.Errorf("ReadAt(%d, %d) = %d, %v", at.off, at.n, n, err)
				}
			}
			if n, err := r.ReadAt(make([]byte, 10), int64(len(big)-4)); n != 4 || err != io.EOF {
				t.Errorf("ReadAt past the end = %d, %v; want 4, EOF", n, err)
			}
			r.Close()

			if err := lake.Delete(ctx, "findings/dt=2024-01-02/b.parquet"); err != nil {
				t.Fatal(err)
			}
			if err := lake.Delete(ctx, "findings/dt=2024-01-02/b.parquet"); err != nil {
				t.Errorf("deleting an absent object: %v", err)
			}
			if _, err := lake.Open(ctx, "findings/dt=2024-01-02/b.parquet"); !errors.Is(err, ErrNotExist) {
				t.Errorf("Open after Delete: %v", err)
			}
			for _, bad := range []string{"", "/", "../", "findings", "findings/dt=2024-01-02", "findings/dt=../", "_hublake/", "_hublake/locks/findings/", "other/"} {
				for _, err := range lake.List(ctx, bad) {
					if err == nil {
						t.Errorf("List(%q) was not refused", bad)
					}
					break
				}
			}
			for _, k := range hostileKeys {
				if _, err := lake.Open(ctx, k); err == nil {
					t.Errorf("Open(%q) was not refused", k)
				}
				if err := lake.Delete(ctx, k); err == nil {
					t.Errorf("Delete(%q) was not refused", k)
				}
			}
		})
	}
}

// TestLocks: a lock is exclusive; released, it can be taken again; on S3 a
// lock whose holder let it expire is taken over, and the old holder learns
// it when it renews.
func TestLocks(t *testing.T) {
	t.Parallel()
	for name, lake := range lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key, _ := LockKey("findings", "2024-01-02")
			a, err := lake.TryLock(ctx, key, "a", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lake.TryLock(ctx, key, "b", time.Second); !errors.Is(err, ErrLocked) {
				t.Fatalf("a second TryLock: %v, want ErrLocked", err)
			}
			if err := a.Renew(ctx); err != nil {
				t.Fatalf("Renew: %v", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := lake.TryLock(ctx, key, "b", time.Second)
			if err != nil {
				t.Fatalf("TryLock after the release: %v", err)
			}
			if name == "dir" {
				b.Release(ctx)
				return
			}
			time.Sleep(1100 * time.Millisecond) // b lets its lock expire
			c, err := lake.TryLock(ctx, key, "c", time.Minute)
			if err != nil {
				t.Fatalf("TryLock of an expired lock: %v", err)
			}
			if err := b.Renew(ctx); !errors.Is(err, ErrLockLost) {
				t.Errorf("the expired holder's Renew: %v, want ErrLockLost", err)
			}
			if _, err := lake.TryLock(ctx, key, "d", time.Minute); !errors.Is(err, ErrLocked) {
				t.Errorf("TryLock of the taken-over lock: %v, want ErrLocked", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Errorf("the old holder's Release: %v", err)
			}
			if _, err := lake.TryLock(ctx, key, "d", time.Minute); !errors.Is(err, ErrLocked) {
				t.Errorf("the old holder's Release freed the new holder's lock: %v", err)
			}
			c.Release(ctx)
			if d, err := lake.TryLock(ctx, key, "d", time.Minute); err != nil {
				t.Errorf("TryLock after the new holder's release: %v", err)
			} else {
				d.Release(ctx)
			}
		})
	}
}

// TestEncoderSkipsAbsorbedObjects: an object whose name a compaction
// absorbed is not written again, on either store, and is counted.
func TestEncoderSkipsAbsorbedObjects(t *testing.T) {
	t.Parallel()
	for name, lake := range lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			var counts AbsorbedCounts
			enc := NewEncoder(lake, EncodeOptions{Absorbed: &counts})
			rows := []schema.Finding{{ID: "i", ProductARN: "p"}}
			key, _ := ObjectKey("findings", "2024-01-02", "batch-1")
			marker, _ := AbsorbedKey(key)
			put(t, lake, marker, []byte("{}"))
			if n, err := enc.WriteFindings(ctx, "2024-01-02", "batch-1", rows); err != nil || n != 0 {
				t.Fatalf("WriteFindings of an absorbed name = %d, %v", n, err)
			}
			if _, err := enc.WriteDeadLetters(ctx, "2024-01-02", "batch-1", []schema.DeadLetter{{Reason: "r"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := lake.Stat(ctx, key); !errors.Is(err, ErrNotExist) {
				t.Errorf("the absorbed object was written: %v", err)
			}
			if n, err := enc.WriteFindings(ctx, "2024-01-02", "batch-2", rows); err != nil || n == 0 {
				t.Fatalf("WriteFindings of another name = %d, %v", n, err)
			}
			if counts.Skipped.Load() != 1 || counts.Removed.Load() != 0 {
				t.Errorf("counts: skipped %d, removed %d; want 1, 0", counts.Skipped.Load(), counts.Removed.Load())
			}
		})
	}
}

// raceStore writes a marker for every object between the writer's first
// check and its commit, as a compaction that ran meanwhile would; with
// markerAge, the markers read as that much older than they are.
type raceStore struct {
	Lake
	markerAge time.Duration
}

func (r raceStore) Create(ctx context.Context, key string) (ObjectWriter, error) {
	w, err := r.Lake.Create(ctx, key)
	if err != nil || strings.HasPrefix(key, MetaPrefix) {
		return w, err
	}
	marker, _ := AbsorbedKey(key)
	if err := writeObject(ctx, r.Lake, marker, []byte("{}")); err != nil {
		return nil, err
	}
	return w, nil
}

func (r raceStore) Stat(ctx context.Context, key string) (ObjectInfo, error) {
	info, err := r.Lake.Stat(ctx, key)
	if strings.HasPrefix(key, MetaPrefix+"absorbed/") {
		info.Modified = info.Modified.Add(-r.markerAge)
	}
	return info, err
}

// TestEncoderKeepsTheGraceOfObjectsAbsorbedMeanwhile: a compaction that
// absorbs a name between a writer's check and its commit (it listed the
// partition before the object was there) has a reader's listing to protect
// for its delete grace: the writer's second check finds the young marker and
// leaves the object to compaction (counted), it does not delete it. Once the
// marker is older than MaxDeleteGrace, the bound of every compaction's grace,
// the writer removes the object itself.
func TestEncoderKeepsTheGraceOfObjectsAbsorbedMeanwhile(t *testing.T) {
	t.Parallel()
	for name, lake := range lakes(t) {
		for _, age := range []time.Duration{0, MaxDeleteGrace - time.Minute, MaxDeleteGrace + time.Second} {
			t.Run(fmt.Sprintf("%s/marker %s old", name, age), func(t *testing.T) {
				ctx := context.Background()
				var counts AbsorbedCounts
				enc := NewEncoder(raceStore{Lake: lake, markerAge: age}, EncodeOptions{Absorbed: &counts})
				batch := fmt.Sprintf("batch-%d", age)
				if _, err := enc.WriteFindings(ctx, "2024-01-02", batch, []schema.Finding{{ID: "i", ProductARN: "p"}}); err != nil {
					t.Fatal(err)
				}
				if _, err := enc.WriteDeadLetters(ctx, "2024-01-02", batch, []schema.DeadLetter{{Reason: "r"}}); err != nil {
					t.Fatal(err)
				}
				removed := age > MaxDeleteGrace
				for _, table := range []string{"findings", "dead_letters"} {
					key, _ := ObjectKey(table, "2024-01-02", batch)
					_, err := lake.Stat(ctx, key)
					if removed && !errors.Is(err, ErrNotExist) {
						t.Errorf("%s is still there: %v", key, err)
					}
					if !removed && err != nil {
						t.Errorf("%s was removed before its marker was %s old: %v", key, MaxDeleteGrace, err)
					}
				}
				wantRemoved, wantLeft := int64(0), int64(2)
				if removed {
					wantRemoved, wantLeft = 2, 0
				}
				if counts.Removed.Load() != wantRemoved || counts.Left.Load() != wantLeft {
					t.Errorf("removed %d, left %d; want %d, %d", counts.Removed.Load(), counts.Left.Load(), wantRemoved, wantLeft)
				}
			})
		}
	}
}

// TestS3StatWhenHEADIsRefused: a role whose s3:ListBucket carries an
// s3:prefix condition gets 403 for a HEAD of a missing key; Stat then asks
// the listing, and still tells a missing object from a present one.
func TestS3StatWhenHEADIsRefused(t *testing.T) {
	t.Parallel()
	backend := gofakes3.New(s3mem.New()).Server()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	store := newTestS3(t, srv.URL, "s3://lake/root", S3Options{})
	createBucket(t, store.Client(), "lake")
	ctx := context.Background()
	put(t, store, "findings/dt=2024-01-02/a.parquet", []byte("aaaa"))
	if st, err := store.Stat(ctx, "findings/dt=2024-01-02/a.parquet"); err != nil || st.Size != 4 {
		t.Errorf("Stat of a present object = %+v, %v", st, err)
	}
	for _, k := range []string{"findings/dt=2024-01-02/a", "findings/dt=2024-01-02/b.parquet"} {
		if _, err := store.Stat(ctx, k); !errors.Is(err, ErrNotExist) {
			t.Errorf("Stat(%s) = %v, want ErrNotExist", k, err)
		}
	}
}

// TestDirCleanTemp: a temporary file a live writer holds is never removed,
// however old; a dead writer's is, once older than the minimum age; a
// young one is left. A writer whose file was removed while it was paused
// fails its commit (the batch is written again), it does not publish a
// partial object.
func TestDirCleanTemp(t *testing.T) {
	t.Parallel()
	d, err := NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prefix := PartitionPrefix("findings", "2024-01-02")
	live, err := d.Create(ctx, prefix+"live.parquet")
	if err != nil {
		t.Fatal(err)
	}
	live.Write([]byte("half"))
	dir := filepath.Join(d.root, filepath.FromSlash(prefix))
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
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	lazy := d.DeferSync()
	if d.deferSync || !lazy.deferSync {
		t.Fatalf("DeferSync changed the original store (%v) or not the copy (%v)", d.deferSync, lazy.deferSync)
	}
	ctx := context.Background()
	for i, s := range []*Dir{d, lazy} {
		key := fmt.Sprintf("findings/dt=2026-01-01/o%d.parquet", i)
		w, err := s.Create(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if want := s == d; w.(*dirObject).sync != want {
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
