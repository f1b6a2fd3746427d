package fakeapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// freshConnClient uses a new connection per request. Go's Transport silently
// retries a GET whose reused connection dies before the first response byte,
// which would hide connection-level faults from the test.
var freshConnClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// rawResult is what a real client observed.
type rawResult struct {
	resp    *http.Response
	body    []byte
	doErr   error
	readErr error
}

func rawGet(t *testing.T, ctx context.Context, base, rawQuery string) rawResult {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+fakeapi.ActivitiesPath+"?"+rawQuery, nil)
	require.NoError(t, err)
	req.Header.Set("x-api-key", testKey)
	resp, err := freshConnClient.Do(req)
	if err != nil {
		return rawResult{doErr: err}
	}
	defer resp.Body.Close()
	body, readErr := io.ReadAll(resp.Body)
	return rawResult{resp: resp, body: body, readErr: readErr}
}

func requireErrorAnswer(t *testing.T, res rawResult, status int, errType string) {
	t.Helper()
	require.NoError(t, res.doErr)
	require.NoError(t, res.readErr)
	decodeError(t, answer{res.resp.StatusCode, res.resp.Header, res.body}, status, errType)
}

func requireEnvelope(t *testing.T, res rawResult) envelope {
	t.Helper()
	require.NoError(t, res.doErr)
	require.NoError(t, res.readErr)
	require.Equal(t, http.StatusOK, res.resp.StatusCode, "body: %s", res.body)
	var env envelope
	require.NoError(t, json.Unmarshal(res.body, &env))
	require.NotNil(t, env.HasMore)
	return env
}

