package preflight_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/cmd/compliance-connect/internal/preflight"
	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// consume spends n requests of the fake's rate budget with the test key.
func (r *rig) consume(n int) {
	r.t.Helper()
	for range n {
		req, err := http.NewRequest(http.MethodGet, r.url+fakeapi.ActivitiesPath+"?limit=1", nil)
		require.NoError(r.t, err)
		req.Header.Set("x-api-key", testKey)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(r.t, err)
		_ = resp.Body.Close()
	}
}

func TestKeyCheck(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	tests := []struct {
		name     string
		setup    func(*rig)
		want     expect
		requests int
	}{
		{name: "an accepted key passes", want: expect{status: preflight.OK, contains: []string{"the key is accepted", "request-id req_"}}, requests: 1},
		{name: "a refused key fails (401)", setup: func(r *rig) { r.key = "sk-ant-api03-not-a-compliance-key" },
			want: expect{status: preflight.Fail, contains: []string{"refused the key", "401 authentication_error"}, fix: "Compliance Access Key"}, requests: 1},
		{name: "an empty api_key fails without a request", setup: func(r *rig) { r.key = "" },
			want: expect{status: preflight.Fail, contains: []string{"api_key is empty", "no request was sent"}, fix: "ANTHROPIC_COMPLIANCE_API_KEY"}, requests: 0},
		{name: "an unreachable API fails naming the base URL", setup: func(r *rig) { r.url = closed.URL },
			want: expect{status: preflight.Fail, contains: []string{"could not reach " + closed.URL}, fix: "base_url"}, requests: 1},
		{name: "something other than the API at base_url fails", setup: func(r *rig) { r.fake.Script(fakeapi.Fault{Kind: fakeapi.FaultHTMLBody}) },
			want: expect{status: preflight.Fail, contains: []string{"not an Activity Feed page"}, fix: "base_url"}, requests: 1},
		{name: "an API failure cannot verify the key and is not retried", setup: func(r *rig) { r.fake.Script(fakeapi.Fault{Kind: fakeapi.FaultUnavailable}) },
			want: expect{status: preflight.Fail, contains: []string{"could not verify the key", "503"}, fix: "run check again later"}, requests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			if tt.setup != nil {
				tt.setup(r)
			}
			rep := r.check()
			tt.want.assert(t, result(t, rep, preflight.CheckKey, "compliance"))
			assert.Equal(t, tt.requests, rep.APIRequests, "requests counted")
			if r.url != closed.URL {
				assert.Equal(t, tt.requests, r.fake.Stats().Requests, "requests the API saw")
			}
			assert.Equal(t, tt.want.status == preflight.Fail, rep.Failed())
		})
	}
}

func TestScopeCheck(t *testing.T) {
	tests := []struct {
		name  string
		opts  []rigOption
		setup func(*rig)
		check string
		want  expect
	}{
		{name: "a key with the scope passes", check: preflight.CheckScope,
			want: expect{status: preflight.OK, contains: []string{"the key has read:compliance_activities"}}},
		{name: "a key without read:compliance_activities fails naming the scope (403)", check: preflight.CheckScope,
			opts: []rigOption{func(o *fakeapi.Options) {
				o.APIKeys = nil
				o.Scopes = map[string][]string{testKey: {"read:compliance_user_data"}}
			}},
			want: expect{status: preflight.Fail, contains: []string{"the key lacks read:compliance_activities", "403 permission_error", "Needed: ['read:compliance_activities']"}, fix: "scopes are fixed when a key is created"}},
		{name: "a rate-limited request cannot verify the scope", check: preflight.CheckScope,
			setup: func(r *rig) { r.fake.Script(fakeapi.Fault{Kind: fakeapi.FaultRateLimited}) },
			want:  expect{status: preflight.Skip, contains: []string{"rate limited"}}},
		{name: "a filter the API rejects fails every job (400)", check: preflight.CheckRequest,
			opts:  []rigOption{func(o *fakeapi.Options) { o.StrictTypes = true }},
			setup: func(r *rig) { r.endpoint += "\n  filters: { activity_types: [no_such_type] }" },
			want:  expect{status: preflight.Fail, contains: []string{"rejects this endpoint's request", "400 invalid_request_error"}, fix: "filters"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 10, tt.opts...)
			if tt.setup != nil {
				tt.setup(r)
			}
			rep := r.check()
			tt.want.assert(t, result(t, rep, tt.check, "endpoint activities"))
			if tt.want.status != preflight.Fail {
				assert.Equal(t, preflight.OK, result(t, rep, preflight.CheckKey, "compliance").Status, "a 403 or 429 comes after authentication")
			}
			assert.Equal(t, 1, r.fake.Stats().Requests)
		})
	}
}

