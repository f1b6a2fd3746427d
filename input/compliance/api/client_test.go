package api_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/input/compliance/api"
)

// The query carries every filter with bracket keys (one per value), the time
// bounds exactly as the caller formatted them, the limit and the cursor.
func TestListEncodesEveryParameter(t *testing.T) {
	s := newScript(t, page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{
		CreatedAtGTE:         "2026-04-01T00:00:00+02:00",
		CreatedAtLT:          "2026-04-02T00:00:00.5Z",
		Limit:                5000,
		AfterID:              "activity_01Xy",
		Order:                "asc",
		ExcludeActivityTypes: []string{"compliance_api_accessed", "claude_chat_viewed"},
		ActorIDs:             []string{"user_1", "user_2"},
		OrganizationIDs:      []string{"org_1"},
	})
	require.NoError(t, err)

	reqs := s.Requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, api.ActivitiesPath, r.URL.Path)
	q := r.URL.Query()
	assert.Equal(t, []string{"2026-04-01T00:00:00+02:00"}, q["created_at.gte"], "time bound sent verbatim, + not turned into a space")
	assert.Equal(t, []string{"2026-04-02T00:00:00.5Z"}, q["created_at.lt"])
	assert.Equal(t, []string{"5000"}, q["limit"])
	assert.Equal(t, []string{"activity_01Xy"}, q["after_id"])
	assert.Equal(t, []string{"asc"}, q["order"])
	assert.Equal(t, []string{"compliance_api_accessed", "claude_chat_viewed"}, q["exclude_activity_types[]"])
	assert.Equal(t, []string{"user_1", "user_2"}, q["actor_ids[]"])
	assert.Equal(t, []string{"org_1"}, q["organization_ids[]"])
	assert.NotContains(t, q, "before_id")
	assert.NotContains(t, q, "activity_types[]")
	assert.Contains(t, r.URL.RawQuery, "actor_ids%5B%5D=user_1&actor_ids%5B%5D=user_2", "one bracket key per value")
}

func TestListEncodesIncludeFilterAndBeforeCursor(t *testing.T) {
	s := newScript(t, page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{
		BeforeID:      "activity_02",
		ActivityTypes: []string{"claude_file_uploaded", "claude_chat_created"},
	})
	require.NoError(t, err)
	q := s.Requests()[0].URL.Query()
	assert.Equal(t, []string{"activity_02"}, q["before_id"])
	assert.Equal(t, []string{"claude_file_uploaded", "claude_chat_created"}, q["activity_types[]"])
	assert.NotContains(t, q, "after_id")
	assert.NotContains(t, q, "limit", "limit 0 leaves the server default")
}

func TestListSendsNoQueryForZeroParams(t *testing.T) {
	s := newScript(t, page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Empty(t, s.Requests()[0].URL.RawQuery)
}

func TestListRejectsInvalidParamsWithoutARequest(t *testing.T) {
	tests := []struct {
		name string
		p    api.ListParams
		want string
	}{
		{"both cursors", api.ListParams{AfterID: "a", BeforeID: "b"}, "after_id and before_id are mutually exclusive"},
		{"include and exclude types", api.ListParams{ActivityTypes: []string{"a"}, ExcludeActivityTypes: []string{"b"}}, "mutually exclusive"},
		{"limit above 5000", api.ListParams{Limit: 5001}, "limit must be between 1 and 5000"},
		{"negative limit", api.ListParams{Limit: -1}, "limit must be between 1 and 5000"},
		{"unknown order", api.ListParams{Order: "newest"}, `order must be asc or desc, got "newest"`},
		{"empty filter value", api.ListParams{ActorIDs: []string{"user_1", ""}}, "actor_ids value 1 is empty"},
	}
	s := newScript(t)
	c := newClient(t, s.srv.URL, newClock())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.ListActivities(t.Context(), tt.p)
			require.ErrorContains(t, err, tt.want)
		})
	}
	assert.Empty(t, s.Requests())
}

func TestListSendsAuthVersionAndUserAgentHeaders(t *testing.T) {
	s := newScript(t, page(emptyPage), page(emptyPage))
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	h := s.Requests()[0].Header
	assert.Equal(t, testKey, h.Get("x-api-key"))
	assert.Equal(t, "2023-06-01", h.Get("anthropic-version"))
	assert.Equal(t, "compliance-connect-test/1", h.Get("user-agent"))
	assert.Equal(t, "application/json", h.Get("accept"))
	assert.Empty(t, h.Get("authorization"))

	c = newClient(t, s.srv.URL, newClock(), func(cfg *api.Config) { cfg.AnthropicVersion = "" })
	_, err = c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.NotContains(t, s.Requests()[1].Header, "Anthropic-Version", "no anthropic-version when it is empty")
}

