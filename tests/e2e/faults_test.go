package e2e_test

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// faultNow is the fake's (standing) clock in the fault tests; the dataset
// spans [faultEarliest, faultNow - 3m), so every activity is visible and
// inside the first job's window.
var (
	faultNow      = at("2026-11-25T12:00:00Z")
	faultEarliest = "2026-11-25T08:00:00Z"
)

// faultDataset is 1000 activities over four hours: with page_size 100 and the
// first slices one hour long, each slice takes about three pages.
func faultDataset() []fakeapi.Activity {
	return fakeapi.Generate(fakeapi.GenOptions{Seed: 4, Count: 1000, From: at(faultEarliest), To: faultNow.Add(-3 * time.Minute)})
}

// inSecondSliceAfterPageOne matches the requests that carry a cursor in the
// job's second slice: by then the first slice is delivered (and commits), the
// second has handed out its first page. It is called under the fake's lock.
func inSecondSliceAfterPageOne() func(url.Values) bool {
	var first string
	return func(v url.Values) bool {
		gte := v.Get("created_at.gte")
		if gte == "" {
			return false // the clock request
		}
		if first == "" {
			first = gte
		}
		return gte != first && v.Get("after_id") != ""
	}
}

// faultEndpoint is the endpoint block of the fault tests: a job every 20ms
// (so the job after a failed one starts at once), 100 activities a page.
const faultEndpoint = `  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "` + "2026-11-25T08:00:00Z" + `"
      page_size: 100
`

type faultCase struct {
	name string // defaults to the kind
	kind fakeapi.FaultKind
	// times is how many requests in a row get the fault (default 1).
	times int
	// retries are the lines under retries (after initial_interval: 0s);
	// empty means fastRetries.
	retries string
	// requestTimeout is request_timeout; empty keeps the default.
	requestTimeout string
	// retried: the fault is retried and the job completes in one go.
	retried bool
	// retriedAs is the reason the input's retry layer logs for the retry;
	// empty when it need not see the fault (net/http replays a GET whose
	// reused connection broke before the response, once, by itself).
	retriedAs string
	// endsWith is a text the failed job's error must contain.
	endsWith string
	// logs are texts some log line must contain.
	logs []string
}

// fastRetries caps Retry-After at 10ms so that no case waits for real.
const fastRetries = "    max_retry_after: 10ms\n"

func faultCases() []faultCase {
	return []faultCase{
		{kind: fakeapi.FaultRateLimited, retried: true, retriedAs: "status_429",
			logs: []string{`the API asked to retry after "1"; waiting retries.max_retry_after (10ms) instead`}},
		{kind: fakeapi.FaultRateLimitedNoRetryAfter, retried: true, retriedAs: "status_429"},
		// x-should-retry: true is retried even when 500 is not in http_codes.
		{kind: fakeapi.FaultServerError, retried: true, retriedAs: "status_500", retries: "    http_codes: [429]\n"},
		// x-should-retry: false is not retried even though 500 is in http_codes.
		{kind: fakeapi.FaultServerErrorNoRetry,
			endsWith: "compliance api: 500 api_error: Internal server error (injected fault). (request-id req_"},
		{kind: fakeapi.FaultBadGateway, retried: true, retriedAs: "status_502"},
		{kind: fakeapi.FaultUnavailable, retried: true, retriedAs: "status_503"},
		{kind: fakeapi.FaultGatewayTimeout, retried: true, retriedAs: "status_504"},
		{kind: fakeapi.FaultOverloaded, retried: true, retriedAs: "status_529"},
		// On a kept-alive connection net/http itself replays the GET once.
		{kind: fakeapi.FaultConnectionReset, retried: true},
		// The replay runs on a fresh connection, whose reset the input retries.
		{name: "reset-twice", kind: fakeapi.FaultConnectionReset, times: 2, retried: true, retriedAs: "connection_reset"},
		{kind: fakeapi.FaultTruncatedBody, retried: true, retriedAs: "truncated_body"},
		{kind: fakeapi.FaultHTMLBody, endsWith: "compliance api: malformed response"},
		{kind: fakeapi.FaultSlow, retried: true, retriedAs: "timeout", requestTimeout: "500ms"},
		{kind: fakeapi.FaultNullCursor, endsWith: "has_more is true but last_id is null or empty"},
		{kind: fakeapi.FaultRepeatedCursor, endsWith: "the server returned a cursor already seen in this walk"},
		{kind: fakeapi.FaultBadEnvelope, endsWith: "compliance api: malformed response"},
	}
}

