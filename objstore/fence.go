package objstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Fence keeps a lock while its run works (a compaction's partition, a
// refresh of a current table): it renews the lock every third of its
// lifetime and, when a renewal finds the lock taken over (or renewals have
// failed for two thirds of its lifetime, after which another run may take
// it), cancels the run's context (Ctx). Every step that changes the lake
// checks it first (Check), and the commit renews the lock synchronously
// (RenewNow), so a run that lost its lock stops before changing anything it
// cannot undo. (A directory store's flock cannot be lost while the process
// lives.)
type Fence struct {
	lock   Lock
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

// NewFence starts keeping lock, which lasts ttl unrenewed.
func NewFence(ctx context.Context, lock Lock, ttl time.Duration, log *slog.Logger) *Fence {
	f := &Fence{lock: lock, ttl: ttl, log: log, renewed: time.Now(), stop: make(chan struct{}), done: make(chan struct{})}
	f.ctx, f.cancel = context.WithCancelCause(ctx)
	go f.renewLoop()
	return f
}

func (f *Fence) renewLoop() {
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
			if err := f.RenewNow(f.ctx); err != nil {
				f.log.Warn("could not renew the lock", "err", err)
			}
		}
	}
}

// Ctx is the run's context: cancelled once the lock may be lost.
func (f *Fence) Ctx() context.Context { return f.ctx }

// RenewNow renews the lock now. A renewal that succeeds proves that nobody
// took the lock over since the last one (on S3 it is a write conditional on
// the lock object's ETag), however late it comes.
func (f *Fence) RenewNow(ctx context.Context) error {
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
		f.lost = fmt.Errorf("the lock is lost: %w", err)
		f.cancel(f.lost)
		return f.lost
	}
	return err
}

func isLost(err error) bool { return errors.Is(err, ErrLockLost) }

// Check returns an error when the lock may no longer be held.
func (f *Fence) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lost != nil {
		return f.lost
	}
	if time.Since(f.renewed) > 2*f.ttl/3 {
		f.lost = fmt.Errorf("the lock was last renewed %s ago; it may have been taken over", time.Since(f.renewed).Round(time.Second))
		f.cancel(f.lost)
		return f.lost
	}
	return nil
}

// Release stops renewing and gives the lock up.
func (f *Fence) Release() {
	close(f.stop)
	<-f.done
	if err := f.lock.Release(context.WithoutCancel(f.ctx)); err != nil {
		f.log.Warn("could not release the lock; it expires by itself", "err", err)
	}
	f.cancel(nil)
}
