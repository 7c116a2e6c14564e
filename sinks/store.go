package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Store is where objects go. An object becomes visible to readers only when
// Commit returns, all at once; Commit returning nil means it is durable. A
// Store is safe for concurrent use.
type Store interface {
	// Create starts writing the object at key (see ObjectKey). Writing the
	// same key again replaces the object.
	Create(ctx context.Context, key string) (ObjectWriter, error)
	// Stat returns what the store knows of the object at key, or an error
	// wrapping ErrNotExist when there is none.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
	// Delete removes the object at key; an absent object is no error.
	Delete(ctx context.Context, key string) error
	// Ping checks that the store is reachable and writable enough to try.
	Ping(ctx context.Context) error
	// String describes the store for logs (no credentials).
	String() string
}

// Lake is a Store that can also be listed, read and locked: what compaction
// needs beyond a writer. Dir and S3 are Lakes.
type Lake interface {
	Store
	// List yields every object under prefix (see CheckPrefix) in key order,
	// as it goes: a listing is never held whole.
	List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error]
	// Open opens the object at key for reading at any offset.
	Open(ctx context.Context, key string) (ReadObject, error)
	// TryLock takes the exclusive lock at key (see LockKey), or returns an
	// error wrapping ErrLocked when another holder has it. A lock that its
	// holder has not renewed for ttl may be taken over (S3; a directory's
	// lock is released by the kernel when its holder dies).
	TryLock(ctx context.Context, key string, holder string, ttl time.Duration) (Lock, error)
	// CleanTemp removes the leftovers of writers that died while writing an
	// object in partition prefix (see PartitionPrefix) and that no live
	// writer can still own, older than minAge; it returns how many.
	CleanTemp(ctx context.Context, prefix string, minAge time.Duration) (int, error)
}

// ObjectInfo describes one object of a store.
type ObjectInfo struct {
	Key      string // relative to the lake root
	Size     int64
	ETag     string // S3's ETag; a directory's size and modification time
	Modified time.Time
	// Irregular is set for a directory entry that is not a regular file (a
	// symbolic link, a device): never read, never deleted.
	Irregular bool
}

// ReadObject is an object opened for reading.
type ReadObject interface {
	io.ReaderAt
	Size() int64
	Close() error
}

// Lock is a held lock.
type Lock interface {
	// Renew extends the lock's lease; an error wrapping ErrLockLost means
	// another holder took it over.
	Renew(ctx context.Context) error
	// Release gives the lock up.
	Release(ctx context.Context) error
}

var (
	// ErrNotExist: there is no object at the key.
	ErrNotExist = errors.New("object does not exist")
	// ErrLocked: another holder has the lock.
	ErrLocked = errors.New("locked by another holder")
	// ErrLockLost: the lock was taken over since it was last renewed.
	ErrLockLost = errors.New("lock lost")
)

// ObjectWriter receives an object's bytes. Exactly one of Commit or Abort
// must be called; after Abort nothing of the object is visible.
type ObjectWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// Open returns the store for dest: "s3://bucket/prefix" (its client built
// from cfg) or a directory.
func Open(cfg aws.Config, dest string, s3opts S3Options) (Lake, error) {
	if strings.HasPrefix(dest, "s3://") {
		return NewS3(cfg, dest, s3opts)
	}
	return NewDir(dest)
}

// Dir is a Store in a local directory: objects are written to a hidden
// temporary file beside their final name (".<name>.tmp-*"), synced (unless
// DeferSync), and renamed into place. The writer holds an exclusive flock on
// its temporary file from its creation until the rename, which is what lets
// CleanTemp tell a dead writer's leftover from a live writer's object.
type Dir struct {
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
func (d *Dir) DeferSync() *Dir {
	c := *d
	c.deferSync = true
	return &c
}

// Sync makes everything written under the directory durable (see
// DeferSync).
func (d *Dir) Sync() error {
	if err := syncFS(d.root); err != nil {
		return fmt.Errorf("sync the lake's file system (%s): %w", d.root, err)
	}
	return nil
}

// NewDir returns a store rooted at dir, creating the directory.
func NewDir(dir string) (*Dir, error) {
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
	return &Dir{root: abs, real: real}, nil
}

func (d *Dir) String() string { return "dir:" + d.root }

// Ping checks that the root exists and is a directory.
func (d *Dir) Ping(context.Context) error {
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
func (d *Dir) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
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
func (d *Dir) inside(dir string) error {
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
func (d *Dir) mkdirs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	return d.inside(dir)
}

// Create implements Store.
func (d *Dir) Create(_ context.Context, key string) (ObjectWriter, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if err := d.mkdirs(dir); err != nil {
		return nil, fmt.Errorf("object %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+tempInfix+"*")
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

// tempInfix is in every temporary file's name: ".<name>.tmp-<random>".
const tempInfix = ".tmp-"

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
