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

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
)

// stateStore is where an input's checkpoints live, as opened once for the
// input, the HTTP state endpoints and `compliance-connect state`.
type stateStore struct {
	checkpoint.Store
	// leaser holds the HA lease atomically (our redis cache); nil for
	// stores that cannot, where the lease falls back to add-then-read.
	leaser cas.Leaser
	// fenced is true when the store checks a lease fence atomically with
	// each write (our redis cache).
	fenced bool
	// warnings are logged by the input (the CLI prints them).
	warnings []string
}

// openStateStore opens the store that cfg names: the embedded directory
// (state.path) or a cache resource (state.cache). It is the one place that
// decides how checkpoints are written: our caches (atomic_file, redis) and
// the directory through their atomic compare-and-swap, any other cache
// through a locked read-compare-write (see fallbackStore).
func openStateStore(ctx context.Context, res *service.Resources, cfg *inputConfig, o options) (*stateStore, error) {
	if cfg.StateCache == "" {
		s, err := atomicfile.Open(cfg.StatePath)
		if err != nil {
			return nil, fmt.Errorf("state.path: %w", err)
		}
		st := &stateStore{Store: casStore{s: s.CAS(), describe: func(key string) string { return "file " + s.Path(key) }}}
		if warn := atomicfile.CheckPermissions(s.Dir()); warn != "" {
			st.warnings = append(st.warnings, "state.path: "+warn)
		}
		return st, nil
	}
	if res == nil || !res.HasCache(cfg.StateCache) {
		return nil, fmt.Errorf("state.cache: cache resource %q was not found; declare it under cache_resources", cfg.StateCache)
	}
	st := &stateStore{}
	if o.cacheResource == nil {
		st.warnings = append(st.warnings, fmt.Sprintf("state.cache: cannot verify that cache resource %q is durable and keeps items forever; "+
			"memory, lru, ttlru and noop caches lose the checkpoint (a restart re-collects from `earliest`), and a default TTL expires it", cfg.StateCache))
	} else if r, known := o.cacheResource(cfg.StateCache); known {
		warn, err := checkStateCache(cfg.StateCache, r, cfg.AllowVolatile)
		if err != nil {
			return nil, err
		}
		if warn != "" {
			st.warnings = append(st.warnings, warn)
		}
	}
	// Cache resources are built on first access: build it, so that it has
	// registered its compare-and-swap (if it is one of ours) and so that a
	// broken cache fails here, naming itself.
	if err := res.AccessCache(ctx, cfg.StateCache, func(service.Cache) {}); err != nil {
		return nil, fmt.Errorf("state.cache: cache resource %q: %w", cfg.StateCache, err)
	}
	describe := func(key string) string { return fmt.Sprintf("cache resource %q key %q", cfg.StateCache, key) }
	if s, ok := cas.Lookup(res, cfg.StateCache); ok {
		st.Store = casStore{s: s, describe: describe}
		st.leaser, _ = s.(cas.Leaser)
		st.fenced = st.leaser != nil
		if cfg.Lease && st.leaser == nil {
			return nil, fmt.Errorf("state.lease: cache resource %q cannot hold a lease shared by several instances (it is a local directory); use a redis cache", cfg.StateCache)
		}
		return st, nil
	}
	st.Store = newFallbackStore(res, cfg.StateCache, describe)
	if cfg.Lease {
		st.warnings = append(st.warnings, fmt.Sprintf("state.lease: cache resource %q is not one of this module's caches: the lease is taken "+
			"with add-then-read and the fence is checked before, not atomically with, each write; use the redis cache of compliance-connect "+
			"for a lease and fence that are atomic", cfg.StateCache))
	}
	return st, nil
}

// casStore adapts one of our caches' compare-and-swap (cas.Store) to the
// checkpoint keeper's Store.
type casStore struct {
	s        cas.Store
	describe func(key string) string
}

func (c casStore) Load(ctx context.Context, key string) ([]byte, error) {
	v, err := c.s.Get(ctx, key)
	if errors.Is(err, cas.ErrNotFound) {
		return nil, checkpoint.ErrNotFound
	}
	return v, err
}

func (c casStore) Swap(ctx context.Context, key string, expect int64, value []byte, f checkpoint.Fence) error {
	return fromCAS(c.s.Swap(ctx, key, expect, value, cas.Fence(f)))
}

func (c casStore) Describe(key string) string { return c.describe(key) }

