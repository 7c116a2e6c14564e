package objstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hublake/hublake/internal/hostile"
	"github.com/hublake/hublake/internal/laketest"
	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// TestLakeOperations: Stat, List, Open and Delete do what compaction needs
// on both stores, and refuse keys and prefixes outside the layout.
func TestLakeOperations(t *testing.T) {
	t.Parallel()
	for name, lk := range laketest.Lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			big := laketest.RandomBytes(t, 9<<20+12345) // past one whole read: ranged blocks
			laketest.Put(t, lk, "findings/dt=2024-01-02/b.parquet", big)
			laketest.Put(t, lk, "findings/dt=2024-01-02/a.parquet", []byte("aaaa"))
			laketest.Put(t, lk, "findings/dt=2024-01-03/c.parquet", []byte("c"))
			laketest.Put(t, lk, "insight_results/dt=2024-01-02/d.parquet", []byte("d"))
			laketest.Put(t, lk, "_hublake/absorbed/findings/dt=2024-01-02/a.parquet", []byte("{}"))

			var keys []string
			for o, err := range lk.List(ctx, "findings/") {
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, fmt.Sprintf("%s:%d", o.Key, o.Size))
			}
			want := []string{"findings/dt=2024-01-02/a.parquet:4", fmt.Sprintf("findings/dt=2024-01-02/b.parquet:%d", len(big)), "findings/dt=2024-01-03/c.parquet:1"}
			if strings.Join(keys, " ") != strings.Join(want, " ") {
				t.Errorf("List(findings/) = %v, want %v", keys, want)
			}
			for o, err := range lk.List(ctx, layout.AbsorbedPrefix("findings", "2024-01-02")) {
				if err != nil || o.Key != "_hublake/absorbed/findings/dt=2024-01-02/a.parquet" {
					t.Errorf("List(markers) = %v, %v", o.Key, err)
				}
			}

			st, err := lk.Stat(ctx, "findings/dt=2024-01-02/b.parquet")
			if err != nil || st.Size != int64(len(big)) || st.ETag == "" {
				t.Errorf("Stat = %+v, %v", st, err)
			}
			if _, err := lk.Stat(ctx, "findings/dt=2024-01-02/zz.parquet"); !errors.Is(err, objstore.ErrNotExist) {
				t.Errorf("Stat of a missing object: %v, want objstore.ErrNotExist", err)
			}

			r, err := lk.Open(ctx, "findings/dt=2024-01-02/b.parquet")
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

			if err := lk.Delete(ctx, "findings/dt=2024-01-02/b.parquet"); err != nil {
				t.Fatal(err)
			}
			if err := lk.Delete(ctx, "findings/dt=2024-01-02/b.parquet"); err != nil {
				t.Errorf("deleting an absent object: %v", err)
			}
			if _, err := lk.Open(ctx, "findings/dt=2024-01-02/b.parquet"); !errors.Is(err, objstore.ErrNotExist) {
				t.Errorf("Open after Delete: %v", err)
			}
			for _, bad := range []string{"", "/", "../", "findings", "findings/dt=2024-01-02", "findings/dt=../", "_hublake/", "_hublake/locks/findings/", "other/"} {
				for _, err := range lk.List(ctx, bad) {
					if err == nil {
						t.Errorf("List(%q) was not refused", bad)
					}
					break
				}
			}
			for _, k := range hostile.Keys {
				if _, err := lk.Open(ctx, k); err == nil {
					t.Errorf("Open(%q) was not refused", k)
				}
				if err := lk.Delete(ctx, k); err == nil {
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
	for name, lk := range laketest.Lakes(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key, _ := layout.LockKey("findings", "2024-01-02")
			a, err := lk.TryLock(ctx, key, "a", time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lk.TryLock(ctx, key, "b", time.Second); !errors.Is(err, objstore.ErrLocked) {
				t.Fatalf("a second TryLock: %v, want objstore.ErrLocked", err)
			}
			if err := a.Renew(ctx); err != nil {
				t.Fatalf("Renew: %v", err)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			b, err := lk.TryLock(ctx, key, "b", time.Second)
			if err != nil {
				t.Fatalf("TryLock after the release: %v", err)
			}
			if name == "dir" {
				b.Release(ctx)
				return
			}
			time.Sleep(1100 * time.Millisecond) // b lets its lock expire
			c, err := lk.TryLock(ctx, key, "c", time.Minute)
			if err != nil {
				t.Fatalf("TryLock of an expired lock: %v", err)
			}
			if err := b.Renew(ctx); !errors.Is(err, objstore.ErrLockLost) {
				t.Errorf("the expired holder's Renew: %v, want objstore.ErrLockLost", err)
			}
			if _, err := lk.TryLock(ctx, key, "d", time.Minute); !errors.Is(err, objstore.ErrLocked) {
				t.Errorf("TryLock of the taken-over lock: %v, want objstore.ErrLocked", err)
			}
			if err := b.Release(ctx); err != nil {
				t.Errorf("the old holder's Release: %v", err)
			}
			if _, err := lk.TryLock(ctx, key, "d", time.Minute); !errors.Is(err, objstore.ErrLocked) {
				t.Errorf("the old holder's Release freed the new holder's lock: %v", err)
			}
			c.Release(ctx)
			if d, err := lk.TryLock(ctx, key, "d", time.Minute); err != nil {
				t.Errorf("TryLock after the new holder's release: %v", err)
			} else {
				d.Release(ctx)
			}
		})
	}
}
