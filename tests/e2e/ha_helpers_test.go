package e2e_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/compliance-connect/compliance-connect/caches/redis"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
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

// indent prefixes every non-empty line of s with pad.
func indent(s, pad string) string {
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = pad + l
		}
	}
	return strings.Join(lines, "\n") + "\n"
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

// haInstance is an in-process stream of the input with the environment's
// own (real) clock, recording what it delivers and logs.
type haInstance struct {
	logs *logSink
	mu   sync.Mutex
	got  []string
	stop func()
}

func startHAInstance(t *testing.T, resources, inputYAML string) *haInstance {
	t.Helper()
	in := &haInstance{logs: newLogSink()}
	sb := service.NewEnvironment().NewStreamBuilder()
	sb.SetLogger(in.logs.logger())
	sb.SetHTTPMux(http.NewServeMux())
	require.NoError(t, sb.AddResourcesYAML(resources))
	require.NoError(t, sb.AddInputYAML(inputYAML))
	require.NoError(t, sb.AddBatchConsumerFunc(func(_ context.Context, b service.MessageBatch) error {
		in.mu.Lock()
		defer in.mu.Unlock()
		for _, m := range b {
			id, _ := m.MetaGet("activity_id")
			in.got = append(in.got, id)
		}
		return nil
	}))
	stream, err := sb.Build()
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	var once sync.Once
	in.stop = func() {
		once.Do(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = stream.Stop(ctx)
			<-done
		})
	}
	t.Cleanup(in.stop)
	return in
}

func (in *haInstance) delivered() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return append([]string(nil), in.got...)
}

// ---------------------------------------------------------------------------
// The admin HTTP endpoints.

// adminCall serves one request on a stream's HTTP mux (the Benthos HTTP
// server's, where the input mounts /compliance/<label>/...) and returns the
// status and body.
func adminCall(mux http.Handler, method, target, body string) (int, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// idleRig runs the input labelled e2e through harness.startStream with a job
// every 20ms over the fixed window [11:00, 11:58) of the fake clock (12:00,
// settle 2m), every log line captured and the admin endpoints on mux. It can
// pause the collector between two jobs.
type idleRig struct {
	h     *harness
	logs  *logSink
	mux   *http.ServeMux
	store *atomicfile.Store // opened before the stream: only Get is used
}

func newIdleRig(t *testing.T, data []fakeapi.Activity) *idleRig {
	t.Helper()
	h := newHarness(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{Dataset: data})
	store, err := atomicfile.Open(h.dir)
	require.NoError(t, err)
	ir := &idleRig{h: h, logs: newLogSink(), mux: http.NewServeMux(), store: store}
	h.startStream(h.inputYAML(`
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T11:00:00Z"
`), streamOpts{logs: ir.logs, mux: ir.mux})
	return ir
}

// raw returns the stored checkpoint file's content.
func (ir *idleRig) raw(t *testing.T) string {
	t.Helper()
	b, err := ir.store.Get(stateKey)
	require.NoError(t, err)
	return string(b)
}

func (ir *idleRig) record(t *testing.T) *checkpoint.Record {
	t.Helper()
	rec, err := checkpoint.Decode([]byte(ir.raw(t)))
	require.NoError(t, err)
	return rec
}

// jobPause holds the collector's job goroutine right after it logged a job
// report: between two jobs, with nothing being written.
type jobPause struct {
	once, releaseOnce sync.Once
	paused, resume    chan struct{}
}

// pauseAfterCollecting pauses the collector once, after the first successful
// job that ends with n activities delivered. It must be called after the
// stream started (the release then runs before the stream is stopped).
func (ir *idleRig) pauseAfterCollecting(n int) *jobPause {
	p := &jobPause{paused: make(chan struct{}), resume: make(chan struct{})}
	ir.logs.setOnEntry(func(e logEntry) {
		if e.Msg != "job report" || e.Attrs["outcome"] != "success" || len(ir.h.delivered()) < n {
			return
		}
		p.once.Do(func() {
			close(p.paused)
			<-p.resume
		})
	})
	ir.h.t.Cleanup(p.release)
	return p
}

func (p *jobPause) wait(t *testing.T) {
	t.Helper()
	select {
	case <-p.paused:
	case <-time.After(30 * time.Second):
		t.Fatal("no successful job delivered everything within 30s")
	}
}

func (p *jobPause) release() { p.releaseOnce.Do(func() { close(p.resume) }) }

// requireRedelivered waits until want has been delivered again after the
// first `before` deliveries and three more jobs ran, then requires exactly
// want there, once each.
func (ir *idleRig) requireRedelivered(t *testing.T, before int, want []fakeapi.Activity) {
	t.Helper()
	require.Eventually(t, func() bool { return len(ir.h.delivered()) >= before+len(want) }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d activities delivered again:\n%s", len(want), ir.logs.dump())
	jobs := len(ir.logs.jobReports())
	require.Eventually(t, func() bool { return len(ir.logs.jobReports()) >= jobs+3 }, 30*time.Second, 5*time.Millisecond)
	requireExactlyOnce(t, ids(want), ir.h.delivered()[before:])
}

// after returns the activities created at or after ts.
func after(data []fakeapi.Activity, ts string) []fakeapi.Activity {
	var out []fakeapi.Activity
	for _, a := range data {
		if !a.CreatedAt.Before(at(ts)) {
			out = append(out, a)
		}
	}
	return out
}