// fromCAS maps the cas errors to the checkpoint package's.
func fromCAS(err error) error {
	if conflict, ok := errors.AsType[*cas.ConflictError](err); ok {
		return &checkpoint.ConflictError{Expected: conflict.Expected, Found: conflict.Found, FoundMissing: conflict.Missing}
	}
	if fenced, ok := errors.AsType[*cas.FencedError](err); ok {
		return fmt.Errorf("%w (%v)", checkpoint.ErrFenced, fenced)
	}
	if errors.Is(err, cas.ErrUnreadable) {
		return fmt.Errorf("%w: %v", checkpoint.ErrUnreadable, err)
	}
	return err
}

//------------------------------------------------------------------------------

// fallbackLockTTL bounds how long a crashed writer's lock entry blocks the
// others in a cache that honours TTLs.
const fallbackLockTTL = 30 * time.Second

// fallbackLockWait is how long a write waits for another writer's lock.
const fallbackLockWait = 10 * time.Second

// fallbackStore writes checkpoints to a cache that is not one of ours (e.g.
// Redpanda Connect's redis, or a volatile cache allowed by allow_volatile)
// with a read-compare-write made exclusive by
//   - a mutex per key, for every writer of this process (the jobs and the
//     HTTP endpoints of the input), which is complete for in-process caches;
//   - a lock entry <key>.lock added with Add and a TTL, for writers in
//     other processes (`compliance-connect state`, other instances).
//
// Its weaknesses, stated in the README: a writer that stalls longer than the
// lock's TTL (30s) between its read and its write can overlap with the next
// writer; a cache that ignores TTLs keeps the lock of a writer killed
// mid-write until it is deleted by hand (the error names it); a lease fence
// is checked before the write, not atomically with it.
type fallbackStore struct {
	res      *service.Resources
	name     string
	describe func(key string) string
	token    string

	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func newFallbackStore(res *service.Resources, name string, describe func(string) string) *fallbackStore {
	return &fallbackStore{res: res, name: name, describe: describe, token: writerToken(), locks: map[string]*sync.Mutex{}}
}

// writerToken names this process for lock and lease entries.
func writerToken() string {
	host, _ := os.Hostname()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b))
}

func (f *fallbackStore) access(ctx context.Context, fn func(service.Cache) error) error {
	var inner error
	if err := f.res.AccessCache(ctx, f.name, func(c service.Cache) { inner = fn(c) }); err != nil {
		return fmt.Errorf("cache resource %q: %w", f.name, err)
	}
	return inner
}

func (f *fallbackStore) Describe(key string) string { return f.describe(key) }

func (f *fallbackStore) Load(ctx context.Context, key string) ([]byte, error) {
	var out []byte
	err := f.access(ctx, func(c service.Cache) error {
		v, err := c.Get(ctx, key)
		if errors.Is(err, service.ErrKeyNotFound) {
			return checkpoint.ErrNotFound
		}
		out = v
		return err
	})
	return out, err
}

func (f *fallbackStore) keyLock(key string) *sync.Mutex {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.locks[key]
	if !ok {
		l = &sync.Mutex{}
		f.locks[key] = l
	}
	return l
}

func (f *fallbackStore) Swap(ctx context.Context, key string, expect int64, value []byte, fence checkpoint.Fence) error {
	if err := cas.CheckNext(expect, value); err != nil {
		return err
	}
	l := f.keyLock(key)
	l.Lock()
	defer l.Unlock()
	return f.access(ctx, func(c service.Cache) error {
		lockKey := key + ".lock"
		if err := f.lock(ctx, c, lockKey); err != nil {
			return err
		}
		defer f.unlock(c, lockKey)
		if fence != (checkpoint.Fence{}) {
			holder, err := c.Get(ctx, fence.Key)
			if err != nil && !errors.Is(err, service.ErrKeyNotFound) {
				return fmt.Errorf("checking the lease %s: %w", fence.Key, err)
			}
			if string(holder) != fence.Token {
				return fmt.Errorf("%w (the lease %s is held by %q)", checkpoint.ErrFenced, fence.Key, holder)
			}
		}
		stored, err := c.Get(ctx, key)
		missing := errors.Is(err, service.ErrKeyNotFound)
		if err != nil && !missing {
			return err
		}
		var found int64
		var revErr error
		if !missing {
			found, revErr = cas.Rev(stored)
		}
		switch {
		case expect == checkpoint.ReplaceUnreadable:
			if revErr == nil {
				return &checkpoint.ConflictError{Expected: expect, Found: found, FoundMissing: missing}
			}
		case revErr != nil:
			return fmt.Errorf("%w: %v", checkpoint.ErrUnreadable, revErr)
		case missing && expect != 0, !missing && found != expect:
			return &checkpoint.ConflictError{Expected: expect, Found: found, FoundMissing: missing}
		}
		return c.Set(ctx, key, value, nil)
	})
}

