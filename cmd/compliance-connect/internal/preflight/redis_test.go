package preflight_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/caches/redis"
	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
)

// startRedis runs a redis-server of its own with args (the shared test
// server of ./.ci/test cannot be given each persistence setting).
func startRedis(t *testing.T, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if testing.Short() {
			t.Skip("redis-server is not installed: skipping (-short)")
		}
		t.Fatal("redis-server is not installed: run ./.ci/test, which installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := ln.Addr().(*net.TCPAddr).Port
	require.NoError(t, ln.Close())
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", fmt.Sprint(port), "--dir", t.TempDir()}, args...)...)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	client := goredis.NewClient(opts)
	defer client.Close()
	require.Eventually(t, func() bool { return client.Ping(context.Background()).Err() == nil }, 20*time.Second, 20*time.Millisecond, "redis-server did not start")
	return url
}

func TestStoreCheckReadsRedisPersistence(t *testing.T) {
	tests := []struct {
		name  string
		args  []string
		state string
		want  expect
	}{
		{name: "a redis server without persistence fails: a restart loses the checkpoint",
			args: []string{"--save", "", "--appendonly", "no"},
			want: expect{status: preflight.Fail, contains: []string{`state.cache "shared" is writable`, "does not persist"}, fix: "appendonly yes"}},
		{name: "a redis server without persistence allowed by state.allow_volatile warns",
			args: []string{"--save", "", "--appendonly", "no"}, state: "\nallow_volatile: true",
			want: expect{status: preflight.Warn, contains: []string{"allowed by state.allow_volatile"}}},
		{name: "a redis server with AOF passes",
			args: []string{"--save", "", "--appendonly", "yes"},
			want: expect{status: preflight.OK, contains: []string{"the redis server persists (appendonly yes"}}},
		{name: "an allkeys eviction policy warns: it can drop the checkpoint",
			args: []string{"--save", "3600 1", "--appendonly", "no", "--maxmemory-policy", "allkeys-lru"},
			want: expect{status: preflight.Warn, contains: []string{"allkeys-lru can evict the checkpoint"}, fix: "noeviction"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := startRedis(t, tt.args...)
			r := newRig(t, 1)
			r.state = "cache: shared" + tt.state
			r.extra = fmt.Sprintf("cache_resources:\n  - label: shared\n    redis: { url: %q, prefix: 'check-test/' }", url)
			tt.want.assert(t, result(t, r.check(), preflight.CheckStore, "compliance"))
		})
	}

	t.Run("a redis server that does not answer fails", func(t *testing.T) {
		r := newRig(t, 1)
		r.state = "cache: shared"
		r.extra = fmt.Sprintf("cache_resources:\n  - label: shared\n    redis: { url: 'redis://%s/0', timeout: 1s }", closedAddr(t))
		res := result(t, r.check(), preflight.CheckStore, "compliance")
		expect{status: preflight.Fail, contains: []string{"cannot be used", "connection refused"}}.assert(t, res)
	})
}
