package prometheus_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/metrics/prometheus"
)

func TestConfigErrorsNameTheField(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{name: "empty buckets", yaml: "histogram_buckets: []", want: "histogram_buckets: must hold at least one bucket"},
		{name: "unsorted buckets", yaml: "histogram_buckets: [1, 0.5]", want: "histogram_buckets[1]: must be greater than the bucket before it (1), got 0.5"},
		{name: "repeated bucket", yaml: "histogram_buckets: [1, 1]", want: "histogram_buckets[1]: must be greater"},
		{name: "infinite bucket", yaml: "histogram_buckets: [1, .inf]", want: "histogram_buckets[1]: must be finite"},
		{name: "credentials in push url", yaml: "push_url: http://user:hunter2@gw:9091", want: "push_url: must not carry credentials; use push_basic_auth"},
		{name: "push url without scheme", yaml: "push_url: gw:9091", want: "push_url: must be an http or https URL with a host"},
		{name: "push url without host", yaml: "push_url: http://", want: "push_url: must be an http or https URL with a host"},
		{name: "empty job name", yaml: "push_url: http://gw:9091\npush_job_name: ''", want: "push_job_name: must not be empty when push_url is set"},
		{name: "zero push interval", yaml: "push_url: http://gw:9091\npush_interval: 0s", want: "push_interval: must be positive, got 0s"},
		{name: "bad push interval", yaml: "push_url: http://gw:9091\npush_interval: soon", want: "push_interval"},
		{name: "password without user", yaml: "push_basic_auth:\n  password: hunter2", want: "push_basic_auth.username: must be set when push_basic_auth.password is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := prometheus.Spec().ParseYAML(tt.yaml, nil)
			require.NoError(t, err)
			_, err = prometheus.New(conf, nil)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "hunter2", "errors must not echo secrets")
		})
	}
}

func TestFileOutputHoldsFinalValuesAfterClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.prom")
	e, _ := newExporter(t, quietYAML+"file_output_path: "+path+"\n")
	e.NewCounterCtor("input_received", "label", "path")("gen", "root.input").Incr(5)

	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written before Close")
	require.NoError(t, e.Close(context.Background()))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	mfs := parseText(t, f)
	assert.Equal(t, 5.0, series(t, mfs, "input_received", map[string]string{"label": "gen", "path": "root.input"}).GetCounter().GetValue())
	// Close is idempotent and keeps its first result.
	require.NoError(t, e.Close(context.Background()))
}

func TestFileOutputFailureIsReturnedByClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing-dir", "metrics.prom")
	e, _ := newExporter(t, quietYAML+"file_output_path: "+path+"\n")
	err := e.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "writing file_output_path \""+path+"\"")
}

// pushgateway is a fake Pushgateway that records every push.
type pushgateway struct {
	status int

	mu     sync.Mutex
	pushes []push
}

type push struct {
	method, path, user, pass string
	authed                   bool
	families                 map[string]*dto.MetricFamily
}

func (g *pushgateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := push{method: r.Method, path: r.URL.Path, families: map[string]*dto.MetricFamily{}}
	p.user, p.pass, p.authed = r.BasicAuth()
	dec := expfmt.NewDecoder(r.Body, expfmt.ResponseFormat(r.Header))
	for {
		mf := &dto.MetricFamily{}
		if err := dec.Decode(mf); err != nil {
			if err != io.EOF {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			break
		}
		p.families[mf.GetName()] = mf
	}
	g.mu.Lock()
	g.pushes = append(g.pushes, p)
	g.mu.Unlock()
	if g.status != 0 {
		http.Error(w, "gateway says no", g.status)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (g *pushgateway) recorded() []push {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]push(nil), g.pushes...)
}

func TestClosePushesFinalValuesWithBasicAuth(t *testing.T) {
	gw := &pushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	e, _ := newExporter(t, quietYAML+`
push_url: `+srv.URL+`
push_job_name: backfill
push_basic_auth:
  username: prom
  password: s3cret
`)
	e.NewCounterCtor("output_sent", "label", "path")("", "root.output").Incr(9)
	assert.Empty(t, gw.recorded(), "without push_interval nothing is pushed before Close")

	require.NoError(t, e.Close(context.Background()))
	pushes := gw.recorded()
	require.Len(t, pushes, 1)
	p := pushes[0]
	assert.Equal(t, http.MethodPut, p.method, "a push replaces the job's metrics")
	assert.Equal(t, "/metrics/job/backfill", p.path)
	assert.True(t, p.authed)
	assert.Equal(t, "prom", p.user)
	assert.Equal(t, "s3cret", p.pass)
	assert.Equal(t, 9.0, series(t, p.families, "output_sent", map[string]string{"label": "", "path": "root.output"}).GetCounter().GetValue())
}

func TestPushIntervalPushesWhileRunning(t *testing.T) {
	gw := &pushgateway{}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	e, _ := newExporter(t, quietYAML+"push_url: "+srv.URL+"\npush_interval: 5ms\n")
	ctr := e.NewCounterCtor("ticks")()
	ctr.Incr(1)

	require.Eventually(t, func() bool { return len(gw.recorded()) >= 2 }, 20*time.Second, time.Millisecond)
	for _, p := range gw.recorded() {
		assert.Equal(t, "/metrics/job/compliance_connect", p.path)
		assert.False(t, p.authed, "no credentials configured, none sent")
	}

	ctr.Incr(1)
	require.NoError(t, e.Close(context.Background()))
	pushes := gw.recorded()
	last := pushes[len(pushes)-1]
	assert.Equal(t, 2.0, series(t, last.families, "ticks", map[string]string{}).GetCounter().GetValue(), "Close pushes the final value last")
}

func TestPushFailuresAreLoggedWhileRunningAndReturnedByClose(t *testing.T) {
	gw := &pushgateway{status: http.StatusInternalServerError}
	srv := httptest.NewServer(gw)
	defer srv.Close()

	e, logs := newExporter(t, quietYAML+"push_url: "+srv.URL+"\npush_interval: 5ms\npush_basic_auth: {username: u, password: s3cret}\n")
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), "Pushing metrics to the Pushgateway failed")
	}, 20*time.Second, time.Millisecond)

	err := e.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "final push to push_url")
	assert.Contains(t, err.Error(), "500")
	assert.NotContains(t, logs.String()+err.Error(), "s3cret")
}

func TestCloseGivesUpPushingWhenItsContextEnds(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release // a gateway that never answers in time
	}))
	defer srv.Close()
	defer close(release)

	e, _ := newExporter(t, quietYAML+"push_url: "+srv.URL+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := e.Close(ctx)
	require.ErrorIs(t, err, context.Canceled)
}
