package fakeapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/compliance-connect/compliance-connect/tests/fakeapi"
)

// t0 is the fixed instant the tests' datasets end at.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

const testKey = fakeapi.DefaultAPIKey

// envelope is the test's own decoding of the list envelope.
type envelope struct {
	Data    []json.RawMessage `json:"data"`
	HasMore *bool             `json:"has_more"`
	FirstID *string           `json:"first_id"`
	LastID  *string           `json:"last_id"`
}

// errorBody is the platform error shape.
type errorBody struct {
	Type  string `json:"type"`
	Error struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	} `json:"error"`
	RequestID string `json:"request_id"`
}

// activityHead is the part of an activity the tests look at.
type activityHead struct {
	ID        string `json:"id"`
	CreatedAt string `json:"created_at"`
	Type      string `json:"type"`
}

// start serves opts on a free port for the test's lifetime.
func start(t *testing.T, opts fakeapi.Options) *fakeapi.Running {
	t.Helper()
	r, err := fakeapi.Start(opts, "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, r.Close()) })
	return r
}

// answer is one response, fully read.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// get sends GET base+path?rawQuery with the key (none when key is "").
func get(t *testing.T, base, rawQuery, key string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+fakeapi.ActivitiesPath+"?"+rawQuery, nil)
	require.NoError(t, err)
	if key != "" {
		req.Header.Set("x-api-key", key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{resp.StatusCode, resp.Header, body}
}

// page sends a request that must succeed and decodes its envelope.
func page(t *testing.T, base string, q url.Values) envelope {
	t.Helper()
	a := get(t, base, q.Encode(), testKey)
	require.Equal(t, http.StatusOK, a.status, "body: %s", a.body)
	var env envelope
	require.NoError(t, json.Unmarshal(a.body, &env), "body: %s", a.body)
	require.NotNil(t, env.HasMore, "has_more missing")
	return env
}

// ids extracts the ids of an envelope's activities.
func ids(t *testing.T, env envelope) []string {
	t.Helper()
	out := make([]string, 0, len(env.Data))
	for _, raw := range env.Data {
		var h activityHead
		require.NoError(t, json.Unmarshal(raw, &h))
		out = append(out, h.ID)
	}
	return out
}

// decodeError checks an error answer's shape and returns it.
func decodeError(t *testing.T, a answer, status int, errType string) errorBody {
	t.Helper()
	require.Equal(t, status, a.status, "body: %s", a.body)
	var e errorBody
	require.NoError(t, json.Unmarshal(a.body, &e), "body: %s", a.body)
	require.Equal(t, "error", e.Type)
	require.Equal(t, errType, e.Error.Type)
	require.NotEmpty(t, e.Error.Message)
	require.Regexp(t, `^req_[0-9A-Za-z]{24}$`, e.RequestID)
	require.Equal(t, a.header.Get("request-id"), e.RequestID)
	return e
}

// idsOf lists the ids of activities.
func idsOf(acts []fakeapi.Activity) []string {
	out := make([]string, len(acts))
	for i, a := range acts {
		out[i] = a.ID
	}
	return out
}

// vals builds url.Values from key, value pairs.
func vals(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

// staticDataset is n generated activities ending at t0, all visible at t0
// under a server with the given clock and no lag.
func staticServer(t *testing.T, gen fakeapi.GenOptions, extra func(*fakeapi.Options)) (*fakeapi.Running, []fakeapi.Activity) {
	t.Helper()
	if gen.To.IsZero() {
		gen.To = t0
	}
	opts := fakeapi.Options{Dataset: fakeapi.Generate(gen), Clock: fakeapi.NewManualClock(t0).Now}
	if extra != nil {
		extra(&opts)
	}
	r := start(t, opts)
	return r, r.Server.Visible(opts.Clock())
}
