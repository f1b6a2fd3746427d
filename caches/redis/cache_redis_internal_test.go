package redis

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/redpanda-data/benthos/v4/public/service"
)

// parseCache builds the plugin from YAML through its real spec.
func parseCache(t *testing.T, yaml string) (*redisCache, error) {
	t.Helper()
	conf, err := redisCacheSpec().ParseYAML(yaml, nil)
	if err != nil {
		return nil, err
	}
	c, err := newRedisCacheFromConfig(conf)
	if err == nil {
		t.Cleanup(func() { _ = c.Close(context.Background()) })
	}
	return c, err
}

// serverURL is the test server (see helpers_test.go in the _test package).
func serverURL(t *testing.T) string {
	t.Helper()
	if u := os.Getenv("COMPLIANCE_TEST_REDIS_URL"); u != "" {
		return u
	}
	if testing.Short() {
		t.Skip("COMPLIANCE_TEST_REDIS_URL is unset: skipping a test that needs redis-server (-short)")
	}
	t.Fatal("set COMPLIANCE_TEST_REDIS_URL or run ./.ci/test")
	return ""
}

func uniquePrefix(t *testing.T) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "test/" + t.Name() + "/" + hex.EncodeToString(b) + "/"
}

func TestRedisCacheFieldsReachTheClient(t *testing.T) {
	c, err := parseCache(t, `
url: redis://urluser:urlpass@cache.internal:7000/3
username: fielduser
password: fieldpass
prefix: "prod:"
timeout: 2s
tls:
  enabled: true
  skip_cert_verify: true
`)
	require.NoError(t, err)
	opts := c.client.rdb.Options()
	assert.Equal(t, "cache.internal:7000", opts.Addr)
	assert.Equal(t, 3, opts.DB)
	assert.Equal(t, "fielduser", opts.Username, "username overrides the url's")
	assert.Equal(t, "fieldpass", opts.Password, "password overrides the url's")
	assert.Equal(t, 2*time.Second, opts.DialTimeout)
	assert.Equal(t, 2*time.Second, opts.ReadTimeout)
	assert.Equal(t, 0, opts.MaxRetries, "commands are sent at most once (go-redis stores our -1 as 0 retries)")
	require.NotNil(t, opts.TLSConfig)
	assert.True(t, opts.TLSConfig.InsecureSkipVerify)
	assert.Equal(t, "prod:k", c.client.Key("k"))
	assert.Zero(t, c.defaultTTL, "no default_ttl means no expiry")
}

func TestRedisCacheTLSComesFromTheSchemeOrTheField(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantTLS bool
	}{
		{"redis scheme", "url: redis://cache.internal", false},
		{"rediss scheme", "url: rediss://cache.internal", true},
		{"tls field", "url: redis://cache.internal\ntls: {enabled: true}", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCache(t, tc.yaml)
			require.NoError(t, err)
			assert.Equal(t, tc.wantTLS, c.client.rdb.Options().TLSConfig != nil)
		})
	}
}

func TestRedisCacheConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"missing url", `prefix: x`, "url"},
		{"bad url", `url: "redis://u:hunter2@host:port"`, "field url: redis: invalid url redis://u:xxxxx@host:port"},
		{"unsupported kind", "url: redis://h\nkind: cluster", `field kind: "cluster" is not supported (only "simple")`},
		{"negative default_ttl", "url: redis://h\ndefault_ttl: -1s", "field default_ttl: -1s is negative"},
		{"bad default_ttl", "url: redis://h\ndefault_ttl: soon", "field default_ttl"},
		{"zero timeout", "url: redis://h\ntimeout: 0s", "field timeout: 0s must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseCache(t, tc.yaml)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func TestRedisCacheDefaultTTLAppliesOnlyWithoutAnExplicitTTL(t *testing.T) {
	ctx := context.Background()
	url := serverURL(t)
	prefix := uniquePrefix(t)
	c, err := parseCache(t, "url: "+url+"\nprefix: "+prefix+"\ndefault_ttl: 50ms")
	require.NoError(t, err)
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	raw := goredis.NewClient(opts)
	t.Cleanup(func() { _ = raw.Close() })

	hour := time.Hour
	require.NoError(t, c.Set(ctx, "explicit", []byte("v"), &hour))
	require.NoError(t, c.Set(ctx, "default", []byte("v"), nil))
	require.NoError(t, c.Add(ctx, "added", []byte("v"), nil))

	require.Eventually(t, func() bool {
		_, errSet := c.Get(ctx, "default")
		_, errAdd := c.Get(ctx, "added")
		return errors.Is(errSet, service.ErrKeyNotFound) && errors.Is(errAdd, service.ErrKeyNotFound)
	}, 10*time.Second, 10*time.Millisecond, "items written without a ttl expire after default_ttl")

	pttl, err := raw.PTTL(ctx, prefix+"explicit").Result()
	require.NoError(t, err)
	assert.Greater(t, pttl, time.Minute, "an explicit ttl wins over default_ttl")
	t.Cleanup(func() { _ = raw.Del(ctx, prefix+"explicit").Err() })
}

func TestRedisCacheWithoutDefaultTTLNeverExpires(t *testing.T) {
	ctx := context.Background()
	url := serverURL(t)
	prefix := uniquePrefix(t)
	c, err := parseCache(t, "url: "+url+"\nprefix: "+prefix)
	require.NoError(t, err)
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	raw := goredis.NewClient(opts)
	t.Cleanup(func() {
		_ = raw.Del(ctx, prefix+"checkpoint").Err()
		_ = raw.Close()
	})

	require.NoError(t, c.Set(ctx, "checkpoint", []byte(`{"rev":1}`), nil))
	pttl, err := raw.PTTL(ctx, prefix+"checkpoint").Result()
	require.NoError(t, err)
	assert.Equal(t, time.Duration(-1), pttl)

	require.ErrorIs(t, c.Add(ctx, "checkpoint", []byte("x"), nil), service.ErrKeyAlreadyExists)
	_, err = c.Get(ctx, "missing")
	require.ErrorIs(t, err, service.ErrKeyNotFound)
}
