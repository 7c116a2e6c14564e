package sinks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Store is where objects go. An object becomes visible to readers only when
// Commit returns, all at once; Commit returning nil means it is durable. A
// Store is safe for concurrent use.
type Store interface {
	// Create starts writing the object at key (see ObjectKey). Writing the
	// same key again replaces the object.
	Create(ctx context.Context, key string) (ObjectWriter, error)
	// Ping checks that the store is reachable and writable enough to try.
	Ping(ctx context.Context) error
	// String describes the store for logs (no credentials).
	String() string
}

// ObjectWriter receives an object's bytes. Exactly one of Commit or Abort
// must be called; after Abort nothing of the object is visible.
type ObjectWriter interface {
	io.Writer
	Commit() error
	Abort() error
}

// Open returns the store for dest: "s3://bucket/prefix" (its client built
// from cfg) or a directory.
func Open(cfg aws.Config, dest string, s3opts S3Options) (Store, error) {
	if strings.HasPrefix(dest, "s3://") {
		return NewS3(cfg, dest, s3opts)
	}
	return NewDir(dest)
}

// Dir is a Store in a local directory: objects are written to a hidden
// temporary file beside their final name, synced, and renamed into place.
type Dir struct {
	root string
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
	return &Dir{root: abs}, nil
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

// Create implements Store.
func (d *Dir) Create(_ context.Context, key string) (ObjectWriter, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create partition directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(p)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("create object %s: %w", key, err)
	}
	return &dirObject{f: f, final: p, key: key}, nil
}

type dirObject struct {
	f     *os.File
	final string
	key   string
	done  bool
}

func (o *dirObject) Write(p []byte) (int, error) {
	n, err := o.f.Write(p)
	if err != nil {
		return n, fmt.Errorf("write object %s: %w", o.key, err)
	}
	return n, nil
}

func (o *dirObject) Commit() error {
	if o.done {
		return errors.New("object already committed or aborted")
	}
	o.done = true
	tmp := o.f.Name()
	if err := o.f.Sync(); err != nil {
		o.f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync object %s: %w", o.key, err)
	}
	if err := o.f.Close(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("close object %s: %w", o.key, err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("chmod object %s: %w", o.key, err)
	}
	if err := os.Rename(tmp, o.final); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("publish object %s: %w", o.key, err)
	}
	// The rename is durable once the directory entry is.
	if dir, err := os.Open(filepath.Dir(o.final)); err == nil {
		err = dir.Sync()
		dir.Close()
		if err != nil {
			return fmt.Errorf("sync partition directory of %s: %w", o.key, err)
		}
	}
	return nil
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