func TestClockCheck(t *testing.T) {
	tests := []struct {
		name string
		skew time.Duration // the API's clock minus this host's
		want expect
	}{
		{name: "clocks a few seconds apart pass", skew: 3 * time.Second, want: expect{status: preflight.OK, contains: []string{"within 30s"}}},
		{name: "a host clock 5 minutes behind the API warns", skew: 5 * time.Minute,
			want: expect{status: preflight.Warn, contains: []string{"5m0s behind the API's Date header", "collection lags"}, fix: "NTP"}},
		{name: "a host clock 2 minutes ahead of the API warns", skew: -2 * time.Minute,
			want: expect{status: preflight.Warn, contains: []string{"2m0s ahead of the API's Date header"}, fix: "NTP"}},
		{name: "a refused key still shows the skew", skew: 10 * time.Minute,
			want: expect{status: preflight.Warn, contains: []string{"10m0s behind"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 1)
			if tt.name == "a refused key still shows the skew" {
				r.key = "refused"
			}
			local := r.clock.Now()
			r.clock.Set(local.Add(tt.skew))
			rep, err := preflight.Run(t.Context(), preflight.Options{Pipeline: []byte(r.pipeline()), Now: func() time.Time { return local }, FSType: r.fsType})
			require.NoError(t, err)
			tt.want.assert(t, result(t, rep, preflight.CheckClock, "compliance"))
		})
	}
}

func TestBudgetCheck(t *testing.T) {
	tests := []struct {
		name     string
		limit    int
		consumed int
		want     expect
	}{
		{name: "a budget with room passes", limit: 600, want: expect{status: preflight.OK, contains: []string{"599 of 600 requests left", "leaves 60 to other tools"}}},
		{name: "a budget within the headroom warns: the input will pause", limit: 100, consumed: 91,
			want: expect{status: preflight.Warn, contains: []string{"8 of 100 requests left", "at or below the 10"}, fix: "other tools"}},
		{name: "an exhausted budget warns (429)", limit: 5, consumed: 5,
			want: expect{status: preflight.Warn, contains: []string{"0 of 5 requests left", "exhausted right now"}, fix: "waits for the reset"}},
		{name: "an API that sends no rate-limit headers is skipped", limit: 0, want: expect{status: preflight.Skip, contains: []string{"no anthropic-ratelimit-requests-* headers"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 10, func(o *fakeapi.Options) { o.RateLimit = tt.limit })
			r.consume(tt.consumed) // the manual clock keeps every request in one window
			rep := r.check()
			tt.want.assert(t, result(t, rep, preflight.CheckBudget, "compliance"))
			assert.Equal(t, tt.consumed+1, r.fake.Stats().Requests, "one request, never retried")
		})
	}
}