func TestBaseURLPathPrefixIsKept(t *testing.T) {
	s := newScript(t, page(emptyPage))
	c := newClient(t, s.srv.URL+"/gateway/anthropic/", newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, "/gateway/anthropic/v1/compliance/activities", s.Requests()[0].URL.Path)
}

func TestNewRejectsInvalidConfig(t *testing.T) {
	base := func() api.Config {
		return api.Config{APIKey: testKey, Retry: api.DefaultRetryPolicy(), Budget: api.DefaultBudget()}
	}
	tests := []struct {
		name string
		mod  func(*api.Config)
		want string
	}{
		{"ftp base url", func(c *api.Config) { c.BaseURL = "ftp://example.com" }, `scheme must be http or https, got "ftp"`},
		{"base url without host", func(c *api.Config) { c.BaseURL = "https://" }, "no host"},
		{"base url with credentials", func(c *api.Config) { c.BaseURL = "https://user:hunter2@example.com" }, "must not contain credentials"},
		{"base url with query", func(c *api.Config) { c.BaseURL = "https://example.com/?a=b" }, "must not have a query"},
		{"unparsable base url", func(c *api.Config) { c.BaseURL = "https://exa mple.com" }, "base url: invalid URL"},
		{"http base url to another host", func(c *api.Config) { c.BaseURL = "http://api.example.com" }, "base url: \"http://api.example.com\" would send the API key in clear text"},
		{"negative response cap", func(c *api.Config) { c.MaxResponseBytes = -1 }, "max response bytes: must not be negative"},
		{"empty key", func(c *api.Config) { c.APIKey = "" }, "api key: is empty"},
		{"key with newline", func(c *api.Config) { c.APIKey = testKey + "\n" }, "api key: has leading or trailing whitespace"},
		{"key with control char", func(c *api.Config) { c.APIKey = "sk\x01" + testKey }, "api key: contains a character not allowed"},
		{"negative request timeout", func(c *api.Config) { c.RequestTimeout = -time.Second }, "request timeout: must not be negative"},
		{"retry limit 25", func(c *api.Config) { c.Retry.Limit = 25 }, "retry limit: must be between 0 and 20, got 25"},
		{"initial interval 21s", func(c *api.Config) { c.Retry.InitialInterval = 21 * time.Second }, "retry initial interval: must be between 0s and 20s, got 21s"},
		{"multiplier below 1", func(c *api.Config) { c.Retry.Multiplier = 0.5 }, "retry multiplier: must be at least 1, got 0.5"},
		{"max interval below initial", func(c *api.Config) { c.Retry.MaxInterval = 500 * time.Millisecond }, "retry max interval: must be at least the initial interval 1s, got 500ms"},
		{"404 in retry codes", func(c *api.Config) { c.Retry.HTTPCodes = []int{429, 404} }, "retry http codes: 404 is never retried"},
		{"200 in retry codes", func(c *api.Config) { c.Retry.HTTPCodes = []int{200} }, "retry http codes: 200 is not an HTTP error status"},
		{"zero retry-after cap", func(c *api.Config) { c.Retry.MaxRetryAfter = 0 }, "retry max retry-after: must be positive"},
		{"unknown mode", func(c *api.Config) { c.Retry.Mode = 7 }, "retry mode: unknown mode 7"},
		{"headroom 1", func(c *api.Config) { c.Budget.Headroom = 1 }, "budget headroom: must be at least 0 and less than 1, got 1"},
		{"negative headroom", func(c *api.Config) { c.Budget.Headroom = -0.1 }, "budget headroom"},
		{"headroom without max wait", func(c *api.Config) { c.Budget.MaxWait = 0 }, "budget max wait: must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.mod(&cfg)
			_, err := api.New(cfg)
			require.ErrorContains(t, err, tt.want)
			assert.NotContains(t, err.Error(), "hunter2")
			assert.NotContains(t, err.Error(), testKey)
		})
	}
}

