package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/caches/cas/castest"
)

func TestSwapConformsToTheCASContract(t *testing.T) {
	castest.Run(t, castest.Harness{
		New: func(t *testing.T) (cas.Store, func(string, []byte)) {
			c := newClient(t)
			return c.CAS(), func(key string, raw []byte) { require.NoError(t, c.Set(context.Background(), key, raw, 0)) }
		},
		Hold: func(t *testing.T, s cas.Store, key, token string) {
			l, ok := s.(cas.Leaser)
			require.True(t, ok)
			ctx := context.Background()
			// Free the lease from whoever holds it, then give it to token.
			for _, holder := range []string{"me", "other"} {
				_, _ = l.ReleaseLease(ctx, key, holder)
			}
			if token != "" {
				held, _, err := l.AcquireLease(ctx, key, token, time.Minute)
				require.NoError(t, err)
				require.True(t, held)
			}
		},
	})
}

// A checkpoint is written with no expiry even when the cache's default_ttl is
// set and even over a key that had one.
func TestSwapNeverGivesTheDocumentATTL(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	raw := rawClient(t)
	require.NoError(t, c.Set(ctx, "k", castest.Doc(1, "old"), time.Hour))
	require.NoError(t, c.Swap(ctx, "k", 1, castest.Doc(2, "new"), cas.Fence{}))
	pttl, err := raw.PTTL(ctx, c.Key("k")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), pttl)
}