func TestCostCheck(t *testing.T) {
	// 100 activities a minute; an @every 30s job reads 30s + 5m of overlap:
	// 550 activities, so 550 / page_size requests plus one slice.
	tests := []struct {
		name     string
		endpoint string
		want     expect
	}{
		{name: "a cheap schedule passes", endpoint: "schedule: '@every 30s'\n  page_size: 5000",
			want: expect{status: preflight.OK, contains: []string{"activities/hour", "an estimate", "a job every 30s costs about 1.1 requests", "2.2 requests/min of the 600/min"}}},
		{name: "a schedule spending more than half the budget warns", endpoint: "schedule: '@every 30s'\n  page_size: 3",
			want: expect{status: preflight.Warn, contains: []string{"more than half"}, fix: "page_size"}},
		{name: "a schedule the budget cannot sustain fails", endpoint: "schedule: '@every 30s'\n  page_size: 1",
			want: expect{status: preflight.Fail, contains: []string{"jobs cannot keep up"}, fix: "page_size"}},
		{name: "a once backfill states its total", endpoint: "schedule: once\n  earliest: -2h\n  latest: -1h",
			want: expect{status: preflight.OK, contains: []string{"the `once` backfill of 1.0h: about 2.3 requests"}}},
		{name: "a backfill that holds the budget for over an hour warns", endpoint: "schedule: once\n  earliest: -12h\n  latest: -1h\n  page_size: 1",
			want: expect{status: preflight.Warn, contains: []string{"the `once` backfill of 11.0h", "slowing every other tool"}, fix: "split the range"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, 100, func(o *fakeapi.Options) { o.RateLimit = 600 })
			r.endpoint = "- name: activities\n  " + tt.endpoint
			rep := r.check()
			res := result(t, rep, preflight.CheckCost, "endpoint activities")
			tt.want.assert(t, res)
			assert.Regexp(t, `about (5\.\d|6\.\d)k activities/hour`, res.Message, "the rate estimated from one page of the sample")
		})
	}

	t.Run("without a checkpoint the first job's backfill from earliest is costed", func(t *testing.T) {
		r := newRig(t, 100)
		r.endpoint = "- name: activities\n  earliest: -3h"
		res := result(t, r.check(), preflight.CheckCost, "endpoint activities")
		assert.Contains(t, res.Message, `the first job backfills 3.0h from earliest "-3h"`)
	})
	t.Run("with state tracking off every job re-reads [earliest, latest)", func(t *testing.T) {
		r := newRig(t, 100)
		r.endpoint = "- name: activities\n  schedule: '@every 1m'\n  earliest: -1h\n  state_tracking: { enabled: false }"
		res := result(t, r.check(), preflight.CheckCost, "endpoint activities")
		assert.Equal(t, preflight.OK, res.Status)
		assert.Regexp(t, `a job every 1m0s costs about 2\.\d requests`, res.Message, "an hour of about 6000 activities in pages of 5000, plus one slice")
		assert.NotContains(t, res.Message, "first job backfills", "nothing is kept, so there is no first backfill")
	})
	t.Run("a failed sample request leaves the cost unknown", func(t *testing.T) {
		r := newRig(t, 100)
		r.key = "refused"
		res := result(t, r.check(), preflight.CheckCost, "endpoint activities")
		assert.Equal(t, preflight.Skip, res.Status)
	})
}

func TestEveryEndpointOfEveryInputCostsOneRequest(t *testing.T) {
	r := newRig(t, 1)
	r.extra = fmt.Sprintf(`input_resources:
  - label: second
    anthropic_compliance:
      api_key: %q
      base_url: %s
      state: { path: %s }
`, testKey, r.url, r.dir+"/state2")
	rep := r.check()
	assert.Equal(t, 2, rep.APIRequests)
	assert.Equal(t, 2, r.fake.Stats().Requests)
	assert.Equal(t, preflight.OK, result(t, rep, preflight.CheckKey, `"second"`).Status)
	assert.Equal(t, preflight.OK, result(t, rep, preflight.CheckKey, `"compliance"`).Status)
}

func TestAKeyEchoedByAHostileServerIsNeverPrinted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"type":"error","error":{"type":"authentication_error","message":"unknown key %s"}}`, r.Header.Get("x-api-key"))
	}))
	defer srv.Close()
	r := newRig(t, 1)
	r.url = srv.URL
	rep := r.check() // asserts the key appears nowhere in the text or JSON report
	res := result(t, rep, preflight.CheckKey, "compliance")
	assert.Equal(t, preflight.Fail, res.Status)
	assert.Contains(t, res.Message, "unknown key")
}
