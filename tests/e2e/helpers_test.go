package e2e_test

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/io"
	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// apiKey is the key the fake accepts unless a test names others.
const apiKey = "sk-ant-api01-e2e-test-key-0123456789"

// stateKey is the checkpoint key of the input labelled e2e, endpoint
// activities.
const stateKey = "anthropic_compliance/e2e/activities"

// rig runs the real input, through the Benthos engine, against the fake API.
//
// The fake runs on a manual clock, which is also the input's (advance it to
// make time pass for windows; schedules such as "@every 20ms" run on real
// time). A gate between the input and the fake can hold, refuse or answer
// requests. Every stream of the rig delivers into one sink (which acks, nacks
// or holds each batch), logs into one capture, keeps its checkpoint in the
// rig's state directory unless its config says otherwise, and may declare a
// cache of the type e2e_flaky_cache, which can be told to refuse writes. When
// the test ends, the captured logs are checked for the API key.
type rig struct {
	t     *testing.T
	clock *fakeapi.ManualClock
	api   *fakeapi.Server
	url   string            // the gate's URL: the input's base_url
	dir   string            // the input's state directory
	store *atomicfile.Store // dir, opened once before any stream: opening removes stale temporary files
	env   *service.Environment
	gate  *gate
	sink  *sink
	logs  *logSink
	cache *flakyCache
}

// rigOptions customise newRig.
type rigOptions struct {
	// inputAhead makes the input's clock run this much ahead of the fake's
	// (negative: behind).
	inputAhead time.Duration
	// register are extra options for compliance.Register.
	register []compliance.Option
}

// newRig starts the fake at now. Unless fake says otherwise, it accepts
// apiKey and records every request.
func newRig(t *testing.T, now time.Time, fake fakeapi.Options, ro rigOptions) *rig {
	t.Helper()
	r := &rig{
		t: t, clock: fakeapi.NewManualClock(now), dir: t.TempDir(),
		gate: newGate(), sink: newSink(), logs: newLogSink(), cache: newFlakyCache(),
	}
	fake.Clock = r.clock.Now
	if len(fake.APIKeys) == 0 && fake.Scopes == nil {
		fake.APIKeys = []string{apiKey}
	}
	if fake.MaxRecords == 0 {
		fake.MaxRecords = -1
	}
	var err error
	r.api, err = fakeapi.New(fake)
	require.NoError(t, err)
	hs := httptest.NewServer(r.gate.wrap(r.api))
	t.Cleanup(func() {
		r.gate.releaseAll()
		hs.Close()
	})
	r.url = hs.URL
	r.store, err = atomicfile.Open(r.dir)
	require.NoError(t, err)

	inputNow := func() time.Time { return r.clock.Now().Add(ro.inputAhead) }
	r.env = service.NewEnvironment()
	require.NoError(t, compliance.Register(r.env, append([]compliance.Option{compliance.WithClock(inputNow)}, ro.register...)...))
	require.NoError(t, registerSink(r.env, r.sink))
	require.NoError(t, r.env.RegisterCache("e2e_flaky_cache", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return r.cache, nil }))
	// Registered before any stream's cleanup, so it runs after every stream stopped.
	t.Cleanup(func() { requireNoAPIKey(t, "captured logs", r.logs.dump()) })
	return r
}

// advanceOnEveryRequest makes every request move the fake's (and the
// input's) clock forward by d before the fake answers it, so that jobs take
// a known amount of the input's time.
func (r *rig) advanceOnEveryRequest(d time.Duration) {
	r.gate.onRequest(func(http.ResponseWriter, *http.Request) bool {
		r.clock.Advance(d)
		return false
	})
}

// sliceRequests returns the first request of every slice (requests with a
// created_at range and no cursor) that the API answered with 200.
func (r *rig) sliceRequests() []url.Values {
	var out []url.Values
	for _, rec := range r.api.Requests() {
		if rec.Status == http.StatusOK && rec.Query.Get("created_at.gte") != "" && rec.Query.Get("after_id") == "" {
			out = append(out, rec.Query)
		}
	}
	return out
}

