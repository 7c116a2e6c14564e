// Package objstore is the seam between the lake's writers and readers and
// where its objects are: a Store that objects go to (all at once on Commit,
// durable when it returns) and a Lake that can also be listed, read and
// locked (compaction), with their errors. The backends are dirlake (a
// directory) and s3lake (an S3 bucket); the keys are package layout's.
package objstore

import (
	"context"
	"errors"
	"io"
	"iter"
	"time"
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
	// URL returns where a reader outside hublake finds the object at key:
	// s3://bucket/prefix/key, or a directory store's absolute path (the
	// current tables' symlink manifests list these).
	URL(key string) string
}

// DeferredSync is a Store whose durability can be deferred to the end of a
// run (the directory store's: see dirlake.Lake.DeferSync). An S3 commit is
// durable when it returns, and the S3 store is none.
type DeferredSync interface {
	Store
	// DeferSync returns the store over the same objects whose commits do
	// not sync, and whose Sync makes everything written durable at once.
	DeferSync() DeferredSync
	// Sync makes everything written so far durable.
	Sync() error
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

// LockBody is what a lock object holds (both stores write it: a directory
// store for people to read, S3 to decide whether a lock is free).
type LockBody struct {
	Holder   string    `json:"holder"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires,omitzero"`
	Released bool      `json:"released,omitempty"`
}
