package sinks

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
)

// The directory store's side of Lake: listing, reading, deleting, locks
// (flock) and the removal of dead writers' temporary files. Every path comes
// from a checked key or prefix and is checked against symbolic links that
// would lead out of the root; symbolic links themselves are listed as
// irregular entries and never followed, read or removed.

// Stat implements Store.
func (d *Dir) Stat(_ context.Context, key string) (ObjectInfo, error) {
	p, err := d.path(key)
	if err != nil {
		return ObjectInfo{}, err
	}
	st, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return ObjectInfo{}, fmt.Errorf("%s: %w", key, ErrNotExist)
	}
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat %s: %w", key, err)
	}
	return dirInfo(key, st), nil
}

func dirInfo(key string, st fs.FileInfo) ObjectInfo {
	return ObjectInfo{
		Key: key, Size: st.Size(), Modified: st.ModTime(),
		ETag:      fmt.Sprintf("%x-%x", st.Size(), st.ModTime().UnixNano()),
		Irregular: !st.Mode().IsRegular(),
	}
}

// Delete implements Store. It removes regular files only.
func (d *Dir) Delete(_ context.Context, key string) error {
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

// List implements Lake: the files under prefix, depth first in lexical
// order (which is key order), hidden files included, symbolic links and
// other irregular entries flagged and not followed.
func (d *Dir) List(ctx context.Context, prefix string) iter.Seq2[ObjectInfo, error] {
	return func(yield func(ObjectInfo, error) bool) {
		if err := CheckPrefix(prefix); err != nil {
			yield(ObjectInfo{}, err)
			return
		}
		start := filepath.Join(d.root, filepath.FromSlash(prefix))
		if err := d.inside(start); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				yield(ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, err))
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
			yield(ObjectInfo{}, fmt.Errorf("list %s: %w", prefix, err))
		}
	}
}

// Open implements Lake. Only regular files inside the root are opened.
func (d *Dir) Open(_ context.Context, key string) (ReadObject, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if err := d.inside(filepath.Dir(p)); err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, ErrNotExist)
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

// TryLock implements Lake with flock(2) on a lock file: the kernel releases
// it when the holder's process dies, so ttl is not needed. The file is never
// deleted (deleting a lock file lets two holders lock two different files of
// one name); it holds the last holder's name for people.
func (d *Dir) TryLock(_ context.Context, key, holder string, _ time.Duration) (Lock, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, MetaPrefix+"locks/") {
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
			return nil, fmt.Errorf("%s: %w", key, ErrLocked)
		}
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	body, _ := json.Marshal(lockBody{Holder: holder, Acquired: time.Now().UTC()})
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

// CleanTemp implements Lake: it removes the temporary files (".<name>.tmp-*")
// in partition prefix that a writer killed before its rename left behind.
// A file is removed only when CleanTemp can take its flock (no live writer
// holds it: a writer locks its file from creation to rename, and the kernel
// drops the lock of a dead one) and it was last modified more than minAge
// ago (a writer that has created its file but not yet locked it is that
// young). A writer that was paused between the two for longer than minAge
// and whose file was removed fails its rename, and its batch is written
// again: nothing is lost. The file is removed by name only while it is
// still the file that was locked.
func (d *Dir) CleanTemp(ctx context.Context, prefix string, minAge time.Duration) (int, error) {
	if err := CheckPrefix(prefix); err != nil || !keyPattern.MatchString(prefix+"x") {
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
		if !IsTempName(e.Name()) || !e.Type().IsRegular() {
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

// IsTempName reports whether a file name is one of Dir's temporary files.
func IsTempName(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name, tempInfix)
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

// lockBody is what a lock object holds.
type lockBody struct {
	Holder   string    `json:"holder"`
	Acquired time.Time `json:"acquired"`
	Expires  time.Time `json:"expires,omitzero"`
	Released bool      `json:"released,omitempty"`
}