// TestEachFaultKindIsObservableWithARealClient scripts one fault and checks
// what net/http sees, then that the next request is healthy again.
func TestEachFaultKindIsObservableWithARealClient(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Seed: 30, Count: 200}, func(o *fakeapi.Options) { o.RateLimit = 1000 })
	cursor := visible[9].ID
	for _, tc := range []struct {
		fault fakeapi.Fault
		query string
		check func(t *testing.T, res rawResult)
	}{
		{fakeapi.Fault{Kind: fakeapi.FaultRateLimited, RetryAfter: 2500 * time.Millisecond}, "", func(t *testing.T, res rawResult) {
			requireErrorAnswer(t, res, 429, "rate_limit_error")
			assert.Equal(t, "3", res.resp.Header.Get("retry-after"))
			assert.Equal(t, "0", res.resp.Header.Get("anthropic-ratelimit-requests-remaining"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultRateLimited}, "", func(t *testing.T, res rawResult) {
			requireErrorAnswer(t, res, 429, "rate_limit_error")
			assert.Equal(t, "1", res.resp.Header.Get("retry-after"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultRateLimitedNoRetryAfter}, "", func(t *testing.T, res rawResult) {
			requireErrorAnswer(t, res, 429, "rate_limit_error")
			assert.NotContains(t, res.resp.Header, "Retry-After")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultServerError}, "", func(t *testing.T, res rawResult) {
			requireErrorAnswer(t, res, 500, "api_error")
			assert.Equal(t, "true", res.resp.Header.Get("x-should-retry"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultServerErrorNoRetry}, "", func(t *testing.T, res rawResult) {
			requireErrorAnswer(t, res, 500, "api_error")
			assert.Equal(t, "false", res.resp.Header.Get("x-should-retry"))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultBadGateway}, "", func(t *testing.T, res rawResult) { requireErrorAnswer(t, res, 502, "api_error") }},
		{fakeapi.Fault{Kind: fakeapi.FaultUnavailable}, "", func(t *testing.T, res rawResult) { requireErrorAnswer(t, res, 503, "api_error") }},
		{fakeapi.Fault{Kind: fakeapi.FaultGatewayTimeout}, "", func(t *testing.T, res rawResult) { requireErrorAnswer(t, res, 504, "timeout_error") }},
		{fakeapi.Fault{Kind: fakeapi.FaultOverloaded}, "", func(t *testing.T, res rawResult) { requireErrorAnswer(t, res, 529, "overloaded_error") }},
		{fakeapi.Fault{Kind: fakeapi.FaultConnectionReset}, "", func(t *testing.T, res rawResult) {
			require.Error(t, res.doErr, "the client gets no answer")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultTruncatedBody}, "limit=50", func(t *testing.T, res rawResult) {
			require.NoError(t, res.doErr)
			assert.Equal(t, http.StatusOK, res.resp.StatusCode)
			assert.ErrorIs(t, res.readErr, io.ErrUnexpectedEOF)
			assert.Equal(t, int(res.resp.ContentLength)/2, len(res.body))
			assert.False(t, json.Valid(res.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultHTMLBody}, "", func(t *testing.T, res rawResult) {
			require.NoError(t, res.doErr)
			assert.Equal(t, http.StatusOK, res.resp.StatusCode)
			assert.Contains(t, res.resp.Header.Get("Content-Type"), "text/html")
			assert.False(t, json.Valid(res.body))
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultSlow, Delay: 50 * time.Millisecond}, "limit=5", func(t *testing.T, res rawResult) {
			env := requireEnvelope(t, res)
			assert.Equal(t, idsOf(visible[:5]), ids(t, env), "a slow answer is still the right answer")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultNullCursor}, "limit=5", func(t *testing.T, res rawResult) {
			env := requireEnvelope(t, res)
			assert.Len(t, env.Data, 5)
			assert.True(t, *env.HasMore)
			assert.Nil(t, env.FirstID)
			assert.Nil(t, env.LastID)
			assert.Contains(t, string(res.body), `"last_id":null`)
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultRepeatedCursor}, "limit=5&after_id=" + cursor, func(t *testing.T, res rawResult) {
			env := requireEnvelope(t, res)
			assert.Equal(t, idsOf(visible[10:15]), ids(t, env))
			assert.True(t, *env.HasMore)
			assert.Equal(t, cursor, *env.LastID, "last_id repeats the cursor just sent")
		}},
		{fakeapi.Fault{Kind: fakeapi.FaultBadEnvelope}, "", func(t *testing.T, res rawResult) {
			require.NoError(t, res.doErr)
			assert.Equal(t, http.StatusOK, res.resp.StatusCode)
			var m map[string]any
			require.NoError(t, json.Unmarshal(res.body, &m))
			assert.NotContains(t, m, "data")
			assert.NotContains(t, m, "has_more")
		}},
	} {
		t.Run(string(tc.fault.Kind), func(t *testing.T) {
			before := len(r.Server.Requests())
			r.Server.Script(tc.fault)
			tc.check(t, rawGet(t, t.Context(), r.URL(), tc.query))
			recs := r.Server.Requests()
			require.Len(t, recs, before+1)
			assert.Equal(t, tc.fault.Kind, recs[len(recs)-1].Fault)
			assert.Zero(t, r.Server.Stats().FaultsPending)
			requireEnvelope(t, rawGet(t, t.Context(), r.URL(), "limit=1"))
		})
	}
	st := r.Server.Stats()
	for _, k := range fakeapi.AllFaultKinds() {
		if k == fakeapi.FaultCorruptContent {
			continue // downloads only: TestDownloadFaultsCutOrCorruptTheStream
		}
		assert.Positive(t, st.Faults[k], "fault %s counted", k)
	}
	assert.Positive(t, st.ByStatus[0], "resets count under status 0")
}

// TestSlowFaultEndsWhenTheClientGivesUp: a slow fault respects the request's
// context, so a client timeout ends the handler and the record says status 0.
func TestSlowFaultEndsWhenTheClientGivesUp(t *testing.T) {
	r, _ := staticServer(t, fakeapi.GenOptions{Count: 10}, nil)
	r.Server.Script(fakeapi.Fault{Kind: fakeapi.FaultSlow, Delay: time.Hour})
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	res := rawGet(t, ctx, r.URL(), "")
	require.Error(t, res.doErr)
	assert.True(t, errors.Is(res.doErr, context.DeadlineExceeded), "%v", res.doErr)
	require.Eventually(t, func() bool {
		recs := r.Server.Requests()
		return len(recs) == 1 && recs[0].Fault == fakeapi.FaultSlow && recs[0].Status == 0
	}, 10*time.Second, 10*time.Millisecond)
}

// TestScriptedFaultsApplyInOrderAndWaitForTheirPredicate.
func TestScriptedFaultsApplyInOrderAndWaitForTheirPredicate(t *testing.T) {
	r, visible := staticServer(t, fakeapi.GenOptions{Count: 50}, nil)
	r.Server.Script(
		fakeapi.Fault{Kind: fakeapi.FaultServerError, OnlyIfCursor: true},
		fakeapi.Fault{Kind: fakeapi.FaultBadGateway},
		fakeapi.Fault{Kind: fakeapi.FaultRepeatedCursor}, // implicitly waits for a cursor
	)
	assert.Equal(t, 3, r.Server.Stats().FaultsPending)
	requireEnvelope(t, rawGet(t, t.Context(), r.URL(), "limit=1"))
	requireErrorAnswer(t, rawGet(t, t.Context(), r.URL(), "after_id="+visible[0].ID), 500, "api_error")
	requireErrorAnswer(t, rawGet(t, t.Context(), r.URL(), "limit=1"), 502, "api_error")
	requireEnvelope(t, rawGet(t, t.Context(), r.URL(), "limit=1"))
	env := requireEnvelope(t, rawGet(t, t.Context(), r.URL(), "before_id="+visible[5].ID))
	assert.Equal(t, visible[5].ID, *env.LastID)
	assert.Zero(t, r.Server.Stats().FaultsPending)
}

// TestRandomFaultsFollowTheSeed: FaultRate picks faults from FaultKinds in a
// sequence fixed by FaultSeed and arrival order.
func TestRandomFaultsFollowTheSeed(t *testing.T) {
	statuses := func(seed uint64) []int {
		r, _ := staticServer(t, fakeapi.GenOptions{Count: 10}, func(o *fakeapi.Options) {
			o.FaultRate, o.FaultSeed = 0.3, seed
			o.FaultKinds = []fakeapi.FaultKind{fakeapi.FaultUnavailable, fakeapi.FaultOverloaded}
		})
		var out []int
		for range 60 {
			res := rawGet(t, t.Context(), r.URL(), "")
			require.NoError(t, res.doErr)
			out = append(out, res.resp.StatusCode)
		}
		return out
	}
	a, b := statuses(5), statuses(5)
	assert.Equal(t, a, b)
	faults := 0
	for _, s := range a {
		require.Contains(t, []int{200, 503, 529}, s)
		if s != 200 {
			faults++
		}
	}
	assert.Positive(t, faults)
	assert.Less(t, faults, 60)
	assert.NotEqual(t, a, statuses(6))

	all, _ := staticServer(t, fakeapi.GenOptions{Count: 10}, func(o *fakeapi.Options) {
		o.FaultRate, o.FaultKinds = 1, []fakeapi.FaultKind{fakeapi.FaultServerErrorNoRetry}
	})
	for range 5 {
		requireErrorAnswer(t, rawGet(t, t.Context(), all.URL(), ""), 500, "api_error")
	}
}

// TestParseFaultKinds accepts the documented names and rejects others.
func TestParseFaultKinds(t *testing.T) {
	got, err := fakeapi.ParseFaultKinds("429, reset,truncated,")
	require.NoError(t, err)
	assert.Equal(t, []fakeapi.FaultKind{fakeapi.FaultRateLimited, fakeapi.FaultConnectionReset, fakeapi.FaultTruncatedBody}, got)
	_, err = fakeapi.ParseFaultKinds("429,explode")
	require.ErrorContains(t, err, `unknown fault kind "explode"`)
}
