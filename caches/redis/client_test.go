package redis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/redis"
)

func TestClientSetGetAddDelete(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	value := []byte{0, 1, 2, 0xff, '\n'}

	require.NoError(t, c.Set(ctx, "checkpoint", value, 0))
	got, err := c.Get(ctx, "checkpoint")
	require.NoError(t, err)
	assert.Equal(t, value, got, "values are binary-safe")

	require.NoError(t, c.Add(ctx, "added", []byte("first"), 0))
	err = c.Add(ctx, "added", []byte("second"), 0)
	require.ErrorIs(t, err, redis.ErrExists)
	got, err = c.Get(ctx, "added")
	require.NoError(t, err)
	assert.Equal(t, "first", string(got), "a refused Add leaves the value alone")

	require.NoError(t, c.Delete(ctx, "added"))
	_, err = c.Get(ctx, "added")
	require.ErrorIs(t, err, redis.ErrNotFound)
	assert.Contains(t, err.Error(), c.Key("added"))
	require.NoError(t, c.Delete(ctx, "added"), "deleting a missing key is not an error")
}

func TestSetWithoutTTLNeverExpires(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	raw := rawClient(t)

	require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Hour))
	pttl, err := raw.PTTL(ctx, c.Key("k")).Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, time.Duration(0), "a ttl is applied with the value")

	require.NoError(t, c.Set(ctx, "k", []byte("v2"), 0))
	pttl, err = raw.PTTL(ctx, c.Key("k")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), pttl, "a Set without ttl clears the expiry")

	require.NoError(t, c.Add(ctx, "added", []byte("v"), 0))
	pttl, err = raw.PTTL(ctx, c.Key("added")).Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), pttl)
}

func TestSetWithTTLExpires(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)

	for name, write := range map[string]func() error{
		"set": func() error { return c.Set(ctx, "set", []byte("v"), 50*time.Millisecond) },
		"add": func() error { return c.Add(ctx, "add", []byte("v"), 50*time.Millisecond) },
	} {
		require.NoError(t, write(), name)
		require.Eventually(t, func() bool {
			_, err := c.Get(ctx, name)
			return errors.Is(err, redis.ErrNotFound)
		}, 10*time.Second, 10*time.Millisecond, "%s: the key expires", name)
	}
}

func TestSubMillisecondTTLIsRoundedUpNotDropped(t *testing.T) {
	ctx := context.Background()
	c := newClient(t)
	require.NoError(t, c.Set(ctx, "k", []byte("v"), time.Microsecond))
	require.Eventually(t, func() bool {
		_, err := c.Get(ctx, "k")
		return errors.Is(err, redis.ErrNotFound)
	}, 10*time.Second, 10*time.Millisecond, "a 1µs ttl still expires (it is not read as 'no expiry')")
}

func TestNegativeTTLIsRefused(t *testing.T) {
	c := newClient(t)
	err := c.Set(context.Background(), "k", []byte("v"), -time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ttl -1s is negative")
}

func TestPrefixIsolatesClients(t *testing.T) {
	ctx := context.Background()
	url := redisURL(t)
	base := testPrefix(t)
	a, err := redis.NewClient(redis.Config{URL: url, Prefix: base + "a/"})
	require.NoError(t, err)
	b, err := redis.NewClient(redis.Config{URL: url, Prefix: base + "b/"})
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = a.Delete(ctx, "k")
		_ = b.Delete(ctx, "k")
	})

	require.NoError(t, a.Set(ctx, "k", []byte("from a"), 0))
	_, err = b.Get(ctx, "k")
	require.ErrorIs(t, err, redis.ErrNotFound, "b does not see a's key")
	require.NoError(t, b.Add(ctx, "k", []byte("from b"), 0), "b's Add is not blocked by a's key")

	raw := rawClient(t)
	got, err := raw.Get(ctx, base+"a/k").Result()
	require.NoError(t, err)
	assert.Equal(t, "from a", got, "the prefix is prepended verbatim")
	got, err = raw.Get(ctx, base+"b/k").Result()
	require.NoError(t, err)
	assert.Equal(t, "from b", got)
}

func TestAuthFailureNamesTheServerButNotThePassword(t *testing.T) {
	const password = "s3cr3t-Pa55"
	srv := rawClient(t).Options().Addr
	tests := []struct {
		name string
		conf redis.Config
	}{
		{"password in the url", redis.Config{URL: "redis://nobody:" + password + "@" + srv + "/0"}},
		{"password field", redis.Config{URL: "redis://" + srv + "/0", Username: "nobody", Password: password}},
		{"password field overrides the url", redis.Config{URL: "redis://nobody:other@" + srv + "/0", Password: password}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redis.NewClient(tc.conf)
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })

			for op, err := range map[string]error{
				"ping": c.Ping(context.Background()),
				"set":  c.Set(context.Background(), "k", []byte("v"), 0),
			} {
				require.Error(t, err, op)
				assert.Contains(t, err.Error(), "redis "+srv+":", op)
				assert.Contains(t, err.Error(), "WRONGPASS", op)
				assert.NotContains(t, err.Error(), password, op)
				assert.NotContains(t, err.Error(), "other", op)
			}
		})
	}
}

func TestConnectionErrorNamesTheAddress(t *testing.T) {
	addr := closedPort(t)
	c, err := redis.NewClient(redis.Config{URL: "redis://user:s3cr3t@" + addr, Timeout: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })

	_, err = c.Get(context.Background(), "k")
	require.Error(t, err)
	assert.NotErrorIs(t, err, redis.ErrNotFound)
	assert.Contains(t, err.Error(), "redis "+addr+": get \"k\"")
	assert.NotContains(t, err.Error(), "s3cr3t")
}

func TestURLErrorsNeverShowThePassword(t *testing.T) {
	const pw = "s3cr3t"
	tests := []struct {
		name string
		url  string
		want string
	}{
		{"empty", "", "url is empty"},
		{"wrong scheme", "http://u:" + pw + "@localhost:6379", `scheme must be redis or rediss, got "http"`},
		{"no scheme", "localhost:6379", "scheme must be redis or rediss"},
		{"bad port", "redis://u:" + pw + "@localhost:port", `invalid url redis://u:xxxxx@localhost:port: invalid port ":port"`},
		{"bad database", "redis://u:" + pw + "@localhost/db1", `invalid url redis://u:xxxxx@localhost/db1: redis: invalid database number: "db1"`},
		{"slash in the password", "redis://u:" + pw + "/x@localhost", "the user name or password cannot be parsed"},
		{"hash in the password", "redis://u:" + pw + "#x@localhost", "the user name or password cannot be parsed"},
		{"bad escape in the password", "redis://u:" + pw + "%zz@localhost", "the user name or password cannot be parsed"},
		{"colon-only password", "redis://:" + pw + ":x@localhost:notaport", "invalid url redis://:xxxxx@localhost:notaport"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := redis.NewClient(redis.Config{URL: tc.url})
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), pw)
		})
	}
}

func TestNewClientReadsTheAddressFromTheURL(t *testing.T) {
	tests := []struct {
		url  string
		addr string
	}{
		{"redis://", "localhost:6379"},
		{"redis://cache.internal", "cache.internal:6379"},
		{"redis://u:p%40ss@cache.internal:7000/3", "cache.internal:7000"},
		{"rediss://cache.internal:6380", "cache.internal:6380"},
		{"redis://[::1]:7001", "[::1]:7001"},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			c, err := redis.NewClient(redis.Config{URL: tc.url})
			require.NoError(t, err)
			t.Cleanup(func() { _ = c.Close() })
			assert.Equal(t, tc.addr, c.Addr())
		})
	}
}
