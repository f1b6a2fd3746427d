package api_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// ---- fault steps ----------------------------------------------------------

// resetConn closes the connection with a TCP RST before any response.
func resetConn(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// truncatedBody sends a 200 announcing 1000 bytes and closes after a few.
func truncatedBody(w http.ResponseWriter, _ *http.Request) {
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\nrequest-id: req_trunc\r\n\r\n{\"data\":[{\"id\":")
	_ = buf.Flush()
	_ = conn.Close()
}

// hang never answers; it returns when the client gives up the request.
func hang(_ http.ResponseWriter, r *http.Request) { <-r.Context().Done() }

// stallBody sends the headers and part of the body, then hangs.
func stallBody(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", "req_stall")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"data":[`))
	_ = http.NewResponseController(w).Flush()
	<-r.Context().Done()
}

// ---- recording hooks ------------------------------------------------------

type recorder struct {
	mu        sync.Mutex
	requests  []api.RequestInfo
	responses []api.ResponseInfo
	retries   []api.RetryInfo
	waits     []api.WaitInfo
}

func (r *recorder) hooks() api.Hooks {
	return api.Hooks{
		OnRequest:  func(i api.RequestInfo) { r.mu.Lock(); r.requests = append(r.requests, i); r.mu.Unlock() },
		OnResponse: func(i api.ResponseInfo) { r.mu.Lock(); r.responses = append(r.responses, i); r.mu.Unlock() },
		OnRetry:    func(i api.RetryInfo) { r.mu.Lock(); r.retries = append(r.retries, i); r.mu.Unlock() },
		OnWait:     func(i api.WaitInfo) { r.mu.Lock(); r.waits = append(r.waits, i); r.mu.Unlock() },
	}
}

func (r *recorder) reasons() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, i := range r.retries {
		out = append(out, i.Reason)
	}
	return out
}

// ---- the retry table ------------------------------------------------------

