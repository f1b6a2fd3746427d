package redis_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/redis"
)

func TestLeaseHasOneHolderAtATime(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	ok, err := c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a takes the free lease")

	ok, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "b cannot take a's lease")

	ok, err = c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "acquiring a lease one already holds succeeds (a restart with the same identity)")

	got, err := c.Get(ctx, "lease")
	require.NoError(t, err)
	assert.Equal(t, "a", string(got), "the lease's value names its holder")
}

func TestOnlyTheHolderCanRenewALease(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	raw := rawClient(t)

	ok, err := c.AcquireLease(ctx, "lease", "a", time.Second)
	require.NoError(t, err)
	require.True(t, ok)

	ok, err = c.RenewLease(ctx, "lease", "b", time.Hour)
	require.NoError(t, err)
	assert.False(t, ok, "b cannot renew a's lease")
	pttl, err := raw.PTTL(ctx, c.Key("lease")).Result()
	require.NoError(t, err)
	assert.LessOrEqual(t, pttl, time.Second, "b's renewal changed nothing")

	ok, err = c.RenewLease(ctx, "lease", "a", time.Hour)
	require.NoError(t, err)
	assert.True(t, ok)
	pttl, err = raw.PTTL(ctx, c.Key("lease")).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, time.Minute, "a's renewal reset the ttl")

	require.NoError(t, c.Delete(ctx, "lease"))
	ok, err = c.RenewLease(ctx, "lease", "a", time.Hour)
	require.NoError(t, err)
	assert.False(t, ok, "a lease that is gone cannot be renewed")
	_, err = c.Get(ctx, "lease")
	require.Error(t, err, "renewing does not recreate it")
}

func TestALeaseIsTakenOverAfterItsHolderStopsRenewing(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	ok, err := c.AcquireLease(ctx, "lease", "a", 100*time.Millisecond)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = c.SetFenced(ctx, "lease", "a", "checkpoint", []byte("a's commit"), 0)
	require.NoError(t, err)
	require.True(t, ok, "the holder's fenced write goes through")

	// a dies (stops renewing); b polls until the ttl lets it in.
	require.Eventually(t, func() bool {
		ok, err := c.AcquireLease(ctx, "lease", "b", time.Minute)
		return err == nil && ok
	}, 10*time.Second, 10*time.Millisecond, "b takes the lease once a's ttl has passed")

	ok, err = c.RenewLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a learns on its next renewal that it lost the lease")

	ok, err = c.SetFenced(ctx, "lease", "a", "checkpoint", []byte("a's late commit"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "a late commit from the old holder is refused")
	ok, err = c.SetFenced(ctx, "lease", "b", "checkpoint", []byte("b's commit"), 0)
	require.NoError(t, err)
	assert.True(t, ok)

	got, err := c.Get(ctx, "checkpoint")
	require.NoError(t, err)
	assert.Equal(t, "b's commit", string(got))
}

func TestOnlyTheHolderCanReleaseALease(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	ok, err := c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)

	ok, err = c.ReleaseLease(ctx, "lease", "b")
	require.NoError(t, err)
	assert.False(t, ok, "b cannot release a's lease")
	ok, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.False(t, ok, "a still holds it")

	ok, err = c.ReleaseLease(ctx, "lease", "a")
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = c.AcquireLease(ctx, "lease", "b", time.Minute)
	require.NoError(t, err)
	assert.True(t, ok, "a released lease is free at once, without waiting for the ttl")

	ok, err = c.ReleaseLease(ctx, "lease", "a")
	require.NoError(t, err)
	assert.False(t, ok, "releasing twice changes nothing")
}

func TestSetFencedAppliesTheTTLAndStoresNothingWithoutTheLease(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	raw := rawClient(t)

	ok, err := c.SetFenced(ctx, "lease", "a", "checkpoint", []byte("v"), 0)
	require.NoError(t, err)
	assert.False(t, ok, "nobody holds the lease")
	_, err = c.Get(ctx, "checkpoint")
	require.Error(t, err, "nothing was written")

	ok, err = c.AcquireLease(ctx, "lease", "a", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = c.SetFenced(ctx, "lease", "a", "checkpoint", []byte("v"), time.Hour)
	require.NoError(t, err)
	require.True(t, ok)
	pttl, err := raw.PTTL(ctx, c.Key("checkpoint")).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, time.Minute)

	ok, err = c.SetFenced(ctx, "lease", "a", "checkpoint", []byte("v2"), 0)
	require.NoError(t, err)
	require.True(t, ok)
	pttl, err = raw.PTTL(ctx, c.Key("checkpoint")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), pttl, "ttl 0 means no expiry")
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
		{"acquire without holder", func() (bool, error) { return c.AcquireLease(ctx, "l", "", time.Second) }, "holder is empty"},
		{"acquire with zero ttl", func() (bool, error) { return c.AcquireLease(ctx, "l", "a", 0) }, "lease ttl 0s must be positive"},
		{"renew with negative ttl", func() (bool, error) { return c.RenewLease(ctx, "l", "a", -time.Second) }, "lease ttl -1s must be positive"},
		{"release without holder", func() (bool, error) { return c.ReleaseLease(ctx, "l", "") }, "holder is empty"},
		{"fenced set without holder", func() (bool, error) { return c.SetFenced(ctx, "l", "", "k", nil, 0) }, "holder is empty"},
		{"fenced set with negative ttl", func() (bool, error) { return c.SetFenced(ctx, "l", "a", "k", nil, -time.Second) }, "ttl -1s is negative"},
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
