package e2e_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// obsNow is the fake's clock when each observability test starts.
var obsNow = at("2026-11-25T12:00:00Z")

// obsData is n activities over [obsNow-span, obsNow-3m): all visible, all
// inside the first job's window (which ends at now - settle = obsNow-2m).
func obsData(seed uint64, n int, span time.Duration) []fakeapi.Activity {
	return fakeapi.Generate(fakeapi.GenOptions{Seed: seed, Count: n, From: obsNow.Add(-span), To: obsNow.Add(-3 * time.Minute)})
}

// oneJob is an endpoint block whose schedule runs one job at start and no
// other while a test lasts.
func oneJob(earliest time.Time, pageSize int) string {
	return fmt.Sprintf(`  endpoints:
    - name: activities
      schedule: "@every 1h"
      earliest: "%s"
      page_size: %d
`, earliest.UTC().Format(time.RFC3339), pageSize)
}

// everyFewMs is an endpoint block with a job every 50ms of real time.
func everyFewMs(earliest time.Time, pageSize int) string {
	return strings.Replace(oneJob(earliest, pageSize), `"@every 1h"`, `"@every 50ms"`, 1)
}

// pageRequests returns the answered requests that read a page of a slice
// (the clock request carries no created_at bound).
func pageRequests(recs []fakeapi.RequestRecord) []fakeapi.RequestRecord {
	var out []fakeapi.RequestRecord
	for _, rec := range recs {
		if rec.Status == http.StatusOK && rec.Query.Get("created_at.gte") != "" {
			out = append(out, rec)
		}
	}
	return out
}

func countStatus(recs []fakeapi.RequestRecord, class int) int {
	n := 0
	for _, rec := range recs {
		if rec.Status/100 == class {
			n++
		}
	}
	return n
}

func countCreatedIn(data []fakeapi.Activity, from, to time.Time) int {
	n := 0
	for _, a := range data {
		if !a.CreatedAt.Before(from) && a.CreatedAt.Before(to) {
			n++
		}
	}
	return n
}

func unix(t time.Time) float64 { return float64(t.Unix()) }

