package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/caches/atomicfile"
	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/input/compliance/collector"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// obsRig runs the real input through the Benthos engine with the Prometheus
// exporter, against the fake API behind a hook that sees every request
// first. The output is the e2e sink (ack, nack or hold per batch); a cache
// resource type that can be told to refuse writes stands in for a failing
// checkpoint store.
type obsRig struct {
	*harness
	sink  *sink
	cache *flakyCache
	store *atomicfile.Store

	hookMu sync.Mutex
	hook   func(w http.ResponseWriter, r *http.Request) (answered bool)
}

// obsOptions customise newObsRig.
type obsOptions struct {
	// inputAhead makes the input's clock run this much ahead of the fake's
	// (negative: behind).
	inputAhead time.Duration
}

func newObsRig(t *testing.T, now time.Time, fake fakeapi.Options, o obsOptions) *obsRig {
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
	r := &obsRig{harness: h, sink: &sink{acked: map[string]int{}}, cache: &flakyCache{data: map[string][]byte{}}}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.hookMu.Lock()
		hook := r.hook
		r.hookMu.Unlock()
		if hook != nil && hook(w, req) {
			return
		}
		srv.ServeHTTP(w, req)
	}))
	t.Cleanup(hs.Close)
	h.api, h.url = srv, hs.URL
	r.store, err = atomicfile.Open(h.dir)
	require.NoError(t, err)

	ahead := o.inputAhead
	h.env = service.NewEnvironment()
	require.NoError(t, compliance.Register(h.env, compliance.WithClock(func() time.Time { return h.clock.Now().Add(ahead) })))
	require.NoError(t, h.env.RegisterBatchOutput("e2e_obs_sink", service.NewConfigSpec().Field(service.NewOutputMaxInFlightField()),
		func(conf *service.ParsedConfig, _ *service.Resources) (service.BatchOutput, service.BatchPolicy, int, error) {
			n, err := conf.FieldMaxInFlight()
			return r.sink, service.BatchPolicy{}, n, err
		}))
	require.NoError(t, h.env.RegisterCache("e2e_flaky_cache", service.NewConfigSpec(),
		func(*service.ParsedConfig, *service.Resources) (service.Cache, error) { return r.cache, nil }))
	return r
}

// onRequest installs fn in front of the fake: it sees every request before
// the fake does and may answer it itself (returning true). nil removes it.
func (r *obsRig) onRequest(fn func(w http.ResponseWriter, req *http.Request) (answered bool)) {
	r.hookMu.Lock()
	defer r.hookMu.Unlock()
	r.hook = fn
}

// advanceOnEveryRequest makes every request move the fake's (and the
// input's) clock forward by d before the fake answers it, so that jobs take
// a known amount of the input's time.
func (r *obsRig) advanceOnEveryRequest(d time.Duration) {
	r.onRequest(func(http.ResponseWriter, *http.Request) bool {
		r.clock.Advance(d)
		return false
	})
}

// config renders an input config: the fake's URL, the key, the state
// directory, immediate retries; extra (indented by two spaces) is appended
// under anthropic_compliance.
func (r *obsRig) config(extra string) string {
	return fmt.Sprintf(`
label: e2e
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
  retries:
    initial_interval: 0s
%s`, apiKey, r.url, r.dir, extra)
}

// obsStream shapes one stream of startObs.
type obsStream struct {
	logs      *logSink // nil: a fresh sink
	resources string   // resources YAML, optional
	metrics   string   // metrics YAML; empty: "prometheus: {}"
	// maxInFlight is the batches the sink accepts at once; 0 means 1, so
	// that delivery order is hand-out order.
	maxInFlight int
}

