package compliance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// lease makes one instance at a time collect an endpoint when several share
// a checkpoint cache (high availability). The holder writes its token under
// <checkpoint key>.lease with a TTL and renews it; a standby takes over once
// the key expires (within the TTL after the holder dies). Every checkpoint
// write first checks that the token is still there (fencing), so an instance
// that lost its lease cannot commit.
//
// It works on any cache whose Add is atomic and honours TTLs (redis). Renewal
// is a read then a write: if the lease expired between the two (a holder
// stalled for a whole TTL), both instances may believe they hold it until the
// next renewal; the fence check and the checkpoint's rev check then refuse
// the stale holder's commits.
type lease struct {
	res   *service.Resources
	cache string
	key   string
	token string
	ttl   time.Duration
	now   func() time.Time
	log   *service.Logger

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

func newLease(res *service.Resources, cache, key string, ttl time.Duration, now func() time.Time, log *service.Logger) *lease {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return &lease{
		res: res, cache: cache, key: key + ".lease", ttl: ttl, now: now, log: log,
		token: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)),
	}
}

// Held reports whether this instance holds the lease right now.
func (l *lease) Held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.heldUntil.IsZero() && l.now().Before(l.heldUntil)
}

// refresh acquires a free lease or renews ours; it reports whether we hold it.
func (l *lease) refresh(ctx context.Context) (bool, error) {
	var held bool
	var holder string
	var opErr error
	start := l.now()
	err := l.res.AccessCache(ctx, l.cache, func(c service.Cache) {
		ttl := l.ttl
		err := c.Add(ctx, l.key, []byte(l.token), &ttl)
		if err == nil {
			held = true
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
	if err == nil && opErr != nil {
		err = opErr
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

// fence refuses a write unless the lease is held and still carries our token.
func (l *lease) fence(ctx context.Context) error {
	if !l.Held() {
		return errLeaseLost
	}
	var current []byte
	err := l.res.AccessCache(ctx, l.cache, func(c service.Cache) {
		current, _ = c.Get(ctx, l.key)
	})
	if err != nil {
		return fmt.Errorf("checking the lease: %w", err)
	}
	if string(current) != l.token {
		l.mu.Lock()
		l.heldUntil = time.Time{}
		l.holder = string(current)
		l.mu.Unlock()
		l.log.Warnf("lost the collection lease %s to %q: this instance's commit is refused and it stands by", l.key, current)
		return fmt.Errorf("%w (now held by %q)", errLeaseLost, current)
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
	_ = l.res.AccessCache(ctx, l.cache, func(c service.Cache) {
		if v, err := c.Get(ctx, l.key); err == nil && string(v) == l.token {
			_ = c.Delete(ctx, l.key)
		}
	})
	l.mu.Lock()
	l.heldUntil = time.Time{}
	l.mu.Unlock()
}
