package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/checkpoint"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// stateKey is the checkpoint key of the input labelled e2e.
const stateKey = "anthropic_compliance/e2e/activities"

// rig extends harness for the collection-rule tests: the fake API sits behind
// a gate that can hold or refuse requests; the input may read its own clock
// (ahead of the fake's); the output is a sink that acks, nacks or holds each
// batch; job reports (log lines) and metrics are captured; /ready is
// reachable.
type rig struct {
	*harness
	gate    *gate
	sink    *sink
	logs    *logSink
	metrics *metricsRecorder
	store   *atomicfile.Store // opened once, before any stream: only Get is used while streams run
	mux     *http.ServeMux
}

// rigOptions customise newRig.
type rigOptions struct {
	// inputAhead makes the input's clock run this much ahead of the fake's.
	inputAhead time.Duration
	// register are extra options for compliance.Register.
	register []compliance.Option
}

func newRig(t *testing.T, now time.Time, fake fakeapi.Options, ro rigOptions) *rig {
	t.Helper()
	h := &harness{t: t, clock: fakeapi.NewManualClock(now), dir: t.TempDir()}
	fake.Clock = h.clock.Now
	if len(fake.APIKeys) == 0 && fake.Scopes == nil {
		fake.APIKeys = []string{apiKey}
	}
	if fake.MaxRecords == 0 {
		fake.MaxRecords = -1
	}
	srv, err := fakeapi.New(fake)
	require.NoError(t, err)
	r := &rig{harness: h, gate: newGate(), sink: &sink{acked: map[string]int{}}, logs: newLogSink(), metrics: newMetricsRecorder()}
	hs := httptest.NewServer(r.gate.wrap(srv))
	t.Cleanup(func() {
		r.gate.releaseAll()
		hs.Close()
	})
	h.api, h.url = srv, hs.URL
	r.store, err = atomicfile.Open(h.dir)
	require.NoError(t, err)

	ahead := ro.inputAhead
	inputNow := func() time.Time { return h.clock.Now().Add(ahead) }
	h.env = service.NewEnvironment()
	opts := append([]compliance.Option{compliance.WithClock(inputNow)}, ro.register...)
	require.NoError(t, compliance.Register(h.env, opts...))
	require.NoError(t, h.env.RegisterBatchOutput("e2e_sink", service.NewConfigSpec().Field(service.NewOutputMaxInFlightField()),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			n, err := conf.FieldMaxInFlight()
			return r.sink, service.BatchPolicy{}, n, err
		}))
	require.NoError(t, h.env.RegisterMetricsExporter("e2e_metrics", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Logger) (service.MetricsExporter, error) { return r.metrics, nil }))
	return r
}

// streamOptions shape one stream started by rig.start.
type streamOptions struct {
	threads     int    // pipeline threads (0: Benthos default)
	processors  string // YAML of one pipeline processor, optional
	resources   string // resources YAML (cache_resources etc.), optional
	maxInFlight int    // batches the sink accepts at once (0: 64)
}

// stream is a running Benthos stream.
type stream struct {
	t     *testing.T
	s     *service.Stream
	done  chan error
	once  sync.Once
	err   error
	ended bool
}

// start builds and runs a stream with the given input config and the sink as
// output. The stream is stopped (held batches released with an error first)
// when the test ends.
func (r *rig) start(inputYAML string, so streamOptions) *stream {
	r.t.Helper()
	s, err := r.build(inputYAML, so)
	require.NoError(r.t, err)
	st := &stream{t: r.t, s: s, done: make(chan error, 1)}
	go func() { st.done <- s.Run(context.Background()) }()
	r.t.Cleanup(func() {
		r.sink.releaseAll(errors.New("test over"))
		_ = st.stop()
	})
	return st
}