// TestPlainHTTPIsRefusedUnlessLoopbackOrAllowed: over http:// the API key
// crosses the network in clear text, so only a loopback host (a local fake or
// gateway) is accepted without allow_insecure_http. Names are not resolved.
func TestPlainHTTPIsRefusedUnlessLoopbackOrAllowed(t *testing.T) {
	tests := []struct {
		url     string
		allowed bool
	}{
		{"https://api.anthropic.com", true},
		{"https://10.0.0.5:8443/gateway", true},
		{"http://127.0.0.1:8080", true},
		{"http://127.10.0.1", true},
		{"http://localhost:8080/prefix", true},
		{"http://LOCALHOST.", true},
		{"http://[::1]:8080", true},
		{"http://[::ffff:127.0.0.1]:8080", true},
		{"http://api.anthropic.com", false},
		{"http://10.0.0.5:8080", false},
		{"http://192.168.1.1", false},
		{"http://[fe80::1]", false},
		{"http://0.0.0.0:8080", false},
		{"http://localhost.example.com", false},
		{"http://127.0.0.1.nip.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			err := api.CheckBaseURL(tt.url, false)
			if tt.allowed {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, "would send the API key in clear text")
				assert.ErrorContains(t, err, "allow_insecure_http: true")
			}
			assert.NoError(t, api.CheckBaseURL(tt.url, true), "allowed with allow_insecure_http")
			_, err = api.New(api.Config{BaseURL: tt.url, APIKey: testKey, AllowInsecureHTTP: true})
			assert.NoError(t, err)
		})
	}
}

func TestNewAcceptsZeroPoliciesAndDefaults(t *testing.T) {
	_, err := api.New(api.Config{APIKey: testKey})
	require.NoError(t, err, "zero RetryPolicy (no retries) and zero Budget (no headroom) are valid")
	require.NoError(t, api.DefaultRetryPolicy().Validate())
	require.NoError(t, api.DefaultBudget().Validate())
	assert.Equal(t, "backoff", api.RetryBackoff.String())
	assert.Equal(t, "static", api.RetryStatic.String())
	assert.Equal(t, "disabled", api.RetryDisabled.String())
}

// Go forwards x-api-key on redirects, even across hosts; the client follows
// none and fails with the redirect status instead.
func TestRedirectIsNotFollowed(t *testing.T) {
	var leaked bool
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = true
	}))
	defer other.Close()
	s := newScript(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/steal", http.StatusFound)
	})
	c := newClient(t, s.srv.URL, newClock())
	_, err := c.ListActivities(t.Context(), api.ListParams{})
	e, ok := asError(err)
	require.True(t, ok, "got %v", err)
	assert.Equal(t, http.StatusFound, e.Status)
	assert.False(t, e.Retryable)
	assert.Contains(t, e.Message, "redirect")
	assert.False(t, leaked)
	assert.Len(t, s.Requests(), 1)
}

func TestPageCarriesRequestIDDateAndRateLimit(t *testing.T) {
	s := newScript(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("request-id", "req_018EeWyXxfu5pfWkrYcMdjWG")
		w.Header().Set("Date", "Tue, 21 Apr 2026 14:38:00 GMT")
		w.Header().Set("anthropic-ratelimit-requests-limit", "600")
		w.Header().Set("anthropic-ratelimit-requests-remaining", "599")
		w.Header().Set("anthropic-ratelimit-requests-reset", "2026-04-21T14:38:25Z")
		_, _ = w.Write([]byte(emptyPage))
	})
	c := newClient(t, s.srv.URL, newClock())
	pg, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, "req_018EeWyXxfu5pfWkrYcMdjWG", pg.RequestID)
	assert.True(t, pg.ServerDate.Equal(t0))
	assert.Equal(t, api.RateLimit{Limit: 600, Remaining: 599, Reset: time.Date(2026, 4, 21, 14, 38, 25, 0, time.UTC), Known: true}, pg.RateLimit)
	assert.Equal(t, 1, pg.Attempts)
}

func TestPageWithoutRateLimitHeadersHasZeroRateLimit(t *testing.T) {
	s := newScript(t, func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Date"] = nil
		w.Header().Set("anthropic-ratelimit-requests-remaining", "junk")
		_, _ = w.Write([]byte(emptyPage))
	})
	c := newClient(t, s.srv.URL, newClock())
	pg, err := c.ListActivities(t.Context(), api.ListParams{})
	require.NoError(t, err)
	assert.Equal(t, api.RateLimit{}, pg.RateLimit)
	assert.True(t, pg.ServerDate.IsZero())
}

func asError(err error) (*api.Error, bool) { return errors.AsType[*api.Error](err) }