func TestRetryPolicy(t *testing.T) {
	retryAfter := func(v string) step {
		return fail(429, "rate_limit_error", "Compliance API rate limit of 600 requests per minute per parent organization has been exceeded.", "retry-after", v, "request-id", "req_429")
	}
	httpDate := func(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }
	withDate := func(s step, date time.Time) step {
		return func(w http.ResponseWriter, r *http.Request) {
			if date.IsZero() {
				w.Header()["Date"] = nil
			} else {
				w.Header().Set("Date", date.Format(http.TimeFormat))
			}
			s(w, r)
		}
	}
	plain429 := fail(429, "rate_limit_error", "slow down", "request-id", "req_429")
	tests := []struct {
		name         string
		steps        []step
		mod          func(*api.Config)
		wantSleeps   []time.Duration
		wantReasons  []string
		wantAttempts int
		wantStatus   int  // of the final *Error; 0 = success expected
		wantRetry    bool // final *Error's Retryable
		capped       bool
		transport    bool // the final error is a transport *Error (status 0)
	}{
		{
			name:         "429 honours retry-after seconds",
			steps:        []step{retryAfter("25"), page(emptyPage)},
			wantSleeps:   secs(25),
			wantReasons:  []string{"status_429"},
			wantAttempts: 2,
		},
		{
			name:         "429 honours retry-after HTTP-date relative to the Date header",
			steps:        []step{withDate(retryAfter(httpDate(40*time.Second)), t0.Add(10*time.Second)), page(emptyPage)},
			wantSleeps:   secs(30),
			wantAttempts: 2,
		},
		{
			name:         "429 retry-after HTTP-date without Date header is relative to now",
			steps:        []step{withDate(retryAfter(httpDate(30*time.Second)), time.Time{}), page(emptyPage)},
			wantSleeps:   secs(30),
			wantAttempts: 2,
		},
		{
			name:         "retry-after HTTP-date in the past retries at once",
			steps:        []step{withDate(retryAfter(httpDate(-time.Minute)), t0), page(emptyPage)},
			wantSleeps:   nil,
			wantAttempts: 2,
		},
		{
			name:         "negative retry-after retries at once",
			steps:        []step{retryAfter("-5"), page(emptyPage)},
			wantSleeps:   nil,
			wantAttempts: 2,
		},
		{
			name:         "retry-after above the cap is capped and reported",
			steps:        []step{retryAfter("3600"), page(emptyPage)},
			wantSleeps:   secs(180),
			wantAttempts: 2,
			capped:       true,
		},
		{
			name:         "unparsable retry-after falls back to backoff",
			steps:        []step{retryAfter("soon"), page(emptyPage)},
			wantSleeps:   secs(1),
			wantAttempts: 2,
		},
		{
			name:         "retry-after ignored when not honoured",
			steps:        []step{retryAfter("25"), page(emptyPage)},
			mod:          func(c *api.Config) { c.Retry.HonorRetryAfter = false },
			wantSleeps:   secs(1),
			wantAttempts: 2,
		},
		{
			name:         "429 without retry-after backs off doubling from 1s",
			steps:        append(repeat(5, plain429), page(emptyPage)),
			wantSleeps:   secs(1, 2, 4, 8, 16),
			wantAttempts: 6,
		},
		{
			name:  "backoff is capped at max interval",
			steps: append(repeat(6, plain429), page(emptyPage)),
			mod: func(c *api.Config) {
				c.Retry.InitialInterval, c.Retry.Multiplier, c.Retry.MaxInterval, c.Retry.Limit = 10*time.Second, 3, 60*time.Second, 6
			},
			wantSleeps:   secs(10, 30, 60, 60, 60, 60),
			wantAttempts: 7,
		},
		{
			name:         "jitter low draw is 75% of the nominal delay",
			steps:        append(repeat(3, plain429), page(emptyPage)),
			mod:          func(c *api.Config) { c.Rand = func() float64 { return 0 } },
			wantSleeps:   secs(0.75, 1.5, 3),
			wantAttempts: 4,
		},
		{
			name:  "jitter high draw is 125% but never above max interval",
			steps: append(repeat(3, plain429), page(emptyPage)),
			mod: func(c *api.Config) {
				c.Rand = func() float64 { return 0.999999999 }
				c.Retry.MaxInterval = 4 * time.Second
			},
			wantSleeps:   []time.Duration{1249999999, 2499999999, 4 * time.Second},
			wantAttempts: 4,
		},
		{
			name:         "initial interval 0 retries immediately",
			steps:        append(repeat(3, plain429), page(emptyPage)),
			mod:          func(c *api.Config) { c.Retry.InitialInterval = 0 },
			wantSleeps:   nil,
			wantAttempts: 4,
		},
		{
			name:         "static mode waits the same each time",
			steps:        append(repeat(3, fail(503, "overloaded_error", "Overloaded")), page(emptyPage)),
			mod:          func(c *api.Config) { c.Retry.Mode, c.Retry.InitialInterval = api.RetryStatic, 2*time.Second },
			wantSleeps:   secs(2, 2, 2),
			wantReasons:  []string{"status_503", "status_503", "status_503"},
			wantAttempts: 4,
		},
		{
			name:         "disabled mode makes one attempt",
			steps:        []step{plain429},
			mod:          func(c *api.Config) { c.Retry.Mode = api.RetryDisabled },
			wantAttempts: 1, wantStatus: 429, wantRetry: true,
		},
		{
			name:         "limit 0 makes one attempt",
			steps:        []step{fail(503, "overloaded_error", "Overloaded")},
			mod:          func(c *api.Config) { c.Retry.Limit = 0 },
			wantAttempts: 1, wantStatus: 503, wantRetry: true,
		},
		{
			name:         "500 with x-should-retry true is retried even outside the codes",
			steps:        []step{fail(500, "api_error", "boom", "x-should-retry", "true"), page(emptyPage)},
			mod:          func(c *api.Config) { c.Retry.HTTPCodes = []int{429} },
			wantSleeps:   secs(1),
			wantReasons:  []string{"status_500"},
			wantAttempts: 2,
		},
		{
			name:         "500 with x-should-retry false is not retried",
			steps:        []step{fail(500, "api_error", "deterministic", "x-should-retry", "false")},
			wantAttempts: 1, wantStatus: 500, wantRetry: false,
		},
		{
			name:         "429 with x-should-retry false is not retried",
			steps:        []step{fail(429, "rate_limit_error", "no", "x-should-retry", "false", "retry-after", "1")},
			wantAttempts: 1, wantStatus: 429, wantRetry: false,
		},
		{"500 plain is retried", []step{fail(500, "api_error", "x"), page(emptyPage)}, nil, secs(1), []string{"status_500"}, 2, 0, false, false, false},
		{"502 is retried", []step{fail(502, "", "<html>bad gateway</html>"), page(emptyPage)}, nil, secs(1), []string{"status_502"}, 2, 0, false, false, false},
		{"503 is retried", []step{fail(503, "overloaded_error", "x"), page(emptyPage)}, nil, secs(1), []string{"status_503"}, 2, 0, false, false, false},
		{"504 is retried", []step{fail(504, "", ""), page(emptyPage)}, nil, secs(1), []string{"status_504"}, 2, 0, false, false, false},
		{"529 is retried", []step{fail(529, "overloaded_error", "Overloaded"), page(emptyPage)}, nil, secs(1), []string{"status_529"}, 2, 0, false, false, false},
		{"400 is never retried", []step{fail(400, "invalid_request_error", "bad", "x-should-retry", "true")}, nil, nil, nil, 1, 400, false, false, false},
		{"401 is never retried", []step{fail(401, "authentication_error", "invalid key", "x-should-retry", "true")}, nil, nil, nil, 1, 401, false, false, false},
		{"403 is never retried", []step{fail(403, "permission_error", "Missing required scopes", "x-should-retry", "true")}, nil, nil, nil, 1, 403, false, false, false},
		{"404 is never retried", []step{fail(404, "not_found_error", "nope", "x-should-retry", "true")}, nil, nil, nil, 1, 404, false, false, false},
		{"409 is never retried", []step{fail(409, "conflict_error", "conflict")}, nil, nil, nil, 1, 409, false, false, false},
		{"418 outside the codes is not retried", []step{fail(418, "", "teapot")}, nil, nil, nil, 1, 418, false, false, false},
		{
			name:         "connection reset is retried",
			steps:        []step{resetConn, resetConn, page(emptyPage)},
			wantSleeps:   secs(1, 2),
			wantReasons:  []string{"connection_reset", "connection_reset"},
			wantAttempts: 3,
		},
		{
			name:         "connection reset not retried when disabled",
			steps:        []step{resetConn},
			mod:          func(c *api.Config) { c.Retry.RetryConnectionReset = false },
			wantAttempts: 1, transport: true,
		},
		{
			name:         "truncated body is retried",
			steps:        []step{truncatedBody, page(emptyPage)},
			wantSleeps:   secs(1),
			wantReasons:  []string{"truncated_body"},
			wantAttempts: 2,
		},
		{
			name:         "request timeout before headers is retried",
			steps:        []step{hang, page(emptyPage)},
			mod:          func(c *api.Config) { c.RequestTimeout = 20 * time.Millisecond },
			wantSleeps:   secs(1),
			wantReasons:  []string{"timeout"},
			wantAttempts: 2,
		},
		{
			name:         "request timeout during the body read is retried",
			steps:        []step{stallBody, page(emptyPage)},
			mod:          func(c *api.Config) { c.RequestTimeout = 20 * time.Millisecond },
			wantSleeps:   secs(1),
			wantReasons:  []string{"timeout"},
			wantAttempts: 2,
		},
		{
			name:  "request timeout not retried when disabled",
			steps: []step{hang},
			mod: func(c *api.Config) {
				c.RequestTimeout = 20 * time.Millisecond
				c.Retry.RetryConnectionTimeout = false
			},
			wantAttempts: 1, transport: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.steps...)
			clock := newClock()
			rec := &recorder{}
			c := newClient(t, s.srv.URL, clock, func(c *api.Config) {
				c.Hooks = rec.hooks()
				if tt.mod != nil {
					tt.mod(c)
				}
			})
			pg, err := c.ListActivities(t.Context(), api.ListParams{})
			assert.Len(t, s.Requests(), tt.wantAttempts, "requests reaching the server")
			assert.Equal(t, tt.wantSleeps, clock.Sleeps(), "recorded sleeps")
			if tt.wantReasons != nil {
				assert.Equal(t, tt.wantReasons, rec.reasons())
			}
			if tt.capped {
				require.NotEmpty(t, rec.retries)
				assert.True(t, rec.retries[0].Capped)
				assert.Equal(t, "3600", rec.retries[0].RetryAfter)
			}
			var waits []time.Duration
			for i, r := range rec.retries {
				assert.Equal(t, i+2, r.Attempt, "OnRetry.Attempt is the next attempt")
				if r.Wait > 0 {
					waits = append(waits, r.Wait)
				}
			}
			assert.Equal(t, tt.wantSleeps, waits, "OnRetry.Wait matches the sleeps")
			if tt.transport {
				e, ok := asError(err)
				require.True(t, ok, "got %v", err)
				assert.Zero(t, e.Status)
				assert.Error(t, e.Err)
				assert.False(t, e.Retryable)
				assert.Equal(t, 1, e.Attempts)
				return
			}
			if tt.wantStatus == 0 {
				require.NoError(t, err)
				assert.Equal(t, tt.wantAttempts, pg.Attempts)
				return
			}
			e, ok := asError(err)
			require.True(t, ok, "got %v", err)
			assert.Equal(t, tt.wantStatus, e.Status)
			assert.Equal(t, tt.wantAttempts, e.Attempts)
			assert.Equal(t, tt.wantRetry, e.Retryable)
			assert.Equal(t, tt.wantRetry, api.IsRetryable(err))
			assert.Equal(t, e.Status == 401 || e.Status == 403, api.IsAuth(err))
		})
	}
}