// build builds (but does not run) a stream; lint and build errors are returned.
func (r *rig) build(inputYAML string, so streamOptions) (*service.Stream, error) {
	sb := r.env.NewStreamBuilder()
	sb.SetLogger(r.logs.logger())
	if so.threads > 0 {
		sb.SetThreads(so.threads)
	}
	if err := sb.SetMetricsYAML("e2e_metrics: {}"); err != nil {
		return nil, err
	}
	r.mux = http.NewServeMux()
	sb.SetHTTPMux(r.mux)
	if so.resources != "" {
		if err := sb.AddResourcesYAML(so.resources); err != nil {
			return nil, err
		}
	}
	if err := sb.AddInputYAML(inputYAML); err != nil {
		return nil, err
	}
	if so.processors != "" {
		if err := sb.AddProcessorYAML(so.processors); err != nil {
			return nil, err
		}
	}
	n := so.maxInFlight
	if n == 0 {
		n = 64
	}
	if err := sb.AddOutputYAML(fmt.Sprintf("e2e_sink:\n  max_in_flight: %d\n", n)); err != nil {
		return nil, err
	}
	return sb.Build()
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

// ready answers the stream's /ready endpoint: 200 when every input and output
// is connected, 503 otherwise.
func (r *rig) ready() int {
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ready", nil))
	return rec.Code
}

// config renders the input config like harness.inputYAML, with stateExtra
// added under `state` and extra under anthropic_compliance (both indented as
// they would be there).
func (r *rig) config(stateExtra, extra string) string {
	// Unless a test studies slice adaptation, slices are a fixed hour (the
	// input's default starts at min_slice and grows), so that scenarios read
	// as "slice 1, slice 2".
	if !strings.Contains(extra, "min_slice:") {
		extra = "  min_slice: 1h\n" + strings.TrimPrefix(extra, "\n")
	}
	return fmt.Sprintf(`
label: e2e
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
%s
  retries:
    initial_interval: 0s
%s`, apiKey, r.url, r.dir, stateExtra, extra)
}

// checkpoint reads the stored checkpoint; ok is false when there is none. It
// reads the file only (never opens the store again, which would remove the
// temporary file of a write in flight).
func (r *rig) checkpoint(key string) (*checkpoint.Record, bool) {
	r.t.Helper()
	data, err := r.store.Get(key)
	if errors.Is(err, atomicfile.ErrNotFound) {
		return nil, false
	}
	require.NoError(r.t, err)
	rec, err := checkpoint.Decode(data)
	require.NoError(r.t, err)
	return rec, true
}

// mustCheckpoint is checkpoint for a key that must exist.
func (r *rig) mustCheckpoint(key string) *checkpoint.Record {
	r.t.Helper()
	rec, ok := r.checkpoint(key)
	require.True(r.t, ok, "no checkpoint at %s", key)
	return rec
}

// waitScannedTo waits until the checkpoint's scanned_to reaches want.
func (r *rig) waitScannedTo(key, want string) {
	r.t.Helper()
	require.Eventually(r.t, func() bool {
		rec, ok := r.checkpoint(key)
		return ok && rec.ScannedTo >= want
	}, 30*time.Second, 5*time.Millisecond, "waiting for scanned_to %s", want)
}

// waitJob waits for a job report matching fn and returns it.
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

//------------------------------------------------------------------------------

// gate stands between the input and the fake API. It can hold requests that
// match a predicate until released, or refuse every request with 401.
type gate struct {
	mu      sync.Mutex
	holdIf  func(url.Values) bool
	open    chan struct{}
	waiting int
	refuse  bool
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
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

//------------------------------------------------------------------------------

// verdict is what the sink does with one batch.
type verdict int

const (
	ackIt  verdict = iota // write succeeds: ack
	nackIt                // write fails: nack
	holdIt                // wait for release: the ack is held
)

// delivery is one batch as the sink received it.
type delivery struct {
	N    int // 1-based arrival number
	IDs  []string
	Meta []map[string]string
}

type heldBatch struct {
	d    delivery
	done chan error
}

// sink is the stream's output. Each batch is recorded as delivered when it
// arrives; policy decides whether it is acked, nacked or held.
type sink struct {
	mu     sync.Mutex
	n      int
	got    []string
	meta   []map[string]string
	acked  map[string]int
	nacked int
	held   []*heldBatch
	policy func(delivery) verdict
}

var errNack = errors.New("e2e sink refused the batch")

func (s *sink) Connect(context.Context) error { return nil }
func (s *sink) Close(context.Context) error   { return nil }

func (s *sink) WriteBatch(ctx context.Context, b service.MessageBatch) error {
	d := delivery{IDs: make([]string, len(b)), Meta: make([]map[string]string, len(b))}
	for i, m := range b {
		d.IDs[i], _ = m.MetaGet("activity_id")
		d.Meta[i] = map[string]string{}
		_ = m.MetaWalk(func(k, v string) error { d.Meta[i][k] = v; return nil })
	}
	s.mu.Lock()
	s.n++
	d.N = s.n
	s.got = append(s.got, d.IDs...)
	s.meta = append(s.meta, d.Meta...)
	v := ackIt
	if s.policy != nil {
		v = s.policy(d)
	}
	var hb *heldBatch
	switch v {
	case nackIt:
		s.nacked++
		s.mu.Unlock()
		return errNack
	case holdIt:
		hb = &heldBatch{d: d, done: make(chan error, 1)}
		s.held = append(s.held, hb)
	}
	s.mu.Unlock()
	var err error
	if hb != nil {
		select {
		case err = <-hb.done:
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err == nil {
		s.mu.Lock()
		for _, id := range d.IDs {
			s.acked[id]++
		}
		s.mu.Unlock()
	}
	return err
}

func (s *sink) setPolicy(fn func(delivery) verdict) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policy = fn
}

// delivered returns every id received, in arrival order (repeats included).
func (s *sink) delivered() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

// metas returns the metadata of every message received.
func (s *sink) metas() []map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]string(nil), s.meta...)
}

// ackedIDs returns the ids whose batch was acknowledged with nil.
func (s *sink) ackedIDs() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.acked))
	for k, v := range s.acked {
		out[k] = v
	}
	return out
}