// TestPrometheusMetricsAfterAKnownJob scrapes /metrics (the prometheus
// exporter on the stream's mux) after jobs whose every count is known:
//   - job 1 collects 600 activities over three hours; one page answers 503
//     once and is retried; the fake enforces 1000 requests a minute;
//   - after a restart, job 2 re-reads the overlap (every activity there is a
//     duplicate) and catches one activity that became visible late, 90s
//     below the previous scanned_to;
//   - then the input's clock moves on 40s with no job: the age gauges grow.
//
// Every value is compared with the fake's request log, the checkpoint and
// the dataset; Benthos' label and path labels are kept.
func TestPrometheusMetricsAfterAKnownJob(t *testing.T) {
	t.Parallel() // the age gauges refresh every 5s of real time
	const limit = 1000
	data := obsData(6, 600, 3*time.Hour)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second, RateLimit: limit}, rigOptions{})
	r.api.Script(fakeapi.Fault{Kind: fakeapi.FaultUnavailable, OnlyIfCursor: true})
	conf := r.config(oneJob(obsNow.Add(-3*time.Hour), 100))

	// Job 1.
	st := r.start(conf, streamOptions{metrics: true, maxInFlight: 1})
	rep := r.logs.waitSuccess(t, 1)
	m := st.scrape()
	recs := r.api.Requests()
	pages := pageRequests(recs)
	ep := []string{"endpoint", "activities"}
	require.Equal(t, 1, countStatus(recs, 5), "the scripted 503 was served")
	assert.Equal(t, float64(countStatus(recs, 2)), m.must(t, "compliance_requests", "status_class", "2xx"))
	assert.Equal(t, 1.0, m.must(t, "compliance_requests", "status_class", "5xx"))
	assert.Equal(t, 1.0, m.must(t, "compliance_retries", "reason", "status_503"))
	assert.Equal(t, float64(len(pages)), m.must(t, "compliance_pages", ep...))
	assert.Equal(t, rep["pages"], strconv.Itoa(len(pages)))
	assert.Equal(t, float64(len(data)), m.must(t, "compliance_activities_emitted", ep...))
	assert.Len(t, r.sink.delivered(), len(data))
	assert.Equal(t, 0.0, m.must(t, "compliance_activities_deduplicated", ep...))
	assert.Equal(t, 1.0, m.must(t, "compliance_jobs", "endpoint", "activities", "outcome", "success"))
	assert.Len(t, m.series("compliance_jobs"), 1, "no job of another outcome")
	n, _ := m.histogram(t, "compliance_job_duration_seconds", ep...)
	assert.Equal(t, uint64(1), n)
	assert.Equal(t, unix(obsNow), m.must(t, "compliance_last_success_timestamp", ep...))
	assert.Equal(t, rep["slices_committed"], rep["slices"])
	assert.Equal(t, rep["slices_committed"], fmt.Sprint(m.must(t, "compliance_slices_committed", ep...)))
	scanned := obsNow.Add(-2 * time.Minute)
	assert.Equal(t, scanned.Format(time.RFC3339), ts(r.mustCheckpoint(stateKey).ScannedTo))
	assert.Equal(t, unix(scanned), m.must(t, "compliance_checkpoint_scanned_to_timestamp", ep...))
	assert.Equal(t, 120.0, m.must(t, "compliance_collection_lag_seconds", ep...), "now - scanned_to")
	assert.Equal(t, 0.0, m.must(t, "compliance_checkpoint_age_seconds", ep...))
	assert.Equal(t, float64(limit-len(recs)), m.must(t, "compliance_ratelimit_remaining"),
		"the last response's ratelimit-remaining: every request of the job fell in one minute of the fake")
	assert.Equal(t, 0.0, m.must(t, "compliance_open_slices", ep...))
	assert.Equal(t, 0.0, m.must(t, "compliance_oldest_unacked_age_seconds", ep...))
	assert.Equal(t, 0.0, m.must(t, "compliance_clock_skew_seconds"))
	for _, name := range []string{"compliance_checkpoint_write_errors", "compliance_late_catches", "compliance_rate_limit_waits"} {
		v, _ := m.value(name)
		assert.Zero(t, v, name)
	}
	pagesSeries := m.series("compliance_pages")
	require.Len(t, pagesSeries, 1)
	labels := map[string]string{}
	for _, l := range pagesSeries[0].GetLabel() {
		labels[l.GetName()] = l.GetValue()
	}
	assert.Equal(t, map[string]string{"label": "e2e", "path": "root.input", "endpoint": "activities"}, labels,
		"Benthos' label and path labels are kept")
	require.NoError(t, st.stop())

	// Job 2, after a restart: the overlap again, plus a late arrival.
	late := act("activity_01obsLateArrival000001", "claude_chat_created", scanned.Add(-90*time.Second))
	late.VisibleAt = obsNow.Add(20 * time.Second)
	require.NoError(t, r.api.Add(late))
	now2 := r.clock.Advance(30 * time.Second)
	st = r.start(conf, streamOptions{metrics: true, maxInFlight: 1})
	r.logs.waitSuccess(t, 2) // the first stream ran one job only
	m = st.scrape()
	scanned2 := now2.Add(-2 * time.Minute)
	overlap := countCreatedIn(data, scanned.Add(-5*time.Minute), scanned)
	require.Positive(t, overlap)
	assert.Equal(t, 1.0, m.must(t, "compliance_activities_emitted", ep...))
	assert.Equal(t, late.ID, r.sink.delivered()[len(r.sink.delivered())-1])
	assert.Equal(t, float64(overlap), m.must(t, "compliance_activities_deduplicated", ep...),
		"every activity of the re-read overlap [scanned_to-5m, scanned_to) is a duplicate")
	assert.Equal(t, 1.0, m.must(t, "compliance_late_catches", ep...))
	n, sum := m.histogram(t, "compliance_late_catch_seconds", ep...)
	assert.Equal(t, uint64(1), n)
	assert.Equal(t, 90.0, sum, "how far below the previous scanned_to the late activity was")
	assert.Equal(t, unix(now2), m.must(t, "compliance_last_success_timestamp", ep...))
	assert.Equal(t, unix(scanned2), m.must(t, "compliance_checkpoint_scanned_to_timestamp", ep...))
	assert.Equal(t, 120.0, m.must(t, "compliance_collection_lag_seconds", ep...))

	// No job for 40s of the input's clock: lag and checkpoint age grow.
	r.clock.Advance(40 * time.Second)
	require.Eventually(t, func() bool {
		m = st.scrape()
		lag, _ := m.value("compliance_collection_lag_seconds", ep...)
		age, _ := m.value("compliance_checkpoint_age_seconds", ep...)
		return lag == 160 && age == 40
	}, 15*time.Second, 50*time.Millisecond, "lag 160s and checkpoint age 40s; compliance gauges: %v", m.gauges())
}

