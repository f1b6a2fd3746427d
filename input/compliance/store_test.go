package compliance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/caches/cas/castest"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// casView lets the cas conformance suite run against a checkpoint.Store.
type casView struct{ s checkpoint.Store }

func (v casView) Get(ctx context.Context, key string) ([]byte, error) {
	b, err := v.s.Load(ctx, key)
	if errors.Is(err, checkpoint.ErrNotFound) {
		return nil, cas.ErrNotFound
	}
	return b, err
}

func (v casView) Swap(ctx context.Context, key string, expect int64, value []byte, f cas.Fence) error {
	err := v.s.Swap(ctx, key, expect, value, checkpoint.Fence(f))
	if c, ok := errors.AsType[*checkpoint.ConflictError](err); ok {
		return &cas.ConflictError{Expected: c.Expected, Found: c.Found, Missing: c.FoundMissing}
	}
	if errors.Is(err, checkpoint.ErrFenced) {
		return &cas.FencedError{Lease: f.Key, Holder: "other"}
	}
	if errors.Is(err, checkpoint.ErrUnreadable) {
		return fmt.Errorf("%w: %v", cas.ErrUnreadable, err)
	}
	return err
}

func mockCache(t *testing.T) *service.Resources {
	t.Helper()
	return service.MockResources(service.MockResourcesOptAddCache("c"))
}

// Other caches (not this module's) get a locked read-compare-write with the
// same contract; two stores on one cache stand for two processes.
func TestTheFallbackStoreConformsToTheCASContract(t *testing.T) {
	castest.Run(t, castest.Harness{
		New: func(t *testing.T) (cas.Store, func(string, []byte)) {
			res := mockCache(t)
			put := func(key string, raw []byte) {
				require.NoError(t, res.AccessCache(context.Background(), "c", func(c service.Cache) {
					require.NoError(t, c.Set(context.Background(), key, raw, nil))
				}))
			}
			return casView{newFallbackStore(res, "c", func(k string) string { return k })}, put
		},
		Hold: func(t *testing.T, s cas.Store, key, token string) {
			f := s.(casView).s.(*fallbackStore)
			require.NoError(t, f.res.AccessCache(context.Background(), "c", func(c service.Cache) {
				require.NoError(t, c.Set(context.Background(), key, []byte(token), nil))
			}))
		},
	})
}

func TestFallbackStoresOfTwoProcessesNeverLoseAnUpdate(t *testing.T) {
	ctx := context.Background()
	res := mockCache(t)
	a := newFallbackStore(res, "c", func(k string) string { return k })
	b := newFallbackStore(res, "c", func(k string) string { return k })
	require.NoError(t, a.Swap(ctx, "k", 0, castest.Doc(1, "start"), checkpoint.Fence{}))
	var wg sync.WaitGroup
	const each = 40
	for _, s := range []*fallbackStore{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				v, err := s.Load(ctx, "k")
				if !assert.NoError(t, err) {
					return
				}
				rev, _ := cas.Rev(v)
				err = s.Swap(ctx, "k", rev, castest.Doc(rev+1, "x"), checkpoint.Fence{})
				if _, conflict := errors.AsType[*checkpoint.ConflictError](err); conflict {
					continue
				}
				if !assert.NoError(t, err) {
					return
				}
				i++
			}
		}()
	}
	wg.Wait()
	v, err := a.Load(ctx, "k")
	require.NoError(t, err)
	rev, err := cas.Rev(v)
	require.NoError(t, err)
	assert.EqualValues(t, 1+2*each, rev)
	_, err = a.Load(ctx, "k.lock")
	assert.ErrorIs(t, err, checkpoint.ErrNotFound, "the write lock is removed after each write")
}

func TestAFallbackLockLeftByADeadWriterIsReportedByName(t *testing.T) {
	ctx := context.Background()
	res := mockCache(t)
	s := newFallbackStore(res, "c", func(k string) string { return k })
	// A writer killed mid-write in a cache that ignores TTLs.
	require.NoError(t, res.AccessCache(ctx, "c", func(c service.Cache) {
		require.NoError(t, c.Set(ctx, "k.lock", []byte("dead-host/42/abc"), nil))
	}))
	ctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	err := s.Swap(ctx, "k", 0, castest.Doc(1, "x"), checkpoint.Fence{})
	require.ErrorIs(t, err, context.DeadlineExceeded, "the wait ends with the caller's context")
}

// The document the keeper writes is one whose revision the stores read from
// its first bytes (the cas contract), whatever its size.
func TestCheckpointDocumentsHaveTheirRevisionAtTheHead(t *testing.T) {
	rec := checkpoint.New(checkpoint.Identity{Endpoint: "activities", BaseURL: "https://api.anthropic.com", Filters: "sha256:x"}, time.Now())
	for i := range 20000 {
		rec.Seen.Add(fmt.Sprintf("activity_%024d", i), time.Now())
	}
	rec.Rev = 123456789
	doc, err := rec.Encode()
	require.NoError(t, err)
	rev, ok := cas.HeadRev(doc)
	require.True(t, ok, "%s", doc[:cas.HeadSize])
	assert.EqualValues(t, 123456789, rev)
	tomb, err := checkpoint.Tombstone(rec.Identity, 7, time.Now())
	require.NoError(t, err)
	rev, ok = cas.HeadRev(tomb)
	require.True(t, ok)
	assert.EqualValues(t, 7, rev)
	assert.True(t, bytes.HasPrefix(doc, []byte("{\n  \"rev\": ")))
}

func TestCheckStateCacheRefusesStoresThatForget(t *testing.T) {
	tests := []struct {
		name          string
		r             CacheResource
		allowVolatile bool
		want          []string // "" : accepted
	}{
		{"core file cache", CacheResource{Type: "file", Config: map[string]any{"directory": "/tmp"}}, false, []string{"core `file` cache", "state.path", "atomic_file"}},
		{"memory", CacheResource{Type: "memory", Config: map[string]any{}}, false, []string{"memory cache", "state.allow_volatile"}},
		{"memory allowed, compaction on: default_ttl 5m", CacheResource{Type: "memory", Config: map[string]any{}}, true, []string{"default_ttl", "5m", `compaction_interval: ""`}},
		{"memory allowed, compaction off", CacheResource{Type: "memory", Config: map[string]any{"compaction_interval": ""}}, true, nil},
		{"ttlru allowed", CacheResource{Type: "ttlru", Config: map[string]any{}}, true, []string{"default_ttl", "always expires"}},
		{"a foreign cache with default_ttl", CacheResource{Type: "memcached", Config: map[string]any{"default_ttl": "300s"}}, false, []string{"memcached", "default_ttl", "300s", "remove default_ttl"}},
		{"a foreign cache without one", CacheResource{Type: "memcached", Config: map[string]any{}}, false, nil},
		{"our redis with default_ttl (checkpoints never get one)", CacheResource{Type: "redis", Config: map[string]any{"default_ttl": "60s"}}, false, nil},
		{"atomic_file", CacheResource{Type: "atomic_file", Config: map[string]any{"directory": "/tmp"}}, false, nil},
		{"config unknown (WithCacheTypes)", CacheResource{Type: "memcached"}, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := checkStateCache("state", tc.r, tc.allowVolatile)
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}
