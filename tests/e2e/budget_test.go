package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestRequestsStayWithinTheBudgetMinusHeadroom: with a budget of 60 requests
// a minute and rate_limit.headroom 0.1, the input spends at most 54 requests
// in any minute window of the fake, never gets a 429, and pauses (logged)
// until the window resets instead. The test plays the passing of time: when
// the input announces a pause, the fake's minute ends (synchronously, before
// the input sleeps its rate_limit.max_wait of 50ms), so no real minute passes.
func TestRequestsStayWithinTheBudgetMinusHeadroom(t *testing.T) {
	const limit, maxPerWindow = 60, 54 // 54 = 60 - ceil(0.1 × 60)
	now := at("2026-11-25T12:00:00Z")
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 3, Count: 3000, From: now.Add(-4 * time.Hour), To: now.Add(-3 * time.Minute)})
	r := newRig(t, now, fakeapi.Options{Dataset: data, Lag: 30 * time.Second, RateLimit: limit, MaxRecords: -1}, rigOptions{})
	var pauses int // only touched on the input's goroutine, then read after stop
	var unclamped []string
	r.logs.setOnEntry(func(e logEntry) {
		if strings.HasPrefix(e.Msg, "pausing ") && strings.Contains(e.Msg, "for the shared rate budget (headroom:") {
			pauses++
			if !strings.HasPrefix(e.Msg, "pausing 50ms ") { // the reset is up to a minute away
				unclamped = append(unclamped, e.Msg)
			}
			r.clock.Set(r.clock.Now().Truncate(time.Minute).Add(time.Minute))
		}
	})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T08:00:00Z"
      page_size: 25
  rate_limit:
    headroom: 0.1
    max_wait: 50ms
`), streamOptions{maxInFlight: 1})
	r.sink.waitUnique(t, len(data), 60*time.Second)
	require.NoError(t, st.stop())

	recs := r.api.Requests()
	perWindow := map[time.Time]int{}
	for _, rec := range recs {
		assert.NotEqual(t, 429, rec.Status, "request %d was rate limited", rec.Seq)
		perWindow[rec.Time.Truncate(time.Minute)]++
	}
	fullest := 0
	for w, n := range perWindow {
		assert.LessOrEqual(t, n, maxPerWindow, "window %s", w.Format(time.TimeOnly))
		fullest = max(fullest, n)
	}
	assert.Equal(t, maxPerWindow, fullest, "the input spends the budget up to the headroom, not less")
	require.GreaterOrEqual(t, len(perWindow), 3, "the backfill needed several windows")
	assert.GreaterOrEqual(t, pauses, len(perWindow)-1, "every window change was a logged pause")
	assert.Empty(t, unclamped, "every pause is clamped to rate_limit.max_wait")
	c := countDelivery(ids(data), r.sink.delivered())
	assert.Empty(t, c.missing)
	assert.Zero(t, c.duplicates)
	t.Logf("%d requests over %d windows (fullest %d of %d), %d pauses, no 429", len(recs), len(perWindow), fullest, limit, pauses)
}

// TestRateLimitResourceGatesEveryRequest: rate_limit.resource names a Benthos
// `local` rate limit (5 requests per 300ms) and every request waits for it,
// so any 11 consecutive requests span at least two of its intervals (600ms);
// the test asserts the lower bound 300ms, on the fake's wall-clock arrival
// times, which leaves a whole interval for request latency.
func TestRateLimitResourceGatesEveryRequest(t *testing.T) {
	now := at("2026-11-25T12:00:00Z")
	data := fakeapi.Generate(fakeapi.GenOptions{Seed: 5, Count: 500, From: now.Add(-2 * time.Hour), To: now.Add(-3 * time.Minute)})
	r := newRig(t, now, fakeapi.Options{Dataset: data, Lag: 30 * time.Second}, rigOptions{})
	st := r.start(r.config(`
  endpoints:
    - name: activities
      schedule: "@every 20ms"
      earliest: "2026-11-25T10:00:00Z"
      page_size: 25
  rate_limit:
    resource: gate
`), streamOptions{maxInFlight: 1, resources: `
rate_limit_resources:
  - label: gate
    local:
      count: 5
      interval: 300ms
`})
	r.sink.waitUnique(t, len(data), 30*time.Second)
	require.NoError(t, st.stop())

	recs := r.api.Requests()
	require.GreaterOrEqual(t, len(recs), 21, "500 activities at 25 a page")
	for i := 0; i+10 < len(recs); i++ {
		span := recs[i+10].Arrived.Sub(recs[i].Arrived)
		assert.GreaterOrEqual(t, span, 300*time.Millisecond, "requests %d..%d", recs[i].Seq, recs[i+10].Seq)
	}
	c := countDelivery(ids(data), r.sink.delivered())
	assert.Empty(t, c.missing)
	t.Logf("%d requests in %v", len(recs), recs[len(recs)-1].Arrived.Sub(recs[0].Arrived).Round(time.Millisecond))
}

// TestUnknownRateLimitResourceIsAConfigError: naming a rate_limit resource
// that does not exist stops the stream at start-up with an error naming it.
func TestUnknownRateLimitResourceIsAConfigError(t *testing.T) {
	r := newRig(t, at("2026-11-25T12:00:00Z"), fakeapi.Options{}, rigOptions{})
	st, err := r.build(r.config(`
  rate_limit:
    resource: nope
`), streamOptions{})
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = st.s.Run(ctx)
	}
	require.Error(t, err)
	assert.Contains(t, err.Error(), `rate_limit.resource: rate_limit resource "nope" was not found`)
	assert.Zero(t, r.api.Stats().Requests)
}