// TestRequestMetricsAreLabelledByEndpointAndStatusClass: issue 6 asks for
// "requests by endpoint and status class"; compliance_requests must carry
// both labels.
func TestRequestMetricsAreLabelledByEndpointAndStatusClass(t *testing.T) {
	r := newRig(t, obsNow, fakeapi.Options{Dataset: obsData(17, 20, time.Hour)}, rigOptions{})
	st := r.start(r.config(oneJob(obsNow.Add(-time.Hour), 100)), streamOptions{metrics: true, maxInFlight: 1})
	r.logs.waitSuccess(t, 1)
	m := st.scrape()
	require.NotEmpty(t, m.series("compliance_requests", "status_class", "2xx"))
	assert.NotEmpty(t, m.series("compliance_requests", "status_class", "2xx", "endpoint", "activities"),
		"compliance_requests has no endpoint label: %v", m.series("compliance_requests"))
}

// TestRateLimitWaitsAreCountedWithTheirSeconds: with a budget of 20
// requests a minute and a headroom of 10%, the input pauses whenever only 2
// are left; each pause (clamped to rate_limit.max_wait, 50ms) counts once in
// compliance_rate_limit_waits and adds its length to
// compliance_rate_limit_wait_seconds. Each announced pause ends the fake's
// minute, so no real minute passes.
func TestRateLimitWaitsAreCountedWithTheirSeconds(t *testing.T) {
	data := obsData(7, 300, 3*time.Hour)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second, RateLimit: 20}, rigOptions{})
	var pauses atomic.Int64
	r.logs.setOnEntry(func(e logEntry) {
		if strings.HasPrefix(e.Msg, "pausing 50ms for the shared rate budget (headroom:") {
			pauses.Add(1)
			r.clock.Set(r.clock.Now().Truncate(time.Minute).Add(time.Minute))
		}
	})
	st := r.start(r.config(oneJob(obsNow.Add(-3*time.Hour), 10)+`  rate_limit:
    headroom: 0.1
    max_wait: 50ms
`), streamOptions{metrics: true, maxInFlight: 1})
	r.logs.waitSuccess(t, 1)
	m := st.scrape()
	n := float64(pauses.Load())
	require.GreaterOrEqual(t, n, 1.0, "the job needed more than 18 requests, so it paused")
	assert.Equal(t, n, m.must(t, "compliance_rate_limit_waits", "reason", "headroom"))
	assert.InDelta(t, 0.05*n, m.must(t, "compliance_rate_limit_wait_seconds", "reason", "headroom"), 1e-9)
	recs := r.api.Requests()
	assert.Zero(t, countStatus(recs, 4), "no 429")
	last := recs[len(recs)-1].Time.Truncate(time.Minute)
	inLast := 0
	for _, rec := range recs {
		if rec.Time.Truncate(time.Minute).Equal(last) {
			inLast++
		}
	}
	assert.Equal(t, float64(20-inLast), m.must(t, "compliance_ratelimit_remaining"))
	t.Logf("%d requests, %v pauses", len(recs), n)
}