// heldCount is the number of batches held right now.
func (s *sink) heldCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.held)
}

// heldIDs returns the ids of the batches held right now.
func (s *sink) heldIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, hb := range s.held {
		out = append(out, hb.d.IDs...)
	}
	return out
}

// release resolves the held batches matching fn with err (nil acks).
func (s *sink) release(fn func(delivery) bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.held[:0]
	for _, hb := range s.held {
		if fn == nil || fn(hb.d) {
			hb.done <- err
			continue
		}
		kept = append(kept, hb)
	}
	s.held = kept
}

// releaseAll resolves every held batch with err.
func (s *sink) releaseAll(err error) { s.release(nil, err) }

func (s *sink) waitDelivered(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(s.delivered()) >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d activities", n)
}

func (s *sink) waitHeld(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return s.heldCount() >= n }, 30*time.Second, 5*time.Millisecond,
		"waiting for %d held batches", n)
}

//------------------------------------------------------------------------------

// metricsRecorder is a metrics exporter that sums counters and keeps the last
// value of gauges, by metric name (labels are ignored).
type metricsRecorder struct {
	mu       sync.Mutex
	counters map[string]int64
	gauges   map[string]int64
}

func newMetricsRecorder() *metricsRecorder {
	return &metricsRecorder{counters: map[string]int64{}, gauges: map[string]int64{}}
}

type metricFunc func(int64)

func (f metricFunc) Incr(n int64)   { f(n) }
func (f metricFunc) Set(n int64)    { f(n) }
func (f metricFunc) Timing(n int64) { f(n) }

func (m *metricsRecorder) NewCounterCtor(name string, _ ...string) service.MetricsExporterCounterCtor {
	return func(...string) service.MetricsExporterCounter {
		return metricFunc(func(n int64) { m.mu.Lock(); m.counters[name] += n; m.mu.Unlock() })
	}
}

func (m *metricsRecorder) NewTimerCtor(string, ...string) service.MetricsExporterTimerCtor {
	return func(...string) service.MetricsExporterTimer { return metricFunc(func(int64) {}) }
}

func (m *metricsRecorder) NewGaugeCtor(name string, _ ...string) service.MetricsExporterGaugeCtor {
	return func(...string) service.MetricsExporterGauge {
		return metricFunc(func(n int64) { m.mu.Lock(); m.gauges[name] = n; m.mu.Unlock() })
	}
}

func (m *metricsRecorder) Close(context.Context) error { return nil }

func (m *metricsRecorder) counter(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.counters[name]
}

func (m *metricsRecorder) gauge(name string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.gauges[name]
}

//------------------------------------------------------------------------------

// act builds a minimal valid activity.
func act(id, typ string, createdAt time.Time) fakeapi.Activity {
	ts := createdAt.UTC().Format(time.RFC3339Nano)
	return fakeapi.Activity{
		ID: id, Type: typ, CreatedAt: createdAt, ActorType: "user_actor", ActorID: "user_e2e",
		JSON: fmt.Appendf(nil, `{"id":%q,"created_at":%q,"organization_id":null,"organization_uuid":null,"actor":{"type":"user_actor","user_id":"user_e2e","email_address":"e2e@example.com"},"type":%q}`, id, ts, typ),
	}
}

// spread returns n activities evenly spread over [from, from+span), on whole
// seconds, with ids prefix000000.., cycling through a few types.
func spread(prefix string, n int, from time.Time, span time.Duration) []fakeapi.Activity {
	types := []string{"claude_chat_created", "claude_file_uploaded", "sso_login_succeeded", "claude_project_created"}
	out := make([]fakeapi.Activity, n)
	for i := range out {
		at := from.Add(time.Duration(int64(span) * int64(i) / int64(n))).Truncate(time.Second)
		out[i] = act(fmt.Sprintf("activity_01%s%06d", prefix, i), types[i%len(types)], at)
	}
	return out
}

// count maps each id to the number of times it occurs.
func count(list []string) map[string]int {
	out := make(map[string]int, len(list))
	for _, id := range list {
		out[id]++
	}
	return out
}

// requireExactlyOnce fails unless got holds every id of want exactly once and
// nothing else.
func requireExactlyOnce(t *testing.T, want, got []string) {
	t.Helper()
	seen := count(got)
	var dups, missing, extra []string
	for id, n := range seen {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	wantSet := count(want)
	for id := range wantSet {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	for id := range seen {
		if wantSet[id] == 0 {
			extra = append(extra, id)
		}
	}
	sort.Strings(dups)
	sort.Strings(missing)
	sort.Strings(extra)
	require.True(t, len(dups) == 0 && len(missing) == 0 && len(extra) == 0,
		"want %d activities exactly once, got %d deliveries: %d duplicated %v, %d missing %v, %d unexpected %v",
		len(wantSet), len(got), len(dups), head(dups), len(missing), head(missing), len(extra), head(extra))
}

func head(s []string) []string {
	if len(s) > 5 {
		return s[:5]
	}
	return s
}
