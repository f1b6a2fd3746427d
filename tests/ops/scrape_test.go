package ops_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redpanda-data/benthos/v4/public/service"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	_ "github.com/redpanda-data/benthos/v4/public/components/pure"

	_ "github.com/compliance-connect/compliance-connect/metrics/prometheus"

	"github.com/compliance-connect/compliance-connect/input/compliance"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// synthetic are series Prometheus makes itself (never on /metrics) and
// target labels it adds to every scraped series.
var (
	syntheticMetrics = map[string]bool{"up": true}
	targetLabels     = map[string]bool{"instance": true, "job": true}
)

// pendingMetrics are metrics the alerts use that the input does not export
// yet, with the work that adds them. The scrape test fails once one of them
// exists, so that this list cannot outlive its reason.
var pendingMetrics = map[string]string{}

// scraped is the parsed /metrics of a real run: series names (histograms as
// _bucket/_sum/_count) and the label names of each.
type scraped map[string]map[string]bool

func parseScrape(t *testing.T, body string) scraped {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	require.NoError(t, err, "parsing /metrics")
	out := scraped{}
	add := func(name string, labels []*dto.LabelPair, extra ...string) {
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		for _, l := range labels {
			out[name][l.GetName()] = true
		}
		for _, l := range extra {
			out[name][l] = true
		}
	}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_HISTOGRAM:
				add(name+"_bucket", m.GetLabel(), "le")
				add(name+"_sum", m.GetLabel())
				add(name+"_count", m.GetLabel())
			case dto.MetricType_SUMMARY:
				add(name, m.GetLabel(), "quantile")
				add(name+"_sum", m.GetLabel())
				add(name+"_count", m.GetLabel())
			default:
				add(name, m.GetLabel())
			}
		}
	}
	return out
}

// TestScrapeAfterAJobHasEveryMetricTheDashboardAndAlertsQuery runs the real
// input through the Benthos engine with the prometheus exporter against the
// fake API, scrapes /metrics after a job, and checks that every metric the
// dashboard and the alerts query exists, with the label names their
// selectors and grouping clauses use. The names come from the PromQL of
// config/grafana/compliance-connect.json and config/prometheus/alerts.yaml.
//
// The job is the second of a checkpoint (the first ran in an earlier stream):
// it catches an activity that became visible late below the previous
// scanned_to, gets a 429 and a 503 that are retried, and pauses for the rate
// budget's headroom before most requests, so that the series that exist only
// after such events are there.
func TestScrapeAfterAJobHasEveryMetricTheDashboardAndAlertsQuery(t *testing.T) {
	t.Parallel()
	body := scrapeAfterAJob(t)
	have := parseScrape(t, body)

	for _, src := range []struct {
		name    string
		queries []query
	}{
		{"dashboard", dashboardQueries(t, loadDashboard(t))},
		{"alerts", alertQueries(t)},
	} {
		t.Run(src.name, func(t *testing.T) {
			require.NotEmpty(t, src.queries)
			for _, q := range src.queries {
				refs, err := parseRefs(q.expr)
				require.NoError(t, err, q.where)
				require.NotEmpty(t, refs.metrics, "%s queries no metric", q.where)
				known, pending := map[string]bool{}, false
				for l := range targetLabels {
					known[l] = true
				}
				for name, labels := range refs.metrics {
					if syntheticMetrics[name] {
						continue
					}
					if why, ok := pendingMetrics[name]; ok {
						assert.Equal(t, "alerts", src.name, "%s: %s is pending (%s): only alerts may use it", q.where, name, why)
						assert.NotContains(t, have, name, "%s exists now: remove it from pendingMetrics", name)
						t.Logf("%s: %s is not exported yet (%s)", q.where, name, why)
						pending = true
						continue
					}
					series, ok := have[name]
					if !assert.True(t, ok, "%s: metric %s is not on /metrics", q.where, name) {
						continue
					}
					for l := range series {
						known[l] = true
					}
					for _, l := range labels {
						assert.True(t, series[l] || targetLabels[l], "%s: %s has no label %q (it has %v)", q.where, name, l, keys(series))
					}
				}
				for _, l := range refs.grouping {
					if pending {
						break // the labels of the missing metric are unknown
					}
					assert.True(t, known[l], "%s: groups by %q, which none of its metrics has", q.where, l)
				}
			}
		})
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const scrapeKey = "sk-ant-api01-ops-scrape-test-key-000000"

// scrapeAfterAJob runs two streams of the input labelled ops against the
// fake API (see the test above) and returns the /metrics body of the second
// after its job succeeded.
func scrapeAfterAJob(t *testing.T) string {
	t.Helper()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := fakeapi.NewManualClock(t0)
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 14, Count: 300, From: t0.Add(-3 * time.Hour), To: t0.Add(-3 * time.Minute)})
	api, err := fakeapi.New(fakeapi.Options{APIKeys: []string{scrapeKey}, Clock: clock.Now, Dataset: data, RateLimit: 40})
	require.NoError(t, err)
	hs := httptest.NewServer(api)
	t.Cleanup(hs.Close)

	env := service.NewEnvironment()
	require.NoError(t, compliance.Register(env, compliance.WithClock(clock.Now)))
	input := fmt.Sprintf(`
label: ops
anthropic_compliance:
  api_key: %s
  base_url: %s
  state:
    path: %s
  retries:
    initial_interval: 0s
    max_retry_after: 10ms
  rate_limit:
    headroom: 0.95
    max_wait: 10ms
  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "%s"
      page_size: 100
`, scrapeKey, hs.URL, t.TempDir(), t0.Add(-3*time.Hour).Format(time.RFC3339))

	// Job 1 commits scanned_to = t0 - settle (2m).
	first := startStream(t, env, input)
	first.waitJob(t, "success")
	first.stop(t)

	// A minute later (a fresh rate-limit window) an activity created 90s
	// below scanned_to becomes visible, and two requests fail once.
	lateAt := t0.Add(-2*time.Minute - 90*time.Second)
	late := fakeapi.Activity{
		ID: "activity_01opsLateArrival0000000001", Type: "claude_chat_created", CreatedAt: lateAt,
		VisibleAt: t0.Add(30 * time.Second), ActorType: "user_actor", ActorID: "user_ops",
		JSON: fmt.Appendf(nil, `{"id":"activity_01opsLateArrival0000000001","created_at":%q,"organization_id":null,"organization_uuid":null,"actor":{"type":"user_actor","user_id":"user_ops","email_address":"ops@example.com"},"type":"claude_chat_created"}`,
			lateAt.Format(time.RFC3339Nano)),
	}
	require.NoError(t, api.Add(late))
	clock.Advance(time.Minute)
	api.Script(fakeapi.Fault{Kind: fakeapi.FaultRateLimited}, fakeapi.Fault{Kind: fakeapi.FaultUnavailable})

	second := startStream(t, env, input)
	rep := second.waitJob(t, "success")
	assert.Equal(t, 1, rep.LateCatches, "job 2 caught the late activity")
	code, body := second.get("/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, want := range []string{`reason="status_429"`, `reason="status_503"`, `compliance_late_catches{`, `compliance_rate_limit_waits{`} {
		require.Contains(t, body, want, "the scenario produced %s", want)
	}
	return body
}