// TestClockSkewGaugeIsTheInputClockMinusTheAPIDate: the input's clock runs
// ahead of (or behind) the API's Date header; compliance_clock_skew_seconds
// shows the difference and a skew beyond 30s is logged as a warning.
func TestClockSkewGaugeIsTheInputClockMinusTheAPIDate(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ahead time.Duration
		warns bool
	}{
		{"ahead 45s", 45 * time.Second, true},
		{"behind 20s", -20 * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, obsNow, fakeapi.Options{Dataset: obsData(8, 20, time.Hour)}, rigOptions{inputAhead: tc.ahead})
			st := r.start(r.config(oneJob(obsNow.Add(-time.Hour), 100)), streamOptions{metrics: true, maxInFlight: 1})
			r.logs.waitSuccess(t, 1)
			m := st.scrape()
			assert.Equal(t, tc.ahead.Seconds(), m.must(t, "compliance_clock_skew_seconds"))
			warned := len(r.logs.matching("local clock differs from the Compliance API's Date header by "+tc.ahead.String())) > 0
			assert.Equal(t, tc.warns, warned, r.logs.dump())
		})
	}
}

// TestReadyTellsTheTruth: /ready answers 503, with the reason in the body,
// for each cause the input knows — the key is refused (401), three jobs in a
// row failed, no job succeeded within stale_after (here a job stuck on a
// request while the input's clock moves on), checkpoint writes fail — and
// 200 again once the cause is gone and a job succeeds. Each cause also shows
// in a metric.
func TestReadyTellsTheTruth(t *testing.T) {
	type rigState struct {
		r       *rig
		failing atomic.Bool // the fake answers 500 (no retry) to every request
	}
	for _, tc := range []struct {
		name      string
		state     string // extra under state:
		resources string
		brk, fix  func(t *testing.T, s *rigState)
		reason    []string
		metric    []string // name and labels of a metric that must be positive
	}{
		{
			name: "key refused (401)",
			brk: func(t *testing.T, s *rigState) {
				require.NoError(t, s.r.api.SetKeys([]string{"sk-ant-api01-some-other-key"}, nil))
			},
			fix:    func(t *testing.T, s *rigState) { require.NoError(t, s.r.api.SetKeys([]string{apiKey}, nil)) },
			reason: []string{"the Compliance API refused the key", "401 authentication_error"},
			metric: []string{"compliance_requests", "status_class", "4xx"},
		},
		{
			name:   "three failed jobs in a row (500)",
			brk:    func(t *testing.T, s *rigState) { s.failing.Store(true) },
			fix:    func(t *testing.T, s *rigState) { s.failing.Store(false) },
			reason: []string{"collection is stalled: ", " consecutive jobs failed; last: ", "500 api_error"},
			metric: []string{"compliance_jobs", "outcome", "failed"},
		},
		{
			name: "no success within stale_after (job stuck)",
			brk: func(t *testing.T, s *rigState) {
				s.r.gate.holdWhen(func(url.Values) bool { return true })
				require.Eventually(t, func() bool { return s.r.gate.held() > 0 }, 10*time.Second, time.Millisecond,
					"a job is stuck on a request")
				s.r.clock.Advance(3 * time.Second)
			},
			fix:    func(t *testing.T, s *rigState) { s.r.gate.releaseAll() },
			reason: []string{"no job succeeded for 3s (stale_after 2s)"},
			metric: []string{"compliance_skipped_ticks"},
		},
		{
			name:      "checkpoint writes fail",
			state:     "    cache: e2e_state\n",
			resources: "cache_resources:\n  - label: e2e_state\n    e2e_flaky_cache: {}\n",
			brk:       func(t *testing.T, s *rigState) { s.r.cache.refuse.Store(true) },
			fix:       func(t *testing.T, s *rigState) { s.r.cache.refuse.Store(false) },
			reason:    []string{"e2e cache refuses writes"},
			metric:    []string{"compliance_checkpoint_write_errors"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // recovery waits out the input's 5s reconnect back-off
			data := obsData(9, 200, time.Hour)
			s := &rigState{r: newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})}
			r := s.r
			r.api.Script(faultsWhile(&s.failing, 1000)...)
			conf := r.render(inputConfig{state: tc.state, extra: everyFewMs(obsNow.Add(-time.Hour), 100) + "  stale_after: 2s\n"})
			st := r.start(conf, streamOptions{metrics: true, resources: tc.resources, maxInFlight: 1})
			r.logs.waitSuccess(t, 1)
			st.waitReady(http.StatusOK)

			tc.brk(t, s)
			body := st.waitReady(http.StatusServiceUnavailable, tc.reason...)
			t.Logf("/ready: %s", strings.TrimSpace(body))
			v, _ := st.scrape().value(tc.metric[0], tc.metric[1:]...)
			assert.Positive(t, v, "metric %v", tc.metric)

			before := len(r.logs.jobReports())
			tc.fix(t, s)
			st.waitReady(http.StatusOK)
			r.logs.waitJob(t, "a success after the fix", func(report) bool {
				reps := r.logs.jobReports()
				for _, rep := range reps[min(before, len(reps)):] {
					if rep["outcome"] == "success" {
						return true
					}
				}
				return false
			})
			_, body = st.get("/ready")
			assert.NotContains(t, body, `"error"`, "no component reports an error once ready")
			assert.ElementsMatch(t, ids(data), uniq(r.sink.delivered()), "everything was delivered")
		})
	}
}

