// Package dirlake is the lake in a local directory: the objstore.Lake of a
// path given as --out. Objects are written to a hidden temporary file beside
// their final name (".<name>.tmp-*"), synced (unless DeferSync), and renamed
// into place; listing, reading, deleting, locks (flock) and the removal of
// dead writers' temporary files complete it. Every path comes from a checked
// key or prefix (package lake's layout) and is checked against symbolic links
// that would lead out of the root; symbolic links themselves are listed as
// irregular entries and never followed, read or removed.
package dirlake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hublake/hublake/layout"
	"github.com/hublake/hublake/objstore"
)

// Lake is the objstore.Lake in a directory. The writer of an object holds an
// exclusive flock on its temporary file from its creation until the rename,
// which is what lets CleanTemp tell a dead writer's leftover from a live
// writer's object.
type Lake struct {
	root string // absolute
	real string // root with symbolic links resolved
	// deferSync: commits do not sync; Sync does (see DeferSync).
	deferSync bool
}

// DeferSync returns the store over the same directory with durability
// deferred to Sync: a commit renames the object into place without syncing
// it or its directory, and Sync makes everything written to the directory's
// file system durable at once (syncfs). It is for a writer that redoes its
// whole run after a crash, rewriting the same names with the same bytes
// (backfill): one syncfs at the end instead of two fsyncs per object, which
// took 14 % of the wall time of a 100 MB file's backfill into 395 objects
// (BENCHMARKS.md). A crash of the process loses nothing (the kernel has the
// data); a power loss before Sync can leave objects of the run empty or
// short, which the run's repetition rewrites. Not for the consumer: its
// checkpoint must follow a durable commit.
func (d *Lake) DeferSync() objstore.DeferredSync {
	c := *d
	c.deferSync = true
	return &c
}

// Sync makes everything written under the directory durable (see
// DeferSync).
func (d *Lake) Sync() error {
	if err := syncFS(d.root); err != nil {
		return fmt.Errorf("sync the lake's file system (%s): %w", d.root, err)
	}
	return nil
}

// New returns a store rooted at dir, creating the directory.
func New(dir string) (*Lake, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("lake directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("create lake directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("lake directory %q: %w", dir, err)
	}
	return &Lake{root: abs, real: real}, nil
}

func (d *Lake) String() string { return "dir:" + d.root }

// URL implements objstore.Lake: the object's absolute path.
func (d *Lake) URL(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// Ping checks that the root exists and is a directory.
func (d *Lake) Ping(context.Context) error {
	st, err := os.Stat(d.root)
	if err != nil {
		return fmt.Errorf("lake directory: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("lake directory %s is not a directory", d.root)
	}
	return nil
}

// path maps a key to a file path inside the root, refusing anything else.
func (d *Lake) path(key string) (string, error) {
	if err := layout.CheckKey(key); err != nil {
		return "", err
	}
	p := filepath.Join(d.root, filepath.FromSlash(key))
	rel, err := filepath.Rel(d.root, p)
	if err != nil || rel == "." || strings.HasPrefix(rel, "..") || filepath.IsAbs(rel) {
		return "", fmt.Errorf("refusing object key %q: outside the lake", key)
	}
	return p, nil
}

// inside checks that dir (a directory under the root) is where it says it
// is: no symbolic link on the way leads out of the lake, or anywhere else.
func (d *Lake) inside(dir string) error {
	rel, err := filepath.Rel(d.root, dir)
	if err != nil {
		return err
	}
	got, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return err
	}
	if got != filepath.Join(d.real, rel) {
		return fmt.Errorf("refusing %s: a symbolic link leads it to %s", dir, got)
	}
	return nil
}

// mkdirs creates dir (under the root) and checks that it is inside the lake.
func (d *Lake) mkdirs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	return d.inside(dir)
}

// Create implements objstore.Store.
func (d *Lake) Create(_ context.Context, key string) (objstore.ObjectWriter, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if err := d.mkdirs(dir); err != nil {
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+layout.TempInfix+"*")
	if err != nil {
		return nil, fmt.Errorf("create object %s: %w", key, err)
	}
	// Held until the rename (or Abort): CleanTemp never removes a file a
	// writer still holds.
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock temporary file of %s: %w", key, err)
	}
	return &dirObject{f: f, final: p, key: key, sync: !d.deferSync}, nil
}

type dirObject struct {
	f     *os.File
	final string
	key   string
	sync  bool // sync the object and its directory on commit
	done  bool
}

func (o *dirObject) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("write object %s: %w", o.key, err)
	}
	return n, nil
}

