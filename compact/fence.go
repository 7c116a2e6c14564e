package compact

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hublake/hublake/objstore"
)

// fence keeps a partition's lock while its run works: it renews the lock
// every third of its lifetime and, when a renewal finds the lock taken over
// (or renewals have failed for two thirds of its lifetime, after which
// another compaction may take it), cancels the run's context. Every step
// that changes the lake checks it first, and the commit renews the lock
// synchronously, so a run that lost its lock stops before changing anything
// it cannot undo. (A directory store's flock cannot be lost while the
// process lives.)
type fence struct {
	lock   objstore.Lock
	ttl    time.Duration
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelCauseFunc
	stop   chan struct{}
	done   chan struct{}

	mu      sync.Mutex
	renewed time.Time
	lost    error
}

func newFence(ctx context.Context, lock objstore.Lock, ttl time.Duration, log *slog.Logger) *fence {
	f := &fence{lock: lock, ttl: ttl, log: log, renewed: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	go f.renewLoop()
	return f
}

func (f *fence) renewLoop() {
	defer close(f.done)
	t := time.NewTicker(f.ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-f.ctx.Done():
			return
		case <-t.C:
			if err := f.renewNow(f.ctx); err != nil {
				f.log.Warn("could not renew the partition's lock", "err", err)
			}
		}
	}
}

// renewNow renews the lock now. A renewal that succeeds proves that nobody
// took the lock over since the last one (on S3 it is a write conditional on
// the lock object's ETag), however late it comes.
func (f *fence) renewNow(ctx context.Context) error {
	f.mu.Lock()
	lost := f.lost
	f.mu.Unlock()
	if lost != nil {
		return lost
	}
	err := f.lock.Renew(ctx)
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case err == nil:
		f.renewed = time.Now()
		return nil
	case time.Since(f.renewed) > 2*f.ttl/3 || isLost(err):
		f.lost = fmt.Errorf("the partition's lock is lost: %w", err)
		f.cancel(f.lost)
		return f.lost
	}
	return err
}

func isLost(err error) bool { return errors.Is(err, objstore.ErrLockLost) }

// check returns an error when the lock may no longer be held.
func (f *fence) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost != nil {
		return f.lost
	}
	if time.Since(f.renewed) > 2*f.ttl/3 {
		f.lost = fmt.Errorf("the partition's lock was last renewed %s ago; it may have been taken over", time.Since(f.renewed).Round(time.Second))
		f.cancel(f.lost)
		return f.lost
	}
	return nil
}

// release stops renewing and gives the lock up.
func (f *fence) release() {
	close(f.stop)
	<-f.done
	if err := f.lock.Release(context.WithoutCancel(f.ctx)); err != nil {
		f.log.Warn("could not release the partition's lock; it expires by itself", "err", err)
	}
	f.cancel(nil)
}