// stream is one Benthos stream of the input, with a drop output and the
// prometheus exporter, serving its HTTP endpoints on a mux of the test's.
type stream struct {
	s    *service.Stream
	mux  *http.ServeMux
	done chan error
	once sync.Once
}

func startStream(t *testing.T, env *service.Environment, input string) *stream {
	t.Helper()
	sb := env.NewStreamBuilder()
	mux := http.NewServeMux()
	sb.SetHTTPMux(mux)
	require.NoError(t, sb.SetLoggerYAML("level: error"))
	require.NoError(t, sb.SetMetricsYAML("prometheus: {}"))
	require.NoError(t, sb.AddInputYAML(input))
	require.NoError(t, sb.AddOutputYAML("drop: {}"))
	s, err := sb.Build()
	require.NoError(t, err)
	st := &stream{s: s, mux: mux, done: make(chan error, 1)}
	go func() { st.done <- s.Run(context.Background()) }()
	t.Cleanup(func() { st.stop(t) })
	return st
}

func (st *stream) get(path string) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Host = "127.0.0.1:4195" // the input answers only IP, localhost or allowed Host names (DNS rebinding)
	st.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

type jobReport struct {
	Outcome     string `json:"outcome"`
	Error       string `json:"error"`
	LateCatches int    `json:"late_catches"`
}

// waitJob waits for the stream's first job report and requires its outcome.
func (st *stream) waitJob(t *testing.T, outcome string) jobReport {
	t.Helper()
	var jobs struct {
		Jobs []jobReport `json:"jobs"`
	}
	require.Eventually(t, func() bool {
		code, body := st.get("/compliance/ops/jobs")
		return code == http.StatusOK && json.Unmarshal([]byte(body), &jobs) == nil && len(jobs.Jobs) > 0
	}, 30*time.Second, 10*time.Millisecond, "waiting for a job report")
	rep := jobs.Jobs[len(jobs.Jobs)-1]
	require.Equal(t, outcome, rep.Outcome, "job error: %s", rep.Error)
	return rep
}

// stop stops the stream (once) and waits for Run to return.
func (st *stream) stop(t *testing.T) {
	st.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		assert.NoError(t, st.s.Stop(ctx))
		<-st.done
	})
}
