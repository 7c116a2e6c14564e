package objstore

import (
	"context"
	"fmt"
	"io"
)

// ReadSmall reads a whole object of at most limit bytes (a manifest, a
// marker, a lock body): a larger one is an error, never read.
func ReadSmall(ctx context.Context, lk Lake, key string, limit int64) ([]byte, error) {
	r, err := lk.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if r.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, more than the %d expected", key, r.Size(), limit)
	}
	b := make([]byte, r.Size())
	if _, err := r.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// PutSmall writes a small object whole, committed or not at all.
func PutSmall(ctx context.Context, st Store, key string, body []byte) error {
	w, err := st.Create(ctx, key)
	if err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		_ = w.Abort()
		return err
	}
	return w.Commit()
}
