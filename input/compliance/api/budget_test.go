package api_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// rateLimited answers a page with rate-limit headers: the server's clock
// reads date, and the window resets at reset.
func rateLimited(limit, remaining int, date, reset time.Time) step {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", date.Format(http.TimeFormat))
		w.Header().Set("anthropic-ratelimit-requests-limit", strconv.Itoa(limit))
		w.Header().Set("anthropic-ratelimit-requests-remaining", strconv.Itoa(remaining))
		w.Header().Set("anthropic-ratelimit-requests-reset", reset.Format(time.RFC3339))
		page(emptyPage)(w, r)
	}
}

// Two calls: the first response reports the budget, the second call may
// wait for the headroom before its request.
func TestHeadroomWait(t *testing.T) {
	tests := []struct {
		name      string
		remaining int
		date      time.Time // server's Date header
		reset     time.Time
		budget    api.Budget
		wantSleep []time.Duration
	}{
		{"remaining at the headroom waits until reset", 60, t0, t0.Add(20 * time.Second), api.DefaultBudget(), secs(20)},
		{"remaining 0 waits until reset", 0, t0, t0.Add(45 * time.Second), api.DefaultBudget(), secs(45)},
		{"remaining above the headroom does not wait", 61, t0, t0.Add(20 * time.Second), api.DefaultBudget(), nil},
		{"reset in the past does not wait", 0, t0, t0.Add(-5 * time.Second), api.DefaultBudget(), nil},
		{"reset years away is clamped to max wait", 0, t0, t0.AddDate(5, 0, 0), api.DefaultBudget(), secs(60)},
		{"custom max wait clamps", 0, t0, t0.Add(50 * time.Second), api.Budget{Headroom: 0.1, MaxWait: 10 * time.Second}, secs(10)},
		{"headroom 0 never waits", 0, t0, t0.Add(20 * time.Second), api.Budget{}, nil},
		{"headroom 0.5 of 600 waits at 300", 300, t0, t0.Add(7 * time.Second), api.Budget{Headroom: 0.5, MaxWait: time.Minute}, secs(7)},
		// The server's clock is an hour behind ours: the reset is 20s after
		// the server's Date, so we wait 20s, not 0 (reset "in our past").
		{"reset is relative to the server's Date, not our clock", 0, t0.Add(-time.Hour), t0.Add(-time.Hour + 20*time.Second), api.DefaultBudget(), secs(20)},
		// Our clock is an hour behind the server's: without the Date
		// correction the reset would look an hour away.
		{"a server clock ahead of ours does not stretch the wait", 0, t0.Add(time.Hour), t0.Add(time.Hour + 15*time.Second), api.DefaultBudget(), secs(15)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, rateLimited(600, tt.remaining, tt.date, tt.reset), page(emptyPage))
			clock := newClock()
			rec := &recorder{}
			c := newClient(t, s.srv.URL, clock, func(c *api.Config) {
				c.Budget = tt.budget
				c.Hooks = rec.hooks()
			})
			_, err := c.ListActivities(t.Context(), api.ListParams{})
			require.NoError(t, err)
			assert.Empty(t, clock.Sleeps(), "the first call has no reading yet")
			_, err = c.ListActivities(t.Context(), api.ListParams{})
			require.NoError(t, err)
			assert.Equal(t, tt.wantSleep, clock.Sleeps())
			if tt.wantSleep == nil {
				assert.Empty(t, rec.waits)
				return
			}
			require.Len(t, rec.waits, 1)
			w := rec.waits[0]
			assert.Equal(t, "headroom", w.Reason)
			assert.Equal(t, tt.wantSleep[0], w.Wait)
			assert.Equal(t, tt.remaining, w.Remaining)
			assert.Equal(t, 600, w.Limit)
			assert.True(t, w.Reset.Equal(tt.reset.Truncate(time.Second)))
		})
	}
}