// lock adds the lock entry, waiting up to fallbackLockWait for another
// writer's to go.
func (f *fallbackStore) lock(ctx context.Context, c service.Cache, lockKey string) error {
	ttl := fallbackLockTTL
	deadline := time.Now().Add(fallbackLockWait)
	wait := 5 * time.Millisecond
	for {
		err := c.Add(ctx, lockKey, []byte(f.token), &ttl)
		if err == nil {
			return nil
		}
		if !errors.Is(err, service.ErrKeyAlreadyExists) {
			return fmt.Errorf("taking the write lock %s: %w", lockKey, err)
		}
		if time.Now().After(deadline) {
			holder, _ := c.Get(ctx, lockKey)
			return fmt.Errorf("the write lock %s of cache resource %q is held by %q for more than %v: if no writer is running "+
				"(a writer killed mid-write in a cache that ignores TTLs), delete that key", lockKey, f.name, holder, fallbackLockWait)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// unlock removes the lock entry if it is still ours.
func (f *fallbackStore) unlock(c service.Cache, lockKey string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if v, err := c.Get(ctx, lockKey); err == nil && string(v) == f.token {
		_ = c.Delete(ctx, lockKey)
	}
}

//------------------------------------------------------------------------------

// openStore opens the input's checkpoint store and logs what deserves a
// warning about it.
func (in *input) openStore() (*stateStore, error) {
	st, err := openStateStore(context.Background(), in.mgr, in.cfg, in.opts)
	if err != nil {
		return nil, err
	}
	for _, w := range st.warnings {
		in.log.Warn(w)
	}
	if err := in.checkStateWrites(); err != nil {
		return nil, err
	}
	in.apiClock = &serverClock{local: in.opts.now}
	in.stateMetrics = newStateMetrics(in.mgr.Metrics())
	return st, nil
}

// attachState gives the Activity Feed endpoint with state tracking its
// keeper (fenced by the HA lease, with the seen cap) and its state target.
func (in *input) attachState(r *endpointRunner, ep endpointConfig, store *stateStore, deps *collector.Deps) {
	cfg := in.cfg
	log := in.log.With("endpoint", ep.Name)
	opts := []checkpoint.Option{checkpoint.WithSeenCap(cfg.MaxSeenIDs, in.stateMetrics.observeSeen(ep.Name, cfg.MaxSeenIDs, log))}
	if r.lease != nil {
		deps.Fence = r.lease.fence
		opts = append(opts, checkpoint.WithFence(r.lease.Fence()))
	}
	deps.Keeper = checkpoint.NewKeeper(store, r.key, opts...)
	r.target = newStateTarget(cfg, in.mgr.Label(), ep, store, in.apiClock.now)
}

// stateMetrics are the checkpoint's own metrics.
type stateMetrics struct {
	seenIDs     *service.MetricGauge
	seenDropped *service.MetricCounter
}

func newStateMetrics(m *service.Metrics) *stateMetrics {
	return &stateMetrics{
		seenIDs:     m.NewGauge("compliance_checkpoint_seen_ids", "endpoint"),
		seenDropped: m.NewCounter("compliance_checkpoint_seen_dropped", "endpoint"),
	}
}

// observeSeen reports each commit's seen set, and warns when the cap dropped
// ids (which are then delivered again if the overlap re-reads them).
func (m *stateMetrics) observeSeen(endpoint string, max int, log inputLog) func(checkpoint.SeenStats) {
	return func(s checkpoint.SeenStats) {
		m.seenIDs.Set(int64(s.IDs), endpoint)
		if s.Dropped == 0 {
			return
		}
		m.seenDropped.Incr(int64(s.Dropped), endpoint)
		log.Warnf("the checkpoint's seen ids reached state.max_seen_ids (%d): %d ids created before %s were dropped from it. "+
			"Activities of those seconds that a later job re-reads in its overlap are delivered again (duplicates, never a gap); "+
			"raise state.max_seen_ids or lower overlap if this repeats", max, s.Dropped, s.KeptFrom.Format(time.RFC3339))
	}
}
