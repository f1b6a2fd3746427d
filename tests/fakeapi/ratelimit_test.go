package fakeapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// TestRateLimitCountsFixedMinuteWindows: every authenticated answer carries the
// three headers; the request past the limit gets the documented 429 with
// retry-after up to the window's end; the next minute starts afresh.
func TestRateLimitCountsFixedMinuteWindows(t *testing.T) {
	clock := fakeapi.NewManualClock(t0.Add(10*time.Second + 300*time.Millisecond))
	r := start(t, fakeapi.Options{Clock: clock.Now, RateLimit: 3, Dataset: fakeapi.Generate(fakeapi.GenOptions{Count: 10, To: t0})})
	reset := t0.Add(time.Minute).Format(time.RFC3339)
	for i, remaining := range []string{"2", "1", "0"} {
		a := get(t, r.URL(), "", testKey)
		require.Equal(t, http.StatusOK, a.status, "request %d", i)
		assert.Equal(t, "3", a.header.Get("anthropic-ratelimit-requests-limit"))
		assert.Equal(t, remaining, a.header.Get("anthropic-ratelimit-requests-remaining"))
		assert.Equal(t, reset, a.header.Get("anthropic-ratelimit-requests-reset"))
		assert.Empty(t, a.header.Get("retry-after"))
	}
	a := get(t, r.URL(), "", testKey)
	e := decodeError(t, a, http.StatusTooManyRequests, "rate_limit_error")
	assert.Equal(t, "Compliance API rate limit of 3 requests per minute per parent organization has been exceeded. "+
		"Retry after the time indicated by the retry-after header. "+
		"Quote the request-id response header when contacting Anthropic support.", e.Error.Message)
	assert.Equal(t, "50", a.header.Get("retry-after"), "49.7s to the window's end, rounded up")
	assert.Equal(t, "0", a.header.Get("anthropic-ratelimit-requests-remaining"))
	assert.Equal(t, reset, a.header.Get("anthropic-ratelimit-requests-reset"))

	// Errors after authentication count too.
	clock.Set(t0.Add(time.Minute))
	assert.Equal(t, http.StatusBadRequest, get(t, r.URL(), "limit=0", testKey).status)
	a = get(t, r.URL(), "", testKey)
	require.Equal(t, http.StatusOK, a.status)
	assert.Equal(t, "1", a.header.Get("anthropic-ratelimit-requests-remaining"))
	assert.Equal(t, t0.Add(2*time.Minute).Format(time.RFC3339), a.header.Get("anthropic-ratelimit-requests-reset"))
}

// TestNoRateLimitMeansNoHeadersAndNo429.
func TestNoRateLimitMeansNoHeadersAndNo429(t *testing.T) {
	r := start(t, fakeapi.Options{})
	for range 50 {
		a := get(t, r.URL(), "", testKey)
		require.Equal(t, http.StatusOK, a.status)
		require.Empty(t, a.header.Get("anthropic-ratelimit-requests-limit"))
	}
}