// TestStaleAfterDefaultsToThreeScheduleIntervals: with stale_after unset and
// a job every hour, /ready turns 503 once no job succeeded for more than
// three hours of the input's clock, naming the 3h limit.
func TestStaleAfterDefaultsToThreeScheduleIntervals(t *testing.T) {
	r := newRig(t, obsNow, fakeapi.Options{Dataset: obsData(10, 20, time.Hour)}, rigOptions{})
	st := r.start(r.config(oneJob(obsNow.Add(-time.Hour), 100)), streamOptions{maxInFlight: 1})
	r.logs.waitSuccess(t, 1)
	st.waitReady(http.StatusOK)
	r.clock.Advance(3*time.Hour + time.Minute)
	st.waitReady(http.StatusServiceUnavailable, "no job succeeded for 3h1m0s (stale_after 3h0m0s)")
}

// TestJobReportOfAKnownWindow: every request moves the input's clock by 1s,
// so a job's duration is its request count in seconds. The "job report" log
// line of the first job holds the window, the slice, page and activity
// counts, the first and last delivered ids, the request-id of the fake's
// last answer, the duration and the outcome; GET /compliance/e2e/jobs
// serves the same report as JSON, and drops it once it is older than
// job_history_ttl on the input's clock.
func TestJobReportOfAKnownWindow(t *testing.T) {
	data := obsData(11, 600, 3*time.Hour)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	r.advanceOnEveryRequest(time.Second)
	st := r.start(r.config(oneJob(obsNow.Add(-3*time.Hour), 100)+"  job_history_ttl: 10m\n"), streamOptions{maxInFlight: 1})
	rep := r.logs.waitSuccess(t, 1)

	recs := r.api.Requests()
	pages := pageRequests(recs)
	slices := map[string]bool{}
	for _, p := range pages {
		slices[p.Query.Get("created_at.gte")+".."+p.Query.Get("created_at.lt")] = true
	}
	got := r.sink.delivered()
	require.Len(t, got, len(data))
	want := map[string]string{
		"job_id":                  "activities-20261125T120000Z-1",
		"endpoint":                "activities",
		"window_from":             "2026-11-25T09:00:00Z",
		"window_to":               "2026-11-25T11:58:01Z", // the clock request moved now to 12:00:01
		"slices":                  strconv.Itoa(len(slices)),
		"slices_committed":        strconv.Itoa(len(slices)),
		"pages":                   strconv.Itoa(len(pages)),
		"activities_emitted":      strconv.Itoa(len(data)),
		"activities_deduplicated": "0",
		"first_activity_id":       got[0],
		"last_activity_id":        got[len(got)-1],
		"final_request_id":        recs[len(recs)-1].RequestID,
		"duration":                (time.Duration(len(recs)) * time.Second).String(),
		"outcome":                 "success",
	}
	for k, v := range want {
		assert.Equal(t, v, rep[k], "job report field %s", k)
	}

	jobs := st.jobs().Jobs
	require.Len(t, jobs, 1)
	j := jobs[0]
	asJSON := map[string]string{
		"job_id": j.JobID, "endpoint": j.Endpoint, "window_from": j.From, "window_to": j.To,
		"slices": strconv.Itoa(j.Slices), "slices_committed": strconv.Itoa(j.SlicesCommitted), "pages": strconv.Itoa(j.Pages),
		"activities_emitted": strconv.Itoa(j.Emitted), "activities_deduplicated": strconv.Itoa(j.Duplicates),
		"first_activity_id": j.FirstID, "last_activity_id": j.LastID, "final_request_id": j.FinalRequestID,
		"duration": j.Duration().String(), "outcome": j.Outcome,
	}
	assert.Equal(t, want, asJSON, "GET /compliance/e2e/jobs serves the logged report")
	assert.Equal(t, obsNow, j.Start.UTC())

	r.gate.onRequest(nil)
	r.clock.Set(j.End.Add(10 * time.Minute))
	assert.Len(t, st.jobs().Jobs, 1, "kept for job_history_ttl (10m)")
	r.clock.Advance(time.Second)
	assert.Empty(t, st.jobs().Jobs, "dropped once older than job_history_ttl")
}