// A reading leads to one wait at most: after a clamped wait the next call
// does not wait again on the same (stale) reading.
func TestHeadroomReadingIsUsedOnce(t *testing.T) {
	s := newScript(t, rateLimited(600, 0, t0, t0.AddDate(1, 0, 0)), page(emptyPage), page(emptyPage))
	clock := newClock()
	c := newClient(t, s.srv.URL, clock)
	for range 3 {
		_, err := c.ListActivities(t.Context(), api.ListParams{})
		require.NoError(t, err)
	}
	assert.Equal(t, secs(60), clock.Sleeps())
}

// The headroom gate runs before every attempt, retries included: a 503
// reporting an exhausted budget is retried only after the reset.
func TestHeadroomGatesRetries(t *testing.T) {
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", t0.Format(http.TimeFormat))
		w.Header().Set("anthropic-ratelimit-requests-limit", "600")
		w.Header().Set("anthropic-ratelimit-requests-remaining", "3")
		w.Header().Set("anthropic-ratelimit-requests-reset", t0.Add(30*time.Second).Format(time.RFC3339))
		fail(503, "overloaded_error", "x")(w, r)
	}, page(emptyPage))
	clock := newClock()
	c := newClient(t, s.srv.URL, clock)
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, secs(1, 29), clock.Sleeps(), "1s backoff, then the rest of the window")
}

// After a 429 whose retry-after covers the window, the headroom gate adds
// nothing: the clock has moved past the reset.
func TestRetryAfterAndHeadroomDoNotStack(t *testing.T) {
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", t0.Format(http.TimeFormat))
		w.Header().Set("anthropic-ratelimit-requests-limit", "600")
		w.Header().Set("anthropic-ratelimit-requests-remaining", "0")
		w.Header().Set("anthropic-ratelimit-requests-reset", t0.Add(25*time.Second).Format(time.RFC3339))
		fail(429, "rate_limit_error", "x", "retry-after", "26")(w, r)
	}, page(emptyPage))
	clock := newClock()
	c := newClient(t, s.srv.URL, clock)
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, secs(26), clock.Sleeps())
}

func TestLimiterIsCalledBeforeEveryAttempt(t *testing.T) {
	s := newScript(t, fail(503, "overloaded_error", "x"), fail(503, "overloaded_error", "x"), page(emptyPage))
	clock := newClock()
	rec := &recorder{}
	var calls []int
	c := newClient(t, s.srv.URL, clock, func(c *api.Config) {
		c.Hooks = rec.hooks()
		c.Limiter = func(ctx context.Context) error {
			calls = append(calls, len(s.Requests()))
			clock.Advance(250 * time.Millisecond) // the limiter made us wait
			return nil
		}
	})
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 1, 2}, calls, "one limiter call before each of the 3 attempts")
	require.Len(t, rec.waits, 3)
	for _, w := range rec.waits {
		assert.Equal(t, "limiter", w.Reason)
		assert.Equal(t, 250*time.Millisecond, w.Wait)
	}
}

func TestLimiterErrorEndsTheCall(t *testing.T) {
	s := newScript(t, page(emptyPage))
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) {
		c.Limiter = func(context.Context) error { return errors.New("rate_limit resource gone") }
	})
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.ErrorContains(t, err, "compliance api: rate limiter: rate_limit resource gone")
	assert.Empty(t, s.Requests())
}

func TestCancelDuringHeadroomWait(t *testing.T) {
	s := newScript(t, rateLimited(600, 0, t0, t0.Add(30*time.Second)), page(emptyPage))
	ctx, cancel := context.WithCancel(t.Context())
	clock := newClock()
	c := newClient(t, s.srv.URL, clock, func(c *api.Config) {
		c.Sleep = func(ctx context.Context, d time.Duration) error {
			cancel()
			return ctx.Err()
		}
	})
	_, err := c.ListActivities(ctx, api.ListParams{})
	require.NoError(t, err)
	_, err = c.ListActivities(ctx, api.ListParams{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, s.Requests(), 1)
}