func TestRetryLimitExhaustedReportsTheLastResponse(t *testing.T) {
	s := newScript(t, repeat(6, fail(429, "rate_limit_error",
		"Compliance API rate limit of 600 requests per minute per parent organization has been exceeded.",
		"request-id", "req_018EeWyXxfu5pfWkrYcMdjWG"))...)
	clock := newClock()
	c := newClient(t, s.srv.URL, clock)
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	e, ok := asError(err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, 429, e.Status)
	assert.Equal(t, "rate_limit_error", e.Type)
	assert.Equal(t, "Compliance API rate limit of 600 requests per minute per parent organization has been exceeded.", e.Message)
	assert.Equal(t, "req_018EeWyXxfu5pfWkrYcMdjWG", e.RequestID)
	assert.Equal(t, 6, e.Attempts)
	assert.True(t, e.Retryable)
	assert.NoError(t, e.Unwrap())
	assert.Equal(t, "compliance api: 429 rate_limit_error: Compliance API rate limit of 600 requests per minute per parent organization has been exceeded. (request-id req_018EeWyXxfu5pfWkrYcMdjWG, 6 attempts)", err.Error())
	assert.Equal(t, secs(1, 2, 4, 8, 16), clock.Sleeps())
}

func TestNonJSONErrorBodyUsesTheStatusText(t *testing.T) {
	s := newScript(t, fail(502, "", "<html><body>upstream connect error</body></html>", "request-id", "req_gw"))
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) { c.Retry.Limit = 0 })
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	e, ok := asError(err)
	require.True(t, ok)
	assert.Empty(t, e.Type)
	assert.Equal(t, "Bad Gateway", e.Message)
	assert.Equal(t, "compliance api: 502: Bad Gateway (request-id req_gw, 1 attempt)", err.Error())
}