// progressLine is one progress log line and the input's clock when it was
// written.
type progressLine struct {
	at      time.Time
	msg     string
	soFar   int
	percent int
}

// progressRE reads "job <id>: <n> activities so far, at slice [..) page <p>
// (<x>% of the window)".
var progressRE = regexp.MustCompile(`^job \S+: (\d+) activities so far.*, at slice \[[^)]*\) page \d+ \((\d+)% of the window\)$`)

// TestProgressIsLoggedAtMostEvery10sOfTheInputClock: a backfill of 3000
// activities over ten hours, 100 a page, where every request moves the
// input's clock by 3s. The job logs its progress on its first page and then
// on the first page at least 10s (of the input's clock) after the previous
// line: every fourth page. Counts and percentages only grow.
func TestProgressIsLoggedAtMostEvery10sOfTheInputClock(t *testing.T) {
	data := obsData(12, 3000, 10*time.Hour)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	r.advanceOnEveryRequest(3 * time.Second)
	var mu sync.Mutex
	var lines []progressLine
	r.logs.setOnEntry(func(e logEntry) {
		if m := progressRE.FindStringSubmatch(e.Msg); m != nil {
			p := progressLine{at: r.clock.Now(), msg: e.Msg}
			p.soFar, _ = strconv.Atoi(m[1])
			p.percent, _ = strconv.Atoi(m[2])
			mu.Lock()
			lines = append(lines, p)
			mu.Unlock()
		}
	})
	r.start(r.config(oneJob(obsNow.Add(-10*time.Hour), 100)), streamOptions{maxInFlight: 1})
	r.logs.waitSuccess(t, 1)
	mu.Lock()
	defer mu.Unlock()

	pages := len(pageRequests(r.api.Requests()))
	require.Greater(t, pages, 12)
	assert.Len(t, lines, (pages-1)/4+1, "the first page, then every fourth page (12s of clock)")
	for i := 1; i < len(lines); i++ {
		gap := lines[i].at.Sub(lines[i-1].at)
		assert.GreaterOrEqual(t, gap, 10*time.Second, "line %d: %s", i, lines[i].msg)
		assert.LessOrEqual(t, gap, 12*time.Second, "line %d: not later than the first page past 10s", i)
		assert.Greater(t, lines[i].soFar, lines[i-1].soFar)
		assert.GreaterOrEqual(t, lines[i].percent, lines[i-1].percent)
	}
	require.NotEmpty(t, lines)
	assert.LessOrEqual(t, lines[len(lines)-1].soFar, len(data))
	assert.LessOrEqual(t, lines[len(lines)-1].percent, 100)
	assert.Less(t, lines[0].percent, 100)
	t.Logf("%d pages, %d progress lines, e.g. %q", pages, len(lines), lines[len(lines)-1].msg)
}

