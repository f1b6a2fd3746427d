package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/cas"
	"github.com/compliance-connect/compliance-connect/caches/cas/castest"
	"github.com/compliance-connect/compliance-connect/caches/redis"
)

func TestLeaseHasOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	ok, _, err := c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a takes the free lease")

	ok, _, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "b cannot take a's lease")

	ok, _, err = c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "acquiring a lease one already holds succeeds (a restart with the same identity)")

	got, err := c.Get(ctx, "lease")
	require.NoError(t, err)
	assert.Equal(t, "a", string(got), "the lease's value names its holder")
}

func TestAcquiringNamesTheHolderAndRenewsOnlyOwnLease(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	raw := rawClient(t)

	ok, _, err := c.AcquireLease(ctx, "lease", "a", time.Second)
	require.NoError(t, err)
	require.True(t, ok)

	ok, holder, err := c.AcquireLease(ctx, "lease", "b", time.Hour)
	require.NoError(t, err)
	assert.False(t, ok, "b cannot take or renew a's lease")
	assert.Equal(t, "a", holder)
	pttl, err := raw.PTTL(ctx, c.Key("lease")).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, time.Second, "b's attempt changed nothing")

	ok, _, err = c.AcquireLease(ctx, "lease", "a", time.Hour)
	require.NoError(t, err)
	assert.True(t, ok)
	pttl, err = raw.PTTL(ctx, c.Key("lease")).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, time.Minute, "a's renewal reset the ttl")
}

func TestALeaseIsTakenOverAfterItsHolderStopsRenewing(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	fenceA := cas.Fence{Key: "lease", Token: "a"}
	fenceB := cas.Fence{Key: "lease", Token: "b"}

	ok, _, err := c.AcquireLease(ctx, "lease", "a", 100*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, c.Swap(ctx, "checkpoint", 0, castest.Doc(1, "a's commit"), fenceA), "the holder's fenced write goes through")

	// a dies (stops renewing); b polls until the ttl lets it in.
	require.Eventually(t, func() bool {
		ok, _, err := c.AcquireLease(ctx, "lease", "b", time.Minute)
		return err == nil && ok
	}, 10*time.Second, 10*time.Millisecond, "b takes the lease once a's ttl has passed")

	ok, holder, err := c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a learns on its next renewal that it lost the lease")
	assert.Equal(t, "b", holder)

	var fenced *cas.FencedError
	require.ErrorAs(t, c.Swap(ctx, "checkpoint", 1, castest.Doc(2, "a's late commit"), fenceA), &fenced,
		"a late commit from the old holder is refused, though its revision is current")
	assert.Equal(t, "b", fenced.Holder)
	require.NoError(t, c.Swap(ctx, "checkpoint", 1, castest.Doc(2, "b's commit"), fenceB))

	got, err := c.Get(ctx, "checkpoint")
	require.NoError(t, err)
	assert.Contains(t, string(got), "b's commit")
}

func TestOnlyTheHolderCanReleaseALease(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	ok, _, err := c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	ok, err = c.ReleaseLease(ctx, "lease", "b")
	require.NoError(t, err)
	assert.False(t, ok, "b cannot release a's lease")
	ok, _, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a still holds it")

	ok, err = c.ReleaseLease(ctx, "lease", "a")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, _, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a released lease is free at once, without waiting for the ttl")

	ok, err = c.ReleaseLease(ctx, "lease", "a")
	require.NoError(t, err)
	assert.False(t, ok, "releasing twice changes nothing")
}

func TestLeaseArgumentsAreValidatedBeforeAnyIO(t *testing.T) {
	ctx := context.Background()
	// No server listens there: every case must fail on its arguments alone.
	c, err := redis.NewClient(redis.Config{URL: "redis://" + closedPort(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	tests := []struct {
		name string
		call func() (bool, error)
		want string
	}{
		{"acquire without holder", func() (bool, error) { ok, _, err := c.AcquireLease(ctx, "l", "", time.Second); return ok, err }, "holder is empty"},
		{"acquire with zero ttl", func() (bool, error) { ok, _, err := c.AcquireLease(ctx, "l", "a", 0); return ok, err }, "lease ttl 0s must be positive"},
		{"acquire with negative ttl", func() (bool, error) { ok, _, err := c.AcquireLease(ctx, "l", "a", -time.Second); return ok, err }, "lease ttl -1s must be positive"},
		{"release without holder", func() (bool, error) { return c.ReleaseLease(ctx, "l", "") }, "holder is empty"},
		{"fenced swap without token", func() (bool, error) {
			return false, c.Swap(ctx, "k", 0, castest.Doc(1, "x"), cas.Fence{Key: "l"})
		}, "a fence needs a lease key and a token"},
		{"swap of a value that is not the next revision", func() (bool, error) {
			return false, c.Swap(ctx, "k", 0, castest.Doc(3, "x"), cas.Fence{})
		}, "a swap from 0 must write 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, err := tc.call()
			require.Error(t, err)
			assert.False(t, ok)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