// TestEveryFaultKindIsRetriedOrEndsTheJobWithoutLosingData injects one fault
// of each kind in the middle of the second slice of the first job, through
// the real engine, and pins:
//   - a retried fault costs exactly one extra request (the same query again)
//     and the job still completes in one go;
//   - a fault that is not retried ends the job as failed with an error naming
//     it, the checkpoint stays at the start of the slice it hit, and the next
//     job starts a new walk and completes;
//   - at no revision does the checkpoint pass an undelivered activity;
//   - every activity is delivered, and (no crash, no nack) none twice.
func TestEveryFaultKindIsRetriedOrEndsTheJobWithoutLosingData(t *testing.T) {
	for _, tc := range faultCases() {
		if tc.name == "" {
			tc.name = string(tc.kind)
		}
		tc.times = max(tc.times, 1)
		t.Run(tc.name, func(t *testing.T) {
			data := faultDataset()
			r := newRig(t, faultNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
			r.api.Script(fakeapi.Fault{Kind: tc.kind, RetryAfter: time.Second, Delay: 5 * time.Second, Match: inSecondSliceAfterPageOne()})
			for range tc.times - 1 {
				r.api.Script(fakeapi.Fault{Kind: tc.kind, RetryAfter: time.Second, Delay: 5 * time.Second, OnlyIfCursor: true})
			}
			conf := inputConfig{extra: faultEndpoint, retries: cmp.Or(tc.retries, fastRetries)}
			if tc.requestTimeout != "" {
				conf.extra += "  request_timeout: " + tc.requestTimeout + "\n"
			}
			watch := r.watchCheckpoint(data)
			st := r.start(r.render(conf), streamOptions{maxInFlight: 1})

			jobsNeeded := 1
			if !tc.retried {
				jobsNeeded = 2
			}
			r.sink.waitUnique(t, len(data), 30*time.Second)
			require.Eventually(t, func() bool { return len(r.logs.jobReports()) >= jobsNeeded }, 30*time.Second, 5*time.Millisecond)
			require.NoError(t, st.stop())
			revs, violations := watch.stop()

			stats := r.api.Stats()
			require.Equal(t, tc.times, stats.Faults[tc.kind], "the fault was injected %d times", tc.times)
			// The fake records a request when it ends: a slow one the client
			// gave up on may be recorded after its retry. Seq is the arrival.
			recs := r.api.Requests()
			slices.SortFunc(recs, func(a, b fakeapi.RequestRecord) int { return a.Seq - b.Seq })
			fi, li := -1, -1 // first and last faulted request
			for i, rec := range recs {
				if rec.Fault == tc.kind {
					li = i
					if fi < 0 {
						fi = i
					}
				}
			}
			require.GreaterOrEqual(t, fi, 0)
			require.Equal(t, tc.times-1, li-fi, "the faults hit consecutive requests")
			require.Less(t, li+1, len(recs), "a request followed the fault")
			faulted, next := recs[fi], recs[li+1]
			reports := r.logs.jobReports()
			first := reports[0]

			if tc.retried {
				for _, rec := range recs[fi : li+2] {
					assert.Equal(t, faulted.Query, rec.Query, "every request after the fault retries the same page")
				}
				assert.Equal(t, 200, next.Status)
				assert.Empty(t, next.Fault)
				assert.Equal(t, "success", first["outcome"], "the first job completes in one go: %+v", first)
				assert.Equal(t, strconv.Itoa(len(data)), first["activities_emitted"])
				if tc.retriedAs != "" {
					assert.NotEmpty(t, r.logs.matching(fmt.Sprintf("retrying request (attempt 2, %s, ", tc.retriedAs)), "retry logged with its reason")
				}
				for _, rep := range reports {
					assert.NotEqual(t, "failed", rep["outcome"], "%+v", rep)
				}
			} else {
				assert.Equal(t, "failed", first["outcome"], "the fault ends the first job: %+v", first)
				assert.Contains(t, first["error"], tc.endsWith)
				assert.Contains(t, first["error"], "request-id req_", "the error names the request")
				assert.Equal(t, faulted.Query.Get("created_at.gte"), first["scanned_to"],
					"the failed job committed the first slice and nothing of the slice it failed in")
				assert.Empty(t, next.Query.Get("after_id"), "the next request starts a new job's walk")
				second := reports[1]
				assert.Equal(t, "success", second["outcome"], "%+v", second)
				assert.Equal(t, "2026-11-25T11:58:00Z", second["scanned_to"])
			}
			for _, want := range tc.logs {
				assert.NotEmpty(t, r.logs.matching(want), "log line %q", want)
			}

			c := countDelivery(ids(data), r.sink.delivered())
			assert.Empty(t, c.missing, "every activity delivered")
			assert.Empty(t, c.unexpected)
			assert.Zero(t, c.duplicates, "no crash and no nack: nothing is delivered twice")
			assert.Empty(t, violations, "the checkpoint never passes undelivered data")
			assert.Positive(t, revs)
			assert.Equal(t, "2026-11-25T11:58:00Z", ts(r.mustCheckpoint(stateKey).ScannedTo))
			t.Logf("%s: %d requests, %d jobs, first job %s, %d retries logged by the input, %d checkpoint revisions seen, %d duplicates",
				tc.name, len(recs), len(reports), first["outcome"], len(r.logs.matching("retrying request")), revs, c.duplicates)
		})
	}
}

// TestRetryAfterIsHonouredBeforeTheRetry: a 429 with retry-after: 1 is
// retried no sooner than a second later (wall clock, measured by the fake),
// and the job still completes in one go.
func TestRetryAfterIsHonouredBeforeTheRetry(t *testing.T) {
	data := faultDataset()
	r := newRig(t, faultNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	r.api.Script(fakeapi.Fault{Kind: fakeapi.FaultRateLimited, RetryAfter: time.Second, Match: inSecondSliceAfterPageOne()})
	st := r.start(r.render(inputConfig{extra: faultEndpoint, retries: `
    honor_retry_after: true
    max_retry_after: 180s
`}), streamOptions{maxInFlight: 1})
	r.sink.waitUnique(t, len(data), 30*time.Second)
	require.Eventually(t, func() bool { return len(r.logs.jobReports()) >= 1 }, 30*time.Second, 5*time.Millisecond)
	require.NoError(t, st.stop())

	recs := r.api.Requests()
	fi := -1
	for i, rec := range recs {
		if rec.Fault == fakeapi.FaultRateLimited {
			fi = i
		}
	}
	require.GreaterOrEqual(t, fi, 0)
	require.Less(t, fi+1, len(recs))
	faulted, retry := recs[fi], recs[fi+1]
	assert.Equal(t, faulted.Query, retry.Query)
	waited := retry.Arrived.Sub(faulted.Arrived)
	assert.GreaterOrEqual(t, waited, time.Second, "retry-after: 1 means at least a second between the 429 and the retry")
	assert.Equal(t, "success", r.logs.jobReports()[0]["outcome"])
	assert.Empty(t, r.logs.matching("waiting retries.max_retry_after"), "a 1s retry-after is not capped")
	t.Logf("the retry came %v after the 429", waited)
}

// TestRefusedKeyMakesTheInputNotReadyWithoutHammeringAndRecovers: a key the
// API refuses (401 unknown key, 403 key without the scope) makes /ready
// answer 503 with the reason, costs one request per scheduled job (never
// retried, no tight loop), and once the key is accepted the input becomes
// ready again and collects everything.
func TestRefusedKeyMakesTheInputNotReadyWithoutHammeringAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   fakeapi.Options
		status int
		reason string
		log    string
	}{
		{"401 unknown key", fakeapi.Options{APIKeys: []string{"sk-ant-api01-some-other-key"}}, 401,
			"401 authentication_error: The API key provided is invalid or has been revoked.",
			"the Compliance API refused the key (status 401"},
		{"403 key without the scope", fakeapi.Options{Scopes: map[string][]string{apiKey: {"read:compliance_user_data"}}}, 403,
			"403 permission_error: Missing required scopes. Got: ['read:compliance_user_data'] Needed: ['read:compliance_activities']",
			"the Compliance API refused the key (status 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // recovery waits out the input's 5s reconnect back-off
			data := faultDataset()
			tc.opts.Dataset, tc.opts.Lag = data, 30*time.Second
			r := newRig(t, faultNow, tc.opts, rigOptions{})
			st := r.start(r.render(inputConfig{retries: fastRetries, extra: `
  endpoints:
    - name: activities
      schedule: "@every 50ms"
      earliest: "2026-11-25T08:00:00Z"
      page_size: 100
`}), streamOptions{maxInFlight: 1})

			st.waitReady(http.StatusServiceUnavailable, tc.reason)
			time.Sleep(time.Second) // a second of real time: about 20 scheduled jobs
			recs := r.api.Requests()
			reports := r.logs.jobReports() // read after the requests: only the job in flight may lack its report
			require.GreaterOrEqual(t, len(reports), 5)
			assert.LessOrEqual(t, len(recs), len(reports)+1, "one request per job, never retried")
			for _, rec := range recs {
				assert.Equal(t, tc.status, rec.Status)
			}
			for _, rep := range reports {
				assert.Equal(t, "failed", rep["outcome"])
				assert.Contains(t, rep["error"], tc.reason)
				assert.Contains(t, rep["error"], "1 attempt)")
			}
			assert.NotEmpty(t, r.logs.matching(tc.log), "the refusal is logged")
			assert.Empty(t, r.sink.delivered())

			require.NoError(t, r.api.SetKeys([]string{apiKey}, nil))
			st.waitReady(http.StatusOK) // the key is accepted again
			r.sink.waitUnique(t, len(data), 30*time.Second)
			require.NoError(t, st.stop())
			c := countDelivery(ids(data), r.sink.delivered())
			assert.Empty(t, c.missing)
			assert.Zero(t, c.duplicates)
			t.Logf("%s: %d jobs made %d requests while refused", tc.name, len(reports), len(recs))
		})
	}
}