// TestProgressLineReportsTheRate: issue 6 asks for the rate in the progress
// line ("activities so far, rate, and position in the window"). The line is
// expected to say "<r> activities/s", measured on the input's clock (here
// 100 activities per 3s page: about 33/s).
func TestProgressLineReportsTheRate(t *testing.T) {
	data := obsData(13, 1000, 5*time.Hour)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	r.advanceOnEveryRequest(3 * time.Second)
	r.start(r.config(oneJob(obsNow.Add(-5*time.Hour), 100)), streamOptions{maxInFlight: 1})
	r.logs.waitSuccess(t, 1)
	lines := r.logs.matching("activities so far")
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Regexp(t, `[0-9.]+ activities/s`, l.Msg, "the progress line reports the rate")
	}
}

// TestLogLevelOfTheInput: log_level DEBUG writes the input's debug lines
// (request tracing with the key redacted, commits) at INFO; without it they
// stay at DEBUG; log_level ERROR drops the input's info and warning lines
// (job reports of successful jobs included) but keeps its errors.
func TestLogLevelOfTheInput(t *testing.T) {
	// Lines the Benthos engine writes for the input's component; the
	// input's own lines are everything else under path root.input.
	engine := []string{"Input type anthropic_compliance is now active", "Consumed ", "Waiting for pending acks", "Pending acks resolved"}
	inputLines := func(logs *logSink) []logEntry {
		var out []logEntry
		for _, e := range logs.all() {
			own := e.Attrs["path"] == "root.input"
			for _, p := range engine {
				own = own && !strings.HasPrefix(e.Msg, p)
			}
			if own {
				out = append(out, e)
			}
		}
		return out
	}
	atLevel := func(lines []logEntry, level slog.Level, prefix string) int {
		n := 0
		for _, e := range lines {
			if e.Level == level && strings.HasPrefix(e.Msg, prefix) {
				n++
			}
		}
		return n
	}
	for _, tc := range []struct {
		name, level string
		check       func(t *testing.T, lines []logEntry)
	}{
		{"DEBUG promotes debug lines to INFO", "DEBUG", func(t *testing.T, lines []logEntry) {
			traced := 0
			for _, e := range lines {
				if strings.HasPrefix(e.Msg, "request GET ") {
					traced++
					assert.Equal(t, slog.LevelInfo, e.Level, e.Msg)
					assert.Equal(t, "debug", e.Attrs["detail"])
					assert.Contains(t, e.Msg, "x-api-key:[redacted]")
				}
			}
			assert.Positive(t, traced, "requests are traced")
			assert.Positive(t, atLevel(lines, slog.LevelInfo, "committed "), "commits are logged")
			assert.Positive(t, atLevel(lines, slog.LevelInfo, "job report"))
		}},
		{"unset keeps debug lines at DEBUG", "", func(t *testing.T, lines []logEntry) {
			assert.Positive(t, atLevel(lines, slog.LevelDebug, "request GET "))
			assert.Zero(t, atLevel(lines, slog.LevelInfo, "request GET "))
			assert.Positive(t, atLevel(lines, slog.LevelInfo, "job report"))
		}},
		{"ERROR drops info and warnings", "ERROR", func(t *testing.T, lines []logEntry) {
			var below []string
			for _, e := range lines {
				if e.Level < slog.LevelError {
					below = append(below, e.Level.String()+" "+e.Msg)
				}
			}
			assert.Empty(t, below, "input lines below ERROR")
			assert.Positive(t, atLevel(lines, slog.LevelError, "job report"), "the failed job is still reported")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := obsData(15, 100, time.Hour)
			r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
			// The first slice request fails for good: one failed job (an
			// ERROR report), then the next job collects everything.
			r.api.Script(fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry, Match: func(v url.Values) bool { return v.Get("created_at.gte") != "" }})
			conf := r.config(everyFewMs(obsNow.Add(-time.Hour), 100))
			if tc.level != "" {
				conf += "  log_level: " + tc.level + "\n"
			}
			st := r.start(conf, streamOptions{maxInFlight: 1})
			r.sink.waitDelivered(t, len(data))
			require.Eventually(t, func() bool {
				rec := readRecord(r.store, stateKey)
				return rec != nil && ts(rec.ScannedTo) == "2026-11-25T11:58:00Z"
			}, 10*time.Second, 5*time.Millisecond, "the second job commits the window")
			require.NoError(t, st.stop())
			tc.check(t, inputLines(r.logs))
		})
	}
}

