package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/caches/redis"

	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
)

// ---------------------------------------------------------------------------
// Redis.

// haRedisURLEnv names the real redis-server the HA tests share a checkpoint
// in; ./.ci/test starts one on loopback and sets it.
const haRedisURLEnv = "COMPLIANCE_TEST_REDIS_URL"

// haRedis is a test's private corner of the test Redis server.
type haRedis struct {
	url    string
	prefix string // every key of the test starts with it
	raw    *goredis.Client
}

// newHARedis returns the test server under a fresh key prefix, deleting the
// prefix's keys when the test ends. Without COMPLIANCE_TEST_REDIS_URL the test
// fails, unless -short was given, in which case it is skipped (and so not a
// pass), as in caches/redis.
func newHARedis(t *testing.T) *haRedis {
	t.Helper()
	url := os.Getenv(haRedisURLEnv)
	if url == "" {
		if testing.Short() {
			t.Skip(haRedisURLEnv + " is unset: skipping a test that needs redis-server (-short)")
		}
		t.Fatal("set " + haRedisURLEnv + " (a redis:// URL of a disposable redis-server) or run ./.ci/test")
	}
	opts, err := goredis.ParseURL(url)
	require.NoError(t, err)
	raw := goredis.NewClient(opts)
	require.NoError(t, raw.Ping(context.Background()).Err(), "redis-server at %s", haRedisURLEnv)
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	r := &haRedis{url: url, prefix: "e2e/" + t.Name() + "/" + hex.EncodeToString(b) + "/", raw: raw}
	t.Cleanup(func() {
		ctx := context.Background()
		iter := raw.Scan(ctx, 0, r.prefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			_ = raw.Del(ctx, iter.Val()).Err()
		}
		_ = raw.Close()
	})
	return r
}

// resources declares the cache resource `ha_state` on the test's prefix.
func (r *haRedis) resources() string {
	return fmt.Sprintf(`
cache_resources:
  - label: ha_state
    redis:
      url: %s
      prefix: %s
`, r.url, r.prefix)
}

// get returns the raw value of key (without the prefix); ok is false when
// the key does not exist.
func (r *haRedis) get(t *testing.T, key string) (string, bool) {
	t.Helper()
	v, err := r.raw.Get(context.Background(), r.prefix+key).Result()
	if err == goredis.Nil {
		return "", false
	}
	require.NoError(t, err)
	return v, true
}

// record decodes the checkpoint at key; nil when there is none.
func (r *haRedis) record(t *testing.T, key string) *checkpoint.Record {
	t.Helper()
	v, ok := r.get(t, key)
	if !ok {
		return nil
	}
	rec, err := checkpoint.Decode([]byte(v))
	require.NoError(t, err, "checkpoint %s in redis", key)
	return rec
}

// ---------------------------------------------------------------------------
// The real binary.

var (
	haBinOnce sync.Once
	haBinPath string
	haBinErr  error
)

// haBinary builds compliance-connect once per test binary run (without
// -race: it runs as a subprocess).
func haBinary(t *testing.T) string {
	t.Helper()
	haBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-bin")
		if err != nil {
			haBinErr = err
			return
		}
		haBinPath = filepath.Join(dir, "compliance-connect")
		out, err := exec.Command("go", "build", "-o", haBinPath, "github.com/compliance-connect/compliance-connect/cmd/compliance-connect").CombinedOutput()
		if err != nil {
			haBinErr = fmt.Errorf("go build: %w\n%s", err, out)
		}
	})
	require.NoError(t, haBinErr)
	return haBinPath
}

// haProcess is a running compliance-connect binary.
type haProcess struct {
	cmd  *exec.Cmd
	done chan struct{}
	log  string
}

// startHABinary runs `compliance-connect run` on config with env added to
// the environment; its output goes to a log file printed if the test fails.
func startHABinary(t *testing.T, config string, env ...string) *haProcess {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "pipeline.yaml")
	require.NoError(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	p := &haProcess{done: make(chan struct{}), log: filepath.Join(dir, "binary.log")}
	logFile, err := os.Create(p.log)
	require.NoError(t, err)
	p.cmd = exec.Command(haBinary(t), "run", cfgPath)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	require.NoError(t, p.cmd.Start())
	go func() {
		_ = p.cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			b, _ := os.ReadFile(p.log)
			t.Logf("log of the binary (pid %d):\n%s", p.cmd.Process.Pid, b)
		}
	})
	return p
}

func (p *haProcess) pid() int { return p.cmd.Process.Pid }

// kill ends the process with SIGKILL (no shutdown: the lease is not
// released) and waits for it.
func (p *haProcess) kill(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
}

// fileIDs reads the activity ids of a `lines` file output.
func fileIDs(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var a struct {
			ID string `json:"id"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &a), "line %q", sc.Text())
		out = append(out, a.ID)
	}
	require.NoError(t, sc.Err())
	return out
}

// ---------------------------------------------------------------------------
// An in-process instance on the real clock.

// startHAInstance runs the input in process, in the global environment (its
// own real clock), delivering into a sink of its own.
func startHAInstance(t *testing.T, resources, inputYAML string) (*stream, *sink) {
	t.Helper()
	out := newSink()
	env := service.NewEnvironment()
	require.NoError(t, registerSink(env, out))
	st, err := buildStream(t, env, newLogSink(), inputYAML, streamOptions{resources: resources, maxInFlight: 1})
	require.NoError(t, err)
	return st.run(out), out
}
