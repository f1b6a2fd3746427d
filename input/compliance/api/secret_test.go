package api_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// The API key never appears in an error text, a hook payload or a formatted
// RequestInfo, whatever goes wrong, even when a gateway echoes it back.
func TestAPIKeyNeverLeaks(t *testing.T) {
	echoKey := func(status int) step {
		return func(w http.ResponseWriter, r *http.Request) {
			fail(status, "authentication_error", "invalid key "+r.Header.Get("x-api-key"), "request-id", "req_"+r.Header.Get("x-api-key"))(w, r)
		}
	}
	echoKeyText := func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = fmt.Fprintf(w, "proxy error; request headers: x-api-key: %s", r.Header.Get("x-api-key"))
	}
	echoKeyInBody := func(w http.ResponseWriter, r *http.Request) {
		_, _ = fmt.Fprintf(w, `{"data":[{"id":"a","type":"t","created_at":%q}],"has_more":false}`, r.Header.Get("x-api-key"))
	}
	scenarios := map[string][]step{
		"401 echoing the key":           {echoKey(401)},
		"403":                           {fail(403, "permission_error", "Missing required scopes")},
		"429 exhausted":                 repeat(3, fail(429, "rate_limit_error", "slow", "retry-after", "1")),
		"502 text body echoing the key": {echoKeyText, echoKeyText, echoKeyText},
		"connection reset":              {resetConn, resetConn, resetConn},
		"truncated body":                {truncatedBody, truncatedBody, truncatedBody},
		"timeout":                       {hang, hang, hang},
		"malformed body echoing key":    {echoKeyInBody},
		"non-JSON 200":                  {page("<html>hi</html>")},
		"redirect": {func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://example.invalid/", http.StatusTemporaryRedirect)
		}},
		"success": {page(emptyPage)},
	}
	var captured []string
	for name, steps := range scenarios {
		t.Run(name, func(t *testing.T) {
			s := newScript(t, steps...)
			rec := &recorder{}
			c := newClient(t, s.srv.URL, newClock(), func(c *api.Config) {
				c.Hooks = rec.hooks()
				c.Retry.Limit = 2
				c.RequestTimeout = 20 * time.Millisecond
			})
			_, err := c.ListActivities(t.Context(), api.ListParams{Limit: 10, AfterID: "activity_1"})
			if err != nil {
				captured = append(captured, err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err))
			}
			for _, v := range []any{rec.requests, rec.responses, rec.retries, rec.waits} {
				captured = append(captured, fmt.Sprintf("%+v", v), fmt.Sprintf("%#v", v))
			}
			require.NotEmpty(t, rec.requests)
			assert.Equal(t, "[redacted]", rec.requests[0].Headers["x-api-key"])
		})
	}

	// Cancellation mid-request.
	ctx, cancel := context.WithCancel(t.Context())
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) { cancel(); <-r.Context().Done() })
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(ctx, api.ListParams{})
	require.Error(t, err)
	captured = append(captured, err.Error(), fmt.Sprintf("%#v", err))

	// Configuration errors.
	for _, key := range []string{" " + testKey, testKey + "\x00", testKey + " x"} {
		_, err := api.New(api.Config{APIKey: key})
		require.Error(t, err)
		captured = append(captured, err.Error())
	}

	require.Greater(t, len(captured), 40)
	for _, s := range captured {
		assert.NotContains(t, s, testKey)
		assert.NotContains(t, s, "LEAKCANARY")
	}
	joined := strings.Join(captured, "\n")
	assert.Contains(t, joined, "[redacted]", "the echoed key was scrubbed, not dropped silently")
}