// TestStuckJobWarnsWithTheOutstandingCount: the output holds every batch
// (it never acknowledges). Once the job has fetched its window and waited
// ack_warn_after, it warns with the number of unacknowledged batches, how
// long they have waited (the input's clock) and the likely causes; the
// open-slice and oldest-unacknowledged gauges show the stall. Releasing the
// batches completes the job.
func TestStuckJobWarnsWithTheOutstandingCount(t *testing.T) {
	t.Parallel() // the age gauge refreshes every 5s of real time
	data := obsData(16, 30, 30*time.Minute)
	r := newRig(t, obsNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	r.sink.setPolicy(func(delivery) verdict { return holdIt })
	// One slice holds the whole window, so the job has fetched it all.
	st := r.start(r.config(oneJob(obsNow.Add(-30*time.Minute), 100)+"  batch_size: 10\n  ack_warn_after: 100ms\n  min_slice: 1h\n"),
		streamOptions{metrics: true, maxInFlight: 64})
	r.sink.waitHeld(t, 3)
	r.clock.Advance(90 * time.Second)
	require.Eventually(t, func() bool {
		for _, e := range r.logs.matching("has fetched its window but 3 batches have been waiting for acknowledgement for 1m30s") {
			if e.Level == slog.LevelWarn {
				return true
			}
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "the stuck-job warning; logs:\n%s", r.logs.dump())
	warning := r.logs.matching("has fetched its window but 3 batches")[0].Msg
	for _, cause := range []string{"no `period`", "auto_replay_nacks", "`fallback`"} {
		assert.Contains(t, warning, cause)
	}
	ep := []string{"endpoint", "activities"}
	var m scrape
	assert.Eventually(t, func() bool {
		m = st.scrape()
		open, _ := m.value("compliance_open_slices", ep...)
		age, _ := m.value("compliance_oldest_unacked_age_seconds", ep...)
		return open == 1 && age == 90
	}, 8*time.Second, 50*time.Millisecond, "open slices 1 and the oldest unacknowledged batch 90s old (the gauges refresh every 5s)")
	t.Logf("gauges while stuck: %v", m.gauges())
	assert.Empty(t, r.logs.jobReports(), "the job has not ended")

	r.sink.setPolicy(nil)
	r.sink.releaseAll(nil)
	rep := r.logs.waitSuccess(t, 1)
	assert.Equal(t, "30", rep["activities_emitted"])
	m = st.scrape()
	assert.Equal(t, 0.0, m.must(t, "compliance_open_slices", ep...))
	assert.Equal(t, 0.0, m.must(t, "compliance_oldest_unacked_age_seconds", ep...))
}

// TestKeyLeakCheckFindsAnyPieceOfTheKey pins the check every observability
// run applies to its captured logs: it finds the key whole, cut, or quoted
// inside other text, and nothing in text that only names the key's kind.
func TestKeyLeakCheckFindsAnyPieceOfTheKey(t *testing.T) {
	secret := strings.TrimPrefix(apiKey, "sk-ant-api01-")
	for _, tc := range []struct {
		name, text string
		leaks      bool
	}{
		{"whole key", "x-api-key: " + apiKey, true},
		{"first 12 secret characters", "key " + secret[:12] + "…", true},
		{"last 12 characters", "…" + apiKey[len(apiKey)-12:], true},
		{"redacted", "x-api-key:[redacted] sk-ant-api01-…", false},
		{"11 characters", secret[:11], false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			found := apiKeyLeaks("text", tc.text)
			assert.Equal(t, tc.leaks, len(found) > 0, found)
		})
	}
}