// TestThreeFailedJobsInARowMakeTheInputNotReadyUntilAJobSucceeds: a fault
// that is not retried (500 with x-should-retry: false) failing every job
// marks the input not ready after the third failed job in a row, with the
// reason on /ready; the first job that succeeds makes it ready again.
func TestThreeFailedJobsInARowMakeTheInputNotReadyUntilAJobSucceeds(t *testing.T) {
	t.Parallel() // recovery waits out the input's 5s reconnect back-off
	data := faultDataset()
	r := newRig(t, faultNow, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	stalled := regexp.MustCompile(`collection is stalled: ([3-9]|\d\d+) consecutive jobs failed; last: reading the API's clock: compliance api: 500 api_error`)
	var failing atomic.Bool // every request fails while set
	failing.Store(true)
	r.api.Script(faultsWhile(&failing, 10_000)...)
	st := r.start(r.render(inputConfig{extra: faultEndpoint, retries: fastRetries}), streamOptions{maxInFlight: 1})
	require.Eventually(t, func() bool {
		code, body := st.get("/ready")
		// The reason is the one Benthos saw when it last tried to connect,
		// by which time more than three jobs may have failed.
		return code == http.StatusServiceUnavailable && stalled.MatchString(body)
	}, 10*time.Second, 10*time.Millisecond, "not ready once three jobs in a row failed")
	failing.Store(false)
	st.waitReady(http.StatusOK) // a job succeeded
	r.sink.waitUnique(t, len(data), 30*time.Second)
	r.logs.waitSuccess(t, 1) // the job that delivered them has ended, not only delivered
	require.NoError(t, st.stop())

	reports := r.logs.jobReports()
	failed := r.api.Stats().Faults[fakeapi.FaultServerErrorNoRetry]
	require.Greater(t, len(reports), failed)
	for i, rep := range reports[:failed] { // one request per failed job
		assert.Equal(t, "failed", rep["outcome"], "job %d", i+1)
		assert.Contains(t, rep["error"], "reading the API's clock: compliance api: 500 api_error")
	}
	assert.Equal(t, "success", reports[failed]["outcome"])
	c := countDelivery(ids(data), r.sink.delivered())
	assert.Empty(t, c.missing)
	assert.Zero(t, c.duplicates)
	t.Logf("%d failed jobs (one request each) before the faults stopped", failed)
}
