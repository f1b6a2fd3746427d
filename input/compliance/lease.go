package compliance

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// lease makes one instance at a time collect an endpoint when several share
// a checkpoint cache (high availability). The holder writes its token under
// <checkpoint key>.lease with a TTL and renews it; a standby takes over once
// the key expires (within the TTL after the holder dies). Every checkpoint
// write carries the lease as a fence (Fence), which the store checks:
//
//   - on the redis cache of this module, acquiring, renewing and releasing
//     are Lua scripts and the fence is checked in the same script as the
//     write, so two instances never both take a free lease and a holder that
//     lost its lease (paused past its TTL, partitioned) cannot commit;
//   - on another cache with TTLs and an atomic Add, the lease is taken with
//     Add and renewed with a read then a write, and the fence is read before
//     each write: a holder stalled for a whole TTL may overlap with the next
//     one until its next renewal, and the checkpoint's rev check then refuses
//     the stale holder's commits.
type lease struct {
	res    *service.Resources
	cache  string
	leaser cas.Leaser // nil: add-then-read on the cache
	key    string
	token  string
	ttl    time.Duration
	now    func() time.Time
	log    *service.Logger

	mu        sync.Mutex
	heldUntil time.Time // zero when not held
	holder    string    // last seen holder, for logs
	err       error     // the last refresh failed (cache down, no TTL support)
}

// Err is why the lease cannot be refreshed, or nil. A lease that can never
// be held must make the input not ready rather than look like a standby.
func (l *lease) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// errLeaseLost refuses a commit from an instance that no longer holds the lease.
var errLeaseLost = errors.New("this instance does not hold the collection lease")

func newLease(res *service.Resources, cache string, leaser cas.Leaser, key string, ttl time.Duration, now func() time.Time, log *service.Logger) *lease {
	return &lease{
		res: res, cache: cache, leaser: leaser, key: key + ".lease", ttl: ttl, now: now, log: log,
		token: writerToken(),
	}
}

// Fence is what every checkpoint write of this instance must carry.
func (l *lease) Fence() checkpoint.Fence { return checkpoint.Fence{Key: l.key, Token: l.token} }

// Held reports whether this instance holds the lease right now.
func (l *lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.heldUntil.IsZero() && l.now().Before(l.heldUntil)
}

// refresh acquires a free lease or renews ours; it reports whether we hold it.
func (l *lease) refresh(ctx context.Context) (bool, error) {
	start := l.now()
	var held bool
	var holder string
	var err error
	if l.leaser != nil {
		held, holder, err = l.leaser.AcquireLease(ctx, l.key, l.token, l.ttl)
	} else {
		held, holder, err = l.refreshByAdd(ctx)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.err = fmt.Errorf("lease %s in cache resource %q cannot be refreshed (the cache must be shared, honour TTLs and add atomically, e.g. redis): %w", l.key, l.cache, err)
		l.heldUntil = time.Time{}
		return false, l.err
	}
	l.err = nil
	was := !l.heldUntil.IsZero()
	if held {
		l.heldUntil = start.Add(l.ttl)
		if !was {
			l.log.Infof("acquired the collection lease %s (ttl %v)", l.key, l.ttl)
		}
	} else {
		l.heldUntil = time.Time{}
		if was {
			l.log.Warnf("lost the collection lease %s to %s: standing by", l.key, holder)
		} else if holder != l.holder {
			l.log.Infof("standing by: the collection lease %s is held by %s", l.key, holder)
		}
	}
	l.holder = holder
	return held, nil
}

// refreshByAdd is the lease on a cache that is not ours: Add when free, a
// read then a write to renew.
func (l *lease) refreshByAdd(ctx context.Context) (held bool, holder string, opErr error) {
	err := l.res.AccessCache(ctx, l.cache, func(c service.Cache) {
		ttl := l.ttl
		err := c.Add(ctx, l.key, []byte(l.token), &ttl)
		if err == nil {
			held, holder = true, l.token
			return
		}
		if !errors.Is(err, service.ErrKeyAlreadyExists) {
			opErr = fmt.Errorf("acquiring: %w", err)
			return
		}
		v, err := c.Get(ctx, l.key)
		if errors.Is(err, service.ErrKeyNotFound) {
			return // expired between Add and Get: the next refresh takes it
		}
		if err != nil {
			opErr = fmt.Errorf("reading the holder: %w", err)
			return
		}
		holder = string(v)
		if holder == l.token {
			if err := c.Set(ctx, l.key, []byte(l.token), &ttl); err != nil {
				opErr = fmt.Errorf("renewing: %w", err)
				return
			}
			held = true
		}
	})
	if err != nil {
		return false, "", err
	}
	return held, holder, opErr
}

// fence refuses a write at once when this instance knows it does not hold
// the lease; the store checks the lease again with the write itself.
func (l *lease) fence(context.Context) error {
	if !l.Held() {
		return errLeaseLost
	}
	return nil
}

// run keeps the lease fresh every interval until ctx ends, then releases it.
func (l *lease) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := l.refresh(ctx); err != nil && ctx.Err() == nil {
			l.log.Warnf("%v", err)
		}
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-t.C:
		}
	}
}

// release deletes the lease if it is still ours, so a standby takes over at
// once on a clean shutdown.
func (l *lease) release() {
	if !l.Held() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if l.leaser != nil {
		_, _ = l.leaser.ReleaseLease(ctx, l.key, l.token)
	} else {
		_ = l.res.AccessCache(ctx, l.cache, func(c service.Cache) {
			if v, err := c.Get(ctx, l.key); err == nil && string(v) == l.token {
				_ = c.Delete(ctx, l.key)
			}
		})
	}
	l.mu.Lock()
	l.heldUntil = time.Time{}
	l.mu.Unlock()
}