// faultsWhile returns n faults (500, x-should-retry false) for Script that
// apply to requests only while on is set; while it is not, they wait.
func faultsWhile(on *atomic.Bool, n int) []fakeapi.Fault {
	out := make([]fakeapi.Fault, n)
	for i := range out {
		out[i] = fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry, Match: func(url.Values) bool { return on.Load() }}
	}
	return out
}

// ---------------------------------------------------------------------------
// Configs.

// inputConfig is the input labelled e2e as a test states it; render adds
// what every test shares.
type inputConfig struct {
	extra   string // lines under anthropic_compliance (indented by two spaces)
	state   string // lines under state, after path: the rig's directory (indented by four)
	retries string // lines under retries, after initial_interval: 0s (indented by four)
	key     string // api_key; empty: apiKey
	baseURL string // base_url; empty: the rig's URL
}

// config renders the input with extra (indented by two spaces) under
// anthropic_compliance.
func (r *rig) config(extra string) string { return r.render(inputConfig{extra: extra}) }

// render renders the input config: label e2e, the key, the fake's URL, the
// state directory and immediate retries, with the test's lines added.
func (r *rig) render(c inputConfig) string {
	return fmt.Sprintf(`
label: e2e
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
%s  retries:
    initial_interval: 0s
%s%s`, cmp.Or(c.key, apiKey), cmp.Or(c.baseURL, r.url), r.dir, lines(c.state), lines(c.retries), lines(c.extra))
}