// Commit syncs the temporary file and renames it into place while still
// holding its lock, then releases it. A rename that fails because CleanTemp
// removed the file (a writer paused for longer than CleanTemp's minimum age
// before it could lock it) fails the commit: the batch is written again.
func (o *dirObject) Commit() error {
	if o.done {
		return errors.New("object already committed or aborted")
	}
	o.done = true
	tmp := o.f.Name()
	fail := func(format string, err error) error {
		o.f.Close()
		os.Remove(tmp)
		return fmt.Errorf(format, o.key, err)
	}
	if o.sync {
		if err := o.f.Sync(); err != nil {
			return fail("sync object %s: %w", err)
		}
	}
	if err := o.f.Chmod(0o644); err != nil {
		return fail("chmod object %s: %w", err)
	}
	if err := os.Rename(tmp, o.final); err != nil {
		return fail("publish object %s: %w", err)
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("close object %s: %w", o.key, err)
	}
	if !o.sync {
		return nil
	}
	// The rename is durable once the directory entry is.
	if err := syncDir(filepath.Dir(o.final)); err != nil {
		return fmt.Errorf("sync partition directory of %s: %w", o.key, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return nil
	}
	err = f.Sync()
	f.Close()
	return err
}

func (o *dirObject) Abort() error {
	if o.done {
		return nil
	}
	o.done = true
	o.f.Close()
	if err := os.Remove(o.f.Name()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove partial object %s: %w", o.key, err)
	}
	return nil
}

// Stat implements objstore.Store.
func (d *Lake) Stat(_ context.Context, key string) (objstore.ObjectInfo, error) {
	p, err := d.path(key)
	if err != nil {
		return objstore.ObjectInfo{}, err
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return objstore.ObjectInfo{}, fmt.Errorf("%s: %w", key, objstore.ErrNotExist)
	}
	if err != nil {
		return objstore.ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return dirInfo(key, st), nil
}

func dirInfo(key string, st fs.FileInfo) objstore.ObjectInfo {
	return objstore.ObjectInfo{
		Key: key, Size: st.Size(), Modified: st.ModTime(),
		ETag:      fmt.Sprintf("%x-%x", st.Size(), st.ModTime().UnixNano()),
		Irregular: !st.Mode().IsRegular(),
	}
}

// Delete implements objstore.Store. It removes regular files only.
func (d *Lake) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := d.inside(filepath.Dir(p)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete %s: %w", key, err)
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("refusing to delete %s: not a regular file", key)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}

// List implements objstore.Lake: the files under prefix, depth first in lexical
// order (which is key order), hidden files included, symbolic links and
// other irregular entries flagged and not followed.
func (d *Lake) List(ctx context.Context, prefix string) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		if err := layout.CheckPrefix(prefix); err != nil {
			yield(objstore.ObjectInfo{}, err)
			return
		}
		start := filepath.Join(d.root, filepath.FromSlash(prefix))
		if err := d.inside(start); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				yield(objstore.ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, err))
			}
			return
		}
		err := filepath.WalkDir(start, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil // removed while listing
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if e.IsDir() {
				return nil
			}
			st, err := e.Info()
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(d.root, p)
			if err != nil {
				return err
			}
			if !yield(dirInfo(filepath.ToSlash(rel), st), nil) {
				return fs.SkipAll
			}
			return nil
		})
		if err != nil && !errors.Is(err, fs.SkipAll) {
			yield(objstore.ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, err))
		}
	}
}

// Open implements objstore.Lake. Only regular files inside the root are opened.
func (d *Lake) Open(_ context.Context, key string) (objstore.ReadObject, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if err := d.inside(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, objstore.ErrNotExist)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("refusing to read %s: not a regular file", key)
	}
	return &dirReadObject{File: f, size: st.Size()}, nil
}

type dirReadObject struct {
	*os.File
	size int64
}

func (o *dirReadObject) Size() int64 { return o.size }

// TryLock implements objstore.Lake with flock(2) on a lock file: the kernel releases
// it when the holder's process dies, so ttl is not needed. The file is never
// deleted (deleting a lock file lets two holders lock two different files of
// one name); it holds the last holder's name for people.
func (d *Lake) TryLock(_ context.Context, key, holder string, _ time.Duration) (objstore.Lock, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, layout.MetaPrefix+"locks/") {
		return nil, fmt.Errorf("refusing lock key %q", key)
	}
	if err := d.mkdirs(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", key, objstore.ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	body, _ := json.Marshal(objstore.LockBody{Holder: holder, Acquired: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(body, '\n'), 0)
	}
	return &dirLock{f: f}, nil
}

type dirLock struct{ f *os.File }

func (l *dirLock) Renew(context.Context) error { return nil }

func (l *dirLock) Release(context.Context) error {
	if l.f == nil {
		return nil
	}
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	l.f.Close()
	l.f = nil
	return err
}

// CleanTemp implements objstore.Lake: it removes the temporary files (".<name>.tmp-*")
// in partition prefix that a writer killed before its rename left behind.
// A file is removed only when CleanTemp can take its flock (no live writer
// holds it: a writer locks its file from creation to rename, and the kernel
// drops the lock of a dead one) and it was last modified more than minAge
// ago (a writer that has created its file but not yet locked it is that
// young). A writer that was paused between the two for longer than minAge
// and whose file was removed fails its rename, and its batch is written
// again: nothing is lost. The file is removed by name only while it is
// still the file that was locked.
func (d *Lake) CleanTemp(ctx context.Context, prefix string, minAge time.Duration) (int, error) {
	if !layout.IsPartitionPrefix(prefix) {
		return 0, fmt.Errorf("refusing to clean %q: not a partition prefix", prefix)
	}
	dir := filepath.Join(d.root, filepath.FromSlash(prefix))
	if err := d.inside(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		return 0, fmt.Errorf("clean %s: %w", prefix, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("clean %s: %w", prefix, err)
	}
	removed := 0
	for _, e := range entries {
		if ctx.Err() != nil {
			return removed, ctx.Err()
		}
		if !layout.IsTempName(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		ok, err := removeIfAbandoned(filepath.Join(dir, e.Name()), minAge)
		if err != nil {
			return removed, fmt.Errorf("clean %s: %w", prefix, err)
		}
		if ok {
			removed++
		}
	}
	return removed, nil
}

func removeIfAbandoned(p string, minAge time.Duration) (bool, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return false, nil // a live writer's
		}
		return false, err
	}
	held, err := f.Stat()
	if err != nil {
		return false, err
	}
	if time.Since(held.ModTime()) < minAge {
		return false, nil
	}
	now, err := os.Lstat(p)
	if err != nil || !os.SameFile(held, now) {
		return false, nil // renamed into place (or replaced) meanwhile
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}