// start runs a stream with the input, the Prometheus exporter, every log
// line captured and the HTTP endpoints on a mux of the test's. The sink acks
// every batch unless told otherwise. When the test ends, held batches are released,
// the stream is stopped and the captured logs are checked for the API key.
func (r *obsRig) start(inputYAML string, o obsStream) *running {
	r.t.Helper()
	if o.logs == nil {
		o.logs = newLogSink()
	}
	if o.metrics == "" {
		o.metrics = "prometheus: {}"
	}
	mux := http.NewServeMux()
	sb := r.env.NewStreamBuilder()
	sb.SetLogger(o.logs.logger())
	sb.SetHTTPMux(mux)
	require.NoError(r.t, sb.SetMetricsYAML(o.metrics))
	if o.resources != "" {
		require.NoError(r.t, sb.AddResourcesYAML(o.resources))
	}
	require.NoError(r.t, sb.AddInputYAML(inputYAML))
	require.NoError(r.t, sb.AddOutputYAML(fmt.Sprintf("e2e_obs_sink:\n  max_in_flight: %d\n", max(1, o.maxInFlight))))
	stream, err := sb.Build()
	require.NoError(r.t, err)
	done := make(chan error, 1)
	go func() { done <- stream.Run(context.Background()) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			r.sink.setPolicy(nil)
			r.sink.releaseAll(nil)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			require.NoError(r.t, stream.Stop(ctx))
			<-done
		})
	}
	t := r.t
	t.Cleanup(func() { requireNoAPIKey(t, "captured logs", o.logs.dump()) })
	t.Cleanup(stop)
	return &running{logs: o.logs, mux: mux, stop: stop}
}

// ---------------------------------------------------------------------------
// Prometheus scrapes.

// scrape is one parsed answer of /metrics.
type scrape map[string]*dto.MetricFamily

// scrape GETs /metrics from the stream's mux and parses the text format.
func (r *running) scrape(t *testing.T) scrape {
	t.Helper()
	code, body := r.get("/metrics")
	require.Equal(t, http.StatusOK, code, body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err, "parsing /metrics")
	return fams
}

// series returns the series of name whose labels include every pair of kv
// ("name", "value", ...).
func (s scrape) series(name string, kv ...string) []*dto.Metric {
	fam := s[name]
	if fam == nil {
		return nil
	}
	var out []*dto.Metric
	for _, m := range fam.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(kv); i += 2 {
			ok = ok && labels[kv[i]] == kv[i+1]
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// value is the sum of the counter or gauge series of name matching kv;
// found is false when there is none.
func (s scrape) value(name string, kv ...string) (v float64, found bool) {
	for _, m := range s.series(name, kv...) {
		found = true
		switch {
		case m.Counter != nil:
			v += m.GetCounter().GetValue()
		case m.Gauge != nil:
			v += m.GetGauge().GetValue()
		case m.Untyped != nil:
			v += m.GetUntyped().GetValue()
		}
	}
	return v, found
}

// must is value for a metric that must exist.
func (s scrape) must(t *testing.T, name string, kv ...string) float64 {
	t.Helper()
	v, ok := s.value(name, kv...)
	require.True(t, ok, "metric %s%v is not exported; compliance metrics present: %v", name, kv, s.names("compliance_"))
	return v
}

// histogram returns the sample count and sum of the histogram series of
// name matching kv.
func (s scrape) histogram(t *testing.T, name string, kv ...string) (count uint64, sum float64) {
	t.Helper()
	list := s.series(name, kv...)
	require.NotEmpty(t, list, "histogram %s%v is not exported; compliance metrics present: %v", name, kv, s.names("compliance_"))
	for _, m := range list {
		require.NotNil(t, m.Histogram, "%s is a %s, not a histogram", name, s[name].GetType())
		count += m.GetHistogram().GetSampleCount()
		sum += m.GetHistogram().GetSampleSum()
	}
	return count, sum
}

// names lists the exported metric names with the prefix.
func (s scrape) names(prefix string) []string {
	var out []string
	for name := range s {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Job reports and HTTP endpoints.

// jobsAnswer is the body of GET /compliance/<label>/jobs.
type jobsAnswer struct {
	Jobs []collector.Report `json:"jobs"`
}

// jobs GETs /compliance/e2e/jobs.
func (r *running) jobs(t *testing.T) jobsAnswer {
	t.Helper()
	code, body := r.get("/compliance/e2e/jobs")
	require.Equal(t, http.StatusOK, code, body)
	var out jobsAnswer
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out
}

// waitReady waits until /ready answers want and its body contains every
// part; it returns the body.
func (r *running) waitReady(t *testing.T, want int, parts ...string) string {
	t.Helper()
	var code int
	var body string
	require.Eventually(t, func() bool {
		code, body = r.get("/ready")
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