func TestTransportErrorWrapsTheCause(t *testing.T) {
	s := newScript(t, resetConn, resetConn)
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) { c.Retry.Limit = 1 })
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	e, ok := asError(err)
	require.True(t, ok, "got %v", err)
	assert.Zero(t, e.Status)
	assert.Equal(t, 2, e.Attempts)
	assert.True(t, e.Retryable)
	var urlErr interface{ Timeout() bool }
	assert.True(t, errors.As(err, &urlErr), "the *url.Error cause is reachable with errors.As")
	assert.Contains(t, err.Error(), "compliance api: request failed: ")
	assert.Contains(t, err.Error(), "(2 attempts)")
}

func TestRequestTimeoutErrorSaysSo(t *testing.T) {
	s := newScript(t, hang)
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) {
		c.RequestTimeout = 10 * time.Millisecond
		c.Retry.Limit = 0
	})
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "request timeout of 10ms exceeded")
	assert.True(t, errors.Is(err, context.DeadlineExceeded))
	assert.True(t, api.IsRetryable(err))
}

// Cancelling the caller's context ends the loop at once, mid-sleep, with
// the context's error; no further attempt is made.
func TestCancelDuringRetrySleepStopsAtOnce(t *testing.T) {
	s := newScript(t, repeat(6, fail(503, "overloaded_error", "Overloaded"))...)
	ctx, cancel := context.WithCancel(t.Context())
	var sleeps int
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) {
		c.Sleep = func(ctx context.Context, _ time.Duration) error {
			sleeps++
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	})
	_, err := c.ListActivities(ctx, api.ListParams{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), "stopped after 1 attempts")
	assert.Contains(t, err.Error(), "503 overloaded_error")
	assert.False(t, api.IsRetryable(err))
	assert.Len(t, s.Requests(), 1)
	assert.Equal(t, 1, sleeps)
}

func TestCancelDuringRequestStopsWithoutRetry(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		cancel()
		<-r.Context().Done()
	}, page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(ctx, api.ListParams{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Len(t, s.Requests(), 1)
}

func TestCancelledContextMakesNoRequest(t *testing.T) {
	s := newScript(t, page(emptyPage))
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(ctx, api.ListParams{})
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, s.Requests())
}

func TestOnResponseReportsEveryAttempt(t *testing.T) {
	s := newScript(t, resetConn, fail(503, "overloaded_error", "x", "request-id", "req_503"), page(emptyPage))
	rec := &recorder{}
	c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) { c.Hooks = rec.hooks() })
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	require.Len(t, rec.responses, 3)
	assert.Zero(t, rec.responses[0].Status)
	assert.Error(t, rec.responses[0].Err)
	assert.Equal(t, 503, rec.responses[1].Status)
	assert.Equal(t, "req_503", rec.responses[1].RequestID)
	assert.Equal(t, 200, rec.responses[2].Status)
	assert.Equal(t, "req_ok", rec.responses[2].RequestID)
	for i, r := range rec.responses {
		assert.Equal(t, i+1, r.Attempt)
	}
	require.Len(t, rec.requests, 3)
	assert.Equal(t, 3, rec.requests[2].Attempt)
}