// lines is s without leading and trailing newlines, ending in one unless
// it is empty.
func lines(s string) string {
	if s = strings.Trim(s, "\n"); s != "" {
		s += "\n"
	}
	return s
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

// ---------------------------------------------------------------------------
// Streams.

// streamOptions shape one stream of rig.start.
type streamOptions struct {
	// maxInFlight is the batches the sink takes at once; 0 means 64. With 1
	// the delivery order is the hand-out order.
	maxInFlight int
	// metrics serves Prometheus metrics on /metrics; off, there are none
	// (the exporter costs a 50k-activity soak a tenth of its time).
	metrics    bool
	threads    int    // pipeline threads; 0: Benthos' default
	processors string // YAML of one pipeline processor, optional
	resources  string // resources YAML (cache_resources etc.), optional
}

// stream is a Benthos stream with the input, the sink as output and its HTTP
// endpoints (/ready, /metrics, /compliance/e2e/...) on a mux of the test's.
type stream struct {
	t     *testing.T
	s     *service.Stream
	logs  *logSink
	mux   *http.ServeMux
	done  chan error
	once  sync.Once
	err   error
	ended bool // Run returned before stop was called
}

// start builds and runs a stream of the rig. When the test ends, the sink
// acks every held batch and the stream is stopped.
func (r *rig) start(inputYAML string, o streamOptions) *stream {
	r.t.Helper()
	st, err := r.build(inputYAML, o)
	require.NoError(r.t, err)
	return st.run(r.sink)
}

// build builds (but does not run) a stream of the rig; lint and build errors
// are returned.
func (r *rig) build(inputYAML string, o streamOptions) (*stream, error) {
	return buildStream(r.t, r.env, r.logs, inputYAML, o)
}

// buildStream builds a stream on env (which has the sink registered), logging
// into logs.
func buildStream(t *testing.T, env *service.Environment, logs *logSink, inputYAML string, o streamOptions) (*stream, error) {
	mux := http.NewServeMux()
	sb := env.NewStreamBuilder()
	sb.SetLogger(logs.logger())
	sb.SetHTTPMux(mux)
	if o.threads > 0 {
		sb.SetThreads(o.threads)
	}
	if o.metrics {
		if err := sb.SetMetricsYAML("prometheus: {}"); err != nil {
			return nil, err
		}
	}
	if o.resources != "" {
		if err := sb.AddResourcesYAML(o.resources); err != nil {
			return nil, err
		}
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		return nil, err
	}
	if o.processors != "" {
		if err := sb.AddProcessorYAML(o.processors); err != nil {
			return nil, err
		}
	}
	if err := sb.AddOutputYAML(fmt.Sprintf("e2e_sink:\n  max_in_flight: %d\n", cmp.Or(o.maxInFlight, 64))); err != nil {
		return nil, err
	}
	s, err := sb.Build()
	if err != nil {
		return nil, err
	}
	return &stream{t: t, s: s, logs: logs, mux: mux, done: make(chan error, 1)}, nil
}

// run runs the stream. When the test ends, out acks every held batch and the
// stream is stopped; a stop that fails fails the test.
func (st *stream) run(out *sink) *stream {
	go func() { st.done <- st.s.Run(context.Background()) }()
	st.t.Cleanup(func() {
		out.setPolicy(nil)
		out.releaseAll(nil)
		if err := st.stop(); err != nil && !st.ended {
			st.t.Errorf("stopping the stream: %v", err)
		}
	})
	return st
}

// stop stops the stream gracefully (soft stop, then a hard stop after 30s)
// and returns the error of Stop, or of Run when the stream had already ended.
func (st *stream) stop() error {
	st.once.Do(func() {
		select {
		case err := <-st.done:
			st.err, st.ended = err, true
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		st.err = st.s.Stop(ctx)
		<-st.done
	})
	return st.err
}

// waitEnded waits for the stream to end on its own (the input ended) and
// returns Run's error.
func (st *stream) waitEnded() error {
	st.t.Helper()
	select {
	case err := <-st.done:
		st.once.Do(func() { st.err, st.ended = err, true })
		return err
	case <-time.After(30 * time.Second):
		st.t.Fatal("the stream did not end on its own within 30s")
		return nil
	}
}

// call serves one request on the stream's HTTP mux (the Benthos HTTP
// server's, where the input mounts /compliance/<label>/...) and returns the
// status and body. The request is an operator's on the same host: from
// loopback, to localhost, and a JSON request (as state writes must be).
func (st *stream) call(method, target, body string) (int, string) {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.RemoteAddr, req.Host = "127.0.0.1:50000", "localhost:4195"
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json")
	}
	return st.serve(req)
}

// serve serves req on the stream's HTTP mux as it is.
func (st *stream) serve(req *http.Request) (int, string) {
	rec := httptest.NewRecorder()
	st.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// get is call for a GET.
func (st *stream) get(path string) (int, string) { return st.call(http.MethodGet, path, "") }

// ready answers /ready: 200 when every input and output is connected, 503
// otherwise.
func (st *stream) ready() int {
	code, _ := st.get("/ready")
	return code
}

// waitReady waits until /ready answers want and its body contains every
// part; it returns the body.
func (st *stream) waitReady(want int, parts ...string) string {
	st.t.Helper()
	var code int
	var body string
	require.Eventually(st.t, func() bool {
		code, body = st.get("/ready")
		if code != want {
			return false
		}
		for _, p := range parts {
			if !strings.Contains(body, p) {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "waiting for /ready %d with %q", want, parts)
	return body
}

// jobsAnswer is the body of GET /compliance/<label>/jobs.
type jobsAnswer struct {
	Jobs []collector.Report `json:"jobs"`
}

// jobs GETs /compliance/e2e/jobs.
func (st *stream) jobs() jobsAnswer {
	st.t.Helper()
	code, body := st.get("/compliance/e2e/jobs")
	require.Equal(st.t, http.StatusOK, code, body)
	var out jobsAnswer
	require.NoError(st.t, json.Unmarshal([]byte(body), &out), body)
	return out
}

// ---------------------------------------------------------------------------
// The checkpoint.

// checkpoint reads the stored checkpoint; ok is false when there is none.
func (r *rig) checkpoint(key string) (*checkpoint.Record, bool) {
	r.t.Helper()
	data, err := r.store.Get(key)
	if errors.Is(err, atomicfile.ErrNotFound) {
		return nil, false
	}
	require.NoError(r.t, err)
	rec, err := checkpoint.Decode(data)
	require.NoError(r.t, err, "checkpoint %s", r.store.Path(key))
	return rec, true
}

// mustCheckpoint is checkpoint for a key that must exist.
func (r *rig) mustCheckpoint(key string) *checkpoint.Record {
	r.t.Helper()
	rec, ok := r.checkpoint(key)
	require.True(r.t, ok, "no checkpoint at %s", key)
	return rec
}

// raw returns the stored checkpoint file's content.
func (r *rig) raw(key string) string {
	r.t.Helper()
	b, err := r.store.Get(key)
	require.NoError(r.t, err)
	return string(b)
}

// waitScannedTo waits until the checkpoint's scanned_to reaches want.
func (r *rig) waitScannedTo(key, want string) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		rec, ok := r.checkpoint(key)
		return ok && ts(rec.ScannedTo) >= want
	}, 30*time.Second, 5*time.Millisecond, "waiting for scanned_to %s", want)
}

// waitJob waits for a job report of the rig's streams matching fn.
func (r *rig) waitJob(what string, fn func(report) bool) report {
	r.t.Helper()
	return r.logs.waitJob(r.t, what, fn)
}

// waitJobTo waits for a successful job whose window ends at to.
func (r *rig) waitJobTo(to string) report {
	r.t.Helper()
	return r.waitJob("success up to "+to, func(rep report) bool {
		return rep["window_to"] == to && rep["outcome"] == "success"
	})
}

// ---------------------------------------------------------------------------
// The gate.

// gate stands between the input and the fake API. A hook sees every request
// first and may answer it; the gate can hold requests that match a
// predicate until released, or refuse every request with 401.
type gate struct {
	mu      sync.Mutex
	hook    func(w http.ResponseWriter, r *http.Request) (answered bool)
	holdIf  func(url.Values) bool
	open    chan struct{}
	waiting int
	refuse  bool
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		g.mu.Lock()
		hook := g.hook
		g.mu.Unlock()
		if hook != nil && hook(w, req) {
			return
		}
		g.mu.Lock()
		if g.refuse {
			g.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("request-id", "req_gate_refused")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"type":"error","error":{"type":"authentication_error","message":"The API key provided is invalid or has been revoked."},"request_id":"req_gate_refused"}`))
			return
		}
		hold := g.holdIf != nil && g.holdIf(req.URL.Query())
		open := g.open
		if hold {
			g.waiting++
		}
		g.mu.Unlock()
		if hold {
			select {
			case <-open:
			case <-req.Context().Done():
			}
			g.mu.Lock()
			g.waiting--
			g.mu.Unlock()
		}
		next.ServeHTTP(w, req)
	})
}

// onRequest installs fn in front of the fake: it sees every request first
// and may answer it itself (returning true). nil removes it.
func (g *gate) onRequest(fn func(w http.ResponseWriter, req *http.Request) (answered bool)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.hook = fn
}

// holdWhen holds every request whose query matches fn until releaseAll.
func (g *gate) holdWhen(fn func(url.Values) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.holdIf = fn
	g.open = make(chan struct{})
}

// releaseAll lets held requests through and stops holding.
func (g *gate) releaseAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.holdIf != nil {
		close(g.open)
	}
	g.holdIf = nil
}

// held is the number of requests held right now.
func (g *gate) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

// refuseAll answers every request with 401 authentication_error while on.
func (g *gate) refuseAll(on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.refuse = on
}

// ---------------------------------------------------------------------------
// A cache that can refuse writes.

var errCacheRefuses = errors.New("e2e cache refuses writes")

// flakyCache is an in-memory Benthos cache whose writes fail while refuse is
// set, standing in for a checkpoint store that cannot be written.
type flakyCache struct {
	refuse atomic.Bool
	mu     sync.Mutex
	data   map[string][]byte
}

func newFlakyCache() *flakyCache { return &flakyCache{data: map[string][]byte{}} }

func (c *flakyCache) Get(_ context.Context, key string) ([]byte, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.data[key]
	if !ok {
		return nil, service.ErrKeyNotFound
	}
	return append([]byte(nil), v...), nil
}

func (c *flakyCache) Set(_ context.Context, key string, value []byte, _ *time.Duration) error {
	if c.refuse.Load() {
		return errCacheRefuses
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.data[key] = append([]byte(nil), value...)
	return nil
}

func (c *flakyCache) Add(_ context.Context, key string, value []byte, _ *time.Duration) error {
	if c.refuse.Load() {
		return errCacheRefuses
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.data[key]; ok {
		return service.ErrKeyAlreadyExists
	}
	c.data[key] = append([]byte(nil), value...)
	return nil
}

func (c *flakyCache) Delete(_ context.Context, key string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.data, key)
	return nil
}

func (c *flakyCache) Close(context.Context) error { return nil }
