// Package castest is the conformance suite of cas.Store implementations: the
// same scenarios run against the atomic_file directory, redis and the
// input's fallback for other caches.
package castest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/cas"
)

// Harness builds the store under test.
type Harness struct {
	// New returns an empty store and a way to put a raw value behind its
	// back (fixtures: corrupt or old documents).
	New func(t *testing.T) (s cas.Store, put func(key string, raw []byte))
	// Hold makes token the holder of the lease key in s, or gives it up
	// with token "". Nil when the store cannot fence: Swap with a fence
	// must then fail.
	Hold func(t *testing.T, s cas.Store, key, token string)
}

// Doc returns a document of revision rev under the contract.
func Doc(rev int64, body string) []byte {
	return fmt.Appendf(nil, `{"rev":%d,"body":%q}`, rev, body)
}

// Run runs every scenario.
func Run(t *testing.T, h Harness) {
	ctx := context.Background()
	t.Run("a swap from 0 creates, and a second one conflicts", func(t *testing.T) {
		s, _ := h.New(t)
		_, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, cas.ErrNotFound)
		require.NoError(t, s.Swap(ctx, "k", 0, Doc(1, "first"), cas.Fence{}))
		err = s.Swap(ctx, "k", 0, Doc(1, "second"), cas.Fence{})
		var conflict *cas.ConflictError
		require.ErrorAs(t, err, &conflict)
		assert.Equal(t, int64(1), conflict.Found)
		assert.False(t, conflict.Missing)
		requireBody(t, s, "k", "first")
	})
	t.Run("a stale revision conflicts and writes nothing", func(t *testing.T) {
		s, _ := h.New(t)
		require.NoError(t, s.Swap(ctx, "k", 0, Doc(1, "a"), cas.Fence{}))
		require.NoError(t, s.Swap(ctx, "k", 1, Doc(2, "b"), cas.Fence{}))
		err := s.Swap(ctx, "k", 1, Doc(2, "late"), cas.Fence{})
		var conflict *cas.ConflictError
		require.ErrorAs(t, err, &conflict)
		assert.Equal(t, int64(2), conflict.Found)
		requireBody(t, s, "k", "b")
	})
	t.Run("a swap expecting a document on a missing key conflicts as missing", func(t *testing.T) {
		s, _ := h.New(t)
		err := s.Swap(ctx, "k", 3, Doc(4, "x"), cas.Fence{})
		var conflict *cas.ConflictError
		require.ErrorAs(t, err, &conflict)
		assert.True(t, conflict.Missing)
		_, err = s.Get(ctx, "k")
		require.ErrorIs(t, err, cas.ErrNotFound)
	})
	t.Run("the new value must be the next revision", func(t *testing.T) {
		s, _ := h.New(t)
		require.Error(t, s.Swap(ctx, "k", 0, Doc(5, "x"), cas.Fence{}))
		require.Error(t, s.Swap(ctx, "k", 0, []byte("not a document"), cas.Fence{}))
		_, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, cas.ErrNotFound)
	})
	t.Run("a document with its rev last (written before the contract) is compared by a full read", func(t *testing.T) {
		s, put := h.New(t)
		put("k", []byte("{\n  \"version\": 1,\n  \"state\": {\"rev\": 99},\n  \"rev\": 7,\n  \"updated_at\": \"x\"\n}"))
		var conflict *cas.ConflictError
		require.ErrorAs(t, s.Swap(ctx, "k", 6, Doc(7, "no"), cas.Fence{}), &conflict)
		assert.Equal(t, int64(7), conflict.Found, "the top-level rev, not the one inside state")
		require.NoError(t, s.Swap(ctx, "k", 7, Doc(8, "migrated"), cas.Fence{}))
		requireBody(t, s, "k", "migrated")
	})
	t.Run("an unreadable value is only replaced on purpose", func(t *testing.T) {
		s, put := h.New(t)
		put("k", []byte("{torn"))
		require.ErrorIs(t, s.Swap(ctx, "k", 1, Doc(2, "x"), cas.Fence{}), cas.ErrUnreadable)
		require.NoError(t, s.Swap(ctx, "k", cas.ReplaceUnreadable, Doc(1, "repaired"), cas.Fence{}))
		requireBody(t, s, "k", "repaired")
		var conflict *cas.ConflictError
		require.ErrorAs(t, s.Swap(ctx, "k", cas.ReplaceUnreadable, Doc(9, "again"), cas.Fence{}), &conflict,
			"a readable document is never replaced blindly")
	})
	t.Run("concurrent writers never lose an update", func(t *testing.T) {
		s, _ := h.New(t)
		require.NoError(t, s.Swap(ctx, "k", 0, Doc(1, "w"), cas.Fence{}))
		const writers, each = 4, 25
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < each; {
					v, err := s.Get(ctx, "k")
					if !assert.NoError(t, err) {
						return
					}
					rev, err := cas.Rev(v)
					if !assert.NoError(t, err) {
						return
					}
					err = s.Swap(ctx, "k", rev, Doc(rev+1, fmt.Sprintf("w%d-%d", w, i)), cas.Fence{})
					if _, conflict := errors.AsType[*cas.ConflictError](err); conflict {
						continue // another writer won this revision: read again
					}
					if !assert.NoError(t, err) {
						return
					}
					mu.Lock()
					won++
					mu.Unlock()
					i++
				}
			}()
		}
		wg.Wait()
		v, err := s.Get(ctx, "k")
		require.NoError(t, err)
		rev, err := cas.Rev(v)
		require.NoError(t, err)
		assert.Equal(t, int64(1+won), rev, "every successful swap moved the revision by exactly one")
		assert.Equal(t, writers*each, won)
	})
	t.Run("a fenced swap needs the lease", func(t *testing.T) {
		s, _ := h.New(t)
		fence := cas.Fence{Key: "k.lease", Token: "me"}
		if h.Hold == nil {
			require.Error(t, s.Swap(ctx, "k", 0, Doc(1, "x"), fence), "a store without leases refuses a fence")
			return
		}
		var fenced *cas.FencedError
		require.ErrorAs(t, s.Swap(ctx, "k", 0, Doc(1, "x"), fence), &fenced, "nobody holds the lease")
		h.Hold(t, s, "k.lease", "other")
		require.ErrorAs(t, s.Swap(ctx, "k", 0, Doc(1, "x"), fence), &fenced)
		assert.Equal(t, "other", fenced.Holder)
		_, err := s.Get(ctx, "k")
		require.ErrorIs(t, err, cas.ErrNotFound, "a fenced-out swap writes nothing")
		h.Hold(t, s, "k.lease", "me")
		require.NoError(t, s.Swap(ctx, "k", 0, Doc(1, "mine"), fence))
		requireBody(t, s, "k", "mine")
	})
}

func requireBody(t *testing.T, s cas.Store, key, body string) {
	t.Helper()
	v, err := s.Get(context.Background(), key)
	require.NoError(t, err)
	assert.Contains(t, string(v), fmt.Sprintf("%q", body))
}
