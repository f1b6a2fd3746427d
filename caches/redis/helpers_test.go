package redis_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/redis"
)

// redisURLEnv names the real redis-server the tests use; ./.ci/test starts one
// on loopback and sets it.
const redisURLEnv = "COMPLIANCE_TEST_REDIS_URL"

// redisURL returns the test server's URL. Without one the test fails, unless
// -short was given, in which case it is skipped (and so not a pass).
func redisURL(tb testing.TB) string {
	tb.Helper()
	if u := os.Getenv(redisURLEnv); u != "" {
		return u
	}
	if testing.Short() {
		tb.Skip(redisURLEnv + " is unset: skipping a test that needs redis-server (-short)")
	}
	tb.Fatal("set " + redisURLEnv + " or run ./.ci/test")
	return ""
}

// testPrefix returns a key prefix no other test uses.
func testPrefix(tb testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test/" + tb.Name() + "/" + hex.EncodeToString(b) + "/"
}

// rawClient is a plain go-redis client on the test server, for looking behind
// the package's back.
func rawClient(tb testing.TB) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(redisURL(tb))
	require.NoError(tb, err)
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// newClient returns a client on the test server under a fresh prefix, and
// deletes the prefix's keys when the test ends.
func newClient(tb testing.TB) *redis.Client {
	tb.Helper()
	prefix := testPrefix(tb)
	c, err := redis.NewClient(redis.Config{URL: redisURL(tb), Prefix: prefix})
	require.NoError(tb, err)
	require.NoError(tb, c.Ping(context.Background()))
	raw := rawClient(tb)
	tb.Cleanup(func() {
		ctx := context.Background()
		iter := raw.Scan(ctx, 0, prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = raw.Del(ctx, iter.Val()).Err()
		}
		_ = c.Close()
	})
	return c
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
